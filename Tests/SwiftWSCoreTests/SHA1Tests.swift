import Testing
@testable import SwiftWSCore

@Suite("SHA-1 (FIPS 180-4)")
struct SHA1Tests {
    /// FIPS 180-2 Appendix A / NIST CSRC example vectors, plus the empty message.
    @Test(arguments: [
        ("", "da39a3ee5e6b4b0d3255bfef95601890afd80709"),
        ("abc", "a9993e364706816aba3e25717850c26c9cd0d89d"),
        ("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq", "84983e441c3bd26ebaae4aa1f95129e5e54670f1"),
        ("abcdefghbcdefghicdefghijdefghijkefghijklfghijklmghijklmnhijklmnoijklmnopjklmnopqklmnopqrlmnopqrsmnopqrstnopqrstu",
         "a49b2446a02c645bf419f995b67091253a04a259"),
        ("The quick brown fox jumps over the lazy dog", "2fd4e1c67a2d28fced849ee1bb76e7391b93eb12"),
    ])
    func vectors(message: String, digest: String) {
        #expect(hex(SHA1.hash(message.utf8)) == digest)
    }

    @Test func oneMillionA() {
        var sha = SHA1()
        let chunk = [UInt8](repeating: UInt8(ascii: "a"), count: 1000)
        for _ in 0..<1000 { sha.update(chunk) }
        #expect(hex(sha.finalize()) == "34aa973cd4c4daa4f61eeb2bdbad27316534016f")
    }

    /// Lengths around the padding boundaries (55, 56, 63, 64, 65 bytes) hashed whole and in every
    /// split must agree: catches block-buffering mistakes the fixed vectors miss.
    @Test func splitsAgreeAroundBlockBoundaries() {
        for length in [0, 1, 55, 56, 57, 63, 64, 65, 119, 120, 128] {
            let message = (0..<length).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ 7) }
            let whole = SHA1.hash(message)
            for split in stride(from: 0, through: length, by: max(1, length / 7)) {
                var sha = SHA1()
                sha.update(Array(message[..<split]))
                sha.update(Array(message[split...]))
                #expect(sha.finalize() == whole, "length \(length) split \(split)")
            }
        }
        // 56 bytes of "a" (the length word needs a second block): a known value.
        #expect(hex(SHA1.hash([UInt8](repeating: 0x61, count: 56))) == "c2db330f6083854c99d4b5bfb6e8f29f201be699")
    }
}
