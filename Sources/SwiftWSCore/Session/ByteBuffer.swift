import Glibc

/// A growable byte buffer with manual storage, for the session's reassembly, control-frame and
/// output buffers.
///
/// Why not `[UInt8]`: appending from raw pointers, handing out raw views and consuming from the
/// front must not go through copy-on-write checks or bounds checks on the per-frame path, and the
/// output buffer needs a cheap "consume from the front". Owned by exactly one `Session`, which
/// calls `deallocate()` in its `deinit`; never copied after it holds storage.
struct ByteBuffer {
    private(set) var storage: UnsafeMutableRawPointer? = nil
    private(set) var capacity = 0
    private var start = 0
    private var end = 0

    /// Bytes held.
    var count: Int { end &- start }
    var isEmpty: Bool { end == start }

    /// A view of the bytes held, valid until the next mutation.
    var bytes: UnsafeRawBufferPointer {
        UnsafeRawBufferPointer(start: storage.map { $0 + start }, count: end &- start)
    }

    /// A mutable view of the bytes held, valid until the next mutation.
    var mutableBytes: UnsafeMutableRawBufferPointer {
        UnsafeMutableRawBufferPointer(start: storage.map { $0 + start }, count: end &- start)
    }

    /// Room for `extra` more bytes at the end (moving the bytes to the front or growing).
    private mutating func reserveTail(_ extra: Int) {
        if capacity &- end >= extra { return }
        if start > 0 {
            // Compact: the consumed front is free space.
            if let storage, end > start { memmove(storage, storage + start, end &- start) }
            end &-= start
            start = 0
            if capacity &- end >= extra { return }
        }
        let (needed, overflow) = end.addingReportingOverflow(extra)
        precondition(!overflow, "buffer size overflow")
        let newCapacity = Swift.max(needed, capacity &* 2, 64)
        guard let grown = realloc(storage, newCapacity) else { fatalError("out of memory") }
        storage = grown
        capacity = newCapacity
    }

    /// Appends `bytes`.
    /// Room for `total` bytes in all, grown at once (to `total`, or double the capacity if that is
    /// more, so that many small reservations stay linear): for a size known in advance, so that
    /// the bytes gathered are not moved again by the growths that appending piece by piece needs.
    mutating func reserveCapacity(_ total: Int) {
        if total > count { reserveTail(total &- count) }
    }

    mutating func append(_ bytes: UnsafeRawBufferPointer) {
        guard let source = bytes.baseAddress, !bytes.isEmpty else { return }
        reserveTail(bytes.count)
        (storage! + end).copyMemory(from: source, byteCount: bytes.count)
        end &+= bytes.count
    }

    /// Appends `count` uninitialised bytes and returns where they start, for the caller to fill
    /// before the next mutation.
    mutating func appendUninitialized(_ count: Int) -> UnsafeMutableRawPointer {
        reserveTail(Swift.max(count, 1))
        let destination = storage! + end
        end &+= count
        return destination
    }

    /// Drops `count` bytes from the front (clamped to what is held).
    mutating func consume(_ count: Int) {
        start &+= Swift.min(Swift.max(count, 0), end &- start)
        if start == end { start = 0; end = 0 }
    }

    /// Empties the buffer; keeps the storage unless it exceeds `retainedCapacity` bytes.
    mutating func removeAll(retainedCapacity: Int = .max) {
        start = 0
        end = 0
        if capacity > retainedCapacity { deallocate() }
    }

    /// Frees the storage (the buffer becomes empty and may be used again).
    mutating func deallocate() {
        free(storage)
        storage = nil
        capacity = 0
        start = 0
        end = 0
    }

    /// Gives up the storage without freeing it (the buffer becomes empty); nil if it had none.
    mutating func takeStorage() -> (storage: UnsafeMutableRawPointer, capacity: Int)? {
        guard let storage else { return nil }
        let taken = (storage, capacity)
        self.storage = nil
        capacity = 0
        start = 0
        end = 0
        return taken
    }

    /// Moves the bytes held into `storage` (malloc'd, at least `count` bytes) and frees the old one.
    mutating func adopt(_ storage: UnsafeMutableRawPointer, capacity: Int) {
        precondition(capacity >= count, "adopted storage too small")
        if let old = self.storage {
            if end > start { storage.copyMemory(from: old + start, byteCount: end &- start) }
            free(old)
        }
        end = end &- start
        start = 0
        self.storage = storage
        self.capacity = capacity
    }
}
