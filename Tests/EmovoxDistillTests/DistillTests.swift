import XCTest
import EmovoxCore
import EmovoxData
import EmovoxLabelling
import EmovoxAudio
import EmovoxAudioStore
@testable import EmovoxDistill

extension XCTestCase {
    /// A fresh folder, removed after the test.
    func tempDir() throws -> String {
        let d = NSTemporaryDirectory() + "emovox-distill-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: d, withIntermediateDirectories: true)
        addTeardownBlock { try? FileManager.default.removeItem(atPath: d) }
        return d
    }
}

final class DistillTests: XCTestCase {

    func labels(_ id: String, times: [Double], logits: [[Float]]) -> ClipTeacherLabels {
        ClipTeacherLabels(clip: id, source: "v.mp4", teacher: "t", classes: ["a", "b", "c"], times: times, logits: logits, framesSampled: times.count, framesWithoutFace: 0)
    }

    /// Target = softmax(max over the crop's frames of the logits / T); dominant = class of the single largest logit.
    func testSoftTargetsPoolFramesInsideTheCrop() {
        let l = labels("x", times: [0.0, 0.24, 0.48, 3.0], logits: [[1, 0, 0], [0, 2, 0], [0, 0, 5], [4, 0, 0]])
        XCTAssertEqual(l.maxLogits, [4, 2, 5])
        XCTAssertEqual(l.dominantClass, 2)
        let (t, inside) = DistillationTarget.softTarget(l, start: 0, end: 0.3, temperature: 2)
        XCTAssertTrue(inside)
        let e = [exp(0.5), exp(1.0), exp(0.0)], z = e.reduce(0, +)
        for c in 0..<3 { XCTAssertEqual(Double(t[c]), e[c] / z, accuracy: 1e-6) }
        let (fallback, inside2) = DistillationTarget.softTarget(l, start: 1, end: 2, temperature: 2)
        XCTAssertFalse(inside2)  // no face frame in [1, 2): the clip maximum is used
        XCTAssertEqual(fallback, Softmax.probabilities(Tensor(shape: [1, 3], data: [4, 2, 5]), temperature: 2).data)
    }

    func testLabelStoreResumesAfterATornLineAndMergesShards() throws {
        let d = try tempDir()
        let path = d + "/labels.jsonl"
        let a = try LabelStore.Appender(path)
        try a.append(labels("c1", times: [0], logits: [[1, 2, 3]]))
        try a.append(labels("c2", times: [0], logits: [[3, 2, 1]]))
        let h = FileHandle(forWritingAtPath: path)!; h.seekToEndOfFile(); h.write(Data("{\"clip\":\"c3\",\"sou".utf8)); try h.close()
        XCTAssertEqual(try LabelStore.read(path).map(\.clip), ["c1", "c2"])  // the torn record is ignored…
        let b = try LabelStore.Appender(path)                                 // …and dropped before appending
        try b.append(labels("c3", times: [0], logits: [[0, 0, 1]]))
        XCTAssertEqual(try LabelStore.read(path).map(\.clip), ["c1", "c2", "c3"])
        let other = d + "/shard1.jsonl"
        try LabelStore.Appender(other).append(labels("c4", times: [], logits: []))
        XCTAssertEqual(try LabelStore.merge([path, other, path], to: d + "/all.jsonl"), 4)
        XCTAssertEqual(try LabelStore.parseShard("2/5").index, 2)
        XCTAssertThrowsError(try LabelStore.parseShard("5/5"))
        try Data("{bad}\n{\"x\":1}\n".utf8).write(to: URL(fileURLWithPath: d + "/bad.jsonl"))
        XCTAssertThrowsError(try LabelStore.read(d + "/bad.jsonl")) { XCTAssertTrue("\($0)".contains("line 1")) }
    }

    /// Training two epochs in one go equals one epoch, a stop, and --resume for the second (weights, RNG, optimiser).
    func testResumeContinuesExactly() throws { try checkResume(augmentation: nil) }

