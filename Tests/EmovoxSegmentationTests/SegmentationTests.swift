import XCTest
import Foundation
import EmovoxCore
import EmovoxUtilities
import EmovoxAudio
import EmovoxModels
import EmovoxInference
@testable import EmovoxSegmentation

/// Speech-like sound: a 140 Hz voice with harmonics to 3.5 kHz under a 4 Hz syllable envelope that never
/// falls silent inside an utterance, 10 ms ramps at the edges.
func voiced(seconds: Double, rate: Int = 16000, level: Float = 0.3) -> [Float] {
    let n = Int(seconds * Double(rate))
    return (0..<n).map { i in
        let t = Double(i) / Double(rate)
        var v = 0.0
        for h in 1...25 { v += sin(2 * Double.pi * 140 * Double(h) * t) / Double(h) }
        let syllable = 0.35 + 0.65 * abs(sin(Double.pi * 4 * t))
        let ramp = min(1, t / 0.01, (seconds - t) / 0.01)
        return Float(v * syllable * ramp) * level * 0.5
    }
}

/// Low white noise (−60 dBFS-ish) so pauses are not digital zero.
func noise(_ n: Int, seed: UInt64, level: Float = 0.001) -> [Float] {
    var rng = SeededRNG(seed: seed)
    return (0..<n).map { _ in rng.normal() * level }
}

/// Lays utterances at known times into a noise bed; returns the signal and the true (start, end) in seconds.
func recording(_ utterances: [(start: Double, audio: [Float])], seconds: Double, seed: UInt64 = 1) -> ([Float], [(Double, Double)]) {
    var x = noise(Int(seconds * 16000), seed: seed)
    var truth: [(Double, Double)] = []
    for u in utterances {
        let s = Int(u.start * 16000)
        for (i, v) in u.audio.enumerated() where s + i < x.count { x[s + i] += v }
        truth.append((u.start, u.start + Double(u.audio.count) / 16000))
    }
    return (x, truth)
}

func detect(_ x: [Float], config: VADConfig = VADConfig(), chunk: Int = 8000) -> [(Double, Double)] {
    let vad = VoiceActivityDetector(config: config)
    var ranges: [Range<Int>] = []
    for start in stride(from: 0, to: x.count, by: chunk) { ranges += vad.push(Array(x[start..<min(start + chunk, x.count)])) }
    ranges += vad.finish()
    // Undo the padding so boundaries compare with the true speech edges (a segment at 0 had its padding clipped).
    let pad = config.paddingSeconds
    return ranges.map { ($0.lowerBound == 0 ? 0 : Double($0.lowerBound) / 16000 + pad, Double($0.upperBound) / 16000 - pad) }
}

final class SegmentationTests: XCTestCase {
    /// Three utterances separated by 0.7–1.3 s pauses are found as three segments whose edges lie within
    /// 30 ms (three hops) of the true ones, including an utterance that starts the recording.
    func testVADFindsSyntheticUtterances() {
        let (x, truth) = recording([(0.0, voiced(seconds: 1.8)), (2.5, voiced(seconds: 1.2)), (5.0, voiced(seconds: 2.5))], seconds: 8.5)
        let found = detect(x)
        XCTAssertEqual(found.count, 3, "\(found)")
        for (f, t) in zip(found, truth) {
            XCTAssertEqual(f.0, t.0, accuracy: 0.03, "start \(f) vs \(t)")
            XCTAssertEqual(f.1, t.1, accuracy: 0.03, "end \(f) vs \(t)")
        }
    }

    /// Chunk size does not change the result: the detector really streams.
    func testVADIsIndependentOfChunking() {
        let (x, _) = recording([(1.0, voiced(seconds: 1.0)), (3.0, voiced(seconds: 0.8))], seconds: 5)
        let a = detect(x, chunk: 160), b = detect(x, chunk: 7919), c = detect(x, chunk: x.count)
        XCTAssertEqual(a.map { [$0.0, $0.1] }, b.map { [$0.0, $0.1] })
        XCTAssertEqual(a.map { [$0.0, $0.1] }, c.map { [$0.0, $0.1] })
        XCTAssertEqual(a.count, 2)
    }

    /// Pauses shorter than minPauseSeconds do not cut; a longer one does; speech longer than the maximum is split.
    func testPauseAndLengthRules() {
        let shortGap = recording([(0.5, voiced(seconds: 1.0)), (1.7, voiced(seconds: 1.0))], seconds: 4).0   // 0.2 s gap
        XCTAssertEqual(detect(shortGap).count, 1)
        let longGap = recording([(0.5, voiced(seconds: 1.0)), (2.0, voiced(seconds: 1.0))], seconds: 4).0    // 0.5 s gap
        XCTAssertEqual(detect(longGap).count, 2)
        var cfg = VADConfig(); cfg.maxSegmentSeconds = 3
        let long = recording([(0.5, voiced(seconds: 7))], seconds: 8).0
        let parts = detect(long, config: cfg)
        XCTAssertEqual(parts.count, 3, "\(parts)")
        for p in parts { XCTAssertLessThanOrEqual(p.1 - p.0, 3.0) }
    }

    /// Silence, steady noise and a short click contain no speech.
    func testNoSpeechInSilenceNoiseOrClick() {
        XCTAssertTrue(detect([Float](repeating: 0, count: 48000)).isEmpty)
        XCTAssertTrue(detect(noise(64000, seed: 3, level: 0.05)).isEmpty, "steady loud noise is the floor, not speech")
        XCTAssertTrue(detect(recording([(1.0, voiced(seconds: 0.1))], seconds: 3).0).isEmpty, "a 0.1 s click is below minSpeech")
    }

