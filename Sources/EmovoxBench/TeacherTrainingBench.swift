import Foundation
import EmovoxCore
import EmovoxTeacherTraining

extension Bench {
    /// Face-teacher training steps per second on random crops and soft targets (no image decoding): the same
    /// net, batch and optimiser as tools/peer_bench.py's PyTorch twin, so the ratio is the kernels' alone.
    public static func teacherTraining(model: String = TeacherNetConfig.defaultName, batch: Int = 64, steps: Int = 3) throws -> Double {
        let config = try TeacherNetConfig.named(model, classes: 8)
        var rng = SeededRNG(seed: 5)
        let net = config.build(rng: &rng)
        let opt = SGD(net.parameters, learningRate: 0.01, momentum: 0.9, weightDecay: 5e-4)
        var x = Tensor(zeros: [batch, 1, config.inputSize, config.inputSize])
        for i in x.data.indices { x.data[i] = rng.uniform() * 2 - 1 }
        let targets = Tensor(shape: [batch, 8], data: [Float](repeating: 1.0 / 8, count: batch * 8))
        let s = time(repeats: 2) {
            for _ in 0..<steps {
                opt.zeroGrad()
                let logits = net.forward(x, training: true)
                _ = net.backward(Loss.softCrossEntropy(logits: logits, targets: targets).grad)
                opt.step()
            }
        }
        return Double(batch * steps) / s
    }
}
