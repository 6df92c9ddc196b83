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
}
