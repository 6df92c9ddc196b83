import XCTest
import EmovoxCore
import EmovoxData
@testable import EmovoxDemo

final class DemoTests: XCTestCase {
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
