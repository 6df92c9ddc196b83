import XCTest
@testable import EmovoxCore

/// The direct 5×5 stride-2 forward and input gradient (the students' conv2: `ConvKernels.directStride2Forward`,
/// phase-split input, the 3×3 kernels' micro-kernel over 25 tap offsets; `direct5x5Stride2InputGradient`, the same
/// per phase of dx) against float64 oracles at every SIMD level this CPU runs, 1 and 2 threads bitwise, and through
/// `Conv2D` against the im2col path.
final class Stride2DirectConvTests: XCTestCase {
    /// (n, cin, cout, h, w, padding): `vggm-small`'s conv2 at its 400-frame crop (32 → 64, 63×98 → 31×48: row-aligned
    /// 12-pixel tiles); channel counts off every block (3, 17, 37, 70); odd sizes with a short last flat tile; 'same'
    /// padding (asymmetric: one more at the bottom / right on even sizes); no padding down to a 1×1 output; output
    /// rows of 6 with 64 channels (the AVX-512 6-pixel tiles) and of 12.
    let shapes: [Stride2Shape] = [
        (1, 32, 64, 63, 98, .symmetric(1, 1)), (2, 3, 17, 11, 13, .symmetric(1, 1)), (1, 37, 40, 12, 9, .same),
        (3, 5, 33, 5, 5, .valid), (1, 20, 64, 9, 13, .symmetric(1, 1)), (2, 70, 7, 14, 25, .symmetric(2, 2)),
        (1, 1, 96, 8, 7, .explicit(top: 0, bottom: 2, left: 1, right: 0)),
    ]
    var levels: [ConvSIMDLevel] { supportedConvLevels }

    /// dx in float64 and Σ|w·dy| per input pixel.
    func inputGradientOracle(_ dy: Tensor, _ w: Tensor, g: WindowGeometry) -> (dx: [Double], magnitude: [Double]) {
        let (n, cout, cin) = (dy.shape[0], w.shape[0], w.shape[1])
        var dx = [Double](repeating: 0, count: n * cin * g.inH * g.inW), mag = dx
        for s in 0..<n { for o in 0..<cout { for oh in 0..<g.outH { for ow in 0..<g.outW {
            let d = Double(dy.data[((s * cout + o) * g.outH + oh) * g.outW + ow])
            for c in 0..<cin { for i in 0..<5 {
                let ih = oh * 2 - g.padTop + i
                guard ih >= 0, ih < g.inH else { continue }
                for j in 0..<5 {
                    let iw = ow * 2 - g.padLeft + j
                    guard iw >= 0, iw < g.inW else { continue }
                    let p = d * Double(w.data[((o * cin + c) * 5 + i) * 5 + j]), q = ((s * cin + c) * g.inH + ih) * g.inW + iw
                    dx[q] += p; mag[q] += abs(p)
                }
            } }
        } } } }
        return (dx, mag)
    }

    func inputGradient(_ dy: Tensor, _ w: Tensor, g: WindowGeometry, level: ConvSIMDLevel) -> [Float] {
        let (n, cout, cin) = (dy.shape[0], w.shape[0], w.shape[1])
        var dx = [Float](repeating: .nan, count: n * cin * g.inH * g.inW)
        dy.data.withUnsafeBufferPointer { dyp in w.data.withUnsafeBufferPointer { wp in dx.withUnsafeMutableBufferPointer { dxp in
            ConvKernels.direct5x5Stride2InputGradient(dy: dyp.baseAddress!, w: wp.baseAddress!, dx: dxp.baseAddress!, n: n, cin: cin, cout: cout,
                                                      g: g, level: level)
        } } }
        return dx
    }

