import Foundation

/// Spatial padding of a conv or pool. `.same` is Keras/TensorFlow 'same': output = ceil(input / stride),
/// with the odd pixel of padding at the bottom/right (it depends on the input size, so it is resolved per call).
public enum Padding: Equatable, Sendable {
    case explicit(top: Int, bottom: Int, left: Int, right: Int)
    case same

    public static func symmetric(_ h: Int, _ w: Int) -> Padding { .explicit(top: h, bottom: h, left: w, right: w) }
    public static let valid = Padding.explicit(top: 0, bottom: 0, left: 0, right: 0)

    /// (before, after) padding along one axis.
    public func resolve(input: Int, kernel: Int, stride: Int, vertical: Bool) -> (Int, Int) {
        switch self {
        case let .explicit(t, b, l, r): return vertical ? (t, b) : (l, r)
        case .same:
            let out = (input + stride - 1) / stride
            let total = max((out - 1) * stride + kernel - input, 0)
            return (total / 2, total - total / 2)
        }
    }
}

/// Geometry of one sliding-window op (conv or pool) on a given input size.
public struct WindowGeometry: Equatable {
    public let inH, inW, kh, kw, sh, sw, padTop, padLeft, outH, outW: Int

    public init(inH: Int, inW: Int, kh: Int, kw: Int, sh: Int, sw: Int, padding: Padding) {
        let (pt, pb) = padding.resolve(input: inH, kernel: kh, stride: sh, vertical: true)
        let (pl, pr) = padding.resolve(input: inW, kernel: kw, stride: sw, vertical: false)
        self.inH = inH; self.inW = inW; self.kh = kh; self.kw = kw; self.sh = sh; self.sw = sw
        padTop = pt; padLeft = pl
        outH = (inH + pt + pb - kh) / sh + 1
        outW = (inW + pl + pr - kw) / sw + 1
        precondition(outH > 0 && outW > 0, "window \(kh)x\(kw) does not fit input \(inH)x\(inW)")
    }

    /// Output columns whose input column `ow·sw + iw0` lies inside the image (`iw0` = tap column − left padding),
    /// so copy loops need no per-element bounds test.
    @inline(__always) func insideColumns(_ iw0: Int) -> Range<Int> {
        let lo = iw0 >= 0 ? 0 : (-iw0 + sw - 1) / sw
        let hi = iw0 >= inW ? 0 : min(outW, (inW - 1 - iw0) / sw + 1)
        return lo < hi ? lo..<hi : 0..<0
    }
}

/// How the GEMM convs cut their column matrices: a value each conv carries (defaults measured), not process state,
/// so a test can reach every path by passing small budgets to one layer.
public struct ConvTuning: Equatable, Sendable {
    /// Samples are processed in chunks whose column matrix stays below `columnBudget` floats, so small maps still
    /// make one large GEMM while the column matrix (4 MB) stays near the cache the GEMM reads it from (measured
    /// best among 2, 4 and 16 MB).
    public var columnBudget: Int
    /// Floats of column matrix per band when one sample's im2col is done in bands of output rows: small enough to
    /// stay in L2 while the GEMM reads it, for convs with few rows (K) such as a first layer. 0: never banded.
    public var bandBudget: Int

    /// Direct 3×3 kernels or im2col + sgemm for the convs both can run (`.im2col` forces the older path).
    public var direct: DirectConvChoice

    public init(columnBudget: Int = 1 << 20, bandBudget: Int = 1 << 16, direct: DirectConvChoice = .measured) {
        self.columnBudget = columnBudget; self.bandBudget = bandBudget; self.direct = direct
    }
}

/// The conv kernels, on raw buffers (Conv2D in EmovoxCore is the layer around them).
public enum ConvKernels {

    /// Copies windows of one sample's channels [c0, c0+cg) into rows (c, i, j) of `cols` at column offset `col0`.
    /// `outRows` limits the copy to a band of output rows (its columns then start at `col0`).
    static func im2col(_ x: UnsafePointer<Float>, cg: Int, g: WindowGeometry, cols: UnsafeMutablePointer<Float>, ld: Int, col0: Int,
                       outRows: Range<Int>? = nil) {
        let rows = cg * g.kh * g.kw
        let plane = g.inH * g.inW
        let band = outRows ?? 0..<g.outH
        if g.sw > 1 { return im2colStrided(x, cg: cg, g: g, cols: cols, ld: ld, col0: col0, band: band) }
        Threads.parallelFor(rows, minChunk: 8) { range in
            for r in range {
                let c = r / (g.kh * g.kw), i = (r / g.kw) % g.kh, j = r % g.kw
                let src = x + c * plane
                let iw0 = j - g.padLeft, inside = g.insideColumns(iw0)
                var dst = cols + r * ld + col0
                for oh in band {
                    let ih = oh * g.sh - g.padTop + i
                    if ih < 0 || ih >= g.inH || inside.isEmpty {
                        dst.update(repeating: 0, count: g.outW)
                    } else {
                        let row = src + ih * g.inW + iw0
                        dst.update(repeating: 0, count: inside.lowerBound)
                        (dst + inside.lowerBound).update(from: row + inside.lowerBound, count: inside.count)
                        (dst + inside.upperBound).update(repeating: 0, count: g.outW - inside.upperBound)
                    }
                    dst += g.outW
                }
            }
        }
    }

