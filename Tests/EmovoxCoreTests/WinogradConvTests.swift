import XCTest
@testable import EmovoxCore

/// Winograd F(2×2, 3×3) and F(4×4, 3×3) (CConvKernels `cwino_*`, `cwino4_*`) at every SIMD level this CPU runs:
/// forward, input gradient and weight gradient against a float64 oracle within the stated rounding bound
/// (cconv_kernels.c), on sizes that are not multiples of the 2×2 or 4×4 tile (partial tiles) or of any channel block;
/// finite differences through Conv2D; bitwise thread independence.
final class WinogradConvTests: XCTestCase {
    /// (n, cin, cout, h, w): odd h and w (half tiles; F(4×4, 3×3): partial tiles of every remainder), 1×1 maps,
    /// channel counts off every block; the students' conv3–5 maps (30×23, 15×23).
    let shapes: [(Int, Int, Int, Int, Int)] = [(2, 3, 5, 7, 9), (1, 17, 33, 5, 13), (3, 20, 40, 6, 6), (1, 37, 32, 11, 3),
                                               (2, 1, 8, 1, 1), (1, 64, 70, 12, 12), (1, 2, 3, 2, 17), (2, 40, 64, 9, 10),
                                               (2, 3, 5, 8, 12), (1, 37, 40, 4, 4),
                                               (1, 19, 37, 30, 23), (2, 21, 13, 15, 23), (1, 5, 7, 5, 7), (1, 35, 9, 4, 5),
                                               (2, 6, 33, 9, 2), (1, 18, 3, 1, 1)]
    var levels: [ConvSIMDLevel] { ConvSIMDLevel.allCases.filter(\.isSupported) }

    /// γ(k) = k·u / (1 − k·u), u = 2⁻²⁴ (float's unit roundoff).
    func gamma(_ k: Int) -> Double { let ku = Double(k) * 0x1p-24; return ku / (1 - ku) }

    /// out[o][y][x] = Σ_i Σ_taps input[i][y + kh − 1][x + kw − 1] · weight(o, i, kh·3 + kw) in float64 (zero outside),
    /// and the stated bound's magnitude Σ_i ‖weight(o, i)‖₁ · ‖input[i] over the output's (tile + 2)² Winograd input
    /// tile‖₁ (times the transform's coefficient: 4 for F(2×2, 3×3), 113.8 for F(4×4, 3×3)).
    func oracle(_ input: [Float], channels: Int, outChannels: Int, h: Int, w: Int, tile: Int = 2, weight: (Int, Int, Int) -> Float)
        -> (y: [Double], magnitude: [Double]) {
        let plane = h * w
        func at(_ i: Int, _ y: Int, _ x: Int) -> Double { y < 0 || y >= h || x < 0 || x >= w ? 0 : Double(input[i * plane + y * w + x]) }
        var out = [Double](repeating: 0, count: outChannels * plane), mag = out
        for o in 0..<outChannels {
            for i in 0..<channels {
                let l1 = (0..<9).reduce(0.0) { $0 + Double(abs(weight(o, i, $1))) }
                for y in 0..<h { for x in 0..<w {
                    var s = 0.0, tileSum = 0.0
                    for t in 0..<9 { s += at(i, y + t / 3 - 1, x + t % 3 - 1) * Double(weight(o, i, t)) }
                    for r in 0..<tile + 2 { for c in 0..<tile + 2 { tileSum += abs(at(i, y / tile * tile - 1 + r, x / tile * tile - 1 + c)) } }
                    out[o * plane + y * w + x] += s
                    mag[o * plane + y * w + x] += l1 * tileSum
                } }
            }
        }
        return (out, mag)
    }

    /// dw[co][ci][kh][kw] = Σ_images Σ_pixels dy · x(shifted) in float64, and the weight gradient's bound magnitude
    /// 4 · Σ_images Σ_tiles ‖dy_co over the tile's 2×2‖₁ · ‖x_ci over its 4×4 input tile‖₁.
    func weightGradientOracle(x: Tensor, dy: Tensor, cout: Int) -> (dw: [Double], magnitude: [Double]) {
        let (n, cin, h, w) = (x.shape[0], x.shape[1], x.shape[2], x.shape[3])
        func xs(_ s: Int, _ i: Int, _ y: Int, _ x0: Int) -> Double {
            y < 0 || y >= h || x0 < 0 || x0 >= w ? 0 : Double(x.data[((s * cin + i) * h + y) * w + x0])
        }
        func ds(_ s: Int, _ o: Int, _ y: Int, _ x0: Int) -> Double {
            y >= h || x0 >= w ? 0 : Double(dy.data[((s * cout + o) * h + y) * w + x0])
        }
        var dw = [Double](repeating: 0, count: cout * cin * 9), mag = dw
        for s in 0..<n { for o in 0..<cout { for i in 0..<cin {
            for t in 0..<9 {
                var sum = 0.0
                for y in 0..<h { for x0 in 0..<w { sum += ds(s, o, y, x0) * xs(s, i, y + t / 3 - 1, x0 + t % 3 - 1) } }
                dw[(o * cin + i) * 9 + t] += sum
            }
            var m = 0.0
            for ty in stride(from: 0, to: h, by: 2) { for tx in stride(from: 0, to: w, by: 2) {
                var e = 0.0, d = 0.0
                for r in 0..<2 { for c in 0..<2 { e += abs(ds(s, o, ty + r, tx + c)) } }
                for r in 0..<4 { for c in 0..<4 { d += abs(xs(s, i, ty - 1 + r, tx - 1 + c)) } }
                m += 4 * e * d
            } }
            for t in 0..<9 { mag[(o * cin + i) * 9 + t] += m }
        } } }
        return (dw, mag)
    }

