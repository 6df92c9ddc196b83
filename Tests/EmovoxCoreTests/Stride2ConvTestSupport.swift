import XCTest
@testable import EmovoxCore

// Shared by the 5×5 (conv2) and 7×7 (conv1) stride-2 direct-kernel tests: the float64 oracle, the kernel call,
// and the two checks both kernels pass (every SIMD level against the oracle; `Conv2D`'s direct path against im2col).

/// γ(k) = k·u / (1 − k·u), u = 2⁻²⁴: the bound of any order of a k-term float32 sum, relative to Σ|terms|.
func float32SumBound(_ k: Int) -> Double { let ku = Double(k) * 0x1p-24; return ku / (1 - ku) }

/// The SIMD levels this CPU runs.
var supportedConvLevels: [ConvSIMDLevel] { ConvSIMDLevel.allCases.filter(\.isSupported) }

/// A k×k stride-2 conv (k = w.shape[2]) in float64 and Σ|w·x| per output (the scale of a float sum's rounding error).
func stride2ConvOracle(_ x: Tensor, _ w: Tensor, g: WindowGeometry) -> (y: [Double], magnitude: [Double]) {
    let (n, cin, h, wd) = (x.shape[0], x.shape[1], x.shape[2], x.shape[3]), (cout, k) = (w.shape[0], w.shape[2])
    var y = [Double](repeating: 0, count: n * cout * g.outH * g.outW), mag = y
    for s in 0..<n { for o in 0..<cout { for oh in 0..<g.outH { for ow in 0..<g.outW {
        var acc = 0.0, m = 0.0
        for c in 0..<cin { for i in 0..<k {
            let ih = oh * 2 - g.padTop + i
            guard ih >= 0, ih < h else { continue }
            for j in 0..<k {
                let iw = ow * 2 - g.padLeft + j
                guard iw >= 0, iw < wd else { continue }
                let p = Double(w.data[((o * cin + c) * k + i) * k + j]) * Double(x.data[((s * cin + c) * h + ih) * wd + iw])
                acc += p; m += abs(p)
            }
        } }
        let q = ((s * cout + o) * g.outH + oh) * g.outW + ow
        y[q] = acc; mag[q] = m
    } } } }
    return (y, mag)
}

/// `ConvKernels.directStride2Forward` (5×5 or 7×7) into a NaN-filled array (every output must be written).
func stride2Forward(_ x: Tensor, _ w: Tensor, g: WindowGeometry, scale: [Float]? = nil, shift: [Float]? = nil, relu: Bool = false,
                    level: ConvSIMDLevel) -> [Float] {
    let (n, cin, cout) = (x.shape[0], x.shape[1], w.shape[0])
    var y = [Float](repeating: .nan, count: n * cout * g.outH * g.outW)
    x.data.withUnsafeBufferPointer { xp in w.data.withUnsafeBufferPointer { wp in y.withUnsafeMutableBufferPointer { yp in
        (scale ?? []).withUnsafeBufferPointer { sp in (shift ?? []).withUnsafeBufferPointer { hp in
            ConvKernels.directStride2Forward(x: xp.baseAddress!, w: wp.baseAddress!, y: yp.baseAddress!, n: n, cin: cin, cout: cout, g: g,
                                             scale: scale == nil ? nil : sp.baseAddress, shift: shift == nil ? nil : hp.baseAddress,
                                             relu: relu, level: level)
        } }
    } } }
    return y
}

/// (n, cin, cout, h, w, padding) of one test case.
typealias Stride2Shape = (n: Int, cin: Int, cout: Int, h: Int, w: Int, padding: Padding)

