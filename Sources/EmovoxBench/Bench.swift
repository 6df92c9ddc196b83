import Foundation
import EmovoxCore
import EmovoxUtilities
import EmovoxModels
import EmovoxAudio
import EmovoxVision
import EmovoxData
import EmovoxLabelling
import EmovoxInference

/// Throughput measurements for `emovox bench` (never used in unit tests: timing belongs here).
public enum Bench {
    /// Best-of-`repeats` seconds of `body` after one warm-up call. With a `budget` (seconds), more runs follow
    /// while the runs so far took less than it (at most 10): a 60 ms step gets enough tries to find a quiet moment
    /// on a shared machine, a 3 s one still runs `repeats` times. tools/peer_bench.py times its side the same way.
    public static func time(repeats: Int = 3, budget: Double = 0, _ body: () -> Void) -> Double {
        body()
        return best(repeats: repeats, budget: budget) {
            let t0 = DispatchTime.now().uptimeNanoseconds
            body()
            let t = Double(DispatchTime.now().uptimeNanoseconds - t0) / 1e9
            return (t, t)
        }
    }

    /// The smallest `value` of `measure` (which also returns the seconds it took) over `repeats` runs and, within
    /// `budget` seconds, up to 10; NaN for 0 repeats.
    static func best(repeats: Int, budget: Double, _ measure: () -> (value: Double, seconds: Double)) -> Double {
        if repeats == 0 { return .nan }
        var best = Double.infinity, spent = 0.0, runs = 0
        while runs < repeats || (spent < budget && runs < 10) {
            let (v, t) = measure()
            best = min(best, v); spent += t; runs += 1
        }
        return best
    }

    /// Seconds of runs each student measure may take beyond its `repeats` (both sides of the comparison).
    public static let studentBudget = 2.0

    /// sgemm GFLOP/s for an m×k · k×n product: the ceiling for every conv here.
    public static func sgemmGFLOPS(m: Int, n: Int, k: Int, openBLASThreads: Int? = nil) -> Double {
        var rng = SeededRNG(seed: 1)
        let a = (0..<(m * k)).map { _ in rng.uniform() }, b = (0..<(k * n)).map { _ in rng.uniform() }
        var c = [Float](repeating: 0, count: m * n)
        let run = {
            a.withUnsafeBufferPointer { ap in b.withUnsafeBufferPointer { bp in c.withUnsafeMutableBufferPointer { cp in
                if openBLASThreads != nil {
                    sgemmSerial(m: m, n: n, k: k, a: ap.baseAddress!, lda: k, b: bp.baseAddress!, ldb: n, c: cp.baseAddress!, ldc: n)
                } else {
                    sgemm(m: m, n: n, k: k, a: ap.baseAddress!, lda: k, b: bp.baseAddress!, ldb: n, c: cp.baseAddress!, ldc: n)
                }
            } } }
        }
        let s = openBLASThreads.map { t in BLASInfo.withOpenBLASThreads(t) { time(run) } } ?? time(run)
        return 2 * Double(m * n * k) / s / 1e9
    }

    public struct ConvResult: Codable {
        public let shape: String
        public let forwardGFLOPS: Double
        public let backwardGFLOPS: Double
        /// The algorithm the layer ran in training (`ConvPath`), and in the inference forward (the forward timed).
        public let path: String, inferencePath: String
    }

