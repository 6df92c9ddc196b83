import Foundation
import EmovoxCore
import EmovoxUtilities
import EmovoxVision
import EmovoxEval
import EmovoxModels
import EmovoxTraining

public enum TeacherTargetMode: String, Codable, CaseIterable {
    /// Cross-entropy against the 8-emotion vote distribution (the FER+ paper's best mode).
    case distribution
    /// Cross-entropy against the one-hot majority vote.
    case majority
}

public struct TeacherTrainingConfig: Codable, Equatable {
    public var model = TeacherNetName.vggFer
    public var mode = TeacherTargetMode.distribution
    public var epochs = 20
    public var batchSize = 64
    public var optimizer = OptimizerKind.sgd
    public var learningRate: Float = 0.05
    public var learningRateEnd: Float = 5e-4    // log-linear decay over the epochs
    public var momentum: Float = 0.9
    public var weightDecay: Float = 5e-4
    public var augmentation: FaceAugmentation? = FaceAugmentation()
    /// Class balancing: each face's loss is weighted by (N / (K·n_c))^α for its majority class c (n_c faces of
    /// the class among N, K classes), normalised to a mean of 1 over the training faces. nil or 0: no weighting;
    /// 1: inverse frequency; 0.5 (square root) lifts FER+'s rare disgust, fear and contempt without drowning the rest.
    public var classBalance: Float? = nil
    /// Use only the first n training faces (0 = all): quick runs and tests.
    public var limit = 0
    public var seed: UInt64 = 0
    /// Start from a trained teacher's weights (a warm restart with a new schedule, or fine-tuning) instead of a
    /// seeded random init. nil: random init.
    public var initialWeights: InitialWeights? = nil
    public init() {}
}

/// The checkpoint a run starts from, recorded with a digest of its bytes so that trainer_state.json says exactly what
/// went in (and a resume, which takes its weights from the resume file, still refuses another starting point).
public struct InitialWeights: Codable, Equatable {
    public var path: String
    /// FNV-1a 64 of the file, hex.
    public var digest: String

    public init(path: String) throws {
        self.path = path
        digest = try Self.digest(of: path)
    }

    static func digest(of path: String) throws -> String {
        guard let data = FileManager.default.contents(atPath: path) else { throw EmovoxError("cannot read the initial weights", file: path) }
        var h: UInt64 = 0xcbf2_9ce4_8422_2325
        for b in data { h = (h ^ UInt64(b)) &* 0x100_0000_01b3 }
        return String(format: "%016llx", h)
    }
}

/// One row of epochs.csv.
public struct TeacherEpoch: Codable {
    public var epoch: Int
    public var learningRate: Float
    public var trainLoss: Double
    public var trainAccuracy: Double
    public var validAccuracy: Double?
    public var validLoss: Double?
    /// Wall-clock figures go to timing.csv only, not into the state (two identical runs give the same bytes).
    public var seconds: Double = 0
    public var imagesPerSecond: Double = 0
    public var skippedImages: Int

    enum CodingKeys: String, CodingKey { case epoch, learningRate, trainLoss, trainAccuracy, validAccuracy, validLoss, skippedImages }
}

/// What the resume file holds beside the weights and the optimiser: epoch orders and augmentation are functions of
/// (seed, epoch, position), so the state is how far training got, the best epoch so far and the history.
struct TeacherTrainerState: Codable {
    var epochsDone: Int
    var bestValidAccuracy: Double?
    /// The epoch whose weights are teacher.safetensors (0: none yet).
    var bestEpoch: Int
    var history: [TeacherEpoch]
    var config: TeacherTrainingConfig
}

