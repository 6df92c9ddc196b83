import XCTest
import Foundation
import EmovoxCore
import EmovoxUtilities
import EmovoxAudio
import EmovoxVision
import EmovoxData
@testable import EmovoxLabelling
@testable import EmovoxSegmentation

/// The kernels of segmentation and the speaking face against oracles (NumPy fixture, hand-made frames).
final class SyncAndCutTests: XCTestCase {
    struct Oracle: Decodable {
        struct NCC: Decodable { var motion: [Float?]; var envelope: [Float]; var maxLag: Int; var r: [String: Double]; var bestLag: Int }
        struct Envelope: Decodable { var head: [Int]; var count: Int; var fps: Double; var rms: [Double] }
        struct Band: Decodable { var head: [Int]; var count: Int; var fps: Double; var low: Double; var high: Double; var rms: [Double]; var change: [Double?] }
        struct Score: Decodable {
            var motion: [Float?]; var envelope: [Float?]; var maxLag: Int; var nullLag: Int
            var near: [String: Double]; var peakLag: Int; var null: [String: Double]; var score: Double
        }
        struct Motion: Decodable { var width: Int; var height: Int; var radius: Int; var previous: [Float]; var current: [Float]; var best: Double; var unshifted: Double }
        var ncc: NCC
        var envelope: Envelope
        var band: Band
        var score: Score
        var motion: Motion
    }

    func oracle() throws -> Oracle {
        let url = Bundle.module.url(forResource: "Fixtures", withExtension: nil)!.appendingPathComponent("sync_oracle.json")
        return try JSONDecoder().decode(Oracle.self, from: Data(contentsOf: url))
    }

    /// Normalised cross-correlation over lags, with frames without a face left out: NumPy's corrcoef per lag.
    func testSyncScoreMatchesNumPy() throws {
        let o = try oracle().ncc
        let motion = o.motion.map { $0 ?? .nan }
        for (lag, r) in o.r {
            let one = AudioVisualSync.correlation(motion: motion, envelope: o.envelope, lag: Int(lag)!, minFrames: 5)
            XCTAssertEqual(Double(one!), r, accuracy: 1e-5, "lag \(lag)")
        }
        let best = AudioVisualSync.peakCorrelation(motion: motion, envelope: o.envelope, maxLag: o.maxLag, minFrames: 5)!
        XCTAssertEqual(best.lag, o.bestLag)
        XCTAssertEqual(Double(best.r), o.r[String(o.bestLag)]!, accuracy: 1e-5)
        // Too few paired frames, or a constant (silent) envelope: no score.
        XCTAssertNil(AudioVisualSync.peakCorrelation(motion: motion, envelope: o.envelope, maxLag: 2, minFrames: 1000))
        XCTAssertNil(AudioVisualSync.peakCorrelation(motion: motion, envelope: [Float](repeating: 0, count: 64), maxLag: 2, minFrames: 5))
    }

    /// The sync score: the peak correlation within ±maxLag against the correlations at circular shifts beyond it, as
    /// NumPy computes every one of them, and (peak − mean) / (std + 0.01).
    func testSyncScoreAgainstFarOffsetsMatchesNumPy() throws {
        let o = try oracle().score
        let motion = o.motion.map { $0 ?? .nan }, envelope = o.envelope.map { $0 ?? .nan }
        for (lag, r) in o.near {
            XCTAssertEqual(Double(AudioVisualSync.correlation(motion: motion, envelope: envelope, lag: Int(lag)!, minFrames: 20)!), r, accuracy: 1e-5, "lag \(lag)")
        }
        for (shift, r) in o.null {
            let c = AudioVisualSync.circularCorrelation(motion: motion, envelope: envelope, shift: Int(shift)!, minFrames: 20)
            XCTAssertEqual(Double(c!), r, accuracy: 1e-5, "shift \(shift)")
        }
        let s = AudioVisualSync.score(motion: motion, envelope: envelope, maxLag: o.maxLag, nullLag: o.nullLag, minFrames: 20)!
        XCTAssertEqual(s.lag, o.peakLag)
        XCTAssertEqual(Double(s.peak), o.near[String(o.peakLag)]!, accuracy: 1e-5)
        XCTAssertEqual(Double(s.score), o.score, accuracy: 1e-3)
        XCTAssertGreaterThan(s.score, 3, "the fixture's motion follows the envelope one frame later")
        // Too short for far offsets (n − maxLag − 2 < maxLag + 2), or too few pairs: no score.
        XCTAssertNil(AudioVisualSync.score(motion: Array(motion.prefix(7)), envelope: envelope, maxLag: 2, nullLag: 18, minFrames: 3))
        XCTAssertNil(AudioVisualSync.score(motion: motion, envelope: envelope, maxLag: 2, nullLag: 18, minFrames: 1000))
        // Motion unrelated to the envelope (its own rhythm) stands out at no offset.
        var rng = SeededRNG(seed: 5)
        let noise = motion.map { $0.isNaN ? Float.nan : Float(rng.next() % 1000) / 1000 }
        XCTAssertLessThan(AudioVisualSync.score(motion: noise, envelope: envelope, maxLag: 2, nullLag: 18, minFrames: 20)!.score, 2.5)
    }

