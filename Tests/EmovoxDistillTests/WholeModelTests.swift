import XCTest
import EmovoxCore
import EmovoxModels
@testable import EmovoxDistill

/// The whole `vggm-small` student against PyTorch, in the style of llm.c's test_gpt2: from the same weights and
/// batch, the training-mode logits, the distillation loss, the gradient of every parameter, and the losses around
/// 3 SGD steps (tools/gen_student_step_fixture.py; the fixture stores only PyTorch's results, the weights and the
/// input are drawn from the generator both sides share).
///
/// Tolerances, against a float64 PyTorch reference (the exact answer for these float32 weights, up to float64
/// rounding). The generator prints how far a float32 PyTorch run lands from it: logits 4.7e-6 of their largest
/// value, loss 3e-8, gradients ≤ 2.6e-5 of their tensor's largest (bn5.bias aside), losses around the steps 5e-6. Our float32 sums
/// run in other orders (im2col GEMMs, BN in Double), so each bound leaves a margin of 10–20× over that:
/// logits 1e-4 of the largest, loss 1e-5 relative, each gradient element 2e-4 of its tensor's largest plus 1e-6
/// of the model's largest gradient (bn5.bias has an exact zero gradient, the training-mode BN6 after the
/// full-height conv6 cancels any shift of mpool5's output, so only that absolute floor applies to it), step
/// losses 1e-4 relative.
final class WholeModelTests: XCTestCase {
    /// float32 in [-1, 1): SplitMix64 of (seed + stream·2³² + k·γ), k = 1…count, top 24 bits / 2²³ − 1 (exact).
    static func uniform(seed: UInt64, stream: UInt64, count: Int) -> [Float] {
        let base = seed &+ (stream << 32)
        return (1...count).map { k in
            var z = base &+ UInt64(k) &* 0x9E37_79B9_7F4A_7C15
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            z ^= z >> 31
            return Float(z >> 40) / Float(1 << 23) - 1
        }
    }

    /// Parameter `index` in PyTorch's order: conv weights u/√fan-in, BN scales 1 + u/10, biases u/10.
    static func initialValue(index: Int, name: String, shape: [Int], seed: UInt64) -> [Float] {
        let u = uniform(seed: seed, stream: UInt64(1 + index), count: shape.reduce(1, *))
        if name.hasSuffix("weight") && shape.count == 4 {
            let scale = Float(1 / Double(shape.dropFirst().reduce(1, *)).squareRoot())
            return u.map { $0 * scale }
        }
        if name.hasPrefix("bn") && name.hasSuffix("weight") { return u.map { 1 + 0.1 * $0 } }
        return u.map { 0.1 * $0 }
    }

    func testVGGMSmallLogitsLossGradientsAndSGDStepsMatchPyTorch() throws {
        try checkVGGMSmallAgainstPyTorch { _ in }
    }

    /// The same with conv2 on the direct 5×5 stride-2 kernels (forward and input gradient; the fixture's 100 frames
    /// keep it on im2col under the measured table).
    func testVGGMSmallWithDirectConv2MatchesPyTorch() throws {
        try checkVGGMSmallAgainstPyTorch { model in
            let conv2 = try XCTUnwrap(model.network.layers.first { $0.name == "conv2" }?.layer as? Conv2D)
            conv2.tuning.direct = .direct
            XCTAssertEqual(conv2.path(conv2.geometry(63, 23)), .direct, "257 bins, 100 frames: conv2 sees 63 × 23")
        }
    }

    /// The same with conv1 and conv2 on the direct stride-2 kernels (conv1: the one-channel 7×7 forward; its backward
    /// stays on im2col + sgemm).
    func testVGGMSmallWithDirectConv1AndConv2MatchesPyTorch() throws {
        try checkVGGMSmallAgainstPyTorch { model in
            for name in ["conv1", "conv2"] {
                let conv = try XCTUnwrap(model.network.layers.first { $0.name == name }?.layer as? Conv2D)
                conv.tuning.direct = .direct
            }
            let conv1 = try XCTUnwrap(model.network.layers.first { $0.name == "conv1" }?.layer as? Conv2D)
            XCTAssertEqual(conv1.path(conv1.geometry(257, 100)), .direct, "257 bins, 100 frames: conv1 on the direct kernel")
        }
    }

