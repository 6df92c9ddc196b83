import XCTest
@testable import EmovoxCore

/// The direct 3×3 kernels (CConvKernels) against the im2col + sgemm path and finite differences, at every SIMD
/// level this CPU runs (plain is the reference), on sizes that are not multiples of any block: odd H and W, channel
/// counts that are not multiples of 4, 16 or 32, batches of 1 and 3.
/// A 3×3 'same' conv with seeded weights on the given path.
func conv3x3(_ cin: Int, _ cout: Int, bias: Bool, _ choice: DirectConvChoice, seed: UInt64 = 3) -> Conv2D {
    var rng = SeededRNG(seed: seed)
    let c = Conv2D(cin, cout, kernel: (3, 3), padding: .same, bias: bias, rng: &rng)
    c.tuning.direct = choice
    return c
}

/// Forward, input gradient and weight gradient of the direct kernels (or Winograd's: `path`) at `level` on one shape.
func convPasses(_ c: Conv2D, x: Tensor, dy: Tensor, level: ConvSIMDLevel, chunkFloats: Int = 1 << 21, path: ConvPath = .direct)
    -> (y: [Float], dx: [Float], dw: [Float]) {
    let (n, h, w) = (x.shape[0], x.shape[2], x.shape[3])
    var y = [Float](repeating: .nan, count: n * c.outChannels * h * w)
    var dx = [Float](repeating: .nan, count: x.count), dw = [Float](repeating: 0, count: c.weight.value.count)
    x.data.withUnsafeBufferPointer { xp in c.weight.value.data.withUnsafeBufferPointer { wp in dy.data.withUnsafeBufferPointer { dyp in
        y.withUnsafeMutableBufferPointer { yp in
            ConvKernels.direct3x3Forward(x: xp.baseAddress!, w: wp.baseAddress!, y: yp.baseAddress!, n: n, cin: c.inChannels,
                                         cout: c.outChannels, h: h, w: w, path: path, level: level)
        }
        dx.withUnsafeMutableBufferPointer { dxp in dw.withUnsafeMutableBufferPointer { dwp in
            ConvKernels.direct3x3Backward(x: xp.baseAddress!, w: wp.baseAddress!, dy: dyp.baseAddress!, dx: dxp.baseAddress!,
                                          dw: dwp.baseAddress!, n: n, cin: c.inChannels, cout: c.outChannels, h: h, w: w,
                                          chunkFloats: chunkFloats, path: path, level: level)
        } }
    } } }
    return (y, dx, dw)
}

final class DirectConvTests: XCTestCase {
    /// (n, cin, cout, h, w)
    let shapes: [(Int, Int, Int, Int, Int)] = [(1, 1, 5, 7, 9), (3, 3, 17, 5, 13), (3, 20, 33, 6, 6), (1, 37, 40, 11, 3),
                                               (2, 1, 32, 48, 48), (1, 64, 70, 12, 12), (3, 5, 7, 1, 1), (1, 2, 3, 2, 17),
                                               // rows of 6 and 18 with 64 and 128 output channels: the AVX-512 6-pixel tiles
                                               (3, 20, 64, 5, 6), (1, 70, 128, 4, 18)]
    var levels: [ConvSIMDLevel] { ConvSIMDLevel.allCases.filter(\.isSupported) }

    func maxRelativeError(_ a: [Float], _ b: [Float]) -> Float {
        zip(a, b).map { abs($0 - $1) / max(1, abs($1)) }.max() ?? 0
    }

    func direct(_ c: Conv2D, x: Tensor, dy: Tensor, level: ConvSIMDLevel, chunkFloats: Int = 1 << 21) -> (y: [Float], dx: [Float], dw: [Float]) {
        convPasses(c, x: x, dy: dy, level: level, chunkFloats: chunkFloats)
    }

    func testEveryLevelMatchesIm2colPath() {
        XCTAssertTrue(ConvSIMDLevel.plain.isSupported)
        for (n, cin, cout, h, w) in shapes {
            var rng = SeededRNG(seed: UInt64(n * 1000 + cin * 10 + cout))
            let reference = conv3x3(cin, cout, bias: false, .im2col)
            let x = randomTensor([n, cin, h, w], &rng), dy = randomTensor([n, cout, h, w], &rng)
            let y = reference.forward(x, training: true)
            let dx = reference.backward(dy)
            for level in levels {
                let got = direct(reference, x: x, dy: dy, level: level)
                let what = "\(n)×\(cin)×\(h)×\(w) → \(cout) at \(level)"
                XCTAssertLessThanOrEqual(maxRelativeError(got.y, y.data), 1e-4, "forward, \(what)")
                XCTAssertLessThanOrEqual(maxRelativeError(got.dx, dx.data), 1e-4, "input gradient, \(what)")
                XCTAssertLessThanOrEqual(maxRelativeError(got.dw, reference.weight.grad.data), 1e-4, "weight gradient, \(what)")
            }
        }
    }