    /// Where window column j's taps land in a row split into `g.sw` phases (columns r, r + sw, r + 2·sw, … as
    /// phase r): output column ow reads phase `phase` at index ow + `shift`, so a window row is one contiguous run.
    @inline(__always) static func phaseOf(_ j: Int, g: WindowGeometry) -> (phase: Int, shift: Int) {
        let iw0 = j - g.padLeft, phase = (iw0 % g.sw + g.sw) % g.sw
        return (phase, (iw0 - phase) / g.sw)
    }

    /// Phase length of a row split by `phaseOf`.
    @inline(__always) static func phaseWidth(_ g: WindowGeometry) -> Int { (g.inW + g.sw - 1) / g.sw }

    /// `im2col` for a horizontal stride > 1 (the students' stride-2 conv1 and conv2): each channel's input rows
    /// are split into phases once, so each of the kh·kw window rows copies contiguous runs instead of gathering
    /// every sw-th value (the same values land in the same places).
    static func im2colStrided(_ x: UnsafePointer<Float>, cg: Int, g: WindowGeometry, cols: UnsafeMutablePointer<Float>, ld: Int, col0: Int,
                              band: Range<Int>) {
        let plane = g.inH * g.inW, pw = phaseWidth(g)
        // Input rows the band's windows reach.
        let rowLo = min(g.inH, max(0, band.lowerBound * g.sh - g.padTop))
        let rowHi = max(rowLo, min(g.inH, (band.upperBound - 1) * g.sh - g.padTop + g.kh))
        Threads.parallelFor(cg) { range in
            withUnsafeTemporaryAllocation(of: Float.self, capacity: max(1, (rowHi - rowLo) * g.sw * pw)) { buffer in
                let phases = buffer.baseAddress!
                for c in range {
                    let src = x + c * plane
                    for ih in rowLo..<rowHi {
                        let row = src + ih * g.inW
                        for r in 0..<g.sw {
                            let d = phases + ((ih - rowLo) * g.sw + r) * pw
                            var t = 0, q = r
                            while q < g.inW { d[t] = row[q]; t += 1; q += g.sw }
                        }
                    }
                    for i in 0..<g.kh { for j in 0..<g.kw {
                        let inside = g.insideColumns(j - g.padLeft), (phase, shift) = phaseOf(j, g: g)
                        var dst = cols + ((c * g.kh + i) * g.kw + j) * ld + col0
                        for oh in band {
                            let ih = oh * g.sh - g.padTop + i
                            if ih < 0 || ih >= g.inH || inside.isEmpty {
                                dst.update(repeating: 0, count: g.outW)
                            } else {
                                let run = phases + ((ih - rowLo) * g.sw + phase) * pw + shift
                                dst.update(repeating: 0, count: inside.lowerBound)
                                (dst + inside.lowerBound).update(from: run + inside.lowerBound, count: inside.count)
                                (dst + inside.upperBound).update(repeating: 0, count: g.outW - inside.upperBound)
                            }
                            dst += g.outW
                        }
                    } }
                }
            }
        }
    }