    /// The envelope the mouth is matched to: the 1–4 kHz band (2nd-order Butterworth high- then low-pass) of a test
    /// signal read through the decoder, RMS per 1/12.5 s bin, and its change — against SciPy's butter + lfilter.
    func testSpeechBandEnvelopeAndChangeMatchSciPy() throws {
        let o = try oracle().band
        let pcm = (0..<o.count).map { i -> Int16 in
            let t = Double(i) / 16000
            let v = 0.3 * sin(2 * Double.pi * 220 * t) + 0.3 * sin(2 * Double.pi * 2000 * t) * (0.1 + 0.9 * abs(sin(2 * Double.pi * 2.1 * t)))
            return Int16(max(-32768, min(32767, (v * 32767).rounded())))
        }
        XCTAssertEqual(pcm.prefix(100).map(Int.init), o.head)
        let path = NSTemporaryDirectory() + "emovox-band-\(getpid()).wav"
        defer { try? FileManager.default.removeItem(atPath: path) }
        try WAVReader.encode16(pcm.map { Float($0) / 32768 }, sampleRate: 16000).write(to: URL(fileURLWithPath: path))
        let env = try Soundtrack.envelope(path, binsPerSecond: o.fps, band: o.low...o.high)
        XCTAssertEqual(env.count, o.rms.count)
        for (k, (a, b)) in zip(env, o.rms).enumerated() { XCTAssertEqual(Double(a), b, accuracy: 1e-4 + 1e-3 * b, "bin \(k)") }
        let change = AudioVisualSync.change(env)
        XCTAssertTrue(change[0].isNaN && change[1].isNaN)
        for k in 2..<change.count { XCTAssertEqual(Double(change[k]), o.change[k]!, accuracy: 2e-4, "bin \(k)") }
        // The 220 Hz part is filtered out: the band's level is the 2 kHz part's (≤ 0.3/√2 ≈ 0.21), far below the full RMS.
        let full = try Soundtrack.envelope(path, binsPerSecond: o.fps)
        XCTAssertLessThan(env[1...].reduce(0, +), 0.75 * full[1...].reduce(0, +))
    }

    /// Mouth motion at the best shift: a patch moved by (2, −1) with one block changed gives the RMS of that block's
    /// change alone (NumPy's brute force over the 81 shifts), and a pure shift gives none.
    func testMouthMotionIgnoresHeadShifts() throws {
        let o = try oracle().motion
        XCTAssertEqual([o.width, o.height, o.radius], [AudioVisualSync.mouthWidth, AudioVisualSync.mouthHeight, AudioVisualSync.searchRadius])
        XCTAssertEqual(Double(AudioVisualSync.motion(o.previous, o.current)), o.best, accuracy: 1e-3)
        XCTAssertGreaterThan(o.unshifted, 4 * o.best)   // the old, unshifted difference is mostly the shift
        let stride = o.width + 2 * o.radius
        var shifted = o.previous
        for y in o.radius..<(o.radius + o.height) { for x in o.radius..<(o.radius + o.width) {
            shifted[y * stride + x] = o.previous[(y - 1) * stride + x + 3]
        } }
        XCTAssertEqual(AudioVisualSync.motion(o.previous, shifted), 0)
    }

    /// The soundtrack envelope read through ffmpeg: RMS per 1/12.5 s bin of a 16-bit tone, as NumPy computes it.
    func testSoundtrackEnvelopeMatchesNumPy() throws {
        let o = try oracle().envelope
        let pcm = (0..<o.count).map { i -> Int16 in
            let t = Double(i) / 16000
            let v = 0.5 * sin(2 * Double.pi * 220 * t) * (0.2 + 0.8 * abs(sin(2 * Double.pi * 1.3 * t)))
            return Int16(max(-32768, min(32767, (v * 32767).rounded())))
        }
        XCTAssertEqual(pcm.prefix(100).map(Int.init), o.head)
        let path = NSTemporaryDirectory() + "emovox-envelope-\(getpid()).wav"
        defer { try? FileManager.default.removeItem(atPath: path) }
        try WAVReader.encode16(pcm.map { Float($0) / 32768 }, sampleRate: 16000).write(to: URL(fileURLWithPath: path))
        let env = try Soundtrack.envelope(path, binsPerSecond: o.fps)
        XCTAssertEqual(env.count, o.rms.count)
        for (a, b) in zip(env, o.rms) { XCTAssertEqual(Double(a), b, accuracy: 1e-4) }
        // A part of it: the bins of [0.4, 1.2) s are the full file's bins 6…15 (0.4 s = 5 bins in).
        let part = try Soundtrack.envelope(path, start: 0.4, end: 1.2, binsPerSecond: o.fps)
        for k in 1..<10 { XCTAssertEqual(Double(part[k]), o.rms[k + 5], accuracy: 2e-3, "bin \(k)") }
    }

