import Foundation
import CBLAS

/// Thread settings for the whole process: elementwise/im2col work and OpenBLAS use the same count.
public enum Threads {
    nonisolated(unsafe) public private(set) static var count: Int = max(1, ProcessInfo.processInfo.activeProcessorCount)

    /// Sets the thread count for our kernels (GEMMs are split over the same threads; OpenBLAS stays serial).
    public static func set(_ n: Int) {
        count = max(1, n)
        BLASInfo.configureOnce()
    }

    /// Runs `body(chunkIndex, range)` over `0..<n` split into at most `Threads.count` chunks.
    /// Small jobs run inline: a thread hop costs more than a few thousand flops.
    public static func parallelFor(_ n: Int, minChunk: Int = 1, _ body: (Range<Int>) -> Void) {
        let chunks = min(count, max(1, n / max(minChunk, 1)))
        if chunks <= 1 || n <= 1 {
            body(0..<n)
            return
        }
        DispatchQueue.concurrentPerform(iterations: chunks) { c in
            let lo = n * c / chunks, hi = n * (c + 1) / chunks
            if lo < hi { body(lo..<hi) }
        }
    }
}
