import Foundation
import EmovoxCore
import EmovoxModels
import EmovoxAudio
import EmovoxLabelling

/// One training clip: 16 kHz audio and the teacher's frame logits for it.
public struct DistillationItem {
    public let id: String
    public let audio: [Float]
    public let labels: ClipTeacherLabels
    public init(id: String, audio: [Float], labels: ClipTeacherLabels) { self.id = id; self.audio = audio; self.labels = labels }
}

public struct DistillationConfig: Codable, Equatable {
    public var model = "vggm-small"
    public var epochs = 20
    public var batchSize = 64
    public var learningRateStart: Float = 1e-4
    public var learningRateEnd: Float = 1e-5
    public var momentum: Float = 0.9
    public var weightDecay: Float = 5e-4
    public var temperature: Float = 2
    public var cropSamples = 64_384          // 4.024 s at 16 kHz → 400 frames
    public var sampleRate = 16_000
    /// Draw clips with probability ∝ 1/(count of their dominant teacher class): counters the drift to "neutral".
    public var classBalanced = false
    public var seed: UInt64 = 0
    public init() {}
}

/// What `distill` writes per epoch (also the CSV log row).
public struct EpochRecord: Codable {
    public var epoch: Int
    public var learningRate: Float
    public var trainLoss: Float
    public var validationLoss: Float?
    public var seconds: Double
    public var samplesPerSecond: Double
    public var cropsWithoutFaceFrames: Int
}

/// Resumable training state beside the weights.
struct TrainerState: Codable {
    var epochsDone: Int
    var rng: SeededRNG
    var history: [EpochRecord]
    var config: DistillationConfig
    var classes: [String]
}

/// Teacher → student distillation (paper §3): random 4.024 s crops, soft targets at T = 2,
/// cross-entropy between softmax(teacher/T) and softmax(student/T), SGD with momentum and a log-linear LR.
public final class DistillationTrainer {
    public let config: DistillationConfig
    public let runDir: String
    public let classes: [String]
    public private(set) var model: StudentModel
    /// Spectrograms for a batch of crops: [N, 1, bins, frames]; one dither RNG per crop (nil: no dither).
    public let featurize: (_ crops: [[Float]], _ dithers: [SeededRNG?]) -> Tensor
    var rng: SeededRNG
    var optimizer: SGD
    public private(set) var history: [EpochRecord] = []
    var epochsDone = 0
    public var log: (String) -> Void = { FileHandle.standardError.write(Data(($0).utf8)) }
    /// Stops after this many epochs in total (simulates an interruption in tests).
    var epochsLimitForTesting: Int? = nil
    /// Data parallelism (see DataParallel.swift): the ranks sharing each global batch, and how many equal
    /// micro-batches each rank splits its share into; gradients are averaged over all of them before a step.
    public var communicator: Communicator = SingleProcess()
    public var microBatches = 1
    /// Debug: every rank appends a checksum of its weights after each step to `<path>.rank<r>` (the MPI test).
    public var weightChecksumsPath: String? = nil
    var ranksSynchronised = false

    public var weightsPath: String { runDir + "/student.safetensors" }
    var statePath: String { runDir + "/trainer_state.json" }
    var optimizerPath: String { runDir + "/optimizer.safetensors" }
    public var logPath: String { runDir + "/epochs.csv" }

    public init(config: DistillationConfig, classes: [String], runDir: String,
                featurize: @escaping (_ crops: [[Float]], _ dithers: [SeededRNG?]) -> Tensor, resume: Bool) throws {
        self.config = config; self.classes = classes; self.runDir = runDir; self.featurize = featurize
        try FileManager.default.createDirectory(atPath: runDir, withIntermediateDirectories: true)
        var r = SeededRNG(seed: config.seed)
        let cfg = try StudentConfig.named(config.model, classes: classes.count)
        model = StudentModel(config: cfg, rng: &r)
        rng = r
        optimizer = SGD(model.network.parameters, learningRate: config.learningRateStart,
                        momentum: config.momentum, weightDecay: config.weightDecay)
        if resume, FileManager.default.fileExists(atPath: statePath) {
            let state = try JSONDecoder().decode(TrainerState.self, from: Data(contentsOf: URL(fileURLWithPath: statePath)))
            guard state.config == config else {
                throw EmovoxError("the run was started with another configuration; start a new --out folder or pass the same options", file: statePath)
            }
            guard state.classes == classes else { throw EmovoxError("the run's classes \(state.classes) differ from the labels' \(classes)", file: statePath) }
            let loaded = try StudentCheckpoint.load(weightsPath)
            model = loaded.model
            optimizer = SGD(model.network.parameters, learningRate: config.learningRateStart,
                            momentum: config.momentum, weightDecay: config.weightDecay)
            try optimizer.load(state: try Safetensors.read(optimizerPath).tensors)
            rng = state.rng
            history = state.history
            epochsDone = state.epochsDone
        }
    }

