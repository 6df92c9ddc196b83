import XCTest
import EmovoxCore
import EmovoxUtilities
import EmovoxModels
@testable import EmovoxTeacherTraining

/// A face net that always prefers one class: makes the protocol's bookkeeping checkable by hand.
final class ConstantFaceNet: FaceNetwork {
    let classes: Int, favourite: Int, size: Int
    init(classes: Int, favourite: Int, size: Int) { self.classes = classes; self.favourite = favourite; self.size = size }
    var inputShape: [Int] { [1, size, size] }
    var source: String { "constant" }
    func logits(_ x: Tensor) -> Tensor {
        var y = Tensor(zeros: [x.shape[0], classes])
        for n in 0..<x.shape[0] { y.data[n * classes + favourite] = 5 }
        return y
    }
}

/// The VGG face teacher (gradients, PyTorch twin), the FER+ protocol for any teacher (fer's 7 classes mapped onto
/// FER+'s 8), the teacher comparison report and how commands pick their teacher.
final class TeacherEvaluationTests: XCTestCase {
    static let root = TeacherTrainingTests.root

    func tempDir(_ name: String) -> String {
        let d = NSTemporaryDirectory() + "emovox-\(name)-\(getpid())"
        try? FileManager.default.removeItem(atPath: d)
        try? FileManager.default.createDirectory(atPath: d, withIntermediateDirectories: true)
        return d
    }

    /// A small VGG-family net: every parameter gradient (conv, BN, linear) against central differences of the loss.
    func testVGGTeacherGradientsMatchFiniteDifferences() {
        let cfg = TeacherNetConfig(name: "vgg-test", inputSize: 8, stem: [], blocks: [], classes: 3, family: "vgg", stages: [[3, 4], [5]], dropout: 0)
        var rng = SeededRNG(seed: 11)
        let net = cfg.build(rng: &rng)
        var x = Tensor(zeros: [3, 1, 8, 8]); for i in x.data.indices { x.data[i] = rng.uniform() * 2 - 1 }
        let targets = Tensor(shape: [3, 3], data: [0.7, 0.2, 0.1, 0.1, 0.1, 0.8, 0.3, 0.4, 0.3])
        func loss() -> Double { Double(Loss.softCrossEntropy(logits: net.forward(x, training: true), targets: targets).loss) }
        for p in net.parameters { p.grad = Tensor(zeros: p.value.shape) }
        let logits = net.forward(x, training: true)
        _ = net.backward(Loss.softCrossEntropy(logits: logits, targets: targets).grad)
        var checked = 0
        for (k, p) in net.parameters.enumerated() {
            for i in Set([0, p.value.count / 2, p.value.count - 1]) {
                let keep = p.value.data[i], h: Float = 1e-3
                p.value.data[i] = keep + h; let up = loss()
                p.value.data[i] = keep - h; let down = loss()
                p.value.data[i] = keep
                let numeric = (up - down) / Double(2 * h)
                XCTAssertEqual(Double(p.grad.data[i]), numeric, accuracy: 2e-3 + 2e-2 * abs(numeric), "parameter \(k) \(p.name)[\(i)]")
                checked += 1
            }
        }
        XCTAssertGreaterThan(checked, 20)
    }

    /// `vgg-fer` and the fully connected head of `vgg13-fer-wide-fc` in tools/teacher_torch.py give the same logits
    /// from the same checkpoint (BN with running stats; the flatten order is PyTorch's).
    func testVGGFerMatchesPyTorchTwin() throws {
        let repo = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().path
        guard (try? Subprocess.run("python3", ["-c", "import torch, safetensors"])) != nil else {
            throw XCTSkip("python3 with torch and safetensors is not installed (pip install torch safetensors)")
        }
        for name in ["vgg-fer", "vgg13-fer-wide-fc"] {
            let t = TrainedFaceTeacher(config: try TeacherNetConfig.named(name, classes: 8), classes: FERPlus.emotions, seed: 4)
            var rng = SeededRNG(seed: 9)
            var x = Tensor(zeros: [3, 1, 48, 48]); for i in x.data.indices { x.data[i] = rng.uniform() * 2 - 1 }
            for _ in 0..<3 { _ = t.network.forward(x, training: true) }  // running statistics away from their initial values
            let dir = tempDir("vggtwin")
            defer { try? FileManager.default.removeItem(atPath: dir) }
            try t.save(to: dir + "/t.safetensors")
            try NPY.write(x, to: dir + "/x.npy")
            try NPY.write(t.logits(x), to: dir + "/y.npy")
            let out = try Subprocess.run("python3", [repo + "/tools/teacher_torch.py", dir + "/t.safetensors", dir + "/x.npy", "--expect", dir + "/y.npy"])
            XCTAssertTrue(String(decoding: out, as: UTF8.self).contains("logits"), name)
        }
    }