    /// Mouth motion: frames where only the lower third of the face box changes give that change (the RMS difference,
    /// uniform here so the same at every shift) in the interpolated boxes; a change above the mouth gives none.
    func testMouthMotionFollowsTheLowerFaceOnly() {
        let w = 120, h = 120, box = Box(x: 30, y: 30, width: 60, height: 60)
        func frame(mouth: UInt8, forehead: UInt8) -> GrayImage {
            var px = [UInt8](repeating: 100, count: w * h)
            for y in 0..<h { for x in 0..<w {
                if x >= 36 && x < 84 && y >= 62 && y < 98 { px[y * w + x] = mouth }     // covers the mouth patch and its margin
                if x >= 40 && x < 80 && y >= 32 && y < 50 { px[y * w + x] = forehead }
            } }
            return GrayImage(width: w, height: h, pixels: px)
        }
        var tracker = MouthMotionTracker(detectEvery: 3)
        let frames = [frame(mouth: 100, forehead: 100), frame(mouth: 140, forehead: 100), frame(mouth: 140, forehead: 200), frame(mouth: 100, forehead: 200)]
        for (i, f) in frames.enumerated() {
            tracker.push(f)
            if i % 3 == 0 { tracker.detected([7: box]) }
        }
        let m = tracker.motion(7)
        XCTAssertEqual(m.count, 4)
        XCTAssertTrue(m[0].isNaN)
        // The patch is x 42…78, y 70…90 of the box with a 3 px margin: all of it switches between 100 and 140.
        XCTAssertEqual(m[1], 40, accuracy: 1e-3)
        XCTAssertEqual(m[2], 0, accuracy: 1e-3)
        XCTAssertEqual(m[3], 40, accuracy: 1e-3)
        XCTAssertEqual(AudioVisualSync.interpolate(Box(x: 0, y: 0, width: 10, height: 10), Box(x: 30, y: 6, width: 40, height: 10), 1.0 / 3),
                       Box(x: 10, y: 2, width: 20, height: 10))
    }

    /// A track the detector misses once is bridged at its next detection (its frames in between get motion); one
    /// missed twice in a row is not (those frames stay unknown), and only a bounded number of frames is held.
    func testMouthMotionBridgesOneMissedDetection() {
        let w = 120, h = 120, box = Box(x: 30, y: 30, width: 60, height: 60)
        func frame(_ mouth: UInt8) -> GrayImage {
            var px = [UInt8](repeating: 100, count: w * h)
            for y in 62..<98 { for x in 36..<84 { px[y * w + x] = mouth } }
            return GrayImage(width: w, height: h, pixels: px)
        }
        var tracker = MouthMotionTracker(detectEvery: 3)
        // Detections at frames 0, 3, 6, 9, 12, 15, 18: track 1 is missed at 6 (bridged), track 2 at 9 and 12 (not).
        let seen: [Int: Set<Int>] = [0: [1, 2], 3: [1, 2], 6: [2], 9: [1], 12: [1], 15: [1, 2], 18: [1, 2]]
        for i in 0...18 {
            tracker.push(frame(i % 2 == 0 ? 100 : 130))
            if let tracks = seen[i] { tracker.detected(Dictionary(uniqueKeysWithValues: tracks.map { ($0, box) })) }
        }
        let one = tracker.motion(1), two = tracker.motion(2)
        XCTAssertTrue(one[0].isNaN)
        for k in 1...18 { XCTAssertEqual(one[k], 30, accuracy: 1e-3, "track 1 frame \(k)") }
        for k in 1...6 { XCTAssertEqual(two[k], 30, accuracy: 1e-3, "track 2 frame \(k)") }
        for k in 7...15 { XCTAssertTrue(two[k].isNaN, "track 2 frame \(k): missed twice, not bridged") }
        for k in 16...18 { XCTAssertEqual(two[k], 30, accuracy: 1e-3, "track 2 frame \(k)") }
    }

