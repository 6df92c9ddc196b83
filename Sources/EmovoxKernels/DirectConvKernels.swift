import Foundation
import CConvKernels

/// Instruction set of the direct conv kernels (CConvKernels compiles each kernel for all three and picks one at
/// run time). `plain` is the reference the others are tested against.
public enum ConvSIMDLevel: Int32, CaseIterable, Sendable, CustomStringConvertible {
    case plain = 0, avx2 = 1, avx512 = 2

    /// The widest level this CPU runs.
    public static let best = ConvSIMDLevel(rawValue: cconv_best_level()) ?? .plain
    public var isSupported: Bool { rawValue <= Self.best.rawValue }
    public var description: String { ["plain", "avx2+fma", "avx512f"][Int(rawValue)] }
}

extension ConvKernels {
    /// The FP32 FMA rate of `threads` threads running independent FMA chains at the best level at once (GFLOP/s, best
    /// of `rounds`; 0 without AVX2): the measured peak the bench compares conv kernels with.
    public static func fmaPeakGFLOPS(threads: Int, rounds: Int = 5) -> Double {
        var best = 0.0
        for _ in 0..<rounds {
            var rates = [Double](repeating: 0, count: threads)
            rates.withUnsafeMutableBufferPointer { r in
                let out = r.baseAddress!
                Threads.withCount(threads) {
                    Threads.parallelFor(threads) { range in for t in range { out[t] = cconv_fma_peak_gflops(ConvSIMDLevel.best.rawValue, 5_000_000) } }
                }
            }
            best = max(best, rates.reduce(0, +))
        }
        return best
    }
}

/// Which conv algorithm a layer runs (a ConvTuning field, so a test or the bench can force either).
public enum DirectConvChoice: String, Equatable, Sendable, CaseIterable {
    /// The direct 3×3 kernels where `ConvKernels.directWins` (the table of measured shapes) says they beat im2col + sgemm.
    case measured
    /// Always im2col + sgemm (the path before the direct kernels).
    case im2col
    /// The direct kernels wherever they apply (3×3, stride 1, pad 1, one group; the forward of 5×5 and 7×7 stride 2).
    case direct
    /// Winograd F(2×2, 3×3) (forward, input gradient, weight gradient) wherever the direct 3×3 kernels apply (5×5
    /// stride 2: the direct kernel, as under every choice but `.im2col` and `.measured`).
    case winograd
    /// Winograd F(4×4, 3×3) for the forward and input gradient (partial tiles where h or w is not a multiple of 4),
    /// F(2×2, 3×3) for the weight gradient.
    case winograd4
}

/// The algorithm one conv layer runs at one input shape.
public enum ConvPath: String, Sendable {
    case im2col, direct, winograd, winograd4
}

/// Which pass a conv's path is chosen for: `.measured` may pick another algorithm for inference (no backward to
/// match, and numerics that only move predictions within the kernels' error bound) than for training, whose
/// numerics are the published learning results.
public enum ConvPass: Sendable {
    case training, inference
}

extension ConvKernels {
    /// The direct kernels' geometry: a 3×3 window, stride 1, one pixel of padding on every side, one group.
    public static func directApplies(g: WindowGeometry, groups: Int) -> Bool {
        groups == 1 && g.kh == 3 && g.kw == 3 && g.sh == 1 && g.sw == 1 && g.padTop == 1 && g.padLeft == 1
            && g.outH == g.inH && g.outW == g.inW
    }

    /// Layer shapes [cin, cout, h, w] measured faster end to end off im2col (docs/performance-conv.md), and the
    /// path each takes. Every conv of `vgg-fer`, `vgg13-fer` and `vgg13-fer-wide` after the first runs Winograd:
    /// F(2×2, 3×3) in all three passes is 1.4–2.3× the direct kernels' rate one core (they sit at the FMA peak) and
    /// made the whole step 1.43× / 1.58× / 1.72× the direct path (medians of two rounds); F(4×4, 3×3) for the
    /// forward and input gradient (`.winograd4`) measured faster again at the 48×48, 24×24 and 12×12 layers (one core
    /// 300–404 against 185–247 GFLOP/s; in the step's per-layer profile) except 256→256 at 12×12, where its 9 MB of
    /// transformed weights per 12-tile block made the input gradient slower in the step. The 6×6 maps keep F(2×2, 3×3)
    /// tiles. The direct kernels had replaced im2col at these shapes (1.18–1.20× the step) and remain the `.direct`
    /// choice. The students' conv3–5 at their training crop (`vggm-small` 15×23, `vggm` 30×23; F(2×2, 3×3) here,
    /// F(4×4, 3×3) for inference: `measuredInferencePaths`) train 1.13–1.41× and infer 1.26–1.55× faster on Winograd than on im2col
    /// (`emovox bench --only students --conv winograd|im2col`, two alternations under load; docs/performance-conv.md,
    /// "Students"). Not in the table, so still im2col + sgemm: the grey first layer (K = 9: neither kernel's
    /// transforms pay for 18 flops per output) and shapes not measured (e.g. a student on other crop lengths).
    /// A shape joins once measured.
    public static let measuredConvPaths: [[Int]: ConvPath] = [
        [32, 32, 48, 48]: .winograd4, [32, 64, 24, 24]: .winograd4, [64, 64, 24, 24]: .winograd4, [64, 128, 12, 12]: .winograd4,
        [128, 128, 12, 12]: .winograd4, [128, 256, 6, 6]: .winograd, [256, 256, 6, 6]: .winograd,
        [64, 64, 48, 48]: .winograd4, [64, 128, 24, 24]: .winograd4, [128, 128, 24, 24]: .winograd4, [128, 256, 12, 12]: .winograd4,
        [256, 256, 12, 12]: .winograd,
        // Students (training crop 4.024 s → 23 columns at conv3–5).
        [64, 96, 15, 23]: .winograd, [96, 96, 15, 23]: .winograd, [96, 64, 15, 23]: .winograd,
        [256, 384, 30, 23]: .winograd, [384, 256, 30, 23]: .winograd, [256, 256, 30, 23]: .winograd,
    ]