    func checkVGGMSmallAgainstPyTorch(configure: (StudentModel) throws -> Void) throws {
        let path = Bundle.module.url(forResource: "Fixtures", withExtension: nil)!.appendingPathComponent("vggm_small_steps.safetensors").path
        let (ref, meta) = try Safetensors.read(path)
        let seed = try XCTUnwrap(UInt64(meta["seed"] ?? "")), n = try XCTUnwrap(Int(meta["n"] ?? ""))
        let frames = try XCTUnwrap(Int(meta["frames"] ?? "")), classes = try XCTUnwrap(Int(meta["classes"] ?? ""))
        let temperature = try XCTUnwrap(Float(meta["temperature"] ?? "")), lr = try XCTUnwrap(Float(meta["lr"] ?? ""))
        let steps = try XCTUnwrap(Int(meta["steps"] ?? ""))
        let names = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data((meta["parameters"] ?? "").utf8)) as? [String])

        var rng = SeededRNG(seed: 0)
        let model = StudentModel(config: try StudentConfig.named("vggm-small", classes: classes), rng: &rng)
        try configure(model)
        let params = model.network.namedParameters
        XCTAssertEqual(params.map(\.0), names, "the twins list the same parameters in the same order")
        for (index, (name, p)) in params.enumerated() {
            p.value = Tensor(shape: p.value.shape, data: Self.initialValue(index: index, name: name, shape: p.value.shape, seed: seed))
        }
        let x = Tensor(shape: [n, 1, model.config.bins, frames], data: Self.uniform(seed: seed, stream: 0, count: n * model.config.bins * frames))
        let targets = try XCTUnwrap(ref["targets"])

        // As distill's step: zero the gradients, training-mode forward, soft cross-entropy at T, backward, SGD with
        // DistillationConfig's momentum and weight decay.
        let config = DistillationConfig()
        XCTAssertEqual(meta["momentum"].flatMap(Float.init), config.momentum)
        XCTAssertEqual(meta["weight_decay"].flatMap(Float.init), config.weightDecay)
        XCTAssertEqual(temperature, config.temperature)
        let sgd = SGD(model.network.parameters, learningRate: lr, momentum: config.momentum, weightDecay: config.weightDecay)
        var losses: [Float] = []
        for step in 0...steps {
            sgd.zeroGrad()
            let logits = model.forward(x, training: true)
            let (loss, dLogits) = Loss.softCrossEntropy(logits: logits, targets: targets, temperature: temperature)
            losses.append(loss)
            if step == steps { break }
            model.backward(dLogits)
            if step == 0 { try compareFirstStep(logits: logits, loss: loss, params: params, ref: ref) }
            sgd.step()
        }
        let expected = try XCTUnwrap(ref["losses"]).data
        XCTAssertEqual(expected.count, steps + 1)
        XCTAssertLessThan(expected.last!, expected.first! - 0.1, "the steps move the loss, so matching them means something")
        for (k, (got, want)) in zip(losses, expected).enumerated() {
            XCTAssertEqual(got, want, accuracy: 1e-4 * abs(want), "loss after \(k) SGD step(s)")
        }
        print("vggm-small vs PyTorch: losses \(losses.map { String(format: "%.6f", $0) }) (PyTorch \(expected.map { String(format: "%.6f", $0) }))")
    }

    func compareFirstStep(logits: Tensor, loss: Float, params: [(String, Parameter)], ref: [String: Tensor]) throws {
        let refLogits = try XCTUnwrap(ref["logits"])
        XCTAssertEqual(logits.shape, refLogits.shape)
        let logitScale = refLogits.data.map(abs).max()!
        let logitError = zip(logits.data, refLogits.data).map { abs($0 - $1) }.max()!
        XCTAssertLessThanOrEqual(logitError, 1e-4 * logitScale, "logits")
        let refLoss = try XCTUnwrap(ref["losses"]).data[0]
        XCTAssertEqual(loss, refLoss, accuracy: 1e-5 * abs(refLoss), "loss")

        let grads = try params.map { name, _ in try XCTUnwrap(ref["grad." + name], "fixture lacks grad.\(name)") }
        let modelScale = grads.map { $0.data.map(abs).max()! }.max()!
        var report: [String] = []
        for ((name, p), want) in zip(params, grads) {
            XCTAssertEqual(p.grad.shape, want.shape, name)
            let scale = want.data.map(abs).max()!
            let error = zip(p.grad.data, want.data).map { abs($0 - $1) }.max()!
            XCTAssertLessThanOrEqual(error, 2e-4 * scale + 1e-6 * modelScale, "gradient of \(name) (largest \(scale))")
            report.append("\(name) \(String(format: "%.1e", Double(error / max(scale, 1e-6 * modelScale))))")
        }
        print("vggm-small vs PyTorch: logits \(String(format: "%.1e", logitError / logitScale)) of the largest, loss \(loss) vs \(refLoss); "
              + "gradient error / tensor's largest (floor 1e-6 of the model's): " + report.joined(separator: ", "))
    }
}