    /// Shot cuts: a talking-head-like change (a few grey levels) is not a cut; a new scene or a blank frame is.
    func testShotCutDetector() {
        func image(_ f: (Int, Int) -> Int) -> GrayImage {
            GrayImage(width: 64, height: 48, pixels: (0..<(64 * 48)).map { UInt8(max(0, min(255, f($0 % 64, $0 / 64)))) })
        }
        var d = ShotCutDetector()
        XCTAssertFalse(d.push(image { x, y in x * 3 + y }).cut)                      // first frame
        let small = d.push(image { x, y in x * 3 + y + ((x / 8 + y / 8) % 2 == 0 ? 4 : -4) })
        XCTAssertFalse(small.cut)
        XCTAssertEqual(small.meanAbsDifference, 4, accuracy: 0.01)
        let scene = d.push(image { x, y in 255 - x * 3 - y })
        XCTAssertTrue(scene.cut)
        XCTAssertFalse(d.push(image { x, y in 255 - x * 3 - y }).cut)
        let blank = d.push(image { _, _ in 0 })
        XCTAssertTrue(blank.cut)
        XCTAssertGreaterThan(blank.histogram, 0.8)
    }

    /// The cut rule: speech split at shot cuts, bounded by the face track covering it, short pieces dropped, long
    /// ones split evenly, a break in the track ends the clip and the rest goes to the next track.
    func testCutRule() {
        var o = SegmentOptions()
        o.minSeconds = 2; o.maxSeconds = 5
        let clips = Segmenter.cut(speech: [Segment(start: 1, end: 14), Segment(start: 20, end: 21.5), Segment(start: 30, end: 40)],
                                  shots: [4, 35], tracks: [TrackSpan(start: 0, end: 12), TrackSpan(start: 12.5, end: 16), TrackSpan(start: 28, end: 45)],
                                  limit: 38, options: o)
        let expected: [(Double, Double)] = [(1, 4), (4, 8), (8, 12), (30, 35), (35, 38)]
        XCTAssertEqual(clips.count, expected.count, "\(clips)")
        for (c, e) in zip(clips, expected) { XCTAssertEqual(c.start, e.0, accuracy: 1e-9); XCTAssertEqual(c.end, e.1, accuracy: 1e-9) }
        // 12.5–14 is speech on the second track but shorter than 2 s; 20–21.5 has no face and is short.
        XCTAssertTrue(Segmenter.cut(speech: [Segment(start: 0, end: 10)], shots: [], tracks: [], limit: 10, options: o).isEmpty)
    }

    /// Speech the VAD split at its length cap (the padded pieces overlap) across a direct cut between speakers: the
    /// piece after the cut runs to the end of the speech, not to the cap (the 10-minute recording's one miss:
    /// VAD 424.2–444.215 and 444.0–445.755, cuts 439.32 and 445.68; the 1.5 s after the cap was dropped as too short).
    func testCutRuleJoinsSpeechSplitAtTheVADCap() {
        let o = SegmentOptions()
        let speech = [Segment(start: 424.2, end: 444.215), Segment(start: 444.0, end: 445.755), Segment(start: 447.54, end: 467.555)]
        let tracks = [TrackSpan(start: 420, end: 439.3), TrackSpan(start: 439.35, end: 445.7), TrackSpan(start: 447.7, end: 470)]
        let clips = Segmenter.cut(speech: speech, shots: [439.32, 445.68, 447.64], tracks: tracks, limit: 500, options: o)
        XCTAssertEqual(clips.map { [$0.start, $0.end] }, [[424.2, 439.3], [439.35, 445.68], [447.7, 467.555]], "\(clips)")
        // A real pause (a gap between the padded pieces) still separates them.
        XCTAssertEqual(Segmenter.joiningCappedSplits([Segment(start: 0, end: 5), Segment(start: 5.3, end: 9)]).count, 2)
        XCTAssertEqual(Segmenter.joiningCappedSplits([Segment(start: 0, end: 5), Segment(start: 4.8, end: 9)]), [Segment(start: 0, end: 9)])
    }

    /// The online linker gives the tracks the batch `link` gives.
    func testOnlineLinkerMatchesBatchLinking() {
        var rng = SeededRNG(seed: 5)
        var frames: [[FaceObservation]] = []
        for f in 0..<40 {
            var dets: [FaceObservation] = []
            if f % 9 != 4 { dets.append(FaceObservation(frame: f, time: Double(f), box: Box(x: 10 + rng.int(below: 4), y: 10, width: 50, height: 50))) }
            if f > 10 && f < 30 { dets.append(FaceObservation(frame: f, time: Double(f), box: Box(x: 200 + rng.int(below: 4), y: 20, width: 40, height: 40))) }
            frames.append(dets)
        }
        let batch = FaceTracker.link(frames)
        var online = FaceTracker.Linker(keepObservations: false, firstId: 100)
        var ids: [[Int]] = []
        for f in frames { ids.append(online.push(f)) }
        for t in batch { for o in t.observations {
            let k = frames[o.frame].firstIndex { $0.box == o.box }!
            XCTAssertEqual(ids[o.frame][k], 100 + t.id)
        } }
        XCTAssertEqual(online.counts, batch.map(\.observations.count))
    }
}
