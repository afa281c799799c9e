#if arch(x86_64)
import CSwiftWSSystem
#endif

/// Payload masking (RFC 6455 section 5.3): byte `i` of a payload is XORed with byte `i mod 4` of
/// the frame's masking key. Applying it twice restores the input, so one function masks and unmasks.
///
/// Performance: the hot loop XORs 64 bytes per iteration as 16-byte vectors with the key repeated
/// (rotated to where the buffer starts in the payload), then 8-byte words, then single bytes for
/// the tail. Unaligned vector loads and stores cost nothing extra on the CPUs we target, so there
/// is no alignment prologue. Measured: explicit vectors doubled 64 KiB throughput over plain
/// 64-bit words (`swiftws-bench-core`). From `wideThreshold` bytes on, where the CPU has AVX2,
/// the 32-byte blocks go to the C form in `Sources/CSwiftWSSystem/mask_avx2.h` (half the
/// instructions of the 16-byte vectors: bench/README.md, "Round 5") and this code does the tail.
public enum Masking {
    /// From this many bytes on, the AVX2 form does the 32-byte blocks (below, the call and the
    /// tail would cost more than the few vectors it saves; 32 B chat echoes stay as they were).
    @usableFromInline static let wideThreshold = 256
    /// XORs `buffer` in place with `maskKey`.
    /// - Parameters:
    ///   - maskKey: the key as `FrameHeader.maskKey` holds it (wire bytes loaded little-endian).
    ///   - payloadOffset: where `buffer` starts within the frame's payload, so a payload that
    ///     arrives in several reads is unmasked piece by piece with the key rotated correctly.
    @inlinable
    public static func apply(maskKey: UInt32, to buffer: UnsafeMutableRawBufferPointer, payloadOffset: Int) {
        guard let base = buffer.baseAddress else { return }
        let count = buffer.count
        // Key bytes as seen from buffer[0]: rotate right by 8 * (offset mod 4) bits.
        let shift = UInt32(truncatingIfNeeded: (payloadOffset & 3) &* 8)
        let key = (maskKey &>> shift) | (maskKey &<< ((32 &- shift) & 31))
        let key64 = UInt64(key) | (UInt64(key) &<< 32)
        var index = 0
        if count >= wideThreshold && CPUFeatures.hasAVX2 {
            // A multiple of 32 bytes: the key's rotation is the same where the tail starts.
            index = applyWide(base, count: count, key: key)
        }
        // 64 bytes per iteration in 16-byte vectors (SSE2 on any x86-64, NEON on arm64).
        let keyVector = SIMD2<UInt64>(repeating: littleEndianKey(key64))
        while index &+ 64 <= count {
            let p = base + index
            p.storeBytes(of: p.loadUnaligned(as: SIMD2<UInt64>.self) ^ keyVector, as: SIMD2<UInt64>.self)
            p.storeBytes(of: p.loadUnaligned(fromByteOffset: 16, as: SIMD2<UInt64>.self) ^ keyVector, toByteOffset: 16, as: SIMD2<UInt64>.self)
            p.storeBytes(of: p.loadUnaligned(fromByteOffset: 32, as: SIMD2<UInt64>.self) ^ keyVector, toByteOffset: 32, as: SIMD2<UInt64>.self)
            p.storeBytes(of: p.loadUnaligned(fromByteOffset: 48, as: SIMD2<UInt64>.self) ^ keyVector, toByteOffset: 48, as: SIMD2<UInt64>.self)
            index &+= 64
        }
        while index &+ 8 <= count {
            let word = base.loadUnaligned(fromByteOffset: index, as: UInt64.self)
            base.storeBytes(of: word ^ littleEndianKey(key64), toByteOffset: index, as: UInt64.self)
            index &+= 8
        }
        // Tail: index is a multiple of 8 here, so key byte (index mod 4) is byte (tail mod 4).
        var tailKey = key64
        while index < count {
            let byte = base.load(fromByteOffset: index, as: UInt8.self)
            base.storeBytes(of: byte ^ UInt8(truncatingIfNeeded: tailKey), toByteOffset: index, as: UInt8.self)
            tailKey &>>= 8
            index &+= 1
        }
    }