    /// Forward and backward (input + weight gradients) GFLOP/s of one conv configuration on the path `choice` picks.
    public static func conv(batch: Int, cin: Int, cout: Int, h: Int, w: Int, k: Int, stride: Int = 1, pad: Int? = nil,
                            choice: DirectConvChoice = .measured) -> ConvResult {
        var rng = SeededRNG(seed: 2)
        let conv = Conv2D(cin, cout, kernel: (k, k), stride: (stride, stride), padding: .symmetric(pad ?? k / 2, pad ?? k / 2), bias: false, rng: &rng)
        conv.tuning.direct = choice
        var x = Tensor(zeros: [batch, cin, h, w])
        for i in x.data.indices { x.data[i] = rng.normal() }
        let y = conv.forward(x, training: false)
        let flops = 2 * Double(y.count) * Double(cin * k * k)
        let tf = time { _ = conv.forward(x, training: false) }
        // The backward alone: a training step less its own forward (the inference forward may take another path).
        let tb = time {
            _ = conv.forward(x, training: true)
            _ = conv.backward(y)
        } - time { _ = conv.forward(x, training: true) }
        return ConvResult(shape: "\(batch)x\(cin)x\(h)x\(w) k\(k) s\(stride) -> \(cout)", forwardGFLOPS: flops / tf / 1e9,
                          backwardGFLOPS: 2 * flops / max(tb, 1e-9) / 1e9, path: conv.path(conv.geometry(h, w)).rawValue,
                          inferencePath: conv.path(conv.geometry(h, w), .inference).rawValue)
    }

    public struct StudentResult: Codable {
        public let model: String
        public let batch: Int
        public let gmacPerCrop: Double
        public let trainStepSeconds: Double
        public let trainSamplesPerSecond: Double
        public let inferenceSamplesPerSecond: Double
        public let convGFLOPSInference: Double
        /// The conv layers alone (their share of the inference time): what the sgemm ceiling bounds.
        public let convLayersGFLOPSInference: Double
        /// sgemm 1024³ measured right after the conv layers (the ceiling as of then, on a shared machine).
        public let sgemmGFLOPSNearby: Double
    }

    /// Seconds of each layer's inference forward, run one layer at a time.
    static func inferenceLayerSeconds(_ net: Sequential, _ x: Tensor) -> [Double] {
        var h = x
        return net.layers.map { _, layer in
            let t0 = DispatchTime.now().uptimeNanoseconds
            h = layer.forward(h, training: false)
            return Double(DispatchTime.now().uptimeNanoseconds - t0) / 1e9
        }
    }

    /// Training step (forward + backward + SGD) and inference on random 4.024 s spectrograms.
    public static func student(_ name: String, batch: Int, classes: Int = 7, frames: Int = 400, repeats: Int = 2,
                               conv: DirectConvChoice = .measured) throws -> StudentResult {
        var rng = SeededRNG(seed: 3)
        let cfg = try StudentConfig.named(name, classes: classes)
        let model = StudentModel(config: cfg, rng: &rng)
        for case let c as Conv2D in model.network.layers.map(\.layer) { c.tuning.direct = conv }
        var x = Tensor(zeros: [batch, 1, cfg.bins, frames])
        for i in x.data.indices { x.data[i] = rng.normal() }
        let targets = Tensor(repeating: 1 / Float(classes), shape: [batch, classes])
        let sgd = SGD(model.network.parameters, learningRate: 1e-4, momentum: 0.9, weightDecay: 5e-4)
        let macs = Double(ModelSummary.rows(model.network, input: [1, 1, cfg.bins, frames]).reduce(0) { $0 + $1.macs })
        let train = time(repeats: repeats, budget: studentBudget) {
            sgd.zeroGrad()
            let logits = model.forward(x, training: true)
            model.backward(Loss.softCrossEntropy(logits: logits, targets: targets, temperature: 2).grad)
            sgd.step()
        }
        let infer = repeats == 0 ? .nan : time(repeats: repeats, budget: studentBudget) { _ = model.forward(x, training: false) }
        // The conv layers' share of inference (best of the repeats).
        let isConv = model.network.layers.map { $0.layer is Conv2D }
        let convSeconds = best(repeats: repeats, budget: studentBudget) {
            let layers = inferenceLayerSeconds(model.network, x)
            return (zip(layers, isConv).reduce(0) { $0 + ($1.1 ? $1.0 : 0) }, layers.reduce(0, +))
        }
        return StudentResult(model: name, batch: batch, gmacPerCrop: macs / 1e9, trainStepSeconds: train,
                             trainSamplesPerSecond: Double(batch) / train, inferenceSamplesPerSecond: Double(batch) / infer,
                             convGFLOPSInference: 2 * macs * Double(batch) / infer / 1e9,
                             convLayersGFLOPSInference: 2 * macs * Double(batch) / convSeconds / 1e9,
                             sgemmGFLOPSNearby: repeats == 0 ? .nan : sgemmGFLOPS(m: 1024, n: 1024, k: 1024))
    }
}

