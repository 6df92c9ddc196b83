import XCTest
@testable import EmovoxCore
import EmovoxUtilities

final class IOTests: XCTestCase {
    func tmp(_ name: String) -> String { NSTemporaryDirectory() + "emovox-\(UUID().uuidString)-\(name)" }

    func testSafetensorsRoundTripWithMetadataAndInt64() throws {
        let path = tmp("a.safetensors")
        defer { try? FileManager.default.removeItem(atPath: path) }
        let t: [String: Tensor] = ["conv1.weight": Tensor(shape: [2, 1, 2, 2], data: (0..<8).map { Float($0) / 3 }),
                                   "bn1.num_batches_tracked": Tensor(shape: [], data: [12])]
        try Safetensors.write(t, metadata: ["config": "{\"a\":1}"], to: path)
        let (back, meta) = try Safetensors.read(path)
        XCTAssertEqual(back, t)
        XCTAssertEqual(meta["config"], "{\"a\":1}")
        // The header is 8-byte aligned and num_batches_tracked is int64, as PyTorch expects.
        let bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: path)))
        let n = bytes.prefix(8).enumerated().reduce(0) { $0 | Int($1.element) << (8 * $1.offset) }
        XCTAssertEqual(n % 8, 0)
        XCTAssertTrue(String(decoding: bytes[8..<(8 + n)], as: UTF8.self).contains("\"I64\""))
    }

    func testSafetensorsReadsReferenceDtypes() throws {
        let (t, meta) = try Safetensors.read(Fixtures.url.appendingPathComponent("safetensors_dtypes.safetensors").path)
        XCTAssertEqual(meta["note"], "written by safetensors.torch")
        XCTAssertEqual(t["f32"]!.shape, [2, 3]); XCTAssertEqual(t["f32"]!.data, [0, 0.25, 0.5, 0.75, 1, 1.25])
        XCTAssertEqual(t["f16"]!.data, [0.5, -2, 65504])
        XCTAssertEqual(t["bf16"]!.data[0], 1.5); XCTAssertEqual(t["bf16"]!.data[1], -3)
        XCTAssertEqual(t["bf16"]!.data[2], 1e10, accuracy: 1e8)
        XCTAssertEqual(t["f64"]!.data[0], 1e-3, accuracy: 1e-9)
        XCTAssertEqual(t["i64"]!.data, [7, -3])
    }

    /// float16 storage rounds as PyTorch does (nearest, ties to even; subnormals; ±65504), bit for bit, and refuses
    /// values it cannot hold.
    func testSafetensorsFloat16StorageMatchesPyTorch() throws {
        let (fixture, _) = try Safetensors.read(Fixtures.url.appendingPathComponent("safetensors_f16.safetensors").path)
        let source = fixture["source"]!, expected = fixture["expected"]!
        let data = try Safetensors.encode(["w": source, "bn.num_batches_tracked": Tensor(shape: [1], data: [3])], storage: .f16)
        let header = String(decoding: data.dropFirst(8).prefix(200), as: UTF8.self)
        XCTAssertTrue(header.contains("\"F16\""), header); XCTAssertTrue(header.contains("\"I64\""), header)
        let (back, _) = try Safetensors.decode(data)
        XCTAssertEqual(back["w"]!.shape, source.shape)
        XCTAssertEqual(back["w"]!.data.map(\.bitPattern), expected.data.map(\.bitPattern))
        XCTAssertEqual(back["bn.num_batches_tracked"]!.data, [3])
        XCTAssertThrowsError(try Safetensors.encode(["big": Tensor(shape: [2], data: [1, 65520])], storage: .f16)) { e in
            XCTAssertTrue("\(e)".contains("big") && "\(e)".contains("float16 range"), "\(e)")
        }
    }

    func testSafetensorsErrorsNameTheFile() throws {
        let path = tmp("bad.safetensors")
        defer { try? FileManager.default.removeItem(atPath: path) }
        var good = try Safetensors.encode(["w": Tensor(shape: [4], data: [1, 2, 3, 4])])
        for (bytes, expect) in [(good.prefix(5), "truncated"), (good.prefix(good.count - 3), "outside"),
                                (Data([200, 0, 0, 0, 0, 0, 0, 0]) + Data(repeating: 32, count: 8), "exceeds")] {
            try bytes.write(to: URL(fileURLWithPath: path))
            XCTAssertThrowsError(try Safetensors.read(path)) { e in
                XCTAssertTrue("\(e)".contains(path), "\(e)"); XCTAssertTrue("\(e)".contains(expect), "\(e)")
            }
        }
        good.replaceSubrange(8..<9, with: [UInt8(ascii: "x")])
        try good.write(to: URL(fileURLWithPath: path))
        XCTAssertThrowsError(try Safetensors.read(path)) { XCTAssertTrue("\($0)".contains("JSON")) }
        XCTAssertThrowsError(try Safetensors.write(["w": Tensor(shape: [1], data: [.nan])], to: path))
    }

    func testStrictStateDictLoading() throws {
        var rng = SeededRNG(seed: 1)
        let net = Sequential([("conv", Conv2D(1, 2, kernel: (3, 3), rng: &rng)), ("bn", BatchNorm(2))])
        var sd = net.stateDict()
        XCTAssertEqual(Set(sd.keys), ["conv.weight", "conv.bias", "bn.weight", "bn.bias", "bn.running_mean", "bn.running_var", "bn.num_batches_tracked"])
        try net.load(stateDict: sd, source: "x")
        sd["conv.weight"] = Tensor(zeros: [2, 1, 5, 5])
        XCTAssertThrowsError(try net.load(stateDict: sd, source: "ckpt.safetensors")) { XCTAssertTrue("\($0)".contains("conv.weight")) }
        sd = net.stateDict(); sd["extra"] = Tensor(zeros: [1])
        XCTAssertThrowsError(try net.load(stateDict: sd, source: "ckpt")) { XCTAssertTrue("\($0)".contains("unexpected tensors: extra")) }
        sd = net.stateDict(); sd["bn.running_var"] = nil
        XCTAssertThrowsError(try net.load(stateDict: sd, source: "ckpt")) { XCTAssertTrue("\($0)".contains("missing tensors: bn.running_var")) }
    }

    func testNPYRoundTripAndNumpyCompatibleHeader() throws {
        let path = tmp("x.npy")
        defer { try? FileManager.default.removeItem(atPath: path) }
        let t = Tensor(shape: [3, 2], data: [1, 2, 3, 4, 5, 6])
        try NPY.write(t, to: path)
        XCTAssertEqual(try NPY.read(path), t)
        let d = [UInt8](try Data(contentsOf: URL(fileURLWithPath: path)))
        XCTAssertEqual((10 + Int(d[8]) + Int(d[9]) << 8) % 64, 0)
        XCTAssertTrue(String(decoding: d[10..<70], as: UTF8.self).contains("'shape': (3, 2)"))
        if (try? Subprocess.run("python3", ["-c", "import numpy"])) != nil {
            let out = try Subprocess.run("python3", ["-c", "import numpy,sys; a=numpy.load(sys.argv[1]); print(a.shape, a.dtype, a.sum())", path])
            XCTAssertEqual(String(decoding: out, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines), "(3, 2) float32 21.0")
        }
        try Data([1, 2, 3]).write(to: URL(fileURLWithPath: path))
        XCTAssertThrowsError(try NPY.read(path)) { XCTAssertTrue("\($0)".contains("not a .npy")) }
    }
}

