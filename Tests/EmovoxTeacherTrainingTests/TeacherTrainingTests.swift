import XCTest
import EmovoxCore
import EmovoxVision
@testable import EmovoxTeacherTraining

/// FER+ reader and face-teacher training on the tiny generated FER+ layout (tools/gen_ferplus_fixture.py).
final class TeacherTrainingTests: XCTestCase {
    static let root = Bundle.module.url(forResource: "Fixtures", withExtension: nil)!.appendingPathComponent("ferplus").path

    func tempDir(_ name: String) -> String {
        let d = NSTemporaryDirectory() + "emovox-\(name)-\(getpid())"
        try? FileManager.default.removeItem(atPath: d)
        return d
    }

    func testVoteRules() {
        let f = FERPlusFace(image: "a.png", votes: [4, 0, 0, 1, 3, 2, 0, 0, 0, 0])
        XCTAssertEqual(f.majority, 0)
        XCTAssertEqual(f.distribution!, [0.4, 0, 0, 0.1, 0.3, 0.2, 0, 0])
        XCTAssertNil(FERPlusFace(image: "u.png", votes: [4, 0, 0, 0, 0, 0, 0, 0, 6, 0]).majority)   // unknown wins
        XCTAssertNil(FERPlusFace(image: "n.png", votes: [0, 0, 0, 0, 0, 0, 0, 0, 0, 10]).majority)  // not a face
        XCTAssertEqual(FERPlusFace(image: "t.png", votes: [0, 5, 5, 0, 0, 0, 0, 0, 0, 0]).majority, 1)  // tie: FER+ order
        XCTAssertEqual(FERPlusFace(image: "c.png", votes: [2, 0, 0, 0, 0, 0, 0, 5, 3, 0]).distribution![7], 5.0 / 7.0, accuracy: 1e-6)
    }

    func testReleaseLayoutAndFer2013newAgree() throws {
        for split in FERPlusSplit.allCases {
            let layout = try FERPlus.read(root: Self.root, split: split)
            let release = try FERPlus.readRelease(Self.root + "/fer2013new.csv", images: Self.root, split: split)
            XCTAssertEqual(layout.count, split == .train ? 24 : 10)
            XCTAssertEqual(layout, release, split.rawValue)
            XCTAssertEqual(layout.filter { $0.majority == nil }.count, 2, "unknown- and NF-majority faces are flagged")
            for f in layout { XCTAssertTrue(FileManager.default.fileExists(atPath: f.image), f.image) }
        }
        let bad = tempDir("ferbad")
        try FileManager.default.createDirectory(atPath: bad + "/FER2013Train", withIntermediateDirectories: true)
        try "x.png,\"(0, 0, 48, 48)\",1,2,3\n".write(toFile: bad + "/FER2013Train/label.csv", atomically: true, encoding: .utf8)
        XCTAssertThrowsError(try FERPlus.read(root: bad, split: .train)) { XCTAssertTrue("\($0)".contains("label.csv: line 1"), "\($0)") }
        XCTAssertThrowsError(try FERPlus.read(root: bad, split: .test)) { XCTAssertTrue("\($0)".contains("no FER+ data"), "\($0)") }
    }

    func testAugmentationIsSeededAndNeutralSettingsMatchTheResize() throws {
        let img = try ImageIO.read(Self.root + "/FER2013Train/fer0000003.png")
        var a = FaceAugmentation()
        var r1 = SeededRNG(seed: 1, epoch: 2, position: 3), r2 = SeededRNG(seed: 1, epoch: 2, position: 3)
        XCTAssertEqual(a.apply(img, size: 64, rng: &r1), a.apply(img, size: 64, rng: &r2))
        var r3 = SeededRNG(seed: 1, epoch: 2, position: 4)
        XCTAssertNotEqual(a.apply(img, size: 64, rng: &r3), a.apply(img, size: 64, rng: &r1))
        // With every range at zero the augmentation is the plain bilinear upscale (±1 grey level: OpenCV's fixed point).
        a.maxShift = 0; a.maxRotationDegrees = 0; a.scaleRange = 1...1; a.flip = false; a.maxBrightness = 0; a.maxContrast = 0
        let plain = FaceInput.plain(img, size: 64), neutral = a.apply(img, size: 64, rng: &r1)
        XCTAssertLessThanOrEqual(zip(plain, neutral).map { abs($0 - $1) }.max()!, 2.01 / 255)
        // A flip-only draw mirrors the image.
        a.flip = true
        var flipped: [Float] = []
        for p in 0..<20 { var r = SeededRNG(seed: 5, epoch: 0, position: p); let v = a.apply(img, size: 64, rng: &r); if v != neutral { flipped = v; break } }
        let mirrored = (0..<64).flatMap { y in (0..<64).map { x in neutral[y * 64 + 63 - x] } }
        XCTAssertLessThanOrEqual(zip(flipped, mirrored).map { abs($0 - $1) }.max()!, 1e-4)
    }

