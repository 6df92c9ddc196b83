import ArgumentParser
import Foundation
import EmovoxCore
import EmovoxUtilities
import EmovoxAudio
import EmovoxData
import EmovoxAudioStore
import EmovoxDistill
import EmovoxEval
import EmovoxModels
import EmovoxReport
import EmovoxLabelling
import EmovoxInference
import EmovoxAnalysis

/// The option defaults of `distill` are the configuration's: one source.
private let distillDefaults = DistillationConfig()

struct DistillCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "distill",
        abstract: "Train a speech student on the teacher's labels (cross-modal distillation); checkpoints every epoch, --resume continues.")

    @Option(help: "Manifest with splits (clips without a split count as train).") var corpus: String
    @Option(help: "Teacher labels JSONL from `emovox label`.") var labels: String
    @Option(help: "Student: vggm (paper) or vggm-small (CPU-sized).") var model: StudentModelName = distillDefaults.model
    @Option(help: "Run folder (weights, optimiser state, epochs.csv).") var out: String
    @Option var epochs: Int = distillDefaults.epochs
    @Option(name: .customLong("batch-size")) var batchSize: Int = distillDefaults.batchSize
    @Option(help: "Log-linear learning rate start.") var lrStart: Float = distillDefaults.learningRateStart
    @Option(help: "Log-linear learning rate end.") var lrEnd: Float = distillDefaults.learningRateEnd
    @Option var momentum: Float = distillDefaults.momentum
    @Option var weightDecay: Float = distillDefaults.weightDecay
    @Option(help: "Distillation temperature.") var temperature: Float = distillDefaults.temperature
    @Flag(help: "Sample clips inversely to the frequency of their dominant teacher class.") var classBalanced = distillDefaults.classBalanced
    @Option var seed: UInt64 = distillDefaults.seed
    @OptionGroup(title: "Augmentation (training only; all off by default)") var augment: AugmentationOptions
    @Flag(help: "Continue an interrupted run in --out.") var resume = false
    @Option(help: "Threads (default: the cores, shared between the ranks of an MPI job on this machine).") var threads: Int?
    @Option(help: "Packed audio store from `emovox corpus pack` (default: <corpus>.store/ when it exists).") var audioStore: String?
    @Flag(help: "Load every clip's audio into memory even when a store sits beside the manifest.") var inMemory = false
    @Option(help: "Stop after this many optimisation steps (checkpointed; --resume continues).") var maxSteps: Int?
    @Option(help: "Held-out clips scored after each epoch: a fixed, evenly spaced subset of the 'heard' split.") var valClips: Int = 2000
    @Option(help: "Batches prepared ahead on a background thread (0: in line).") var prefetch: Int = 2
    @Option(help: "Split each rank's share of a global batch into K equal micro-batches whose gradients are averaged before the step (--batch-size must divide by ranks × K).")
    var microBatches: Int = 1
    @Option(help: .hidden) var weightChecksums: String?

    func run() throws {
        let launch = try DataParallelLaunch()
        try launch.run { try train(launch) }
    }

    private func train(_ launch: DataParallelLaunch) throws {
        let started = Date()
        Threads.set(threads ?? max(1, ProcessInfo.processInfo.activeProcessorCount / SingleProcess.localRanks))
        // The batch split is checked before any audio is read.
        let parts = launch.communicator.size * microBatches
        guard microBatches >= 1, batchSize % parts == 0 else {
            throw EmovoxError("--batch-size \(batchSize) must divide by ranks × micro-batches = \(launch.communicator.size) × \(microBatches)")
        }
        let manifest = try Manifest.read(corpus)
        var cfg = DistillationConfig()
        cfg.model = model; cfg.epochs = epochs; cfg.batchSize = batchSize; cfg.learningRateStart = lrStart; cfg.learningRateEnd = lrEnd
        cfg.momentum = momentum; cfg.weightDecay = weightDecay; cfg.temperature = temperature; cfg.classBalanced = classBalanced; cfg.seed = seed
        cfg.augmentation = try augment.augmentation()
        var origin = Pipelines.AudioOrigin.memory
        if let path = audioStore ?? (inMemory ? nil : Pipelines.storeBeside(manifest: corpus)) {
            origin = .store(try AudioStore(path))
            if launch.isLeader { print("audio: crops read from the packed store \(path)") }
        }
        var skipped: [(String, String)] = []
        // Only rank 0 scores the held-out clips.
        let (train, heard, classes) = try Pipelines.sets(manifest: manifest, labels: labels, audio: origin,
                                                         validationClips: launch.isLeader ? valClips : 0, skipped: &skipped)
        if !skipped.isEmpty, launch.isLeader {
            print("skipped \(skipped.count) clips: " + skipped.prefix(5).map { "\($0.0) (\($0.1))" }.joined(separator: "; "))
        }
        let trainer = try DistillationTrainer.make(config: cfg, classes: classes, runDir: out, resume: resume)
        trainer.prefetch = prefetch
        trainer.communicator = launch.communicator
        trainer.microBatches = microBatches
        trainer.weightChecksumsPath = weightChecksums
        try trainer.train(train, validation: heard, maxSteps: maxSteps)
        guard launch.isLeader else { return }
        if let first = trainer.firstStepEnded {
            print(String(format: "time to first step %.2f s; %@ after it", first.timeIntervalSince(started),
                         trainer.steadySamplesPerSecond.map { String(format: "%.1f samples/s", $0) } ?? "no further steps"))
        }
        print("\(trainer.weightsPath): \(train.count) training clips, \(heard.count) held-out, \(launch.communicator.size) rank(s) × \(microBatches) micro-batch(es); log \(trainer.logPath)")
    }
}