    /// `col2im` for a horizontal stride > 1: sums into a per-channel phase-split scratch with contiguous adds, then
    /// adds it into the image once. Each image value receives the same adds in the same order (starting from the
    /// scratch's zero instead of dx's), so for the zeroed dx of a backward the result is bitwise the strided loop's.
    static func col2imStrided(_ cols: UnsafePointer<Float>, ld: Int, col0: Int, cg: Int, g: WindowGeometry, dx: UnsafeMutablePointer<Float>) {
        let plane = g.inH * g.inW, pw = phaseWidth(g), size = g.inH * g.sw * pw
        Threads.parallelFor(cg) { range in
            withUnsafeTemporaryAllocation(of: Float.self, capacity: size) { buffer in
                let phases = buffer.baseAddress!
                for c in range {
                    phases.update(repeating: 0, count: size)
                    for i in 0..<g.kh { for j in 0..<g.kw {
                        var src = cols + ((c * g.kh + i) * g.kw + j) * ld + col0
                        let inside = g.insideColumns(j - g.padLeft), (phase, shift) = phaseOf(j, g: g)
                        for oh in 0..<g.outH {
                            let ih = oh * g.sh - g.padTop + i
                            if ih >= 0 && ih < g.inH {
                                let run = phases + (ih * g.sw + phase) * pw + shift
                                for ow in inside { run[ow] += src[ow] }
                            }
                            src += g.outW
                        }
                    } }
                    let dst = dx + c * plane
                    for ih in 0..<g.inH {
                        let row = dst + ih * g.inW
                        for r in 0..<g.sw {
                            let s = phases + (ih * g.sw + r) * pw
                            var t = 0, q = r
                            while q < g.inW { row[q] += s[t]; t += 1; q += g.sw }
                        }
                    }
                }
            }
        }
    }

    /// Adds column rows back into the image (the adjoint of im2col); parallel over channels, so race-free.
    static func col2im(_ cols: UnsafePointer<Float>, ld: Int, col0: Int, cg: Int, g: WindowGeometry, dx: UnsafeMutablePointer<Float>) {
        if g.sw > 1 { return col2imStrided(cols, ld: ld, col0: col0, cg: cg, g: g, dx: dx) }
        let plane = g.inH * g.inW
        Threads.parallelFor(cg) { range in
            for c in range {
                let dst = dx + c * plane
                for i in 0..<g.kh { for j in 0..<g.kw {
                    var src = cols + ((c * g.kh + i) * g.kw + j) * ld + col0
                    let iw0 = j - g.padLeft, inside = g.insideColumns(iw0)
                    for oh in 0..<g.outH {
                        let ih = oh * g.sh - g.padTop + i
                        if ih >= 0 && ih < g.inH {
                            let row = dst + ih * g.inW + iw0
                            for ow in inside { row[ow] += src[ow] }
                        }
                        src += g.outW
                    }
                } }
            }
        }
    }

    /// Output rows per band for a K-row column matrix, or nil to copy the whole sample at once (large K:
    /// bands that fit the budget would be too narrow for an efficient GEMM).
    public static func bandRows(k: Int, g: WindowGeometry, budget: Int) -> Int? {
        let rows = max(budget / max(k * g.outW, 1), (1024 + g.outW - 1) / g.outW)
        return k * g.outW * rows <= 4 * budget && rows < g.outH ? rows : nil
    }

    public static func chunkSize(n: Int, rows: Int, p: Int, budget: Int) -> Int {
        max(1, min(n, budget / max(rows * p, 1)))
    }

    /// y = W ⋆ x (+ bias): every element of `y` is written. With a bias, C starts as the bias rows and the
    /// GEMM accumulates (beta 1), which saves a separate pass over the output.
    /// Per output channel o: y ← y·scale[o] + shift[o], then max(·, 0) when `relu` (a BN at inference and its ReLU).
    public struct Epilogue {
        let scale: [Float], shift: [Float], relu: Bool

        public init(scale: [Float], shift: [Float], relu: Bool) { self.scale = scale; self.shift = shift; self.relu = relu }

        /// Applies channel `o`'s epilogue to `count` values from `src` into `dst` (which may be `src`).
        @inline(__always) func apply(_ src: UnsafePointer<Float>, _ dst: UnsafeMutablePointer<Float>, count: Int, channel o: Int) {
            if relu { EmovoxKernels.relu(src, dst, count: count, scale: scale[o], shift: shift[o]); return }
            let a = scale[o], b = shift[o]
            for q in 0..<count { dst[q] = src[q] * a + b }
        }
    }

