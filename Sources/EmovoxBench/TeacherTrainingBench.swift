import Foundation
import EmovoxCore
import EmovoxTeacherTraining
import EmovoxModels

extension Bench {
    /// Face-teacher training steps per second on random crops and soft targets (no image decoding): the same
    /// net, batch and optimiser as tools/peer_bench.py's PyTorch twin, so the ratio is the kernels' alone.
    /// `conv` picks the conv algorithm of every layer (`.im2col` is the path before the direct 3×3 kernels).
    public static func teacherTraining(model: String = TeacherNetConfig.defaultName, batch: Int = 64, steps: Int = 3,
                                       conv: DirectConvChoice = .measured) throws -> Double {
        try teacherTrainingRate(model: model, batch: batch, steps: steps, conv: conv).imagesPerSecond
    }

    /// Images per second by the clock (best pass) and per CPU-second of the process (least CPU time of a pass, all
    /// threads): on a loaded machine the clock mostly measures the other jobs, the CPU time much less so.
    public static func teacherTrainingRate(model: String, batch: Int = 64, steps: Int = 3, repeats: Int = 2,
                                           conv: DirectConvChoice = .measured) throws -> (imagesPerSecond: Double, imagesPerCPUSecond: Double) {
        let config = try TeacherNetConfig.named(model, classes: 8)
        var rng = SeededRNG(seed: 5)
        let net = config.build(rng: &rng)
        for case let c as Conv2D in net.layers.map(\.layer) { c.tuning.direct = conv }
        let opt = SGD(net.parameters, learningRate: 0.01, momentum: 0.9, weightDecay: 5e-4)
        var x = Tensor(zeros: [batch, 1, config.inputSize, config.inputSize])
        for i in x.data.indices { x.data[i] = rng.uniform() * 2 - 1 }
        let targets = Tensor(shape: [batch, 8], data: [Float](repeating: 1.0 / 8, count: batch * 8))
        var cpu = Double.infinity
        let s = time(repeats: repeats) {
            let c0 = clock()
            for _ in 0..<steps {
                opt.zeroGrad()
                let logits = net.forward(x, training: true)
                _ = net.backward(Loss.softCrossEntropy(logits: logits, targets: targets).grad)
                opt.step()
            }
            cpu = min(cpu, Double(clock() - c0) / 1e6)  // clock(): process CPU time of all threads, CLOCKS_PER_SEC = 10⁶
        }
        return (Double(batch * steps) / s, Double(batch * steps) / cpu)
    }

    /// One conv layer of a teacher net at its training shape: milliseconds of forward, weight gradient and input
    /// gradient on each path, and plain sgemm's GFLOP/s at the layer's whole-batch GEMM shape (M = out channels,
    /// N = batch · pixels, K = in channels · 9), the ceiling the im2col path works against.
    public struct ConvLayerTiming {
        public let layer: String, shape: String
        public let gflop: Double
        /// [path: (forward, weight gradient, input gradient) ms]; the input gradient is nil for a first layer.
        public let ms: [DirectConvChoice: (forward: Double, weightGrad: Double, inputGrad: Double?)]
        public let sgemmGFLOPS: Double

        public var json: [String: Any] {
            var out: [String: Any] = ["layer": layer, "shape": shape, "gflop_per_pass": (gflop * 1000).rounded() / 1000,
                                      "sgemm_gflops_at_shape": sgemmGFLOPS.rounded()]
            func r(_ v: Double) -> Double { (v * 100).rounded() / 100 }
            func rate(_ v: Double) -> Double { (gflop / v * 1000).rounded() }
            for (path, t) in ms {
                var row: [String: Any] = ["forward_ms": r(t.forward), "weight_grad_ms": r(t.weightGrad),
                                          "forward_gflops": rate(t.forward), "weight_grad_gflops": rate(t.weightGrad)]
                if let g = t.inputGrad { row["input_grad_ms"] = r(g); row["input_grad_gflops"] = rate(g) }
                out[path.rawValue] = row
            }
            return out
        }
    }