/// Trains a face teacher on FER+ faces: per-batch parallel decoding and augmentation (a sample's random
/// draw depends only on seed, epoch and position, so `--resume` continues exactly), SGD or Adam with a
/// log-linear learning rate, a checkpoint per epoch, and the best net on Valid kept as teacher.safetensors.
public final class TeacherTrainer {
    public let config: TeacherTrainingConfig
    public var runDir: String { run.directory }
    /// The run folder: resume file, reports, logs (shared with `distill`).
    let run: TrainingRun
    public let teacher: TrainedFaceTeacher
    let optimizer: Optimizer
    public private(set) var history: [TeacherEpoch] = []
    var epochsDone = 0
    var bestValidAccuracy: Double?
    var bestEpoch = 0
    /// Set on resume: a kill between the resume file and the reports may have left them one checkpoint behind.
    var reportsBehind = false
    public var log: (String) -> Void = { FileHandle.standardError.write(Data($0.utf8)) }
    /// Stops after this many epochs in total (an interruption, in tests).
    var epochsLimitForTesting: Int?

    public var lastPath: String { runDir + "/last.safetensors" }
    public var bestPath: String { runDir + "/teacher.safetensors" }
    public var epochsPath: String { run.epochsPath }

    public init(config: TeacherTrainingConfig, runDir: String, resume: Bool) throws {
        self.config = config
        run = try TrainingRun(directory: runDir)
        teacher = TrainedFaceTeacher(config: TeacherNetConfig.named(config.model, classes: FERPlus.emotions.count),
                                     classes: FERPlus.emotions, seed: config.seed)
        optimizer = config.optimizer.make(teacher.network.parameters, learningRate: config.learningRate, momentum: config.momentum,
                                          weightDecay: config.weightDecay)
        guard resume else { try loadInitialWeights(); return }
        guard let saved = try run.loadResume(TeacherTrainerState.self) else {
            if FileManager.default.fileExists(atPath: run.statePath) {
                throw EmovoxError("a run written by an older emovox (no resume.safetensors): it cannot be resumed exactly; start a new run folder", file: run.statePath)
            }
            try loadInitialWeights()
            return  // nothing to resume: a new run
        }
        try TrainingRun.checkSameConfiguration(recorded: saved.state.config, current: config, source: run.resumePath)
        try teacher.network.load(stateDict: saved.network, source: run.resumePath)
        try optimizer.load(state: saved.optimizer)
        history = saved.state.history; epochsDone = saved.state.epochsDone
        bestValidAccuracy = saved.state.bestValidAccuracy; bestEpoch = saved.state.bestEpoch
        reportsBehind = true
    }

    /// A new run with `initialWeights`: the net starts from that checkpoint's weights and BN statistics (its flip and
    /// logit offsets are not taken: they are chosen again after training). The file must be the one recorded.
    func loadInitialWeights() throws {
        guard let initial = config.initialWeights else { return }
        guard try InitialWeights.digest(of: initial.path) == initial.digest else {
            throw EmovoxError("the initial weights changed since the run was configured (digest \(initial.digest))", file: initial.path)
        }
        let start = try TrainedFaceTeacher.load(initial.path)
        guard start.config.trunk == teacher.config.trunk, start.classes == teacher.classes else {
            throw EmovoxError("initial weights of net '\(start.config.name)' (\(start.classes.count) classes) cannot start a '\(teacher.config.name)' run "
                              + "(\(teacher.classes.count) classes)", file: initial.path)
        }
        try teacher.network.load(stateDict: Self.startingState(of: teacher, from: start), source: initial.path)
    }

    /// The state a run starts from: all of `start` when it is the same net; when only the heads differ (a
    /// `vgg13-fer-wide` trunk under a fully connected head), its convs and BN layers and this net's own seeded head.
    static func startingState(of net: TrainedFaceTeacher, from start: TrainedFaceTeacher) -> [String: Tensor] {
        let given = start.network.stateDict()
        guard start.config != net.config else { return given }
        let isTrunk = { (name: String) in name.hasPrefix("conv") || name.hasPrefix("bn") }
        return net.network.stateDict().reduce(into: [:]) { state, entry in
            state[entry.key] = isTrunk(entry.key) ? given[entry.key] ?? entry.value : entry.value
        }
    }

    public var schedule: LRSchedule { .logLinear(start: config.learningRate, end: config.learningRateEnd, epochs: config.epochs) }

    /// The training target of a face under the configured mode (nil: left out).
    func target(_ face: FERPlusFace) -> [Float]? { Self.target(face, mode: config.mode) }

