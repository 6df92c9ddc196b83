import Foundation
import EmovoxCore
import EmovoxUtilities
#if canImport(EmovoxMPI)
import EmovoxMPI
#endif

/// How `distill` runs as one rank of an mpirun/srun job: the communicator, quiet ranks, and a failure on any
/// rank stopping the whole job (the others would otherwise wait in a collective forever).
struct DataParallelLaunch {
    let communicator: Communicator
    /// Standard error as it was before a non-zero rank silenced it: where that rank's own failure still goes.
    private let errorOutput: Int32

    init() throws {
        #if canImport(EmovoxMPI)
        communicator = SingleProcess.launchedByMPILauncher ? try MPICommunicator() : SingleProcess()
        #else
        if SingleProcess.launchedByMPILauncher {
            throw EmovoxError("this emovox was built without Open MPI (EMOVOX_MPI=0, or libopenmpi-dev missing at build time): it cannot run as one rank of an mpirun/srun job")
        }
        communicator = SingleProcess()
        #endif
        errorOutput = dup(2)
        if communicator.rank != 0 {  // only rank 0 logs and shows progress
            let null = open("/dev/null", O_WRONLY)
            if null >= 0 { dup2(null, 2); close(null) }
        }
    }

    var isLeader: Bool { communicator.rank == 0 }

    /// Runs `body`; on success finalises MPI, on failure reports it (naming the rank) and stops every rank.
    func run(_ body: () throws -> Void) throws {
        do { try body() } catch {
            guard communicator.size > 1 else { finish(); throw error }
            let message = "emovox distill, rank \(communicator.rank) of \(communicator.size): \(error)\n"
            _ = message.withCString { write(errorOutput, $0, strlen($0)) }
            #if canImport(EmovoxMPI)
            (communicator as? MPICommunicator)?.abort()
            #endif
            throw error
        }
        finish()
    }

    private func finish() {
        #if canImport(EmovoxMPI)
        (communicator as? MPICommunicator)?.finalize()
        #endif
    }
}
