import Foundation
import EmovoxCore
import EmovoxUtilities

/// Data-parallel distillation. A global batch (`config.batchSize` clips of the epoch order) is cut into
/// ranks × microBatches equal micro-batches; rank r computes micro-batches r·K … r·K+K−1 one after another, and the
/// sum of all micro-batch gradients (one allreduce of a flat buffer) divided by their count is the step's gradient.
/// So `mpirun -np 2` equals one process with `--micro-batches 2` (BN normalises each micro-batch by its own statistics
/// in both). The epoch order is cut to a multiple of ranks × microBatches, so every rank runs the same number of steps.
extension DistillationTrainer {
    var microBatchCount: Int { communicator.size * microBatches }

    /// Checks that a global batch splits into equal micro-batches (cheap: callers run it before loading data).
    public func checkBatchSplit() throws {
        guard microBatches >= 1 else { throw EmovoxError("micro-batches must be at least 1 (got \(microBatches))") }
        guard config.batchSize % microBatchCount == 0 else {
            throw EmovoxError("the batch size \(config.batchSize) must divide by ranks × micro-batches = \(communicator.size) × \(microBatches)")
        }
    }

    /// Clips used per epoch (the order cut to a multiple of ranks × micro-batches) and the number of steps.
    func dataParallelLayout(clips: Int) throws -> (usable: Int, batches: Int) {
        try checkBatchSplit()
        let parts = microBatchCount
        let usable = clips - clips % parts
        guard usable > 0 else {
            throw EmovoxError("\(clips) training clips cannot fill \(parts) micro-batches (ranks × micro-batches)")
        }
        return (usable, (usable + config.batchSize - 1) / config.batchSize)
    }

    /// This rank's micro-batches of global batch `batch`, as positions in the epoch order. The last batch may be
    /// shorter than `batchSize` but still splits into equal micro-batches.
    func microBatchPositions(batch: Int, usable: Int) -> [Range<Int>] {
        let start = batch * config.batchSize
        let size = (min(start + config.batchSize, usable) - start) / microBatchCount
        return (0..<microBatches).map { k in
            let first = start + (communicator.rank * microBatches + k) * size
            return first..<(first + size)
        }
    }

    var gradientCount: Int { model.network.parameters.reduce(0) { $0 + $1.value.count } }

    /// Adds every parameter's gradient to the flat buffer (same order on every rank).
    func addGradients(into flat: inout [Float]) {
        var offset = 0
        for p in model.network.parameters {
            for i in 0..<p.grad.count { flat[offset + i] += p.grad.data[i] }
            offset += p.grad.count
        }
    }

    /// Sums the micro-batch gradients over ranks (one allreduce), divides by the micro-batch count and hands them
    /// back to the parameters for `optimizer.step()`.
    func averageGradients(_ flat: inout [Float]) throws {
        try communicator.allreduceSum(&flat)
        let scale = 1 / Float(microBatchCount)
        var offset = 0
        for p in model.network.parameters {
            for i in 0..<p.grad.count { p.grad.data[i] = flat[offset + i] * scale }
            offset += p.grad.count
        }
    }

    /// Loss sum, clip count and face-less crops over all ranks (for the epoch record).
    func epochTotals(lossSum: Double, seen: Int, noFace: Int) throws -> (lossSum: Double, seen: Int, noFace: Int) {
        guard communicator.size > 1 else { return (lossSum, seen, noFace) }
        var v = [Float(lossSum), Float(seen), Float(noFace)]
        try communicator.allreduceSum(&v)
        return (Double(v[0]), Int(v[1].rounded()), Int(v[2].rounded()))
    }

    /// BN running statistics drift apart between ranks (each sees its own micro-batches): their mean over ranks is
    /// what the held-out loss and the checkpoint use, and every rank continues from it.
    func averageBatchNormStatistics() throws {
        guard communicator.size > 1 else { return }
        let buffers = model.network.namedBuffers
        var flat = buffers.flatMap { $0.3.data }
        try communicator.allreduceAverage(&flat)
        try scatter(flat, into: buffers)
    }

    /// Every rank starts from rank 0's weights, BN statistics and optimiser state (also after `--resume`, when
    /// each rank read the run folder: it must be on a shared filesystem), and from the same epoch.
    func synchroniseRanks() throws {
        guard communicator.size > 1, !ranksSynchronised else { return }
        var epochs = [Float(epochsDone)]
        try communicator.broadcast(&epochs, root: 0)
        guard Int(epochs[0]) == epochsDone else {
            throw EmovoxError("rank \(communicator.rank) found \(epochsDone) finished epochs, rank 0 \(Int(epochs[0])): the run folder must be on a filesystem every rank sees", file: runDir)
        }
        let parameters = model.network.parameters, buffers = model.network.namedBuffers
        let momentumKeys = optimizer.state().keys.sorted()
        var momentum = optimizer.state()
        var flat = parameters.flatMap { $0.value.data } + buffers.flatMap { $0.3.data } + momentumKeys.flatMap { momentum[$0]!.data }
        try communicator.broadcast(&flat, root: 0)
        var offset = 0
        for p in parameters {
            p.value.data = Array(flat[offset..<(offset + p.value.count)])
            offset += p.value.count
        }
        try scatter(Array(flat[offset...]), into: buffers)
        offset += buffers.reduce(0) { $0 + $1.3.count }
        for k in momentumKeys {
            let t = momentum[k]!
            momentum[k] = Tensor(shape: t.shape, data: Array(flat[offset..<(offset + t.count)]))
            offset += t.count
        }
        try optimizer.load(state: momentum)
        // A mid-epoch checkpoint holds the partial sums over all ranks: rank 0 carries them on, the others restart at 0.
        if communicator.rank != 0 { partial = EpochProgress() }
        ranksSynchronised = true
    }

    /// Writes a flat buffer back into the network's buffers (the layout of `namedBuffers`).
    private func scatter(_ flat: [Float], into buffers: [(String, Layer, String, Tensor)]) throws {
        var offset = 0
        for (_, layer, local, t) in buffers {
            try layer.setBuffer(local, Tensor(shape: t.shape, data: Array(flat[offset..<(offset + t.count)])))
            offset += t.count
        }
    }

    /// Debug output for the MPI oracle: FNV-1a over the bit patterns of all parameters after a step
    /// (`epoch,batch,hash`), or of the BN running statistics once they are averaged at the end of an epoch (`epoch,bn,hash`).
    func appendWeightChecksum(epoch: Int, batch: Int? = nil) throws {
        guard let weightChecksumsPath else { return }
        let tensors = batch == nil ? model.network.namedBuffers.map(\.3) : model.network.parameters.map(\.value)
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for t in tensors {
            for v in t.data { hash = (hash ^ UInt64(v.bitPattern)) &* 0x0000_0100_0000_01b3 }
        }
        let path = "\(weightChecksumsPath).rank\(communicator.rank)"
        if !FileManager.default.fileExists(atPath: path) { _ = FileManager.default.createFile(atPath: path, contents: nil) }
        guard let h = FileHandle(forWritingAtPath: path) else { throw EmovoxError("cannot write", file: path) }
        defer { try? h.close() }
        h.seekToEndOfFile()
        h.write(Data("\(epoch + 1),\(batch.map { String($0 + 1) } ?? "bn"),\(String(format: "%016llx", hash))\n".utf8))
    }
}
