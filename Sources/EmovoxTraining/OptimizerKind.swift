import EmovoxCore
import EmovoxUtilities

/// The optimisers a training run can be configured with (the name is what configurations and checkpoints record).
public enum OptimizerKind: String, Codable, CaseIterable, Sendable, CustomStringConvertible {
    /// SGD with momentum (PyTorch semantics).
    case sgd
    /// Adam (β = 0.9, 0.999); `momentum` is not used.
    case adam
    /// Printed by name (as on the command line and in files).
    public var description: String { rawValue }

    public func make(_ parameters: [Parameter], learningRate: Float, momentum: Float, weightDecay: Float) -> Optimizer {
        switch self {
        case .sgd: return SGD(parameters, learningRate: learningRate, momentum: momentum, weightDecay: weightDecay)
        case .adam: return Adam(parameters, learningRate: learningRate, weightDecay: weightDecay)
        }
    }
}
