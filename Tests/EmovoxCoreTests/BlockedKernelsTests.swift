import XCTest
@testable import EmovoxCore
@testable import EmovoxKernels

/// The blocked-layout inference kernels (CConvKernels/cblocked_kernels.c) at every SIMD level this CPU runs against
/// float64 references written here as plain loops, on shapes that are not multiples of any block: channel counts
/// that are not multiples of 8 or 16, widths that are not multiples of a tile (6, 12 or 16 pixels), one-pixel maps,
/// stride 2 with odd sizes. Each check also asserts that the border and the padding channels stay zero (the next
/// kernel reads them as zeros), and that one and two threads give bitwise the same maps.
final class BlockedKernelsTests: XCTestCase {
    var levels: [ConvSIMDLevel] { ConvSIMDLevel.allCases.filter(\.isSupported) }

    /// A blocked map of random planes, or of NaN everywhere but the border (an output: every interior float is written).
    func blocked(_ planes: [Float], _ m: BlockedMap) -> [Float] {
        var buf = [Float](repeating: 0, count: m.floats)
        planes.withUnsafeBufferPointer { p in buf.withUnsafeMutableBufferPointer { BlockedKernels.fromPlanes(p.baseAddress!, m, into: $0.baseAddress!) } }
        return buf
    }

    func output(_ m: BlockedMap) -> [Float] {
        var buf = [Float](repeating: 0, count: m.floats)
        for y in 0..<m.h { for x in 0..<m.w { for c in 0..<m.stride { buf[((y + 1) * (m.w + 2) + x + 1) * m.stride + c] = .nan } } }
        return buf
    }

    func planes(_ buf: [Float], _ m: BlockedMap) -> [Float] {
        var out = [Float](repeating: .nan, count: m.channels * m.h * m.w)
        buf.withUnsafeBufferPointer { b in out.withUnsafeMutableBufferPointer { BlockedKernels.toPlanes(b.baseAddress!, m, into: $0.baseAddress!) } }
        return out
    }

    /// Border, slack and padding channels all zero.
    func assertPaddingZero(_ buf: [Float], _ m: BlockedMap, _ what: String) {
        var bad = 0
        for (i, v) in buf.enumerated() where v != 0 {
            let pixel = i / m.stride, c = i % m.stride, y = pixel / (m.w + 2), x = pixel % (m.w + 2)
            let interior = y >= 1 && y <= m.h && x >= 1 && x <= m.w && c < m.channels
            if !interior { bad += 1 }
        }
        XCTAssertEqual(bad, 0, "non-zero border or padding floats, \(what)")
    }

    func random(_ n: Int, _ rng: inout SeededRNG) -> [Float] { (0..<n).map { _ in rng.normal() } }

    /// |got − ref| within the float32 error bound of a sum of `terms` products (with fused or separate multiply-adds),
    /// relative to Σ|products|: the oracle returns both.
    func assertWithinBound(_ got: [Float], _ ref: [(value: Double, magnitude: Double)], terms: Int, _ what: String) {
        XCTAssertEqual(got.count, ref.count)
        let u = Double(Float.ulpOfOne) / 2
        var worst = 0.0
        for (g, r) in zip(got, ref) {
            let bound = Double(terms + 2) * u * r.magnitude + 1e-30
            worst = max(worst, abs(Double(g) - r.value) / bound)
        }
        XCTAssertLessThanOrEqual(worst, 1, "error over its bound, \(what)")
    }

    // MARK: conv

    /// y[co][yo][xo] = bias + Σ x·w over the window (zero padding), in float64.
    func convOracle(x: [Float], w: [Float], bias: [Float], cin: Int, cout: Int, g: WindowGeometry, relu: Bool) -> [(value: Double, magnitude: Double)] {
        var out: [(Double, Double)] = []
        for co in 0..<cout { for yo in 0..<g.outH { for xo in 0..<g.outW {
            var s = Double(bias[co]), m = abs(Double(bias[co]))
            for ci in 0..<cin { for i in 0..<g.kh { for j in 0..<g.kw {
                let yi = yo * g.sh - g.padTop + i, xi = xo * g.sw - g.padLeft + j
                guard yi >= 0, yi < g.inH, xi >= 0, xi < g.inW else { continue }
                let p = Double(x[(ci * g.inH + yi) * g.inW + xi]) * Double(w[((co * cin + ci) * g.kh + i) * g.kw + j])
                s += p; m += abs(p)
            } } }
            out.append((relu ? max(s, 0) : s, m))
        } } }
        return out
    }

