import XCTest
import Foundation
import EmovoxCore
import EmovoxAudioStore
import EmovoxVision

/// Inputs that crashed a parser under fuzzing (scripts/fuzz.sh, --asan), kept so each stays a clear EmovoxError.
final class FuzzRegressionTests: XCTestCase {
    /// A store index whose sample count (42949672961000) does not fit the reader's Int32 arrays: it trapped
    /// on the conversion (and -Ounchecked builds truncated it silently, then mapped the wrong span).
    func testStoreIndexWithOutOfRangeSampleCount() throws {
        let store = try tempDir()
        try Data(count: 20000).write(to: URL(fileURLWithPath: store + "/data-all-00000.s16"))
        let index = "# emovox audio store v1\tid\tfile\toffset\tsamples\trate\n"
            + "a\tdata-all-00000.s16\t0\t42949672961000\t16000\n" + "b\tdata-all-00000.s16\t2000\t1500\t16000\n"
        try Data(index.utf8).write(to: URL(fileURLWithPath: store + "/index.tsv"))
        XCTAssertThrowsError(try AudioStore(store)) { XCTAssert("\($0)".contains("index.tsv") && "\($0)".contains("out of range"), "\($0)") }
        // An offset near Int.max: offset + 2·samples overflowed in the end-of-file check.
        try Data((index.components(separatedBy: "\n")[0] + "\na\tdata-all-00000.s16\t9223372036854775000\t1000\t16000\n").utf8)
            .write(to: URL(fileURLWithPath: store + "/index.tsv"))
        XCTAssertThrowsError(try AudioStore(store)) { XCTAssert("\($0)".contains("out of range"), "\($0)") }
        // A data file outside the store.
        try Data((index.components(separatedBy: "\n")[0] + "\na\t../data-all-00000.s16\t0\t1000\t16000\n").utf8)
            .write(to: URL(fileURLWithPath: store + "/index.tsv"))
        XCTAssertThrowsError(try AudioStore(store)) { XCTAssert("\($0)".contains("not a file name inside the store"), "\($0)") }
    }

    /// A P5 image whose maxval (25) is below its samples (0xFF): 255·255/25 does not fit a byte and trapped; a P2
    /// image with a negative sample trapped the same way. (-Ounchecked builds wrapped them into wrong pixels.)
    func testPGMSampleAboveMaxval() throws {
        let d = try tempDir()
        let cases: [(String, [UInt8], String)] = [
            ("p5.pgm", Array("P5\n# a comment\n8 6\n25\n".utf8) + [UInt8](repeating: 0xff, count: 48), "above the maxval 25"),
            ("p2.pgm", Array("P2\n2 1\n15\n3 -4\n".utf8), "outside 0…15"),
        ]
        for (file, bytes, message) in cases {
            let path = d + "/" + file
            try Data(bytes).write(to: URL(fileURLWithPath: path))
            XCTAssertThrowsError(try ImageIO.read(path)) { XCTAssert("\($0)".contains(path) && "\($0)".contains(message), "\($0)") }
        }
        // In range, scaled to 8 bits as before.
        let ok = d + "/ok.pgm"
        try Data(Array("P5 2 1 25\n".utf8) + [0, 25]).write(to: URL(fileURLWithPath: ok))
        XCTAssertEqual(try ImageIO.read(ok).pixels, [0, 255])
    }
}
