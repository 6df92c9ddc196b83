import Foundation
import CBLAS

/// Row-major single-precision GEMM: C = alpha · op(A) · op(B) + beta · C, with op(X) = Xᵀ when `trans*`.
/// A is M×K after op, B is K×N after op, C is M×N; lda/ldb/ldc are row strides of the stored matrices.
///
/// OpenBLAS runs single-threaded; large products are split into column (or row) blocks over our own
/// threads instead. OpenBLAS's pool busy-waits (sched_yield) between calls, which fights with the
/// elementwise work we run in between; one pool for everything keeps both cores busy with real work.
public func sgemm(transA: Bool = false, transB: Bool = false, m: Int, n: Int, k: Int,
                  alpha: Float = 1, a: UnsafePointer<Float>, lda: Int,
                  b: UnsafePointer<Float>, ldb: Int,
                  beta: Float = 0, c: UnsafeMutablePointer<Float>, ldc: Int) {
    BLASInfo.configureOnce()
    let parts = Threads.available
    let flops = m * n * k
    if parts <= 1 || flops < 1 << 20 || (n < 64 && m < 64) {
        sgemmSerial(transA: transA, transB: transB, m: m, n: n, k: k, alpha: alpha, a: a, lda: lda, b: b, ldb: ldb, beta: beta, c: c, ldc: ldc)
        return
    }
    if n >= m {
        DispatchQueue.concurrentPerform(iterations: parts) { p in
            let j0 = n * p / parts, j1 = n * (p + 1) / parts
            guard j1 > j0 else { return }
            sgemmSerial(transA: transA, transB: transB, m: m, n: j1 - j0, k: k, alpha: alpha, a: a, lda: lda,
                        b: transB ? b + j0 * ldb : b + j0, ldb: ldb, beta: beta, c: c + j0, ldc: ldc)
        }
    } else {
        DispatchQueue.concurrentPerform(iterations: parts) { p in
            let i0 = m * p / parts, i1 = m * (p + 1) / parts
            guard i1 > i0 else { return }
            sgemmSerial(transA: transA, transB: transB, m: i1 - i0, n: n, k: k, alpha: alpha,
                        a: transA ? a + i0 : a + i0 * lda, lda: lda, b: b, ldb: ldb, beta: beta, c: c + i0 * ldc, ldc: ldc)
        }
    }
}

@inline(__always)
public func sgemmSerial(transA: Bool = false, transB: Bool = false, m: Int, n: Int, k: Int,
                        alpha: Float = 1, a: UnsafePointer<Float>, lda: Int,
                        b: UnsafePointer<Float>, ldb: Int,
                        beta: Float = 0, c: UnsafeMutablePointer<Float>, ldc: Int) {
    cblas_sgemm(CblasRowMajor, transA ? CblasTrans : CblasNoTrans, transB ? CblasTrans : CblasNoTrans,
                Int32(m), Int32(n), Int32(k), alpha, a, Int32(lda), b, Int32(ldb), beta, c, Int32(ldc))
}

public enum BLASInfo {
    /// The OpenBLAS kernel in use (e.g. "Zen", "Haswell"): benchmarks report it beside GFLOP/s.
    public static var coreName: String { String(cString: openblas_get_corename()) }
    public static var config: String { String(cString: openblas_get_config()) }

    private static let configured: Bool = {
        openblas_set_num_threads(1)
        return true
    }()

    public static func configureOnce() { _ = configured }

    /// OpenBLAS with its own threads (for the bench's reference sgemm rate only).
    public static func withOpenBLASThreads<T>(_ n: Int, _ body: () -> T) -> T {
        configureOnce()
        openblas_set_num_threads(Int32(n))
        defer { openblas_set_num_threads(1) }
        return body()
    }
}