    /// |ŷ − y| ≤ γ(cin + 8) · 4 · Σ_ci ‖g‖₁ ‖d_tile‖₁ for the forward (cin → cout) and the input gradient (the
    /// forward of dy with the flipped transposed weights: cout → cin), |ŷ − y| ≤ γ(cin + 15) · 113.8 · Σ_ci ‖g‖₁ ‖d_tile‖₁
    /// for F(4×4, 3×3) (partial tiles included: their pixels past the map are zeros in the oracle's tile too), and
    /// |dŵ − dw| ≤ γ(tiles + 6) · 4 · Σ_tiles ‖dy_tile‖₁ ‖x_tile‖₁ for the weight gradient: every output, every level.
    func testEveryLevelWithinTheErrorBoundOfAFloat64Oracle() {
        var worstRatio: [ConvPath: Double] = [:]  // .direct: the weight gradient (F(2×2, 3×3) on both paths)
        for (n, cin, cout, h, w) in shapes {
            var rng = SeededRNG(seed: UInt64(n * 1000 + cin * 10 + cout))
            let c = conv3x3(cin, cout, bias: false, .direct, seed: UInt64(cin))
            let x = randomTensor([n, cin, h, w], &rng), dy = randomTensor([n, cout, h, w], &rng)
            let wt = c.weight.value.data
            let dwExact = weightGradientOracle(x: x, dy: dy, cout: cout)
            // F(4×4, 3×3) (forward and input gradient): coefficient 113.8, γ(k + 15).
            for (path, tile, coefficient, extra) in [(ConvPath.winograd, 2, 4.0, 8), (.winograd4, 4, 113.8, 15)] {
                let exact = (0..<n).map { s in
                    (f: oracle(Array(x.data[s * cin * h * w..<(s + 1) * cin * h * w]), channels: cin, outChannels: cout, h: h, w: w,
                               tile: tile) { wt[($0 * cin + $1) * 9 + $2] },
                     b: oracle(Array(dy.data[s * cout * h * w..<(s + 1) * cout * h * w]), channels: cout, outChannels: cin, h: h, w: w,
                               tile: tile) { wt[($1 * cin + $0) * 9 + 8 - $2] })
                }
                for level in levels {
                    let got = convPasses(c, x: x, dy: dy, level: level, path: path)
                    let what = "\(n)×\(cin)×\(h)×\(w) → \(cout), \(path) at \(level)"
                    for s in 0..<n {
                        let (f, b) = exact[s]
                        for (name, ŷ, exact, k) in [("forward", Array(got.y[s * cout * h * w..<(s + 1) * cout * h * w]), f, cin),
                                                     ("input gradient", Array(got.dx[s * cin * h * w..<(s + 1) * cin * h * w]), b, cout)] {
                            var fails = 0
                            for i in ŷ.indices {
                                let err = abs(Double(ŷ[i]) - exact.y[i]), bound = gamma(k + extra) * coefficient * exact.magnitude[i]
                                if !(err <= bound) { fails += 1 }
                                if bound > 0 { worstRatio[path, default: 0] = max(worstRatio[path, default: 0], err / bound) }
                            }
                            XCTAssertEqual(fails, 0, "\(name) outside the bound, image \(s), \(what)")
                        }
                    }
                    let tiles = n * ((h + 1) / 2) * ((w + 1) / 2)
                    var fails = 0
                    for i in got.dw.indices {
                        let err = abs(Double(got.dw[i]) - dwExact.dw[i]), bound = gamma(tiles + 6) * dwExact.magnitude[i]
                        if !(err <= bound) { fails += 1 }
                        if bound > 0 { worstRatio[.direct, default: 0] = max(worstRatio[.direct, default: 0], err / bound) }
                    }
                    XCTAssertEqual(fails, 0, "weight gradient outside the bound, \(what)")
                }
            }
        }
        print("Winograd: largest |error| / bound \(worstRatio)")
        XCTAssertEqual(worstRatio.count, 3)
        XCTAssertTrue(worstRatio.values.allSatisfy { $0 > 0 }, "the oracle sees rounding at all")
    }

