import XCTest
@testable import EmovoxCore

/// The direct 7×7 stride-2 forward (`ConvKernels.directStride2Forward`: the 5×5 kernel's phase split; one input
/// channel, the students' conv1, on the row-vector kernel `cconvs2c1_forward_rows`, several on the channels-last
/// micro-kernel over 49 tap offsets) against a float64 oracle at every SIMD level, 1 and 2 threads bitwise, and
/// through `Conv2D` against the im2col path.
final class Stride2Conv7x7Tests: XCTestCase {
    /// (n, cin, cout, h, w, padding): `vggm-small`'s conv1 (1 → 32, pad 1) at its 257×400 input; `vggm`'s
    /// (1 → 96) on a 64×50 window; 3 input channels; outputs off every block of 16 (17, 40); odd sizes; 'same'
    /// (asymmetric) and no padding down to a 1×1 output; an explicit lopsided padding.
    let shapes: [Stride2Shape] = [
        (1, 1, 32, 257, 400, .symmetric(1, 1)), (1, 1, 96, 64, 50, .symmetric(1, 1)), (2, 3, 17, 11, 13, .symmetric(1, 1)),
        (1, 3, 40, 12, 9, .same), (3, 1, 17, 7, 7, .valid), (2, 5, 33, 15, 21, .symmetric(3, 3)),
        (1, 1, 64, 9, 12, .explicit(top: 0, bottom: 2, left: 1, right: 0)),
    ]
    var levels: [ConvSIMDLevel] { supportedConvLevels }

    func geometry(_ h: Int, _ w: Int, _ padding: Padding) -> WindowGeometry {
        WindowGeometry(inH: h, inW: w, kh: 7, kw: 7, sh: 2, sw: 2, padding: padding)
    }

    /// Every level within γ(49·cin)·Σ|w·x| of float64 (the bound of any order of the 49·cin products' sum; every
    /// output written: NaN-filled before), and with the inference epilogue (scale, shift, ReLU) within that bound
    /// scaled by |scale| plus two roundings; on 2 threads (the row-split path where it applies).
    func testEveryLevelMatchesFloat64Oracle() {
        let worst = checkStride2ForwardAgainstOracle(shapes, k: 7, seedBase: 700)
        XCTAssertGreaterThan(worst, 0, "the kernels round somewhere: the comparison is live")
        print("direct 7×7 stride 2: largest error / bound \(worst)")
    }

    /// One and two threads give the same bits: one image of one channel (ranges of output rows split among the
    /// threads; rows of 198 outputs: wide tiles and single vectors), two and three images (images split).
    func testThreadCountDoesNotChangeResults() {
        for (n, cin, cout, h, w) in [(1, 1, 32, 129, 400), (2, 1, 24, 31, 230), (1, 1, 96, 64, 50), (1, 1, 64, 40, 31), (3, 3, 20, 17, 21)] {
            var rng = SeededRNG(seed: 9)
            let g = geometry(h, w, .symmetric(1, 1))
            let x = randomTensor([n, cin, h, w], &rng), wt = randomTensor([cout, cin, 7, 7], &rng)
            for level in levels {
                let one = Threads.withCount(1) { stride2Forward(x, wt, g: g, level: level) }
                let two = Threads.withCount(2) { stride2Forward(x, wt, g: g, level: level) }
                XCTAssertFalse(one.contains { $0.isNaN }, "every output written")
                XCTAssertEqual(one.map(\.bitPattern), two.map(\.bitPattern), "\(n) images, \(cin) → \(cout) at \(level)")
            }
        }
    }

    func conv(_ cin: Int, _ cout: Int, _ padding: Padding, _ choice: DirectConvChoice, seed: UInt64) -> Conv2D {
        var rng = SeededRNG(seed: seed)
        let c = Conv2D(cin, cout, kernel: (7, 7), stride: (2, 2), padding: padding, bias: true, rng: &rng)
        c.tuning.direct = choice
        return c
    }

    /// Through `Conv2D` (training forward with bias, inference with a fused BN + ReLU) on the direct path against the
    /// im2col path: both within γ(49·cin + 3)·Σ|w·x| (+ the bias, the BN) of the exact result, so within twice that
    /// of each other. The backward runs im2col + sgemm on both (dx and dw bitwise the same).
    func testConv2DDirectPathMatchesIm2colPath() {
        for (i, (n, cin, cout, h, w, padding)) in shapes.enumerated() {
            let direct = conv(cin, cout, padding, .direct, seed: UInt64(i)), im2col = conv(cin, cout, padding, .im2col, seed: UInt64(i))
            var rng = SeededRNG(seed: UInt64(800 + i))
            let x = randomTensor([n, cin, h, w], &rng), g = direct.geometry(h, w)
            checkConv2DForwardPaths(direct: direct, im2col: im2col, x: x, relu: true, rng: &rng)
            let dy = randomTensor([n, cout, g.outH, g.outW], &rng)
            let dxDirect = direct.backward(dy), dxIm2col = im2col.backward(dy)
            XCTAssertEqual(dxDirect.data.map(\.bitPattern), dxIm2col.data.map(\.bitPattern), "input gradient")
            XCTAssertEqual(direct.weight.grad.data.map(\.bitPattern), im2col.weight.grad.data.map(\.bitPattern), "weight gradient")
            XCTAssertGreaterThan(direct.weight.grad.data.map(abs).max()!, 0, "the gradient is live")
        }
    }
}
