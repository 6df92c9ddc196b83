import Foundation
import CConvKernels

/// A feature map of one image in the blocked layout of CConvKernels/cblocked_kernels.h: channels last, `stride`
/// floats per pixel, a one-pixel zero border, and slack for micro-kernel tiles that read past the last row. Small
/// graphs (fer's face teacher) keep every map in this layout from the first conv to the global pooling: no
/// transposes, no im2col.
public struct BlockedMap: Equatable, Sendable {
    public let channels, h, w: Int
    /// Floats per pixel: the channels rounded up to 8 (the kernels' vectors). A map read only by `BlockedKernels.conv`
    /// (a grey input image) may be packed tighter, down to `channels`.
    public let stride: Int

    public init(channels: Int, h: Int, w: Int, stride: Int? = nil) {
        self.channels = channels; self.h = h; self.w = w
        self.stride = stride ?? Int(cblk_pixel_stride(Int32(channels)))
        precondition(self.stride >= channels, "a blocked map needs at least one float per channel")
    }
    /// Floats of the buffer, border and slack included.
    public var floats: Int { Int(cblk_map_floats(Int32(h), Int32(w), Int32(stride))) }
}

/// A conv's weights and bias packed for the blocked kernels: [taps][cin][cso] with cso = the output map's stride,
/// zero past `cout` so the padding channels of the output stay zero.
public struct BlockedConvWeights: Sendable {
    public let cin, cout, kh, kw: Int
    let packed: [Float], bias: [Float]

    /// `w` [cout][cin][kh][kw] (PyTorch layout), `bias` [cout] or nil.
    public init(_ w: [Float], bias: [Float]?, cout: Int, cin: Int, kh: Int, kw: Int) {
        precondition(w.count == cout * cin * kh * kw && (bias?.count ?? cout) == cout, "conv weights do not fit their shape")
        self.cin = cin; self.cout = cout; self.kh = kh; self.kw = kw
        let cso = Int(cblk_pixel_stride(Int32(cout)))
        packed = [Float](unsafeUninitializedCapacity: kh * kw * cin * cso) { buf, n in
            cblk_pack_conv(w, Int32(cout), Int32(cin), Int32(kh), Int32(kw), Int32(cso), buf.baseAddress!)
            n = kh * kw * cin * cso
        }
        self.bias = (bias ?? [Float](repeating: 0, count: cout)) + [Float](repeating: 0, count: cso - cout)
    }
}

/// Depthwise 3×3 weights [c][1][3][3] (+ an optional bias) packed as [9][stride].
public struct BlockedDepthwiseWeights: Sendable {
    public let channels: Int
    let packed: [Float], bias: [Float]?

    public init(_ w: [Float], bias: [Float]?, channels: Int) {
        precondition(w.count == channels * 9 && (bias?.count ?? channels) == channels, "depthwise weights do not fit their shape")
        self.channels = channels
        let cs = Int(cblk_pixel_stride(Int32(channels)))
        packed = [Float](unsafeUninitializedCapacity: 9 * cs) { buf, n in
            cblk_pack_depthwise(w, Int32(channels), Int32(cs), buf.baseAddress!); n = 9 * cs
        }
        self.bias = bias.map { $0 + [Float](repeating: 0, count: cs - channels) }
    }
}

/// The blocked-layout kernels. Output rows may be split over threads (`Threads.available`): every output is summed
/// in one order whatever the split or the SIMD level's tile sizes, so results do not depend on the thread count.
public enum BlockedKernels {
    /// Multiply-adds below which a step runs on the calling thread. One image through fer's teacher on 2 threads
    /// measured 313 µs with steps from 2^18 split, 277 µs on one thread (a loaded machine: the other core was busy);
    /// at 2^20 only the five steps of over a million multiply-adds split (about even there).
    static let minParallelWork = 1 << 20

    /// `body(rows)` over `0..<rows`, split over the available threads when the step has `work` multiply-adds to share.
    static func splitRows(_ rows: Int, work: Int, _ body: (Range<Int>) -> Void) {
        let chunks = min(Threads.available, rows, max(1, work / minParallelWork))
        if chunks <= 1 { body(0..<rows); return }
        DispatchQueue.concurrentPerform(iterations: chunks) { c in body(rows * c / chunks..<rows * (c + 1) / chunks) }
    }

    /// Planes [c][h][w] into the interior of a zero-bordered map, and back.
    public static func fromPlanes(_ x: UnsafePointer<Float>, _ m: BlockedMap, into y: UnsafeMutablePointer<Float>) {
        cblk_from_planes(x, Int32(m.channels), Int32(m.h), Int32(m.w), Int32(m.stride), y)
    }

    public static func toPlanes(_ x: UnsafePointer<Float>, _ m: BlockedMap, into y: UnsafeMutablePointer<Float>) {
        cblk_to_planes(x, Int32(m.channels), Int32(m.h), Int32(m.w), Int32(m.stride), y)
    }

    /// Whether the blocked conv runs this window: padding within the one-pixel border, stride 1 or 2 (the slack).
    public static func convApplies(_ g: WindowGeometry) -> Bool {
        let padBottom = (g.outH - 1) * g.sh + g.kh - g.inH - g.padTop, padRight = (g.outW - 1) * g.sw + g.kw - g.inW - g.padLeft
        return [g.padTop, g.padLeft, padBottom, padRight].allSatisfy { $0 <= 1 } && g.sh <= 2 && g.sw <= 2 && g.kh <= 16 && g.kw <= 16
    }