extension IOTests {
    /// Residual blocks inside a Sequential get distinct PyTorch-style names, buffers included.
    func testNestedResidualNamesAreDistinct() throws {
        var rng = SeededRNG(seed: 2)
        let block = Residual(body: Sequential([("0", Conv2D(2, 2, kernel: (3, 3), padding: .same, rng: &rng)), ("1", BatchNorm(2))]),
                             shortcut: Conv2D(2, 2, kernel: (1, 1), rng: &rng))
        let net = Sequential([("stem", Conv2D(1, 2, kernel: (3, 3), rng: &rng)), ("block", block)])
        let keys = Set(net.stateDict().keys)
        XCTAssertTrue(keys.isSuperset(of: ["block.body.0.weight", "block.body.1.running_mean", "block.shortcut.weight", "block.shortcut.bias"]))
        XCTAssertEqual(keys.count, net.namedParameters.count + net.namedBuffers.count)  // no name collides
        var x = Tensor(zeros: [1, 1, 6, 6]); for i in x.data.indices { x.data[i] = rng.normal() }
        _ = net.forward(x, training: true)
        var rng2 = SeededRNG(seed: 9)
        let copy = Sequential([("stem", Conv2D(1, 2, kernel: (3, 3), rng: &rng2)),
                               ("block", Residual(body: Sequential([("0", Conv2D(2, 2, kernel: (3, 3), padding: .same, rng: &rng2)), ("1", BatchNorm(2))]),
                                                  shortcut: Conv2D(2, 2, kernel: (1, 1), rng: &rng2)))])
        try copy.load(stateDict: net.stateDict(), source: "mem")
        XCTAssertEqual(copy.forward(x, training: false), net.forward(x, training: false))
    }
}

extension IOTests {
    /// Per-sample streams: the same (seed, epoch, position) gives the same numbers, any other key a different
    /// stream, and the draws look uniform (mean ≈ 0.5 over many streams' first values).
    func testPerSampleStreamsAreDeterministicAndDistinct() {
        var a = SeededRNG(seed: 5, epoch: 3, position: 17), b = SeededRNG(seed: 5, epoch: 3, position: 17)
        XCTAssertEqual((0..<8).map { _ in a.next() }, (0..<8).map { _ in b.next() })
        var firsts = Set<UInt64>(), sum = 0.0
        for seed in [0, 1] as [UInt64] { for epoch in 0..<10 { for position in 0..<100 {
            var r = SeededRNG(seed: seed, epoch: epoch, position: position)
            firsts.insert(r.next())
            sum += Double(r.uniform())
        } } }
        XCTAssertEqual(firsts.count, 2000)  // no two keys share a stream
        XCTAssertEqual(sum / 2000, 0.5, accuracy: 0.03)
    }
}
