import XCTest
@testable import EmovoxCore

/// The inference-only fast paths (in-place BN/ReLU, argmax-free max pool, register-blocked depthwise conv,
/// batch split with serial kernels) must give what the general training paths give.
final class InferencePathTests: XCTestCase {
    func random(_ shape: [Int], _ rng: inout SeededRNG) -> Tensor {
        var t = Tensor(zeros: shape)
        for i in t.data.indices { t.data[i] = rng.normal() }
        return t
    }

    func assertEqualish(_ a: Tensor, _ b: Tensor, _ what: String, accuracy: Float = 1e-5) {
        XCTAssertEqual(a.shape, b.shape, what)
        guard a.shape == b.shape else { return }
        let worst = zip(a.data, b.data).map { abs($0 - $1) }.max() ?? 0
        XCTAssertLessThanOrEqual(worst, accuracy, "\(what): max |Δ| = \(worst)")
    }

    func testSequentialInferenceInPlaceEqualsLayerByLayer() {
        var rng = SeededRNG(seed: 11)
        let net = Sequential([("conv", Conv2D(2, 5, kernel: (3, 3), padding: .same, rng: &rng)), ("bn", BatchNorm(5)),
                              ("relu", ReLU()), ("pool", MaxPool2D(kernel: (3, 3), stride: (2, 2), padding: .same)),
                              ("gap", GlobalAvgPool())])
        let bn = net.layers[1].layer as! BatchNorm
        for c in 0..<5 {
            bn.runningMean.data[c] = rng.normal(); bn.runningVar.data[c] = 0.5 + rng.uniform()
            bn.weight.value.data[c] = rng.normal(); bn.bias.value.data[c] = rng.normal()
        }
        let x = random([3, 2, 13, 17], &rng)
        let xCopy = x
        var expected = x
        for (_, layer) in net.layers { expected = layer.forward(expected, training: false) }
        assertEqualish(net.forward(x, training: false), expected, "in-place inference")
        XCTAssertEqual(x, xCopy, "the caller's input must not be modified")
    }

    /// conv → BN (→ ReLU) as one conv with a BN (+ ReLU) epilogue, on every GEMM path (cache-sized bands of a
    /// first layer, whole samples, chunks of samples, 1×1, groups), against the layers run one by one.
    func testConvWithBNEpilogueEqualsLayerByLayer() {
        var rng = SeededRNG(seed: 13)
        let cases: [(String, Conv2D, [Int])] = [
            ("banded first layer", Conv2D(1, 6, kernel: (7, 7), stride: (2, 2), padding: .symmetric(1, 1), rng: &rng), [2, 1, 60, 200]),
            ("whole sample", Conv2D(64, 6, kernel: (3, 3), padding: .same, rng: &rng), [1, 64, 60, 60]),
            ("chunk of samples", Conv2D(4, 5, kernel: (3, 3), stride: (2, 1), padding: .same, rng: &rng), [5, 4, 9, 11]),
            ("pointwise", Conv2D(6, 7, kernel: (1, 1), bias: false, rng: &rng), [3, 6, 8, 9]),
            ("pointwise, one sample", Conv2D(6, 7, kernel: (1, 1), rng: &rng), [1, 6, 8, 9]),
            ("grouped", Conv2D(6, 4, kernel: (3, 3), groups: 2, rng: &rng), [2, 6, 10, 12]),
        ]
        for (name, conv, shape) in cases {
            for withReLU in [true, false] {
                let bn = BatchNorm(conv.outChannels)
                for c in 0..<conv.outChannels {
                    bn.runningMean.data[c] = rng.normal(); bn.runningVar.data[c] = 0.5 + rng.uniform()
                    bn.weight.value.data[c] = rng.normal(); bn.bias.value.data[c] = rng.normal()
                }
                let net = Sequential([("conv", conv), ("bn", bn)] + (withReLU ? [("relu", ReLU() as Layer)] : []))
                let x = random(shape, &rng)
                var expected = x
                for (_, layer) in net.layers { expected = layer.forward(expected, training: false) }
                let weights = conv.weight.value
                assertEqualish(net.forward(x, training: false), expected, "\(name), ReLU \(withReLU)", accuracy: 2e-5)
                XCTAssertEqual(conv.weight.value, weights, "the epilogue must not change the conv's own weights")
            }
        }
    }

