import Glibc

/// The bytes of one stream that the kernel would not take yet (its backlog under backpressure).
///
/// A single contiguous buffer (so one `send` drains it), allocated on first use and freed as soon
/// as it empties: an idle connection holds no output memory at all. Owned by one stream, which
/// must call `release()` before it goes away.
struct ByteQueue {
    private var storage: UnsafeMutableRawPointer? = nil
    private(set) var capacity = 0
    private var head = 0
    private var tail = 0

    /// Bytes waiting.
    var count: Int { tail - head }
    /// Whether nothing is waiting.
    var isEmpty: Bool { head == tail }

    /// The waiting bytes, oldest first.
    var readable: UnsafeRawBufferPointer {
        guard let storage else { return UnsafeRawBufferPointer(start: nil, count: 0) }
        return UnsafeRawBufferPointer(start: storage + head, count: tail - head)
    }

    /// Appends a copy of `bytes`.
    mutating func append(_ bytes: UnsafeRawBufferPointer) {
        guard let source = bytes.baseAddress, bytes.count > 0 else { return }
        reserve(bytes.count)
        (storage! + tail).copyMemory(from: source, byteCount: bytes.count)
        tail += bytes.count
    }

    /// Drops the `byteCount` oldest bytes (they were sent); frees the buffer once empty.
    mutating func consume(_ byteCount: Int) {
        head += min(byteCount, count)
        if head == tail { release() }
    }

    /// Frees the buffer and forgets its contents.
    mutating func release() {
        storage?.deallocate()
        storage = nil
        capacity = 0
        head = 0
        tail = 0
    }

    private mutating func reserve(_ extra: Int) {
        if tail + extra <= capacity { return }
        let live = count
        if live + extra <= capacity, let storage {
            // Enough room once the sent prefix is gone: slide the live bytes to the front.
            storage.copyMemory(from: storage + head, byteCount: live)
            head = 0
            tail = live
            return
        }
        let newCapacity = max(4096, capacity * 2, live + extra)
        let newStorage = UnsafeMutableRawPointer.allocate(byteCount: newCapacity, alignment: 16)
        if let storage {
            newStorage.copyMemory(from: storage + head, byteCount: live)
            storage.deallocate()
        }
        storage = newStorage
        capacity = newCapacity
        head = 0
        tail = live
    }
}
