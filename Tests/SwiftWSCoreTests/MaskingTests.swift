import Testing
@testable import SwiftWSCore

@Suite("Masking (RFC 6455 5.3)")
struct MaskingTests {
    @Test func wordAtATimeEqualsReferenceForAllAlignmentsAndLengths() {
        var rng = SeededGenerator(seed: 1)
        let source = (0..<64).map { _ in UInt8.random(in: 0...255, using: &rng) }
        for key: UInt32 in [0x3d21_fa37, 0xFFFF_FFFF, 0x0102_0304] {
            for alignment in 0..<8 {
                for length in 0...40 {
                    for payloadOffset in 0..<5 {
                        var fast = source
                        var reference = source
                        fast.withUnsafeMutableBytes {
                            Masking.apply(maskKey: key, to: UnsafeMutableRawBufferPointer(rebasing: $0[alignment..<(alignment + length)]),
                                          payloadOffset: payloadOffset)
                        }
                        reference.withUnsafeMutableBytes {
                            Masking.applyReference(maskKey: key, to: UnsafeMutableRawBufferPointer(rebasing: $0[alignment..<(alignment + length)]),
                                                   payloadOffset: payloadOffset)
                        }
                        #expect(fast == reference, "key \(key) alignment \(alignment) length \(length) offset \(payloadOffset)")
                        // Bytes outside the range are untouched.
                        #expect(fast[..<alignment] == source[..<alignment])
                        #expect(fast[(alignment + length)...] == source[(alignment + length)...])
                    }
                }
            }
        }
    }

    @Test func randomSplitsRotateTheKeyCorrectly() {
        var rng = SeededGenerator(seed: 2)
        for _ in 0..<200 {
            let length = Int.random(in: 0...300, using: &rng)
            let key = UInt32.random(in: 0...UInt32.max, using: &rng)
            let source = (0..<length).map { _ in UInt8.random(in: 0...255, using: &rng) }
            var reference = source
            reference.withUnsafeMutableBytes { Masking.applyReference(maskKey: key, to: $0, payloadOffset: 0) }
            var pieces = source
            var cuts = (0..<Int.random(in: 0...6, using: &rng)).map { _ in Int.random(in: 0...length, using: &rng) }.sorted()
            cuts.append(length)
            pieces.withUnsafeMutableBytes { raw in
                var start = 0
                for cut in cuts {
                    Masking.apply(maskKey: key, to: UnsafeMutableRawBufferPointer(rebasing: raw[start..<cut]), payloadOffset: start)
                    start = cut
                }
            }
            #expect(pieces == reference, "length \(length) cuts \(cuts)")
        }
    }

    @Test func fusedUnmaskAndASCIICheckEqualsReference() {
        var rng = SeededGenerator(seed: 4)
        for length in 0...200 {
            for payloadOffset in 0..<4 {
                // ASCII text with, sometimes, one non-ASCII byte at a random place.
                let nonASCIIAt: Int? = length > 0 && Bool.random(using: &rng) ? Int.random(in: 0..<length, using: &rng) : nil
                checkFusedPass(length: length, nonASCIIAt: nonASCIIAt, byte: 0xC3, payloadOffset: payloadOffset, rng: &rng)
            }
        }
    }

    @Test func maskingTwiceRestoresThePayload() {
        let original = Array("Hello, WebSocket masking!".utf8)
        var bytes = original
        bytes.withUnsafeMutableBytes { Masking.apply(maskKey: rfcMaskKey, to: $0, payloadOffset: 0) }
        #expect(bytes != original)
        bytes.withUnsafeMutableBytes { Masking.apply(maskKey: rfcMaskKey, to: $0, payloadOffset: 0) }
        #expect(bytes == original)
    }

    @Test func clientFramesUseFreshKeys() throws {
        let client = clientSession()
        for _ in 0..<8 { try hello.withUnsafeBytes { try client.send(binary: $0) } }
        let raw = client.takeOutput()
        // Each frame: 2 header bytes + 4 key bytes + 5 payload bytes.
        let keys = Set(stride(from: 0, to: raw.count, by: 11).map { Array(raw[($0 + 2)..<($0 + 6)]) })
        #expect(keys.count == 8)
        #expect(decodeFrames(raw, sentBy: .client).allSatisfy { $0.payload == hello && $0.opcode == .binary })
    }

    /// Payloads from `Masking.wideThreshold` on take the AVX2 form where the CPU has it (the tail
    /// after its 32-byte blocks stays with the Swift loops): every length around the block and
    /// threshold edges, every start alignment and key rotation, must equal the reference.
    @Test func wideFormEqualsReferenceAroundEveryEdge() {
        var rng = SeededGenerator(seed: 5)
        let source = (0..<1200).map { _ in UInt8.random(in: 0...255, using: &rng) }
        let threshold = Masking.wideThreshold
        let lengths = Array((threshold - 3)...(threshold + 200)) + [511, 512, 513, 1023, 1024, 1025, 1100]
        for length in lengths {
            for alignment in [0, 1, 3, 14] {
                let payloadOffset = Int.random(in: 0..<4, using: &rng)
                let key = UInt32.random(in: 0...UInt32.max, using: &rng)
                var fast = source
                var reference = source
                let range = alignment..<(alignment + length)
                fast.withUnsafeMutableBytes {
                    Masking.apply(maskKey: key, to: UnsafeMutableRawBufferPointer(rebasing: $0[range]), payloadOffset: payloadOffset)
                }
                reference.withUnsafeMutableBytes {
                    Masking.applyReference(maskKey: key, to: UnsafeMutableRawBufferPointer(rebasing: $0[range]), payloadOffset: payloadOffset)
                }
                #expect(fast == reference, "length \(length) alignment \(alignment) offset \(payloadOffset)")
            }
        }
    }

