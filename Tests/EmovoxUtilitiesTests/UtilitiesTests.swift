import XCTest
import Foundation
import EmovoxUtilities

final class UtilitiesTests: XCTestCase {
    func testBatchReportSummaryAndExitStatus() {
        var lines: [String] = []
        var r = BatchReport("predict")
        r.emit = { lines.append($0) }
        XCTAssertEqual(r.exitCode, 0)
        r.succeeded(2)
        XCTAssertEqual(r.exitCode, BatchReport.allDone)
        r.skip("b.wav", EmovoxError("empty file", file: "b.wav"))
        r.warn("c.wav", "silent: every sample is zero (1.00 s)")
        XCTAssertEqual(r.exitCode, 3)
        XCTAssertEqual(lines, ["skipped b.wav: empty file", "warning: c.wav: silent: every sample is zero (1.00 s)"])
        XCTAssertEqual(r.summary, "predict: 2 done, 1 skipped: b.wav (empty file); 1 warning")
        var none = BatchReport("label")
        none.emit = { _ in }
        none.skip("x", "no such file")
        XCTAssertEqual(none.exitCode, 1)
    }

    /// A write replaces the file whole and leaves no temporary file; a folder that cannot be written is an error
    /// naming the file.
    func testAtomicWriteReplacesWholeAndNamesTheFileOnFailure() throws {
        let d = NSTemporaryDirectory() + "emovox-utilities-\(UUID().uuidString)"
        addTeardownBlock { try? FileManager.default.removeItem(atPath: d) }
        try AtomicFile.write("first version, longer than the second", to: d + "/sub/a.txt")
        try AtomicFile.write("second", to: d + "/sub/a.txt")
        XCTAssertEqual(try String(contentsOfFile: d + "/sub/a.txt", encoding: .utf8), "second")
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: d + "/sub"), ["a.txt"], "no temporary file left")
        try "a file, not a folder".write(toFile: d + "/plain", atomically: false, encoding: .utf8)
        XCTAssertThrowsError(try AtomicFile.write("x", to: d + "/plain/b.txt")) {
            XCTAssertTrue($0 is EmovoxError && "\($0)".hasPrefix(d + "/plain/b.txt: cannot write"), "\($0)")
        }
    }

    /// The bytes depend on the values only: keys sorted at every level, slashes not escaped.
    func testCanonicalJSONBytesDependOnlyOnTheValues() throws {
        struct Row: Encodable { let path: String; let scores: [String: Double] }
        let a = try CanonicalJSON.string(Row(path: "a/b.wav", scores: ["sad": 0.25, "angry": 0.5, "happy": 0.25]))
        XCTAssertEqual(a, #"{"path":"a/b.wav","scores":{"angry":0.5,"happy":0.25,"sad":0.25}}"#)
        var reordered: [String: Double] = [:]
        for (k, v) in [("happy", 0.25), ("sad", 0.25), ("angry", 0.5)] { reordered[k] = v }
        XCTAssertEqual(try CanonicalJSON.string(Row(path: "a/b.wav", scores: reordered)), a)
    }

    func testDurationsReadAsMinutesOrHours() {
        XCTAssertEqual(ProgressBar.formatDuration(185), "3m05s")
        XCTAssertEqual(ProgressBar.formatDuration(3720), "1h02m")
        XCTAssertEqual(ProgressBar.formatDuration(.nan), "?")
        XCTAssertEqual(ProgressBar.formatDuration(-1), "?")
    }
}
