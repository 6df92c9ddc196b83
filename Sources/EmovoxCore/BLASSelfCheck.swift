import Foundation
import EmovoxKernels

// The sgemm lives in EmovoxKernels; its self-check draws random matrices with SeededRNG, which lives here.
extension BLASInfo {
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
}
