import XCTest
@testable import EmovoxCore

final class PrefetchTests: XCTestCase {
    struct Boom: Error {}

    /// Items come out in order whatever the depth; a producer error reaches the consumer at its place in the order;
    /// cancelling mid-way stops the producer (nothing made after cancel returns).
    func testPrefetcherKeepsOrderPassesErrorsAndCancels() throws {
        for depth in [0, 1, 3] {
            let p = Prefetcher(count: 7, depth: depth) { i in i * i }
            var got: [Int] = []
            while let v = try p.next() { got.append(v) }
            XCTAssertEqual(got, (0..<7).map { $0 * $0 }, "depth \(depth)")
        }
        let failing = Prefetcher(count: 5, depth: 2) { i -> Int in if i == 2 { throw Boom() }; return i }
        XCTAssertEqual(try failing.next(), 0)
        XCTAssertEqual(try failing.next(), 1)
        XCTAssertThrowsError(try failing.next()) { XCTAssertTrue($0 is Boom) }
        failing.cancel()

        let lock = NSLock()
        var made = 0
        let long = Prefetcher(count: 1000, depth: 2) { i -> Int in lock.lock(); made += 1; lock.unlock(); return i }
        XCTAssertEqual(try long.next(), 0)
        long.cancel()
        lock.lock(); let afterCancel = made; lock.unlock()
        XCTAssertLessThanOrEqual(afterCancel, 4)  // the one consumed, up to `depth` buffered, one in the making
        Thread.sleep(forTimeInterval: 0.05)
        lock.lock(); XCTAssertEqual(made, afterCancel); lock.unlock()
    }
}