    /// The same with every augmentation on (crops, speed, noise, gain, masks all drawn from the trainer's RNG);
    /// augmentation changes what is learnt, and checkpoints record the spectrogram version.
    func testAugmentedTrainingResumesExactly() throws {
        var aug = AudioAugmentation()
        aug.randomPlacement = true; aug.speed = 0.9...1.1; aug.noiseSNR = 10...30; aug.gainDB = -6...6
        aug.timeMasks = 2; aug.timeMaskFrames = 10; aug.frequencyMasks = 1; aug.frequencyMaskBins = 20
        let (augmented, dir) = try checkResume(augmentation: aug)
        let (plain, _) = try checkResume(augmentation: nil)
        XCTAssertNotEqual(augmented, plain)
        let meta = try Safetensors.read(dir + "/student.safetensors").metadata
        XCTAssertEqual(meta["spectrogram"], String(SpectrogramConfig.currentVersion))
        // A run whose weights were trained on the old spectrogram does not silently resume on the new one
        // (the resume file is what --resume reads; a run from before it has only the weights' metadata).
        let (resumeTensors, resumeMeta) = try Safetensors.read(dir + "/resume.safetensors")
        XCTAssertEqual(resumeMeta["spectrogram"], String(SpectrogramConfig.currentVersion))
        var oldResume = resumeMeta; oldResume["spectrogram"] = "1"
        try Safetensors.write(resumeTensors, metadata: oldResume, to: dir + "/resume.safetensors")
        var cfg = resumeConfig(); cfg.augmentation = aug
        XCTAssertThrowsError(try DistillationTrainer.make(config: cfg, classes: ["a", "b", "c"], runDir: dir, resume: true)) {
            XCTAssertTrue("\($0)".contains("spectrogram version 1"), "\($0)")
        }
    }

    func resumeConfig() -> DistillationConfig {
        var cfg = DistillationConfig()
        cfg.epochs = 2; cfg.batchSize = 3; cfg.cropSamples = 12_000; cfg.learningRateStart = 1e-2; cfg.learningRateEnd = 1e-3
        return cfg
    }

    /// Returns the train losses and the resumed run's folder.
    @discardableResult
    func checkResume(augmentation: AudioAugmentation?) throws -> ([Float], String) {
        var rng = SeededRNG(seed: 1)
        let items = (0..<6).map { i in
            DistillationItem(id: "c\(i)", audio: (0..<(i == 5 ? 8_000 : 20_000)).map { _ in rng.normal() * 0.1 },  // one shorter than the crop
                             labels: labels("c\(i)", times: [0, 0.5, 1], logits: [[Float(i % 3), 1, 0], [0, 1, 2], [1, 1, 1]]))
        }
        var cfg = resumeConfig()
        cfg.augmentation = augmentation
        let d = try tempDir()
        let straight = try DistillationTrainer.make(config: cfg, classes: ["a", "b", "c"], runDir: d + "/a", resume: false)
        straight.log = { _ in }
        try straight.train(DistillationSet(items))
        var one = cfg; one.epochs = 2
        let first = try DistillationTrainer.make(config: one, classes: ["a", "b", "c"], runDir: d + "/b", resume: false)
        first.log = { _ in }
        first.epochsLimitForTesting = 1
        try first.train(DistillationSet(items))
        XCTAssertEqual(first.history.count, 1)
        let resumed = try DistillationTrainer.make(config: one, classes: ["a", "b", "c"], runDir: d + "/b", resume: true)
        resumed.log = { _ in }
        try resumed.train(DistillationSet(items))
        XCTAssertEqual(resumed.history.map(\.trainLoss), straight.history.map(\.trainLoss))
        XCTAssertEqual(resumed.model.network.stateDict(), straight.model.network.stateDict())
        XCTAssertTrue(FileManager.default.fileExists(atPath: d + "/b/epochs.csv"))
        var other = cfg; other.epochs = 3
        XCTAssertThrowsError(try DistillationTrainer.make(config: other, classes: ["a", "b", "c"], runDir: d + "/b", resume: true)) {
            XCTAssertTrue("\($0)".contains("another configuration"))
        }
        return (straight.history.map(\.trainLoss), d + "/b")
    }

    func testNaNLossStopsWithAClearMessage() throws {
        var audio = (0..<13_000).map { Float($0 % 7) * 0.01 }
        audio[5000] = .nan  // corrupt input that slipped past the loaders
        let item = DistillationItem(id: "x", audio: audio, labels: labels("x", times: [0], logits: [[1, 0, 0]]))
        var cfg = DistillationConfig()
        cfg.epochs = 1; cfg.batchSize = 1; cfg.cropSamples = 12_000
        let t = try DistillationTrainer.make(config: cfg, classes: ["a", "b", "c"], runDir: try tempDir(), resume: false)
        t.log = { _ in }
        XCTAssertThrowsError(try t.train(DistillationSet([item]))) { XCTAssertTrue("\($0)".contains("loss became nan"), "\($0)") }
    }