    /// `epilogue`: applied to each block of output as soon as its GEMM has written it (inference).
    public static func gemmForward(x: [Float], w: [Float], bias: [Float]? = nil, y: inout [Float], n: Int, cin: Int, cout: Int,
                            groups: Int, g: WindowGeometry, pointwise: Bool, epilogue: Epilogue? = nil, tuning: ConvTuning) {
        let cg = cin / groups, og = cout / groups, k = cg * g.kh * g.kw, p = g.outH * g.outW
        let inPlane = g.inH * g.inW
        // Few-row column matrices (first layers) go one sample at a time in cache-sized bands instead of chunks.
        let banded = !pointwise && bandRows(k: k, g: g, budget: tuning.bandBudget) != nil
        let nb = banded ? 1 : chunkSize(n: n, rows: k, p: p, budget: tuning.columnBudget)
        let colsNeeded = (nb == 1 && (pointwise || banded)) ? 0 : k * nb * p
        var cols = [Float](unsafeUninitializedCapacity: colsNeeded) { _, c in c = colsNeeded }
        var ybuf = [Float](unsafeUninitializedCapacity: nb > 1 ? og * nb * p : 0) { _, c in c = nb > 1 ? og * nb * p : 0 }
        let beta: Float = bias == nil ? 0 : 1
        /// Rows [o0, o0 + og) of C (row stride ld, `count` columns each) start as the bias of those channels.
        func seed(_ c: UnsafeMutablePointer<Float>, o0: Int, ld: Int, count: Int) {
            guard let bias else { return }
            for o in 0..<og { (c + o * ld).update(repeating: bias[o0 + o], count: count) }
        }
        x.withUnsafeBufferPointer { xp in w.withUnsafeBufferPointer { wp in y.withUnsafeMutableBufferPointer { yp in
        cols.withUnsafeMutableBufferPointer { cp in ybuf.withUnsafeMutableBufferPointer { bp in
            var n0 = 0
            while n0 < n {
                let cnt = min(nb, n - n0)
                for gi in 0..<groups {
                    let wg = wp.baseAddress! + gi * og * k
                    if cnt == 1, !pointwise, let rows = bandRows(k: k, g: g, budget: tuning.bandBudget) {
                        let xs = xp.baseAddress! + (n0 * cin + gi * cg) * inPlane
                        let c = yp.baseAddress! + (n0 * cout + gi * og) * p
                        seed(c, o0: gi * og, ld: p, count: p)
                        forEachColumnBand(xs, cg: cg, k: k, g: g, rows: rows) { _, oh0, q, cols in
                            sgemm(m: og, n: q, k: k, a: wg, lda: k, b: cols, ldb: q, beta: beta, c: c + oh0 * g.outW, ldc: p)
                            if let epilogue {
                                for o in 0..<og { let r = c + o * p + oh0 * g.outW; epilogue.apply(r, r, count: q, channel: gi * og + o) }
                            }
                        }
                    } else if cnt == 1 {
                        let xs = xp.baseAddress! + (n0 * cin + gi * cg) * inPlane
                        let src: UnsafePointer<Float>
                        if pointwise { src = xs } else {
                            im2col(xs, cg: cg, g: g, cols: cp.baseAddress!, ld: p, col0: 0)
                            src = UnsafePointer(cp.baseAddress!)
                        }
                        let c = yp.baseAddress! + (n0 * cout + gi * og) * p
                        seed(c, o0: gi * og, ld: p, count: p)
                        sgemm(m: og, n: p, k: k, a: wg, lda: k, b: src, ldb: p, beta: beta, c: c, ldc: p)
                        if let epilogue {
                            Threads.parallelFor(og) { r in for o in r { epilogue.apply(c + o * p, c + o * p, count: p, channel: gi * og + o) } }
                        }
                    } else {
                        let ld = cnt * p
                        for s in 0..<cnt {
                            im2col(xp.baseAddress! + ((n0 + s) * cin + gi * cg) * inPlane, cg: cg, g: g,
                                   cols: cp.baseAddress!, ld: ld, col0: s * p)
                        }
                        seed(bp.baseAddress!, o0: gi * og, ld: ld, count: ld)
                        sgemm(m: og, n: ld, k: k, a: wg, lda: k, b: cp.baseAddress!, ldb: ld, beta: beta, c: bp.baseAddress!, ldc: ld)
                        for s in 0..<cnt { for o in 0..<og {
                            let dst = yp.baseAddress! + ((n0 + s) * cout + gi * og + o) * p, src = bp.baseAddress! + o * ld + s * p
                            if let epilogue { epilogue.apply(src, dst, count: p, channel: gi * og + o) } else { dst.update(from: src, count: p) }
                        } }
                    }
                }
                n0 += cnt
            }
        } } } } }
    }