    /// Shapes [cin, cout, h, w] whose inference runs another path than `measuredConvPaths` gives training: the
    /// students' conv3–5 at their 400-frame crop on F(4×4, 3×3) with partial tiles (30×23: 8×6 tiles, 15×23: 4×6;
    /// 11 % and 22 % of their outputs past the map). In the students' inference on 2 threads conv3–5 took 0.54–0.81
    /// (`vggm`) and 0.66–0.78 (`vggm-small`) of F(2×2, 3×3)'s time in three alternated pairs; one core 1.2–1.7× its
    /// rate (docs/performance-conv.md, "Students' conv3–5: F(4×4, 3×3) with partial tiles (inference)"). Training
    /// keeps F(2×2, 3×3): its numerics are the published learning results.
    public static let measuredInferencePaths: [[Int]: ConvPath] = [
        [64, 96, 15, 23]: .winograd4, [96, 96, 15, 23]: .winograd4, [96, 64, 15, 23]: .winograd4,
        [256, 384, 30, 23]: .winograd4, [384, 256, 30, 23]: .winograd4, [256, 256, 30, 23]: .winograd4,
    ]

    /// The measured path of a 3×3 stride-1 pad-1 layer shape in `pass` (im2col when not measured).
    public static func measuredPath(cin: Int, cout: Int, h: Int, w: Int, pass: ConvPass = .training) -> ConvPath {
        let shape = [cin, cout, h, w]
        if pass == .inference, let path = measuredInferencePaths[shape] { return path }
        return measuredConvPaths[shape] ?? .im2col
    }

    public static func directWins(cin: Int, cout: Int, h: Int, w: Int) -> Bool {
        measuredPath(cin: cin, cout: cout, h: h, w: w) != .im2col
    }

    /// 5×5 stride-2 layer shapes [cin, cout, h, w] (input size) measured faster on the direct kernel
    /// (`directStride2Forward`) than on im2col + sgemm: the students' conv2 at their 400-frame crop (training and
    /// the bench's inference), `vggm-small` 32→64 at 63×98 and `vggm` 96→256 at 126×98. One core 116–118 and 112–114
    /// GFLOP/s (1.00 and 0.96–0.97 of the FMA peak) against sgemm's 85–99 at the layer's GEMM shape; in the students'
    /// inference on 2 threads conv2 took 0.79–0.88 of im2col's time (three alternated pairs; docs/performance-conv.md,
    /// "conv2: direct 5×5 stride 2"). The input gradient follows the forward's path (equal to im2col's within the
    /// noise); the weight gradient stays on im2col + sgemm. Other lengths stay on im2col until measured.
    public static let measuredStride2Paths: [[Int]: ConvPath] = [
        [32, 64, 63, 98]: .direct, [96, 256, 126, 98]: .direct,
        // conv1 (7×7 stride 2, one input channel; `oneChannelStride2Forward`): `vggm-small` 257×400, `vggm` 512×400.
        // One core 78–80 against im2col's 64–71 GFLOP/s (bench conv rows); conv1's inference in the students' profile
        // 0.38–0.91 of im2col's time in three alternated pairs (docs/performance-conv.md, "conv1: direct 7×7 stride 2").
        [1, 32, 257, 400]: .direct, [1, 96, 512, 400]: .direct,
    ]

    /// 5×5 stride-2 shapes [cin, cout, h, w] whose inference runs `phaseSplitForward` (`.winograd4`: the four stride
    /// phases stacked as channels under a 3×3 Winograd F(4×4, 3×3) conv) instead of the direct kernel: the students'
    /// conv2 at their 400-frame crop (docs/performance-conv.md, "conv2 at inference: stride phases on Winograd").
    /// Training keeps the direct kernel.
    public static let measuredStride2InferencePaths: [[Int]: ConvPath] = [
        [32, 64, 63, 98]: .winograd4, [96, 256, 126, 98]: .winograd4,
    ]

    /// The path a layer runs under `choice` in `pass` (the direct and Winograd kernels only where they apply; only
    /// `.measured` tells the passes apart). A 5×5 stride-2 conv has no Winograd kernel: every choice but `.im2col`
    /// and `.measured` runs it on the direct one.
    public static func convPath(_ choice: DirectConvChoice, g: WindowGeometry, groups: Int, cin: Int, cout: Int,
                                pass: ConvPass = .training) -> ConvPath {
        if directStride2Applies(g: g, groups: groups) {
            switch choice {
            case .im2col: return .im2col
            case .measured:
                let shape = [cin, cout, g.inH, g.inW]
                if pass == .inference, let path = measuredStride2InferencePaths[shape] { return path }
                return measuredStride2Paths[shape] ?? .im2col
            case .direct, .winograd, .winograd4: return .direct
            }
        }
        guard directApplies(g: g, groups: groups) else { return .im2col }
        switch choice {
        case .im2col: return .im2col
        case .direct: return .direct
        case .winograd: return .winograd
        case .winograd4: return .winograd4
        case .measured: return measuredPath(cin: cin, cout: cout, h: g.inH, w: g.inW, pass: pass)
        }
    }

    public static func usesDirect(_ choice: DirectConvChoice, g: WindowGeometry, groups: Int, cin: Int, cout: Int) -> Bool {
        convPath(choice, g: g, groups: groups, cin: cin, cout: cout) != .im2col
    }

    /// `body` over `0..<n` cut into about four blocks per thread, handed out as threads come free: on a shared
    /// machine a slowed thread takes fewer blocks instead of holding up the others at the end. Each item is
    /// computed whole by one thread, so results do not depend on which thread or how many.
    static func forEachBlock(_ n: Int, _ body: (Range<Int>) -> Void) {
        let threads = Threads.available
        if threads <= 1 || n <= 1 { body(0..<n); return }
        let blocks = min(n, 4 * threads)
        Threads.forEachDynamic(blocks) { b in body(n * b / blocks..<n * (b + 1) / blocks) }
    }