    func testVGGFerShapeAndSize() throws {
        let t = TrainedFaceTeacher(config: try TeacherNetConfig.named("vgg-fer", classes: 8), classes: FERPlus.emotions, seed: 1)
        XCTAssertEqual(t.inputShape, [1, 48, 48])
        XCTAssertEqual(t.logits(Tensor(zeros: [2, 1, 48, 48])).shape, [2, 8])
        // 3×3 convs without bias + BN (2 per channel) + fc: 1·32·9 + 32·32·9 + 32·64·9 + 64·64·9 + 64·128·9 + 128·128·9 + 128·256·9 + BN + fc.
        let convs = 9 * (32 + 32 * 32 + 32 * 64 + 64 * 64 + 64 * 128 + 128 * 128 + 128 * 256)
        let bn = 2 * (32 + 32 + 64 + 64 + 128 + 128 + 256), fc = 256 * 8 + 8
        XCTAssertEqual(t.network.parameters.reduce(0) { $0 + $1.value.count }, convs + bn + fc)
        XCTAssertEqual(TeacherNetConfig.defaultName, "vgg-fer")
    }

    /// `vgg13-fer-wide-fc`: the `vgg13-fer-wide` trunk, its 3×3×256 map flattened into two 384-wide ReLU layers with
    /// dropout, then the 8 classes; under 10 MB in float16.
    func testVGGHeadShapeAndSize() throws {
        let t = TrainedFaceTeacher(config: try TeacherNetConfig.named("vgg13-fer-wide-fc", classes: 8), classes: FERPlus.emotions, seed: 1)
        XCTAssertEqual(t.logits(Tensor(zeros: [2, 1, 48, 48])).shape, [2, 8])
        let widths = [64, 64, 128, 128, 256, 256, 256, 256, 256, 256]
        let convs = 9 * zip([1] + widths.dropLast(), widths).map { $0 * $1 }.reduce(0, +), bn = 2 * widths.reduce(0, +)
        let head = (3 * 3 * 256 * 384 + 384) + (384 * 384 + 384) + (384 * 8 + 8)
        XCTAssertEqual(t.network.parameters.reduce(0) { $0 + $1.value.count }, convs + bn + head)
        XCTAssertLessThan(2 * (convs + bn + head), 10_000_000)
        XCTAssertEqual(t.network.layers.map(\.name).suffix(8), ["flatten", "fc1", "relu_fc1", "dropout1", "fc2", "relu_fc2", "dropout2", "fc"])
    }

    func testFer2013ClassesMapOntoFERPlus() {
        XCTAssertEqual(FERPlusEvaluation.classMap(FaceTeacher.fer2013Labels), [4, 5, 6, 1, 3, 2, 0])
        XCTAssertEqual(FERPlusEvaluation.classMap(FERPlus.emotions), Array(0..<8).map { Optional($0) })
        XCTAssertEqual(FERPlusEvaluation.classMap(["calm", "happy"]), [nil, 1])
    }

    /// A teacher that always says "happy" (fer's class 3): every face is predicted happiness; accuracy is the share of
    /// happiness-majority faces, contempt is a class it cannot output, and there is no loss for foreign classes.
    func testProtocolWithAForeignLabelSet() throws {
        let faces = try FERPlus.read(root: Self.root, split: .test)
        let teacher = try FaceTeacher(network: ConstantFaceNet(classes: 7, favourite: 3, size: 64), labels: FaceTeacher.fer2013Labels, name: "const")
        let e = FERPlusEvaluation.evaluate(teacher, faces: faces)
        let usable = faces.compactMap(\.majority)
        XCTAssertEqual(e.faces, usable.count)
        XCTAssertEqual(e.accuracy, Double(usable.filter { $0 == 1 }.count) / Double(usable.count), accuracy: 1e-12)
        XCTAssertEqual(e.report.confusion.map { $0[1] }.reduce(0, +), usable.count, "every prediction is happiness")
        XCTAssertEqual(e.unmappedClasses, ["contempt"])
        let covered = usable.filter { $0 != 7 }
        XCTAssertEqual(e.coveredAccuracy, Double(covered.filter { $0 == 1 }.count) / Double(covered.count), accuracy: 1e-12)
        XCTAssertNil(e.meanLoss)
        // The same protocol through a trained FER+ teacher has a loss.
        let trained = TrainedFaceTeacher(config: try TeacherNetConfig.named("vgg-fer", classes: 8), classes: FERPlus.emotions, seed: 2)
        XCTAssertNotNil(TeacherTrainer.evaluate(trained, faces: faces).meanLoss)
    }

