import XCTest
@testable import EmovoxCore

/// The students' strided convs: a first layer's weight gradient split into bands of output rows
/// (`ConvKernels.bandedWeightGradient`) against a float64 oracle, finite differences, and 1/2/3 threads bitwise.
final class StridedConvTests: XCTestCase {
    /// Bands of ≥ 1024 positions need maps of more than 1024 outputs; a 16k-float budget gives 32-row bands here.
    let bandBudget = 1 << 14

    /// (cin, cout, groups, kernel, stride, padding, n, h, w): conv1's 7×7 stride 2 pad 1 with a short last band
    /// (99 rows = 32 + 32 + 32 + 3), grouped 3×5 with uneven strides, odd sizes.
    let configs: [(Int, Int, Int, (Int, Int), (Int, Int), Padding, Int, Int, Int)] = [
        (1, 5, 1, (7, 7), (2, 2), .symmetric(1, 1), 2, 201, 67),
        (4, 6, 2, (3, 5), (2, 1), .explicit(top: 1, bottom: 0, left: 2, right: 1), 3, 91, 37),
    ]

    /// dw and dx of a conv in float64, with Σ|dy·x| per weight (the scale of dw's rounding error).
    func oracle(_ conv: Conv2D, x: Tensor, dy: Tensor) -> (dw: [Double], magnitude: [Double], dx: [Double]) {
        let (n, cin, h, w) = (x.shape[0], x.shape[1], x.shape[2], x.shape[3])
        let g = conv.geometry(h, w), cout = conv.outChannels, cg = cin / conv.groups, og = cout / conv.groups
        var dw = [Double](repeating: 0, count: conv.weight.value.count), mag = dw
        var dx = [Double](repeating: 0, count: x.count)
        for s in 0..<n { for o in 0..<cout { for c in 0..<cg { for i in 0..<g.kh { for j in 0..<g.kw {
            let wi = ((o * cg + c) * g.kh + i) * g.kw + j, ci = o / og * cg + c
            for oh in 0..<g.outH { for ow in 0..<g.outW {
                let ih = oh * g.sh - g.padTop + i, iw = ow * g.sw - g.padLeft + j
                guard ih >= 0, ih < h, iw >= 0, iw < w else { continue }
                let d = Double(dy.data[((s * cout + o) * g.outH + oh) * g.outW + ow]), xi = ((s * cin + ci) * h + ih) * w + iw
                dw[wi] += d * Double(x.data[xi]); mag[wi] += abs(d * Double(x.data[xi]))
                dx[xi] += d * Double(conv.weight.value.data[wi])
            } }
        } } } } }
        return (dw, mag, dx)
    }

    /// γ(k) = k·u / (1 − k·u), u = 2⁻²⁴.
    func gamma(_ k: Int) -> Double { let ku = Double(k) * 0x1p-24; return ku / (1 - ku) }

    func testBandedWeightGradientMatchesFloat64Oracle() {
        var rng = SeededRNG(seed: 25)
        for (cin, cout, groups, k, s, pad, n, h, w) in configs {
            let conv = Conv2D(cin, cout, kernel: k, stride: s, padding: pad, groups: groups, bias: false, rng: &rng)
            let x = randomTensor([n, cin, h, w], &rng)
            let g = conv.geometry(h, w)
            let dy = randomTensor([n, cout, g.outH, g.outW], &rng)
            let rows = ConvKernels.bandRows(k: cin / groups * k.0 * k.1, g: g, budget: bandBudget)
            XCTAssertNotNil(rows, "\(k): banded")
            let bands = (g.outH + (rows ?? 1) - 1) / (rows ?? 1)
            XCTAssertGreaterThan(bands, 1)
            let ref = oracle(conv, x: x, dy: dy)
            // Any summation tree of a band's positions, then the bands, then the images: depth ≤ their sum.
            let bound = gamma(rows! * g.outW + bands + n)
            for inputGradient in [false, true] {
                conv.tuning = ConvTuning(columnBudget: 1, bandBudget: bandBudget)  // one image per chunk, as conv1 in training
                conv.computesInputGradient = inputGradient
                conv.weight.zeroGrad()
                _ = conv.forward(x, training: true)
                let dx = conv.backward(dy)
                var worst = 0.0
                for i in ref.dw.indices {
                    let err = abs(Double(conv.weight.grad.data[i]) - ref.dw[i])
                    XCTAssertLessThanOrEqual(err, bound * ref.magnitude[i] + 1e-30, "\(k) dw[\(i)]")
                    worst = max(worst, err / ref.magnitude[i])
                }
                XCTAssertLessThan(worst, 1e-5, "\(k): dw error relative to Σ|dy·x|")
                if inputGradient {
                    for i in ref.dx.indices where abs(Double(dx.data[i]) - ref.dx[i]) > 1e-4 * max(1, abs(ref.dx[i])) {
                        XCTFail("\(k) dx[\(i)] \(dx.data[i]) vs \(ref.dx[i])"); break
                    }
                } else {
                    XCTAssertTrue(dx.data.allSatisfy { $0 == 0 }, "no input gradient asked: dx stays zero")
                }
            }
        }
    }