extension Bench {
    /// Teacher frames/s on ready 64×64 crops in batches of `batch`.
    public static func teacherCrops(_ teacher: FaceTeacher, batch: Int = 64, batches: Int = 4) -> Double {
        var rng = SeededRNG(seed: 4)
        let plane = teacher.network.inputShape.reduce(1, *)
        let crops = (0..<(batch * batches)).map { _ in (0..<plane).map { _ in rng.uniform() * 2 - 1 } }
        teacher.batchSize = batch
        let s = time(repeats: 5) { _ = teacher.logits(crops) }  // short runs on a shared machine are noisy: best of 5
        return Double(crops.count) / s
    }
}

extension Bench {
    public struct LayerTiming: Codable {
        public let name: String; public let forwardMs: Double; public let backwardMs: Double; public let gflopsForward: Double
        public let inferenceMs: Double
        /// Plain sgemm GFLOP/s at this layer's own GEMM shape (serial calls split over threads as the layer
        /// does): the ceiling a conv layer is measured against; 0 for layers without a GEMM.
        public let gemmShapeGFLOPS: Double
    }

    /// Per-layer forward/backward milliseconds of one training step: the profile behind the speed work.
    public static func studentProfile(_ name: String, batch: Int, frames: Int = 400, conv: DirectConvChoice = .measured) throws -> [LayerTiming] {
        var rng = SeededRNG(seed: 5)
        let cfg = try StudentConfig.named(name, classes: 7)
        let model = StudentModel(config: cfg, rng: &rng)
        for case let c as Conv2D in model.network.layers.map(\.layer) { c.tuning.direct = conv }
        var x = Tensor(zeros: [batch, 1, cfg.bins, frames])
        for i in x.data.indices { x.data[i] = rng.normal() }
        let rows = ModelSummary.rows(model.network, input: [batch, 1, cfg.bins, frames])
        var inf: [Double] = []
        let (fwd, bwd) = trainingLayerMilliseconds(model.network, x) { inf = inferenceLayerSeconds(model.network, x).map { $0 * 1e3 } }
        let ceilings = model.network.layers.indices.map { i -> Double in
            let shape = i == 0 ? x.shape : rows[i - 1].outputShape
            guard let conv = model.network.layers[i].layer as? Conv2D,
                  let s = conv.forwardGEMMShape(n: shape[0], h: shape[2], w: shape[3]) else { return 0 }
            return sgemmGFLOPS(m: s.m, n: s.n, k: s.k)
        }
        return rows.indices.map { i in
            LayerTiming(name: rows[i].name, forwardMs: fwd[i], backwardMs: bwd[i],
                        gflopsForward: rows[i].macs > 0 ? 2 * Double(rows[i].macs) / (fwd[i] / 1e3) / 1e9 : 0, inferenceMs: inf[i],
                        gemmShapeGFLOPS: ceilings[i])
        }
    }
}