    static func target(_ face: FERPlusFace, mode: TeacherTargetMode) -> [Float]? {
        guard let m = face.majority else { return nil }
        if mode == .distribution { return face.distribution }
        var t = [Float](repeating: 0, count: FERPlus.emotions.count)
        t[m] = 1
        return t
    }

    /// Decodes a batch of faces on all threads and turns each into a teacher input (augmented when `epoch` is
    /// given: sample `position` of that epoch draws from its own RNG stream). Unreadable images are dropped.
    func inputs(_ faces: [FERPlusFace], epoch: Int?, firstPosition: Int) -> (x: Tensor, kept: [Int], failed: [(String, String)]) {
        Self.inputs(faces, size: teacher.config.inputSize, augmentation: epoch == nil ? nil : config.augmentation,
                    seed: config.seed, epoch: epoch ?? 0, firstPosition: firstPosition)
    }

    static func inputs(_ faces: [FERPlusFace], size: Int, augmentation: FaceAugmentation?, seed: UInt64, epoch: Int,
                       firstPosition: Int) -> (x: Tensor, kept: [Int], failed: [(String, String)]) {
        let plane = size * size
        let decoded = ImageIO.readMany(faces.map(\.image))
        let kept = decoded.indices.filter { if case .success = decoded[$0] { return true } else { return false } }
        let failed = decoded.indices.compactMap { i -> (String, String)? in
            if case .failure(let e) = decoded[i] { return (faces[i].image, e.message) } else { return nil }
        }
        var x = Tensor(zeros: [kept.count, 1, size, size])
        x.data.withUnsafeMutableBufferPointer { xp in
            let xp = xp
            Threads.forEachDynamic(kept.count) { j in
                guard case .success(let img) = decoded[kept[j]] else { return }
                let v: [Float]
                if let aug = augmentation {
                    var rng = SeededRNG(seed: seed, epoch: epoch, position: firstPosition + kept[j])
                    v = aug.apply(img, size: size, rng: &rng)
                } else {
                    v = FaceInput.plain(img, size: size)
                }
                for q in 0..<plane { xp[j * plane + q] = v[q] }
            }
        }
        return (x, kept, failed)
    }

    /// Per-class loss weights for `faces` under `classBalance` (all 1 when off).
    static func classWeights(_ faces: [FERPlusFace], alpha: Float?) -> [Float] {
        let k = FERPlus.emotions.count
        guard let alpha, alpha > 0, !faces.isEmpty else { return [Float](repeating: 1, count: k) }
        var counts = [Int](repeating: 0, count: k)
        for f in faces { if let m = f.majority { counts[m] += 1 } }
        let n = Double(counts.reduce(0, +))
        var w = counts.map { $0 > 0 ? pow(n / (Double(k) * Double($0)), Double(alpha)) : 0 }
        let mean = zip(w, counts).map { $0 * Double($1) }.reduce(0, +) / n
        w = w.map { $0 / mean }
        return w.map { Float($0) }
    }

    /// Epoch order: a shuffle drawn from (seed, epoch) alone.
    func order(count: Int, epoch: Int) -> [Int] { TrainingRun.shuffledOrder(count: count, seed: config.seed, epoch: epoch) }