    public static func gemmBackward(x: [Float], w: [Float], dy: [Float], dx: inout [Float], dw: inout [Float],
                             n: Int, cin: Int, cout: Int, groups: Int, g: WindowGeometry, pointwise: Bool, inputGradient: Bool = true,
                             tuning: ConvTuning) {
        let cg = cin / groups, og = cout / groups, k = cg * g.kh * g.kw, p = g.outH * g.outW
        let inPlane = g.inH * g.inW
        let nb = chunkSize(n: n, rows: k, p: p, budget: tuning.columnBudget)
        // A first layer's weight gradient goes in bands (its own buffers) and nobody needs its input gradient.
        let bandedOnly = nb == 1 && !pointwise && !inputGradient && bandRows(k: k, g: g, budget: tuning.bandBudget) != nil
        var cols = [Float](repeating: 0, count: bandedOnly ? 0 : k * nb * p)
        var dybuf = [Float](repeating: 0, count: nb > 1 ? og * nb * p : 0)
        x.withUnsafeBufferPointer { xp in w.withUnsafeBufferPointer { wp in dy.withUnsafeBufferPointer { dyp in
        dx.withUnsafeMutableBufferPointer { dxp in dw.withUnsafeMutableBufferPointer { dwp in
        cols.withUnsafeMutableBufferPointer { cp in dybuf.withUnsafeMutableBufferPointer { bp in
            var n0 = 0
            while n0 < n {
                let cnt = min(nb, n - n0)
                let ld = cnt * p
                for gi in 0..<groups {
                    // Gradient rows of this group as one [og, cnt·p] matrix.
                    let dyg: UnsafePointer<Float>
                    if cnt == 1 { dyg = dyp.baseAddress! + (n0 * cout + gi * og) * p } else {
                        for s in 0..<cnt { for o in 0..<og {
                            (bp.baseAddress! + o * ld + s * p).update(from: dyp.baseAddress! + ((n0 + s) * cout + gi * og + o) * p, count: p)
                        } }
                        dyg = UnsafePointer(bp.baseAddress!)
                    }
                    // dW += dY · colsᵀ
                    if cnt == 1, !pointwise, let rows = bandRows(k: k, g: g, budget: tuning.bandBudget) {
                        bandedWeightGradient(x: xp.baseAddress! + (n0 * cin + gi * cg) * inPlane, cg: cg, dy: dyg, og: og, k: k, g: g,
                                             rows: rows, dw: dwp.baseAddress! + gi * og * k)
                    } else {
                        let colsIn: UnsafePointer<Float>
                        if pointwise && cnt == 1 { colsIn = xp.baseAddress! + (n0 * cin + gi * cg) * inPlane } else {
                            for s in 0..<cnt {
                                let xs = xp.baseAddress! + ((n0 + s) * cin + gi * cg) * inPlane
                                if pointwise {
                                    for c in 0..<cg { (cp.baseAddress! + c * ld + s * p).update(from: xs + c * inPlane, count: p) }
                                } else {
                                    im2col(xs, cg: cg, g: g, cols: cp.baseAddress!, ld: ld, col0: s * p)
                                }
                            }
                            colsIn = UnsafePointer(cp.baseAddress!)
                        }
                        sgemm(transB: true, m: og, n: k, k: ld, a: dyg, lda: ld, b: colsIn, ldb: ld,
                              beta: 1, c: dwp.baseAddress! + gi * og * k, ldc: k)
                    }
                    // dCols = Wᵀ · dY, then scatter back to the image.
                    if !inputGradient { continue }
                    if pointwise && cnt == 1 {
                        sgemm(transA: true, m: k, n: p, k: og, a: wp.baseAddress! + gi * og * k, lda: k, b: dyg, ldb: p,
                              beta: 1, c: dxp.baseAddress! + (n0 * cin + gi * cg) * inPlane, ldc: p)
                        continue
                    }
                    sgemm(transA: true, m: k, n: ld, k: og, a: wp.baseAddress! + gi * og * k, lda: k, b: dyg, ldb: ld,
                          c: cp.baseAddress!, ldc: ld)
                    for s in 0..<cnt {
                        let dxs = dxp.baseAddress! + ((n0 + s) * cin + gi * cg) * inPlane
                        if pointwise {
                            for c in 0..<cg {
                                let dst = dxs + c * inPlane, src = cp.baseAddress! + c * ld + s * p
                                for q in 0..<p { dst[q] += src[q] }
                            }
                        } else {
                            col2im(cp.baseAddress!, ld: ld, col0: s * p, cg: cg, g: g, dx: dxs)
                        }
                    }
                }
                n0 += cnt
            }
        } } } } } } }
    }