    /// --max-steps stops mid-epoch with a checkpoint; --resume from there ends where an uninterrupted run ends.
    func testMaxStepsStopsMidEpochAndResumesExactly() throws {
        var rng = SeededRNG(seed: 2)
        var items: [DistillationItem] = []
        for i in 0..<7 {
            let audio: [Float] = (0..<(14_000 + 900 * i)).map { _ in rng.normal() * 0.1 }
            let a = Float(i % 3), b = Float(i % 2)
            let frames: [[Float]] = [[a, 1, 0], [0, 1, 2], [1, b, 1]]
            items.append(DistillationItem(id: "c\(i)", audio: audio, labels: labels("c\(i)", times: [0, 0.4, 0.8], logits: frames)))
        }
        var cfg = DistillationConfig()
        cfg.epochs = 2; cfg.batchSize = 2; cfg.cropSamples = 12_000; cfg.learningRateStart = 1e-2; cfg.learningRateEnd = 1e-3; cfg.classBalanced = true
        let d = try tempDir()
        let straight = try DistillationTrainer.make(config: cfg, classes: ["a", "b", "c"], runDir: d + "/a", resume: false)
        straight.log = { _ in }
        try straight.train(DistillationSet(items))
        let stopped = try DistillationTrainer.make(config: cfg, classes: ["a", "b", "c"], runDir: d + "/b", resume: false)
        stopped.log = { _ in }
        try stopped.train(DistillationSet(items), maxSteps: 5)  // 4 batches per epoch: stops after batch 1 of epoch 2
        XCTAssertEqual(stopped.history.count, 1)
        XCTAssertEqual(stopped.batchesDone, 1)
        let resumed = try DistillationTrainer.make(config: cfg, classes: ["a", "b", "c"], runDir: d + "/b", resume: true)
        resumed.log = { _ in }
        try resumed.train(DistillationSet(items))
        XCTAssertEqual(resumed.history.map(\.trainLoss), straight.history.map(\.trainLoss))
        XCTAssertEqual(resumed.model.network.stateDict(), straight.model.network.stateDict())
    }

    /// The same clips packed into a store and read crop by crop (batches prepared in the background) train to
    /// bitwise the same weights as clips loaded into memory (prepared in line); both go through `Pipelines.sets`.
    func testTrainingFromStoreEqualsTrainingFromMemory() throws {
        let d = try tempDir()
        var rng = SeededRNG(seed: 3)
        var clips: [Clip] = [], labelLines = ""
        for i in 0..<9 {
            let path = d + "/c\(i).wav"
            let audio: [Float] = (0..<(13_000 + 1500 * i)).map { _ in rng.normal() * 0.1 }
            try WAVReader.encode16(audio, sampleRate: 16_000).write(to: URL(fileURLWithPath: path))
            clips.append(Clip(id: "c\(i)", speaker: "s", audio: path, split: i % 4 == 3 ? "heard" : "train"))
            let a = Float(i % 3), b = Float(i % 2)
            let frames: [[Float]] = [[1, 0, a], [0, 2, 0], [b, 0, 1], [0, 1, 1]]
            let l = labels("c\(i)", times: [0, 0.3, 0.6, 0.9], logits: frames)
            labelLines += String(decoding: try JSONEncoder().encode(l), as: UTF8.self) + "\n"
        }
        clips.append(Clip(id: "unlabelled", speaker: "s", audio: d + "/c0.wav"))
        let manifest = Manifest(clips: clips)
        try labelLines.write(toFile: d + "/labels.jsonl", atomically: true, encoding: .utf8)
        let store = d + "/m.jsonl.store"
        _ = try AudioStorePacker.pack(manifest, to: store, showProgress: false)
        XCTAssertEqual(Pipelines.storeBeside(manifest: d + "/m.jsonl"), store)

        var cfg = DistillationConfig()
        cfg.epochs = 2; cfg.batchSize = 3; cfg.cropSamples = 16_000; cfg.learningRateStart = 1e-2; cfg.learningRateEnd = 1e-3
        func run(_ origin: Pipelines.AudioOrigin, prefetch: Int, dir: String) throws -> DistillationTrainer {
            var skipped: [(String, String)] = []
            let (train, heard, classes) = try Pipelines.sets(manifest: manifest, labels: d + "/labels.jsonl", audio: origin, validationClips: 2, skipped: &skipped)
            XCTAssertEqual(train.count, 7)
            XCTAssertEqual(heard.ids, ["c3", "c7"])
            XCTAssertEqual(skipped.map(\.0), ["unlabelled"])
            let t = try DistillationTrainer.make(config: cfg, classes: classes, runDir: d + "/" + dir, resume: false)
            t.log = { _ in }
            t.prefetch = prefetch
            try t.train(train, validation: heard)
            return t
        }
        let memory = try run(.memory, prefetch: 0, dir: "memory")
        let stored = try run(.store(try AudioStore(store)), prefetch: 2, dir: "store")
        XCTAssertEqual(stored.history.map(\.trainLoss), memory.history.map(\.trainLoss))
        XCTAssertEqual(stored.history.map(\.validationLoss), memory.history.map(\.validationLoss))
        XCTAssertEqual(stored.model.network.stateDict(), memory.model.network.stateDict())
        XCTAssertNotEqual(memory.history[0].trainLoss, memory.history[1].trainLoss)  // it did train
    }

