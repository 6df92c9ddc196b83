import Foundation
import EmovoxCore
import EmovoxUtilities
import EmovoxModels
import EmovoxAudio
import EmovoxLabelling
import EmovoxAudioStore
import EmovoxTraining

public struct DistillationConfig: Codable, Equatable, Sendable {
    public var model = StudentModelName.vggmSmall
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
    /// Training-time audio augmentation (crops, then spectrogram masks); nil = off, the default until the
    /// recipe search picks its parts. Optional so trainer states written before it existed still resume.
    public var augmentation: AudioAugmentation? = nil
    public init() {}
}

/// What `distill` writes per epoch (also the CSV log row).
public struct EpochRecord: Codable {
    public var epoch: Int
    public var learningRate: Float
    public var trainLoss: Float
    public var validationLoss: Float?
    /// Wall-clock figures are not stored in the checkpoint (they would make two identical runs differ
    /// byte for byte); they go to timing.csv only.
    public var seconds: Double = 0
    public var samplesPerSecond: Double = 0
    public var cropsWithoutFaceFrames: Int

    enum CodingKeys: String, CodingKey { case epoch, learningRate, trainLoss, validationLoss, cropsWithoutFaceFrames }
}

/// Resumable training state beside the weights. Epoch orders, crops and dither are pure functions of
/// (seed, epoch, position), so the state is just how far training got (and the partial epoch's sums).
struct TrainerState: Codable {
    var epochsDone: Int
    var batchesDone: Int
    var partial: EpochProgress
    var history: [EpochRecord]
    var config: DistillationConfig
    var classes: [String]
}

/// Sums over the batches done so far in the current epoch (its wall-clock seconds are not stored: same bytes per run).
struct EpochProgress: Codable {
    var lossSum = 0.0, seen = 0, noFace = 0, seconds = 0.0
    enum CodingKeys: String, CodingKey { case lossSum, seen, noFace }
}

/// One batch ready for the network: spectrograms [N, 1, bins, frames] and soft targets [N, classes].
public struct PreparedBatch {
    public let x: Tensor
    public let targets: Tensor
    public let cropsWithoutFaceFrames: Int
    public var count: Int { x.shape[0] }
}

/// Teacher → student distillation (paper §3): random 4.024 s crops, soft targets at T = 2,
/// cross-entropy between softmax(teacher/T) and softmax(student/T), SGD with momentum and a log-linear LR.
public final class DistillationTrainer {
    public let config: DistillationConfig
    public var runDir: String { run.directory }
    /// The run folder: resume file, reports, logs (shared with `teacher-train`).
    let run: TrainingRun
    public let classes: [String]
    public private(set) var model: StudentModel
    /// Spectrograms for a batch of crops: [N, 1, bins, frames]; one dither RNG per crop (nil: no dither).
    public let featurize: (_ crops: [[Float]], _ dithers: [SeededRNG?]) -> Tensor
    var optimizer: SGD
    public private(set) var history: [EpochRecord] = []
    var epochsDone = 0
    var batchesDone = 0
    var partial = EpochProgress()
    public var log: (String) -> Void = { FileHandle.standardError.write(Data(($0).utf8)) }
    /// Batches prepared ahead on a background thread (0: in line).
    public var prefetch = 2
    /// Stops after this many epochs in total (simulates an interruption in tests).
    var epochsLimitForTesting: Int? = nil
    /// When the first optimisation step of the last `train` call ended, and samples/s after it (steady state).
    public private(set) var firstStepEnded: Date?
    public private(set) var steadySamplesPerSecond: Double?
    /// Data parallelism (see DataParallel.swift): the ranks sharing each global batch, and how many equal
    /// micro-batches each rank splits its share into; gradients are averaged over all of them before a step.
    public var communicator: Communicator = SingleProcess()
    public var microBatches = 1
    /// Debug: every rank appends a checksum of its weights after each step to `<path>.rank<r>` (the MPI test).
    public var weightChecksumsPath: String? = nil
    var ranksSynchronised = false

    public var weightsPath: String { runDir + "/student.safetensors" }
    /// Written by emovox before the resume file existed (read on resume, deleted by the next checkpoint).
    var optimizerPath: String { runDir + "/optimizer.safetensors" }
    /// Set on resume: the human-readable files are rewritten from the resume file (by rank 0 only) before training.
    var reportsBehind = false
    public var logPath: String { run.epochsPath }