    /// Bands of `rows` output rows of one sample, handed out to the threads: each thread copies a band's windows into
    /// its own cache-sized buffer and calls `body(band, first output row, columns, buffer)` (kernels inside run on
    /// that thread).
    static func forEachColumnBand(_ x: UnsafePointer<Float>, cg: Int, k: Int, g: WindowGeometry, rows: Int,
                                  _ body: (Int, Int, Int, UnsafeMutablePointer<Float>) -> Void) {
        Threads.parallelFor((g.outH + rows - 1) / rows) { range in
            Threads.serially {
                withUnsafeTemporaryAllocation(of: Float.self, capacity: k * rows * g.outW) { buffer in
                    for b in range {
                        let oh0 = b * rows, oh1 = min(g.outH, oh0 + rows), q = (oh1 - oh0) * g.outW
                        im2col(x, cg: cg, g: g, cols: buffer.baseAddress!, ld: q, col0: 0, outRows: oh0..<oh1)
                        body(b, oh0, q, buffer.baseAddress!)
                    }
                }
            }
        }
    }

    /// dw += dY · colsᵀ for one sample whose column matrix has few rows (a first layer: K = 49, 32 × 49 over 25k
    /// output positions), where sgemm alone cannot split the product (C too small) and runs on one thread. The
    /// output rows go in bands fixed by the geometry (`bandRows`), each copied into a cache-sized buffer and
    /// multiplied into its own partial; the partials are added in band order, so dw is bitwise the same for any
    /// thread count.
    static func bandedWeightGradient(x: UnsafePointer<Float>, cg: Int, dy: UnsafePointer<Float>, og: Int, k: Int, g: WindowGeometry,
                                     rows: Int, dw: UnsafeMutablePointer<Float>) {
        let p = g.outH * g.outW, bands = (g.outH + rows - 1) / rows, size = og * k
        withUnsafeTemporaryAllocation(of: Float.self, capacity: bands * size) { partials in
            let parts = partials.baseAddress!
            forEachColumnBand(x, cg: cg, k: k, g: g, rows: rows) { b, oh0, q, cols in
                sgemm(transB: true, m: og, n: k, k: q, a: dy + oh0 * g.outW, lda: p, b: cols, ldb: q, c: parts + b * size, ldc: k)
            }
            for b in 0..<bands {
                let src = parts + b * size
                for i in 0..<size { dw[i] += src[i] }
            }
        }
    }

    /// Depthwise conv with horizontal stride 1. Each plane is first copied into a zero-bordered scratch, so
    /// every window is inside it; then eight outputs of a row accumulate all taps in registers and are stored
    /// once with the bias. A row's last block overlaps the previous one instead of falling back to scalars.
    public static func depthwiseStride1(_ x: UnsafePointer<Float>, _ w: UnsafePointer<Float>, bias: [Float]?,
                                 _ y: UnsafeMutablePointer<Float>, n: Int, c: Int, g: WindowGeometry) {
        let inPlane = g.inH * g.inW, outPlane = g.outH * g.outW, kk = g.kh * g.kw
        let pw = g.outW + g.kw - 1, ph = (g.outH - 1) * g.sh + g.kh
        Threads.parallelFor(n * c) { range in
            withUnsafeTemporaryAllocation(of: SIMD4<Float>.self, capacity: kk) { tapBuffer in
            withUnsafeTemporaryAllocation(of: Float.self, capacity: pw * ph) { scratch in
                let pad = scratch.baseAddress!, taps = tapBuffer.baseAddress!
                pad.initialize(repeating: 0, count: pw * ph)
                for nc in range {
                    let ch = nc % c, src = x + nc * inPlane, dst = y + nc * outPlane, ker = w + ch * kk
                    let b0 = bias?[ch] ?? 0
                    // Taps pre-broadcast once per plane: the inner loop multiplies straight from memory.
                    for t in 0..<kk { taps[t] = SIMD4(repeating: ker[t]) }
                    // Interior copy; the border stays zero (rows/columns beyond the image are never written).
                    for r in 0..<ph {
                        let ih = r - g.padTop
                        guard ih >= 0 && ih < g.inH else { continue }
                        let lo = max(0, -g.padLeft), hi = min(g.inW, pw - g.padLeft)
                        if hi > lo { (pad + r * pw + g.padLeft + lo).update(from: src + ih * g.inW + lo, count: hi - lo) }
                    }
                    for oh in 0..<g.outH {
                        let top = pad + oh * g.sh * pw, d = dst + oh * g.outW
                        // SIMD4 is one SSE register: Swift's SIMD8<Float> on a baseline x86-64 build comes out
                        // half scalar, so a block of eight outputs is two explicit SIMD4 halves.
                        @inline(__always) func load(_ p: UnsafeMutablePointer<Float>) -> SIMD4<Float> {
                            UnsafeRawPointer(p).loadUnaligned(as: SIMD4<Float>.self)
                        }
                        @inline(__always) func block(_ ow: Int) {
                            var lo = SIMD4<Float>(repeating: b0), hi = lo
                            if g.kh == 3 && g.kw == 3 {
                                // Xception's only size, unrolled into independent row sums: a single running sum
                                // would chain nine dependent adds per output vector.
                                @inline(__always) func row3(_ r: UnsafeMutablePointer<Float>, _ t: Int) -> SIMD4<Float> {
                                    load(r) * taps[t] + load(r + 1) * taps[t + 1] + load(r + 2) * taps[t + 2]
                                }
                                let r0 = top + ow, r1 = r0 + pw, r2 = r1 + pw
                                lo += (row3(r0, 0) + row3(r1, 3)) + row3(r2, 6)
                                hi += (row3(r0 + 4, 0) + row3(r1 + 4, 3)) + row3(r2 + 4, 6)
                                UnsafeMutableRawPointer(d + ow).storeBytes(of: lo, as: SIMD4<Float>.self)
                                UnsafeMutableRawPointer(d + ow + 4).storeBytes(of: hi, as: SIMD4<Float>.self)
                                return
                            }
                            for i in 0..<g.kh {
                                let row = top + i * pw + ow
                                for j in 0..<g.kw {
                                    let t = taps[i * g.kw + j]
                                    lo += load(row + j) * t
                                    hi += load(row + j + 4) * t
                                }
                            }
                            UnsafeMutableRawPointer(d + ow).storeBytes(of: lo, as: SIMD4<Float>.self)
                            UnsafeMutableRawPointer(d + ow + 4).storeBytes(of: hi, as: SIMD4<Float>.self)
                        }
                        if g.outW < 8 {
                            for ow in 0..<g.outW {
                                var acc = b0
                                for i in 0..<g.kh { for j in 0..<g.kw { acc += top[i * pw + ow + j] * ker[i * g.kw + j] } }
                                d[ow] = acc
                            }
                            continue
                        }
                        var ow = 0
                        while ow + 8 <= g.outW { block(ow); ow += 8 }
                        if ow < g.outW { block(g.outW - 8) }
                    }
                }
            }
            }
        }
    }

