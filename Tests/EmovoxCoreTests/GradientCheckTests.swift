import XCTest
@testable import EmovoxCore

/// Finite-difference checks of every backward pass (inputs and parameters).
final class GradientCheckTests: XCTestCase {
    var rng = SeededRNG(seed: 7)

    func testConvolutionGradients() {
        let configs: [(cin: Int, cout: Int, k: (Int, Int), s: (Int, Int), pad: Padding, groups: Int, bias: Bool, n: Int, h: Int, w: Int)] = [
            (2, 3, (3, 3), (1, 1), .symmetric(1, 1), 1, true, 2, 6, 5),
            (2, 2, (5, 3), (2, 1), .explicit(top: 1, bottom: 0, left: 2, right: 1), 1, false, 1, 9, 6),
            (3, 2, (9, 1), (1, 1), .valid, 1, true, 2, 9, 4),
            (4, 4, (3, 3), (2, 2), .same, 2, true, 2, 7, 6),
            (3, 3, (3, 3), (1, 1), .same, 3, false, 2, 6, 6),     // depthwise
            (3, 4, (1, 1), (1, 1), .valid, 1, false, 2, 4, 5),    // pointwise
            (3, 4, (1, 1), (2, 2), .same, 1, true, 2, 5, 5),
        ]
        for budget in [1 << 22, 8] {
            for c in configs {
                let conv = Conv2D(c.cin, c.cout, kernel: c.k, stride: c.s, padding: c.pad, groups: c.groups, bias: c.bias, rng: &rng)
                conv.tuning.columnBudget = budget
                gradientCheck(conv, input: randomTensor([c.n, c.cin, c.h, c.w], &rng))
            }
        }
    }

    func testLinearBatchNormAndActivations() {
        gradientCheck(Linear(5, 3, rng: &rng), input: randomTensor([4, 5], &rng))
        let bn = BatchNorm(3)
        bn.weight.value = randomTensor([3], &rng); bn.bias.value = randomTensor([3], &rng)
        gradientCheck(bn, input: randomTensor([4, 3, 3, 2], &rng, scale: 2))
        var x = randomTensor([2, 3, 4, 4], &rng)
        for i in x.data.indices where abs(x.data[i]) < 0.05 { x.data[i] = 0.3 }  // keep away from the kink
        gradientCheck(ReLU(), input: x)
    }

    func testPoolsAndReductions() {
        // Distinct values keep max-pool away from ties, where the derivative is undefined.
        var x = Tensor(zeros: [2, 2, 9, 8])
        var perm = Array(0..<x.count)
        for i in stride(from: perm.count - 1, to: 0, by: -1) { perm.swapAt(i, rng.int(below: i + 1)) }
        for i in x.data.indices { x.data[i] = Float(perm[i]) * 0.1 }
        gradientCheck(MaxPool2D(kernel: (3, 3), stride: (2, 2)), input: x, eps: 1e-2)
        gradientCheck(MaxPool2D(kernel: (5, 3), stride: (3, 2)), input: x, eps: 1e-2)
        gradientCheck(MaxPool2D(kernel: (3, 3), stride: (2, 2), padding: .same), input: x, eps: 1e-2)
        let y = randomTensor([2, 2, 7, 6], &rng)
        gradientCheck(AvgPool2D(kernel: (3, 3), stride: (2, 2), padding: .symmetric(1, 1), countPadding: true), input: y)
        gradientCheck(AvgPool2D(kernel: (3, 3), stride: (2, 2), padding: .same, countPadding: false), input: y)
        gradientCheck(GlobalAvgPool(), input: y)
        gradientCheck(MeanOverAxis(axis: 3), input: y)
        gradientCheck(Flatten(), input: y)
    }

