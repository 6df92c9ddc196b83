import XCTest
import EmovoxCore
import EmovoxUtilities
import EmovoxAudio
import EmovoxLabelling
@testable import EmovoxDistill

/// Pretends to be rank `rank` of `size` without any other rank (collectives are identities): for the split arithmetic.
final class LoneRank: Communicator {
    let rank: Int, size: Int
    init(rank: Int, size: Int) { self.rank = rank; self.size = size }
    func allreduceSum(_ buffer: inout [Float]) throws {}
    func broadcast(_ buffer: inout [Float], root: Int) throws {}
    func barrier() throws {}
}

/// Ranks as threads of one process: each collective waits for every rank, then combines the buffers in rank order
/// (as MPI's reduction of two operands, whose sum does not depend on the order). Lets the trainer's data-parallel
/// logic be checked without MPI; a rank that never arrives fails the others after a minute instead of hanging.
final class ThreadGroup {
    let size: Int
    private let condition = NSCondition()
    private var slots: [[Float]?], arrived = 0, round = 0, result: [Float] = []
    init(size: Int) { self.size = size; slots = Array(repeating: nil, count: size) }

    func exchange(rank: Int, _ buffer: [Float], combine: ([[Float]]) -> [Float]) throws -> [Float] {
        condition.lock(); defer { condition.unlock() }
        let mine = round
        slots[rank] = buffer
        arrived += 1
        if arrived == size {
            result = combine(slots.map { $0! })
            slots = Array(repeating: nil, count: size); arrived = 0; round += 1
            condition.broadcast()
        }
        while round == mine {
            guard condition.wait(until: Date().addingTimeInterval(60)) else { throw EmovoxError("rank \(rank): the other ranks never arrived") }
        }
        return result
    }
}

final class ThreadRank: Communicator {
    let group: ThreadGroup, rank: Int
    var size: Int { group.size }
    init(_ group: ThreadGroup, rank: Int) { self.group = group; self.rank = rank }
    func allreduceSum(_ buffer: inout [Float]) throws {
        buffer = try group.exchange(rank: rank, buffer) { all in
            all.dropFirst().reduce(all[0]) { sum, next in zip(sum, next).map { $0 + $1 } }
        }
    }
    func broadcast(_ buffer: inout [Float], root: Int) throws { buffer = try group.exchange(rank: rank, buffer) { $0[root] } }
    func barrier() throws { _ = try group.exchange(rank: rank, []) { _ in [] } }
}

final class DataParallelTests: XCTestCase {
    func trainer(batch: Int, rank: Int, ranks: Int, micro: Int) throws -> DistillationTrainer {
        var cfg = DistillationConfig()
        cfg.batchSize = batch
        let t = try DistillationTrainer.make(config: cfg, classes: ["a", "b"], runDir: try tempDir(), resume: false)
        t.communicator = LoneRank(rank: rank, size: ranks)
        t.microBatches = micro
        return t
    }

    /// Global batch 32 over 2 ranks: rank 1 takes the second 16 of every batch; with 2 micro-batches per rank, rank 1
    /// takes the third and fourth 8. The epoch is cut to a multiple of ranks × micro-batches (70 → 68), so the last
    /// batch (4 clips) still splits evenly and every rank runs the same number of steps.
    func testMicroBatchesPartitionEachGlobalBatch() throws {
        let r1 = try trainer(batch: 32, rank: 1, ranks: 2, micro: 1)
        let layout = try r1.dataParallelLayout(clips: 70)
        XCTAssertEqual(layout.usable, 70)
        XCTAssertEqual(layout.batches, 3)
        XCTAssertEqual(r1.microBatchPositions(batch: 0, usable: 70), [16..<32])
        XCTAssertEqual(r1.microBatchPositions(batch: 2, usable: 70), [67..<70])
        let r1k2 = try trainer(batch: 32, rank: 1, ranks: 2, micro: 2)
        let cut = try r1k2.dataParallelLayout(clips: 70)
        XCTAssertEqual(cut.usable, 68)
        XCTAssertEqual(r1k2.microBatchPositions(batch: 1, usable: 68), [48..<56, 56..<64])
        XCTAssertEqual(r1k2.microBatchPositions(batch: 2, usable: 68), [66..<67, 67..<68])
        // Every position of the epoch is used exactly once over all ranks and micro-batches.
        var used: [Int] = []
        for rank in 0..<2 {
            let t = try trainer(batch: 32, rank: rank, ranks: 2, micro: 2)
            for b in 0..<cut.batches { used += t.microBatchPositions(batch: b, usable: 68).flatMap { Array($0) } }
        }
        XCTAssertEqual(used.sorted(), Array(0..<68))
        XCTAssertThrowsError(try trainer(batch: 30, rank: 0, ranks: 2, micro: 2).dataParallelLayout(clips: 70)) {
            XCTAssertTrue("\($0)".contains("must divide by ranks × micro-batches"), "\($0)")
        }
        XCTAssertThrowsError(try trainer(batch: 32, rank: 0, ranks: 2, micro: 2).dataParallelLayout(clips: 3)) {
            XCTAssertTrue("\($0)".contains("cannot fill 4 micro-batches"), "\($0)")
        }
    }