    public init(config: DistillationConfig, classes: [String], runDir: String,
                featurize: @escaping (_ crops: [[Float]], _ dithers: [SeededRNG?]) -> Tensor, resume: Bool) throws {
        self.config = config; self.classes = classes; self.featurize = featurize
        run = try TrainingRun(directory: runDir)
        var r = SeededRNG(seed: config.seed)
        let cfg = StudentConfig.named(config.model, classes: classes.count)
        model = StudentModel(config: cfg, rng: &r)
        optimizer = SGD(model.network.parameters, learningRate: config.learningRateStart,
                        momentum: config.momentum, weightDecay: config.weightDecay)
        guard resume else { return }
        if let saved = try run.loadResume(TrainerState.self) {
            try restore(saved.state, source: run.resumePath)
            try Self.checkSpectrogramVersion(saved.metadata["spectrogram"], source: run.resumePath)
            try model.network.load(stateDict: saved.network, source: run.resumePath)
            try optimizer.load(state: saved.optimizer)
            reportsBehind = true  // a kill between the resume file and the reports left them one checkpoint behind
        } else if FileManager.default.fileExists(atPath: run.statePath) {  // a run from before resume.safetensors
            guard let state = try? JSONDecoder().decode(TrainerState.self, from: Data(contentsOf: URL(fileURLWithPath: run.statePath))) else {
                throw EmovoxError("unreadable trainer state (or one written by an older emovox); start a new run folder", file: run.statePath)
            }
            try restore(state, source: run.statePath)
            let (weights, weightsMeta) = try Safetensors.read(weightsPath)
            try Self.checkSpectrogramVersion(weightsMeta["spectrogram"], source: weightsPath)
            try model.network.load(stateDict: weights, source: weightsPath)
            try optimizer.load(state: try Safetensors.read(optimizerPath).tensors)
        }
    }

    private func restore(_ state: TrainerState, source: String) throws {
        try TrainingRun.checkSameConfiguration(recorded: state.config, current: config, source: source)
        guard state.classes == classes else { throw EmovoxError("the run's classes \(state.classes) differ from the labels' \(classes)", file: source) }
        history = state.history
        epochsDone = state.epochsDone
        batchesDone = state.batchesDone
        partial = state.partial
    }

    /// A run trained on another spectrogram normalisation cannot go on with this build's (checkpoints without the
    /// key predate version 2).
    private static func checkSpectrogramVersion(_ recorded: String?, source: String) throws {
        guard (recorded.flatMap(Int.init) ?? 1) == SpectrogramConfig.currentVersion else {
            throw EmovoxError("the run was trained on spectrogram version \(recorded ?? "1") (this build makes \(SpectrogramConfig.currentVersion)); start a new run folder", file: source)
        }
    }

    public var schedule: LRSchedule { .logLinear(start: config.learningRateStart, end: config.learningRateEnd, epochs: config.epochs) }

    /// Epoch order: a shuffle, or class-balanced draws with replacement (same count); a function of (seed, epoch)
    /// only, so a resumed run and every data-parallel rank compute the same order.
    func epochOrder(_ set: DistillationSet, epoch: Int) -> [Int] {
        if !config.classBalanced { return TrainingRun.shuffledOrder(count: set.count, seed: config.seed, epoch: epoch) }
        var rng = SeededRNG(seed: config.seed, epoch: epoch, position: -1)
        let dominant = (0..<set.count).map { set.teacher.dominantClass($0) }
        var counts = [Int: Int]()
        for d in dominant { counts[d, default: 0] += 1 }
        var cumulative = [Double](), total = 0.0
        cumulative.reserveCapacity(set.count)
        for d in dominant { total += 1 / Double(counts[d]!); cumulative.append(total) }
        return (0..<set.count).map { _ in
            // First clip whose cumulative weight reaches u (binary search: a million-clip corpus stays fast).
            let u = Double(rng.uniform()) * total
            var lo = 0, hi = set.count - 1
            while lo < hi { let mid = (lo + hi) / 2; if cumulative[mid] >= u { hi = mid } else { lo = mid + 1 } }
            return lo
        }
    }

    /// The batch at positions [a, b) of the epoch's order: read each crop, dither, spectrogram, soft targets.
    /// Sample p's crop and dither come from `SeededRNG(seed:epoch:position: p)`, so the batch is the same whichever
    /// thread (or rank) prepares it.
    public func prepareBatch(_ set: DistillationSet, order: [Int], epoch: Int, positions: Range<Int>) -> PreparedBatch {
        var crops: [[Float]] = [], dithers: [SeededRNG?] = [], masks: [SeededRNG] = [], targets: [Float] = [], noFace = 0
        let rate = Double(config.sampleRate)
        for p in positions {
            let clip = order[p]
            var rng = SeededRNG(seed: config.seed, epoch: epoch, position: p)
            let crop: [Float], s: Int, e: Int
            if let aug = config.augmentation {
                // Augmented crops see the whole clip (placement needs its length, speed perturbation reads factor × crop).
                let c = aug.crop(set.audio.samples(clip, from: 0, count: set.audio.sampleCount(clip)), samples: config.cropSamples, rng: &rng)
                (crop, s, e) = (c.crop, c.start, c.end)
                masks.append(rng.split())
            } else {
                (crop, s) = set.audio.randomCrop(clip, samples: config.cropSamples, rng: &rng)
                e = min(s + config.cropSamples, set.audio.sampleCount(clip))
            }
            let (target, inside) = set.teacher.softTarget(clip, start: Double(s) / rate, end: Double(e) / rate, temperature: config.temperature)
            if !inside { noFace += 1 }
            crops.append(crop); targets += target; dithers.append(rng)
        }
        var x = featurize(crops, dithers)
        if let aug = config.augmentation { aug.mask(&x, rngs: masks) }  // SpecAugment masks, one stream per sample
        return PreparedBatch(x: x, targets: Tensor(shape: [positions.count, classes.count], data: targets), cropsWithoutFaceFrames: noFace)
    }