    func testModelShapesAndCheckpointRoundTrip() throws {
        let t = TrainedFaceTeacher(config: try TeacherNetConfig.named("mini-xception", classes: 8), classes: FERPlus.emotions, seed: 3)
        var rng = SeededRNG(seed: 4)
        var x = Tensor(zeros: [2, 1, 64, 64]); for i in x.data.indices { x.data[i] = rng.uniform() * 2 - 1 }
        let y = t.logits(x)
        XCTAssertEqual(y.shape, [2, 8])
        let rows = ModelSummaryCheck.parameterCount(t)
        XCTAssertEqual(rows, t.network.parameters.reduce(0) { $0 + $1.value.count })
        let path = tempDir("teacher") + ".safetensors"
        defer { try? FileManager.default.removeItem(atPath: path) }
        try t.save(to: path)
        let back = try TrainedFaceTeacher.load(path)
        XCTAssertEqual(back.classes, FERPlus.emotions)
        XCTAssertEqual(back.logits(x).data, y.data)
        // As the face teacher of `emovox teacher/label`: FER+ class names, 64×64 crops, the same logits.
        let face = try TrainedFaceTeacher.faceTeacher(path)
        XCTAssertEqual(face.labels, FERPlus.emotions)
        XCTAssertEqual(face.cropSize.height, 64); XCTAssertEqual(face.cropSize.width, 64)
        XCTAssertEqual(face.logits([Array(x.data[0..<4096]), Array(x.data[4096...])]).data, y.data)
        XCTAssertThrowsError(try TeacherNetConfig.named("resnet-9000", classes: 8))
        // float16 storage (the shipped teacher): the net read back is the float32 net with every weight rounded to
        // float16, exactly, in half the bytes.
        let half = tempDir("teacher-f16") + ".safetensors"
        defer { try? FileManager.default.removeItem(atPath: half) }
        try t.save(to: half, storage: .f16)
        let rounded = try TrainedFaceTeacher.load(path)
        try rounded.network.load(stateDict: t.network.stateDict().mapValues { Tensor(shape: $0.shape, data: $0.data.map { Float(Float16($0)) }) },
                                 source: "rounded")
        XCTAssertEqual(try TrainedFaceTeacher.load(half).logits(x).data, rounded.logits(x).data)
        let bytes = { (p: String) in try FileManager.default.attributesOfItem(atPath: p)[.size] as! Int }
        XCTAssertLessThan(Double(try bytes(half)), 0.55 * Double(try bytes(path)))
    }

    func config(epochs: Int) -> TeacherTrainingConfig {
        var c = TeacherTrainingConfig()
        c.epochs = epochs; c.batchSize = 8; c.optimizer = .adam; c.learningRate = 3e-3; c.learningRateEnd = 1e-3; c.seed = 7
        return c
    }

