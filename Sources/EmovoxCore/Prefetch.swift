import Foundation
import EmovoxKernels

/// Produces `make(0)`, `make(1)`, … `make(count - 1)` in order on one background thread, at most `depth` ahead
/// of the consumer (a bounded queue), so preparing item k + 1 overlaps the consumer's work on item k.
/// `depth` 0 makes each item in line on `next()`. The producer runs its kernels serially (one core): the
/// consumer's own parallel kernels keep the rest. A thrown error is handed to the consumer in order.
public final class Prefetcher<T>: @unchecked Sendable {
    private let condition = NSCondition()
    private var buffer: [Result<T, Error>] = []
    private var cancelled = false, producerDone = false
    private var consumed = 0
    private let count: Int, depth: Int
    private let make: (Int) throws -> T

    public init(count: Int, depth: Int, _ make: @escaping (Int) throws -> T) {
        self.count = count; self.depth = depth; self.make = make
        guard depth > 0, count > 0 else { producerDone = true; return }
        let thread = Thread { [self] in produce() }
        thread.stackSize = 8 << 20
        thread.start()
    }

    private func produce() {
        for i in 0..<count {
            condition.lock()
            while buffer.count >= depth && !cancelled { condition.wait() }
            let stop = cancelled
            condition.unlock()
            if stop { break }
            let r = Result { try Threads.serially { try make(i) } }
            condition.lock()
            buffer.append(r)
            condition.broadcast()
            condition.unlock()
            if case .failure = r { break }
        }
        condition.lock()
        producerDone = true
        condition.broadcast()
        condition.unlock()
    }

    /// The next item, or nil after the last.
    public func next() throws -> T? {
        guard consumed < count else { return nil }
        if depth == 0 { consumed += 1; return try make(consumed - 1) }
        condition.lock()
        while buffer.isEmpty && !producerDone { condition.wait() }
        guard !buffer.isEmpty else { condition.unlock(); return nil }
        let r = buffer.removeFirst()
        consumed += 1
        condition.broadcast()
        condition.unlock()
        return try r.get()
    }

    /// Stops the producer and waits for it, so nothing runs in the background after this returns.
    public func cancel() {
        condition.lock()
        cancelled = true
        condition.broadcast()
        while !producerDone { condition.wait() }
        condition.unlock()
    }

    deinit { cancel() }
}