    /// Forward and backward on a prepared batch: leaves the gradients in the parameters, returns the loss.
    public func gradient(_ batch: PreparedBatch) -> Float {
        optimizer.zeroGrad()
        let logits = model.forward(batch.x, training: true)
        let (loss, grad) = Loss.softCrossEntropy(logits: logits, targets: batch.targets, temperature: config.temperature)
        model.backward(grad)
        return loss
    }

    /// Mean loss over deterministic centre crops (no update): the held-out curve.
    public func evaluate(_ set: DistillationSet) -> Float {
        guard set.count > 0 else { return .nan }
        var total = 0.0
        let seconds = Double(config.cropSamples) / Double(config.sampleRate)
        for start in stride(from: 0, to: set.count, by: config.batchSize) {
            var crops: [[Float]] = [], targets: [Float] = []
            for i in start..<min(start + config.batchSize, set.count) {
                let (c, s) = set.audio.centreCrop(i, samples: config.cropSamples)
                crops.append(c)
                let t0 = Double(s) / Double(config.sampleRate)
                targets += set.teacher.softTarget(i, start: t0, end: t0 + seconds, temperature: config.temperature).target
            }
            let x = featurize(crops, crops.map { _ in nil })
            let logits = model.forward(x, training: false)
            let (loss, _) = Loss.softCrossEntropy(logits: logits, targets: Tensor(shape: logits.shape, data: targets), temperature: config.temperature)
            total += Double(loss) * Double(crops.count)
        }
        return Float(total / Double(set.count))
    }

    /// In-memory clips (tests, the demo): as `train(_:validation:maxSteps:)` on a `DistillationSet`.
    public func train(_ items: [DistillationItem], validation: [DistillationItem] = [], maxSteps: Int? = nil) throws {
        try train(DistillationSet(items), validation: validation.isEmpty ? nil : DistillationSet(validation), maxSteps: maxSteps)
    }