    /// PyTorch's forward and gradients of a 3×3 pad-1 conv with bias (tools/gen_core_fixtures.py's `conv_basic`)
    /// through Conv2D on the direct and the Winograd path.
    func testConv2DDirectAndWinogradPathsMatchPyTorchFixture() {
        let m = Fixtures.meta("conv_basic")
        for (choice, path) in [(DirectConvChoice.direct, ConvPath.direct), (.winograd, .winograd)] {
            var rng = SeededRNG(seed: 0)
            let c = Conv2D(m["cin"] as! Int, m["cout"] as! Int, kernel: (3, 3), padding: .symmetric(1, 1), bias: true, rng: &rng)
            c.tuning.direct = choice
            c.weight.value = Fixtures.t("conv_basic.w"); c.bias!.value = Fixtures.t("conv_basic.b")
            let x = Fixtures.t("conv_basic.x")
            XCTAssertEqual(c.path(c.geometry(x.shape[2], x.shape[3])), path)
            assertClose(c.forward(x, training: true), Fixtures.t("conv_basic.y"), "forward, \(path)")
            assertClose(c.backward(Fixtures.t("conv_basic.gy")), Fixtures.t("conv_basic.gx"), "dx, \(path)")
            assertClose(c.weight.grad, Fixtures.t("conv_basic.gw"), "dw, \(path)")
            assertClose(c.bias!.grad, Fixtures.t("conv_basic.gb"), "db, \(path)")
        }
    }

    /// The SIMD levels sum each output in the same order; only the rounding of fused multiply-adds differs.
    func testWideLevelsAgreeWithPlainClosely() {
        var rng = SeededRNG(seed: 21)
        let c = conv3x3(19, 35, bias: false, .direct)
        let x = randomTensor([3, 19, 9, 10], &rng), dy = randomTensor([3, 35, 9, 10], &rng)
        let plain = direct(c, x: x, dy: dy, level: .plain)
        for level in levels where level != .plain {
            let got = direct(c, x: x, dy: dy, level: level)
            XCTAssertLessThanOrEqual(maxRelativeError(got.y, plain.y), 1e-5, "forward at \(level)")
            XCTAssertLessThanOrEqual(maxRelativeError(got.dx, plain.dx), 1e-5, "input gradient at \(level)")
            XCTAssertLessThanOrEqual(maxRelativeError(got.dw, plain.dw), 1e-5, "weight gradient at \(level)")
        }
    }

    func testFiniteDifferencesThroughConv2D() {
        var rng = SeededRNG(seed: 22)
        for (choice, path) in [(DirectConvChoice.direct, ConvPath.direct), (.winograd, .winograd), (.winograd4, .winograd4)] {
            for (n, cin, cout, h, w, bias) in [(1, 3, 5, 7, 6, true), (3, 6, 4, 5, 9, false), (3, 1, 33, 4, 4, true), (2, 3, 5, 8, 4, false)] {
                let c = conv3x3(cin, cout, bias: bias, choice, seed: UInt64(cin))
                XCTAssertEqual(c.path(c.geometry(h, w)), path)
                gradientCheck(c, input: randomTensor([n, cin, h, w], &rng))
            }
        }
    }