    func items(_ n: Int) -> [DistillationItem] {
        var rng = SeededRNG(seed: 3)
        return (0..<n).map { i in
            DistillationItem(id: "c\(i)", audio: (0..<20_000).map { _ in rng.normal() * 0.1 },
                             labels: ClipTeacherLabels(clip: "c\(i)", source: "v", teacher: "t", classes: ["a", "b", "c"], times: [0, 0.5, 1],
                                                       logits: [[Float(i % 3), 1, 0], [0, Float(i % 2), 2], [1, 1, 1]], framesSampled: 3, framesWithoutFace: 0))
        }
    }

    /// Trains `ranks` trainers on threads of this process (kernels on each calling thread); with `epochsFirst`, stops
    /// after that many epochs and resumes to the end from the run folder, which all ranks then share (as --out on a
    /// shared filesystem); without, ranks > 0 get folders of their own, to show they write nothing. Returns every
    /// rank's final trainer.
    func trainAsRanks(_ ranks: Int, micro: Int, config: DistillationConfig, data: [DistillationItem], runDir: String,
                      epochsFirst: Int? = nil) throws -> [DistillationTrainer] {
        var result = [DistillationTrainer?](repeating: nil, count: ranks), failures: [String] = []
        let lock = NSLock()
        for resume in epochsFirst == nil ? [false] : [false, true] {
            let group = ThreadGroup(size: ranks)
            DispatchQueue.concurrentPerform(iterations: ranks) { r in
                do {
                    let t = try DistillationTrainer.make(config: config, classes: ["a", "b", "c"], runDir: r == 0 || epochsFirst != nil ? runDir : runDir + "-rank\(r)", resume: resume)
                    t.log = { _ in }
                    t.communicator = ThreadRank(group, rank: r)
                    t.microBatches = micro
                    if !resume { t.epochsLimitForTesting = epochsFirst }
                    try Threads.serially { try t.train(data) }
                    lock.lock(); result[r] = t; lock.unlock()
                } catch { lock.lock(); failures.append("rank \(r): \(error)"); lock.unlock() }
            }
            if !failures.isEmpty { throw EmovoxError(failures.joined(separator: "; ")) }
        }
        return result.map { $0! }
    }

    /// The trainer's data parallelism without MPI: 2 ranks (threads) equal one process with 2 micro-batches, both
    /// ranks end with bitwise identical weights and BN statistics, and an interrupted 2-rank run resumed from rank 0's
    /// checkpoint (weights broadcast to rank 1) ends exactly where the uninterrupted one does.
    func testThreadRanksEqualMicroBatchesAndResumeExactly() throws {
        var cfg = DistillationConfig()
        cfg.epochs = 3; cfg.batchSize = 8; cfg.cropSamples = 12_000; cfg.learningRateStart = 1e-2; cfg.learningRateEnd = 1e-3
        let data = items(13)  // 12 used per epoch: a batch of 8 (4 + 4) and one of 4 (2 + 2)
        let d = try tempDir()
        let single = try trainAsRanks(1, micro: 2, config: cfg, data: data, runDir: d + "/single")[0]
        let ranks = try trainAsRanks(2, micro: 1, config: cfg, data: data, runDir: d + "/ranks")
        let resumed = try trainAsRanks(2, micro: 1, config: cfg, data: data, runDir: d + "/resumed", epochsFirst: 1)
        let reference = single.model.network.stateDict()
        let names = single.model.network.namedParameters.map(\.0)
        XCTAssertGreaterThan(names.count, 10)
        for name in names {
            XCTAssertEqual(ranks[0].model.network.stateDict()[name], reference[name], name)  // the same arithmetic: bitwise
        }
        XCTAssertEqual(ranks[0].model.network.stateDict(), ranks[1].model.network.stateDict())  // with BN statistics
        XCTAssertEqual(resumed[0].model.network.stateDict(), ranks[0].model.network.stateDict())
        XCTAssertEqual(resumed[1].model.network.stateDict(), ranks[0].model.network.stateDict())
        // Reported losses are sums over ranks gathered in float (another summation order than one process): equal to rounding.
        for (a, b) in zip(ranks[0].history.map(\.trainLoss), single.history.map(\.trainLoss)) { XCTAssertEqual(a, b, accuracy: 1e-5) }
        XCTAssertEqual(resumed[0].history.map(\.trainLoss), ranks[0].history.map(\.trainLoss))
        XCTAssertFalse(FileManager.default.fileExists(atPath: d + "/ranks-rank1/student.safetensors"), "only rank 0 writes")
        // Averaged BN statistics are not the sequential ones of one process (each micro-batch moved them there).
        XCTAssertNotEqual(ranks[0].model.network.stateDict()["bn1.running_mean"], reference["bn1.running_mean"])
    }