    /// Trains until `config.epochs` (or `maxSteps` optimisation steps in this call), checkpointing after each
    /// epoch and at a `maxSteps` stop (weights, optimiser, position, log) atomically; `--resume` continues exactly.
    /// With several ranks or micro-batches each global batch of `batchSize` is split into ranks × microBatches equal
    /// micro-batches (DataParallel.swift), prepared ahead on a background thread; only rank 0 writes.
    public func train(_ set: DistillationSet, validation: DistillationSet? = nil, maxSteps: Int? = nil) throws {
        guard set.count > 0 else { throw EmovoxError("no training clips with teacher labels") }
        let (usable, batches) = try dataParallelLayout(clips: set.count)
        try synchroniseRanks()
        if reportsBehind && communicator.rank == 0 { try writeReports() }
        reportsBehind = false
        var steps = 0, samplesAfterFirst = 0
        firstStepEnded = nil; steadySamplesPerSecond = nil
        while epochsDone < min(config.epochs, epochsLimitForTesting ?? .max) {
            let epoch = epochsDone
            optimizer.learningRate = schedule.rate(epoch: epoch)
            let order = epochOrder(set, epoch: epoch)
            let first = batchesDone, k = microBatches
            // This rank's micro-batches of the remaining global batches, in order.
            let loader = Prefetcher(count: (batches - first) * k, depth: prefetch) { [self] u in
                prepareBatch(set, order: order, epoch: epoch, positions: microBatchPositions(batch: first + u / k, usable: usable)[u % k])
            }
            defer { loader.cancel() }
            var t0 = Date()
            var gradients = [Float](repeating: 0, count: gradientCount), done = 0, stepSamples = 0
            while let batch = try loader.next() {
                let loss = gradient(batch)
                try run.checkFinite(loss, epoch: epoch, batch: batchesDone)
                addGradients(into: &gradients)
                partial.lossSum += Double(loss) * Double(batch.count)
                partial.seen += batch.count
                partial.noFace += batch.cropsWithoutFaceFrames
                stepSamples += batch.count
                done += 1
                guard done % k == 0 else { continue }  // the step waits for this rank's last micro-batch
                try averageGradients(&gradients)  // one allreduce over the ranks, then / (ranks × micro-batches)
                optimizer.step()
                for i in gradients.indices { gradients[i] = 0 }
                try appendWeightChecksum(epoch: epoch, batch: batchesDone)
                batchesDone += 1; steps += 1
                let now = Date()
                partial.seconds += now.timeIntervalSince(t0); t0 = now
                if let f = firstStepEnded {
                    samplesAfterFirst += stepSamples * communicator.size
                    steadySamplesPerSecond = Double(samplesAfterFirst) / max(now.timeIntervalSince(f), 1e-9)
                } else { firstStepEnded = now }
                stepSamples = 0
                let rate = Double(partial.seen * communicator.size) / max(partial.seconds, 1e-9)
                if ProgressBar.interactive && communicator.rank == 0 {  // per-batch progress only on a terminal; logs get the epoch lines
                    let remaining = Double(usable * (config.epochs - epoch) - partial.seen * communicator.size) / rate
                    log(String(format: "\repoch %d/%d  batch %d/%d  loss %.4f  %.1f samples/s  ETA %@   ",
                               epoch + 1, config.epochs, batchesDone, batches, partial.lossSum / Double(partial.seen), rate, ProgressBar.formatDuration(remaining)))
                }
                if let maxSteps, steps >= maxSteps, batchesDone < batches {
                    // The checkpoint holds the sums over all ranks; rank 0 keeps them on resume (synchroniseRanks).
                    let totals = try epochTotals(lossSum: partial.lossSum, seen: partial.seen, noFace: partial.noFace)
                    (partial.lossSum, partial.seen, partial.noFace) = totals
                    if communicator.rank == 0 {
                        try checkpoint()
                        log(String(format: "%@stopped after %d steps (the step limit) in epoch %d at batch %d/%d; resuming continues from here\n",
                                   ProgressBar.interactive ? "\r" : "", steps, epoch + 1, batchesDone, batches))
                    }
                    return
                }
            }
            let totals = try epochTotals(lossSum: partial.lossSum, seen: partial.seen, noFace: partial.noFace)
            try averageBatchNormStatistics()  // before the held-out loss and the checkpoint use them
            try appendWeightChecksum(epoch: epoch)
            let val = communicator.rank != 0 ? nil : validation.flatMap { $0.count > 0 ? evaluate($0) : nil }
            let rec = EpochRecord(epoch: epoch + 1, learningRate: optimizer.learningRate, trainLoss: Float(totals.lossSum / Double(totals.seen)),
                                  validationLoss: val, seconds: partial.seconds, samplesPerSecond: Double(totals.seen) / partial.seconds,
                                  cropsWithoutFaceFrames: totals.noFace)
            history.append(rec)
            epochsDone += 1; batchesDone = 0; partial = EpochProgress()
            if communicator.rank == 0 {
                try checkpoint()
                try run.appendTiming(epoch: rec.epoch, seconds: rec.seconds, rate: rec.samplesPerSecond, rateName: "samples_per_second")
                log(String(format: "%@epoch %d/%d  train loss %.4f%@  lr %.2e  %.1f s (%.1f samples/s)\n", ProgressBar.interactive ? "\r" : "", epoch + 1, config.epochs,
                           rec.trainLoss, val.map { String(format: "  held-out loss %.4f", $0) } ?? "", rec.learningRate, rec.seconds, rec.samplesPerSecond))
            }
            if let maxSteps, steps >= maxSteps { return }
        }
    }

    /// The resume file, then the files people read (TrainingRun.checkpoint); no wall-clock time goes into any of them.
    func checkpoint() throws {
        try run.checkpoint(network: model.network.stateDict(), optimizer: optimizer.state(), state: state,
                           metadata: ["optimizer": "sgd", "spectrogram": String(SpectrogramConfig.currentVersion)], reports: writeReports)
    }

    var state: TrainerState {
        TrainerState(epochsDone: epochsDone, batchesDone: batchesDone, partial: partial, history: history, config: config, classes: classes)
    }

    func writeReports() throws {
        try StudentCheckpoint.save(model, classes: classes, extra: ["epochs": String(epochsDone), "temperature": String(config.temperature),
                                                                   "spectrogram": String(SpectrogramConfig.currentVersion)], to: weightsPath)
        try run.writeState(state)
        try run.writeEpochs(header: "epoch,learning_rate,train_loss,heldout_loss,crops_without_face_frames", rows: history.map { r in
            "\(r.epoch),\(r.learningRate),\(r.trainLoss),\(r.validationLoss.map { String($0) } ?? ""),\(r.cropsWithoutFaceFrames)"
        })
        try? FileManager.default.removeItem(atPath: optimizerPath)  // superseded by the resume file
    }
}