    /// Two epochs interrupted after the first and resumed give bit-identical weights to two epochs in one go.
    func testTwoEpochTrainingResumesExactly() throws {
        let train = try FERPlus.read(root: Self.root, split: .train), valid = try FERPlus.read(root: Self.root, split: .valid)
        let a = tempDir("tt-a"), b = tempDir("tt-b")
        defer { try? FileManager.default.removeItem(atPath: a); try? FileManager.default.removeItem(atPath: b) }
        let straight = try TeacherTrainer(config: config(epochs: 2), runDir: a, resume: false)
        straight.log = { _ in }
        try straight.train(train, valid: valid)
        let first = try TeacherTrainer(config: config(epochs: 2), runDir: b, resume: false)
        first.log = { _ in }; first.epochsLimitForTesting = 1
        try first.train(train, valid: valid)
        let resumed = try TeacherTrainer(config: config(epochs: 2), runDir: b, resume: true)
        resumed.log = { _ in }
        try resumed.train(train, valid: valid)
        XCTAssertEqual(resumed.history.count, 2)
        XCTAssertEqual(try Safetensors.read(a + "/last.safetensors").tensors, try Safetensors.read(b + "/last.safetensors").tensors)
        let csv = try String(contentsOfFile: b + "/epochs.csv", encoding: .utf8).split(separator: "\n")
        XCTAssertEqual(csv.count, 3)
        for r in straight.history { XCTAssertTrue(r.trainLoss.isFinite); XCTAssertEqual(r.skippedImages, 0) }
        XCTAssertEqual(try TrainedFaceTeacher.load(a + "/teacher.safetensors").classes, FERPlus.emotions)
        var other = config(epochs: 2); other.seed = 8
        // The refusal names the parameter that differs, not a CLI flag.
        XCTAssertThrowsError(try TeacherTrainer(config: other, runDir: b, resume: true)) {
            XCTAssertTrue("\($0)".contains("another configuration (seed differ"), "\($0)")
            XCTAssertFalse("\($0)".contains("--"), "\($0)")
        }
        // Everything a resume needs is in one file; the reports are rewritten from it (a kill between the two is harmless).
        try FileManager.default.removeItem(atPath: b + "/last.safetensors")
        try FileManager.default.removeItem(atPath: b + "/epochs.csv")
        let again = try TeacherTrainer(config: config(epochs: 2), runDir: b, resume: true)
        again.log = { _ in }
        try again.train(train, valid: valid)
        XCTAssertEqual(try Data(contentsOf: URL(fileURLWithPath: a + "/last.safetensors")), try Data(contentsOf: URL(fileURLWithPath: b + "/last.safetensors")))
        for f in ["resume.safetensors", "teacher.safetensors", "trainer_state.json", "epochs.csv"] {
            XCTAssertEqual(try Data(contentsOf: URL(fileURLWithPath: a + "/" + f)), try Data(contentsOf: URL(fileURLWithPath: b + "/" + f)), f)
        }
        XCTAssertFalse(FileManager.default.fileExists(atPath: b + "/optimizer.safetensors"), "the optimiser state lives in the resume file")
    }