/// The direct k×k stride-2 forward at every level on 2 threads within γ(k²·cin)·Σ|w·x| of float64 (every output
/// written: NaN-filled before), and with the inference epilogue (scale, shift, ReLU) within that bound scaled by
/// |scale| plus two roundings. Returns the largest error / bound seen (> 0 shows the comparison is live).
func checkStride2ForwardAgainstOracle(_ shapes: [Stride2Shape], k: Int, seedBase: UInt64,
                                      file: StaticString = #filePath, line: UInt = #line) -> Double {
    var worst = 0.0
    for (i, s) in shapes.enumerated() {
        var rng = SeededRNG(seed: seedBase + UInt64(i))
        let g = WindowGeometry(inH: s.h, inW: s.w, kh: k, kw: k, sh: 2, sw: 2, padding: s.padding)
        let x = randomTensor([s.n, s.cin, s.h, s.w], &rng), wt = randomTensor([s.cout, s.cin, k, k], &rng, scale: 0.2)
        let scale = (0..<s.cout).map { _ in rng.uniform() * 2 - 1 }, shift = (0..<s.cout).map { _ in rng.uniform() - 0.5 }
        let ref = stride2ConvOracle(x, wt, g: g), bound = float32SumBound(k * k * s.cin)
        for level in supportedConvLevels {
            let y = Threads.withCount(2) { stride2Forward(x, wt, g: g, level: level) }
            let fused = Threads.withCount(2) { stride2Forward(x, wt, g: g, scale: scale, shift: shift, relu: true, level: level) }
            var fails = 0
            for q in ref.y.indices {
                let err = abs(Double(y[q]) - ref.y[q]), allowed = bound * ref.magnitude[q] + 1e-30
                worst = max(worst, err / allowed)
                let co = q / (g.outH * g.outW) % s.cout, sc = Double(scale[co]), b = Double(shift[co])
                let exact = max(0, sc * ref.y[q] + b)
                let fusedAllowed = abs(sc) * bound * ref.magnitude[q] + float32SumBound(2) * (abs(sc * ref.y[q]) + abs(b)) + 1e-30
                if !(err <= allowed) || !(abs(Double(fused[q]) - exact) <= fusedAllowed) { fails += 1 }
            }
            XCTAssertEqual(fails, 0, "outputs off the bound, \(s.n)×\(s.cin)×\(s.h)×\(s.w) → \(s.cout) \(s.padding) at \(level)",
                           file: file, line: line)
        }
    }
    return worst
}

/// `Conv2D`'s forward on the direct path against its im2col path (training forward with bias; inference with a fused
/// BN, with or without ReLU): both within γ(k²·cin + 3)·Σ|w·x| (+ the bias, the BN) of the exact result, so within
/// twice that of each other. The caller checks the backward, which differs by kernel size.
func checkConv2DForwardPaths(direct: Conv2D, im2col: Conv2D, x: Tensor, relu: Bool, rng: inout SeededRNG,
                             file: StaticString = #filePath, line: UInt = #line) {
    let (n, cin, h, w) = (x.shape[0], x.shape[1], x.shape[2], x.shape[3]), g = direct.geometry(h, w)
    let cout = direct.weight.value.shape[0], k = direct.weight.value.shape[2]
    XCTAssertEqual(direct.path(g), .direct, file: file, line: line)
    XCTAssertEqual(im2col.path(g), .im2col, file: file, line: line)
    let ref = stride2ConvOracle(x, direct.weight.value, g: g), bias = direct.bias!.value.data
    let bound = 2 * float32SumBound(k * k * cin + 3)  // + the bias and the epilogue's two roundings
    let scale = (0..<cout).map { _ in rng.uniform() + 0.5 }, shift = (0..<cout).map { _ in rng.uniform() - 0.5 }
    let pairs = [(direct.forward(x, training: true), im2col.forward(x, training: true), "training forward"),
                 (direct.inferWithEpilogue(x, scale: scale, shift: shift, relu: relu),
                  im2col.inferWithEpilogue(x, scale: scale, shift: shift, relu: relu), "inference with BN\(relu ? " + ReLU" : "")")]
    for (index, (a, b, what)) in pairs.enumerated() {
        XCTAssertEqual(a.shape, [n, cout, g.outH, g.outW], file: file, line: line)
        var fails = 0
        for q in a.data.indices {
            let co = q / (g.outH * g.outW) % cout
            let (s, b0) = index == 0 ? (1.0, 0.0) : (Double(scale[co]), Double(shift[co]))
            let allowed = abs(s) * bound * (ref.magnitude[q] + abs(Double(bias[co]))) + 4 * float32SumBound(2) * abs(b0) + 1e-30
            if !(abs(Double(a.data[q]) - Double(b.data[q])) <= allowed) { fails += 1 }
        }
        XCTAssertEqual(fails, 0, "\(what), \(n)×\(cin)×\(h)×\(w) → \(cout)", file: file, line: line)
    }
}