    /// `.winograd` and `.winograd4` only where the direct kernels apply (`.winograd4` on any map: partial tiles);
    /// `.measured` follows the table, for inference the inference table first.
    /// Stride-2 convs of 3–6 taps as Winograd F(4×4, 3×3) over the stacked stride phases (`phaseSplitForward`) against
    /// the float64 stride-2 oracle, at every level on 2 threads, plain and with the inference epilogue (scale, shift,
    /// ReLU): within the F(4×4, 3×3) bound of the equivalent 3×3 conv (γ(36·cin + 15) · 113.8 · Σ‖W'‖₁‖T tile‖₁, T the
    /// stacked phases: built here from the index rule in the kernel's comment; the exact values do not use it).
    func testStridePhasesOnWinogradWithinTheBound() {
        let cases: [(n: Int, cin: Int, cout: Int, h: Int, w: Int, k: Int, padding: Padding)] = [
            (2, 5, 7, 13, 11, 5, .symmetric(1, 1)), (1, 3, 33, 16, 17, 5, .valid),
            (1, 4, 6, 9, 10, 3, .symmetric(1, 1)), (2, 2, 5, 12, 7, 6, .valid),
            (1, 9, 17, 20, 14, 4, .explicit(top: 2, bottom: 1, left: 0, right: 2)), (1, 1, 3, 5, 5, 5, .symmetric(2, 2)),
        ]
        var worst = 0.0
        for (index, c) in cases.enumerated() {
            var rng = SeededRNG(seed: 70 + UInt64(index))
            let g = WindowGeometry(inH: c.h, inW: c.w, kh: c.k, kw: c.k, sh: 2, sw: 2, padding: c.padding)
            XCTAssertTrue(ConvKernels.phaseSplitApplies(g: g, groups: 1))
            let x = randomTensor([c.n, c.cin, c.h, c.w], &rng), wt = randomTensor([c.cout, c.cin, c.k, c.k], &rng, scale: 0.2)
            let scale = (0..<c.cout).map { _ in rng.uniform() * 2 - 1 }, shift = (0..<c.cout).map { _ in rng.uniform() - 0.5 }
            let exact = stride2ConvOracle(x, wt, g: g)
            let (th, tw, cinT) = (g.outH + 2, g.outW + 2, 4 * c.cin)
            func weightT(_ o: Int, _ i: Int, _ t: Int) -> Float {
                let (phase, ci) = (i / c.cin, i % c.cin), (ky, kx) = (2 * (t / 3) + phase / 2, 2 * (t % 3) + phase % 2)
                return ky < c.k && kx < c.k ? wt.data[((o * c.cin + ci) * c.k + ky) * c.k + kx] : 0
            }
            for level in levels {
                let outputs = [false, true].map { fused in
                    var y = [Float](repeating: .nan, count: c.n * c.cout * g.outH * g.outW)
                    x.data.withUnsafeBufferPointer { xp in wt.data.withUnsafeBufferPointer { wp in y.withUnsafeMutableBufferPointer { yp in
                        scale.withUnsafeBufferPointer { sp in shift.withUnsafeBufferPointer { hp in
                            Threads.withCount(2) {
                                ConvKernels.phaseSplitForward(x: xp.baseAddress!, w: wp.baseAddress!, y: yp.baseAddress!, n: c.n, cin: c.cin,
                                                              cout: c.cout, g: g, scale: fused ? sp.baseAddress : nil,
                                                              shift: fused ? hp.baseAddress : nil, relu: fused, level: level)
                            }
                        } }
                    } } }
                    return y
                }
                var fails = 0
                for s in 0..<c.n {
                    var stacked = [Float](repeating: 0, count: cinT * th * tw)
                    for i in 0..<cinT { for r in 0..<th { for q in 0..<tw {
                        let (phase, ci) = (i / c.cin, i % c.cin), (row, col) = (2 * r + phase / 2 - g.padTop, 2 * q + phase % 2 - g.padLeft)
                        if row >= 0 && row < c.h && col >= 0 && col < c.w { stacked[(i * th + r) * tw + q] = x.data[((s * c.cin + ci) * c.h + row) * c.w + col] }
                    } } }
                    let magnitude = oracle(stacked, channels: cinT, outChannels: c.cout, h: th, w: tw, tile: 4, weight: weightT).magnitude
                    for o in 0..<c.cout { for i in 0..<g.outH { for j in 0..<g.outW {
                        let q = ((s * c.cout + o) * g.outH + i) * g.outW + j
                        let bound = gamma(9 * cinT + 15) * 113.8 * magnitude[(o * th + i + 1) * tw + j + 1] + 1e-30
                        let err = abs(Double(outputs[0][q]) - exact.y[q])
                        worst = max(worst, err / bound)
                        let fusedExact = max(0, Double(scale[o]) * exact.y[q] + Double(shift[o]))
                        let fusedBound = abs(Double(scale[o])) * bound + gamma(2) * (abs(Double(scale[o]) * exact.y[q]) + abs(Double(shift[o])))
                        if !(err <= bound) || !(abs(Double(outputs[1][q]) - fusedExact) <= fusedBound) { fails += 1 }
                    } } }
                }
                XCTAssertEqual(fails, 0, "case \(index) (\(c.k)×\(c.k), \(c.h)×\(c.w), \(c.padding)) at \(level)")
            }
        }
        XCTAssertGreaterThan(worst, 0, "the comparison is live")
        // Where it runs: the students' conv2 at inference; their training keeps the direct kernel.
        for shape in [[32, 64, 63, 98], [96, 256, 126, 98]] {
            let g = WindowGeometry(inH: shape[2], inW: shape[3], kh: 5, kw: 5, sh: 2, sw: 2, padding: .symmetric(1, 1))
            XCTAssertEqual(ConvKernels.convPath(.measured, g: g, groups: 1, cin: shape[0], cout: shape[1], pass: .inference), .winograd4)
            XCTAssertEqual(ConvKernels.convPath(.measured, g: g, groups: 1, cin: shape[0], cout: shape[1], pass: .training), .direct)
        }
    }

