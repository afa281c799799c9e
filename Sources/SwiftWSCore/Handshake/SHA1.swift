/// SHA-1 (FIPS 180-4 section 6.1), used only to compute `Sec-WebSocket-Accept` (RFC 6455 section 4.2.2).
///
/// SHA-1 is broken for collision resistance, but RFC 6455 uses it only to prove that the server
/// understood the WebSocket handshake, not for security, so a small in-tree implementation is
/// enough and keeps the core free of OpenSSL. Incremental: `update` any number of times, then
/// `finalize` once.
public struct SHA1: Sendable {
    /// Digest length in bytes (160 bits).
    public static let digestByteCount = 20

    /// H0...H4 of FIPS 180-4 section 5.3.1.
    private var state: (UInt32, UInt32, UInt32, UInt32, UInt32) =
        (0x6745_2301, 0xEFCD_AB89, 0x98BA_DCFE, 0x1032_5476, 0xC3D2_E1F0)
    /// The partial 64-byte block not yet compressed.
    private var block = [UInt8](repeating: 0, count: 64)
    private var blockFill = 0
    /// Message length so far in bytes; FIPS 180-4 limits the message to 2^64 - 1 bits, so the
    /// bit length is taken modulo 2^64 (wrapping) like every implementation does.
    private var totalBytes: UInt64 = 0

    /// A fresh hash state.
    public init() {}

    /// The SHA-1 digest of `bytes` in one call.
    public static func hash(_ bytes: some Sequence<UInt8>) -> [UInt8] {
        var sha = SHA1()
        sha.update(Array(bytes))
        return sha.finalize()
    }

    /// Adds `bytes` to the message.
    public mutating func update(_ bytes: [UInt8]) {
        bytes.withUnsafeBytes { update($0) }
    }

    /// Adds the bytes in `buffer` to the message.
    public mutating func update(_ buffer: UnsafeRawBufferPointer) {
        totalBytes &+= UInt64(buffer.count)
        var index = 0
        while index < buffer.count {
            let take = min(64 - blockFill, buffer.count - index)
            for offset in 0..<take { block[blockFill + offset] = buffer[index + offset] }
            blockFill += take
            index += take
            if blockFill == 64 {
                compressBlock()
                blockFill = 0
            }
        }
    }

    /// Pads the message (FIPS 180-4 section 5.1.1) and returns the 20-byte digest.
    /// The state must not be used afterwards.
    public mutating func finalize() -> [UInt8] {
        let bitLength = totalBytes &* 8
        // One 0x80 byte, zeros up to 56 mod 64, then the 64-bit big-endian bit length.
        block[blockFill] = 0x80
        blockFill += 1
        if blockFill > 56 {
            for index in blockFill..<64 { block[index] = 0 }
            compressBlock()
            blockFill = 0
        }
        for index in blockFill..<56 { block[index] = 0 }
        for index in 0..<8 { block[56 + index] = UInt8(truncatingIfNeeded: bitLength >> (56 - 8 * UInt64(index))) }
        compressBlock()
        blockFill = 0
        var digest = [UInt8]()
        digest.reserveCapacity(SHA1.digestByteCount)
        for word in [state.0, state.1, state.2, state.3, state.4] {
            digest.append(UInt8(truncatingIfNeeded: word >> 24))
            digest.append(UInt8(truncatingIfNeeded: word >> 16))
            digest.append(UInt8(truncatingIfNeeded: word >> 8))
            digest.append(UInt8(truncatingIfNeeded: word))
        }
        return digest
    }

    /// Processes the full 64-byte `block` (FIPS 180-4 section 6.1.2).
    private mutating func compressBlock() {
        // The 80-word message schedule lives on the stack: no heap allocation per block.
        let words = withUnsafeTemporaryAllocation(of: UInt32.self, capacity: 80) { schedule in
            for t in 0..<16 {
                schedule[t] = UInt32(block[4 * t]) << 24 | UInt32(block[4 * t + 1]) << 16
                    | UInt32(block[4 * t + 2]) << 8 | UInt32(block[4 * t + 3])
            }
            for t in 16..<80 {
                schedule[t] = rotateLeft(schedule[t - 3] ^ schedule[t - 8] ^ schedule[t - 14] ^ schedule[t - 16], 1)
            }
            var (a, b, c, d, e) = state
            for t in 0..<80 {
                let f: UInt32
                let k: UInt32
                switch t {
                case 0..<20: f = (b & c) | (~b & d); k = 0x5A82_7999          // Ch
                case 20..<40: f = b ^ c ^ d; k = 0x6ED9_EBA1                  // Parity
                case 40..<60: f = (b & c) | (b & d) | (c & d); k = 0x8F1B_BCDC // Maj
                default: f = b ^ c ^ d; k = 0xCA62_C1D6                       // Parity
                }
                let temp = rotateLeft(a, 5) &+ f &+ e &+ k &+ schedule[t]
                e = d
                d = c
                c = rotateLeft(b, 30)
                b = a
                a = temp
            }
            return (a, b, c, d, e)
        }
        state = (state.0 &+ words.0, state.1 &+ words.1, state.2 &+ words.2, state.3 &+ words.3, state.4 &+ words.4)
    }

    private func rotateLeft(_ value: UInt32, _ count: UInt32) -> UInt32 {
        (value << count) | (value >> (32 - count))
    }
}