    // MARK: the MPI oracle

    /// The built CLI: beside the test bundle (SwiftPM puts both in the same build folder), else .build/release.
    func emovoxBinary() -> String? {
        let beside = Bundle(for: Self.self).bundleURL.deletingLastPathComponent().appendingPathComponent("emovox").path
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        return [beside, root.appendingPathComponent(".build/release/emovox").path].first { FileManager.default.isExecutableFile(atPath: $0) }
    }

    func executable(named name: String) -> String? {
        (ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin").split(separator: ":")
            .map { "\($0)/\(name)" }.first { FileManager.default.isExecutableFile(atPath: $0) }
    }

    func run(_ tool: String, _ args: [String]) throws -> (status: Int32, output: String) {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: tool)
        p.arguments = args
        // Containers often forbid the cross-process memory copy Open MPI's shared-memory transport uses for large
        // messages; plain copies work everywhere.
        p.environment = ProcessInfo.processInfo.environment.merging(["OMPI_MCA_btl_vader_single_copy_mechanism": "none"]) { $1 }
        let pipe = Pipe()
        p.standardOutput = pipe; p.standardError = pipe
        try p.run()
        let data = pipe.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        return (p.terminationStatus, String(decoding: data, as: UTF8.self))
    }

    /// A tiny corpus: 48 training clips of 4.5 s (tones in noise, longer than a crop so crops move) and 8 held-out
    /// clips, each with two teacher frames.
    func makeCorpus(in dir: String) throws -> (manifest: String, labels: String) {
        var rng = SeededRNG(seed: 7)
        var manifest = "", labels = ""
        let classes = ["angry", "disgust", "fear", "happy", "sad", "surprise", "neutral"]
        for i in 0..<56 {
            let f = 120 + Float(i % 6) * 40
            let audio = (0..<72_000).map { n in 0.3 * sin(2 * .pi * f * Float(n) / 16_000) + 0.05 * rng.normal() }
            let path = "\(dir)/c\(i).wav"
            try WAVReader.encode16(audio, sampleRate: 16_000).write(to: URL(fileURLWithPath: path))
            let clip: [String: Any] = ["id": "c\(i)", "speaker": "s\(i % 8)", "audio": path, "split": i < 48 ? "train" : "heard"]
            let logits = [(0..<7).map { Float(($0 + i) % 7) * 0.5 }, (0..<7).map { Float(($0 * 3 + i) % 7) * 0.4 }]
            let label: [String: Any] = ["clip": "c\(i)", "source": "synthetic", "teacher": "t", "classes": classes, "times": [0.5, 3.0],
                                        "logits": logits, "maxLogits": zip(logits[0], logits[1]).map { max($0, $1) },
                                        "framesSampled": 2, "framesWithoutFace": 0]
            manifest += String(decoding: try JSONSerialization.data(withJSONObject: clip), as: UTF8.self) + "\n"
            labels += String(decoding: try JSONSerialization.data(withJSONObject: label), as: UTF8.self) + "\n"
        }
        try manifest.write(toFile: dir + "/m.jsonl", atomically: true, encoding: .utf8)
        try labels.write(toFile: dir + "/l.jsonl", atomically: true, encoding: .utf8)
        return (dir + "/m.jsonl", dir + "/l.jsonl")
    }

