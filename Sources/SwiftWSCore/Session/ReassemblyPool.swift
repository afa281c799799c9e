import Glibc

/// Reassembly buffers of large messages kept for the next large messages of all the sessions
/// that share this pool (a server's connections, which live on one loop thread: not
/// thread-safe, like them).
///
/// Why: a session frees reassembly storage above `Session.retainedReassemblyCapacity` after each
/// message, so that one large message does not pin memory on an idle connection. But a stream
/// of large messages then gives the memory back to the kernel and faults it in again every time:
/// at 1 MiB, about 250 page faults per message and half of the server's CPU per echo (issue 16,
/// bench/README.md). With a pool, the next large message on any connection of the server reuses
/// that storage. The bound: buffers of at most `maximumBufferCapacity` bytes, together at most
/// `maximumHeldCapacity`, per pool; larger ones are freed as before.
public final class ReassemblyPool {
    /// A larger buffer is freed rather than kept.
    public static let maximumBufferCapacity = 4 << 20
    /// The pool keeps no more than this in all.
    public static let maximumHeldCapacity = 16 << 20

    private var buffers: [(storage: UnsafeMutableRawPointer, capacity: Int)] = []

    /// An empty pool.
    public init() {}

    deinit {
        for buffer in buffers { free(buffer.storage) }
    }

    /// Bytes held for the next large messages (0 when none).
    public private(set) var heldCapacity = 0

    /// A kept buffer of at least `minimum` bytes, if the pool has one (it leaves the pool).
    func take(minimum: Int) -> (storage: UnsafeMutableRawPointer, capacity: Int)? {
        guard let index = buffers.lastIndex(where: { $0.capacity >= minimum }) else { return nil }
        let buffer = buffers.remove(at: index)
        heldCapacity -= buffer.capacity
        return buffer
    }

    /// Keeps `storage` for a later large message when the bounds allow, else frees it.
    func keep(_ storage: UnsafeMutableRawPointer, capacity: Int) {
        guard capacity <= ReassemblyPool.maximumBufferCapacity,
              heldCapacity + capacity <= ReassemblyPool.maximumHeldCapacity else {
            free(storage)
            return
        }
        buffers.append((storage, capacity))
        heldCapacity += capacity
    }
}