    func testMaxPoolInferenceEqualsArgmaxPathOnManyGeometries() {
        var rng = SeededRNG(seed: 12)
        for (k, s, pad) in [((3, 3), (2, 2), Padding.same), ((5, 3), (3, 2), .valid), ((2, 2), (2, 2), .valid),
                            ((3, 3), (1, 1), .symmetric(1, 1)), ((3, 3), (2, 2), .explicit(top: 0, bottom: 1, left: 1, right: 0))] {
            let pool = MaxPool2D(kernel: k, stride: s, padding: pad)
            for w in [5, 8, 23] {
                let x = random([2, 3, 11, w], &rng)
                assertEqualish(pool.forward(x, training: false), pool.forward(x, training: true), "maxpool \(k) \(s) \(pad) w=\(w)", accuracy: 0)
            }
        }
    }

    /// The training max pool's recorded positions against a brute-force search on heavy ties (few distinct values,
    /// −0 beside +0, as after a ReLU): each is the row-major first of its window's maxima, padding never chosen.
    func testTrainingMaxPoolArgmaxIsFirstMaximumOnTies() {
        var rng = SeededRNG(seed: 13)
        for (k, s, pad) in [((3, 3), (2, 2), Padding.valid), ((5, 3), (3, 2), .valid), ((3, 3), (2, 2), .same),
                            ((3, 3), (1, 1), .symmetric(1, 1)), ((3, 3), (2, 2), .explicit(top: 0, bottom: 1, left: 1, right: 0))] {
            for w in [5, 8, 23] {
                let (planes, h) = (3, 11)
                let x: [Float] = (0..<planes * h * w).map { _ in [-1, 0, -0.0, 0, 2, 2, 1][rng.int(below: 7)] }
                let g = WindowGeometry(inH: h, inW: w, kh: k.0, kw: k.1, sh: s.0, sw: s.1, padding: pad)
                var y = [Float](repeating: .nan, count: planes * g.outH * g.outW), at = [Int32](repeating: -1, count: y.count)
                x.withUnsafeBufferPointer { xp in y.withUnsafeMutableBufferPointer { yp in at.withUnsafeMutableBufferPointer { ap in
                    PoolKernels.trainingMax(xp.baseAddress!, yp.baseAddress!, argmax: ap.baseAddress!, planes: planes, g: g)
                } } }
                for p in 0..<planes { for oh in 0..<g.outH { for ow in 0..<g.outW {
                    var best = -Float.infinity, bestAt = -1
                    for i in 0..<g.kh { for j in 0..<g.kw {
                        let ih = oh * g.sh - g.padTop + i, iw = ow * g.sw - g.padLeft + j
                        guard ih >= 0, ih < h, iw >= 0, iw < w else { continue }
                        let v = x[p * h * w + ih * w + iw], q = ih * w + iw
                        if bestAt < 0 || v > best || (v == best && q < bestAt) { best = v; bestAt = q }
                    } }
                    let o = (p * g.outH + oh) * g.outW + ow
                    XCTAssertEqual(at[o], Int32(bestAt), "\(k) \(s) \(pad) w=\(w) output \(o)")
                    XCTAssertEqual(y[o], best, "\(k) \(s) \(pad) w=\(w) output \(o)")
                } } }
            }
        }
    }

    func testStride1DepthwiseEqualsGroupedGEMM() {
        var rng = SeededRNG(seed: 13)
        for (k, pad, w) in [((3, 3), Padding.same, 8), ((3, 3), .same, 37), ((3, 3), .valid, 21), ((5, 3), .symmetric(2, 1), 19),
                            ((3, 3), .same, 4)] {
            let c = 4
            let conv = Conv2D(c, c, kernel: k, padding: pad, groups: c, rng: &rng)
            let x = random([2, c, 9, w], &rng)
            let g = conv.geometry(9, w)
            var reference = [Float](repeating: 0, count: 2 * c * g.outH * g.outW)
            ConvKernels.gemmForward(x: x.data, w: conv.weight.value.data, bias: conv.bias!.value.data, y: &reference,
                                    n: 2, cin: c, cout: c, groups: c, g: g, pointwise: false, tuning: ConvTuning())
            assertEqualish(conv.forward(x, training: false), Tensor(shape: [2, c, g.outH, g.outW], data: reference),
                           "depthwise \(k) \(pad) w=\(w)")
        }
    }

