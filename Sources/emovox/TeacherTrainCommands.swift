import ArgumentParser
import Foundation
import EmovoxCore
import EmovoxTeacherTraining

struct TeacherTrainCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "teacher-train",
        abstract: "Train an 8-class FER+ face teacher (mini-Xception family); best net on Valid → OUT/teacher.safetensors.",
        discussion: """
        DATA is the FER+ release layout (FER2013Train|Valid|Test/ with label.csv) or fer2013new.csv beside the images.
        Faces whose majority vote is unknown or not-a-face are left out. Writes per epoch: last.safetensors,
        optimizer.safetensors, trainer_state.json, epochs.csv; --resume continues exactly where a run stopped.
        """)

    @Option(help: "FER+ folder.") var data: String
    @Option(help: "Model: \(TeacherNetConfig.names.joined(separator: ", ")).") var model: String = TeacherNetConfig.defaultName
    @Option(help: "Run folder.") var out: String
    @Option(help: "Targets: distribution (cross-entropy against the vote distribution) or majority.") var mode: String = "distribution"
    @Option(help: "Epochs.") var epochs: Int = 30
    @Option(help: "Batch size.") var batchSize: Int = 64
    @Option(help: "sgd (momentum 0.9) or adam.") var optimizer: String = "sgd"
    @Option(help: "Learning rate at the first epoch.") var lr: Float = 0.05
    @Option(help: "Learning rate at the last epoch (log-linear decay).") var lrEnd: Float = 5e-4
    @Option(help: "Weight decay.") var weightDecay: Float = 1e-4
    @Flag(help: "No augmentation (random shift/rotation/scale/flip/brightness/contrast are on by default).") var noAugment = false
    @Option(help: "Use only the first N training faces (0 = all).") var limit: Int = 0
    @Option(help: "Seed.") var seed: UInt64 = 0
    @Option(help: "Threads.") var threads: Int = ProcessInfo.processInfo.activeProcessorCount
    @Flag(help: "Continue the run in --out.") var resume = false

    func run() throws {
        Threads.set(threads)
        var c = TeacherTrainingConfig()
        guard let m = TeacherTargetMode(rawValue: mode) else { throw ValidationError("--mode must be distribution or majority") }
        c.model = model; c.mode = m; c.epochs = epochs; c.batchSize = batchSize; c.optimizer = optimizer
        c.learningRate = lr; c.learningRateEnd = lrEnd; c.weightDecay = weightDecay; c.limit = limit; c.seed = seed
        if noAugment { c.augmentation = nil }
        let train = try FERPlus.read(root: data, split: .train), valid = try FERPlus.read(root: data, split: .valid)
        let trainer = try TeacherTrainer(config: c, runDir: out, resume: resume)
        print("\(model): \(train.filter { $0.majority != nil }.count) training faces, \(valid.filter { $0.majority != nil }.count) validation faces (unknown/NF majority left out)")
        try trainer.train(train, valid: valid)
        print("\(trainer.bestPath): best on Valid; epochs in \(trainer.epochsPath)")
    }
}

struct TeacherEvalCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "teacher-eval",
        abstract: "FER+ protocol: accuracy against the majority vote, per-class recall, confusion matrix (CSV + JSON).")

    @Option(help: "A face-teacher checkpoint (teacher-train's teacher.safetensors).") var teacher: String
    @Option(help: "FER+ folder.") var data: String
    @Option(help: "Split: train, valid or test.") var split: String = "test"
    @Option(help: "Output folder (confusion.csv, metrics.json).") var out: String
    @Option(help: "Threads.") var threads: Int = ProcessInfo.processInfo.activeProcessorCount

    func run() throws {
        Threads.set(threads)
        guard let s = ["train": FERPlusSplit.train, "valid": .valid, "test": .test][split] else { throw ValidationError("--split must be train, valid or test") }
        let model = try TrainedFaceTeacher.load(teacher)
        let e = TeacherTrainer.evaluate(model, faces: try FERPlus.read(root: data, split: s))
        try FileManager.default.createDirectory(atPath: out, withIntermediateDirectories: true)
        try AtomicFile.write(e.confusionCSV(), to: out + "/confusion.csv")
        let metrics: [String: Any] = ["split": s.rawValue, "faces": e.faces, "accuracy": e.accuracy, "unweighted_accuracy": e.report.ua,
                                      "recall": Dictionary(uniqueKeysWithValues: zip(e.report.classNames, e.report.recall.map { $0.map { $0 as Any } ?? NSNull() })),
                                      "skipped_images": e.skipped.count]
        try AtomicFile.write(try JSONSerialization.data(withJSONObject: metrics, options: [.prettyPrinted, .sortedKeys]), to: out + "/metrics.json")
        print(String(format: "%@ on %@: accuracy %.4f (majority vote, %d faces), UA %.4f", teacher, s.rawValue, e.accuracy, e.faces, e.report.ua))
        for (c, r) in zip(e.report.classNames, e.report.recall) { print("  recall \(c): \(r.map { String(format: "%.3f", $0) } ?? "–")") }
    }
}