    func testComparisonReportFiles() throws {
        let faces = try FERPlus.read(root: Self.root, split: .test)
        let teacher = try FaceTeacher(network: ConstantFaceNet(classes: 8, favourite: 0, size: 48), labels: FERPlus.emotions, name: "const")
        var c = TeacherComparison(split: "test")
        var entry = TeacherComparison.Entry(name: "always-neutral", spec: "x.safetensors")
        entry.evaluation = FERPlusEvaluation.evaluate(teacher, faces: faces)
        entry.classes = FERPlus.emotions
        entry.videos = [.init(video: "1001_DFA_NEU_XX.flv", acted: "neutral", framesWithFace: 4, topClassShare: [1, 0, 0, 0, 0, 0, 0, 0],
                              topClassChangeRate: 0, meanProbabilities: [0.9, 0.1, 0, 0, 0, 0, 0, 0],
                              dominantMean: "neutral", dominantMaxLogit: "neutral", actedFrameShare: 1, actedProbability: 0.9),
                        // An unlabelled interview clip: 6 frames, top class neutral ×3 then happiness ×3 (one change in 5 pairs).
                        .init(video: "id00017_a.mp4", acted: nil, framesWithFace: 6, topClassShare: [0.5, 0.5, 0, 0, 0, 0, 0, 0],
                              topClassChangeRate: 0.2, meanProbabilities: [0.5, 0.5, 0, 0, 0, 0, 0, 0],
                              dominantMean: "neutral", dominantMaxLogit: "happiness", actedFrameShare: nil, actedProbability: nil)]
        c.entries = [entry]
        let dir = tempDir("teachercmp")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try c.write(to: dir)
        let summary = try String(contentsOfFile: dir + "/summary.csv", encoding: .utf8).split(separator: "\n")
        XCTAssertEqual(summary.count, 2)
        XCTAssertTrue(summary[1].hasPrefix("always-neutral,\(entry.evaluation!.faces),"))
        XCTAssertTrue(try String(contentsOfFile: dir + "/videos.csv", encoding: .utf8).contains("always-neutral,1001_DFA_NEU_XX.flv,neutral,4,neutral,neutral,1.000,0.900"))
        let html = try String(contentsOfFile: dir + "/report.html", encoding: .utf8)
        XCTAssertTrue(html.contains("<svg") && html.contains("1 of 1"), "confusion figure and the acted-videos-right count (the unlabelled one left out)")
        XCTAssertTrue(try String(contentsOfFile: dir + "/videos.csv", encoding: .utf8).contains("always-neutral,id00017_a.mp4,,6,neutral,happiness,–,,0.200,neutral:0.500 happiness:0.500"))
        // Steadiness over both videos: mean change rate (0 + 0.2) / 2; histogram weighted by frames: neutral (4 + 3) / 10.
        let s = c.steadiness()
        XCTAssertEqual(s.count, 1)
        XCTAssertEqual(s[0].meanChangeRate!, 0.1, accuracy: 1e-12)
        XCTAssertEqual(s[0].histogram[0]!, 0.7, accuracy: 1e-12)
        XCTAssertEqual(s[0].histogram[1]!, 0.3, accuracy: 1e-12)
        XCTAssertEqual(s[0].histogram[7]!, 0, accuracy: 1e-12)
        XCTAssertTrue(FileManager.default.fileExists(atPath: dir + "/confusion_always-neutral.svg"))
    }

    func testTeacherChoice() throws {
        let dir = tempDir("teacherchoice")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        XCTAssertNil(try TeacherChoice.installedFERPlusTeacher(teacherDir: dir, environment: [:]))
        XCTAssertEqual(try TeacherChoice.resolve(nil, teacherDir: dir), TeacherChoice.fer)
        let t = TrainedFaceTeacher(config: try TeacherNetConfig.named("vgg-fer", classes: 8), classes: FERPlus.emotions, seed: 1)
        try t.save(to: dir + "/" + TeacherChoice.installedFile)
        XCTAssertEqual(try TeacherChoice.installedFERPlusTeacher(teacherDir: dir, environment: [:]), dir + "/" + TeacherChoice.installedFile)
        XCTAssertNil(try TeacherChoice.installedFERPlusTeacher(teacherDir: dir, environment: [TeacherChoice.environmentVariable: "fer"]))
        XCTAssertThrowsError(try TeacherChoice.installedFERPlusTeacher(teacherDir: dir, environment: [TeacherChoice.environmentVariable: dir + "/nope.safetensors"])) {
            XCTAssertTrue("\($0)".contains("nope.safetensors") && "\($0)".contains("does not exist"), "\($0)")
        }
        XCTAssertEqual(try TeacherChoice.resolve("x.safetensors", teacherDir: dir), "x.safetensors")
        XCTAssertEqual(try TeacherChoice.load(dir + "/" + TeacherChoice.installedFile, teacherDir: dir).labels, FERPlus.emotions)
        XCTAssertThrowsError(try TeacherChoice.load(dir + "/missing.safetensors", teacherDir: dir)) { XCTAssertTrue("\($0)".contains("missing.safetensors"), "\($0)") }
        XCTAssertThrowsError(try TeacherChoice.load(dir + "/" + TeacherChoice.installedFile, teacherDir: dir, labels: ["a", "b"])) {
            XCTAssertTrue("\($0)".contains("class names do not apply"), "\($0)")
        }
    }
}
