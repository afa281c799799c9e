/// Payload masking (RFC 6455 section 5.3): byte `i` of a payload is XORed with byte `i mod 4` of
/// the frame's masking key. Applying it twice restores the input, so one function masks and unmasks.
///
/// Performance: the hot loop XORs 8 bytes at a time with a 64-bit key (two copies of the key,
/// rotated to where the buffer starts in the payload); LLVM vectorises it further. Unaligned
/// loads and stores are fine on the platforms we target, so there is no alignment prologue; a byte
/// loop handles the tail.
public enum Masking {
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
        // 32 bytes per iteration: four independent words, which LLVM turns into vector XORs.
        while index &+ 32 <= count {
            let p = base + index
            let a = p.loadUnaligned(as: UInt64.self)
            let b = p.loadUnaligned(fromByteOffset: 8, as: UInt64.self)
            let c = p.loadUnaligned(fromByteOffset: 16, as: UInt64.self)
            let d = p.loadUnaligned(fromByteOffset: 24, as: UInt64.self)
            p.storeBytes(of: a ^ littleEndianKey(key64), as: UInt64.self)
            p.storeBytes(of: b ^ littleEndianKey(key64), toByteOffset: 8, as: UInt64.self)
            p.storeBytes(of: c ^ littleEndianKey(key64), toByteOffset: 16, as: UInt64.self)
            p.storeBytes(of: d ^ littleEndianKey(key64), toByteOffset: 24, as: UInt64.self)
            index &+= 32
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

    /// Unmasks like `apply` and, in the same pass, checks for non-ASCII bytes (the high bit), so
    /// that ASCII text needs no second pass for UTF-8 validation.
    /// - Returns: how many leading bytes of the unmasked `buffer` are known to be ASCII (a
    ///   multiple of 32, or the whole buffer but its last `count mod 32` bytes). The UTF-8
    ///   validator only needs to look at the rest.
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
        while index &+ 32 <= count {
            let p = base + index
            let a = p.loadUnaligned(as: UInt64.self) ^ key64
            let b = p.loadUnaligned(fromByteOffset: 8, as: UInt64.self) ^ key64
            let c = p.loadUnaligned(fromByteOffset: 16, as: UInt64.self) ^ key64
            let d = p.loadUnaligned(fromByteOffset: 24, as: UInt64.self) ^ key64
            p.storeBytes(of: a, as: UInt64.self)
            p.storeBytes(of: b, toByteOffset: 8, as: UInt64.self)
            p.storeBytes(of: c, toByteOffset: 16, as: UInt64.self)
            p.storeBytes(of: d, toByteOffset: 24, as: UInt64.self)
            if (a | b | c | d) & highBits != 0 && asciiPrefix < 0 { asciiPrefix = index }
            index &+= 32
        }
        if asciiPrefix < 0 { asciiPrefix = index }
        // The rest (< 32 bytes): plain unmasking; the key is aligned again since index % 4 == 0.
        if index < count {
            apply(maskKey: key, to: UnsafeMutableRawBufferPointer(start: base + index, count: count &- index), payloadOffset: 0)
        }
        return asciiPrefix
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
