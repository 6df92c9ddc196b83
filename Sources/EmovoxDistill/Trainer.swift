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
    /// Spectrograms for a batch of crops: [N, 1, bins, frames]; `dither` on for training.
    public let featurize: (_ crops: [[Float]], _ rng: inout SeededRNG?) -> Tensor
    var rng: SeededRNG
    var optimizer: SGD
    public private(set) var history: [EpochRecord] = []
    var epochsDone = 0
    public var log: (String) -> Void = { FileHandle.standardError.write(Data(($0).utf8)) }
    /// Stops after this many epochs in total (simulates an interruption in tests).
    var epochsLimitForTesting: Int? = nil

    public var weightsPath: String { runDir + "/student.safetensors" }
    var statePath: String { runDir + "/trainer_state.json" }
    var optimizerPath: String { runDir + "/optimizer.safetensors" }
    /// Everything a resume needs (weights, momentum, RNG, history) in one atomically written file, so a kill at
    /// any moment leaves either the previous epoch's or this epoch's state, never a mix of the two.
    var resumePath: String { runDir + "/resume.safetensors" }
    public var logPath: String { runDir + "/epochs.csv" }
    var timingPath: String { runDir + "/timing.csv" }

    public init(config: DistillationConfig, classes: [String], runDir: String,
                featurize: @escaping (_ crops: [[Float]], _ rng: inout SeededRNG?) -> Tensor, resume: Bool) throws {
        self.config = config; self.classes = classes; self.runDir = runDir; self.featurize = featurize
        try FileManager.default.createDirectory(atPath: runDir, withIntermediateDirectories: true)
        var r = SeededRNG(seed: config.seed)
        let cfg = try StudentConfig.named(config.model, classes: classes.count)
        model = StudentModel(config: cfg, rng: &r)
        rng = r
        optimizer = SGD(model.network.parameters, learningRate: config.learningRateStart,
                        momentum: config.momentum, weightDecay: config.weightDecay)
        if resume, FileManager.default.fileExists(atPath: resumePath) {
            let (tensors, meta) = try Safetensors.read(resumePath)
            guard let text = meta["trainer_state"], let state = try? JSONDecoder().decode(TrainerState.self, from: Data(text.utf8)) else {
                throw EmovoxError("no trainer state in the resume file's metadata", file: resumePath)
            }
            try restore(state, source: resumePath)
            try Self.checkSpectrogramVersion(meta["spectrogram"], source: resumePath)
            try model.network.load(stateDict: Self.unprefixed(tensors, "model."), source: resumePath)
            try optimizer.load(state: Self.unprefixed(tensors, "optimizer."))
            try writeReports()  // a kill between the resume file and the reports left them one epoch behind
        } else if resume, FileManager.default.fileExists(atPath: statePath) {  // a run from before resume.safetensors
            try restore(try JSONDecoder().decode(TrainerState.self, from: Data(contentsOf: URL(fileURLWithPath: statePath))), source: statePath)
            let (weights, weightsMeta) = try Safetensors.read(weightsPath)
            try Self.checkSpectrogramVersion(weightsMeta["spectrogram"], source: weightsPath)
            try model.network.load(stateDict: weights, source: weightsPath)
            try optimizer.load(state: try Safetensors.read(optimizerPath).tensors)
        }
    }

    private func restore(_ state: TrainerState, source: String) throws {
        guard state.config == config else {
            throw EmovoxError("the run was started with another configuration; start a new --out folder or pass the same options", file: source)
        }
        guard state.classes == classes else { throw EmovoxError("the run's classes \(state.classes) differ from the labels' \(classes)", file: source) }
        rng = state.rng
        history = state.history
        epochsDone = state.epochsDone
    }

    /// A run trained on another spectrogram normalisation cannot go on with this build's (checkpoints without the
    /// key predate version 2).
    private static func checkSpectrogramVersion(_ recorded: String?, source: String) throws {
        guard (recorded.flatMap(Int.init) ?? 1) == SpectrogramConfig.currentVersion else {
            throw EmovoxError("the run was trained on spectrogram version \(recorded ?? "1") (this build makes \(SpectrogramConfig.currentVersion)); start a new --out folder", file: source)
        }
    }

    private static func unprefixed(_ tensors: [String: Tensor], _ prefix: String) -> [String: Tensor] {
        Dictionary(uniqueKeysWithValues: tensors.filter { $0.key.hasPrefix(prefix) }.map { (String($0.key.dropFirst(prefix.count)), $0.value) })
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
            var none: SeededRNG? = nil
            let x = featurize(crops, &none)
            let logits = model.forward(x, training: false)
            let (loss, _) = Loss.softCrossEntropy(logits: logits, targets: Tensor(shape: logits.shape, data: targets), temperature: config.temperature)
            total += Double(loss) * Double(batch.count)
        }
        return Float(total / Double(items.count))
    }

    /// Trains until `config.epochs`, checkpointing after each epoch (weights, optimiser, RNG, log) atomically.
    public func train(_ items: [DistillationItem], validation: [DistillationItem] = []) throws {
        guard !items.isEmpty else { throw EmovoxError("no training clips with teacher labels") }
        let batches = (items.count + config.batchSize - 1) / config.batchSize
        while epochsDone < min(config.epochs, epochsLimitForTesting ?? .max) {
            let epoch = epochsDone
            optimizer.learningRate = schedule.rate(epoch: epoch)
            let order = epochOrder(items)
            let t0 = Date()
            var lossSum = 0.0, seen = 0, noFace = 0
            for b in 0..<batches {
                let idx = order[(b * config.batchSize)..<min((b + 1) * config.batchSize, order.count)]
                var crops: [[Float]] = [], targets: [Float] = []
                for i in idx {
                    // --- augmentation (issue 13): augmented crop when configured, the plain random crop otherwise ---
                    let (crop, s, e) = config.augmentation.map { aug in
                        let c = aug.crop(items[i].audio, samples: config.cropSamples, rng: &rng)
                        return (c.crop, Double(c.start) / Double(config.sampleRate), Double(c.end) / Double(config.sampleRate))
                    } ?? Self.randomCrop(items[i].audio, samples: config.cropSamples, sampleRate: config.sampleRate, rng: &rng)
                    let (target, inside) = DistillationTarget.softTarget(items[i].labels, start: s, end: e, temperature: config.temperature)
                    if !inside { noFace += 1 }
                    crops.append(crop); targets += target
                }
                var dither: SeededRNG? = rng.split()
                var x = featurize(crops, &dither)
                if let aug = config.augmentation { aug.mask(&x, rng: &rng) }  // SpecAugment masks (issue 13)
                optimizer.zeroGrad()
                let logits = model.forward(x, training: true)
                let (loss, grad) = Loss.softCrossEntropy(logits: logits, targets: Tensor(shape: logits.shape, data: targets),
                                                          temperature: config.temperature)
                guard loss.isFinite else {
                    throw EmovoxError("loss became \(loss) at epoch \(epoch + 1), batch \(b + 1): lower the learning rate; the last good checkpoint is kept", file: runDir)
                }
                model.backward(grad)
                optimizer.step()
                lossSum += Double(loss) * Double(idx.count)
                seen += idx.count
                let elapsed = Date().timeIntervalSince(t0)
                let rate = Double(seen) / max(elapsed, 1e-9)
                let remaining = Double(items.count * (config.epochs - epoch) - seen) / rate
                if ProgressBar.interactive {  // per-batch progress only on a terminal; logs get the epoch lines
                    log(String(format: "\repoch %d/%d  batch %d/%d  loss %.4f  %.1f samples/s  ETA %@   ",
                               epoch + 1, config.epochs, b + 1, batches, lossSum / Double(seen), rate, ProgressBar.formatDuration(remaining)))
                }
            }
            let seconds = Date().timeIntervalSince(t0)
            let val = validation.isEmpty ? nil : evaluate(validation)
            let rec = EpochRecord(epoch: epoch + 1, learningRate: optimizer.learningRate, trainLoss: Float(lossSum / Double(seen)),
                                  validationLoss: val, seconds: seconds, samplesPerSecond: Double(seen) / seconds,
                                  cropsWithoutFaceFrames: noFace)
            history.append(rec)
            epochsDone += 1
            try checkpoint()
            try appendTiming(rec)
            log(String(format: "%@epoch %d/%d  train loss %.4f%@  lr %.2e  %.1f s (%.1f samples/s)\n", ProgressBar.interactive ? "\r" : "", epoch + 1, config.epochs,
                       rec.trainLoss, val.map { String(format: "  held-out loss %.4f", $0) } ?? "", rec.learningRate, seconds, rec.samplesPerSecond))
        }
    }

    /// The resume file first (the one source of truth, atomic), then the files people read, all derived from it.
    /// No wall-clock time goes into any of them: same seed and data give the same bytes.
    func checkpoint() throws {
        var tensors: [String: Tensor] = [:]
        for (k, t) in model.network.stateDict() { tensors["model." + k] = t }
        for (k, t) in optimizer.state() { tensors["optimizer." + k] = t }
        let state = try CanonicalJSON.string(TrainerState(epochsDone: epochsDone, rng: rng, history: history, config: config, classes: classes))
        try Safetensors.write(tensors, metadata: ["format": "emovox-resume-v1", "optimizer": "sgd", "trainer_state": state,
                                                  "spectrogram": String(SpectrogramConfig.currentVersion)], to: resumePath)
        try writeReports()
    }

    func writeReports() throws {
        try StudentCheckpoint.save(model, classes: classes, extra: ["epochs": String(epochsDone), "temperature": String(config.temperature),
                                                                   "spectrogram": String(SpectrogramConfig.currentVersion)], to: weightsPath)
        try AtomicFile.write(try CanonicalJSON.encoder(pretty: true).encode(TrainerState(epochsDone: epochsDone, rng: rng, history: history, config: config, classes: classes)), to: statePath)
        var csv = "epoch,learning_rate,train_loss,heldout_loss,crops_without_face_frames\n"
        for r in history {
            csv += "\(r.epoch),\(r.learningRate),\(r.trainLoss),\(r.validationLoss.map { String($0) } ?? ""),\(r.cropsWithoutFaceFrames)\n"
        }
        try AtomicFile.write(csv, to: logPath)
        try? FileManager.default.removeItem(atPath: optimizerPath)  // superseded by the resume file
    }

    /// Wall-clock time per epoch, kept apart from the reproducible artefacts.
    func appendTiming(_ r: EpochRecord) throws {
        if !FileManager.default.fileExists(atPath: timingPath) { try AtomicFile.write("epoch,seconds,samples_per_second\n", to: timingPath) }
        guard let h = FileHandle(forWritingAtPath: timingPath) else { throw EmovoxError("cannot append", file: timingPath) }
        defer { try? h.close() }
        h.seekToEndOfFile()
        h.write(Data(String(format: "%d,%.2f,%.2f\n", r.epoch, r.seconds, r.samplesPerSecond).utf8))
    }
}
