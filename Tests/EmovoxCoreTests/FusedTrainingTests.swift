import XCTest
import EmovoxKernels
@testable import EmovoxCore

/// BatchNorm → ReLU → MaxPool2D fused in training against its oracle, the same three layers run one by one.
final class FusedTrainingTests: XCTestCase {
    struct Case {
        let shape: [Int]; let kernel: (Int, Int); let stride: (Int, Int); let padding: Padding; let beta: Float
        /// Inputs rounded to integers in −3…3: equal values inside most windows, so the tie rule decides the argmax.
        var ties = false
    }

    /// The students' pools (3×3/2 and 5×3/(3,2)), the teacher's 2×2 and a 'same'-padded one, odd sizes, and a β that
    /// makes the ReLU zero most windows whole.
    let cases = [
        Case(shape: [3, 5, 17, 23], kernel: (3, 3), stride: (2, 2), padding: .valid, beta: 0.1),
        Case(shape: [2, 4, 19, 13], kernel: (5, 3), stride: (3, 2), padding: .valid, beta: 0),
        Case(shape: [2, 3, 8, 10], kernel: (2, 2), stride: (2, 2), padding: .valid, beta: 0.3),
        Case(shape: [2, 3, 9, 11], kernel: (3, 3), stride: (2, 2), padding: .same, beta: 0),
        Case(shape: [4, 3, 11, 37], kernel: (3, 3), stride: (2, 2), padding: .valid, beta: -1.6),  // negative-heavy
        Case(shape: [2, 4, 13, 21], kernel: (3, 3), stride: (2, 2), padding: .valid, beta: 0.2, ties: true),
        Case(shape: [2, 4, 14, 9], kernel: (5, 3), stride: (3, 2), padding: .valid, beta: 0, ties: true),
    ]

    /// Three layers with seeded parameters: γ of both signs, channel 1's γ = 0 (all BN outputs in a window tie).
    func block(_ c: Case, seed: UInt64, zeroGamma: Bool = true) -> (Sequential, BatchNorm) {
        var rng = SeededRNG(seed: seed)
        let bn = BatchNorm(c.shape[1])
        for ch in 0..<c.shape[1] {
            bn.weight.value.data[ch] = ch == 1 && zeroGamma ? 0 : (ch % 2 == 0 ? 1 : -1) * (0.5 + rng.uniform())
            bn.bias.value.data[ch] = c.beta + 0.2 * rng.normal()
            bn.runningMean.data[ch] = 0.1 * rng.normal()
        }
        let net = Sequential([("bn", bn), ("relu", ReLU()), ("pool", MaxPool2D(kernel: c.kernel, stride: c.stride, padding: c.padding))])
        return (net, bn)
    }

    /// One training step (forward, backward of a seeded dy) with fusion on or off.
    func step(_ c: Case, fused: Bool, seed: UInt64 = 1) -> (y: Tensor, dx: Tensor, bn: BatchNorm) {
        let (net, bn) = block(c, seed: seed)
        var rng = SeededRNG(seed: seed + 100)
        var x = randomTensor(c.shape, &rng, scale: 2)
        if c.ties { for i in x.data.indices { x.data[i] = max(-3, min(3, x.data[i].rounded())) } }
        let saved = Sequential.fusesTrainingBlocks
        Sequential.fusesTrainingBlocks = fused
        defer { Sequential.fusesTrainingBlocks = saved }
        XCTAssertEqual(net.trainingPlan().count, fused ? 1 : 3)
        let y = net.forward(x, training: true)
        let dy = randomTensor(y.shape, &rng)
        let dx = net.backward(dy)
        return (y, dx, bn)
    }