extension Bench {
    /// Milliseconds of each layer's training forward and backward in one step (the second of two passes: warm
    /// caches and allocator), following the network's training plan (fused steps included); `eachPass` runs before
    /// every pass.
    static func trainingLayerMilliseconds(_ net: Sequential, _ x: Tensor, eachPass: () -> Void = {}) -> (forward: [Double], backward: [Double]) {
        func ms(_ t0: UInt64) -> Double { Double(DispatchTime.now().uptimeNanoseconds - t0) / 1e6 }
        var fwd: [Double] = [], bwd: [Double] = []
        for _ in 0..<2 {
            eachPass()
            // Step by step as training runs them: a fused step's time goes to its first layer, 0 to the others.
            let plan = net.trainingPlan()
            fwd = [Double](repeating: 0, count: net.layers.count); bwd = fwd
            var h = x
            for step in plan {
                let t0 = DispatchTime.now().uptimeNanoseconds
                h = step.forward(h)
                fwd[step.first] = ms(t0)
            }
            var g = Tensor(repeating: 0.01, shape: h.shape)
            for step in plan.reversed() {
                let t0 = DispatchTime.now().uptimeNanoseconds
                g = step.backward(g)
                bwd[step.first] = ms(t0)
            }
        }
        return (fwd, bwd)
    }

    /// Spectrograms of 4.024 s crops per second (batched over threads).
    public static func spectrogramClipsPerSecond(clips: Int = 64, bins: Int = 512) -> Double {
        var rng = SeededRNG(seed: 6)
        let crops = (0..<clips).map { _ in (0..<SpectrogramConfig.cropSamples).map { _ in rng.normal() * 0.1 } }
        let spec = Spectrogram(config: SpectrogramConfig(bins: bins))
        var none: SeededRNG? = nil
        return Double(clips) / time(repeats: 5) { _ = spec.batch(crops, dither: &none) }
    }

    /// Latency of one 10 s clip end to end: spectrogram + student forward (batch 1).
    public static func singleClipLatency(_ name: String, seconds: Double = 10) throws -> Double {
        var rng = SeededRNG(seed: 7)
        let model = StudentModel(config: try StudentConfig.named(name, classes: 7), rng: &rng)
        let runner = StudentRunner(model: model, classes: FaceTeacher.fer2013Labels)
        let audio = (0..<Int(seconds * 16000)).map { _ in rng.normal() * 0.1 }
        return time(repeats: 2) { _ = runner.score([audio]) }
    }

    /// Teacher frames/s on a video end to end: decode at 25/6 fps, detect, track, crop, classify.
    /// Decode (ffmpeg), detect, crop and score a whole video: frames sampled and wall seconds (best of 2).
    public static func teacherVideo(_ runner: TeacherRunner, video: String) throws -> (frames: Int, seconds: Double) {
        let frames = try runner.run(video).framesSampled
        let s = time(repeats: 2) { _ = try? runner.run(video) }
        return (frames, s)
    }

    /// Peak resident memory of this process so far, in MB (Linux VmHWM).
    public static func peakRSSMB() -> Double {
        guard let status = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8),
              let line = status.split(separator: "\n").first(where: { $0.hasPrefix("VmHWM:") }) else { return 0 }
        return (Double(line.split(separator: " ").dropFirst().first ?? "0") ?? 0) / 1024
    }
}

extension Bench {
    /// Images/s decoded to grey from memory on `Threads.available` threads (file reading excluded), one image per task.
    public static func imageDecodeRate(_ images: [Data], count: Int) -> Double {
        let s = time(repeats: 3) {
            Threads.forEachDynamic(count) { i in _ = try? ImageCodecs.decode(images[i % images.count], name: "bench") }
        }
        return Double(count) / s
    }