    /// Scratch for the C kernels: 64-byte aligned (whole cache lines per vector), uninitialised.
    static func withScratch<R>(_ count: Int, _ body: (UnsafeMutablePointer<Float>) -> R) -> R {
        let raw = UnsafeMutableRawPointer.allocate(byteCount: max(count, 1) * MemoryLayout<Float>.stride, alignment: 64)
        defer { raw.deallocate() }
        return body(raw.bindMemory(to: Float.self, capacity: max(count, 1)))
    }

    /// y = W ⋆ x for a 3×3 stride-1 pad-1 conv, NCHW in and out, then per output channel y·scale + shift and an
    /// optional ReLU (the bias is a shift; a BN at inference is both). Parallel over images, or over blocks of
    /// 32 output channels when there are fewer images than threads; each output is summed in the same order
    /// whatever the split, so results do not depend on the thread count. `path` .winograd / .winograd4: by Winograd.
    public static func direct3x3Forward(x: UnsafePointer<Float>, w: UnsafePointer<Float>, y: UnsafeMutablePointer<Float>,
                                        n: Int, cin: Int, cout: Int, h: Int, w width: Int,
                                        scale: UnsafePointer<Float>? = nil, shift: UnsafePointer<Float>? = nil, relu: Bool = false,
                                        path: ConvPath = .direct, level: ConvSIMDLevel = .best) {
        if path != .direct {
            return winograd3x3Forward(x: x, w: w, y: y, n: n, cin: cin, cout: cout, h: h, w: width, scale: scale, shift: shift,
                                      relu: relu, tile4: usesTile4(path), level: level)
        }
        let csx = Int(cconv3_pad4(Int32(cin))), cpad = Int(cconv3_pad32(Int32(cout)))
        let pixels = Int(cconv3_padded_pixels(Int32(h), Int32(width))), flat = Int(cconv3_flat_pixels(Int32(h), Int32(width)))
        let (c32, h32, w32, ci32, co32, cpad32) = (Int32(csx), Int32(h), Int32(width), Int32(cin), Int32(cout), Int32(cpad))
        let inPlane = cin * h * width, outPlane = cout * h * width
        withScratch(9 * cin * cpad) { wp in
            cconv3_pack_forward(w, co32, ci32, wp)
            directImages(n: n, inputFloats: pixels * csx, outputFloats: flat * cpad, cpad: cpad,
                         layOut: { s, xp in cconv3_pad(x + s * inPlane, ci32, h32, w32, c32, xp) },
                         convolve: { xp, yf, co in
                             cconv3_forward(level.rawValue, xp, c32, ci32, h32, w32, wp, cpad32, Int32(co.lowerBound), Int32(co.upperBound), yf)
                         },
                         writeBack: { s, yf, co in
                             cconv3_unpad(yf, cpad32, co32, Int32(co.lowerBound), Int32(co.upperBound), h32, w32, scale, shift, relu ? 1 : 0,
                                          y + s * outPlane)
                         })
        }
    }

    /// The direct forward kernels' loop over images: `layOut(s, xp)` writes image s in the kernel's layout
    /// (`inputFloats`), `convolve(xp, yf, co)` computes output channels `co` (whole blocks of 32) into the flat output
    /// `yf` (`outputFloats`), `writeBack(s, yf, co)` turns them into planes. Blocks of images over the threads, each with
    /// its own scratch; fewer images than threads: one image at a time, its blocks of 32 output channels split. Every
    /// output is computed whole by one kernel call, so results do not depend on the thread count.
    static func directImages(n: Int, inputFloats: Int, outputFloats: Int, cpad: Int,
                             layOut: (Int, UnsafeMutablePointer<Float>) -> Void,
                             convolve: (UnsafeMutablePointer<Float>, UnsafeMutablePointer<Float>, Range<Int>) -> Void,
                             writeBack: (Int, UnsafeMutablePointer<Float>, Range<Int>) -> Void) {
        if n >= Threads.available {
            forEachBlock(n) { range in
                withScratch(inputFloats) { xp in withScratch(outputFloats) { yf in
                    for s in range { layOut(s, xp); convolve(xp, yf, 0..<cpad); writeBack(s, yf, 0..<cpad) }
                } }
            }
            return
        }
        withScratch(inputFloats) { xp in withScratch(outputFloats) { yf in
            for s in 0..<n {
                layOut(s, xp)
                Threads.parallelFor(cpad / 32) { blocks in
                    let co = blocks.lowerBound * 32..<blocks.upperBound * 32
                    convolve(xp, yf, co); writeBack(s, yf, co)
                }
            }
        } }
    }

    /// The direct 5×5 stride-2 kernel's geometry (the students' conv2): any padding, one group.
    public static func direct5x5Stride2Applies(g: WindowGeometry, groups: Int) -> Bool {
        groups == 1 && g.kh == 5 && g.kw == 5 && g.sh == 2 && g.sw == 2
    }

    /// The direct stride-2 forward's geometry: a 5×5 (conv2) or 7×7 (the students' conv1) window, stride 2, any
    /// padding, one group.
    public static func directStride2Applies(g: WindowGeometry, groups: Int) -> Bool {
        groups == 1 && g.kh == g.kw && (g.kh == 5 || g.kh == 7) && g.sh == 2 && g.sw == 2
    }

