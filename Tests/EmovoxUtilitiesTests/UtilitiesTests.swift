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
}
