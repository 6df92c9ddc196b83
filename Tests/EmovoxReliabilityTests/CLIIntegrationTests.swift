import XCTest
import Foundation
import EmovoxCore
import EmovoxUtilities
import EmovoxAudio
import EmovoxModels
import EmovoxData
import EmovoxLabelling

/// The built CLI (.build/release/emovox) on tiny generated data: batch exit statuses, byte-identical outputs for
/// the same seed and data, and SIGKILL at random points followed by a resume that ends where an uninterrupted run does.
final class CLIIntegrationTests: XCTestCase {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().path
    static let classes = ["angry", "disgust", "fear", "happy", "sad", "surprise", "neutral"]

    func binary() throws -> String {
        let p = Self.root + "/.build/release/emovox"
        guard FileManager.default.isExecutableFile(atPath: p) else { throw XCTSkip("no built CLI at \(p): run `swift build -c release` first") }
        return p
    }

    struct Outcome { var status: Int32; var signalled: Bool; var stdout: String; var stderr: String }

    /// Starts the CLI from the repository root (so it finds .cache/teacher) with output in files.
    func start(_ args: [String], in d: String) throws -> (Process, String, String) {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: try binary())
        p.arguments = args
        p.currentDirectoryURL = URL(fileURLWithPath: Self.root)
        let out = d + "/.stdout-\(UUID().uuidString)", err = d + "/.stderr-\(UUID().uuidString)"
        FileManager.default.createFile(atPath: out, contents: nil); FileManager.default.createFile(atPath: err, contents: nil)
        p.standardOutput = FileHandle(forWritingAtPath: out); p.standardError = FileHandle(forWritingAtPath: err)
        try p.run()
        return (p, out, err)
    }

    func outcome(_ p: Process, _ out: String, _ err: String) -> Outcome {
        p.waitUntilExit()
        let o = Outcome(status: p.terminationStatus, signalled: p.terminationReason == .uncaughtSignal,
                        stdout: (try? String(contentsOfFile: out, encoding: .utf8)) ?? "", stderr: (try? String(contentsOfFile: err, encoding: .utf8)) ?? "")
        try? FileManager.default.removeItem(atPath: out); try? FileManager.default.removeItem(atPath: err)
        return o
    }

    @discardableResult
    func run(_ args: [String], in d: String) throws -> Outcome {
        let (p, o, e) = try start(args, in: d)
        return outcome(p, o, e)
    }

    /// Speech-like test audio: a pitched tone with harmonics and noise, `seconds` long.
    func writeSpeech(_ path: String, seed: UInt64, seconds: Double = 1.2) throws {
        var r = SeededRNG(seed: seed)
        let f0 = 100 + Float(seed % 7) * 25
        let x = (0..<Int(seconds * 16000)).map { i -> Float in
            let t = Float(i) / 16000
            return 0.3 * sin(2 * .pi * f0 * t) + 0.1 * sin(2 * .pi * 3 * f0 * t) + 0.02 * r.normal()
        }
        try WAVReader.encode16(x, sampleRate: 16000).write(to: URL(fileURLWithPath: path))
    }

    func writeStudent(_ path: String) throws {
        var rng = SeededRNG(seed: 5)
        try StudentCheckpoint.save(StudentModel(config: .vggmSmall(classes: 7), rng: &rng), classes: Self.classes, to: path)
    }

    /// Non-hidden files of a folder and their bytes (hidden ones are atomic-write temporaries of killed runs).
    func files(_ dir: String, except: Set<String> = []) throws -> [String: Data] {
        var out: [String: Data] = [:]
        for f in try FileManager.default.contentsOfDirectory(atPath: dir) where !f.hasPrefix(".") && !except.contains(f) {
            out[f] = try Data(contentsOf: URL(fileURLWithPath: dir + "/" + f))
        }
        return out
    }

    /// Starts `args` again and again, SIGKILLing the first `kills` starts at random points of an uninterrupted
    /// run's duration, until one start runs to its end. Returns the kill times and the final outcome.
    /// `done()` (the fraction of the work on disk) scales each kill point to the work left, so later starts are hit too.
    /// `startOver` (removes the outputs): when a start ends before any kill has landed (the uninterrupted run that set
    /// `full` was slowed by a busy machine), the work starts over with kill points half as late, so a fast or loaded
    /// machine still tests a kill.
    func killAndResume(_ args: [String], in d: String, full: TimeInterval, kills: Int, seed: UInt64, startOver: (() -> Void)? = nil,
                       done: () -> Double) throws -> (killedAt: [Double], final: Outcome) {
        var rng = SeededRNG(seed: seed)
        var killedAt: [Double] = []
        var scale = 1.0
        for _ in 0..<(kills + 20) {
            let (p, o, e) = try start(args, in: d)
            if killedAt.count < kills {
                let t = (0.1 + 0.8 * Double(rng.uniform()) * (1 - done())) * full * scale
                usleep(UInt32(t * 1e6))
                if p.isRunning { kill(p.processIdentifier, SIGKILL); killedAt.append(t) }
            }
            let r = outcome(p, o, e)
            if !r.signalled {
                if killedAt.isEmpty, let startOver, scale > 1.0 / 64 { startOver(); scale /= 2; continue }
                return (killedAt, r)
            }
        }
        XCTFail("never ran to the end"); return (killedAt, Outcome(status: -1, signalled: true, stdout: "", stderr: ""))
    }

    // MARK: batch jobs

    func testBatchJobsSkipBadInputsReportThemAndExitWithTheDocumentedStatus() throws {
        let d = try tempDir()
        try writeSpeech(d + "/a.wav", seed: 1); try writeSpeech(d + "/b.wav", seed: 2)
        FileManager.default.createFile(atPath: d + "/empty.wav", contents: Data())
        FileManager.default.createFile(atPath: d + "/text.wav", contents: Data("not audio".utf8))
        try writeStudent(d + "/s.safetensors")
        let good = [d + "/a.wav", d + "/b.wav"], bad = [d + "/empty.wav", d + "/text.wav"]

        let mixed = try run(["predict", "--student", d + "/s.safetensors", good[0], bad[0], bad[1], good[1]], in: d)
        XCTAssertEqual(mixed.status, 3, mixed.stderr)
        XCTAssertEqual(mixed.stdout.split(separator: "\n").count, 3, mixed.stdout)  // header + the two good files
        XCTAssertTrue(mixed.stderr.contains("skipped \(bad[0]): empty file"), mixed.stderr)
        XCTAssertTrue(mixed.stderr.contains("skipped \(bad[1]): not a WAV file (no RIFF/WAVE header)"), mixed.stderr)
        XCTAssertTrue(mixed.stderr.contains("predict: 2 done, 2 skipped"), mixed.stderr)
        XCTAssertEqual(try run(["predict", "--student", d + "/s.safetensors"] + good, in: d).status, 0)
        XCTAssertEqual(try run(["predict", "--student", d + "/s.safetensors"] + bad, in: d).status, 1)

        let spec = try run(["spectrogram", good[0], bad[0], good[1], "--out", d + "/specs", "--bins", "257"], in: d)
        XCTAssertEqual(spec.status, 3, spec.stderr)
        XCTAssertEqual(try NPY.read(d + "/specs/b.npy").shape[0], 257)
        XCTAssertTrue(FileManager.default.fileExists(atPath: d + "/specs/a.npy"))

        try "file,speaker,emotion\na.wav,s1,happy\nempty.wav,s1,sad\nb.wav,s2,sad\nmissing.wav,s2,happy\n".write(toFile: d + "/list.csv", atomically: true, encoding: .utf8)
        let scan = try run(["corpus", "scan", d + "/list.csv", "--format", "csv", "--out", d + "/m.jsonl"], in: d)
        XCTAssertEqual(scan.status, 3, scan.stderr)
        XCTAssertEqual(try Manifest.read(d + "/m.jsonl").clips.map(\.id), ["a", "b"])
        XCTAssertTrue(scan.stderr.contains("skipped \(d)/missing.wav: no such file"), scan.stderr)

        // A checkpoint with a NaN is refused before anything is scored.
        let (tensors, meta) = try Safetensors.read(d + "/s.safetensors")
        var t = tensors
        t["fc8.bias"]!.data[2] = .nan
        try rawSafetensors(t, metadata: meta).write(to: URL(fileURLWithPath: d + "/nan.safetensors"))
        let nan = try run(["predict", "--student", d + "/nan.safetensors", good[0]], in: d)
        XCTAssertEqual(nan.status, 1)
        XCTAssertTrue(nan.stderr.contains("\(d)/nan.safetensors: tensor 'fc8.bias' holds 1 non-finite value"), nan.stderr)
        XCTAssertFalse(nan.stdout.contains("a.wav"))
    }

    /// A folder of videos is a corpus (a soundless one is skipped and listed: exit 3), and `predict --corpus` scores a
    /// clip's [start, end) part of its recording exactly as it scores a file holding only that part.
    func testVideoFolderScanAndPredictOnClipOffsets() throws {
        guard Subprocess.which("ffmpeg") != nil else { throw XCTSkip("the ffmpeg tool (which makes the test videos) is not installed") }
        let d = try tempDir()
        for (name, audio) in [("talks/ann/a.mp4", true), ("talks/ann/mute.mp4", false)] {
            try FileManager.default.createDirectory(atPath: d + "/videos/talks/ann", withIntermediateDirectories: true)
            _ = try Subprocess.run("ffmpeg", ["-v", "error", "-nostdin", "-y", "-f", "lavfi", "-i", "testsrc=size=64x48:rate=10"]
                                   + (audio ? ["-f", "lavfi", "-i", "sine=f=300:sample_rate=44100"] : []) + ["-t", "2", "-c:v", "mpeg4"]
                                   + (audio ? ["-c:a", "aac"] : ["-an"]) + [d + "/videos/" + name], forFile: name)
        }
        let scan = try run(["corpus", "scan", d + "/videos", "--out", d + "/v.jsonl"], in: d)
        XCTAssertEqual(scan.status, 3, scan.stderr)
        XCTAssertTrue(scan.stderr.contains("skipped \(d)/videos/talks/ann/mute.mp4: no audio stream"), scan.stderr)
        let clips = try Manifest.read(d + "/v.jsonl").clips
        XCTAssertEqual(clips.map(\.id), ["talks/ann/a"])
        XCTAssertEqual(clips.map(\.speaker), ["talks/ann"])

        try writeSpeech(d + "/rec.wav", seed: 3, seconds: 4)
        let whole = try AudioLoader.load(d + "/rec.wav")
        try WAVReader.encode16(Array(whole[16000..<40000]), sampleRate: 16000).write(to: URL(fileURLWithPath: d + "/part.wav"))
        try Manifest(clips: [Clip(id: "u1", speaker: "s", audio: d + "/rec.wav", start: 1.0, end: 2.5)]).write(d + "/parts.jsonl")
        try writeStudent(d + "/s.safetensors")
        let onClip = try run(["predict", "--student", d + "/s.safetensors", "--corpus", d + "/parts.jsonl"], in: d)
        let onFile = try run(["predict", "--student", d + "/s.safetensors", d + "/part.wav"], in: d)
        XCTAssertEqual(onClip.status, 0, onClip.stderr)
        let clipRow = onClip.stdout.split(separator: "\n")[1].split(separator: ","), fileRow = onFile.stdout.split(separator: "\n")[1].split(separator: ",")
        XCTAssertEqual(clipRow[0], "u1")
        XCTAssertEqual(clipRow[2...3].joined(separator: ","), "1.00,2.50")  // times on the recording's time line
        XCTAssertEqual(Array(clipRow[4...]), Array(fileRow[3...]))  // label and probabilities
    }

    // MARK: distillation: same bytes, and SIGKILL + resume

    /// Six short clips and teacher labels for them; returns the distill arguments for a run folder.
    func distillSetup(_ d: String) throws -> (String) -> [String] {
        var manifest: [Clip] = [], labels: [ClipTeacherLabels] = []
        for i in 0..<6 {
            try writeSpeech(d + "/c\(i).wav", seed: UInt64(10 + i), seconds: 1.0 + 0.2 * Double(i % 3))
            manifest.append(Clip(id: "c\(i)", speaker: "s\(i % 3)", audio: d + "/c\(i).wav", split: i == 5 ? "heard" : "train"))
            var lg = [Float](repeating: 0, count: 7); lg[i % 7] = 3; lg[6] = 1
            labels.append(ClipTeacherLabels(clip: "c\(i)", source: "v", teacher: "t", classes: Self.classes, times: [0, 0.5], logits: [lg, lg.reversed()],
                                            framesSampled: 2, framesWithoutFace: 0))
        }
        try Manifest(clips: manifest).write(d + "/m.jsonl")
        try Data(try labels.map { try CanonicalJSON.string($0) + "\n" }.joined().utf8).write(to: URL(fileURLWithPath: d + "/l.jsonl"))
        return { out in ["distill", "--corpus", d + "/m.jsonl", "--labels", d + "/l.jsonl", "--out", out, "--epochs", "10", "--batch-size", "3",
                         "--lr-start", "1e-2", "--lr-end", "1e-3", "--seed", "7", "--threads", "2", "--resume"] }
    }

    func testSameSeedAndDataGiveByteIdenticalArtefacts() throws {
        let d = try tempDir()
        let distill = try distillSetup(d)
        for run in ["r1", "r2"] { XCTAssertEqual(try self.run(distill(d + "/" + run), in: d).status, 0) }
        let a = try files(d + "/r1", except: ["timing.csv"]), b = try files(d + "/r2", except: ["timing.csv"])
        XCTAssertEqual(Set(a.keys), ["student.safetensors", "resume.safetensors", "trainer_state.json", "epochs.csv"])
        for (name, bytes) in a { XCTAssertEqual(bytes, b[name], "\(name) differs between two runs with the same seed") }

        for k in 1...2 {
            XCTAssertEqual(try run(["predict", "--student", d + "/r1/student.safetensors", d + "/c0.wav", d + "/c1.wav", "--out", d + "/p\(k).csv"], in: d).status, 0)
        }
        try "file,speaker,emotion\n".appending((0..<6).map { "c\($0).wav,s\($0 % 3),\(["happy", "sad"][$0 % 2])\n" }.joined()).write(toFile: d + "/list.csv", atomically: true, encoding: .utf8)
        for k in 1...2 {
            XCTAssertEqual(try run(["corpus", "scan", d + "/list.csv", "--format", "csv", "--out", d + "/scan\(k).jsonl", "--split", "--unheard", "1"], in: d).status, 0)
        }
        XCTAssertEqual(try Data(contentsOf: URL(fileURLWithPath: d + "/p1.csv")), try Data(contentsOf: URL(fileURLWithPath: d + "/p2.csv")))
        XCTAssertEqual(try Data(contentsOf: URL(fileURLWithPath: d + "/scan1.jsonl")), try Data(contentsOf: URL(fileURLWithPath: d + "/scan2.jsonl")))
    }

    func testDistillKilledAtRandomPointsResumesToTheSameWeights() throws {
        let d = try tempDir()
        let distill = try distillSetup(d)
        let t0 = Date()
        XCTAssertEqual(try run(distill(d + "/straight"), in: d).status, 0)
        let full = Date().timeIntervalSince(t0)
        let (killedAt, final) = try killAndResume(distill(d + "/killed"), in: d, full: full, kills: 4, seed: 14) {
            Double(((try? String(contentsOfFile: d + "/killed/epochs.csv", encoding: .utf8)) ?? "x").split(separator: "\n").count - 1) / 10
        }
        XCTAssertEqual(final.status, 0, final.stderr)
        let kills = killedAt.count
        XCTAssertGreaterThan(kills, 0, "the run ended before any kill: make it longer")
        let a = try files(d + "/straight", except: ["timing.csv"]), b = try files(d + "/killed", except: ["timing.csv"])
        XCTAssertEqual(Set(a.keys), Set(b.keys))
        for (name, bytes) in a { XCTAssertEqual(bytes, b[name], "\(name): resumed after \(kills) kills ≠ uninterrupted") }
        print("distill: SIGKILL at \(killedAt.map { String(format: "%.2f", $0) }) s of a \(String(format: "%.2f", full)) s run; resumed files bitwise equal")
    }

    /// `corpus pack` killed at random points and restarted ends with the same store, byte for byte, as one
    /// uninterrupted run (a torn index line is dropped, bytes after the last indexed clip are cut); a clip that is
    /// not audio is skipped, listed, and makes the exit status 3.
    func testPackKilledAtRandomPointsResumesToTheSameStore() throws {
        let d = try tempDir()
        var clips: [Clip] = []
        for k in 0..<600 {
            try writeSpeech(d + "/c\(k).wav", seed: UInt64(k), seconds: 3)
            clips.append(Clip(id: "c\(k)", speaker: "s\(k % 3)", audio: d + "/c\(k).wav"))
        }
        FileManager.default.createFile(atPath: d + "/bad.wav", contents: Data("not audio".utf8))
        clips.insert(Clip(id: "bad", speaker: "s0", audio: d + "/bad.wav"), at: 7)
        try Manifest(clips: clips).write(d + "/m.jsonl")
        let t0 = Date()
        let straight = try run(["corpus", "pack", d + "/m.jsonl", "--out", d + "/straight"], in: d)
        let full = Date().timeIntervalSince(t0)
        XCTAssertEqual(straight.status, 3, straight.stderr)
        XCTAssertTrue(straight.stdout.contains("600 clips packed") && straight.stdout.contains("bad"), straight.stdout)
        let (killedAt, final) = try killAndResume(["corpus", "pack", d + "/m.jsonl", "--out", d + "/killed"], in: d, full: full, kills: 4, seed: 11) {
            Double(((try? String(contentsOfFile: d + "/killed/index-all.tsv", encoding: .utf8)) ?? "").split(separator: "\n").count) / 601
        }
        XCTAssertEqual(final.status, 3, final.stderr)
        XCTAssertGreaterThan(killedAt.count, 0, "the run ended before any kill: make it longer")
        let a = try files(d + "/straight"), b = try files(d + "/killed")
        XCTAssertEqual(Set(a.keys), Set(b.keys))
        for (name, bytes) in a { XCTAssertEqual(bytes, b[name], "\(name): resumed after \(killedAt.count) kills ≠ uninterrupted") }
        print("corpus pack: SIGKILL at \(killedAt.map { String(format: "%.2f", $0) }) s of a \(String(format: "%.2f", full)) s run; store bitwise equal")
    }

    // MARK: labelling: same bytes, and SIGKILL + resume

    /// Six clips whose faces are VoxCeleb-style track files beside a generated video, plus one clip whose
    /// track file is missing. Needs ffmpeg and the teacher (.cache/teacher).
    func labelSetup(_ d: String) throws -> String {
        guard TeacherRunner.locateTeacherDir() != nil || FileManager.default.fileExists(atPath: Self.root + "/.cache/teacher/emotion_model.hdf5") else {
            throw XCTSkip("no teacher (.cache/teacher): run scripts/setup.sh")
        }
        do {
            _ = try Subprocess.run("ffmpeg", ["-v", "error", "-y", "-f", "lavfi", "-i", "testsrc=size=96x96:rate=25:duration=1", "-c:v", "mpeg4", d + "/base.mp4"], forFile: d)
        } catch { throw XCTSkip("ffmpeg cannot make a test video: \(error)") }
        var clips: [Clip] = []
        for k in 0..<6 {
            try FileManager.default.copyItem(atPath: d + "/base.mp4", toPath: d + "/v\(k).mp4")
            let rows = (0..<25).map { "\($0)\t\(2 * k + $0 % 5)\t\(k + 3)\t\(40 + k)\t\(40 + k)" }
            try ("FRAME\tX\tY\tW\tH\n" + rows.joined(separator: "\n") + "\n").write(toFile: d + "/v\(k).txt", atomically: true, encoding: .utf8)
            clips.append(Clip(id: "v\(k)", speaker: "s", audio: d + "/v\(k).wav", faces: d + "/v\(k).txt"))
        }
        clips.insert(Clip(id: "broken", speaker: "s", audio: d + "/x.wav", faces: d + "/missing.txt"), at: 3)
        try Manifest(clips: clips).write(d + "/m.jsonl")
        return d + "/m.jsonl"
    }

    func lineSet(_ path: String) throws -> Set<String> {
        Set(try String(contentsOfFile: path, encoding: .utf8).split(separator: "\n").map(String.init))
    }

    func testLabelIsByteIdenticalAndResumesAfterSIGKILLToTheSameLines() throws {
        let d = try tempDir()
        let manifest = try labelSetup(d)
        let t0 = Date()
        let first = try run(["label", manifest, "--out", d + "/a.jsonl"], in: d)
        let full = Date().timeIntervalSince(t0)
        XCTAssertEqual(first.status, 3, first.stderr)  // six labelled, the broken clip skipped and named
        XCTAssertTrue(first.stderr.contains("skipped broken: "), first.stderr)
        XCTAssertEqual(try run(["label", manifest, "--out", d + "/b.jsonl"], in: d).status, 3)
        XCTAssertEqual(try Data(contentsOf: URL(fileURLWithPath: d + "/a.jsonl")), try Data(contentsOf: URL(fileURLWithPath: d + "/b.jsonl")))
        // The teacher command on ready crops: a good one is scored, a damaged one is skipped and named.
        FileManager.default.createFile(atPath: d + "/face.pgm", contents: Data(Array("P5\n48 48\n255\n".utf8) + (0..<2304).map { UInt8($0 % 251) }))
        FileManager.default.createFile(atPath: d + "/cut.pgm", contents: Data(Array("P5\n48 48\n255\n".utf8) + [1, 2, 3]))
        let teacher = try run(["teacher", "--crops", d + "/face.pgm", d + "/cut.pgm", "--out", d + "/t.csv"], in: d)
        XCTAssertEqual(teacher.status, 3, teacher.stderr)
        XCTAssertTrue(teacher.stderr.contains("skipped \(d)/cut.pgm: truncated PGM data"), teacher.stderr)
        XCTAssertEqual(try String(contentsOfFile: d + "/t.csv", encoding: .utf8).split(separator: "\n").count, 2)

        let records = try LabelStore.read(d + "/a.jsonl")
        XCTAssertEqual(records.count, 6)
        XCTAssertTrue(records.allSatisfy { $0.logits.count == 5 }, "every 6th of 25 track rows is scored")

        let (killedAt, final) = try killAndResume(["label", manifest, "--out", d + "/k.jsonl"], in: d, full: full, kills: 4, seed: 41,
                                                  startOver: { try? FileManager.default.removeItem(atPath: d + "/k.jsonl") }) {
            Double(((try? LabelStore.read(d + "/k.jsonl")) ?? []).count) / 6
        }
        XCTAssertEqual(final.status, 3, final.stderr)
        let kills = killedAt.count
        XCTAssertGreaterThan(kills, 0)
        XCTAssertEqual(try lineSet(d + "/k.jsonl"), try lineSet(d + "/a.jsonl"), "resumed after \(kills) kills ≠ uninterrupted")
        XCTAssertEqual(try LabelStore.read(d + "/k.jsonl").count, 6, "no clip twice")
        print("label: SIGKILL at \(killedAt.map { String(format: "%.2f", $0) }) s of a \(String(format: "%.2f", full)) s run; JSONL line sets equal")
    }
}
