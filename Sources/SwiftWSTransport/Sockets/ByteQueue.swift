import Glibc

/// The bytes of one stream that the kernel would not take yet (its backlog under backpressure).
///
/// A single contiguous buffer (so one `send` drains it), allocated on first use and freed as soon
/// as it empties: an idle connection holds no output memory at all. The buffer's bookkeeping
/// (capacity, head, tail) lives at the start of the buffer itself, so the queue is one pointer
/// inside its stream (8 bytes instead of 32 on every idle connection, issue 16), and "empty" is
/// "no buffer". Owned by one stream, which must call `release()` before it goes away.
struct ByteQueue {
    /// The bookkeeping at the start of the buffer; the bytes follow at `dataOffset`.
    private struct Header {
        var capacity: Int
        var head: Int
        var tail: Int
    }

    /// Where the bytes start in the buffer (after the header, 16-byte aligned).
    private static let dataOffset = 32

    /// The buffer (header, then bytes), nil while nothing waits: it exists only while `count > 0`.
    private var storage: UnsafeMutableRawPointer? = nil

    private var header: UnsafeMutablePointer<Header>? { storage?.assumingMemoryBound(to: Header.self) }

    /// Bytes the buffer can hold (0 when there is none).
    var capacity: Int { header?.pointee.capacity ?? 0 }

    /// Bytes waiting.
    var count: Int {
        guard let header else { return 0 }
        return header.pointee.tail - header.pointee.head
    }

    /// Whether nothing is waiting.
    var isEmpty: Bool { storage == nil }

    /// The waiting bytes, oldest first.
    var readable: UnsafeRawBufferPointer {
        guard let storage, let header else { return UnsafeRawBufferPointer(start: nil, count: 0) }
        return UnsafeRawBufferPointer(start: storage + ByteQueue.dataOffset + header.pointee.head,
                                      count: header.pointee.tail - header.pointee.head)
    }

    /// Appends a copy of `bytes`.
    mutating func append(_ bytes: UnsafeRawBufferPointer) {
        guard let source = bytes.baseAddress, bytes.count > 0 else { return }
        let header = reserve(bytes.count)
        (storage! + ByteQueue.dataOffset + header.pointee.tail).copyMemory(from: source, byteCount: bytes.count)
        header.pointee.tail += bytes.count
    }

    /// Drops the `byteCount` oldest bytes (they were sent); frees the buffer once empty.
    mutating func consume(_ byteCount: Int) {
        guard let header else { return }
        header.pointee.head += min(byteCount, header.pointee.tail - header.pointee.head)
        if header.pointee.head == header.pointee.tail { release() }
    }

    /// Frees the buffer and forgets its contents.
    mutating func release() {
        storage?.deallocate()
        storage = nil
    }

    /// Room for `extra` more bytes after the tail; returns the (possibly new) buffer's header.
    private mutating func reserve(_ extra: Int) -> UnsafeMutablePointer<Header> {
        let old = header
        let capacity = old?.pointee.capacity ?? 0
        let head = old?.pointee.head ?? 0, tail = old?.pointee.tail ?? 0
        if let old, tail + extra <= capacity { return old }
        let live = tail - head
        if let old, let storage, live + extra <= capacity {
            // Enough room once the sent prefix is gone: slide the live bytes to the front.
            let data = storage + ByteQueue.dataOffset
            data.copyMemory(from: data + head, byteCount: live)
            old.pointee.head = 0
            old.pointee.tail = live
            return old
        }
        let newCapacity = max(4096, capacity * 2, live + extra)
        let newStorage = UnsafeMutableRawPointer.allocate(byteCount: ByteQueue.dataOffset + newCapacity, alignment: 16)
        if let storage {
            (newStorage + ByteQueue.dataOffset).copyMemory(from: storage + ByteQueue.dataOffset + head, byteCount: live)
            storage.deallocate()
        }
        storage = newStorage
        let header = newStorage.bindMemory(to: Header.self, capacity: 1)
        header.initialize(to: Header(capacity: newCapacity, head: 0, tail: live))
        return header
    }
}