    /// `mpirun -np 2` with global batch 32 equals one process averaging the gradients of the same two 16-clip
    /// micro-batches (`--micro-batches 2`) to ≤ 1e-5 after 4 steps (48 clips: a batch of 32, then one of 16 split
    /// 8 + 8, per epoch), and both ranks hold bitwise identical weights after every step.
    func testTwoRanksEqualOneProcessWithTwoMicroBatches() throws {
        guard let emovox = emovoxBinary() else { throw XCTSkip("the emovox binary is not built (swift build -c release)") }
        guard let mpirun = executable(named: "mpirun") else { throw XCTSkip("mpirun not found: install openmpi-bin (scripts/setup.sh)") }
        let d = try tempDir()
        let (manifest, labels) = try makeCorpus(in: d)
        let common = ["distill", "--corpus", manifest, "--labels", labels, "--model", "vggm-small", "--epochs", "2", "--batch-size", "32",
                      "--lr-start", "1e-2", "--lr-end", "3e-3", "--threads", "1"]
        let single = try run(emovox, common + ["--out", d + "/single", "--micro-batches", "2", "--weight-checksums", d + "/single/sum"])
        XCTAssertEqual(single.status, 0, single.output)
        let mpi = try run(mpirun, ["--allow-run-as-root", "--oversubscribe", "-np", "2", emovox]
                                  + common + ["--out", d + "/mpi", "--weight-checksums", d + "/mpi/sum"])
        if mpi.output.contains("built without Open MPI") { throw XCTSkip("this emovox was built without Open MPI (EMOVOX_MPI=0 or libopenmpi-dev missing)") }
        XCTAssertEqual(mpi.status, 0, mpi.output)
        XCTAssertTrue(mpi.output.contains("2 rank(s) × 1 micro-batch(es)"), mpi.output)

        // Bitwise identical weights on both ranks after each of the 4 steps (2 epochs × 2 batches), and identical BN
        // running statistics once averaged at the end of each epoch (each rank saw other micro-batches before).
        let sums = try (0..<2).map { try String(contentsOfFile: d + "/mpi/sum.rank\($0)", encoding: .utf8) }
        let lines = sums[0].split(separator: "\n").map { $0.split(separator: ",") }
        XCTAssertEqual(lines.filter { $0[1] != "bn" }.count, 4, sums[0])
        XCTAssertEqual(lines.filter { $0[1] == "bn" }.count, 2, sums[0])
        XCTAssertEqual(sums[0], sums[1])
        XCTAssertFalse(FileManager.default.fileExists(atPath: d + "/single/sum.rank1"))
        XCTAssertEqual(Set(lines.filter { $0[1] != "bn" }.map { $0[2] }).count, 4, "every step changes the weights")

        // The same trainable weights as one process with two micro-batches.
        let a = try Safetensors.read(d + "/single/student.safetensors").tensors
        let b = try Safetensors.read(d + "/mpi/student.safetensors").tensors
        XCTAssertEqual(Set(a.keys), Set(b.keys))
        var worst: Float = 0, compared = 0
        for (name, t) in a where !name.contains("running_") && !name.contains("num_batches") {
            let u = try XCTUnwrap(b[name])
            XCTAssertEqual(t.shape, u.shape, name)
            for i in 0..<t.count { worst = max(worst, abs(t.data[i] - u.data[i])) }
            compared += 1
        }
        XCTAssertGreaterThan(compared, 10)
        XCTAssertLessThanOrEqual(worst, 1e-5, "largest weight difference between 2 ranks and 2 micro-batches")
        // Only rank 0 wrote the log; its train loss matches the single process's.
        let logA = try String(contentsOfFile: d + "/single/epochs.csv", encoding: .utf8).split(separator: "\n").dropFirst()
        let logB = try String(contentsOfFile: d + "/mpi/epochs.csv", encoding: .utf8).split(separator: "\n").dropFirst()
        XCTAssertEqual(logA.count, 2); XCTAssertEqual(logB.count, 2)
        for (x, y) in zip(logA, logB) {
            let lx = Float(x.split(separator: ",")[2])!, ly = Float(y.split(separator: ",")[2])!
            XCTAssertEqual(lx, ly, accuracy: 1e-5)
            XCTAssertFalse(y.split(separator: ",")[3].isEmpty, "held-out loss on rank 0")
        }
    }
}