    /// Direct convolution by definition, the oracle for the banded im2col path.
    func directConv(_ x: Tensor, _ w: [Float], bias: [Float]?, cout: Int, groups: Int, g: WindowGeometry) -> Tensor {
        let (n, cin) = (x.shape[0], x.shape[1]), cg = cin / groups, og = cout / groups
        var y = Tensor(zeros: [n, cout, g.outH, g.outW])
        for b in 0..<n { for o in 0..<cout { for oh in 0..<g.outH { for ow in 0..<g.outW {
            var s = bias?[o] ?? 0
            for c in 0..<cg { for i in 0..<g.kh { for j in 0..<g.kw {
                let ih = oh * g.sh - g.padTop + i, iw = ow * g.sw - g.padLeft + j
                guard ih >= 0, ih < g.inH, iw >= 0, iw < g.inW else { continue }
                s += w[((o * cg + c) * g.kh + i) * g.kw + j] * x.data[((b * cin + (o / og) * cg + c) * g.inH + ih) * g.inW + iw]
            } } }
            y.data[((b * cout + o) * g.outH + oh) * g.outW + ow] = s
        } } } }
        return y
    }

    func testBandedIm2colEqualsDirectConvolution() {
        var rng = SeededRNG(seed: 14)
        Threads.withCount(2) {
            // 48 output columns: bands of ≥ 22 rows, so 48 rows split into 22 + 22 + 4 (a short last band).
            for (cin, cout, groups, k, s, pad, hasBias) in [(2, 5, 1, (3, 3), (1, 1), Padding.same, true),
                                                          (4, 6, 2, (5, 3), (2, 1), .symmetric(2, 1), false),
                                                          (1, 3, 1, (7, 7), (1, 1), .valid, true)] {
                let conv = Conv2D(cin, cout, kernel: k, stride: s, padding: pad, groups: groups, bias: hasBias, rng: &rng)
                let x = random([3, cin, 50 * s.0, 50], &rng)
                let g = conv.geometry(x.shape[2], x.shape[3])
                let expected = directConv(x, conv.weight.value.data, bias: conv.bias?.value.data, cout: cout, groups: groups, g: g)
                for budget in [1 << 14, 0] {  // banded, then the whole sample at once
                    conv.tuning = ConvTuning(columnBudget: 1, bandBudget: budget)  // columns 1: one sample per chunk, as single-clip inference
                    let kk = cin / groups * k.0 * k.1
                    XCTAssertEqual(ConvKernels.bandRows(k: kk, g: g, budget: budget) != nil, budget > 0, "band choice for \(k)")
                    assertEqualish(conv.forward(x, training: false), expected, "conv \(k) \(s) \(pad) bandBudget \(budget)", accuracy: 1e-4)
                }
            }
        }
    }

    /// Every conv rests on sgemm: the kernel OpenBLAS picked here, serial and split over our threads, against
    /// a double-precision product (all four transpose combinations, β 0 and 1, odd shapes).
    func testSgemmMatchesDoublePrecisionProduct() {
        let check = Threads.withCount(2) { BLASInfo.selfCheck() }
        XCTAssertEqual(check.cases, 72)
        XCTAssertTrue(check.passed, "OpenBLAS \(BLASInfo.coreName): worst error relative to Σ|a·b| = \(check.maxError)")
    }

    func testSeriallyRunsKernelsOnTheCallingThread() {
        Threads.withCount(2) {
            XCTAssertEqual(Threads.available, 2)
            Threads.serially {
                XCTAssertEqual(Threads.available, 1)
                Threads.serially { XCTAssertEqual(Threads.available, 1) }
                Threads.withCount(3) { XCTAssertEqual(Threads.available, 1, "serially wins over a count set inside it") }
                XCTAssertEqual(Threads.available, 1, "nested serially restores the outer state")
            }
            XCTAssertEqual(Threads.available, 2)
            Threads.withCount(5) { XCTAssertEqual(Threads.available, 5) }
            XCTAssertEqual(Threads.available, 2, "nested withCount restores the outer count")
        }
        XCTAssertEqual(Threads.available, Threads.count, "outside withCount: the process setting")
    }
}