    func runConv(_ x: [Float], _ xm: BlockedMap, _ wts: BlockedConvWeights, _ g: WindowGeometry, relu: Bool, _ ym: BlockedMap,
                 level: ConvSIMDLevel) -> [Float] {
        var y = output(ym)
        x.withUnsafeBufferPointer { xp in y.withUnsafeMutableBufferPointer { yp in
            BlockedKernels.conv(xp.baseAddress!, xm, wts, g, relu: relu, yp.baseAddress!, ym, level: level)
        } }
        return y
    }

    func testConvEveryLevelMatchesFloat64Oracle() {
        // (cin, cout, k, stride, padding, h, w): fer's 1→8 and 8→8 'valid' 3×3, its 1×1/2 shortcuts and 128→7 head,
        // and odd shapes (channels 3, 13, 20; widths 1, 5, 13, 17, 61; a 4-float input stride). Between them they take
        // every route of cblk_conv: tiles by rows, along the flat pixels (stride 1), and over gathered pixels (1×1/2).
        let cases: [(Int, Int, Int, Int, Padding, Int, Int)] = [
            (1, 8, 3, 1, .valid, 9, 10), (8, 8, 3, 1, .valid, 11, 13), (13, 7, 3, 1, .same, 4, 4), (8, 16, 1, 2, .same, 12, 12),
            (32, 64, 1, 2, .same, 15, 15), (3, 20, 3, 2, .same, 7, 5), (20, 40, 3, 1, .same, 1, 1), (5, 9, 1, 1, .valid, 3, 17),
            (128, 7, 3, 1, .same, 4, 4), (1, 8, 3, 1, .valid, 8, 61), (3, 33, 3, 2, .valid, 9, 9),
            // strided 1×1 by rows (25-pixel rows) and gathered into a heap block (23 × 23 × 64 floats)
            (8, 16, 1, 2, .same, 5, 50), (64, 24, 1, 2, .same, 46, 46),
        ]
        var rng = SeededRNG(seed: 31)
        for (cin, cout, k, s, pad, h, w) in cases {
            let g = WindowGeometry(inH: h, inW: w, kh: k, kw: k, sh: s, sw: s, padding: pad)
            XCTAssertTrue(BlockedKernels.convApplies(g))
            let x = random(cin * h * w, &rng), wt = random(cout * cin * k * k, &rng), b = random(cout, &rng)
            let xm = BlockedMap(channels: cin, h: h, w: w, stride: cin == 3 ? 4 : nil), ym = BlockedMap(channels: cout, h: g.outH, w: g.outW)
            let wts = BlockedConvWeights(wt, bias: b, cout: cout, cin: cin, kh: k, kw: k)
            let xb = blocked(x, xm)
            for relu in [false, true] {
                let ref = convOracle(x: x, w: wt, bias: b, cin: cin, cout: cout, g: g, relu: relu)
                for level in levels {
                    let what = "\(cin)→\(cout) \(k)×\(k)/\(s) \(h)×\(w) relu \(relu) at \(level)"
                    let y = runConv(xb, xm, wts, g, relu: relu, ym, level: level)
                    assertWithinBound(planes(y, ym), ref, terms: cin * k * k + 1, what)
                    assertPaddingZero(y, ym, what)
                }
            }
        }
        // Padding wider than the one-pixel border is refused (the per-layer path runs such convs).
        XCTAssertFalse(BlockedKernels.convApplies(WindowGeometry(inH: 8, inW: 8, kh: 5, kw: 5, sh: 1, sw: 1, padding: .same)))
    }

    // MARK: separable

