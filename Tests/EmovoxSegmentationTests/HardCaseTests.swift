import XCTest
import Foundation
import EmovoxCore
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
        XCTAssertEqual(report.spanningCut, 0, "clips spanning a shot cut")
        XCTAssertEqual(report.missed, 0, "speech pieces without a clip")
        XCTAssertLessThanOrEqual(report.maxError, 0.3, "boundary errors \(report.errors)")
        XCTAssertTrue(cut.allSatisfy { $0.end - $0.start >= 2 && $0.end - $0.start <= 20 })
        XCTAssertEqual(result.manifest.clips.first?.id, "long/0001")
    }

    /// (c) Two talking faces side by side, one voice kept, both orders: the face whose mouth follows the voice is chosen.
    func testSpeakingFaceOnTwoPersonComposites() throws {
        let clips = try talkingClips()
        guard let teacherDir = SharedData.path("teacher", from: #filePath) else { throw XCTSkip("needs ../shared/teacher") }
        let runner = try TeacherRunner.defaultTeacher(dir: teacherDir)
        let dir = try HardCases.tempDir("pairs")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let pairs = Int(ProcessInfo.processInfo.environment["EMOVOX_SYNC_PAIRS"] ?? "") ?? 11
        var right = 0, total = 0, chosen: [Float] = [], other: [Float] = []
        for p in 0..<pairs {
            let a = clips[p % clips.count], b = clips[(p + clips.count / 2) % clips.count]
            for (left, rightClip) in [(a, b), (b, a)] {
                let out = dir + "/pair\(p)-\(total % 2).mp4"
                try HardCases.composite(left: left, right: rightClip, voice: 0, out: out)
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
            }
        }
        func quartiles(_ x: [Float]) -> String {
            let s = x.sorted()
            guard !s.isEmpty else { return "-" }
            return [0, 0.25, 0.5, 0.75, 1].map { String(format: "%.2f", s[min(s.count - 1, Int($0 * Double(s.count - 1)))]) }.joined(separator: "/")
        }
        print("composites: speaking face right in \(right)/\(total); sync score min/q1/median/q3/max chosen \(quartiles(chosen)), other \(quartiles(other))")
        XCTAssertGreaterThanOrEqual(Double(right) / Double(total), 0.95)
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