    public var schedule: LRSchedule { .logLinear(start: config.learningRateStart, end: config.learningRateEnd, epochs: config.epochs) }

    /// A random crop of `cropSamples` (zero-padded when the clip is shorter) and its time span in seconds.
    public static func randomCrop(_ audio: [Float], samples: Int, sampleRate: Int, rng: inout SeededRNG) -> (crop: [Float], start: Double, end: Double) {
        let (crop, s) = Spectrogram.randomCrop(audio, samples: samples, rng: &rng)
        return (crop, Double(s) / Double(sampleRate), Double(min(s + samples, audio.count)) / Double(sampleRate))
    }

    /// Epoch order: a shuffle, or class-balanced draws with replacement (same count).
    func epochOrder(_ items: [DistillationItem]) -> [Int] {
        if !config.classBalanced {
            var idx = Array(items.indices)
            for i in stride(from: idx.count - 1, to: 0, by: -1) { idx.swapAt(i, rng.int(below: i + 1)) }
            return idx
        }
        let dominant = items.map { $0.labels.dominantClass ?? 0 }
        var counts = [Int: Int]()
        for d in dominant { counts[d, default: 0] += 1 }
        let weights = dominant.map { 1 / Double(counts[$0]!) }
        let total = weights.reduce(0, +)
        return (0..<items.count).map { _ in
            var u = Double(rng.uniform()) * total
            for (i, w) in weights.enumerated() { u -= w; if u <= 0 { return i } }
            return items.count - 1
        }
    }

    /// Mean loss over deterministic centre crops (no update): the held-out curve.
    public func evaluate(_ items: [DistillationItem]) -> Float {
        guard !items.isEmpty else { return .nan }
        var total = 0.0
        for start in stride(from: 0, to: items.count, by: config.batchSize) {
            let batch = items[start..<min(start + config.batchSize, items.count)]
            var crops: [[Float]] = [], targets: [Float] = []
            for it in batch {
                let (c, s) = Spectrogram.centreCrop(it.audio, maxSamples: config.cropSamples, minSamples: config.cropSamples)
                crops.append(c)
                let t0 = Double(s) / Double(config.sampleRate)
                targets += DistillationTarget.softTarget(it.labels, start: t0, end: t0 + Double(config.cropSamples) / Double(config.sampleRate),
                                                         temperature: config.temperature).target
            }
            let x = featurize(crops, crops.map { _ in nil })
            let logits = model.forward(x, training: false)
            let (loss, _) = Loss.softCrossEntropy(logits: logits, targets: Tensor(shape: logits.shape, data: targets), temperature: config.temperature)
            total += Double(loss) * Double(batch.count)
        }
        return Float(total / Double(items.count))
    }