    func separableOracle(x: [Float], dw: [Float], dwBias: [Float]?, pw: [Float], bias: [Float], c: Int, cout: Int, h: Int, w: Int,
                         relu: Bool) -> [(value: Double, magnitude: Double)] {
        var mid = [Double](repeating: 0, count: c * h * w), midMag = mid
        for ch in 0..<c { for y in 0..<h { for xx in 0..<w {
            var s = Double(dwBias?[ch] ?? 0), m = abs(s)
            for i in 0..<3 { for j in 0..<3 {
                let yi = y + i - 1, xi = xx + j - 1
                guard yi >= 0, yi < h, xi >= 0, xi < w else { continue }
                let p = Double(x[(ch * h + yi) * w + xi]) * Double(dw[ch * 9 + i * 3 + j])
                s += p; m += abs(p)
            } }
            mid[(ch * h + y) * w + xx] = s; midMag[(ch * h + y) * w + xx] = m
        } } }
        var out: [(Double, Double)] = []
        for co in 0..<cout { for q in 0..<(h * w) {
            var s = Double(bias[co]), m = abs(s)
            for ch in 0..<c {
                let wv = Double(pw[co * c + ch])
                s += mid[ch * h * w + q] * wv; m += midMag[ch * h * w + q] * abs(wv)
            }
            out.append((relu ? max(s, 0) : s, m))
        } }
        return out
    }

    func runSeparable(_ x: [Float], _ xm: BlockedMap, _ dw: BlockedDepthwiseWeights, _ pw: BlockedConvWeights, relu: Bool,
                      _ ym: BlockedMap, level: ConvSIMDLevel) -> [Float] {
        var y = output(ym)
        x.withUnsafeBufferPointer { xp in y.withUnsafeMutableBufferPointer { yp in
            BlockedKernels.separable(xp.baseAddress!, xm, depthwise: dw, pointwise: pw, relu: relu, yp.baseAddress!, ym, level: level)
        } }
        return y
    }

    func testSeparableEveryLevelMatchesFloat64Oracle() {
        // (c, cout, h, w): fer's four stages, and channels 13 → 20, 24 → 40 (a 16k + 8 stride), 16 → 8, 1×1 and 2×19 maps.
        let cases = [(8, 16, 20, 20), (16, 32, 5, 30), (32, 64, 15, 15), (64, 128, 8, 8), (13, 20, 7, 11), (24, 40, 3, 17), (16, 8, 6, 5),
                     (40, 24, 1, 1), (8, 8, 2, 19)]
        var rng = SeededRNG(seed: 32)
        for (c, cout, h, w) in cases {
            let x = random(c * h * w, &rng), dw = random(c * 9, &rng), pw = random(cout * c, &rng), b = random(cout, &rng)
            let dwBias: [Float]? = c % 2 == 0 ? nil : random(c, &rng)  // SeparableConv2D has none; DepthwiseConv2D + BN would
            let xm = BlockedMap(channels: c, h: h, w: w), ym = BlockedMap(channels: cout, h: h, w: w)
            let dww = BlockedDepthwiseWeights(dw, bias: dwBias, channels: c)
            let pww = BlockedConvWeights(pw, bias: b, cout: cout, cin: c, kh: 1, kw: 1)
            let xb = blocked(x, xm)
            for relu in [false, true] {
                let ref = separableOracle(x: x, dw: dw, dwBias: dwBias, pw: pw, bias: b, c: c, cout: cout, h: h, w: w, relu: relu)
                for level in levels {
                    let what = "\(c)→\(cout) \(h)×\(w) relu \(relu) at \(level)"
                    let y = runSeparable(xb, xm, dww, pww, relu: relu, ym, level: level)
                    assertWithinBound(planes(y, ym), ref, terms: c + 10, what)
                    assertPaddingZero(y, ym, what)
                }
            }
        }
    }

    // MARK: max pool, add, ReLU, global average

