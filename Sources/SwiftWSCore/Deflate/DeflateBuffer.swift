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
    /// Where the bytes are, how many, and how much room. Kept behind a pointer allocated once,
    /// rather than in `var` properties: Swift checks exclusive access to a class's stored `var`s
    /// at run time, and those checks cost about 20% of inflating small messages (measured with
    /// bench/deflate); memory reached through a pointer is not checked.
    @usableFromInline struct State {
        @usableFromInline var storage: UnsafeMutableRawPointer?
        @usableFromInline var count: Int
        @usableFromInline var capacity: Int
    }
    @usableFromInline let state: UnsafeMutablePointer<State>

    /// An empty buffer; `initialCapacity` bytes are allocated up front (none by default: memory is
    /// taken only once a message needs it).
    public init(initialCapacity: Int = 0) {
        state = .allocate(capacity: 1)
        state.initialize(to: State(storage: nil, count: 0, capacity: 0))
        if initialCapacity > 0 { reserveSpare(initialCapacity) }
    }

    deinit {
        free(state.pointee.storage)
        state.deallocate()
    }

    /// Bytes written so far.
    @inlinable public var count: Int { state.pointee.count }
    /// Bytes allocated.
    @inlinable public var capacity: Int { state.pointee.capacity }

    /// The bytes written so far, borrowed: valid until the buffer is next mutated.
    @inlinable public var bytes: UnsafeRawBufferPointer {
        UnsafeRawBufferPointer(start: state.pointee.storage, count: state.pointee.count)
    }

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
    /// Inlinable: called once per message, before inflating into the buffer.
    @inlinable public func removeAll(retainingCapacityUpTo retainedCapacity: Int = Int.max) {
        state.pointee.count = 0
        if state.pointee.capacity > retainedCapacity { releaseStorage() }
    }

    /// Frees the storage (the slow path of `removeAll`).
    @usableFromInline func releaseStorage() {
        free(state.pointee.storage)
        state.pointee.storage = nil
        state.pointee.capacity = 0
    }

    /// Appends `source`.
    public func append(_ source: UnsafeRawBufferPointer) {
        guard source.count > 0, let base = source.baseAddress else { return }
        let spare = reserveSpare(source.count)
        spare.copyMemory(from: base, byteCount: source.count)
        state.pointee.count += source.count
    }

    /// Makes room for at least `minimum` more bytes and returns where they start.
    /// Growth is geometric so that appending in chunks stays linear.
    @inline(__always) @discardableResult
    func reserveSpare(_ minimum: Int) -> UnsafeMutableRawPointer {
        let state = self.state
        if let storage = state.pointee.storage, state.pointee.capacity &- state.pointee.count >= minimum {
            return storage + state.pointee.count  // fast path: no growth
        }
        return grow(minimum)
    }

    /// The slow path of `reserveSpare`.
    @inline(never)
    private func grow(_ minimum: Int) -> UnsafeMutableRawPointer {
        let needed = state.pointee.count + Swift.max(minimum, 1)  // >= 1: storage exists below
        if needed > state.pointee.capacity {
            var newCapacity = Swift.max(state.pointee.capacity &* 2, 256)
            if newCapacity < needed { newCapacity = needed }
            guard let grown = realloc(state.pointee.storage, newCapacity) else {
                fatalError("DeflateBuffer: out of memory (\(newCapacity) bytes)")
            }
            state.pointee.storage = grown
            state.pointee.capacity = newCapacity
        }
        return state.pointee.storage.unsafelyUnwrapped + state.pointee.count
    }

    /// Bytes available after `count` without growing.
    var spareCapacity: Int { state.pointee.capacity - state.pointee.count }

    /// Records that `written` bytes were written into the spare capacity.
    func commit(_ written: Int) { state.pointee.count += written }

    /// Drops the last `n` bytes (used to strip the RFC 7692 sync-flush trailer).
    func removeLast(_ n: Int) { state.pointee.count -= Swift.min(n, state.pointee.count) }
}