    public static func depthwiseForward(x: [Float], w: [Float], y: inout [Float], n: Int, c: Int, g: WindowGeometry) {
        let inPlane = g.inH * g.inW, outPlane = g.outH * g.outW, kk = g.kh * g.kw
        // Loop order tap-by-tap over whole output rows: the valid column range of each tap is computed once,
        // so the inner loop is a bounds-free multiply-add over contiguous memory that the compiler vectorises.
        let colRange: [(lo: Int, hi: Int)] = (0..<g.kw).map { j in
            let off = j - g.padLeft
            let lo = off >= 0 ? 0 : (-off + g.sw - 1) / g.sw
            let hi = min(g.outW, (g.inW - 1 - off) / g.sw + 1)
            return (lo, max(lo, hi))
        }
        x.withUnsafeBufferPointer { xp in w.withUnsafeBufferPointer { wp in y.withUnsafeMutableBufferPointer { yp in
            Threads.parallelFor(n * c) { range in
                for nc in range {
                    let ch = nc % c
                    let src = xp.baseAddress! + nc * inPlane, dst = yp.baseAddress! + nc * outPlane
                    let ker = wp.baseAddress! + ch * kk
                    for oh in 0..<g.outH {
                        let d = dst + oh * g.outW
                        for i in 0..<g.kh {
                            let ih = oh * g.sh - g.padTop + i
                            if ih < 0 || ih >= g.inH { continue }
                            let row = src + ih * g.inW
                            for j in 0..<g.kw {
                                let k = ker[i * g.kw + j], off = j - g.padLeft
                                let (lo, hi) = colRange[j]
                                if g.sw == 1 {
                                    let s = row + off
                                    for ow in lo..<hi { d[ow] += k * s[ow] }
                                } else {
                                    for ow in lo..<hi { d[ow] += k * row[ow * g.sw + off] }
                                }
                            }
                        }
                    }
                }
            }
        } } }
    }