    func testDropoutResidualAndSequential() {
        var r = SeededRNG(seed: 3)
        let drop = Dropout(0.5, rng: &r)
        // Dropout is linear for a fixed mask: dy passes exactly where the forward kept (and scaled) a unit.
        let x = randomTensor([3, 8], &rng)
        let y1 = drop.forward(x, training: true)
        let dx = drop.backward(Tensor(repeating: 1, shape: x.shape))
        for i in x.data.indices {
            XCTAssertEqual(y1.data[i], dx.data[i] == 0 ? 0 : x.data[i] * 2, accuracy: 1e-6)
        }
        XCTAssertEqual(drop.forward(x, training: false), x)
        let block = Residual(body: Sequential([("conv", Conv2D(2, 2, kernel: (3, 3), padding: .same, rng: &rng)), ("relu", ReLU())]),
                             shortcut: Conv2D(2, 2, kernel: (1, 1), rng: &rng))
        gradientCheck(block, input: randomTensor([2, 2, 5, 5], &rng))
        let seq = Sequential([("conv", Conv2D(1, 3, kernel: (3, 3), stride: (2, 2), padding: .symmetric(1, 1), rng: &rng)),
                              ("bn", BatchNorm(3)), ("pool", GlobalAvgPool()), ("fc", Linear(3, 2, rng: &rng))])
        gradientCheck(seq, input: randomTensor([3, 1, 6, 6], &rng))
    }

    func testLossGradients() {
        let logits = randomTensor([4, 5], &rng, scale: 2)
        let target = Softmax.probabilities(randomTensor([4, 5], &rng))
        for t: Float in [1, 2] {
            let (_, g) = Loss.softCrossEntropy(logits: logits, targets: target, temperature: t)
            for i in 0..<logits.count {
                var lp = logits, lm = logits
                lp.data[i] += 1e-2; lm.data[i] -= 1e-2
                let num = (Loss.softCrossEntropy(logits: lp, targets: target, temperature: t).loss
                           - Loss.softCrossEntropy(logits: lm, targets: target, temperature: t).loss) / 2e-2
                XCTAssertEqual(num, g.data[i], accuracy: 2e-3)
                let numKL = (Loss.klDivergence(logits: lp, targets: target, temperature: t).loss
                             - Loss.klDivergence(logits: lm, targets: target, temperature: t).loss) / 2e-2
                XCTAssertEqual(numKL, g.data[i], accuracy: 2e-3)
            }
        }
    }

    /// Class-balanced distillation loss: finite differences of the weighted loss, and with unit weights it is the plain one.
    func testWeightedSoftCrossEntropyGradient() {
        var rng = SeededRNG(seed: 17)
        let logits = randomTensor([4, 5], &rng, scale: 2)
        let target = Softmax.probabilities(randomTensor([4, 5], &rng))
        let w: [Float] = [0.5, 2, 1, 3.5]
        let (loss, g) = Loss.weightedSoftCrossEntropy(logits: logits, targets: target, weights: w, temperature: 2)
        for i in 0..<logits.count {
            var lp = logits, lm = logits
            lp.data[i] += 1e-2; lm.data[i] -= 1e-2
            let num = (Loss.weightedSoftCrossEntropy(logits: lp, targets: target, weights: w, temperature: 2).loss
                       - Loss.weightedSoftCrossEntropy(logits: lm, targets: target, weights: w, temperature: 2).loss) / 2e-2
            XCTAssertEqual(num, g.data[i], accuracy: 2e-3)
        }
        // The loss is the weighted mean of the per-row cross-entropies.
        var expected = 0.0
        for r in 0..<4 {
            let row = Tensor(shape: [1, 5], data: Array(logits.data[(r * 5)..<(r * 5 + 5)]))
            let t = Tensor(shape: [1, 5], data: Array(target.data[(r * 5)..<(r * 5 + 5)]))
            expected += Double(w[r]) * Double(Loss.softCrossEntropy(logits: row, targets: t, temperature: 2).loss)
        }
        XCTAssertEqual(Double(loss), expected / 4, accuracy: 1e-5)
        let unit = Loss.weightedSoftCrossEntropy(logits: logits, targets: target, weights: [1, 1, 1, 1], temperature: 2)
        let plain = Loss.softCrossEntropy(logits: logits, targets: target, temperature: 2)
        XCTAssertEqual(unit.loss, plain.loss, accuracy: 1e-6)
        for i in 0..<logits.count { XCTAssertEqual(unit.grad.data[i], plain.grad.data[i], accuracy: 1e-7) }
    }
}
