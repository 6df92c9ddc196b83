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

    /// Threads a kernel may use from here: 1 inside `serially` (the caller already split the work over threads),
    /// the count given to an enclosing `withCount`, else the process setting.
    public static var available: Int {
        if pthread_getspecific(serialKey) != nil { return 1 }
        if let n = pthread_getspecific(countKey) { return Int(bitPattern: n) }
        return count
    }

    private static func makeKey() -> pthread_key_t {
        var key = pthread_key_t()
        // Not inside precondition(): -Ounchecked builds would skip the call along with the check.
        let status = pthread_key_create(&key, nil)
        if status != 0 { fatalError("pthread_key_create failed (\(status))") }
        return key
    }
    private static let serialKey = makeKey(), countKey = makeKey()

    /// Runs `body` with the kernels it starts on this thread split over `n` threads, whatever the process setting:
    /// a caller (a test comparing thread counts, a benchmark) passes the count in instead of changing and restoring
    /// `count`, which other work in the process reads.
    public static func withCount<T>(_ n: Int, _ body: () throws -> T) rethrows -> T {
        let outer = pthread_getspecific(countKey)
        pthread_setspecific(countKey, UnsafeRawPointer(bitPattern: max(1, n)))
        defer { pthread_setspecific(countKey, outer) }
        return try body()
    }

    /// Runs `body` with every kernel on the calling thread: for batch-level parallelism, where each thread
    /// carries whole samples through a network whose layers are too small to split well.
    public static func serially<T>(_ body: () throws -> T) rethrows -> T {
        let outer = pthread_getspecific(serialKey)
        pthread_setspecific(serialKey, UnsafeRawPointer(bitPattern: 1))
        defer { pthread_setspecific(serialKey, outer) }
        return try body()
    }

    /// Runs `body(i)` for every i in `0..<n` on up to `Threads.available` threads, handing out indices one at a
    /// time: for items of uneven cost, or when one thread may be slowed, where fixed halves would leave a core idle.
    public static func forEachDynamic(_ n: Int, _ body: (Int) -> Void) {
        let workers = min(available, n)
        if workers <= 1 { for i in 0..<n { body(i) }; return }
        let lock = NSLock()
        var next = 0
        DispatchQueue.concurrentPerform(iterations: workers) { _ in
            while true {
                lock.lock(); let i = next; next += 1; lock.unlock()
                if i >= n { return }
                body(i)
            }
        }
    }

    /// Runs `body(range)` over `0..<n` split into at most `Threads.available` chunks.
    /// Small jobs run inline: a thread hop costs more than a few thousand flops.
    public static func parallelFor(_ n: Int, minChunk: Int = 1, _ body: (Range<Int>) -> Void) {
        let chunks = min(available, max(1, n / max(minChunk, 1)))
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

#if os(Linux)
@_silgen_name("mallopt") private func glibcMallopt(_ parameter: Int32, _ value: Int32) -> Int32
#endif

public enum Runtime {
    /// Keeps freed feature maps in the heap for reuse instead of returning them to the OS: glibc
    /// otherwise mmaps every block over 32 MB afresh, and each training step then pays page faults
    /// on hundreds of MB of first touches.
    public static func configureAllocator() {
        #if os(Linux)
        let M_TRIM_THRESHOLD: Int32 = -1, M_MMAP_MAX: Int32 = -4  // <malloc.h>
        _ = glibcMallopt(M_MMAP_MAX, 0)
        _ = glibcMallopt(M_TRIM_THRESHOLD, Int32.max)
        #endif
    }
}
