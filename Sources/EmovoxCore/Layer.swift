import Foundation
import EmovoxUtilities

/// A layer with an explicit forward and backward pass (llm.c style, no autodiff).
/// `forward` caches what `backward` needs; `backward` takes dL/dy, accumulates parameter gradients
/// into `Parameter.grad` and returns dL/dx.
public protocol Layer: AnyObject {
    func forward(_ x: Tensor, training: Bool) -> Tensor
    func backward(_ dy: Tensor) -> Tensor
    /// Trainable parameters, with PyTorch-style names relative to the layer (e.g. "weight").
    var parameters: [Parameter] { get }
    /// Non-trainable state saved in checkpoints (e.g. BN running statistics), PyTorch names.
    var buffers: [(name: String, tensor: Tensor)] { get }
    func setBuffer(_ name: String, _ tensor: Tensor) throws
}

extension Layer {
    public var parameters: [Parameter] { [] }
    public var buffers: [(name: String, tensor: Tensor)] { [] }
    public func setBuffer(_ name: String, _ tensor: Tensor) throws {
        throw EmovoxError("layer \(type(of: self)) has no buffer '\(name)'")
    }
}