    func testPathChoice() {
        let g = WindowGeometry(inH: 48, inW: 48, kh: 3, kw: 3, sh: 1, sw: 1, padding: .same)
        XCTAssertEqual(ConvKernels.convPath(.winograd, g: g, groups: 1, cin: 32, cout: 32), .winograd)
        XCTAssertEqual(ConvKernels.convPath(.winograd, g: g, groups: 2, cin: 32, cout: 32), .im2col)
        XCTAssertEqual(ConvKernels.convPath(.winograd4, g: g, groups: 1, cin: 32, cout: 32), .winograd4)
        let six = WindowGeometry(inH: 6, inW: 6, kh: 3, kw: 3, sh: 1, sw: 1, padding: .same)
        XCTAssertEqual(ConvKernels.convPath(.winograd4, g: six, groups: 1, cin: 256, cout: 256), .winograd4, "6×6: partial 4×4 tiles")
        let strided = WindowGeometry(inH: 48, inW: 48, kh: 3, kw: 3, sh: 2, sw: 2, padding: .same)
        XCTAssertEqual(ConvKernels.convPath(.winograd, g: strided, groups: 1, cin: 32, cout: 32), .im2col)
        XCTAssertEqual(ConvKernels.convPath(.measured, g: g, groups: 1, cin: 1, cout: 32), .im2col, "a grey first layer stays on im2col")
        for (shape, path) in ConvKernels.measuredConvPaths {
            let at = WindowGeometry(inH: shape[2], inW: shape[3], kh: 3, kw: 3, sh: 1, sw: 1, padding: .same)
            XCTAssertEqual(ConvKernels.convPath(.measured, g: at, groups: 1, cin: shape[0], cout: shape[1]), path, "\(shape)")
            let inference = ConvKernels.measuredInferencePaths[shape] ?? path
            XCTAssertEqual(ConvKernels.convPath(.measured, g: at, groups: 1, cin: shape[0], cout: shape[1], pass: .inference), inference, "\(shape)")
        }
        XCTAssertFalse(ConvKernels.measuredInferencePaths.isEmpty)
        for (shape, path) in ConvKernels.measuredInferencePaths {
            XCTAssertEqual(ConvKernels.measuredConvPaths[shape], .winograd, "\(shape): training keeps F(2×2, 3×3)")
            XCTAssertEqual(path, .winograd4, "\(shape)")
        }
        // Only `.measured` tells the passes apart.
        let vggmConv4 = WindowGeometry(inH: 30, inW: 23, kh: 3, kw: 3, sh: 1, sw: 1, padding: .symmetric(1, 1))
        for choice in DirectConvChoice.allCases where choice != .measured {
            XCTAssertEqual(ConvKernels.convPath(choice, g: vggmConv4, groups: 1, cin: 384, cout: 256, pass: .inference),
                           ConvKernels.convPath(choice, g: vggmConv4, groups: 1, cin: 384, cout: 256), "\(choice)")
        }
    }
}
