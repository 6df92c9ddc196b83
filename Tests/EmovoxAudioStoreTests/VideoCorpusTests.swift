import XCTest
import EmovoxCore
import EmovoxUtilities
import EmovoxAudio
import EmovoxData
@testable import EmovoxAudioStore

/// A folder of real (tiny, generated) videos scanned as a corpus, and packed with clip offsets.
final class VideoCorpusTests: XCTestCase {
    func tempDir() throws -> String {
        let d = NSTemporaryDirectory() + "emovox-videocorpus-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: d, withIntermediateDirectories: true)
        addTeardownBlock { try? FileManager.default.removeItem(atPath: d) }
        return d
    }

    /// A 3 s video by the ffmpeg tool; `audio` a lavfi source, nil for none.
    func video(_ path: String, audio: String? = "aevalsrc=exprs='0.4*sin(2*PI*220*t)*sin(2*PI*3*t)':s=44100") throws {
        try FileManager.default.createDirectory(atPath: (path as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
        var args = ["-v", "error", "-nostdin", "-y", "-f", "lavfi", "-i", "testsrc=size=64x48:rate=10"]
        if let audio { args += ["-f", "lavfi", "-i", audio] }
        let flv = path.hasSuffix(".flv")  // CREMA-D's container: FLV video with MP3 sound
        args += ["-t", "3", "-c:v", flv ? "flv" : "mpeg4"] + (audio == nil ? ["-an"] : ["-c:a", flv ? "libmp3lame" : "aac"]) + [path]
        _ = try Subprocess.run("ffmpeg", args, forFile: path)
    }

    func testScanOfAVideoTree() throws {
        guard Subprocess.which("ffmpeg") != nil else { throw XCTSkip("the ffmpeg tool (which makes the test videos) is not installed") }
        let d = try tempDir()
        try video(d + "/ravdess/Actor_07/01-01-03-01-02-01-07.mp4")
        try video(d + "/ravdess/Actor_07/02-01-03-01-02-01-07.mp4", audio: nil)  // RAVDESS video-only: no soundtrack
        try video(d + "/cremad/1001_DFA_SAD_XX.flv")
        try video(d + "/mead/W009_level_3_angry_002.mp4")
        try video(d + "/vox2/id00017/5MkXgwdrmJw/00001.mp4")
        try video(d + "/talks/carol/keynote.mkv")
        try video(d + "/talks/carol/muted.mp4", audio: "anullsrc=r=44100:cl=mono")  // an audio stream of silence
        FileManager.default.createFile(atPath: d + "/talks/carol/broken.mp4", contents: Data("not a video".utf8))
        var report = BatchReport("corpus scan")
        report.emit = { _ in }
        var notes: [String] = []
        let m = try CorpusScan.scan(d, report: &report, note: { notes.append($0) })
        XCTAssertEqual(m.clips.map(\.id), ["cremad/1001_DFA_SAD_XX", "mead/W009_level_3_angry_002", "ravdess/Actor_07/01-01-03-01-02-01-07",
                                           "talks/carol/keynote", "vox2/id00017/5MkXgwdrmJw/00001"])
        XCTAssertEqual(m.clips.map(\.speaker), ["1001", "W009", "actor07", "talks/carol", "id00017"])
        XCTAssertEqual(m.clips.map(\.label), ["sad", "angry", "happy", nil, nil])
        XCTAssertEqual(report.done, 5)
        XCTAssertEqual(report.exitCode, BatchReport.someSkipped)
        let skipped = Dictionary(uniqueKeysWithValues: report.skipped.map { (($0.item as NSString).lastPathComponent, $0.reason) })
        XCTAssertEqual(Set(skipped.keys), ["02-01-03-01-02-01-07.mp4", "muted.mp4", "broken.mp4"])
        XCTAssertTrue(skipped["02-01-03-01-02-01-07.mp4"]!.contains("no audio stream (RAVDESS modality 02 is video-only)"), skipped.description)
        XCTAssertTrue(skipped["muted.mp4"]!.contains("silent soundtrack"), skipped.description)
        XCTAssertTrue(skipped["broken.mp4"]!.contains("cannot open"), skipped.description)
        XCTAssertEqual(notes, [])
        // Manifests keep the clips as they are: the video is both the speech and the face source.
        XCTAssertTrue(m.clips.allSatisfy { $0.audio == $0.video })
    }

    /// `corpus pack` of clips that are parts of one recording holds exactly those slices of the whole decode.
    func testPackWithOffsetsHoldsSlicesOfTheWholeFile() throws {
        guard Subprocess.which("ffmpeg") != nil else { throw XCTSkip("the ffmpeg tool (which makes the test videos) is not installed") }
        let d = try tempDir()
        let rec = d + "/recording.mp4"
        try video(rec)
        let whole = try AudioLoader.load(rec)
        let parts = [(0.0, 1.0), (1.25, 2.5), (2.6, 3.0)]
        let clips = parts.enumerated().map { Clip(id: "u\($0.offset)", speaker: "s", audio: rec, video: rec, start: $0.element.0, end: $0.element.1) }
            + [Clip(id: "whole", speaker: "s", audio: rec, video: rec)]
        let report = try AudioStorePacker.pack(Manifest(clips: clips), to: d + "/store", showProgress: false)
        XCTAssertEqual(report.packed, 4)
        let store = try AudioStore(d + "/store")
        func int16(_ x: ArraySlice<Float>) -> [Int] { x.map { Int(max(-32768, min(32767, ($0 * 32768).rounded()))) } }
        XCTAssertEqual(store.int16(store.entry("whole")!).map(Int.init), int16(whole[...]))
        for (k, (s, e)) in parts.enumerated() {
            let got = store.int16(store.entry("u\(k)")!).map(Int.init)
            let want = int16(whole[Int(s * 16000)..<min(Int(e * 16000), whole.count)])
            XCTAssertEqual(got.count, want.count, "u\(k)")
            // AAC's noise substitution restarts its generator after a seek: at most a few LSBs of 16-bit audio (see DecoderTests).
            let worst = zip(got, want).map { abs($0 - $1) }.max() ?? 0
            XCTAssertLessThanOrEqual(worst, 330, "u\(k): max difference \(worst) / 32768")
        }
    }

    func testTalkingAVScansAsItIs() throws {
        guard let av = SharedData.path("data/talking_av", from: #filePath) else {
            throw XCTSkip("needs ../shared/data/talking_av (real talking-face videos); absent on this checkout")
        }
        var report = BatchReport("corpus scan")
        report.emit = { _ in }
        var notes: [String] = []
        let m = try CorpusScan.scan(av, report: &report, note: { notes.append($0) })
        XCTAssertEqual(m.clips.count, 22)
        XCTAssertEqual(report.skipped.count, 0)
        XCTAssertTrue(m.clips.allSatisfy { $0.audio == $0.video && $0.audio.hasSuffix(".mp4") && $0.label == nil })
        XCTAssertEqual(Set(m.clips.map(\.speaker)).count, 22)  // all in the root: each video its own speaker, and the scan says so
        XCTAssertEqual(notes.count, 1)
        XCTAssertTrue(m.clips.contains { $0.id == "retalking_1" })
    }
}
