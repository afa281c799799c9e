import Glibc
import CSwiftWSSystem

/// Random bytes from the kernel (`getrandom(2)`), for Sec-WebSocket-Key and frame masking keys.
///
/// RFC 6455 section 5.3 requires masking keys to be unpredictable ("derived from a strong source of
/// entropy"), so we never use a seeded PRNG here. A small pool amortises the system call: a client
/// sending many small frames takes 4 bytes per frame from the pool instead of one syscall each.
/// Not thread-safe: each session or loop owns its own pool.
public struct SecureRandom {
    private var pool: [UInt8]
    private var index: Int

    /// - Parameter poolSize: bytes fetched from the kernel per refill.
    public init(poolSize: Int = 4096) {
        pool = [UInt8](repeating: 0, count: max(poolSize, 16))
        index = pool.count  // empty: the first request refills
    }

    /// Fills `buffer` with random bytes straight from the kernel (no pool).
    public static func fill(_ buffer: UnsafeMutableRawBufferPointer) {
        guard var cursor = buffer.baseAddress else { return }
        var remaining = buffer.count
        while remaining > 0 {
            let got = getrandom(cursor, remaining, 0)
            if got > 0 {
                cursor += got
                remaining -= got
            } else if errno != EINTR {
                // getrandom cannot fail on Linux >= 3.17 once the pool is initialised; if it ever
                // does, refusing to produce predictable keys is the only safe answer.
                fatalError("getrandom failed: errno \(errno)")
            }
        }
    }

    /// `count` random bytes straight from the kernel.
    public static func bytes(_ count: Int) -> [UInt8] {
        var result = [UInt8](repeating: 0, count: count)
        result.withUnsafeMutableBytes { fill($0) }
        return result
    }

    /// A random 32-bit value from the pool (a frame's masking key).
    public mutating func next32() -> UInt32 {
        if index + 4 > pool.count {
            pool.withUnsafeMutableBytes { SecureRandom.fill($0) }
            index = 0
        }
        let value = pool.withUnsafeBytes { $0.loadUnaligned(fromByteOffset: index, as: UInt32.self) }
        index += 4
        return value
    }
}