    /// Trains until `config.epochs`, checkpointing after each epoch (weights, optimiser, RNG, log) atomically.
    /// With several ranks or micro-batches each global batch of `batchSize` is split into ranks × microBatches equal
    /// micro-batches; only rank 0 writes checkpoints and logs.
    public func train(_ items: [DistillationItem], validation: [DistillationItem] = []) throws {
        guard !items.isEmpty else { throw EmovoxError("no training clips with teacher labels") }
        let (usable, batches) = try dataParallelLayout(clips: items.count)
        try synchroniseRanks()
        while epochsDone < min(config.epochs, epochsLimitForTesting ?? .max) {
            let epoch = epochsDone
            optimizer.learningRate = schedule.rate(epoch: epoch)
            let order = epochOrder(items)
            let t0 = Date()
            var lossSum = 0.0, seen = 0, noFace = 0
            for b in 0..<batches {
                var gradients = [Float](repeating: 0, count: gradientCount)
                for positions in microBatchPositions(batch: b, usable: usable) {
                    var crops: [[Float]] = [], targets: [Float] = [], dithers: [SeededRNG?] = []
                    for p in positions {
                        // Keyed by the position in the epoch order: the same crop and dither on any rank or micro-batch.
                        var sampleRNG = SeededRNG(seed: config.seed, epoch: epoch, position: p)
                        let (crop, s, e) = Self.randomCrop(items[order[p]].audio, samples: config.cropSamples, sampleRate: config.sampleRate, rng: &sampleRNG)
                        let (target, inside) = DistillationTarget.softTarget(items[order[p]].labels, start: s, end: e, temperature: config.temperature)
                        if !inside { noFace += 1 }
                        crops.append(crop); targets += target; dithers.append(sampleRNG)
                    }
                    let x = featurize(crops, dithers)
                    optimizer.zeroGrad()
                    let logits = model.forward(x, training: true)
                    let (loss, grad) = Loss.softCrossEntropy(logits: logits, targets: Tensor(shape: logits.shape, data: targets),
                                                              temperature: config.temperature)
                    guard loss.isFinite else {
                        throw EmovoxError("loss became \(loss) at epoch \(epoch + 1), batch \(b + 1): lower the learning rate; the last good checkpoint is kept", file: runDir)
                    }
                    model.backward(grad)
                    addGradients(into: &gradients)
                    lossSum += Double(loss) * Double(positions.count)
                    seen += positions.count
                }
                try averageGradients(&gradients)
                optimizer.step()
                try appendWeightChecksum(epoch: epoch, batch: b)
                let elapsed = Date().timeIntervalSince(t0)
                let rate = Double(seen * communicator.size) / max(elapsed, 1e-9)
                let remaining = Double(usable * (config.epochs - epoch) - seen * communicator.size) / rate
                if ProgressBar.interactive {  // per-batch progress only on a terminal; logs get the epoch lines
                    log(String(format: "\repoch %d/%d  batch %d/%d  loss %.4f  %.1f samples/s  ETA %@   ",
                               epoch + 1, config.epochs, b + 1, batches, lossSum / Double(seen), rate, ProgressBar.formatDuration(remaining)))
                }
            }
            let totals = try epochTotals(lossSum: lossSum, seen: seen, noFace: noFace)
            try averageBatchNormStatistics()  // before the held-out loss and the checkpoint use them
            try appendWeightChecksum(epoch: epoch)
            let seconds = Date().timeIntervalSince(t0)
            let val = validation.isEmpty || communicator.rank != 0 ? nil : evaluate(validation)
            let rec = EpochRecord(epoch: epoch + 1, learningRate: optimizer.learningRate, trainLoss: Float(totals.lossSum / Double(totals.seen)),
                                  validationLoss: val, seconds: seconds, samplesPerSecond: Double(totals.seen) / seconds,
                                  cropsWithoutFaceFrames: totals.noFace)
            history.append(rec)
            epochsDone += 1
            guard communicator.rank == 0 else { continue }
            try checkpoint()
            log(String(format: "%@epoch %d/%d  train loss %.4f%@  lr %.2e  %.1f s (%.1f samples/s)\n", ProgressBar.interactive ? "\r" : "", epoch + 1, config.epochs,
                       rec.trainLoss, val.map { String(format: "  held-out loss %.4f", $0) } ?? "", rec.learningRate, seconds, rec.samplesPerSecond))
        }
    }

    func checkpoint() throws {
        try StudentCheckpoint.save(model, classes: classes, extra: ["epochs": String(epochsDone), "temperature": String(config.temperature)], to: weightsPath)
        try Safetensors.write(optimizer.state(), metadata: ["optimizer": "sgd"], to: optimizerPath)
        let enc = JSONEncoder()
        enc.outputFormatting = [.prettyPrinted, .sortedKeys]
        try AtomicFile.write(try enc.encode(TrainerState(epochsDone: epochsDone, rng: rng, history: history, config: config, classes: classes)), to: statePath)
        var csv = "epoch,learning_rate,train_loss,heldout_loss,seconds,samples_per_second,crops_without_face_frames\n"
        for r in history {
            csv += "\(r.epoch),\(r.learningRate),\(r.trainLoss),\(r.validationLoss.map { String($0) } ?? ""),\(String(format: "%.2f", r.seconds)),\(String(format: "%.2f", r.samplesPerSecond)),\(r.cropsWithoutFaceFrames)\n"
        }
        try AtomicFile.write(csv, to: logPath)
    }
}
