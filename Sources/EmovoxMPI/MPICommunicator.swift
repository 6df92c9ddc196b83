import Foundation
import CMPI
import EmovoxCore
import EmovoxUtilities

/// `Communicator` over Open MPI's MPI_COMM_WORLD. MPI is initialised once per process and finalised by `finalize()`;
/// every call is made from the main thread (MPI_THREAD_FUNNELED).
public final class MPICommunicator: Communicator {
    public let rank: Int
    public let size: Int

    public init() throws {
        if emovox_mpi_initialized() == 0 { try Self.check(emovox_mpi_init(), "MPI_Init_thread") }
        var r: Int32 = 0, s: Int32 = 0
        try Self.check(emovox_mpi_rank(&r), "MPI_Comm_rank")
        try Self.check(emovox_mpi_size(&s), "MPI_Comm_size")
        rank = Int(r); size = Int(s)
    }

    public func allreduceSum(_ buffer: inout [Float]) throws {
        try Self.chunked(&buffer) { try Self.check(emovox_mpi_allreduce_sum_float($0, $1), "MPI_Allreduce") }
    }

    public func broadcast(_ buffer: inout [Float], root: Int) throws {
        try Self.chunked(&buffer) { try Self.check(emovox_mpi_bcast_float($0, $1, Int32(root)), "MPI_Bcast") }
    }

    public func barrier() throws { try Self.check(emovox_mpi_barrier(), "MPI_Barrier") }

    /// Ends MPI for this process (idempotent); call on the way out, also after an error on this rank.
    public func finalize() {
        if emovox_mpi_finalized() == 0 { _ = emovox_mpi_finalize() }
    }

    /// Stops every rank of the job: a rank that fails alone would leave the others waiting in a collective.
    public func abort(code: Int32 = 1) -> Never {
        _ = emovox_mpi_abort(code)
        exit(code)
    }

    /// MPI counts are C ints: buffers beyond 2^30 floats go in pieces.
    static func chunked(_ buffer: inout [Float], _ body: (UnsafeMutablePointer<Float>, Int32) throws -> Void) throws {
        let piece = 1 << 30
        try buffer.withUnsafeMutableBufferPointer { b in
            guard let base = b.baseAddress else { return }
            for start in stride(from: 0, to: b.count, by: piece) { try body(base + start, Int32(min(piece, b.count - start))) }
        }
    }

    static func check(_ code: Int32, _ call: String) throws {
        guard code != 0 else { return }  // MPI_SUCCESS
        var text = [CChar](repeating: 0, count: 512), length: Int32 = 0
        _ = emovox_mpi_error_string(code, &text, &length)
        throw EmovoxError("\(call) failed: \(String(cString: text))", file: "MPI")
    }
}