    /// y = W ⋆ x for a 5×5 or 7×7 stride-2 conv (`directStride2Applies`; geometry `g`, any padding), NCHW in and out,
    /// then y·scale + shift per output channel and an optional ReLU, as `direct3x3Forward`. Each image is split once
    /// into its four (row, column) phases, channels last (`cconvs2_split`), so the k² taps are constant offsets for the
    /// 3×3 kernels' micro-kernel. 5×5 (conv2) keeps `directImages`' threading; 7×7 on one channel (conv1) runs
    /// `oneChannelStride2Forward`; 7×7 on more channels runs units of a few output rows × one block of 32 channels,
    /// each written back while its flat output is in L2. Every output is the same sum in the same order whatever the
    /// split, so results do not depend on the thread count.
    public static func directStride2Forward(x: UnsafePointer<Float>, w: UnsafePointer<Float>, y: UnsafeMutablePointer<Float>,
                                            n: Int, cin: Int, cout: Int, g: WindowGeometry,
                                            scale: UnsafePointer<Float>? = nil, shift: UnsafePointer<Float>? = nil, relu: Bool = false,
                                            level: ConvSIMDLevel = .best) {
        precondition(directStride2Applies(g: g, groups: 1))
        let k = g.kh, k32 = Int32(g.kh)
        let cs = cin == 1 ? 1 : Int(cconv3_pad4(Int32(cin))), cpad = Int(cconv3_pad32(Int32(cout)))
        let (oh, ow) = (Int32(g.outH), Int32(g.outW))
        let phase = Int(cconvs2_phase_pixels(k32, oh, ow)), flat = Int(cconvs2_flat_pixels(k32, oh, ow))
        let (cs32, ci32, co32, cpad32) = (Int32(cs), Int32(cin), Int32(cout), Int32(cpad))
        let inPlane = cin * g.inH * g.inW, outPlane = cout * g.outH * g.outW
        func split(_ s: Int, _ xs: UnsafeMutablePointer<Float>) {
            cconvs2_split(k32, x + s * inPlane, ci32, Int32(g.inH), Int32(g.inW), Int32(g.padTop), Int32(g.padLeft), oh, ow, cs32, xs)
        }
        if k == 7 && cin == 1 {
            return oneChannelStride2Forward(x: x, w: w, y: y, n: n, cout: cout, g: g, scale: scale, shift: shift, relu: relu, level: level)
        }
        withScratch(k * k * cin * cpad) { wp in
            cconvs2_pack_forward(k32, w, co32, ci32, wp)
            func convolve(_ xs: UnsafeMutablePointer<Float>, _ yf: UnsafeMutablePointer<Float>, rows: Range<Int>, _ co: Range<Int>) {
                cconvs2_forward_rows(level.rawValue, k32, xs, cs32, ci32, oh, ow, Int32(rows.lowerBound), Int32(rows.upperBound), wp, cpad32,
                                     Int32(co.lowerBound), Int32(co.upperBound), yf)
            }
            func writeBack(_ s: Int, _ yf: UnsafeMutablePointer<Float>, rows: Range<Int>, _ co: Range<Int>) {
                cconvs2_unpad_rows(k32, yf, cpad32, co32, Int32(co.lowerBound), Int32(co.upperBound), oh, ow, Int32(rows.lowerBound),
                                  Int32(rows.upperBound), scale, shift, relu ? 1 : 0, y + s * outPlane)
            }
            let blocks = cpad / 32, allRows = 0..<g.outH
            if k == 5 {
                directImages(n: n, inputFloats: 4 * phase * cs, outputFloats: flat * cpad, cpad: cpad, layOut: split,
                             convolve: { xs, yf, co in convolve(xs, yf, rows: allRows, co) },
                             writeBack: { s, yf, co in writeBack(s, yf, rows: allRows, co) })
                return
            }
            // 7×7 on one channel is 49 multiply-adds an output: writing the whole flat output and reading it back cost
            // more than the sums (vggm: 19 MB an image). Units of a few output rows × one block of 32 channels, each
            // written back while its flat output is still in L2.
            let chunk = Int(cconvs2_row_chunk(k32, ow)), pitch = Int(cconvs2_pitch(k32, ow))
            let perRange = chunk * max(1, 1024 / (chunk * pitch)), ranges = (g.outH + perRange - 1) / perRange
            func units(_ s: Int, _ xs: UnsafeMutablePointer<Float>, _ yf: UnsafeMutablePointer<Float>, _ u: Int) {
                let r0 = (u / blocks) * perRange, rows = r0..<min(r0 + perRange, g.outH), co = (u % blocks) * 32..<(u % blocks + 1) * 32
                convolve(xs, yf, rows: rows, co); writeBack(s, yf, rows: rows, co)
            }
            if n >= Threads.available {
                forEachBlock(n) { images in
                    withScratch(4 * phase * cs) { xs in withScratch(flat * cpad) { yf in
                        for s in images { split(s, xs); for u in 0..<ranges * blocks { units(s, xs, yf, u) } }
                    } }
                }
                return
            }
            withScratch(4 * phase * cs) { xs in withScratch(flat * cpad) { yf in
                for s in 0..<n { split(s, xs); Threads.forEachDynamic(ranges * blocks) { u in units(s, xs, yf, u) } }
            } }
        }
    }