    /// Forward, input gradient and weight gradient bitwise the same on 1 and 2 threads: over images, over output
    /// channel blocks or tiles (one image), and with the batch cut into chunks; chunking itself changes nothing
    /// either. Direct kernels and Winograd F(2×2, 3×3) and F(4×4, 3×3) (13 images of 9 tiles: tile blocks spanning
    /// images; one image of 380 tiles: two tile blocks split between the threads; 8×12 maps for F(4×4, 3×3), the
    /// other maps in partial 4×4 tiles; the students' 30×23 and 15×23 with vggm's channels, whose F(4×4, 3×3) blocks
    /// are larger than an image: one image split between the threads, 3 images over them).
    func testBitwiseIdenticalForOneAndTwoThreadsAndAnyChunking() {
        var rng = SeededRNG(seed: 23)
        for path in [ConvPath.direct, .winograd, .winograd4] {
            for (n, cin, cout, h, w) in [(3, 20, 70, 9, 11), (1, 33, 64, 6, 7), (5, 1, 32, 12, 10), (13, 64, 64, 6, 6), (1, 8, 8, 40, 37), (7, 20, 40, 8, 12),
                                         (1, 256, 384, 30, 23), (3, 384, 256, 15, 23)] {
                let c = conv3x3(cin, cout, bias: false, .direct)
                let x = randomTensor([n, cin, h, w], &rng), dy = randomTensor([n, cout, h, w], &rng)
                for level in levels {
                    let what = "\(path), \(level)"
                    let one = Threads.withCount(1) { convPasses(c, x: x, dy: dy, level: level, path: path) }
                    let two = Threads.withCount(2) { convPasses(c, x: x, dy: dy, level: level, path: path) }
                    let chunked = Threads.withCount(2) { convPasses(c, x: x, dy: dy, level: level, chunkFloats: 1, path: path) }
                    for (name, other) in [("2 threads", two), ("2 threads, one image per chunk", chunked)] {
                        XCTAssertEqual(one.y, other.y, "forward, \(name), \(what)")
                        XCTAssertEqual(one.dx, other.dx, "input gradient, \(name), \(what)")
                        XCTAssertEqual(one.dw, other.dw, "weight gradient, \(name), \(what)")
                    }
                }
            }
        }
    }

    /// Inference with a BN (+ ReLU) epilogue on the direct and Winograd paths equals the im2col path's conv → BN → ReLU.
    func testBNEpilogueOnDirectAndWinogradPaths() {
        var rng = SeededRNG(seed: 24)
        for choice in [DirectConvChoice.direct, .winograd, .winograd4] {
            for relu in [true, false] {
                let fast = conv3x3(7, 40, bias: true, choice), reference = conv3x3(7, 40, bias: true, .im2col)
                let x = randomTensor([3, 7, 12, 8], &rng)
                let scale = (0..<40).map { _ in rng.normal() }, shift = (0..<40).map { _ in rng.normal() }
                let y = fast.inferWithEpilogue(x, scale: scale, shift: shift, relu: relu)
                var expected = reference.forward(x, training: false)
                let plane = 12 * 8
                for i in expected.data.indices {
                    let c = (i / plane) % 40
                    let v = expected.data[i] * scale[c] + shift[c]
                    expected.data[i] = relu ? max(v, 0) : v
                }
                XCTAssertLessThanOrEqual(maxRelativeError(y.data, expected.data), 1e-4, "\(choice), ReLU \(relu)")
            }
        }
    }

    /// Which convs take the direct path: only 3×3 stride-1 pad-1 single-group ones, never under `.im2col`.
    func testPathChoice() {
        var rng = SeededRNG(seed: 25)
        let g = WindowGeometry(inH: 48, inW: 48, kh: 3, kw: 3, sh: 1, sw: 1, padding: .same)
        XCTAssertTrue(ConvKernels.usesDirect(.measured, g: g, groups: 1, cin: 32, cout: 32))
        XCTAssertFalse(ConvKernels.usesDirect(.im2col, g: g, groups: 1, cin: 32, cout: 32))
        XCTAssertFalse(ConvKernels.usesDirect(.measured, g: g, groups: 1, cin: 1, cout: 32), "a grey first layer stays on im2col")
        XCTAssertTrue(ConvKernels.usesDirect(.direct, g: g, groups: 1, cin: 1, cout: 32))
        let student = WindowGeometry(inH: 15, inW: 23, kh: 3, kw: 3, sh: 1, sw: 1, padding: .symmetric(1, 1))
        XCTAssertEqual(ConvKernels.convPath(.measured, g: student, groups: 1, cin: 64, cout: 96), .winograd, "vggm-small's conv3 at its training crop")
        let longer = WindowGeometry(inH: 15, inW: 40, kh: 3, kw: 3, sh: 1, sw: 1, padding: .symmetric(1, 1))
        XCTAssertFalse(ConvKernels.usesDirect(.measured, g: longer, groups: 1, cin: 64, cout: 96), "unmeasured shapes stay on im2col")
        XCTAssertTrue(ConvKernels.usesDirect(.direct, g: longer, groups: 1, cin: 64, cout: 96))
        XCTAssertFalse(ConvKernels.usesDirect(.direct, g: g, groups: 2, cin: 32, cout: 32))
        for (k, s, pad) in [((3, 3), (2, 2), Padding.same), ((3, 3), (1, 1), .valid), ((5, 5), (1, 1), .same), ((3, 1), (1, 1), .same)] {
            let c = Conv2D(4, 4, kernel: k, stride: s, padding: pad, rng: &rng)
            c.tuning.direct = .direct
            XCTAssertFalse(c.usesDirect(c.geometry(9, 9)), "\(k) stride \(s) \(pad)")
        }
    }
}