    /// Writes `source` XORed with `maskKey` to `destination` (`source.count` bytes; the two must
    /// not overlap): `apply` fused with a copy, one pass over the bytes instead of two, for a
    /// payload that is copied into a message buffer anyway (`Session`'s reassembly of a binary
    /// message split across reads: at 1 MiB the separate pass was a fifth of the server's
    /// user-space time, bench/README.md "Round 6"). `payloadOffset` as for `apply`.
    @inlinable
    public static func copyApplying(maskKey: UInt32, from source: UnsafeRawBufferPointer,
                                    to destination: UnsafeMutableRawPointer, payloadOffset: Int) {
        guard let base = source.baseAddress else { return }
        let count = source.count
        let shift = UInt32(truncatingIfNeeded: (payloadOffset & 3) &* 8)
        let key = (maskKey &>> shift) | (maskKey &<< ((32 &- shift) & 31))
        let key64 = UInt64(key) | (UInt64(key) &<< 32)
        var index = 0
        if count >= wideThreshold && CPUFeatures.hasAVX2 {
            // A multiple of 32 bytes: the key's rotation is the same where the tail starts.
            index = copyApplyingWide(destination, base, count: count, key: key)
        }
        // 16-byte vectors (SSE2 on any x86-64, NEON on arm64), then words, then bytes.
        let keyVector = SIMD2<UInt64>(repeating: littleEndianKey(key64))
        while index &+ 16 <= count {
            let vector = base.loadUnaligned(fromByteOffset: index, as: SIMD2<UInt64>.self) ^ keyVector
            destination.storeBytes(of: vector, toByteOffset: index, as: SIMD2<UInt64>.self)
            index &+= 16
        }
        while index &+ 8 <= count {
            let word = base.loadUnaligned(fromByteOffset: index, as: UInt64.self) ^ littleEndianKey(key64)
            destination.storeBytes(of: word, toByteOffset: index, as: UInt64.self)
            index &+= 8
        }
        // Tail: index is a multiple of 8 here, so key byte (index mod 4) is byte (tail mod 4).
        var tailKey = key64
        while index < count {
            let byte = base.load(fromByteOffset: index, as: UInt8.self) ^ UInt8(truncatingIfNeeded: tailKey)
            destination.storeBytes(of: byte, toByteOffset: index, as: UInt8.self)
            tailKey &>>= 8
            index &+= 1
        }
    }

    /// Unmasks like `apply` and, in the same pass, checks for non-ASCII bytes (the high bit), so
    /// that ASCII text needs no second pass for UTF-8 validation.
    /// - Returns: how many leading bytes of the unmasked `buffer` are known to be ASCII: `count`
    ///   when all are, otherwise at most the offset of the first non-ASCII byte (the start of the
    ///   block holding it). The UTF-8 validator only needs to look at the rest.
    @inlinable
    public static func applyReturningASCIIPrefix(maskKey: UInt32, to buffer: UnsafeMutableRawBufferPointer,
                                                 payloadOffset: Int) -> Int {
        guard let base = buffer.baseAddress else { return 0 }
        let count = buffer.count
        let shift = UInt32(truncatingIfNeeded: (payloadOffset & 3) &* 8)
        let key = (maskKey &>> shift) | (maskKey &<< ((32 &- shift) & 31))
        let key64 = littleEndianKey(UInt64(key) | (UInt64(key) &<< 32))
        let highBits: UInt64 = 0x8080_8080_8080_8080
        var index = 0
        var asciiPrefix = -1
        if count >= wideThreshold && CPUFeatures.hasAVX2 {
            // A multiple of 32 bytes: the key's rotation is the same where the tail starts.
            (index, asciiPrefix) = applyWideReturningASCIIPrefix(base, count: count, key: key)
        }
        // 64 bytes per iteration in 16-byte vectors (SSE2 on any x86-64, NEON on arm64).
        let keyVector = SIMD2<UInt64>(repeating: key64)
        let highVector = SIMD2<UInt64>(repeating: highBits)
        while asciiPrefix < 0 && index &+ 64 <= count {
            let p = base + index
            let a = p.loadUnaligned(as: SIMD2<UInt64>.self) ^ keyVector
            let b = p.loadUnaligned(fromByteOffset: 16, as: SIMD2<UInt64>.self) ^ keyVector
            let c = p.loadUnaligned(fromByteOffset: 32, as: SIMD2<UInt64>.self) ^ keyVector
            let d = p.loadUnaligned(fromByteOffset: 48, as: SIMD2<UInt64>.self) ^ keyVector
            p.storeBytes(of: a, as: SIMD2<UInt64>.self)
            p.storeBytes(of: b, toByteOffset: 16, as: SIMD2<UInt64>.self)
            p.storeBytes(of: c, toByteOffset: 32, as: SIMD2<UInt64>.self)
            p.storeBytes(of: d, toByteOffset: 48, as: SIMD2<UInt64>.self)
            let any = (a | b | c | d) & highVector
            if any[0] | any[1] != 0 {
                asciiPrefix = index
                index &+= 64
                break
            }
            index &+= 64
        }
        // Non-ASCII seen: the rest only needs unmasking.
        while index &+ 64 <= count {
            let p = base + index
            p.storeBytes(of: p.loadUnaligned(as: SIMD2<UInt64>.self) ^ keyVector, as: SIMD2<UInt64>.self)
            p.storeBytes(of: p.loadUnaligned(fromByteOffset: 16, as: SIMD2<UInt64>.self) ^ keyVector, toByteOffset: 16, as: SIMD2<UInt64>.self)
            p.storeBytes(of: p.loadUnaligned(fromByteOffset: 32, as: SIMD2<UInt64>.self) ^ keyVector, toByteOffset: 32, as: SIMD2<UInt64>.self)
            p.storeBytes(of: p.loadUnaligned(fromByteOffset: 48, as: SIMD2<UInt64>.self) ^ keyVector, toByteOffset: 48, as: SIMD2<UInt64>.self)
            index &+= 64
        }
        while index &+ 8 <= count {
            let word = base.loadUnaligned(fromByteOffset: index, as: UInt64.self) ^ key64
            base.storeBytes(of: word, toByteOffset: index, as: UInt64.self)
            if word & highBits != 0 && asciiPrefix < 0 { asciiPrefix = index }
            index &+= 8
        }
        // Tail: index is a multiple of 8 here, so key byte (index mod 4) is byte (tail mod 4).
        var tailKey = UInt64(key) | (UInt64(key) &<< 32)
        while index < count {
            let byte = base.load(fromByteOffset: index, as: UInt8.self) ^ UInt8(truncatingIfNeeded: tailKey)
            base.storeBytes(of: byte, toByteOffset: index, as: UInt8.self)
            if byte & 0x80 != 0 && asciiPrefix < 0 { asciiPrefix = index }
            tailKey &>>= 8
            index &+= 1
        }
        return asciiPrefix < 0 ? count : asciiPrefix
    }

