import Testing
@testable import SwiftWSTransport

/// A stream's backlog keeps the bytes the kernel refused, in order, through partial sends,
/// slides and growth, and holds no buffer at all while empty (it is one pointer in every stream).
@Suite("Byte queue")
struct ByteQueueTests {
    func append(_ queue: inout ByteQueue, _ bytes: [UInt8]) {
        bytes.withUnsafeBytes { queue.append($0) }
    }

    @Test func keepsBytesInOrderAndHasNoBufferWhileEmpty() {
        var queue = ByteQueue()
        #expect(queue.isEmpty && queue.count == 0 && queue.capacity == 0 && queue.readable.isEmpty)
        append(&queue, [])
        #expect(queue.isEmpty && queue.capacity == 0, "an empty append made a buffer")
        append(&queue, Array(0..<100))
        append(&queue, Array(100..<200))
        #expect(!queue.isEmpty && queue.count == 200 && queue.capacity >= 200)
        #expect(Array(queue.readable) == (0..<200).map { UInt8($0) })
        queue.consume(150)  // a partial send
        #expect(Array(queue.readable) == (150..<200).map { UInt8($0) })
        queue.consume(50)
        #expect(queue.isEmpty && queue.count == 0 && queue.capacity == 0, "an emptied queue kept its buffer")
    }

    @Test func slidesAndGrowsWithoutLosingBytes() {
        var queue = ByteQueue()
        let first = (0..<4000).map { UInt8(truncatingIfNeeded: $0) }
        append(&queue, first)
        let capacity = queue.capacity
        queue.consume(3000)
        // Fits once the 3,000 sent bytes are gone: slid to the front, same buffer size.
        let second = (0..<2000).map { UInt8(truncatingIfNeeded: $0 &* 7) }
        append(&queue, second)
        #expect(queue.capacity == capacity)
        #expect(Array(queue.readable) == Array(first[3000...]) + second)
        // Does not fit: a larger buffer, same bytes.
        let third = [UInt8](repeating: 0xAB, count: 3 * capacity)
        append(&queue, third)
        #expect(queue.capacity >= 3000 + 3 * capacity)
        #expect(Array(queue.readable) == Array(first[3000...]) + second + third)
        queue.consume(queue.count + 10)  // more than waits: everything, no more
        #expect(queue.isEmpty && queue.capacity == 0)
        queue.release()
    }
}
