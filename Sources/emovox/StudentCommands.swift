import ArgumentParser
import Foundation
import EmovoxCore
import EmovoxAudio
import EmovoxData
import EmovoxDistill
import EmovoxEval
import EmovoxModels
import EmovoxReport
import EmovoxLabelling
import EmovoxInference
import EmovoxAnalysis
import EmovoxDemo

struct DistillCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "distill",
        abstract: "Train a speech student on the teacher's labels (cross-modal distillation); checkpoints every epoch, --resume continues.")

    @Option(help: "Manifest with splits (clips without a split count as train).") var corpus: String
    @Option(help: "Teacher labels JSONL from `emovox label`.") var labels: String
    @Option(help: "Student: vggm (paper) or vggm-small (CPU-sized).") var model: String = "vggm-small"
    @Option(help: "Run folder (weights, optimiser state, epochs.csv).") var out: String
    @Option var epochs: Int = 20
    @Option(name: .customLong("batch-size")) var batchSize: Int = 64
    @Option(help: "Log-linear learning rate start.") var lrStart: Float = 1e-4
    @Option(help: "Log-linear learning rate end.") var lrEnd: Float = 1e-5
    @Option var momentum: Float = 0.9
    @Option var weightDecay: Float = 5e-4
    @Option(help: "Distillation temperature.") var temperature: Float = 2
    @Flag(help: "Sample clips inversely to the frequency of their dominant teacher class.") var classBalanced = false
    @Option var seed: UInt64 = 0
    @Flag(help: "Continue an interrupted run in --out.") var resume = false
    @Option(help: "Threads (default: the cores, shared between the ranks of an MPI job on this machine).") var threads: Int?
    @Option(help: "Split each rank's share of a global batch into K equal micro-batches whose gradients are averaged before the step (--batch-size must divide by ranks × K).")
    var microBatches: Int = 1
    @Option(help: .hidden) var weightChecksums: String?

    func run() throws {
        let launch = try DataParallelLaunch()
        try launch.run { try train(launch) }
    }

    private func train(_ launch: DataParallelLaunch) throws {
        Threads.set(threads ?? max(1, ProcessInfo.processInfo.activeProcessorCount / SingleProcess.localRanks))
        let manifest = try Manifest.read(corpus)
        let labelRecords = try LabelStore.read(labels)
        guard let classes = labelRecords.first?.classes else { throw EmovoxError("no label records", file: labels) }
        var cfg = DistillationConfig()
        cfg.model = model; cfg.epochs = epochs; cfg.batchSize = batchSize; cfg.learningRateStart = lrStart; cfg.learningRateEnd = lrEnd
        cfg.momentum = momentum; cfg.weightDecay = weightDecay; cfg.temperature = temperature; cfg.classBalanced = classBalanced; cfg.seed = seed
        let trainer = try DistillationTrainer.make(config: cfg, classes: classes, runDir: out, resume: resume)
        trainer.communicator = launch.communicator
        trainer.microBatches = microBatches
        trainer.weightChecksumsPath = weightChecksums
        try trainer.checkBatchSplit()
        var skipped: [(String, String)] = []
        let train = Pipelines.items(manifest: manifest, labels: labelRecords, splits: ["train"], skipped: &skipped)
        let heard = launch.isLeader ? Pipelines.items(manifest: manifest, labels: labelRecords, splits: ["heard"], skipped: &skipped) : []
        if !skipped.isEmpty, launch.isLeader {
            print("skipped \(skipped.count) clips: " + skipped.prefix(5).map { "\($0.0) (\($0.1))" }.joined(separator: "; "))
        }
        try trainer.train(train, validation: heard)
        if launch.isLeader {
            print("\(trainer.weightsPath): \(train.count) training clips, \(epochs) epochs, \(launch.communicator.size) rank(s) × \(microBatches) micro-batch(es); log \(trainer.logPath)")
        }
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
        let student = try StudentRunner(checkpoint: runFolder + "/student.safetensors")
        let manifest = try Manifest.read(corpus)
        let result = try Analysis.run(manifest: manifest, labels: try LabelStore.read(labels), student: student,
                                      progress: ProgressBar("analysis", total: manifest.clips.count))
        let caveat = manifest.clips.contains { $0.extra?["pairing"] == "pseudo-paired" } ? PseudoPairedCorpus.caveat : nil
        let files = try Analysis.write(result, to: out, runDir: runFolder, caveat: caveat, minPositives: minPositives)
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
        guard let text = try? String(contentsOfFile: scores, encoding: .utf8) else { throw EmovoxError("cannot read", file: scores) }
        let rows = CSV.parse(text).filter { !($0.count == 1 && $0[0].isEmpty) }
        guard let header = rows.first, let li = header.firstIndex(of: "label") else { throw EmovoxError("needs a 'label' column", file: scores) }
        let classCols = header.indices.filter { $0 != li && header[$0] != "id" }
        let classes = classCols.map { header[$0] }
        var labels: [Int] = [], matrix: [[Double]] = []
        for (n, r) in rows.dropFirst().enumerated() {
            guard r.count == header.count else { throw EmovoxError("line \(n + 2): \(r.count) fields, header has \(header.count)", file: scores) }
            guard let l = classes.firstIndex(of: r[li]) else { throw EmovoxError("line \(n + 2): label '\(r[li])' is not a score column", file: scores) }
            let v = classCols.map { Double(r[$0]) ?? .nan }
            guard v.allSatisfy({ $0.isFinite }) else { throw EmovoxError("line \(n + 2): a score is missing or not a finite number", file: scores) }
            labels.append(l); matrix.append(v)
        }
        let res = ROC.oneVsRest(scores: matrix, labels: labels, classNames: classes)
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
