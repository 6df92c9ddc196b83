import XCTest
import Foundation
import EmovoxCore
@testable import EmovoxData

final class EmoBoxTests: XCTestCase {
    /// A dataset folder in EmoBox's layout: fold_<k>/<name>_{train,test}_fold_<k>.jsonl with EmoBox's record
    /// fields; `wav` paths as EmoBox writes them (downloads/…), resolved here by file name under the audio root.
    func testReadsFoldsAndResolvesAudio() throws {
        let dir = NSTemporaryDirectory() + "emovox-emobox-\(UUID().uuidString)"
        let fm = FileManager.default
        try fm.createDirectory(atPath: dir + "/toy/fold_1", withIntermediateDirectories: true)
        try fm.createDirectory(atPath: dir + "/toy/fold_2", withIntermediateDirectories: true)
        try fm.createDirectory(atPath: dir + "/audio/Actor_01", withIntermediateDirectories: true)
        defer { try? fm.removeItem(atPath: dir) }
        for n in ["a", "b", "c"] { fm.createFile(atPath: dir + "/audio/Actor_01/\(n).wav", contents: Data([0])) }
        func rec(_ n: String, _ emo: String) -> String {
            "{\"key\": \"toy-\(n)\", \"dataset\": \"toy\", \"wav\": \"downloads/toy/Actor_01/\(n).wav\", \"type\": \"raw\", \"sample_rate\": 16000, \"length\": 1.0, \"task\": \"category\", \"emo\": \"\(emo)\", \"channel\": 1}"
        }
        try [rec("a", "Fearful"), rec("b", "Calm")].joined(separator: "\n").write(toFile: dir + "/toy/fold_1/toy_train_fold_1.jsonl", atomically: true, encoding: .utf8)
        try rec("c", "Happy").write(toFile: dir + "/toy/fold_1/toy_test_fold_1.jsonl", atomically: true, encoding: .utf8)
        try rec("c", "Happy").write(toFile: dir + "/toy/fold_2/toy_train_fold_2.jsonl", atomically: true, encoding: .utf8)
        try [rec("a", "Fearful"), rec("b", "Calm")].joined(separator: "\n").write(toFile: dir + "/toy/fold_2/toy_test_fold_2.jsonl", atomically: true, encoding: .utf8)
        try "{\"Fearful\": \"Fear\", \"Calm\": \"Calm\", \"Happy\": \"Happy\"}".write(toFile: dir + "/toy/label_map.json", atomically: true, encoding: .utf8)

        let folds = try EmoBox.folds(dir + "/toy", audioRoot: dir + "/audio")
        XCTAssertEqual(folds.map(\.index), [1, 2])
        XCTAssertEqual(folds[0].train.map(\.id), ["toy-a", "toy-b"])
        XCTAssertEqual(folds[0].train.map(\.label), ["fear", "calm"])
        XCTAssertEqual(folds[0].test[0].audio, dir + "/audio/Actor_01/c.wav")
        XCTAssertEqual(folds[1].test.count, 2)

        XCTAssertThrowsError(try EmoBox.folds(dir + "/toy", audioRoot: dir + "/toy")) { e in
            XCTAssertTrue("\(e)".contains("downloads/toy/Actor_01/a.wav"), "\(e)")
        }
        XCTAssertThrowsError(try EmoBox.folds(dir + "/audio")) { e in XCTAssertTrue("\(e)".contains("fold_"), "\(e)") }
    }

    func testLabelMap() throws {
        let m = try LabelMap("calm=neutral, Surprised=-")
        XCTAssertEqual(m.apply("Calm"), "neutral")
        XCTAssertNil(m.apply("surprise"))          // through the canonical name
        XCTAssertEqual(m.apply("ANG"), "angry")    // unmapped labels stay (canonical)
        XCTAssertThrowsError(try LabelMap("calm"))
    }
}
