import XCTest
@testable import EmovoxCore

/// Forward and backward parity with PyTorch on fixtures from tools/gen_core_fixtures.py.
final class ParityTests: XCTestCase {
    func padding(_ meta: [String: Any]) -> Padding {
        if meta["pad"] as? String == "same" { return .same }
        let p = meta["pad"] as! [Int]
        return .explicit(top: p[0], bottom: p[1], left: p[2], right: p[3])
    }

    func testConvolutionsMatchPyTorch() {
        for name in ["conv_basic", "conv_stride2_asym_pad", "conv_9x1", "conv_groups2", "conv_depthwise_same",
                     "conv_pointwise_s2_same", "conv_7x7_s2_vggm", "conv_depthwise_wide_bias"] {
            let m = Fixtures.meta(name)
            let k = m["k"] as! [Int], s = m["s"] as! [Int]
            var rng = SeededRNG(seed: 0)
            let conv = Conv2D(m["cin"] as! Int, m["cout"] as! Int, kernel: (k[0], k[1]), stride: (s[0], s[1]),
                              padding: padding(m), groups: m["groups"] as! Int, bias: m["bias"] as! Bool, rng: &rng)
            conv.weight.value = Fixtures.t("\(name).w")
            if let b = conv.bias { b.value = Fixtures.t("\(name).b") }
            for budget in [1 << 22, 64] {  // one large GEMM per chunk of samples, and one sample at a time
                conv.tuning.columnBudget = budget
                conv.parameters.forEach { $0.zeroGrad() }
                let y = conv.forward(Fixtures.t("\(name).x"), training: true)
                assertClose(y, Fixtures.t("\(name).y"), "\(name) forward")
                let gx = conv.backward(Fixtures.t("\(name).gy"))
                assertClose(gx, Fixtures.t("\(name).gx"), "\(name) dx")
                assertClose(conv.weight.grad, Fixtures.t("\(name).gw"), "\(name) dw")
                if let b = conv.bias { assertClose(b.grad, Fixtures.t("\(name).gb"), "\(name) db") }
            }
        }
    }

    func testPoolsMatchPyTorch() {
        for name in ["maxpool_3s2", "maxpool_5x3_s32", "maxpool_same", "maxpool_same_wide", "maxpool_ties", "avgpool_pad_counted", "avgpool_same_excluded"] {
            let m = Fixtures.meta(name)
            let k = m["k"] as! [Int], s = m["s"] as! [Int]
            let layer: Layer = m["kind"] as! String == "max"
                ? MaxPool2D(kernel: (k[0], k[1]), stride: (s[0], s[1]), padding: padding(m))
                : AvgPool2D(kernel: (k[0], k[1]), stride: (s[0], s[1]), padding: padding(m), countPadding: m["pad"] as? String != "same")
            // Inference has its own max-pool path (no argmax): both must match.
            assertClose(layer.forward(Fixtures.t("\(name).x"), training: false), Fixtures.t("\(name).y"), "\(name) inference forward")
            assertClose(layer.forward(Fixtures.t("\(name).x"), training: true), Fixtures.t("\(name).y"), "\(name) forward")
            assertClose(layer.backward(Fixtures.t("\(name).gy")), Fixtures.t("\(name).gx"), "\(name) dx")
        }
    }

    func testBatchNormTrainingAndEvalMatchPyTorch() {
        let bn = BatchNorm(4)
        bn.weight.value = Fixtures.t("bn_train.gamma"); bn.bias.value = Fixtures.t("bn_train.beta")
        bn.runningMean = Fixtures.t("bn_train.running_mean0"); bn.runningVar = Fixtures.t("bn_train.running_var0")
        assertClose(bn.forward(Fixtures.t("bn_train.x"), training: true), Fixtures.t("bn_train.y"), "bn train forward")
        assertClose(bn.backward(Fixtures.t("bn_train.gy")), Fixtures.t("bn_train.gx"), "bn dx")
        assertClose(bn.weight.grad, Fixtures.t("bn_train.ggamma"), "bn dgamma")
        assertClose(bn.bias.grad, Fixtures.t("bn_train.gbeta"), "bn dbeta")
        assertClose(bn.runningMean, Fixtures.t("bn_train.running_mean1"), "running mean")
        assertClose(bn.runningVar, Fixtures.t("bn_train.running_var1"), "running var (unbiased)")
        assertClose(bn.forward(Fixtures.t("bn_eval.x"), training: false), Fixtures.t("bn_eval.y"), "bn eval")
    }

    func testSoftmaxCrossEntropyAndKLWithTemperature() {
        let logits = Fixtures.t("softmax_t2.logits"), target = Fixtures.t("softmax_t2.target")
        assertClose(Softmax.probabilities(logits, temperature: 2), Fixtures.t("softmax_t2.p"), "softmax T=2")
        assertClose(Softmax.logProbabilities(logits, temperature: 2), Fixtures.t("softmax_t2.logp"), "log-softmax T=2")
        let (ce, g) = Loss.softCrossEntropy(logits: logits, targets: target, temperature: 2)
        XCTAssertEqual(ce, Fixtures.t("softmax_t2.ce").data[0], accuracy: 1e-5)
        assertClose(g, Fixtures.t("softmax_t2.gce"), "soft CE gradient")
        let (kl, gk) = Loss.klDivergence(logits: logits, targets: target, temperature: 2)
        XCTAssertEqual(kl, Fixtures.t("kl_t2.kl").data[0], accuracy: 1e-5)
        assertClose(gk, Fixtures.t("kl_t2.gkl"), "KL gradient")
    }

    func testLinearMatchesPyTorch() {
        var rng = SeededRNG(seed: 0)
        let lin = Linear(6, 4, rng: &rng)
        lin.weight.value = Fixtures.t("linear.w"); lin.bias.value = Fixtures.t("linear.b")
        assertClose(lin.forward(Fixtures.t("linear.x"), training: true), Fixtures.t("linear.y"), "linear forward")
        assertClose(lin.backward(Fixtures.t("linear.gy")), Fixtures.t("linear.gx"), "linear dx")
        assertClose(lin.weight.grad, Fixtures.t("linear.gw"), "linear dw")
        assertClose(lin.bias.grad, Fixtures.t("linear.gb"), "linear db")
    }

    func testOptimisersMatchPyTorchOverThreeSteps() {
        for name in ["sgd", "adam"] {
            let p = Parameter("w", Fixtures.t("\(name).w0"))
            let opt: Optimizer = name == "sgd" ? SGD([p], learningRate: 0.1, momentum: 0.9, weightDecay: 5e-4)
                                               : Adam([p], learningRate: 0.01, weightDecay: 5e-4)
            for k in 0..<3 { p.grad = Fixtures.t("\(name).g\(k)"); opt.step() }
            assertClose(p.value, Fixtures.t("\(name).w3"), tol: 1e-5, "\(name) after 3 steps")
        }
    }

    func testLogLinearScheduleMatchesLogspace() {
        let expected = Fixtures.t("lr_loglinear.rates").data
        let s = LRSchedule.logLinear(start: 1e-4, end: 1e-5, epochs: 10)
        for (e, r) in expected.enumerated() { XCTAssertEqual(s.rate(epoch: e), r, accuracy: r * 1e-5) }
        XCTAssertEqual(LRSchedule.step(initial: 0.1, gamma: 0.5, stepSize: 3).rate(epoch: 7), 0.025, accuracy: 1e-7)
    }
}
