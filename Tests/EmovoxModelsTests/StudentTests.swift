import XCTest
import EmovoxCore
import EmovoxUtilities
@testable import EmovoxModels

final class StudentTests: XCTestCase {
    /// vggm on a 4.024 s 512×400 spectrogram is the paper's ~3.8 GMAC network ending in a 1×1 map.
    func testVGGMSummaryMatchesPaperShapes() throws {
        var rng = SeededRNG(seed: 0)
        let model = StudentModel(config: .vggm(classes: 7), rng: &rng)
        let rows = ModelSummary.rows(model.network, input: [1, 1, 512, 400])
        let byName = Dictionary(uniqueKeysWithValues: rows.map { ($0.name, $0) })
        XCTAssertEqual(byName["conv1"]!.outputShape, [1, 96, 254, 198])
        XCTAssertEqual(byName["mpool5"]!.outputShape, [1, 256, 9, 11])
        XCTAssertEqual(byName["conv6"]!.outputShape, [1, 4096, 1, 11])
        XCTAssertEqual(byName["apool6"]!.outputShape, [1, 4096, 1, 1])
        XCTAssertEqual(rows.last!.outputShape, [1, 7])
        let gmac = Double(rows.reduce(0) { $0 + $1.macs }) / 1e9
        XCTAssertEqual(gmac, 3.8, accuracy: 0.1)
        XCTAssertEqual(model.config.fc6Height, 9)
    }

    /// Any input length works: the small student runs on 1 s and 10 s inputs and gives [N, classes].
    func testSmallStudentAcceptsAnyLength() {
        var rng = SeededRNG(seed: 1)
        let model = StudentModel(config: .vggmSmall(classes: 5), rng: &rng)
        for frames in [model.minimumFrames, 98, 998] {
            var x = Tensor(zeros: [2, 1, 257, frames])
            for i in x.data.indices { x.data[i] = rng.normal() }
            let y = model.forward(x, training: false)
            XCTAssertEqual(y.shape, [2, 5])
            XCTAssertTrue(y.allFinite())
        }
    }

    /// A checkpoint round-trips through safetensors and reproduces the logits exactly.
    func testCheckpointRoundTrip() throws {
        var rng = SeededRNG(seed: 2)
        let model = StudentModel(config: .vggmSmall(classes: 3), rng: &rng)
        var x = Tensor(zeros: [2, 1, 257, 120])
        for i in x.data.indices { x.data[i] = rng.normal() }
        _ = model.forward(x, training: true)  // move BN running statistics away from their init
        let path = NSTemporaryDirectory() + "emovox-student-\(UUID().uuidString).safetensors"
        defer { try? FileManager.default.removeItem(atPath: path) }
        try StudentCheckpoint.save(model, classes: ["a", "b", "c"], to: path)
        let loaded = try StudentCheckpoint.load(path)
        XCTAssertEqual(loaded.classes, ["a", "b", "c"])
        XCTAssertEqual(loaded.model.config, model.config)
        XCTAssertEqual(loaded.model.forward(x, training: false).data, model.forward(x, training: false).data)
    }

    /// The PyTorch twin in tools/ loads an emovox checkpoint with strict names and reproduces its logits.
    func testPyTorchTwinReproducesLogits() throws {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().path
        guard (try? Subprocess.run("python3", ["-c", "import torch, safetensors"])) != nil else {
            throw XCTSkip("python3 with torch and safetensors is not installed (pip install torch safetensors)")
        }
        var rng = SeededRNG(seed: 3)
        let model = StudentModel(config: .vggmSmall(classes: 7), rng: &rng)
        var x = Tensor(zeros: [2, 1, 257, 200])
        for i in x.data.indices { x.data[i] = rng.normal() }
        for _ in 0..<2 { _ = model.forward(x, training: true) }
        let dir = NSTemporaryDirectory() + "emovox-twin-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try StudentCheckpoint.save(model, classes: FaceTeacher.fer2013Labels, to: dir + "/s.safetensors")
        try NPY.write(x, to: dir + "/x.npy")
        try NPY.write(model.forward(x, training: false), to: dir + "/y.npy")
        let out = try Subprocess.run("python3", [root + "/tools/student_torch.py", dir + "/s.safetensors", dir + "/x.npy",
                                                 "--expect", dir + "/y.npy", "--tol", "1e-4"])
        XCTAssertTrue(String(decoding: out, as: UTF8.self).contains("logits"))
    }
}