    func testBandedWeightGradientIsBitwiseThreadIndependent() {
        var rng = SeededRNG(seed: 26)
        for (cin, cout, groups, k, s, pad, n, h, w) in configs {
            let conv = Conv2D(cin, cout, kernel: k, stride: s, padding: pad, groups: groups, bias: false, rng: &rng)
            conv.tuning = ConvTuning(columnBudget: 1, bandBudget: bandBudget)
            conv.computesInputGradient = false
            let x = randomTensor([n, cin, h, w], &rng)
            let g = conv.geometry(h, w)
            let dy = randomTensor([n, cout, g.outH, g.outW], &rng)
            func dw(threads: Int) -> [Float] {
                Threads.withCount(threads) {
                    conv.weight.zeroGrad()
                    _ = conv.forward(x, training: true)
                    _ = conv.backward(dy)
                    return conv.weight.grad.data
                }
            }
            let one = dw(threads: 1)
            XCTAssertEqual(dw(threads: 2), one, "\(k): 2 threads")
            XCTAssertEqual(dw(threads: 3), one, "\(k): 3 threads")
        }
    }

    /// Forward in float64 with Σ|w·x| per output.
    func forwardOracle(_ conv: Conv2D, x: Tensor) -> (y: [Double], magnitude: [Double]) {
        let (n, cin, h, w) = (x.shape[0], x.shape[1], x.shape[2], x.shape[3])
        let g = conv.geometry(h, w), cout = conv.outChannels, cg = cin / conv.groups, og = cout / conv.groups
        var y = [Double](repeating: 0, count: n * cout * g.outH * g.outW), mag = y
        for s in 0..<n { for o in 0..<cout { for oh in 0..<g.outH { for ow in 0..<g.outW {
            let yi = ((s * cout + o) * g.outH + oh) * g.outW + ow
            for c in 0..<cg { for i in 0..<g.kh { for j in 0..<g.kw {
                let ih = oh * g.sh - g.padTop + i, iw = ow * g.sw - g.padLeft + j
                guard ih >= 0, ih < h, iw >= 0, iw < w else { continue }
                let v = Double(conv.weight.value.data[((o * cg + c) * g.kh + i) * g.kw + j])
                    * Double(x.data[((s * cin + o / og * cg + c) * h + ih) * w + iw])
                y[yi] += v; mag[yi] += abs(v)
            } } }
        } } } }
        return (y, mag)
    }

    /// The phase-split im2col/col2im of horizontal strides > 1 (conv2's 5×5 stride 2 pad 1, conv1's 7×7 in one
    /// piece and in bands, stride 3, uneven padding, groups), forward, input and weight gradient against float64.
    func testStridedIm2colAndCol2imMatchFloat64Oracle() {
        var rng = SeededRNG(seed: 28)
        let cases: [(Int, Int, Int, (Int, Int), (Int, Int), Padding, Int, Int, Int, Int)] = [
            // (cin, cout, groups, kernel, stride, padding, n, h, w, bandBudget)
            (5, 7, 1, (5, 5), (2, 2), .symmetric(1, 1), 2, 19, 24, 1 << 16),
            (6, 4, 2, (5, 5), (2, 2), .symmetric(1, 1), 3, 14, 17, 1 << 16),
            (3, 5, 1, (3, 4), (1, 3), .explicit(top: 0, bottom: 2, left: 2, right: 0), 2, 11, 23, 1 << 16),
            (1, 4, 1, (7, 7), (2, 2), .symmetric(1, 1), 2, 101, 67, 1 << 14),   // conv1's forward in bands
            (1, 4, 1, (7, 7), (2, 2), .symmetric(1, 1), 2, 101, 67, 0),         // and in one piece
        ]
        for (cin, cout, groups, k, s, pad, n, h, w, budget) in cases {
            let conv = Conv2D(cin, cout, kernel: k, stride: s, padding: pad, groups: groups, bias: false, rng: &rng)
            conv.tuning = ConvTuning(columnBudget: 1 << 10, bandBudget: budget)
            let x = randomTensor([n, cin, h, w], &rng)
            let g = conv.geometry(h, w)
            let dy = randomTensor([n, cout, g.outH, g.outW], &rng)
            let what = "\(k) stride \(s) \(h)×\(w) band budget \(budget)"
            let fwd = forwardOracle(conv, x: x)
            let y = Threads.withCount(2) { conv.forward(x, training: true) }
            for i in fwd.y.indices where abs(Double(y.data[i]) - fwd.y[i]) > gamma(cin * k.0 * k.1) * fwd.magnitude[i] + 1e-30 {
                XCTFail("\(what): y[\(i)] \(y.data[i]) vs \(fwd.y[i])"); break
            }
            conv.weight.zeroGrad()
            let dx = Threads.withCount(2) { conv.backward(dy) }
            let ref = oracle(conv, x: x, dy: dy)
            for i in ref.dx.indices where abs(Double(dx.data[i]) - ref.dx[i]) > 1e-5 * max(1, abs(ref.dx[i])) {
                XCTFail("\(what): dx[\(i)] \(dx.data[i]) vs \(ref.dx[i])"); break
            }
            for i in ref.dw.indices where abs(Double(conv.weight.grad.data[i]) - ref.dw[i]) > gamma(n * g.outH * g.outW) * ref.magnitude[i] + 1e-30 {
                XCTFail("\(what): dw[\(i)] \(conv.weight.grad.data[i]) vs \(ref.dw[i])"); break
            }
        }
    }

    func testBandedWeightGradientFiniteDifferences() {
        var rng = SeededRNG(seed: 27)
        // 83×67 → 40×32 outputs: 32-row bands, so 32 + 8.
        let conv = Conv2D(1, 2, kernel: (7, 7), stride: (2, 2), padding: .symmetric(1, 1), bias: true, rng: &rng)
        conv.tuning = ConvTuning(columnBudget: 1, bandBudget: bandBudget)
        XCTAssertNotNil(ConvKernels.bandRows(k: 49, g: conv.geometry(83, 67), budget: bandBudget))
        gradientCheck(conv, input: randomTensor([1, 1, 83, 67], &rng))
    }
}