    /// `directStride2Forward` on one input channel (the students' conv1, `cconvs2c1_forward_rows`): vectors along
    /// output rows, each tap's weight broadcast, the epilogue in registers and planes written directly (the
    /// channels-last tile's transpose back into planes cost as much as its 49 multiply-adds an output). Images over
    /// the threads, or, fewer images than threads, ranges of 4 output rows handed out as threads come free. Every
    /// output is the same sum in the same order whatever the split.
    static func oneChannelStride2Forward(x: UnsafePointer<Float>, w: UnsafePointer<Float>, y: UnsafeMutablePointer<Float>,
                                         n: Int, cout: Int, g: WindowGeometry, scale: UnsafePointer<Float>?, shift: UnsafePointer<Float>?,
                                         relu: Bool, level: ConvSIMDLevel) {
        let k32 = Int32(g.kh), (oh, ow, co32) = (Int32(g.outH), Int32(g.outW), Int32(cout))
        let xsFloats = 4 * Int(cconvs2_phase_pixels(k32, oh, ow)) + Int(cconvs2c1_slack_floats())
        let inPlane = g.inH * g.inW, outPlane = cout * g.outH * g.outW
        func split(_ s: Int, _ xs: UnsafeMutablePointer<Float>) {
            cconvs2_split(k32, x + s * inPlane, 1, Int32(g.inH), Int32(g.inW), Int32(g.padTop), Int32(g.padLeft), oh, ow, 1, xs)
            (xs + xsFloats - Int(cconvs2c1_slack_floats())).initialize(repeating: 0, count: Int(cconvs2c1_slack_floats()))
        }
        func rows(_ s: Int, _ xs: UnsafeMutablePointer<Float>, _ wc: UnsafeMutablePointer<Float>, _ r: Range<Int>) {
            cconvs2c1_forward_rows(level.rawValue, k32, xs, oh, ow, Int32(r.lowerBound), Int32(r.upperBound), wc, co32, scale, shift,
                                   relu ? 1 : 0, y + s * outPlane)
        }
        withScratch(Int(cconvs2c1_weight_floats(k32, co32))) { wc in
            cconvs2c1_pack(k32, w, co32, wc)
            if n >= Threads.available {
                forEachBlock(n) { images in
                    withScratch(xsFloats) { xs in for s in images { split(s, xs); rows(s, xs, wc, 0..<g.outH) } }
                }
                return
            }
            let per = 4, ranges = (g.outH + per - 1) / per
            withScratch(xsFloats) { xs in
                for s in 0..<n {
                    split(s, xs)
                    Threads.forEachDynamic(ranges) { u in rows(s, xs, wc, u * per..<min((u + 1) * per, g.outH)) }
                }
            }
        }
    }

    /// dx = the input gradient of a 5×5 stride-2 conv (geometry `g`, any padding) for dy, written (not added): per
    /// image, dy padded channels last, then the forward micro-kernel phase by phase of dx (`cconv5s2_input_gradient`:
    /// each phase a stride-1 conv of dy with that phase's 9, 6, 6 or 4 taps), merged back into planes. Threads as the
    /// forward (images, or blocks of 32 input channels), so results do not depend on the thread count.
    public static func direct5x5Stride2InputGradient(dy: UnsafePointer<Float>, w: UnsafePointer<Float>, dx: UnsafeMutablePointer<Float>,
                                                     n: Int, cin: Int, cout: Int, g: WindowGeometry, level: ConvSIMDLevel = .best) {
        precondition(direct5x5Stride2Applies(g: g, groups: 1))
        let cs = Int(cconv3_pad4(Int32(cout))), cpad = Int(cconv3_pad32(Int32(cin)))
        let (h, wd, pt, pl, oh, ow) = (Int32(g.inH), Int32(g.inW), Int32(g.padTop), Int32(g.padLeft), Int32(g.outH), Int32(g.outW))
        let dyPixels = Int(cconv5s2_dy_pixels(h, wd, pt, pl, oh, ow)), flat = Int(cconv5s2_dx_flat_pixels(h, wd, pt, pl, oh, ow))
        let (cs32, ci32, co32, cpad32) = (Int32(cs), Int32(cin), Int32(cout), Int32(cpad))
        let inPlane = cin * g.inH * g.inW, outPlane = cout * g.outH * g.outW
        withScratch(25 * cout * cpad) { wb in
            cconv5s2_pack_backward(w, co32, ci32, wb)
            directImages(n: n, inputFloats: dyPixels * cs, outputFloats: 4 * flat * cpad, cpad: cpad,
                         layOut: { s, dyp in cconv5s2_pad_dy(dy + s * outPlane, co32, h, wd, pt, pl, oh, ow, cs32, dyp) },
                         convolve: { dyp, yfs, ci in
                             cconv5s2_input_gradient(level.rawValue, dyp, cs32, co32, h, wd, pt, pl, oh, ow, wb, cpad32,
                                                     Int32(ci.lowerBound), Int32(ci.upperBound), yfs)
                         },
                         writeBack: { s, yfs, ci in
                             cconv5s2_merge(yfs, cpad32, ci32, Int32(ci.lowerBound), Int32(ci.upperBound), h, wd, pt, pl, oh, ow, dx + s * inPlane)
                         })
        }
    }

    /// The forward of a layer whose `convPath` is not im2col: the 5×5 stride-2 kernel (or, under `.winograd4`, its
    /// phase split onto Winograd: `phaseSplitForward`) or the 3×3 ones (`path`).
    public static func directForward(x: UnsafePointer<Float>, w: UnsafePointer<Float>, y: UnsafeMutablePointer<Float>,
                                     n: Int, cin: Int, cout: Int, g: WindowGeometry,
                                     scale: UnsafePointer<Float>? = nil, shift: UnsafePointer<Float>? = nil, relu: Bool = false,
                                     path: ConvPath) {
        if path == .winograd4 && phaseSplitApplies(g: g, groups: 1) {
            return phaseSplitForward(x: x, w: w, y: y, n: n, cin: cin, cout: cout, g: g, scale: scale, shift: shift, relu: relu)
        }
        if directStride2Applies(g: g, groups: 1) {
            return directStride2Forward(x: x, w: w, y: y, n: n, cin: cin, cout: cout, g: g, scale: scale, shift: shift, relu: relu)
        }
        direct3x3Forward(x: x, w: w, y: y, n: n, cin: cin, cout: cout, h: g.inH, w: g.inW, scale: scale, shift: shift, relu: relu, path: path)
    }

    /// F(4×4, 3×3) tiles wherever the path says so: a map whose h or w is not a multiple of 4 ends in partial tiles
    /// (zeros read past the border, only the valid outputs written).
    static func usesTile4(_ path: ConvPath) -> Bool { path == .winograd4 }