    /// Trains on `train` (faces without a usable target are left out) until `config.epochs`, evaluating on `valid`.
    public func train(_ train: [FERPlusFace], valid: [FERPlusFace]) throws {
        var faces = train.filter { target($0) != nil }
        if config.limit > 0 { faces = Array(faces.prefix(config.limit)) }
        guard !faces.isEmpty else { throw EmovoxError("no training faces with a known majority emotion") }
        let batches = (faces.count + config.batchSize - 1) / config.batchSize
        let weights = Self.classWeights(faces, alpha: config.classBalance)
        if (config.classBalance ?? 0) > 0 {
            log("class weights: " + zip(FERPlus.emotions, weights).map { String(format: "%@ %.2f", $0, $1) }.joined(separator: ", ") + "\n")
        }
        if reportsBehind { try writeReports() }
        reportsBehind = false
        while epochsDone < min(config.epochs, epochsLimitForTesting ?? .max) {
            let epoch = epochsDone
            optimizer.learningRate = schedule.rate(epoch: epoch)
            let order = order(count: faces.count, epoch: epoch)
            let t0 = Date()
            var lossSum = 0.0, correct = 0, seen = 0, skipped = 0
            for b in 0..<batches {
                let idx = Array(order[(b * config.batchSize)..<min((b + 1) * config.batchSize, order.count)])
                let (x, kept, failed) = inputs(idx.map { faces[$0] }, epoch: epoch, firstPosition: b * config.batchSize)
                skipped += failed.count
                if kept.isEmpty { continue }
                let targets = kept.flatMap { target(faces[idx[$0]])! }
                optimizer.zeroGrad()
                teacher.network.reseedDropout(seed: config.seed, epoch: epoch, step: b)
                let logits = teacher.network.forward(x, training: true)
                let rowWeights = kept.map { weights[faces[idx[$0]].majority!] }
                let (loss, grad) = Loss.weightedSoftCrossEntropy(logits: logits, targets: Tensor(shape: logits.shape, data: targets), weights: rowWeights)
                try run.checkFinite(loss, epoch: epoch, batch: b)
                _ = teacher.network.backward(grad)
                optimizer.step()
                let k = logits.shape[1]
                for (r, i) in kept.enumerated() {
                    let row = Array(logits.data[(r * k)..<((r + 1) * k)])
                    if row.firstIndex(of: row.max()!) == faces[idx[i]].majority { correct += 1 }
                }
                lossSum += Double(loss) * Double(kept.count); seen += kept.count
                if ProgressBar.interactive {
                    let rate = Double(seen) / max(Date().timeIntervalSince(t0), 1e-9)
                    let eta = ProgressBar.formatDuration(Double(faces.count * (config.epochs - epoch) - seen) / rate)
                    log(String(format: "\repoch %d/%d  batch %d/%d  loss %.4f  acc %.3f  %.0f images/s  ETA %@   ",
                               epoch + 1, config.epochs, b + 1, batches, lossSum / Double(seen), Double(correct) / Double(seen), rate, eta))
                }
            }
            guard seen > 0 else { throw EmovoxError("no training image could be read (first: \(faces[0].image))") }
            let seconds = Date().timeIntervalSince(t0)
            let val = valid.isEmpty ? nil : evaluate(valid)
            let rec = TeacherEpoch(epoch: epoch + 1, learningRate: optimizer.learningRate, trainLoss: lossSum / Double(seen),
                                   trainAccuracy: Double(correct) / Double(seen), validAccuracy: val?.accuracy, validLoss: val?.meanLoss,
                                   seconds: seconds, imagesPerSecond: Double(seen) / seconds, skippedImages: skipped)
            history.append(rec)
            epochsDone += 1
            let improved = val.map { v in bestValidAccuracy.map { v.accuracy > $0 } ?? true } ?? true
            if improved { bestValidAccuracy = val?.accuracy ?? bestValidAccuracy; bestEpoch = epochsDone }
            try checkpoint()
            try run.appendTiming(epoch: rec.epoch, seconds: seconds, rate: rec.imagesPerSecond, rateName: "images_per_second")
            log(String(format: "%@epoch %d/%d  train loss %.4f acc %.3f%@  lr %.2e  %.0f s (%.0f images/s)%@\n",
                       ProgressBar.interactive ? "\r" : "", epoch + 1, config.epochs, rec.trainLoss, rec.trainAccuracy,
                       val.map { String(format: "  valid acc %.4f", $0.accuracy) } ?? "", rec.learningRate, seconds, rec.imagesPerSecond,
                       improved ? "  (best so far)" : ""))
        }
    }