    /// The input gradient at every level within γ(9·cout)·Σ|w·dy| of float64 (a phase sums at most 9 taps × cout
    /// products per pixel), every pixel written (NaN-filled before), 1 and 2 threads bitwise.
    func testInputGradientEveryLevelMatchesFloat64Oracle() {
        var worst = 0.0
        for (i, (n, cin, cout, h, w, padding)) in shapes.enumerated() {
            var rng = SeededRNG(seed: UInt64(300 + i))
            let g = WindowGeometry(inH: h, inW: w, kh: 5, kw: 5, sh: 2, sw: 2, padding: padding)
            let dy = randomTensor([n, cout, g.outH, g.outW], &rng), wt = randomTensor([cout, cin, 5, 5], &rng, scale: 0.2)
            let ref = inputGradientOracle(dy, wt, g: g), bound = float32SumBound(9 * cout)
            for level in levels {
                let dx = Threads.withCount(2) { inputGradient(dy, wt, g: g, level: level) }
                let what = "\(n)×\(cin)×\(h)×\(w) → \(cout) \(padding) at \(level)"
                var fails = 0
                for q in ref.dx.indices {
                    let err = abs(Double(dx[q]) - ref.dx[q]), allowed = bound * ref.magnitude[q]
                    if !(err <= allowed) { fails += 1 }
                    if allowed > 0 { worst = max(worst, err / allowed) }
                }
                XCTAssertEqual(fails, 0, "input gradient off the bound, \(what)")
                let one = Threads.withCount(1) { inputGradient(dy, wt, g: g, level: level) }
                XCTAssertEqual(one.map(\.bitPattern), dx.map(\.bitPattern), "1 vs 2 threads, \(what)")
            }
        }
        XCTAssertGreaterThan(worst, 0, "the kernels round somewhere: the comparison is live")
        print("direct 5×5 stride 2 input gradient: largest error / bound \(worst)")
    }

    func conv(_ cin: Int, _ cout: Int, _ padding: Padding, bias: Bool, _ choice: DirectConvChoice, seed: UInt64) -> Conv2D {
        var rng = SeededRNG(seed: seed)
        let c = Conv2D(cin, cout, kernel: (5, 5), stride: (2, 2), padding: padding, bias: bias, rng: &rng)
        c.tuning.direct = choice
        return c
    }

    /// Every level within γ(25·cin)·Σ|w·x| of float64 (the bound of any order of the 25·cin products' sum), and
    /// with the inference epilogue (scale, shift, ReLU) within that bound scaled by |scale| plus two roundings.
    func testEveryLevelMatchesFloat64Oracle() {
        let worst = checkStride2ForwardAgainstOracle(shapes, k: 5, seedBase: 100)
        XCTAssertGreaterThan(worst, 0, "the kernels round somewhere: the comparison is live")
        print("direct 5×5 stride 2: largest error / bound \(worst)")
    }

    /// One and two threads give the same bits: two images split over threads, one image split by output-channel blocks.
    func testThreadCountDoesNotChangeResults() {
        for (n, cin, cout, h, w) in [(3, 20, 70, 17, 21), (1, 32, 64, 63, 98)] {
            var rng = SeededRNG(seed: 7)
            let g = WindowGeometry(inH: h, inW: w, kh: 5, kw: 5, sh: 2, sw: 2, padding: .symmetric(1, 1))
            let x = randomTensor([n, cin, h, w], &rng), wt = randomTensor([cout, cin, 5, 5], &rng)
            for level in levels {
                let one = Threads.withCount(1) { stride2Forward(x, wt, g: g, level: level) }
                let two = Threads.withCount(2) { stride2Forward(x, wt, g: g, level: level) }
                XCTAssertEqual(one.map(\.bitPattern), two.map(\.bitPattern), "\(n) images, \(cin) → \(cout) at \(level)")
            }
        }
    }

