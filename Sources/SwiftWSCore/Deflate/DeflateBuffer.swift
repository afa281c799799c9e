import Glibc

/// A growable byte buffer that the permessage-deflate codec appends to, reused from message to
/// message so that steady-state compression and decompression allocate nothing.
///
/// Unlike `[UInt8]`, zlib writes straight into its spare capacity (no zero-filling, no
/// copy-on-write checks), and callers read the result as a borrowed `UnsafeRawBufferPointer`
/// (valid until the next mutation). One buffer may serve every connection of an event loop,
/// since a loop handles one message at a time (DESIGN.md: "one receive buffer per loop").
/// Not thread-safe.
public final class DeflateBuffer {
    private var storage: UnsafeMutableRawPointer?
    /// Bytes written so far.
    public private(set) var count: Int = 0
    /// Bytes allocated.
    public private(set) var capacity: Int = 0

    /// An empty buffer; `initialCapacity` bytes are allocated up front (none by default: memory is
    /// taken only once a message needs it).
    public init(initialCapacity: Int = 0) {
        if initialCapacity > 0 { reserveSpare(initialCapacity) }
    }

    deinit { free(storage) }

    /// The bytes written so far, borrowed: valid until the buffer is next mutated.
    @inlinable public var bytes: UnsafeRawBufferPointer {
        UnsafeRawBufferPointer(start: unsafeStart, count: count)
    }

    /// Start of the storage (nil before the first allocation); exposed for `bytes`.
    @usableFromInline var unsafeStart: UnsafeRawPointer? { UnsafeRawPointer(storage) }

    /// The bytes written so far, copied into an array.
    public var array: [UInt8] { [UInt8](bytes) }

    /// Calls `body` with the bytes written so far.
    @inlinable public func withUnsafeBytes<Result>(
        _ body: (UnsafeRawBufferPointer) throws -> Result
    ) rethrows -> Result {
        try body(bytes)
    }

    /// Forgets the content. Capacity up to `retainedCapacity` bytes is kept for the next message;
    /// a larger block (left by one big message) is released, so an idle connection does not keep
    /// megabytes alive.
    public func removeAll(retainingCapacityUpTo retainedCapacity: Int = Int.max) {
        count = 0
        if capacity > retainedCapacity {
            free(storage)
            storage = nil
            capacity = 0
        }
    }

    /// Appends `source`.
    public func append(_ source: UnsafeRawBufferPointer) {
        guard source.count > 0, let base = source.baseAddress else { return }
        let spare = reserveSpare(source.count)
        spare.copyMemory(from: base, byteCount: source.count)
        count += source.count
    }

    /// Makes room for at least `minimum` more bytes and returns where they start.
    /// Growth is geometric so that appending in chunks stays linear.
    @discardableResult
    func reserveSpare(_ minimum: Int) -> UnsafeMutableRawPointer {
        let needed = count + Swift.max(minimum, 1)  // >= 1, so storage is allocated below
        if needed > capacity {
            var newCapacity = Swift.max(capacity &* 2, 256)
            if newCapacity < needed { newCapacity = needed }
            guard let grown = realloc(storage, newCapacity) else {
                fatalError("DeflateBuffer: out of memory (\(newCapacity) bytes)")
            }
            storage = grown
            capacity = newCapacity
        }
        return storage.unsafelyUnwrapped + count
    }

    /// Bytes available after `count` without growing.
    var spareCapacity: Int { capacity - count }

    /// Records that `written` bytes were written into the spare capacity.
    func commit(_ written: Int) { count += written }

    /// Drops the last `n` bytes (used to strip the RFC 7692 sync-flush trailer).
    func removeLast(_ n: Int) { count -= Swift.min(n, count) }
}