    /// After training: evaluates the best net (teacher.safetensors) on `valid` with and without test-time flip, and
    /// keeps the flip in the checkpoint when it is more accurate there (selection on Valid only, as the FER+ protocol
    /// asks). Idempotent: run again on a finished run (`--resume`) it reaches the same choice.
    @discardableResult
    public func chooseTestTimeFlip(valid: [FERPlusFace]) throws -> (plain: Double, flipped: Double, chosen: Bool) {
        guard FileManager.default.fileExists(atPath: bestPath), !valid.isEmpty else {
            throw EmovoxError("no best net to choose the test-time flip for (train first, with Valid faces)", file: bestPath)
        }
        let best = try TrainedFaceTeacher.load(bestPath)
        best.testTimeFlip = false
        best.logitOffsets = nil  // chosen afterwards, with the flip settled (chooseRecallOffsets)
        let plain = Self.evaluate(best, faces: valid, mode: config.mode, batchSize: config.batchSize).accuracy
        best.testTimeFlip = true
        let flipped = Self.evaluate(best, faces: valid, mode: config.mode, batchSize: config.batchSize).accuracy
        best.testTimeFlip = flipped > plain
        let meta = Self.trainingMetadata(bestPath)
        try best.save(to: bestPath, extra: meta.merging(["valid_accuracy_plain": String(plain), "valid_accuracy_flip": String(flipped)]) { $1 })
        log(String(format: "test-time flip on Valid: %.4f without, %.4f with: %@\n", plain, flipped, best.testTimeFlip ? "kept" : "not kept"))
        return (plain, flipped, best.testTimeFlip)
    }

    /// The metadata of a saved teacher that `save` does not write from the teacher itself (epochs, mode, Valid figures).
    static func trainingMetadata(_ path: String) -> [String: String] {
        (Safetensors.readMetadata(path) ?? [:]).filter { !["format", "config", "classes", "preprocessing", "face_crop", "test_time_flip", "logit_offsets"].contains($0.key) }
    }

    /// After training and the flip choice: the classes whose recall on `valid` is below `floor` get one common offset
    /// added to their logits, the smallest (in steps of 0.05, at most 3) that lifts every class to the floor on Valid
    /// (or, when none does, the one with the highest lowest recall). FER+ has 191 disgust and 168 contempt training
    /// faces: even class-weighted, a net calls them rarely, and a teacher that never says "disgust" gives the
    /// student nothing to learn for it. Selection uses Valid only; floor 0 removes any offsets. Idempotent.
    @discardableResult
    public func chooseRecallOffsets(valid: [FERPlusFace], floor: Double) throws -> (offset: Float, classes: [String], plainAccuracy: Double, accuracy: Double) {
        guard FileManager.default.fileExists(atPath: bestPath), !valid.isEmpty else {
            throw EmovoxError("no best net to choose logit offsets for (train first, with Valid faces)", file: bestPath)
        }
        let best = try TrainedFaceTeacher.load(bestPath)
        best.logitOffsets = nil
        let k = best.classes.count
        // Valid logits once (flip as chosen); every offset is then a cheap re-scoring of them.
        var rows: [[Float]] = [], truth: [Int] = []
        let usable = valid.filter { $0.majority != nil }
        for start in stride(from: 0, to: usable.count, by: config.batchSize) {
            let batch = Array(usable[start..<min(start + config.batchSize, usable.count)])
            let (x, kept, _) = Self.inputs(batch, size: best.config.inputSize, augmentation: nil, seed: 0, epoch: 0, firstPosition: 0)
            if kept.isEmpty { continue }
            let l = best.logits(x)
            for (r, i) in kept.enumerated() { rows.append(Array(l.data[(r * k)..<((r + 1) * k)])); truth.append(batch[i].majority!) }
        }
        func score(_ offsets: [Float]) -> (accuracy: Double, recall: [Double?]) {
            var hit = [Int](repeating: 0, count: k), count = [Int](repeating: 0, count: k)
            for (row, t) in zip(rows, truth) {
                var top = 0
                for c in 1..<k where row[c] + offsets[c] > row[top] + offsets[top] { top = c }
                count[t] += 1
                if top == t { hit[t] += 1 }
            }
            return (Double(hit.reduce(0, +)) / Double(max(truth.count, 1)), (0..<k).map { count[$0] > 0 ? Double(hit[$0]) / Double(count[$0]) : nil })
        }
        let zero = [Float](repeating: 0, count: k)
        let plain = score(zero)
        let low = floor > 0 ? (0..<k).filter { (plain.recall[$0] ?? 1) < floor } : []
        var chosen: (d: Float, accuracy: Double, worst: Double) = (0, plain.accuracy, plain.recall.compactMap { $0 }.min() ?? 0)
        if !low.isEmpty {
            var bestWorst: (d: Float, accuracy: Double, worst: Double)?
            for step in 1...60 {
                let d = Float(step) * 0.05
                var offsets = zero
                for c in low { offsets[c] = d }
                let s = score(offsets), worst = s.recall.compactMap { $0 }.min() ?? 0
                if worst >= floor { bestWorst = (d, s.accuracy, worst); break }
                if bestWorst == nil || worst > bestWorst!.worst { bestWorst = (d, s.accuracy, worst) }
            }
            chosen = bestWorst!
        }
        if chosen.d > 0 {
            var offsets = zero
            for c in low { offsets[c] = chosen.d }
            best.logitOffsets = offsets
        }
        try best.save(to: bestPath, extra: Self.trainingMetadata(bestPath).merging(
            ["recall_floor": String(floor), "valid_accuracy_before_offsets": String(plain.accuracy), "valid_accuracy_after_offsets": String(chosen.accuracy)]) { $1 })
        let names = low.map { best.classes[$0] }
        log(String(format: "recall floor %.2f on Valid: %@ (Valid accuracy %.4f → %.4f, lowest recall %.3f)\n", floor,
                   chosen.d > 0 ? String(format: "offset %+.2f on %@", chosen.d, names.joined(separator: ", ")) : "no offsets needed",
                   plain.accuracy, chosen.accuracy, chosen.worst))
        return (chosen.d, chosen.d > 0 ? names : [], plain.accuracy, chosen.accuracy)
    }