    /// A run with initial weights starts from that checkpoint's net instead of its seed's random one, records the file
    /// with its digest, and refuses (naming the file) a checkpoint of another net or a file changed since.
    func testInitialWeightsStartTheRunFromACheckpoint() throws {
        let train = try FERPlus.read(root: Self.root, split: .train), valid = try FERPlus.read(root: Self.root, split: .valid)
        let a = tempDir("ti-a"), b = tempDir("ti-b"), c = tempDir("ti-c")
        defer { for d in [a, b, c] { try? FileManager.default.removeItem(atPath: d) } }
        let first = try TeacherTrainer(config: config(epochs: 1), runDir: a, resume: false)
        first.log = { _ in }
        try first.train(train, valid: valid)
        let start = a + "/last.safetensors"
        var warm = config(epochs: 1); warm.seed = 8
        warm.initialWeights = try InitialWeights(path: start)
        let random = try TeacherTrainer(config: { var r = warm; r.initialWeights = nil; return r }(), runDir: c, resume: false)
        XCTAssertNotEqual(random.teacher.network.stateDict(), try Safetensors.read(start).tensors, "seed 8's random init is another net")
        let second = try TeacherTrainer(config: warm, runDir: b, resume: false)
        XCTAssertEqual(second.teacher.network.stateDict(), try Safetensors.read(start).tensors, "weights and BN statistics of the checkpoint")
        second.log = { _ in }
        try second.train(train, valid: valid)
        let state = try String(contentsOfFile: b + "/trainer_state.json", encoding: .utf8)
        XCTAssertTrue(state.contains(warm.initialWeights!.digest) && state.contains("last.safetensors"), state)
        var other = warm; other.initialWeights = nil
        XCTAssertThrowsError(try TeacherTrainer(config: other, runDir: b, resume: true)) { XCTAssertTrue("\($0)".contains("initialWeights"), "\($0)") }
        var wrongNet = warm; wrongNet.model = .vgg13Fer
        XCTAssertThrowsError(try TeacherTrainer(config: wrongNet, runDir: c, resume: false)) {
            XCTAssertTrue("\($0)".contains("cannot start a 'vgg13-fer' run") && "\($0)".contains(start), "\($0)")
        }
        // Another head on the same trunk: the trunk's convs and BN layers come from the checkpoint, the head from the
        // run's seed; another trunk is refused above.
        let wide = TrainedFaceTeacher(config: try TeacherNetConfig.named("vgg13-fer-wide", classes: 8), classes: FERPlus.emotions, seed: 11)
        let widePath = c + "-wide.safetensors"
        defer { try? FileManager.default.removeItem(atPath: widePath) }
        try wide.save(to: widePath)
        var headed = warm; headed.model = .vgg13FerWideFC; headed.initialWeights = try InitialWeights(path: widePath)
        let fc = try TeacherTrainer(config: headed, runDir: c + "-fc", resume: false).teacher.network.stateDict()
        defer { try? FileManager.default.removeItem(atPath: c + "-fc") }
        var seeded = headed; seeded.initialWeights = nil
        let fresh = try TeacherTrainer(config: seeded, runDir: c + "-fresh", resume: false).teacher.network.stateDict()
        defer { try? FileManager.default.removeItem(atPath: c + "-fresh") }
        let given = wide.network.stateDict()
        XCTAssertEqual(fc.keys.filter { $0.hasPrefix("conv") || $0.hasPrefix("bn") }.count, given.count - 2, "every trunk tensor (all but fc)")
        for (name, tensor) in fc {
            if name.hasPrefix("conv") || name.hasPrefix("bn") { XCTAssertEqual(tensor, given[name], name) }
            else { XCTAssertEqual(tensor, fresh[name], name); XCTAssertTrue(name.hasPrefix("fc"), name) }
        }
        let copy = c + "-start.safetensors"
        defer { try? FileManager.default.removeItem(atPath: copy) }
        try FileManager.default.copyItem(atPath: start, toPath: copy)
        var changed = warm; changed.initialWeights = try InitialWeights(path: copy)
        try first.teacher.save(to: copy, extra: ["note": "rewritten"])
        XCTAssertThrowsError(try TeacherTrainer(config: changed, runDir: c, resume: false)) {
            XCTAssertTrue("\($0)".contains("changed since") && "\($0)".contains(copy), "\($0)")
        }
    }

    /// The net learns the fixture's blob position: training loss falls and train accuracy rises over 12 epochs.
    func testTrainingLearnsAndEvaluationFollowsTheProtocol() throws {
        let train = try FERPlus.read(root: Self.root, split: .train), test = try FERPlus.read(root: Self.root, split: .test)
        let dir = tempDir("tt-learn")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        var c = config(epochs: 12); c.augmentation = nil; c.learningRate = 1e-2; c.mode = .majority
        let trainer = try TeacherTrainer(config: c, runDir: dir, resume: false)
        trainer.log = { _ in }
        try trainer.train(train, valid: [])
        XCTAssertLessThan(trainer.history.last!.trainLoss, 0.7 * trainer.history.first!.trainLoss)
        XCTAssertGreaterThan(trainer.history.last!.trainAccuracy, trainer.history.first!.trainAccuracy)
        let e = trainer.evaluate(test)
        XCTAssertEqual(e.faces, 8, "10 test faces minus the unknown- and NF-majority ones")
        XCTAssertEqual(e.report.confusion.flatMap { $0 }.reduce(0, +), 8)
        XCTAssertEqual(e.confusionCSV().split(separator: "\n").count, 9)
        let onTrain = trainer.evaluate(train)
        XCTAssertGreaterThan(onTrain.accuracy, 0.5, "a 12-epoch fit of 22 faces with a blob per class")
    }