    /// Clips that are parts of one recording ([start, end) seconds): both audio origins of `Pipelines.sets` hold exactly
    /// those slices of the recording (16-bit PCM: the store's int16 and the decoder's floats are the same values).
    func testClipOffsetsSelectTheirPartInMemoryAndInTheStore() throws {
        let d = try tempDir()
        var rng = SeededRNG(seed: 5)
        let recording: [Float] = (0..<(16_000 * 6)).map { _ in Float(Int(rng.normal() * 3000)) / 32768 }
        let path = d + "/talk.wav"
        try WAVReader.encode16(recording, sampleRate: 16_000).write(to: URL(fileURLWithPath: path))
        let parts = [(0.25, 1.75), (2.0, 3.5), (4.1, 6.0)]
        var clips: [Clip] = [], labelLines = ""
        for (k, (s, e)) in parts.enumerated() {
            clips.append(Clip(id: "u\(k)", speaker: "s", audio: path, video: path, split: "train", start: s, end: e))
            let l = labels("u\(k)", times: [0, 0.5, 1.0], logits: [[1, 0, 0], [0, 1, 0], [0, 0, 1]])
            labelLines += String(decoding: try JSONEncoder().encode(l), as: UTF8.self) + "\n"
        }
        let manifest = Manifest(clips: clips)
        try labelLines.write(toFile: d + "/labels.jsonl", atomically: true, encoding: .utf8)
        _ = try AudioStorePacker.pack(manifest, to: d + "/store", showProgress: false)
        for origin in [Pipelines.AudioOrigin.memory, .store(try AudioStore(d + "/store"))] {
            var skipped: [(String, String)] = []
            let (train, _, _) = try Pipelines.sets(manifest: manifest, labels: d + "/labels.jsonl", audio: origin, skipped: &skipped)
            XCTAssertEqual(train.ids, ["u0", "u1", "u2"])
            for (k, (s, e)) in parts.enumerated() {
                let a = Int(s * 16_000), b = Int(e * 16_000)
                XCTAssertEqual(train.audio.samples(k, from: 0, count: train.audio.sampleCount(k)), Array(recording[a..<b]), "u\(k) \(origin)")
            }
        }
    }

    /// A split name outside train/heard/unheard (a typo) is refused with the known ones, not silently left out.
    func testUnknownSplitNameIsRefusedWithTheKnownOnes() throws {
        let d = try tempDir()
        try WAVReader.encode16([Float](repeating: 0.1, count: 16_000), sampleRate: 16_000).write(to: URL(fileURLWithPath: d + "/a.wav"))
        let manifest = Manifest(clips: [Clip(id: "a", speaker: "s", audio: d + "/a.wav", split: "train"),
                                        Clip(id: "b", speaker: "s", audio: d + "/a.wav", split: "heared")])
        var skipped: [(String, String)] = []
        XCTAssertThrowsError(try Pipelines.sets(manifest: manifest, labels: d + "/none.jsonl", audio: .memory, skipped: &skipped)) {
            XCTAssertTrue("\($0)".contains("clip b has split 'heared' (known: train, heard, unheard"), "\($0)")
        }
    }
}
