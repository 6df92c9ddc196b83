import XCTest
#if canImport(FoundationXML)
import FoundationXML
#endif
import EmovoxCore
import EmovoxData
import EmovoxAudio
import EmovoxModels
import EmovoxLabelling
import EmovoxEval
import EmovoxInference
import EmovoxAnalysis
@testable import EmovoxDemo

final class DemoTests: XCTestCase {
    /// The FER+ face pool: test faces only, by majority vote under canonical names, at most N per emotion, seeded.
    func testFERPlusFacePool() throws {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("EmovoxTeacherTrainingTests/Fixtures/ferplus").path
        let pool = try PseudoPairedCorpus.ferplusFaces(root: root, perEmotion: 2, seed: 1)
        XCTAssertFalse(pool.isEmpty)
        XCTAssertTrue(Set(pool.keys).isSubset(of: ["neutral", "happy", "surprise", "sad", "angry", "disgust", "fear", "contempt"]), "\(pool.keys)")
        for (_, files) in pool {
            XCTAssertLessThanOrEqual(files.count, 2)
            for f in files { XCTAssertTrue(f.contains("FER2013Test/") && FileManager.default.fileExists(atPath: f), f) }
        }
        XCTAssertEqual(try PseudoPairedCorpus.ferplusFaces(root: root, perEmotion: 2, seed: 1), pool)
        XCTAssertEqual(try PseudoPairedCorpus.ferplusFaces(root: root, perEmotion: 0, seed: 1), [:])
        let all = try PseudoPairedCorpus.ferplusFaces(root: root, perEmotion: 100, seed: 1)
        XCTAssertEqual(all.values.map(\.count).reduce(0, +), 8, "the fixture's 10 test faces minus the unknown- and NF-majority ones")
    }

    /// An emotion's pool is a function of (seed, emotion, its files) only: not of the other emotions, nor of the
    /// dictionary's iteration order (randomised per process, which once made two demo runs pair differently).
    func testFacePoolDrawIsIndependentOfOtherEmotions() {
        let happy = (0..<50).map { "h\($0).png" }, sad = (0..<50).map { "s\($0).png" }
        let both = PseudoPairedCorpus.drawPool(["happy": happy, "sad": sad], perEmotion: 5, seed: 3)
        let alone = PseudoPairedCorpus.drawPool(["happy": happy.reversed()], perEmotion: 5, seed: 3)
        XCTAssertEqual(both["happy"], alone["happy"])
        XCTAssertEqual(both["happy"]?.count, 5)
        XCTAssertNotEqual(both["happy"], Array(happy.sorted().prefix(5)), "a draw, not the first files")
        XCTAssertNotEqual(PseudoPairedCorpus.drawPool(["happy": happy], perEmotion: 5, seed: 4)["happy"], both["happy"])
    }

    /// Pseudo-pairing re-times a face video over the speech clip and repeats a still photo; it never copies labels.
    func testPseudoPairingRetimesFaceFrames() {
        let speech = Manifest(clips: [Clip(id: "s1", speaker: "a", audio: "s1.wav", label: "happy"),
                                      Clip(id: "s2", speaker: "a", audio: "s2.wav", label: "calm"),
                                      Clip(id: "s3", speaker: "b", audio: "s3.wav", label: "fear")])
        let faces: [String: (times: [Double], logits: [[Float]], duration: Double, still: Bool)] = [
            "hap.flv": ([0, 0.24, 0.48], [[0, 5, 0], [0, 4, 0], [0, 3, 0]], 0.72, false),
            "neu.jpg": ([0], [[0, 0, 7]], 0, true)]
        let (m, labels, unpaired) = PseudoPairedCorpus.build(speech: speech, sources: ["happy": ["hap.flv"], "neutral": ["neu.jpg"]], faces: faces,
                                                             durations: ["s1": 2.0, "s2": 1.0, "s3": 1.0], classes: ["a", "b", "c"], teacher: "t", seed: 0)
        XCTAssertEqual(m.clips.map(\.id), ["s1", "s2"])
        XCTAssertEqual(unpaired, ["fear": 1])
        XCTAssertEqual(m.clips[0].extra?["pairing"], "pseudo-paired")
        XCTAssertTrue(labels[0].times.allSatisfy { $0 >= 0 && $0 < 2 })
        XCTAssertGreaterThanOrEqual(labels[0].times.count, 7)  // a 0.72 s clip looped over 2 s
        XCTAssertEqual(labels[0].dominantClass, 1)
        XCTAssertEqual(labels[1].times.count, 4)  // the photo every 0.24 s over 1 s
        XCTAssertEqual(labels[1].dominantClass, 2)
    }

    func tempDir() throws -> String {
        let d = NSTemporaryDirectory() + "emovox-demo-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: d, withIntermediateDirectories: true)
        addTeardownBlock { try? FileManager.default.removeItem(atPath: d) }
        return d
    }