    /// Test-time flip: the logits are the mean of the face's and its mirror image's, so a face and its mirror image
    /// get the same reading; the choice travels in the checkpoint, and `chooseTestTimeFlip` keeps it only when Valid
    /// accuracy is higher with it.
    func testTestTimeFlipAveragesMirrorImages() throws {
        let t = TrainedFaceTeacher(config: try TeacherNetConfig.named("vgg-fer", classes: 8), classes: FERPlus.emotions, seed: 3)
        var rng = SeededRNG(seed: 4)
        var x = Tensor(zeros: [2, 1, 48, 48]); for i in x.data.indices { x.data[i] = rng.uniform() * 2 - 1 }
        var m = x
        for n in 0..<2 { for r in 0..<48 { for c in 0..<48 { m.data[n * 2304 + r * 48 + c] = x.data[n * 2304 + r * 48 + 47 - c] } } }
        let plain = t.logits(x), plainMirror = t.logits(m)
        t.testTimeFlip = true
        let flipped = t.logits(x), flippedMirror = t.logits(m)
        for i in flipped.data.indices {
            XCTAssertEqual(flipped.data[i], (plain.data[i] + plainMirror.data[i]) / 2, accuracy: 1e-5)
            XCTAssertEqual(flipped.data[i], flippedMirror.data[i], accuracy: 1e-5)
        }
        XCTAssertNotEqual(plain.data, plainMirror.data, "the net alone is not mirror-symmetric")

        let train = try FERPlus.read(root: Self.root, split: .train), valid = try FERPlus.read(root: Self.root, split: .valid)
        let dir = tempDir("tt-flip")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        var c = config(epochs: 2); c.augmentation = nil
        let trainer = try TeacherTrainer(config: c, runDir: dir, resume: false)
        trainer.log = { _ in }
        try trainer.train(train, valid: valid)
        let choice = try trainer.chooseTestTimeFlip(valid: valid)
        let saved = try TrainedFaceTeacher.load(trainer.bestPath)
        XCTAssertEqual(saved.testTimeFlip, choice.flipped > choice.plain)
        let accuracy = TeacherTrainer.evaluate(saved, faces: valid).accuracy
        XCTAssertEqual(accuracy, max(choice.plain, choice.flipped), accuracy: 1e-12, "the saved teacher is the better of the two on Valid")
        XCTAssertEqual(try trainer.chooseTestTimeFlip(valid: valid).chosen, saved.testTimeFlip, "idempotent")

        // Recall floor: offsets on the classes below it, the reported Valid accuracy is the saved teacher's, the logits
        // are the plain ones plus the offsets, and floor 0 takes them away again.
        let floorChoice = try trainer.chooseRecallOffsets(valid: valid, floor: 0.5)
        let adjusted = try TrainedFaceTeacher.load(trainer.bestPath)
        XCTAssertEqual(TeacherTrainer.evaluate(adjusted, faces: valid).accuracy, floorChoice.accuracy, accuracy: 1e-12)
        if floorChoice.offset > 0 {
            let o = try XCTUnwrap(adjusted.logitOffsets)
            XCTAssertEqual(o.filter { $0 != 0 }.count, floorChoice.classes.count)
            let plainNet = try TrainedFaceTeacher.load(trainer.bestPath)
            plainNet.logitOffsets = nil
            var rng2 = SeededRNG(seed: 9)
            var z = Tensor(zeros: [2, 1, 48, 48]); for i in z.data.indices { z.data[i] = rng2.uniform() * 2 - 1 }
            let a = adjusted.logits(z), b = plainNet.logits(z)
            for i in a.data.indices { XCTAssertEqual(a.data[i], b.data[i] + o[i % 8], accuracy: 1e-6) }
        }
        XCTAssertEqual(try trainer.chooseRecallOffsets(valid: valid, floor: 0.5).offset, floorChoice.offset, "idempotent")
        try trainer.chooseRecallOffsets(valid: valid, floor: 0)
        XCTAssertNil(try TrainedFaceTeacher.load(trainer.bestPath).logitOffsets)
    }
}

enum ModelSummaryCheck {
    static func parameterCount(_ t: TrainedFaceTeacher) -> Int { t.network.stateDict().filter { !$0.key.contains("running") && !$0.key.contains("num_batches") }.values.reduce(0) { $0 + $1.count } }
}