    /// Stride-2 windows of up to 6×6 taps (the students' 5×5 conv2), one group: what `phaseSplitForward` computes.
    public static func phaseSplitApplies(g: WindowGeometry, groups: Int) -> Bool {
        groups == 1 && g.sh == 2 && g.sw == 2 && (3...6).contains(g.kh) && (3...6).contains(g.kw)
    }

    /// A stride-2 conv of up to 6×6 taps as a 3×3 stride-1 conv, run on Winograd F(4×4, 3×3): with the window zero-padded
    /// to 6×6, tap (2u + a, 2v + b) of output (i, j) reads input pixel (2(i + u) + a, 2(j + v) + b) (padding
    /// subtracted), so stacking the input's four stride phases (a, b) as 4·cin channels, T[(2a + b)·cin + c][r][s] =
    /// x[c][2r + a − padTop][2s + b − padLeft] (zero outside), makes y[i][j] = Σ_{u,v < 3} W'[u][v] · T[i + u][j + v]:
    /// the 'same' 3×3 conv of T at (i + 1, j + 1). T has (outH + 2) × (outW + 2) pixels; the conv's border outputs are
    /// dropped. The zero taps of a 5×5 window cost 36/25 more products, and F(4×4, 3×3) does 4× fewer than the direct
    /// kernel: 2.8× fewer in all (`vggm`'s conv2: 96 → 256 channels, 384 → 256 in the 3×3 conv). Images go in chunks
    /// so that T and the 3×3 conv's output stay a few MB each; rounding as the Winograd kernel's (bound in
    /// cconv_kernels.c) over the 4·cin·9 products of each output.
    public static func phaseSplitForward(x: UnsafePointer<Float>, w: UnsafePointer<Float>, y: UnsafeMutablePointer<Float>,
                                         n: Int, cin: Int, cout: Int, g: WindowGeometry,
                                         scale: UnsafePointer<Float>? = nil, shift: UnsafePointer<Float>? = nil, relu: Bool = false,
                                         level: ConvSIMDLevel = .best) {
        precondition(phaseSplitApplies(g: g, groups: 1))
        let (kh, kw, th, tw) = (g.kh, g.kw, g.outH + 2, g.outW + 2)
        let cinT = 4 * cin, planeT = th * tw, inPlane = g.inH * g.inW, outPlane = g.outH * g.outW
        withScratch(cout * cinT * 9) { wt in
            // W'[o][(2a + b)·cin + c][u][v] = w[o][c][2u + a][2v + b] (zero past the window).
            wt.initialize(repeating: 0, count: cout * cinT * 9)
            for o in 0..<cout { for c in 0..<cin { for ky in 0..<kh { for kx in 0..<kw {
                let (u, a, v, b) = (ky / 2, ky % 2, kx / 2, kx % 2)
                wt[((o * cinT + (2 * a + b) * cin + c) * 3 + u) * 3 + v] = w[((o * cin + c) * kh + ky) * kw + kx]
            } } } }
            let chunk = max(1, min(n, 2 * Threads.available))
            withScratch(chunk * cinT * planeT) { t in withScratch(chunk * cout * planeT) { yt in
                var n0 = 0
                while n0 < n {
                    let m = min(chunk, n - n0)
                    forEachBlock(m * cinT) { planes in
                        for q in planes {
                            let (s, ct) = (q / cinT, q % cinT)
                            let (a, b, c) = (ct / cin / 2, ct / cin % 2, ct % cin)
                            let src = x + (n0 + s) * cin * inPlane + c * inPlane, dst = t + q * planeT
                            for r in 0..<th {
                                let row = 2 * r + a - g.padTop
                                for col in 0..<tw {
                                    let column = 2 * col + b - g.padLeft
                                    dst[r * tw + col] = row >= 0 && row < g.inH && column >= 0 && column < g.inW ? src[row * g.inW + column] : 0
                                }
                            }
                        }
                    }
                    direct3x3Forward(x: t, w: wt, y: yt, n: m, cin: cinT, cout: cout, h: th, w: tw, scale: scale, shift: shift,
                                     relu: relu, path: .winograd4, level: level)
                    forEachBlock(m * cout) { planes in
                        for q in planes {
                            let src = yt + q * planeT, dst = y + n0 * cout * outPlane + q * outPlane
                            for i in 0..<g.outH { for j in 0..<g.outW { dst[i * g.outW + j] = src[(i + 1) * tw + j + 1] } }
                        }
                    }
                    n0 += m
                }
            } }
        }
    }

    /// Winograd F(2×2, 3×3) weights (`cwino_pack`, 16 per channel pair) or F(4×4, 3×3) ones (`cwino4_pack`, 36),
    /// the rows split over threads.
    static func winogradPack(_ w: UnsafePointer<Float>, cout: Int, cin: Int, backward: Bool, tile4: Bool, into u: UnsafeMutablePointer<Float>) {
        forEachBlock(backward ? cout : cin) { rows in
            (tile4 ? cwino4_pack : cwino_pack)(w, Int32(cout), Int32(cin), backward ? 1 : 0, Int32(rows.lowerBound), Int32(rows.upperBound), u)
        }
    }

    /// `direct3x3Forward` by Winograd F(2×2, 3×3) (error bound in cconv_kernels.c): parallel over blocks of images;
    /// each thread transforms groups of images whose tiles fill about four of the kernel's tile blocks (the
    /// teachers' 6×6 maps have 9 tiles an image); fewer images than threads split their tiles. Every output is
    /// computed in the same order whatever the grouping, so results do not depend on the thread count.
    static func winograd3x3Forward(x: UnsafePointer<Float>, w: UnsafePointer<Float>, y: UnsafeMutablePointer<Float>,
                                   n: Int, cin: Int, cout: Int, h: Int, w width: Int,
                                   scale: UnsafePointer<Float>?, shift: UnsafePointer<Float>?, relu: Bool, tile4: Bool, level: ConvSIMDLevel) {
        let cs = Int(cconv3_pad32(Int32(cin))), cpad = Int(cconv3_pad32(Int32(cout)))
        withScratch((tile4 ? 36 : 16) * cin * cpad) { u in
            winogradPack(w, cout: cout, cin: cin, backward: false, tile4: tile4, into: u)
            winogradImages(n: n, cin: cin, cout: cout, h: h, w: width, u: u, tile4: tile4, level: level,
                           input: .pad { s, xp in cconv3_pad(x + s * cin * h * width, Int32(cin), Int32(h), Int32(width), Int32(cs), xp) },
                           unpad: { s, yf in cconv3_unpad(yf, Int32(cpad), Int32(cout), 0, Int32(cpad), Int32(h), Int32(width),
                                                          scale, shift, relu ? 1 : 0, y + s * cout * h * width) })
        }
    }

