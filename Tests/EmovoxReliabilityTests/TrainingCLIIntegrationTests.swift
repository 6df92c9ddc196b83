import XCTest
import Foundation
import EmovoxCore
import EmovoxUtilities
import EmovoxVision

/// `teacher-train` through the built CLI: SIGKILL at random points and resume ends with the uninterrupted run's files,
/// byte for byte (the training-run skeleton it shares with `distill`); typed options refuse unknown values with the list.
extension CLIIntegrationTests {
    /// A tiny FER+ release layout: 48×48 grey faces whose bright blob's position is the majority emotion.
    func writeFERPlus(_ root: String, train: Int, valid: Int) throws {
        var rng = SeededRNG(seed: 3)
        for (split, count) in [("FER2013Train", train), ("FER2013Valid", valid)] {
            try FileManager.default.createDirectory(atPath: root + "/" + split, withIntermediateDirectories: true)
            var rows: [String] = []
            for i in 0..<count {
                let emotion = i % 8
                let (cx, cy) = (8 + (emotion % 4) * 10, 14 + (emotion / 4) * 20)
                let pixels = (0..<(48 * 48)).map { p -> UInt8 in
                    let (x, y) = (p % 48, p / 48)
                    let blob = (x - cx) * (x - cx) + (y - cy) * (y - cy) < 36 ? 150 : 0
                    return UInt8(clamping: 60 + blob + Int(rng.uniform() * 40))
                }
                let name = String(format: "fer%07d.pgm", i)
                try ImageIO.writePGM(GrayImage(width: 48, height: 48, pixels: pixels), to: root + "/" + split + "/" + name)
                var votes = [Int](repeating: 0, count: 10)
                votes[emotion] = 7; votes[(emotion + 1) % 8] = 3
                rows.append("\(name),\"(0, 0, 48, 48)\"," + votes.map(String.init).joined(separator: ","))
            }
            try (rows.joined(separator: "\n") + "\n").write(toFile: root + "/" + split + "/label.csv", atomically: true, encoding: .utf8)
        }
    }

    func testTeacherTrainKilledAtRandomPointsResumesToTheSameWeights() throws {
        let d = try tempDir()
        try writeFERPlus(d + "/ferplus", train: 48, valid: 16)
        let epochs = 8
        func train(_ out: String) -> [String] {
            ["teacher-train", "--data", d + "/ferplus", "--out", out, "--model", "vgg-fer", "--epochs", String(epochs), "--batch-size", "8",
             "--optimizer", "adam", "--lr", "3e-3", "--lr-end", "1e-3", "--seed", "5", "--threads", "2", "--resume"]
        }
        let t0 = Date()
        let straight = try run(train(d + "/straight"), in: d)
        XCTAssertEqual(straight.status, 0, straight.stderr)
        let full = Date().timeIntervalSince(t0)
        let (killedAt, final) = try killAndResume(train(d + "/killed"), in: d, full: full, kills: 4, seed: 26) {
            Double(((try? String(contentsOfFile: d + "/killed/epochs.csv", encoding: .utf8)) ?? "x").split(separator: "\n").count - 1) / Double(epochs)
        }
        XCTAssertEqual(final.status, 0, final.stderr)
        XCTAssertGreaterThan(killedAt.count, 0, "the run ended before any kill: make it longer")
        let a = try files(d + "/straight", except: ["timing.csv"]), b = try files(d + "/killed", except: ["timing.csv"])
        XCTAssertEqual(Set(a.keys), ["resume.safetensors", "last.safetensors", "teacher.safetensors", "trainer_state.json", "epochs.csv"])
        XCTAssertEqual(Set(a.keys), Set(b.keys))
        for (name, bytes) in a { XCTAssertEqual(bytes, b[name], "\(name): resumed after \(killedAt.count) kills ≠ uninterrupted") }
        XCTAssertEqual(try String(contentsOfFile: d + "/killed/epochs.csv", encoding: .utf8).split(separator: "\n").count, epochs + 1)
        print("teacher-train: SIGKILL at \(killedAt.map { String(format: "%.2f", $0) }) s of a \(String(format: "%.2f", full)) s run; resumed files bitwise equal")

        // Resuming with another configuration is refused, naming the parameter (and no file changes).
        let other = try run(train(d + "/killed").map { $0 == "5" ? "6" : $0 }, in: d)
        XCTAssertEqual(other.status, 1)
        XCTAssertTrue(other.stderr.contains("another configuration (seed differ"), other.stderr)
        XCTAssertEqual(try files(d + "/killed", except: ["timing.csv"]), b)
    }

    /// Options with a fixed set of values refuse anything else with the list of valid values, before doing any work.
    func testUnknownOptionValuesAreRefusedWithTheValidOnes() throws {
        let d = try tempDir()
        let cases: [([String], [String])] = [
            (["label", d + "/nothing.jsonl", "--out", d + "/l.jsonl", "--format", "ravdes"], ["'ravdes'", "voxceleb", "ravdess", "cremad", "manifest"]),
            (["probe", "--student", d + "/s.safetensors", "--corpus", d, "--format", "csvv"], ["'csvv'", "auto", "iemocap"]),
            (["probe", "--student", d + "/s.safetensors", "--corpus", d, "--features", "fc7"], ["'fc7'", "logits", "embedding"]),
            (["distill", "--corpus", d + "/m.jsonl", "--labels", d + "/l.jsonl", "--out", d + "/r", "--model", "vgg"], ["'vgg'", "vggm", "vggm-small"]),
            (["teacher-train", "--data", d, "--out", d + "/t", "--optimizer", "adamw"], ["'adamw'", "sgd", "adam"]),
            (["teacher-train", "--data", d, "--out", d + "/t", "--mode", "soft"], ["'soft'", "distribution", "majority"]),
            (["teacher-train", "--data", d, "--out", d + "/t", "--model", "resnet"], ["'resnet'", "vgg-fer", "mini-xception", "mini-xception-wide"]),
            (["teacher-eval", "--data", d, "--out", d + "/e", "--split", "validation"], ["'validation'", "train", "valid", "test"]),
            (["demo", "--out", d + "/demo", "--recipe", "fast"], ["'fast'", "demo", "demo-before", "paper"]),
        ]
        for (args, expected) in cases {
            let r = try run(args, in: d)
            XCTAssertEqual(r.status, 64, "\(args): \(r.stderr)")  // EX_USAGE: refused while parsing
            for e in expected { XCTAssertTrue(r.stderr.contains(e), "\(args): no \(e) in \(r.stderr)") }
        }
        XCTAssertFalse(FileManager.default.fileExists(atPath: d + "/l.jsonl"), "nothing is labelled after a refused --format")
    }
}