    func testMaxPoolAndFusedAddMatchOracleExactly() {
        // (c, h, w, k, stride, padding): fer's 3×3/2 'same' at 60, 30, 15 (odd: a top pad row) and 8; 2×2/2 'valid' on odd sizes.
        let cases: [(Int, Int, Int, Int, Int, Padding)] = [(16, 60, 60, 3, 2, .same), (32, 15, 15, 3, 2, .same), (128, 8, 8, 3, 2, .same),
                                                            (13, 7, 9, 2, 2, .valid), (8, 1, 1, 3, 2, .same), (20, 5, 3, 3, 1, .same)]
        var rng = SeededRNG(seed: 33)
        for (c, h, w, k, s, pad) in cases {
            let g = WindowGeometry(inH: h, inW: w, kh: k, kw: k, sh: s, sw: s, padding: pad)
            let xm = BlockedMap(channels: c, h: h, w: w), ym = BlockedMap(channels: c, h: g.outH, w: g.outW)
            let x = random(c * h * w, &rng), other = random(c * g.outH * g.outW, &rng)
            var ref = [Float](), refAdd = [Float]()
            for ch in 0..<c { for yo in 0..<g.outH { for xo in 0..<g.outW {
                var m = -Float.infinity
                for i in 0..<k { for j in 0..<k {
                    let yi = yo * s - g.padTop + i, xi = xo * s - g.padLeft + j
                    if yi >= 0, yi < h, xi >= 0, xi < w { m = max(m, x[(ch * h + yi) * w + xi]) }
                } }
                ref.append(m); refAdd.append(other[(ch * g.outH + yo) * g.outW + xo] + m)
            } } }
            let xb = blocked(x, xm)
            for level in levels {
                for accumulate in [false, true] {
                    var y = accumulate ? blocked(other, ym) : output(ym)
                    xb.withUnsafeBufferPointer { xp in y.withUnsafeMutableBufferPointer { yp in
                        BlockedKernels.maxPool(xp.baseAddress!, xm, g, accumulate: accumulate, yp.baseAddress!, ym, level: level)
                    } }
                    let what = "\(c)×\(h)×\(w) \(k)×\(k)/\(s) add \(accumulate) at \(level)"
                    XCTAssertEqual(planes(y, ym), accumulate ? refAdd : ref, what)
                    assertPaddingZero(y, ym, what)
                }
            }
        }
    }

    func testAddReLUAndGlobalAverage() {
        var rng = SeededRNG(seed: 34)
        let m = BlockedMap(channels: 13, h: 5, w: 7)
        let a = random(13 * 35, &rng), b = random(13 * 35, &rng)
        var y = blocked(a, m)
        let xb = blocked(b, m)
        xb.withUnsafeBufferPointer { xp in y.withUnsafeMutableBufferPointer { yp in
            BlockedKernels.add(yp.baseAddress!, xp.baseAddress!, m)
            BlockedKernels.relu(yp.baseAddress!, m)
        } }
        XCTAssertEqual(planes(y, m), zip(a, b).map { max($0 + $1, 0) })
        assertPaddingZero(y, m, "add + relu")
        var mean = [Float](repeating: .nan, count: 13)
        xb.withUnsafeBufferPointer { xp in mean.withUnsafeMutableBufferPointer { BlockedKernels.globalAverage(xp.baseAddress!, m, into: $0.baseAddress!) } }
        for c in 0..<13 {
            let ref = b[(c * 35)..<((c + 1) * 35)].reduce(0.0) { $0 + Double($1) } / 35
            XCTAssertEqual(Double(mean[c]), ref, accuracy: 1e-5, "channel \(c)")
        }
    }

    // MARK: threads

    /// Rows split over two threads (steps large enough to split) give bitwise the maps of one thread, at every level.
    func testOneAndTwoThreadsBitwiseIdentical() {
        var rng = SeededRNG(seed: 35)
        let (c, cout, h, w) = (16, 32, 60, 60)
        let xm = BlockedMap(channels: c, h: h, w: w), ym = BlockedMap(channels: cout, h: h, w: w)
        let xb = blocked(random(c * h * w, &rng), xm)
        let dw = BlockedDepthwiseWeights(random(c * 9, &rng), bias: nil, channels: c)
        let pw = BlockedConvWeights(random(cout * c, &rng), bias: random(cout, &rng), cout: cout, cin: c, kh: 1, kw: 1)
        let g = WindowGeometry(inH: h, inW: w, kh: 3, kw: 3, sh: 1, sw: 1, padding: .valid)
        let cm = BlockedMap(channels: cout, h: g.outH, w: g.outW)
        let conv = BlockedConvWeights(random(cout * c * 9, &rng), bias: random(cout, &rng), cout: cout, cin: c, kh: 3, kw: 3)
        XCTAssertGreaterThan(h * w * (ym.stride * c + 9 * xm.stride), 2 * BlockedKernels.minParallelWork, "the separable step must split")
        for level in levels {
            let one = Threads.withCount(1) { (runSeparable(xb, xm, dw, pw, relu: true, ym, level: level), runConv(xb, xm, conv, g, relu: true, cm, level: level)) }
            let two = Threads.withCount(2) { (runSeparable(xb, xm, dw, pw, relu: true, ym, level: level), runConv(xb, xm, conv, g, relu: true, cm, level: level)) }
            XCTAssertEqual(one.0, two.0, "separable at \(level)")
            XCTAssertEqual(one.1, two.1, "conv at \(level)")
        }
    }
}