    /// Where the Winograd kernel's padded images (cpad32(cin) floats a pixel) come from: written per image by a
    /// closure into scratch, or already padded, one after another.
    enum WinogradInput {
        case pad((Int, UnsafeMutablePointer<Float>) -> Void)
        case padded(UnsafeMutablePointer<Float>)

        var source: UnsafeMutablePointer<Float>? { if case .padded(let p) = self { return p } else { return nil } }
    }

    /// Images `0..<n` through the Winograd kernel with transformed weights `u` (cin → cout as the kernel sees them);
    /// `unpad(s, yf)` takes image s's flat output.
    static func winogradImages(n: Int, cin: Int, cout: Int, h: Int, w width: Int, u: UnsafePointer<Float>, tile4: Bool,
                               level: ConvSIMDLevel, input: WinogradInput, unpad: (Int, UnsafeMutablePointer<Float>) -> Void) {
        let cs = Int(cconv3_pad32(Int32(cin))), cpad = Int(cconv3_pad32(Int32(cout)))
        let xImage = Int(cconv3_padded_pixels(Int32(h), Int32(width))) * cs, yImage = Int(cconv3_flat_pixels(Int32(h), Int32(width))) * cpad
        let tiles = Int((tile4 ? cwino4_tiles : cwino_tiles)(Int32(h), Int32(width)))
        let block = Int((tile4 ? cwino4_block_tiles : cwino_block_tiles)(Int32(cs), Int32(cpad)))
        let scratchFloats = Int((tile4 ? cwino4_scratch_floats : cwino_scratch_floats)(Int32(cs), Int32(cpad)))
        let forward = tile4 ? cwino4_forward : cwino_forward
        func run(_ xs: UnsafeMutablePointer<Float>, _ ys: UnsafeMutablePointer<Float>, tiles range: Range<Int>, _ sc: UnsafeMutablePointer<Float>) {
            forward(level.rawValue, xs, xImage, Int32(cs), Int32(cin), Int32(h), Int32(width), Int32(range.lowerBound),
                    Int32(range.upperBound), u, Int32(cpad), sc, ys, yImage)
        }
        if n < Threads.available {
            // Fewer images than threads (inference): all images padded once, their tiles split among the threads.
            withScratch(input.source == nil ? n * xImage : 0) { padded in withScratch(n * yImage) { ys in
                let xs = input.source ?? padded
                if case .pad(let padInto) = input { for s in 0..<n { padInto(s, xs + s * xImage) } }
                // Blocks of `block` tiles, smaller where one block would leave a thread idle (one image of vggm's
                // conv3–5 is 48 F(4×4) tiles, less than one of their blocks). A tile's result does not depend on its block.
                let total = n * tiles, per = max(1, min(block, (total + Threads.available - 1) / Threads.available))
                forEachBlock((total + per - 1) / per) { units in
                    withScratch(scratchFloats) { sc in run(xs, ys, tiles: units.lowerBound * per..<min(units.upperBound * per, total), sc) }
                }
                for s in 0..<n { unpad(s, ys + s * yImage) }
            } }
            return
        }
        // Each thread takes blocks of images, in groups whose tiles fill about four of the kernel's tile blocks (the
        // teachers' 6×6 maps have 9 tiles an image).
        let group = max(1, min(n, 4 * block / tiles))
        forEachBlock(n) { range in
            let g = min(group, range.count)
            withScratch(input.source == nil ? g * xImage : 0) { padded in withScratch(g * yImage) { ys in withScratch(scratchFloats) { sc in
                var s0 = range.lowerBound
                while s0 < range.upperBound {
                    let m = min(g, range.upperBound - s0)
                    let xs: UnsafeMutablePointer<Float>
                    switch input {
                    case .pad(let padInto): xs = padded; for j in 0..<m { padInto(s0 + j, xs + j * xImage) }
                    case .padded(let all): xs = all + s0 * xImage
                    }
                    run(xs, ys, tiles: 0..<m * tiles, sc)
                    for j in 0..<m { unpad(s0 + j, ys + j * yImage) }
                    s0 += m
                }
            } } }
        }
    }