    /// The FER+ protocol on `faces`: faces whose majority is unknown/NF are left out; accuracy is against
    /// the majority vote; the loss is the configured mode's cross-entropy.
    public func evaluate(_ faces: [FERPlusFace]) -> TeacherEvaluation { Self.evaluate(teacher, faces: faces, mode: config.mode, batchSize: config.batchSize) }

    public static func evaluate(_ teacher: TrainedFaceTeacher, faces: [FERPlusFace], mode: TeacherTargetMode = .distribution, batchSize: Int = 128) -> TeacherEvaluation {
        // A trained teacher's net was built from its own config, so FaceTeacher's output-count check cannot fail.
        let face = try! FaceTeacher(network: teacher, labels: teacher.classes, name: "")
        return FERPlusEvaluation.evaluate(face, faces: faces, lossMode: mode, batchSize: batchSize)
    }

    var state: TeacherTrainerState {
        TeacherTrainerState(epochsDone: epochsDone, bestValidAccuracy: bestValidAccuracy, bestEpoch: bestEpoch, history: history, config: config)
    }

    /// The resume file, then the files people read (TrainingRun.checkpoint); no wall-clock time goes into any of them.
    func checkpoint() throws {
        try run.checkpoint(network: teacher.network.stateDict(), optimizer: optimizer.state(), state: state,
                           metadata: ["optimizer": config.optimizer.rawValue], reports: writeReports)
    }

    /// last.safetensors, teacher.safetensors (when the current epoch is the best), trainer_state.json and epochs.csv,
    /// all from the in-memory state, which equals the resume file's.
    func writeReports() throws {
        let meta = ["epochs": String(epochsDone), "mode": config.mode.rawValue]
        try teacher.save(to: lastPath, extra: meta)
        if bestEpoch == epochsDone && epochsDone > 0 {
            try teacher.save(to: bestPath, extra: meta.merging(["valid_accuracy": bestValidAccuracy.map { String($0) } ?? ""]) { $1 })
        }
        try run.writeState(state)
        func f(_ v: Double?) -> String { v.map { String(format: "%.5f", $0) } ?? "" }
        try run.writeEpochs(header: "epoch,learning_rate,train_loss,train_accuracy,valid_accuracy,valid_loss,skipped_images", rows: history.map { r in
            [String(r.epoch), String(r.learningRate), f(r.trainLoss), f(r.trainAccuracy), f(r.validAccuracy), f(r.validLoss),
             String(r.skippedImages)].joined(separator: ",")
        })
    }
}
