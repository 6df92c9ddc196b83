import XCTest
import EmovoxCore
import EmovoxData
import EmovoxLabelling
@testable import EmovoxDistill

extension XCTestCase {
    /// A fresh folder, removed after the test.
    func tempDir() throws -> String {
        let d = NSTemporaryDirectory() + "emovox-distill-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: d, withIntermediateDirectories: true)
        addTeardownBlock { try? FileManager.default.removeItem(atPath: d) }
        return d
    }
}

final class DistillTests: XCTestCase {

    func labels(_ id: String, times: [Double], logits: [[Float]]) -> ClipTeacherLabels {
        ClipTeacherLabels(clip: id, source: "v.mp4", teacher: "t", classes: ["a", "b", "c"], times: times, logits: logits, framesSampled: times.count, framesWithoutFace: 0)
    }

    /// Target = softmax(max over the crop's frames of the logits / T); dominant = class of the single largest logit.
    func testSoftTargetsPoolFramesInsideTheCrop() {
        let l = labels("x", times: [0.0, 0.24, 0.48, 3.0], logits: [[1, 0, 0], [0, 2, 0], [0, 0, 5], [4, 0, 0]])
        XCTAssertEqual(l.maxLogits, [4, 2, 5])
        XCTAssertEqual(l.dominantClass, 2)
        let (t, inside) = DistillationTarget.softTarget(l, start: 0, end: 0.3, temperature: 2)
        XCTAssertTrue(inside)
        let e = [exp(0.5), exp(1.0), exp(0.0)], z = e.reduce(0, +)
        for c in 0..<3 { XCTAssertEqual(Double(t[c]), e[c] / z, accuracy: 1e-6) }
        let (fallback, inside2) = DistillationTarget.softTarget(l, start: 1, end: 2, temperature: 2)
        XCTAssertFalse(inside2)  // no face frame in [1, 2): the clip maximum is used
        XCTAssertEqual(fallback, Softmax.probabilities(Tensor(shape: [1, 3], data: [4, 2, 5]), temperature: 2).data)
    }

    func testLabelStoreResumesAfterATornLineAndMergesShards() throws {
        let d = try tempDir()
        let path = d + "/labels.jsonl"
        let a = try LabelStore.Appender(path)
        try a.append(labels("c1", times: [0], logits: [[1, 2, 3]]))
        try a.append(labels("c2", times: [0], logits: [[3, 2, 1]]))
        let h = FileHandle(forWritingAtPath: path)!; h.seekToEndOfFile(); h.write(Data("{\"clip\":\"c3\",\"sou".utf8)); try h.close()
        XCTAssertEqual(try LabelStore.read(path).map(\.clip), ["c1", "c2"])  // the torn record is ignored…
        let b = try LabelStore.Appender(path)                                 // …and dropped before appending
        try b.append(labels("c3", times: [0], logits: [[0, 0, 1]]))
        XCTAssertEqual(try LabelStore.read(path).map(\.clip), ["c1", "c2", "c3"])
        let other = d + "/shard1.jsonl"
        try LabelStore.Appender(other).append(labels("c4", times: [], logits: []))
        XCTAssertEqual(try LabelStore.merge([path, other, path], to: d + "/all.jsonl"), 4)
        XCTAssertEqual(try LabelStore.parseShard("2/5").index, 2)
        XCTAssertThrowsError(try LabelStore.parseShard("5/5"))
        try Data("{bad}\n{\"x\":1}\n".utf8).write(to: URL(fileURLWithPath: d + "/bad.jsonl"))
        XCTAssertThrowsError(try LabelStore.read(d + "/bad.jsonl")) { XCTAssertTrue("\($0)".contains("line 1")) }
    }

    /// Training two epochs in one go equals one epoch, a stop, and --resume for the second (weights, RNG, optimiser).
    func testResumeContinuesExactly() throws {
        var rng = SeededRNG(seed: 1)
        let items = (0..<6).map { i in
            DistillationItem(id: "c\(i)", audio: (0..<20_000).map { _ in rng.normal() * 0.1 },
                             labels: labels("c\(i)", times: [0, 0.5, 1], logits: [[Float(i % 3), 1, 0], [0, 1, 2], [1, 1, 1]]))
        }
        var cfg = DistillationConfig()
        cfg.epochs = 2; cfg.batchSize = 3; cfg.cropSamples = 12_000; cfg.learningRateStart = 1e-2; cfg.learningRateEnd = 1e-3
        let d = try tempDir()
        let straight = try DistillationTrainer.make(config: cfg, classes: ["a", "b", "c"], runDir: d + "/a", resume: false)
        straight.log = { _ in }
        try straight.train(items)
        var one = cfg; one.epochs = 2
        let first = try DistillationTrainer.make(config: one, classes: ["a", "b", "c"], runDir: d + "/b", resume: false)
        first.log = { _ in }
        first.epochsLimitForTesting = 1
        try first.train(items)
        XCTAssertEqual(first.history.count, 1)
        let resumed = try DistillationTrainer.make(config: one, classes: ["a", "b", "c"], runDir: d + "/b", resume: true)
        resumed.log = { _ in }
        try resumed.train(items)
        XCTAssertEqual(resumed.history.map(\.trainLoss), straight.history.map(\.trainLoss))
        XCTAssertEqual(resumed.model.network.stateDict(), straight.model.network.stateDict())
        XCTAssertTrue(FileManager.default.fileExists(atPath: d + "/b/epochs.csv"))
        var other = cfg; other.epochs = 3
        XCTAssertThrowsError(try DistillationTrainer.make(config: other, classes: ["a", "b", "c"], runDir: d + "/b", resume: true)) {
            XCTAssertTrue("\($0)".contains("another configuration"))
        }
    }

    func testNaNLossStopsWithAClearMessage() throws {
        var audio = (0..<13_000).map { Float($0 % 7) * 0.01 }
        audio[5000] = .nan  // corrupt input that slipped past the loaders
        let item = DistillationItem(id: "x", audio: audio, labels: labels("x", times: [0], logits: [[1, 0, 0]]))
        var cfg = DistillationConfig()
        cfg.epochs = 1; cfg.batchSize = 1; cfg.cropSamples = 12_000
        let t = try DistillationTrainer.make(config: cfg, classes: ["a", "b", "c"], runDir: try tempDir(), resume: false)
        t.log = { _ in }
        XCTAssertThrowsError(try t.train([item])) { XCTAssertTrue("\($0)".contains("loss became nan"), "\($0)") }
    }
}