    /// y = conv(x) + bias, then ReLU when `relu`.
    public static func conv(_ x: UnsafePointer<Float>, _ xm: BlockedMap, _ wts: BlockedConvWeights, _ g: WindowGeometry, relu: Bool,
                            _ y: UnsafeMutablePointer<Float>, _ ym: BlockedMap, level: ConvSIMDLevel = .best) {
        precondition(xm.channels == wts.cin && ym.channels == wts.cout && ym.stride == wts.bias.count && g.kh == wts.kh && g.kw == wts.kw && convApplies(g)
                     && g.outH == ym.h && g.outW == ym.w, "blocked conv: maps and weights do not fit")
        wts.packed.withUnsafeBufferPointer { wp in wts.bias.withUnsafeBufferPointer { bp in
            splitRows(ym.h, work: ym.h * ym.w * ym.stride * wts.cin * wts.kh * wts.kw) { rows in
                cblk_conv(level.rawValue, x, Int32(xm.h), Int32(xm.w), Int32(xm.stride), Int32(xm.channels), Int32(g.kh), Int32(g.kw),
                          Int32(g.sh), Int32(g.sw), Int32(g.padTop), Int32(g.padLeft), wp.baseAddress!, bp.baseAddress!, relu ? 1 : 0,
                          y, Int32(ym.h), Int32(ym.w), Int32(ym.stride), Int32(rows.lowerBound), Int32(rows.upperBound))
            }
        } }
    }

    /// The fused separable block: depthwise 3×3 'same' stride 1 (+ its bias), pointwise 1×1 + bias, ReLU when `relu`,
    /// in tiles of rows whose depthwise output stays in cache (cblk_separable).
    public static func separable(_ x: UnsafePointer<Float>, _ xm: BlockedMap, depthwise: BlockedDepthwiseWeights,
                                 pointwise: BlockedConvWeights, relu: Bool, _ y: UnsafeMutablePointer<Float>, _ ym: BlockedMap,
                                 level: ConvSIMDLevel = .best) {
        precondition(xm.channels == depthwise.channels && xm.channels == pointwise.cin && ym.channels == pointwise.cout
                     && pointwise.kh == 1 && pointwise.kw == 1 && xm.stride == depthwise.packed.count / 9 && ym.stride == pointwise.bias.count && xm.h == ym.h && xm.w == ym.w,
                     "blocked separable: maps and weights do not fit")
        let scratch = Int(cblk_separable_scratch_floats(Int32(xm.w), Int32(xm.stride)))
        depthwise.packed.withUnsafeBufferPointer { dp in pointwise.packed.withUnsafeBufferPointer { pp in pointwise.bias.withUnsafeBufferPointer { bp in
            let db = depthwise.bias
            splitRows(ym.h, work: ym.h * ym.w * (ym.stride * pointwise.cin + 9 * xm.stride)) { rows in
                ConvKernels.withScratch(scratch) { s in
                    let run = { (dbp: UnsafePointer<Float>?) in
                        cblk_separable(level.rawValue, x, Int32(xm.h), Int32(xm.w), Int32(xm.stride), Int32(xm.channels), dp.baseAddress!, dbp,
                                       pp.baseAddress!, bp.baseAddress!, relu ? 1 : 0, y, Int32(ym.stride),
                                       Int32(rows.lowerBound), Int32(rows.upperBound), s)
                    }
                    if let db { db.withUnsafeBufferPointer { run($0.baseAddress!) } } else { run(nil) }
                }
            }
        } } }
    }

    /// y = max pool(x), or y += max pool(x) when `accumulate` (a residual Add fused into the pool).
    public static func maxPool(_ x: UnsafePointer<Float>, _ xm: BlockedMap, _ g: WindowGeometry, accumulate: Bool,
                               _ y: UnsafeMutablePointer<Float>, _ ym: BlockedMap, level: ConvSIMDLevel = .best) {
        precondition(xm.channels == ym.channels && xm.stride == ym.stride && g.outH == ym.h && g.outW == ym.w && g.inH == xm.h && g.inW == xm.w,
                     "blocked max pool: maps do not fit")
        ConvKernels.withScratch(xm.w * xm.stride) { row in
            cblk_maxpool(level.rawValue, x, Int32(xm.h), Int32(xm.w), Int32(xm.stride), Int32(g.kh), Int32(g.kw), Int32(g.sh), Int32(g.sw),
                         Int32(g.padTop), Int32(g.padLeft), y, Int32(ym.h), Int32(ym.w), accumulate ? 1 : 0, 0, Int32(ym.h), row)
        }
    }

    /// y += x and y = max(y, 0) over whole maps (the border stays zero).
    public static func add(_ y: UnsafeMutablePointer<Float>, _ x: UnsafePointer<Float>, _ m: BlockedMap) { cblk_add(y, x, m.floats) }
    public static func relu(_ y: UnsafeMutablePointer<Float>, _ m: BlockedMap) { cblk_relu(y, m.floats) }

    /// Mean of each channel over the map.
    public static func globalAverage(_ x: UnsafePointer<Float>, _ m: BlockedMap, into out: UnsafeMutablePointer<Float>) {
        cblk_global_average(x, Int32(m.h), Int32(m.w), Int32(m.stride), Int32(m.channels), out)
    }
}