    public static func depthwiseBackward(x: [Float], w: [Float], dy: [Float], dx: inout [Float], dw: inout [Float],
                                  n: Int, c: Int, g: WindowGeometry) {
        let inPlane = g.inH * g.inW, outPlane = g.outH * g.outW, kk = g.kh * g.kw
        x.withUnsafeBufferPointer { xp in w.withUnsafeBufferPointer { wp in dy.withUnsafeBufferPointer { dyp in
        dx.withUnsafeMutableBufferPointer { dxp in dw.withUnsafeMutableBufferPointer { dwp in
            // Parallel over channels: each thread owns dw[ch] and dx[·, ch], so no two threads write one place.
            Threads.parallelFor(c) { range in
                for ch in range {
                    let ker = wp.baseAddress! + ch * kk, dker = dwp.baseAddress! + ch * kk
                    for s in 0..<n {
                        let nc = s * c + ch
                        let src = xp.baseAddress! + nc * inPlane, dsrc = dxp.baseAddress! + nc * inPlane
                        let grad = dyp.baseAddress! + nc * outPlane
                        if g.sh == 1 && g.sw == 1 {
                            depthwiseBackwardStride1Plane(src: src, ker: ker, grad: grad, dsrc: dsrc, dker: dker, g: g)
                            continue
                        }
                        for oh in 0..<g.outH { for ow in 0..<g.outW {
                            let gv = grad[oh * g.outW + ow]
                            if gv == 0 { continue }
                            for i in 0..<g.kh {
                                let ih = oh * g.sh - g.padTop + i
                                if ih < 0 || ih >= g.inH { continue }
                                for j in 0..<g.kw {
                                    let iw = ow * g.sw - g.padLeft + j
                                    if iw >= 0 && iw < g.inW {
                                        dker[i * g.kw + j] += gv * src[ih * g.inW + iw]
                                        dsrc[ih * g.inW + iw] += gv * ker[i * g.kw + j]
                                    }
                                }
                            }
                        } }
                    }
                }
            }
        } } } } }
    }

    /// One plane of a stride-1 depthwise backward, tap by tap over the rows and columns where the tap lands
    /// inside the image: contiguous runs without bounds tests, in SSE vectors (the training-time hot spot of
    /// separable convs; the general loop above tests every tap of every output).
    @inline(__always)
    static func depthwiseBackwardStride1Plane(src: UnsafePointer<Float>, ker: UnsafePointer<Float>, grad: UnsafePointer<Float>,
                                              dsrc: UnsafeMutablePointer<Float>, dker: UnsafeMutablePointer<Float>, g: WindowGeometry) {
        for i in 0..<g.kh {
            let ohLo = max(0, g.padTop - i), ohHi = min(g.outH, g.inH + g.padTop - i)
            for j in 0..<g.kw {
                let owLo = max(0, g.padLeft - j), owHi = min(g.outW, g.inW + g.padLeft - j)
                guard ohHi > ohLo && owHi > owLo else { continue }
                let k = ker[i * g.kw + j], k4 = SIMD4<Float>(repeating: k)
                var acc4 = SIMD4<Float>(repeating: 0), acc: Float = 0
                for oh in ohLo..<ohHi {
                    let gr = grad + oh * g.outW, off = (oh - g.padTop + i) * g.inW - g.padLeft + j
                    let xr = src + off, dxr = dsrc + off
                    var ow = owLo
                    while ow + 4 <= owHi {
                        let gv = UnsafeRawPointer(gr + ow).loadUnaligned(as: SIMD4<Float>.self)
                        let xv = UnsafeRawPointer(xr + ow).loadUnaligned(as: SIMD4<Float>.self)
                        acc4 += gv * xv
                        let d = UnsafeRawPointer(dxr + ow).loadUnaligned(as: SIMD4<Float>.self) + gv * k4
                        UnsafeMutableRawPointer(dxr + ow).storeBytes(of: d, as: SIMD4<Float>.self)
                        ow += 4
                    }
                    while ow < owHi { acc += gr[ow] * xr[ow]; dxr[ow] += gr[ow] * k; ow += 1 }
                }
                dker[i * g.kw + j] += acc + acc4.sum()
            }
        }
    }

    public static func addChannelBias(_ y: inout [Float], _ b: [Float], n: Int, c: Int, plane: Int) {
        y.withUnsafeMutableBufferPointer { yp in b.withUnsafeBufferPointer { bp in
            Threads.parallelFor(n * c, minChunk: max(1, 4096 / max(plane, 1))) { range in
                for nc in range {
                    let v = bp[nc % c], row = yp.baseAddress! + nc * plane
                    for q in 0..<plane { row[q] += v }
                }
            }
        } }
    }

    public static func accumulateChannelSums(_ dy: [Float], into g: inout [Float], n: Int, c: Int, plane: Int) {
        dy.withUnsafeBufferPointer { dp in
            for s in 0..<n { for ch in 0..<c {
                let row = dp.baseAddress! + (s * c + ch) * plane
                var acc: Float = 0
                for q in 0..<plane { acc += row[q] }
                g[ch] += acc
            } }
        }
    }
}
