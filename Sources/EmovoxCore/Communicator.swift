import Foundation

/// The collective operations data-parallel training needs, over flat float buffers. The trainer sees only this
/// protocol, so training code does not depend on MPI: `SingleProcess` is the default, `EmovoxMPI` adds Open MPI.
public protocol Communicator: AnyObject {
    var rank: Int { get }
    var size: Int { get }
    /// Element-wise sum over all ranks, in place; every rank ends with the same result.
    func allreduceSum(_ buffer: inout [Float]) throws
    /// Overwrites `buffer` on every rank with root's (same length everywhere).
    func broadcast(_ buffer: inout [Float], root: Int) throws
    func barrier() throws
}

extension Communicator {
    /// Element-wise mean over all ranks, in place (sum, then one scale, so every rank rounds the same way).
    public func allreduceAverage(_ buffer: inout [Float]) throws {
        guard size > 1 else { return }
        try allreduceSum(&buffer)
        let scale = 1 / Float(size)
        for i in buffer.indices { buffer[i] *= scale }
    }
}

/// One process: collectives are identities.
public final class SingleProcess: Communicator {
    public init() {}
    public var rank: Int { 0 }
    public var size: Int { 1 }
    public func allreduceSum(_ buffer: inout [Float]) throws {}
    public func broadcast(_ buffer: inout [Float], root: Int) throws {}
    public func barrier() throws {}
}

extension SingleProcess {
    /// True when a launcher (mpirun/mpiexec, or srun with PMIx/PMI) started this process as one rank of a job.
    public static var launchedByMPILauncher: Bool {
        let env = ProcessInfo.processInfo.environment
        return ["OMPI_COMM_WORLD_SIZE", "PMIX_RANK", "PMI_RANK"].contains { env[$0] != nil }
    }

    /// Ranks of this job on this machine (Open MPI, Slurm), for sharing the cores between them; 1 when unknown.
    public static var localRanks: Int {
        let env = ProcessInfo.processInfo.environment
        return Int(env["OMPI_COMM_WORLD_LOCAL_SIZE"] ?? env["SLURM_NTASKS_PER_NODE"] ?? "") ?? 1
    }
}