    /// `direct3x3Backward` by Winograd (`tile4`: F(4×4, 3×3) for the input gradient; the weight gradient is always
    /// F(2×2, 3×3)): the input gradient is the Winograd forward of dy with the flipped
    /// transposed weights; the weight gradient sums the 16 transformed channel products of every tile (images in
    /// order, tiles in order) and transforms back once. Threads take rows of the 4×4 transform grid, so every
    /// accumulator is summed by one thread in one order: dw is bitwise the same for any thread count or chunking.
    static func winograd3x3Backward(x: UnsafePointer<Float>, w: UnsafePointer<Float>, dy: UnsafePointer<Float>,
                                    dx: UnsafeMutablePointer<Float>?, dw: UnsafeMutablePointer<Float>,
                                    n: Int, cin: Int, cout: Int, h: Int, w width: Int, chunkFloats: Int, tile4: Bool, level: ConvSIMDLevel) {
        let cs = Int(cconv3_pad32(Int32(cin))), cpad = Int(cconv3_pad32(Int32(cout)))
        let (h32, w32, ci32, co32) = (Int32(h), Int32(width), Int32(cin), Int32(cout))
        let inPlane = cin * h * width, outPlane = cout * h * width
        let pixels = Int(cconv3_padded_pixels(h32, w32)), xImage = pixels * cs, dyImage = pixels * cpad
        let chunk = max(1, min(n, chunkFloats / (xImage + dyImage)))
        let wgradScratch = Int(cwino_wgrad_scratch_floats(Int32(cs), Int32(cpad)))
        withScratch(16 * cs * cpad) { acc in
        withScratch(dx == nil ? 0 : (tile4 ? 36 : 16) * cout * cs) { ub in
        withScratch(chunk * xImage) { xs in
        withScratch(chunk * dyImage) { dys in
            acc.initialize(repeating: 0, count: 16 * cs * cpad)
            if dx != nil { winogradPack(w, cout: cout, cin: cin, backward: true, tile4: tile4, into: ub) }
            var n0 = 0
            while n0 < n {
                let count = min(chunk, n - n0)
                forEachBlock(count) { range in
                    for j in range {
                        cconv3_pad(x + (n0 + j) * inPlane, ci32, h32, w32, Int32(cs), xs + j * xImage)
                        cconv3_pad(dy + (n0 + j) * outPlane, co32, h32, w32, Int32(cpad), dys + j * dyImage)
                    }
                }
                if let dx {
                    winogradImages(n: count, cin: cout, cout: cin, h: h, w: width, u: ub, tile4: tile4, level: level, input: .padded(dys),
                                   unpad: { j, dxf in cconv3_unpad(dxf, Int32(cs), ci32, 0, Int32(cs), h32, w32, nil, nil, 0,
                                                                   dx + (n0 + j) * inPlane) })
                }
                forEachBlock(4) { rows in
                    withScratch(wgradScratch) { sc in
                        for row in rows {
                            cwino_wgrad(level.rawValue, xs, xImage, ci32, dys, dyImage, co32, h32, w32, Int32(count), Int32(row), sc, acc)
                        }
                    }
                }
                n0 += count
            }
            forEachBlock(cin) { r in cwino_wgrad_finish(acc, co32, ci32, Int32(r.lowerBound), Int32(r.upperBound), dw) }
        } } } }
    }

    /// Gradients of a 3×3 stride-1 pad-1 conv: dw += Σ x ⋆ dy, and dx = dy ⋆ flipped Wᵀ (written, not added) when
    /// `dx` is given. Images go in chunks of at most `chunkFloats` floats of padded x and dy; within a chunk the
    /// input gradient is parallel over images and the weight gradient over tiles of dw, each tile summed over the
    /// images in order, so dw is bitwise the same for any thread count. `path` .winograd / .winograd4: by Winograd.
    public static func direct3x3Backward(x: UnsafePointer<Float>, w: UnsafePointer<Float>, dy: UnsafePointer<Float>,
                                         dx: UnsafeMutablePointer<Float>?, dw: UnsafeMutablePointer<Float>,
                                         n: Int, cin: Int, cout: Int, h: Int, w width: Int,
                                         chunkFloats: Int = 1 << 21, path: ConvPath = .direct, level: ConvSIMDLevel = .best) {
        if path != .direct {
            return winograd3x3Backward(x: x, w: w, dy: dy, dx: dx, dw: dw, n: n, cin: cin, cout: cout, h: h, w: width,
                                       chunkFloats: chunkFloats, tile4: usesTile4(path), level: level)
        }
        let csx = Int(cconv3_pad4(Int32(cin))), cpad = Int(cconv3_pad32(Int32(cout))), cpadIn = Int(cconv3_pad32(Int32(cin)))
        let pixels = Int(cconv3_padded_pixels(Int32(h), Int32(width))), flat = Int(cconv3_flat_pixels(Int32(h), Int32(width)))
        let (h32, w32, ci32, co32) = (Int32(h), Int32(width), Int32(cin), Int32(cout))
        let inPlane = cin * h * width, outPlane = cout * h * width
        let xImage = pixels * csx, dyImage = pixels * cpad
        let chunk = max(1, min(n, chunkFloats / (xImage + dyImage)))
        let tiles = Int(cconv3_wgrad_tiles(level.rawValue, ci32, co32))
        withScratch(9 * csx * cpad) { acc in
        withScratch(dx == nil ? 0 : 9 * cout * cpadIn) { wb in
        withScratch(chunk * xImage) { xs in
        withScratch(chunk * dyImage) { dys in
            acc.initialize(repeating: 0, count: 9 * csx * cpad)
            if dx != nil { cconv3_pack_backward(w, co32, ci32, wb) }
            var n0 = 0
            while n0 < n {
                let count = min(chunk, n - n0)
                forEachBlock(count) { range in
                    withScratch(dx == nil ? 0 : flat * cpadIn) { dxf in
                        for j in range {
                            let s = n0 + j, dyp = dys + j * dyImage
                            cconv3_pad(x + s * inPlane, ci32, h32, w32, Int32(csx), xs + j * xImage)
                            cconv3_pad(dy + s * outPlane, co32, h32, w32, Int32(cpad), dyp)
                            guard let dx else { continue }
                            cconv3_forward(level.rawValue, dyp, Int32(cpad), co32, h32, w32, wb, Int32(cpadIn), 0, Int32(cpadIn), dxf)
                            cconv3_unpad(dxf, Int32(cpadIn), ci32, 0, Int32(cpadIn), h32, w32, nil, nil, 0, dx + s * inPlane)
                        }
                    }
                }
                forEachBlock(tiles) { r in
                    cconv3_wgrad(level.rawValue, xs, xImage, ci32, dys, dyImage, co32, h32, w32, Int32(count),
                                 Int32(r.lowerBound), Int32(r.upperBound), acc)
                }
                n0 += count
            }
            cconv3_wgrad_finish(acc, co32, ci32, dw)
        } } } }
    }
}