    /// The AVX2 form of `apply` over the 32-byte blocks of `base[0..<count]` (`key`: the key bytes
    /// as seen from `base[0]`, in memory order); returns how many bytes it did (a multiple of 32,
    /// 0 where there is no AVX2).
    @usableFromInline
    static func applyWide(_ base: UnsafeMutableRawPointer, count: Int, key: UInt32) -> Int {
        #if arch(x86_64)
        return swiftws_mask_avx2(base.assumingMemoryBound(to: UInt8.self), count, key.littleEndian)
        #else
        return 0
        #endif
    }

    /// The AVX2 form of `copyApplying` over the 32-byte blocks (`key` as for `applyWide`); returns
    /// how many bytes it did (a multiple of 32, 0 where there is no AVX2).
    @usableFromInline
    static func copyApplyingWide(_ destination: UnsafeMutableRawPointer, _ source: UnsafeRawPointer, count: Int, key: UInt32) -> Int {
        #if arch(x86_64)
        return swiftws_mask_copy_avx2(destination.assumingMemoryBound(to: UInt8.self),
                                      source.assumingMemoryBound(to: UInt8.self), count, key.littleEndian)
        #else
        return 0
        #endif
    }

    /// The AVX2 form of `applyReturningASCIIPrefix`'s first pass: how many bytes it did (a
    /// multiple of 32) and where the first block holding a non-ASCII byte starts (-1: none).
    @usableFromInline
    static func applyWideReturningASCIIPrefix(_ base: UnsafeMutableRawPointer, count: Int, key: UInt32) -> (done: Int, asciiPrefix: Int) {
        #if arch(x86_64)
        var asciiPrefix = -1
        let done = swiftws_mask_ascii_avx2(base.assumingMemoryBound(to: UInt8.self), count, key.littleEndian, &asciiPrefix)
        return (done, asciiPrefix)
        #else
        return (0, -1)
        #endif
    }

    /// The key word in memory order: a no-op on little-endian hosts.
    @inlinable @inline(__always)
    static func littleEndianKey(_ key64: UInt64) -> UInt64 { key64.littleEndian }

    /// Byte-at-a-time reference implementation (RFC 6455 section 5.3 as written), for tests.
    public static func applyReference(maskKey: UInt32, to buffer: UnsafeMutableRawBufferPointer, payloadOffset: Int) {
        for i in 0..<buffer.count {
            let keyByte = UInt8(truncatingIfNeeded: maskKey >> (UInt32((payloadOffset + i) % 4) * 8))
            buffer[i] ^= keyByte
        }
    }
}
