import XCTest
import Foundation
import EmovoxCore
import EmovoxUtilities
import EmovoxAudio
import EmovoxModels
import EmovoxData
import EmovoxEval
@testable import EmovoxInference

final class ListedFoldProbeTests: XCTestCase {
    /// Listed folds: labels go through the map, a class the training side lacks is left out and counted,
    /// each distinct clip is scored once, and every fold reports on exactly its own test list.
    func testFoldsMappingAndLeftOutClips() throws {
        let dir = NSTemporaryDirectory() + "emovox-listed-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        func clip(_ speaker: String, _ label: String, _ k: Int, pitch: Double) throws -> Clip {
            let samples = (0..<16000).map { Float(0.3 * sin(2 * Double.pi * pitch * Double($0) / 16000)) }
            let path = "\(dir)/\(speaker)-\(label)-\(k).wav"
            try AtomicFile.write(WAVReader.encode16(samples, sampleRate: 16000), to: path)
            return Clip(id: "\(speaker)-\(label)-\(k)", speaker: speaker, audio: path, label: label)
        }
        var bySpeaker: [String: [Clip]] = [:]
        for s in ["a", "b", "c"] {
            for k in 0..<2 {
                bySpeaker[s, default: []] += [try clip(s, s == "c" ? "glad" : "happy", k, pitch: 300 + Double(k) * 20),
                                              try clip(s, "sad", k, pitch: 120 + Double(k) * 10)]
            }
        }
        let odd = try clip("c", "calm", 0, pitch: 200)
        let folds = [ListedFoldProbe.Fold(id: 1, train: bySpeaker["a"]! + bySpeaker["b"]!, test: bySpeaker["c"]! + [odd]),
                     ListedFoldProbe.Fold(id: 2, train: bySpeaker["b"]! + bySpeaker["c"]!, test: bySpeaker["a"]!)]
        var rng = SeededRNG(seed: 2)
        let runner = StudentRunner(model: StudentModel(config: .vggmSmall(classes: 4), rng: &rng), classes: ["w", "x", "y", "z"])
        let out = try ListedFoldProbe.run(folds, description: "test", student: runner, embedding: false,
                                          map: try LabelMap("glad=happy"), c: 1, seed: 0)
        XCTAssertEqual(out.student.classNames, ["happy", "sad"])
        XCTAssertEqual(out.dropped, ["test label 'calm' not in training": 1])
        XCTAssertEqual(out.student.items, 12, "each of the 12 distinct clips scored once")
        XCTAssertEqual(out.student.perFold.map { $0["fold"]! }, [1, 2])
        XCTAssertEqual(out.student.perFold.map { $0["n"]! }, [4, 4])
        XCTAssertEqual(out.student.pooled.confusion.flatMap { $0 }.reduce(0, +), 8)
        XCTAssertEqual(out.student.pooled.confusion.map { $0.reduce(0, +) }, [4, 4], "two happy and two sad per test fold")
        XCTAssertThrowsError(try ListedFoldProbe.run([ListedFoldProbe.Fold(id: 1, train: bySpeaker["a"]!, test: bySpeaker["b"]!)],
                                                     description: "t", student: runner, embedding: false,
                                                     map: try LabelMap("sad=-"), c: 1, seed: 0)) { e in
            XCTAssertTrue("\(e)".contains("need two or more"), "\(e)")
        }
    }
}