    /// Through `Conv2D` (training forward with bias, inference with a fused BN + ReLU) on the direct path against the
    /// im2col path: both within γ(25·cin + 3)·Σ|w·x| (+ the bias, the BN) of the exact result, so within twice that of each
    /// other. The input gradient likewise; the weight gradient runs im2col + sgemm on both (bitwise the same).
    func testConv2DDirectPathMatchesIm2colPath() {
        for (i, (n, cin, cout, h, w, padding)) in shapes.enumerated() {
            let direct = conv(cin, cout, padding, bias: true, .direct, seed: UInt64(i)), im2col = conv(cin, cout, padding, bias: true, .im2col, seed: UInt64(i))
            var rng = SeededRNG(seed: UInt64(200 + i))
            let x = randomTensor([n, cin, h, w], &rng), g = direct.geometry(h, w)
            checkConv2DForwardPaths(direct: direct, im2col: im2col, x: x, relu: false, rng: &rng)
            let dy = randomTensor([n, cout, g.outH, g.outW], &rng)
            let dxDirect = direct.backward(dy), dxIm2col = im2col.backward(dy)
            // Direct: ≤ 9·cout products a pixel; im2col: cout in the GEMM, then ≤ 9 windows added by col2im.
            let dxRef = inputGradientOracle(dy, direct.weight.value, g: g), dxBound = 2 * float32SumBound(9 * cout + 9)
            let dxFails = dxRef.dx.indices.filter { abs(Double(dxDirect.data[$0]) - Double(dxIm2col.data[$0])) > dxBound * dxRef.magnitude[$0] }
            XCTAssertEqual(dxFails.count, 0, "input gradient, \(n)×\(cin)×\(h)×\(w) → \(cout) \(padding)")
            XCTAssertEqual(direct.weight.grad.data, im2col.weight.grad.data, "weight gradient")
            XCTAssertEqual(direct.bias!.grad.data, im2col.bias!.grad.data, "bias gradient")
        }
    }

    /// 5×5 and 7×7 stride 2 (any padding, one group) run the direct kernel under every choice but `.im2col` and, off
    /// the measured table, `.measured`; other strides, sizes and grouped convs never.
    func testPathChoice() {
        let conv2 = WindowGeometry(inH: 126, inW: 98, kh: 5, kw: 5, sh: 2, sw: 2, padding: .symmetric(1, 1))
        for choice in [DirectConvChoice.direct, .winograd, .winograd4] {
            XCTAssertEqual(ConvKernels.convPath(choice, g: conv2, groups: 1, cin: 96, cout: 256), .direct, "\(choice)")
        }
        XCTAssertEqual(ConvKernels.convPath(.im2col, g: conv2, groups: 1, cin: 96, cout: 256), .im2col)
        XCTAssertEqual(ConvKernels.convPath(.direct, g: conv2, groups: 2, cin: 96, cout: 256), .im2col)
        let other = WindowGeometry(inH: 126, inW: 90, kh: 5, kw: 5, sh: 2, sw: 2, padding: .symmetric(1, 1))
        XCTAssertEqual(ConvKernels.convPath(.measured, g: other, groups: 1, cin: 96, cout: 256), .im2col, "unmeasured shapes stay on im2col")
        for (shape, path) in ConvKernels.measuredStride2Paths {
            let at = WindowGeometry(inH: shape[2], inW: shape[3], kh: 5, kw: 5, sh: 2, sw: 2, padding: .symmetric(1, 1))
            XCTAssertEqual(ConvKernels.convPath(.measured, g: at, groups: 1, cin: shape[0], cout: shape[1]), path, "\(shape)")
        }
        for (k, s) in [((5, 5), (1, 1)), ((5, 5), (2, 1)), ((7, 7), (1, 1)), ((7, 5), (2, 2)), ((3, 3), (2, 2))] {
            let g = WindowGeometry(inH: 20, inW: 20, kh: k.0, kw: k.1, sh: s.0, sw: s.1, padding: .symmetric(1, 1))
            XCTAssertEqual(ConvKernels.convPath(.direct, g: g, groups: 1, cin: 8, cout: 8), .im2col, "\(k) stride \(s)")
        }
    }
}