    /// Per-layer profile of the conv layers of a teacher net at batch `batch`, both paths measured back to back.
    public static func teacherConvProfile(model: String, batch: Int = 64) throws -> [ConvLayerTiming] {
        let config = try TeacherNetConfig.named(model, classes: 8)
        var rng = SeededRNG(seed: 5)
        let net = config.build(rng: &rng)
        let input = [batch, 1, config.inputSize, config.inputSize]
        let summary = ModelSummary.rows(net, input: input)
        var rows: [ConvLayerTiming] = []
        for (i, (name, layer)) in net.layers.enumerated() {
            guard let conv = layer as? Conv2D else { continue }
            let shape = i == 0 ? input : summary[i - 1].outputShape
            var x = Tensor(zeros: shape)
            for i in x.data.indices { x.data[i] = rng.uniform() * 2 - 1 }
            let (n, cin, h, w) = (shape[0], shape[1], shape[2], shape[3])
            let gflop = 2 * Double(n * h * w * cin * conv.outChannels * 9) / 1e9
            var ms: [DirectConvChoice: (Double, Double, Double?)] = [:]
            for path in [DirectConvChoice.im2col, .direct, .winograd, .winograd4] {
                conv.tuning.direct = path
                let y = conv.forward(x, training: false)
                let forward = time(repeats: 3) { _ = conv.forward(x, training: false) }
                let keepsInputGrad = conv.computesInputGradient
                conv.computesInputGradient = false
                let weightGrad = time(repeats: 3) { _ = conv.forward(x, training: true); _ = conv.backward(y) } - forward
                conv.computesInputGradient = keepsInputGrad
                let both = keepsInputGrad ? time(repeats: 3) { _ = conv.forward(x, training: true); _ = conv.backward(y) } - forward : nil
                ms[path] = (forward * 1e3, weightGrad * 1e3, both.map { ($0 - weightGrad) * 1e3 })
            }
            conv.tuning.direct = .measured
            rows.append(ConvLayerTiming(layer: name, shape: "\(n)x\(cin)x\(h)x\(w) -> \(conv.outChannels)", gflop: gflop, ms: ms,
                                        sgemmGFLOPS: sgemmGFLOPS(m: conv.outChannels, n: n * h * w, k: cin * 9)))
        }
        return rows
    }

    /// Every layer of one teacher training step (forward, backward ms; best of `repeats` passes) on each conv path:
    /// where the step's time goes besides the convs (BN, ReLU, pools).
    public static func teacherStepProfile(model: String, batch: Int = 64, repeats: Int = 3) throws -> [[String: Any]] {
        let config = try TeacherNetConfig.named(model, classes: 8)
        var rng = SeededRNG(seed: 5)
        let net = config.build(rng: &rng)
        var x = Tensor(zeros: [batch, 1, config.inputSize, config.inputSize])
        for i in x.data.indices { x.data[i] = rng.uniform() * 2 - 1 }
        var best: [DirectConvChoice: (forward: [Double], backward: [Double])] = [:]
        for _ in 0..<repeats { for path in [DirectConvChoice.im2col, .measured] {
            for case let c as Conv2D in net.layers.map(\.layer) { c.tuning.direct = path }
            let t = trainingLayerMilliseconds(net, x)
            best[path] = best[path].map { (zip($0.forward, t.forward).map { min($0, $1) }, zip($0.backward, t.backward).map { min($0, $1) }) } ?? t
        } }
        func r(_ v: Double) -> Double { (v * 100).rounded() / 100 }
        return net.layers.indices.map { i in
            var row: [String: Any] = ["layer": net.layers[i].name]
            for (path, t) in best { row[path.rawValue] = ["forward_ms": r(t.forward[i]), "backward_ms": r(t.backward[i])] }
            return row
        }
    }
}