    /// Student checkpoints carry their spectrogram version; ones without it (trained before the int16 scale)
    /// are run with version 1, so an old student still sees the normalisation it was trained on.
    func testStudentRunnerHonoursTheCheckpointSpectrogramVersion() throws {
        let d = try tempDir()
        var rng = SeededRNG(seed: 3)
        let model = StudentModel(config: try StudentConfig.named("vggm-small", classes: 3), rng: &rng)
        try StudentCheckpoint.save(model, classes: ["a", "b", "c"], to: d + "/old.safetensors")
        try StudentCheckpoint.save(model, classes: ["a", "b", "c"], extra: ["spectrogram": "2"], to: d + "/new.safetensors")
        try StudentCheckpoint.save(model, classes: ["a", "b", "c"], extra: ["spectrogram": "7"], to: d + "/future.safetensors")
        XCTAssertEqual(try StudentRunner(checkpoint: d + "/old.safetensors").spectrogram.config.inputScale, 1)
        XCTAssertEqual(try StudentRunner(checkpoint: d + "/new.safetensors").spectrogram.config, SpectrogramConfig(bins: 257))
        XCTAssertThrowsError(try StudentRunner(checkpoint: d + "/future.safetensors")) { XCTAssertTrue("\($0)".contains("future.safetensors")) }
    }

    /// The report's per-emotion view: confusion matrices of the student and the teacher against the acted labels
    /// per split, per-class recall, the unheard-speaker probe; CSVs agree with the figures' inputs and the SVGs parse.
    func testReportHasConfusionMatricesRecallAndProbe() throws {
        let d = try tempDir(), classes = ["angry", "happy", "neutral"]
        var rng = SeededRNG(seed: 4)
        var clips: [Clip] = [], labels: [ClipTeacherLabels] = []
        for spk in 0..<4 { for k in 0..<9 {
            let id = "s\(spk)-\(k)", acted = ["angry", "happy", "calm"][k % 3], path = "\(d)/\(id).wav"
            try WAVReader.encode16((0..<12_000).map { _ in rng.normal() * 0.05 * Float(1 + k % 3) }, sampleRate: 16000).write(to: URL(fileURLWithPath: path))
            let split = spk >= 2 ? "unheard" : (k < 2 ? "heard" : "train")
            clips.append(Clip(id: id, speaker: "spk\(spk)", audio: path, label: acted, split: split))
            let dominant = (k % 3 + (k == 4 ? 1 : 0)) % 3  // the teacher is right on all but one clip in nine
            var logit: [Float] = [0, 0, 0]; logit[dominant] = 3
            labels.append(ClipTeacherLabels(clip: id, source: "f.jpg", teacher: "t", classes: classes, times: [0], logits: [logit], framesSampled: 1, framesWithoutFace: 0))
        } }
        let model = StudentModel(config: try StudentConfig.named("vggm-small", classes: 3), rng: &rng)
        let result = try Analysis.run(manifest: Manifest(clips: clips), labels: labels, student: StudentRunner(model: model, classes: classes))
        _ = try Analysis.write(result, to: d + "/report", runDir: nil, caveat: nil)

        let rows = CSV.parse(try String(contentsOfFile: d + "/report/confusion.csv", encoding: .utf8)).dropFirst().filter { $0.count == 5 }
        func count(_ source: String, _ split: String) -> [[Int]] {
            classes.map { t in classes.map { p in rows.first { $0[0] == source && $0[1] == split && $0[2] == t && $0[3] == p }.flatMap { Int($0[4]) } ?? -1 } }
        }
        // The teacher's matrix on unheard: 18 clips, acted calm → neutral, one clip in nine moved one class on.
        let teacher = count("teacher", "unheard")
        XCTAssertEqual(teacher.flatMap { $0 }.reduce(0, +), 18)
        XCTAssertEqual(teacher, [[6, 0, 0], [0, 4, 2], [0, 0, 6]])
        XCTAssertEqual(count("student", "train").flatMap { $0 }.reduce(0, +), 14)
        XCTAssertEqual(count("student", "heard").flatMap { $0 }.reduce(0, +), 4)
        let recall = CSV.parse(try String(contentsOfFile: d + "/report/per_class_recall.csv", encoding: .utf8))
        let happy = try XCTUnwrap(recall.first { $0.count == 5 && $0[0] == "teacher" && $0[1] == "unheard" && $0[2] == "happy" })
        XCTAssertEqual(Double(happy[3])!, 4.0 / 6, accuracy: 1e-4)
        XCTAssertEqual(happy[4], "6")

        // The probe: leave-one-speaker-out over the 2 unheard speakers, on the acted classes as named in the corpus.
        let probe = try XCTUnwrap(result.unheardProbe)
        XCTAssertEqual(probe.student.classNames, ["angry", "calm", "happy"])
        XCTAssertEqual(probe.student.items, 18)
        XCTAssertEqual(probe.student.pooled.confusion.flatMap { $0 }.reduce(0, +), 18)
        XCTAssertTrue(rows.contains { $0[0].hasPrefix("probe") && $0[1] == "unheard" })

        for svg in ["confusion_acted.svg", "confusion_probe.svg"] {
            let text = try String(contentsOfFile: d + "/report/" + svg, encoding: .utf8)
            XCTAssertTrue(XMLParser(data: Data(text.utf8)).parse(), "\(svg) is not well-formed")
            XCTAssertEqual(text.components(separatedBy: "class=\"cell\"").count - 1, 9 * (svg == "confusion_acted.svg" ? 6 : 1))  // 3 splits × 2 sources
        }
        let html = try String(contentsOfFile: d + "/report/index.html", encoding: .utf8)
        XCTAssertTrue(html.contains("Per emotion, against the acted labels"))
        XCTAssertTrue(html.contains("teacher · unheard · UA 0.89"))
        XCTAssertTrue(html.contains("Frozen-student probe on the unheard speakers"))
    }
}