    /// Forward output and running statistics bitwise equal to the chain (same rounding, same ties); dx, dγ and dβ
    /// equal up to float summation order: |Δ| ≤ 1e-4·max(1, |reference|).
    func testMatchesUnfusedChain() {
        for (k, c) in cases.enumerated() {
            let what = "case \(k) \(c.shape) pool \(c.kernel)/\(c.stride)"
            let f = step(c, fused: true), u = step(c, fused: false)
            XCTAssertEqual(f.y.shape, u.y.shape, what)
            XCTAssertEqual(f.y.data, u.y.data, "\(what): forward output")
            XCTAssertEqual(f.bn.runningMean.data, u.bn.runningMean.data, "\(what): running mean")
            XCTAssertEqual(f.bn.runningVar.data, u.bn.runningVar.data, "\(what): running var")
            XCTAssertEqual(f.bn.batchesTracked, 1, what)
            assertClose(f.dx, u.dx, tol: 1e-4, "\(what): dx")
            assertClose(f.bn.weight.grad, u.bn.weight.grad, tol: 1e-4, "\(what): dγ")
            assertClose(f.bn.bias.grad, u.bn.bias.grad, tol: 1e-4, "\(what): dβ")
            // γ = 0: BN's output is constant, so dx is exactly 0 in both paths, while dγ still flows.
            let plane = c.shape[2] * c.shape[3]
            for s in 0..<c.shape[0] { for q in 0..<plane { XCTAssertEqual(f.dx.data[(s * c.shape[1] + 1) * plane + q], 0) } }
        }
        // The negative-heavy case really zeroes whole windows (most of the pooled map), and others stay positive.
        let neg = step(cases.first { $0.beta < -1 }!, fused: true).y.data
        let zeros = neg.filter { $0 == 0 }.count
        XCTAssertGreaterThan(zeros, neg.count / 2)
        XCTAssertLessThan(zeros, neg.count)
    }

    /// Finite differences of Σ y·R through the fused block (dx, dγ, dβ) on a tiny case.
    /// (No γ = 0 channel here: there the window max of γ·x̂ has a kink in γ, left and right slopes min and max x̂.)
    func testFiniteDifferences() {
        let saved = Sequential.fusesTrainingBlocks
        Sequential.fusesTrainingBlocks = true
        defer { Sequential.fusesTrainingBlocks = saved }
        for c in [Case(shape: [2, 3, 7, 9], kernel: (3, 3), stride: (2, 2), padding: .valid, beta: 0.2),
                  Case(shape: [2, 2, 11, 7], kernel: (5, 3), stride: (3, 2), padding: .valid, beta: 0)] {
            let (net, _) = block(c, seed: 7, zeroGamma: false)
            var rng = SeededRNG(seed: 8)
            gradientCheck(net, input: randomTensor(c.shape, &rng), eps: 1e-2, tol: 2e-2, coordinates: 60)
        }
    }

    /// Per-channel sums in a fixed order: one and two threads give the same bits.
    func testThreadCountDoesNotChangeBits() {
        let c = Case(shape: [4, 6, 40, 50], kernel: (3, 3), stride: (2, 2), padding: .valid, beta: 0)
        let one = Threads.withCount(1) { step(c, fused: true) }, two = Threads.withCount(2) { step(c, fused: true) }
        XCTAssertEqual(one.y.data, two.y.data)
        XCTAssertEqual(one.dx.data, two.dx.data)
        XCTAssertEqual(one.bn.weight.grad.data, two.bn.weight.grad.data)
        XCTAssertEqual(one.bn.bias.grad.data, two.bn.bias.grad.data)
        XCTAssertEqual(one.bn.runningVar.data, two.bn.runningVar.data)
    }

    /// Turning fusion off between forward and backward still retraces the forward's plan.
    func testBackwardFollowsTheForwardPlan() {
        let c = cases[0]
        let (net, _) = block(c, seed: 3)
        var rng = SeededRNG(seed: 4)
        let x = randomTensor(c.shape, &rng)
        let saved = Sequential.fusesTrainingBlocks
        defer { Sequential.fusesTrainingBlocks = saved }
        Sequential.fusesTrainingBlocks = true
        let y = net.forward(x, training: true)
        Sequential.fusesTrainingBlocks = false
        let dx = net.backward(Tensor(repeating: 1, shape: y.shape))
        XCTAssertEqual(dx.shape, x.shape)
        XCTAssertTrue(dx.allFinite())
    }
}
