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

    /// Checks this process's sgemm (the OpenBLAS kernel picked for this CPU, and our split over threads)
    /// against a double-precision product on the shapes and transposes the convs use, odd sizes included.
    /// The error of each element is relative to Σ|a||b| + |β·c| (float rounding grows with that sum), so
    /// correct kernels give ~1e-7 and a broken one ~1. Benchmarks run this before trusting a kernel.
    public static func selfCheck() -> (maxError: Double, cases: Int, passed: Bool) {
        var rng = SeededRNG(seed: 5)
        let shapes = [(7, 16, 1152), (32, 49, 20001), (96, 49, 3001), (257, 130, 67), (1, 1000, 300), (64, 64, 64), (256, 300, 2400), (3, 5, 2), (600, 17, 9)]
        var worst = 0.0, cases = 0
        for (m, n, k) in shapes { for transA in [false, true] { for transB in [false, true] { for threaded in [false, true] {
            let a = (0..<(m * k)).map { _ in rng.normal() }, b = (0..<(k * n)).map { _ in rng.normal() }
            let c0 = (0..<(m * n)).map { _ in rng.normal() }
            let beta: Float = cases % 2 == 0 ? 1 : 0
            let (lda, ldb) = (transA ? m : k, transB ? k : n)
            var c = c0
            a.withUnsafeBufferPointer { ap in b.withUnsafeBufferPointer { bp in c.withUnsafeMutableBufferPointer { cp in
                if threaded {
                    sgemm(transA: transA, transB: transB, m: m, n: n, k: k, a: ap.baseAddress!, lda: lda, b: bp.baseAddress!, ldb: ldb,
                          beta: beta, c: cp.baseAddress!, ldc: n)
                } else {
                    configureOnce()
                    sgemmSerial(transA: transA, transB: transB, m: m, n: n, k: k, a: ap.baseAddress!, lda: lda, b: bp.baseAddress!, ldb: ldb,
                                beta: beta, c: cp.baseAddress!, ldc: n)
                }
            } } }
            for i in 0..<m { for j in 0..<n {
                var exact = Double(beta) * Double(c0[i * n + j]), scale = abs(exact)
                for p in 0..<k {
                    let x = Double(transA ? a[p * m + i] : a[i * k + p]), y = Double(transB ? b[j * k + p] : b[p * n + j])
                    exact += x * y; scale += abs(x * y)
                }
                let e = abs(Double(c[i * n + j]) - exact) / max(scale, .leastNormalMagnitude)
                worst = e.isNaN ? .infinity : max(worst, e)
            } }
            cases += 1
        } } } }
        return (worst, cases, worst < 1e-5)
    }

    /// OpenBLAS with its own threads (for the bench's reference sgemm rate only).
    public static func withOpenBLASThreads<T>(_ n: Int, _ body: () -> T) -> T {
        configureOnce()
        openblas_set_num_threads(Int32(n))
        defer { openblas_set_num_threads(1) }
        return body()
    }
}