struct AnalyzeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "analyze",
        abstract: "The paper's student analysis: ROC/AUC per emotion on train, heard and unheard identities; HTML report.")
    @Argument(help: "Run folder from `emovox distill` (student.safetensors).") var runFolder: String
    @Option(help: "Manifest with splits.") var corpus: String
    @Option(help: "Teacher labels JSONL.") var labels: String
    @Option(help: "Report folder.") var out: String
    @Option(help: "Fewest positives for a class's ROC to be drawn.") var minPositives: Int = 5

    func run() throws {
        let (_, files) = try Analysis.analyze(runDir: runFolder, corpus: corpus, labels: labels, out: out, minPositives: minPositives)
        print(try String(contentsOfFile: files["auc"]!, encoding: .utf8))
        print("report: \(files["report"]!)")
    }
}

struct RocCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "roc", abstract: "One-vs-rest ROC/AUC per class from a score table (scikit-learn conventions).")
    @Option(help: "CSV with columns id,label,<class>… (label = true class name).") var scores: String
    @Option(help: "Output CSV class,auc,positives,negatives.") var out: String
    @Option(help: "Also write the curves (class,fpr,tpr,threshold).") var curves: String?
    @Option(help: "Draw the curves as SVG (+PNG).") var plot: String?

    func run() throws {
        let table = try ScoreTable.read(scores)
        let res = ROC.oneVsRest(scores: table.scores, labels: table.labels, classNames: table.classes)
        var csv = "class,auc,positives,negatives\n", cv = "class,fpr,tpr,threshold\n"
        for r in res {
            csv += "\(r.name),\(r.auc.map { String(format: "%.6f", $0) } ?? ""),\(r.positives),\(r.negatives)\n"
            if let c = r.curve { for i in c.fpr.indices { cv += "\(r.name),\(c.fpr[i]),\(c.tpr[i]),\(c.thresholds[i])\n" } }
        }
        try AtomicFile.write(csv, to: out)
        if let curves { try AtomicFile.write(cv, to: curves) }
        if let plot {
            try ReportFigures.rocBySplit([(split: (scores as NSString).lastPathComponent, classes: res.map {
                ROCSeries(name: $0.name, fpr: $0.curve?.fpr ?? [], tpr: $0.curve?.tpr ?? [], auc: $0.auc, positives: $0.positives, negatives: $0.negatives) })]).write(svgPath: plot)
        }
        print(csv, terminator: "")
    }
}
