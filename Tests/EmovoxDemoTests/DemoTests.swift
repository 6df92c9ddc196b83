import XCTest
import EmovoxCore
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
}