    /// Real synthetic speech (espeak-ng, trimmed by sox to its first and last sound) laid at known times.
    func testVADOnEspeakSentences() throws {
        guard Subprocess.which("espeak-ng") != nil, Subprocess.which("sox") != nil else { throw XCTSkip("espeak-ng/sox not installed") }
        let dir = NSTemporaryDirectory() + "emovox-vad-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        var utterances: [(start: Double, audio: [Float])] = []
        var t = 0.6
        for (i, text) in ["The birch canoe slid on the smooth planks", "Glue the sheet to the dark blue background",
                          "It is easy to tell the depth of a well"].enumerated() {
            _ = try Subprocess.run("espeak-ng", ["-w", "\(dir)/\(i).wav", text])
            // Trim leading/trailing silence (below 1 % of full scale) so the true edges are the speech edges.
            _ = try Subprocess.run("sox", ["\(dir)/\(i).wav", "-r", "16000", "\(dir)/\(i)t.wav", "silence", "1", "0.01", "1%", "reverse", "silence", "1", "0.01", "1%", "reverse"])
            let a = try AudioLoader.load("\(dir)/\(i)t.wav")
            utterances.append((t, a))
            t += Double(a.count) / 16000 + 1.0
        }
        let (x, truth) = recording(utterances, seconds: t + 0.5)
        let found = detect(x)
        XCTAssertEqual(found.count, 3, "\(found) vs \(truth)")
        for (f, tr) in zip(found, truth) {
            XCTAssertEqual(f.0, tr.0, accuracy: 0.1, "start \(f) vs \(tr)")
            XCTAssertEqual(f.1, tr.1, accuracy: 0.15, "end \(f) vs \(tr)")
        }
    }

    func testSegmentListsCSVAndRTTM() throws {
        let dir = NSTemporaryDirectory() + "emovox-seg-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try "start,end,speaker\n2.5,3.0,B\n0.5,1.5,A\n".write(toFile: dir + "/s.csv", atomically: true, encoding: .utf8)
        XCTAssertEqual(try SegmentList.read(dir + "/s.csv"), [Segment(start: 0.5, end: 1.5, speaker: "A"), Segment(start: 2.5, end: 3.0, speaker: "B")])
        try "1.0,2.0\n".write(toFile: dir + "/n.csv", atomically: true, encoding: .utf8)
        XCTAssertEqual(try SegmentList.read(dir + "/n.csv"), [Segment(start: 1, end: 2)])
        let rttm = "SPEAKER meeting 1 0.20 1.30 <NA> <NA> spk1 <NA> <NA>\nSPEAKER other 1 5.00 1.00 <NA> <NA> spk9 <NA> <NA>\nSPEAKER meeting 1 2.00 0.50 <NA> <NA> spk2 <NA> <NA>\n"
        try rttm.write(toFile: dir + "/d.rttm", atomically: true, encoding: .utf8)
        let segs = try SegmentList.read(dir + "/d.rttm", recording: "/data/meeting.wav")
        XCTAssertEqual(segs.count, 2)
        XCTAssertEqual(segs[0].start, 0.2, accuracy: 1e-9); XCTAssertEqual(segs[0].end, 1.5, accuracy: 1e-9)
        XCTAssertEqual(segs.map(\.speaker), ["spk1", "spk2"])
        try "0.5,0.2\n".write(toFile: dir + "/bad.csv", atomically: true, encoding: .utf8)
        XCTAssertThrowsError(try SegmentList.read(dir + "/bad.csv")) { XCTAssertTrue("\($0)".contains("bad.csv") && "\($0)".contains("start"), "\($0)") }
    }

    /// Streamed scoring hands the student exactly the listed segments' audio (the centre maxSeconds of a long
    /// one) and VAD segments of a file; the same logits as scoring the cut audio directly.
    func testSegmentedPredictionScoresTheRightAudio() throws {
        let dir = NSTemporaryDirectory() + "emovox-segpred-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let (x, truth) = recording([(0.5, voiced(seconds: 1.5)), (3.0, voiced(seconds: 1.0))], seconds: 5)
        try AtomicFile.write(WAVReader.encode16(x, sampleRate: 16000), to: dir + "/r.wav")
        let pcm = try AudioLoader.load(dir + "/r.wav")
        var rng = SeededRNG(seed: 4)
        let runner = StudentRunner(model: StudentModel(config: .vggmSmall(classes: 3), rng: &rng), classes: ["a", "b", "c"])
        runner.maxSeconds = 1.0
        let list = [Segment(start: 0.5, end: 2.0, speaker: "A"), Segment(start: 3.0, end: 3.8)]
        var got: [(Segment, [Float])] = []
        try SegmentedPrediction.run(try AudioStream(path: dir + "/r.wav"), runner: runner, source: .list(list)) { s, l, _ in got.append((s, l)) }
        XCTAssertEqual(got.map(\.0), list)
        let centre = Array(pcm[Int(0.75 * 16000)..<Int(1.75 * 16000)])   // 1 s around the middle of 0.5–2.0
        XCTAssertEqual(got[0].1, runner.score([centre]).logits[0])
        XCTAssertEqual(got[1].1, runner.score([Array(pcm[48000..<60800])]).logits[0])
        var vadSegments: [Segment] = []
        let seconds = try SegmentedPrediction.run(try AudioStream(path: dir + "/r.wav"), runner: runner, source: .vad(VADConfig())) { s, _, _ in vadSegments.append(s) }
        XCTAssertEqual(seconds, 5, accuracy: 0.01)
        XCTAssertEqual(vadSegments.count, truth.count)
        for (s, t) in zip(vadSegments, truth) { XCTAssertEqual(s.start, t.0 - 0.1, accuracy: 0.04); XCTAssertEqual(s.end, t.1 + 0.1, accuracy: 0.04) }
    }
}