    /// Decode rates for 48×48 grey PNGs (FER+'s test faces when ../shared is there, else ffmpeg's test pattern)
    /// and 640×480 colour JPEGs (ffmpeg's testsrc2 at -q:v 2, 4:2:0).
    public static func imageDecoding() throws -> [String: Any] {
        let tmp = NSTemporaryDirectory() + "emovox-bench-images-\(getpid())"
        try FileManager.default.createDirectory(atPath: tmp, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: tmp) }
        func generate(_ name: String, _ size: String, _ extra: [String]) throws -> Data {
            let path = tmp + "/" + name
            _ = try Subprocess.run("ffmpeg", ["-v", "error", "-nostdin", "-f", "lavfi", "-i", "testsrc2=size=\(size)", "-frames:v", "1"] + extra + [path])
            return try Data(contentsOf: URL(fileURLWithPath: path))
        }
        var pngs: [Data] = [], pngSource = "ffmpeg testsrc2, grey"
        if let dir = SharedData.path("data/ferplus/FER2013Test"),
           let names = try? FileManager.default.contentsOfDirectory(atPath: dir).filter({ $0.hasSuffix(".png") }).sorted().prefix(256), !names.isEmpty {
            pngs = try names.map { try Data(contentsOf: URL(fileURLWithPath: dir + "/" + $0)) }
            pngSource = "FER+ FER2013Test (first \(names.count))"
        } else {
            pngs = [try generate("face.png", "48x48", ["-pix_fmt", "gray"])]
        }
        let jpeg = try generate("frame.jpg", "640x480", ["-q:v", "2", "-pix_fmt", "yuvj420p"])
        return ["png_48x48_images_per_s": imageDecodeRate(pngs, count: 20_000), "png_source": pngSource,
                "jpeg_640x480_images_per_s": imageDecodeRate([jpeg], count: 300), "jpeg_bytes": jpeg.count,
                "threads": Threads.available]
    }
}

extension Bench {
    public struct LabelRate {
        /// `seconds`: the fastest pass by the clock; `cpuSeconds`: the least process CPU time (all threads) of a
        /// pass, the steadier reading on a loaded machine, where the clock mostly measures the other jobs.
        public let clips: Int, frames: Int, faces: Int, seconds: Double, cpuSeconds: Double
        public var framesPerSecond: Double { Double(frames) / seconds }
        public var clipsPerSecond: Double { Double(clips) / seconds }
    }

    /// The `label` path itself (`Labelling.run`: decode at the runner's fps, Haar, crop, teacher, one JSONL record
    /// per clip) over `videos`: best of `repeats` complete passes, each into a new label file. No warm-up pass: a
    /// corpus pass is long enough, and the files are in the page cache after the first.
    public static func label(_ runner: TeacherRunner, videos: [String], repeats: Int = 2) throws -> LabelRate {
        let manifest = Manifest(clips: videos.map { Clip(id: ($0 as NSString).lastPathComponent, speaker: "bench", audio: $0, video: $0) })
        let dir = NSTemporaryDirectory() + "emovox-bench-label-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        var pass = 0, frames = 0, faces = 0, failure: Error? = nil, cpu = Double.infinity
        let seconds = best(repeats: repeats, budget: 0) {
            pass += 1
            let out = "\(dir)/labels-\(pass).jsonl", t0 = DispatchTime.now().uptimeNanoseconds, c0 = clock()
            do {
                let s = try Labelling.run(manifest: manifest, runner: runner, out: out)
                if let f = s.failed.first { failure = EmovoxError("label failed: \(f.1)", file: f.0) }
            } catch { failure = error }
            let t = Double(DispatchTime.now().uptimeNanoseconds - t0) / 1e9
            cpu = min(cpu, Double(clock() - c0) / 1e6)  // clock(): process CPU time of all threads; POSIX fixes CLOCKS_PER_SEC at 10⁶
            let labels = (try? LabelStore.read(out)) ?? []
            frames = labels.map(\.framesSampled).reduce(0, +); faces = labels.map(\.logits.count).reduce(0, +)
            return (t, t)
        }
        if let failure { throw failure }
        return LabelRate(clips: videos.count, frames: frames, faces: faces, seconds: seconds, cpuSeconds: cpu)
    }

    /// The videos of a folder (not recursive), in name order.
    public static func videos(in folder: String) throws -> [String] {
        let files = try FileManager.default.contentsOfDirectory(atPath: folder).filter(VideoReader.isVideo).sorted()
        guard !files.isEmpty else { throw EmovoxError("no videos in the folder", file: folder) }
        return files.map { folder + "/" + $0 }
    }
}
