import Foundation
import EmovoxUtilities

/// Optimisers update `Parameter.value` from `Parameter.grad` (PyTorch semantics, so results compare 1:1).
public protocol Optimizer: AnyObject {
    var learningRate: Float { get set }
    func step()
    func zeroGrad()
    /// Optimiser state (momentum buffers …) by parameter index, for exact resume.
    func state() -> [String: Tensor]
    func load(state: [String: Tensor]) throws
}

/// SGD with momentum and L2 weight decay: g ← g + wd·w; v ← μ·v + g; w ← w − lr·v (torch.optim.SGD).
public final class SGD: Optimizer {
    public let parameters: [Parameter]
    public var learningRate: Float
    public let momentum, weightDecay: Float
    private var velocity: [[Float]]

    public init(_ parameters: [Parameter], learningRate: Float, momentum: Float = 0.9, weightDecay: Float = 0) {
        self.parameters = parameters; self.learningRate = learningRate
        self.momentum = momentum; self.weightDecay = weightDecay
        velocity = parameters.map { [Float](repeating: 0, count: $0.value.count) }
    }

    public func step() {
        let (lr, mu, wd) = (learningRate, momentum, weightDecay)
        for (k, p) in parameters.enumerated() {
            p.value.data.withUnsafeMutableBufferPointer { w in p.grad.data.withUnsafeBufferPointer { g in velocity[k].withUnsafeMutableBufferPointer { v in
                for i in 0..<w.count {
                    let gi = g[i] + wd * w[i]
                    v[i] = mu * v[i] + gi
                    w[i] -= lr * v[i]
                }
            } } }
        }
    }

    public func zeroGrad() { parameters.forEach { $0.zeroGrad() } }

    public func state() -> [String: Tensor] {
        var d: [String: Tensor] = [:]
        for (k, p) in parameters.enumerated() { d["momentum.\(k)"] = Tensor(shape: p.value.shape, data: velocity[k]) }
        return d
    }

    public func load(state: [String: Tensor]) throws {
        for k in parameters.indices {
            guard let t = state["momentum.\(k)"], t.count == velocity[k].count else {
                throw EmovoxError("optimiser state lacks momentum for parameter \(k) (\(parameters[k].name))")
            }
            velocity[k] = t.data
        }
    }
}

/// Adam (torch.optim.Adam, L2 weight decay added to the gradient).
public final class Adam: Optimizer {
    public let parameters: [Parameter]
    public var learningRate: Float
    public let beta1, beta2, epsilon, weightDecay: Float
    public private(set) var steps = 0
    private var m: [[Float]], v: [[Float]]

    public init(_ parameters: [Parameter], learningRate: Float = 1e-3, beta1: Float = 0.9, beta2: Float = 0.999,
                epsilon: Float = 1e-8, weightDecay: Float = 0) {
        self.parameters = parameters; self.learningRate = learningRate
        self.beta1 = beta1; self.beta2 = beta2; self.epsilon = epsilon; self.weightDecay = weightDecay
        m = parameters.map { [Float](repeating: 0, count: $0.value.count) }
        v = m
    }

    public func step() {
        steps += 1
        let bc1 = 1 - pow(beta1, Float(steps)), bc2 = 1 - pow(beta2, Float(steps))
        for (k, p) in parameters.enumerated() {
            for i in 0..<p.value.count {
                let g = p.grad.data[i] + weightDecay * p.value.data[i]
                m[k][i] = beta1 * m[k][i] + (1 - beta1) * g
                v[k][i] = beta2 * v[k][i] + (1 - beta2) * g * g
                p.value.data[i] -= learningRate * (m[k][i] / bc1) / ((v[k][i] / bc2).squareRoot() + epsilon)
            }
        }
    }

    public func zeroGrad() { parameters.forEach { $0.zeroGrad() } }

    public func state() -> [String: Tensor] {
        var d: [String: Tensor] = ["steps": Tensor(shape: [1], data: [Float(steps)])]
        for k in parameters.indices {
            d["m.\(k)"] = Tensor(shape: parameters[k].value.shape, data: m[k])
            d["v.\(k)"] = Tensor(shape: parameters[k].value.shape, data: v[k])
        }
        return d
    }

    public func load(state: [String: Tensor]) throws {
        guard let s = state["steps"] else { throw EmovoxError("Adam state lacks 'steps'") }
        steps = Int(s.data[0])
        for k in parameters.indices {
            guard let mk = state["m.\(k)"], let vk = state["v.\(k)"] else { throw EmovoxError("Adam state lacks moments for parameter \(k)") }
            m[k] = mk.data; v[k] = vk.data
        }
    }
}

/// Learning-rate schedules by epoch (0-based).
public enum LRSchedule: Codable, Equatable {
    case constant(Float)
    /// lr · gamma^(epoch / stepSize)
    case step(initial: Float, gamma: Float, stepSize: Int)
    /// Log-linear from `start` to `end` over `epochs` (MatConvNet's logspace(…) schedule of the paper).
    case logLinear(start: Float, end: Float, epochs: Int)

    public func rate(epoch: Int) -> Float {
        switch self {
        case let .constant(lr): return lr
        case let .step(lr, gamma, size): return lr * pow(gamma, Float(epoch / max(size, 1)))
        case let .logLinear(a, b, n):
            guard n > 1 else { return a }
            let f = Double(min(epoch, n - 1)) / Double(n - 1)
            return Float(exp(log(Double(a)) + f * (log(Double(b)) - log(Double(a)))))
        }
    }
}