    /// The copying form (`copyApplying`, the reassembly of split binary messages) writes what the
    /// byte-at-a-time reference makes of the source, for every length below and around the AVX2
    /// blocks, source and destination misaligned apart, every key rotation; the source is untouched
    /// and nothing past the destination's end is written.
    @Test func copyingFormEqualsReference() {
        var rng = SeededGenerator(seed: 7)
        let source = (0..<1200).map { _ in UInt8.random(in: 0...255, using: &rng) }
        let threshold = Masking.wideThreshold
        let lengths = Array(0...70) + Array((threshold - 3)...(threshold + 140)) + [511, 512, 513, 1023, 1024, 1100]
        for length in lengths {
            for (sourceAlignment, destinationAlignment) in [(0, 0), (1, 0), (3, 14), (14, 5)] {
                let payloadOffset = Int.random(in: 0..<4, using: &rng)
                let key = UInt32.random(in: 0...UInt32.max, using: &rng)
                var expected = Array(source[sourceAlignment..<(sourceAlignment + length)])
                expected.withUnsafeMutableBytes {
                    Masking.applyReference(maskKey: key, to: $0, payloadOffset: payloadOffset)
                }
                var destination = [UInt8](repeating: 0xA5, count: destinationAlignment + length + 8)
                source.withUnsafeBytes { from in
                    destination.withUnsafeMutableBytes { to in
                        Masking.copyApplying(maskKey: key, from: UnsafeRawBufferPointer(rebasing: from[sourceAlignment..<(sourceAlignment + length)]),
                                             to: to.baseAddress! + destinationAlignment, payloadOffset: payloadOffset)
                    }
                }
                let written = Array(destination[destinationAlignment..<(destinationAlignment + length)])
                #expect(written == expected, "length \(length) alignments \(sourceAlignment)/\(destinationAlignment) offset \(payloadOffset)")
                #expect(destination[(destinationAlignment + length)...].allSatisfy { $0 == 0xA5 }, "wrote past the end, length \(length)")
                #expect(destination[..<destinationAlignment].allSatisfy { $0 == 0xA5 }, "wrote before the start, length \(length)")
            }
        }
    }

    /// The fused unmask-and-ASCII pass on large payloads (the AVX2 form where the CPU has it): the
    /// bytes equal the reference, and the prefix it reports is ASCII and reaches no further than
    /// the first non-ASCII byte, wherever that is (first block, last block, the Swift tail).
    @Test func wideFusedPassFindsNonASCIIAnywhere() {
        var rng = SeededGenerator(seed: 6)
        for length in [256, 300, 383, 384, 385, 1000, 4096 + 7] {
            var places: [Int?] = [nil, 0, 31, 32, 127, 128, length - 1, length / 2]
            places += (0..<4).map { _ in Int.random(in: 0..<length, using: &rng) }
            for nonASCIIAt in places {
                for payloadOffset in 0..<4 {
                    checkFusedPass(length: length, nonASCIIAt: nonASCIIAt, byte: 0xD0, payloadOffset: payloadOffset, rng: &rng)
                }
            }
        }
    }


    /// Masks random printable ASCII of `length` bytes (with `byte` at `nonASCIIAt`) by the
    /// reference, unmasks it with the fused pass, and checks the bytes and the ASCII prefix it
    /// reports (ASCII, and not past the first non-ASCII byte).
    private func checkFusedPass(length: Int, nonASCIIAt: Int?, byte: UInt8, payloadOffset: Int, rng: inout SeededGenerator) {
        var plain = (0..<length).map { _ in UInt8.random(in: 0x20...0x7E, using: &rng) }
        if let nonASCIIAt { plain[nonASCIIAt] = byte }
        let key = UInt32.random(in: 0...UInt32.max, using: &rng)
        var wire = plain
        wire.withUnsafeMutableBytes { Masking.applyReference(maskKey: key, to: $0, payloadOffset: payloadOffset) }
        let prefix = wire.withUnsafeMutableBytes {
            Masking.applyReturningASCIIPrefix(maskKey: key, to: $0, payloadOffset: payloadOffset)
        }
        #expect(wire == plain, "length \(length) at \(String(describing: nonASCIIAt)) offset \(payloadOffset)")
        if let nonASCIIAt {
            #expect(prefix <= nonASCIIAt)
        } else {
            #expect(prefix == length)
        }
        #expect(plain[..<prefix].allSatisfy { $0 < 0x80 })
    }

}
