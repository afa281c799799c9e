import CZlib
import Testing
@testable import SwiftWSCore

private typealias T = DeflateTestSupport

/// RFC 7692 section 7.2: compression and decompression of message payloads.
@Suite("permessage-deflate codec (RFC 7692 7.2)")
struct DeflateCodecTests {
    static let hello = Array("Hello".utf8)
    static let takeover = PerMessageDeflateParameters()
    static let noTakeover = PerMessageDeflateParameters(serverNoContextTakeover: true, clientNoContextTakeover: true)
    /// Threshold 0: everything compressed.
    static let configuration = PerMessageDeflateConfiguration(compressionThreshold: 0)

    // MARK: 7.2.3 examples, exact bytes

    @Test("7.2.3.1: \"Hello\" compresses to f2 48 cd c9 c9 07 00")
    func helloCompressed() throws {
        let server = PerMessageDeflate(parameters: Self.takeover, role: .server, configuration: Self.configuration)
        #expect(try T.compress(server, Self.hello) == T.hex("f2 48 cd c9 c9 07 00"))
    }

    @Test("7.2.3.2: the same message twice, with context takeover: f2 00 11 00 00 the second time")
    func sharedWindow() throws {
        let server = PerMessageDeflate(parameters: Self.takeover, role: .server, configuration: Self.configuration)
        #expect(try T.compress(server, Self.hello) == T.hex("f2 48 cd c9 c9 07 00"))
        #expect(try T.compress(server, Self.hello) == T.hex("f2 00 11 00 00"))
        let client = PerMessageDeflate(parameters: Self.takeover, role: .client, configuration: Self.configuration)
        #expect(try T.decompress(client, [T.hex("f2 48 cd c9 c9 07 00")]) == Self.hello)
        #expect(try T.decompress(client, [T.hex("f2 00 11 00 00")]) == Self.hello)
    }

    @Test("7.2.3.2: without context takeover both messages are f2 48 cd c9 c9 07 00", arguments: [Role.server, .client])
    func noContextTakeover(role: Role) throws {
        let codec = PerMessageDeflate(parameters: Self.noTakeover, role: role, configuration: Self.configuration)
        #expect(try T.compress(codec, Self.hello) == T.hex("f2 48 cd c9 c9 07 00"))
        #expect(codec.zlibMemoryBytes == 0, "deflate state freed after the message")
        #expect(try T.compress(codec, Self.hello) == T.hex("f2 48 cd c9 c9 07 00"))
        // A peer without context takeover cannot refer to the previous message.
        let peer = PerMessageDeflate(parameters: Self.noTakeover, role: role == .server ? .client : .server, configuration: Self.configuration)
        #expect(try T.decompress(peer, [T.hex("f2 48 cd c9 c9 07 00")]) == Self.hello)
        #expect(peer.zlibMemoryBytes == 0, "inflate state freed after the message")
        #expect(T.protocolError { _ = try T.decompress(peer, [T.hex("f2 00 11 00 00")]) }?.closeCode == .protocolError)
    }

    @Test("7.2.3.1: a compressed message split over two frames (f2 48 cd | c9 c9 07 00)")
    func fragmentedExample() throws {
        let client = PerMessageDeflate(parameters: Self.takeover, role: .client)
        #expect(try T.decompress(client, [T.hex("f2 48 cd"), T.hex("c9 c9 07 00")]) == Self.hello)
    }

    @Test("7.2.3.3: a DEFLATE block with no compression (stored)")
    func storedBlock() throws {
        let client = PerMessageDeflate(parameters: Self.takeover, role: .client)
        #expect(try T.decompress(client, [T.hex("00 05 00 fa ff 48 65 6c 6c 6f 00")]) == Self.hello)
    }

    @Test("7.2.3.4: a DEFLATE block with BFINAL set, and the window carried over to the next message")
    func bfinalBlock() throws {
        let client = PerMessageDeflate(parameters: Self.takeover, role: .client)
        #expect(try T.decompress(client, [T.hex("f3 48 cd c9 c9 07 00 00")]) == Self.hello)
        // The next message refers back 5 bytes into the previous one (context takeover).
        #expect(try T.decompress(client, [T.hex("f2 00 11 00 00")]) == Self.hello)
        // BFINAL without the trailing 00 octet is accepted too (what Python websockets tolerates).
        #expect(try T.decompress(client, [T.hex("f3 48 cd c9 c9 07 00")]) == Self.hello)
        #expect(try T.decompress(client, [T.hex("f2 00 11 00 00")]) == Self.hello)
    }

    @Test("7.2.3.5: two DEFLATE blocks in one message")
    func twoBlocks() throws {
        let client = PerMessageDeflate(parameters: Self.takeover, role: .client)
        #expect(try T.decompress(client, [T.hex("f2 48 05 00 00 00 ff ff ca c9 c9 07 00")]) == Self.hello)
    }

    @Test("7.2.3.6-like: an empty message and empty fragments")
    func emptyMessages() throws {
        for parameters in [Self.takeover, Self.noTakeover] {
            let server = PerMessageDeflate(parameters: parameters, role: .server, configuration: Self.configuration)
            let client = PerMessageDeflate(parameters: parameters, role: .client, configuration: Self.configuration)
            let empty = try T.compress(server, [])
            #expect(try T.decompress(client, [empty]) == [])
            // Empty frames around data, and an empty final frame after a flushed one.
            let fragments = try T.compressFragments(server, Self.hello, sizes: [0, 5, 0])
            #expect(fragments.last == [], "a second sync flush without input produces nothing")
            #expect(try T.decompress(client, fragments) == Self.hello)
            // An empty payload alone is a valid compressed empty message (just the trailer).
            #expect(try T.decompress(client, [[]]) == [])
        }
    }

    // MARK: Round trips

    static let sizes = [0, 1, 2, 63, 64, 1000, 4096, 65_536, 1 << 20, 8 << 20]

    @Test("round trip, random and text-like payloads 0 B ... 8 MiB, whole and fragmented", arguments: sizes)
    func roundTrip(size: Int) throws {
        let windows = size > 65_536 ? [12] : [8, 9, 12, 15]
        for window in windows {
            for parameters in [PerMessageDeflateParameters(serverMaxWindowBits: window, clientMaxWindowBits: window),
                               PerMessageDeflateParameters(serverNoContextTakeover: true, clientNoContextTakeover: true,
                                                           serverMaxWindowBits: window, clientMaxWindowBits: window)] {
                let server = PerMessageDeflate(parameters: parameters, role: .server, configuration: Self.configuration)
                let client = PerMessageDeflate(parameters: parameters, role: .client, configuration: Self.configuration)
                for (index, message) in [T.randomBytes(size, seed: UInt64(size)), T.textBytes(size, seed: UInt64(size))].enumerated() {
                    // Twice, so the second message uses (or must not use) the first one's window.
                    for _ in 0..<2 {
                        let whole = try T.decompress(client, [T.compress(server, message)]) == message
                        #expect(whole, "size \(size) window \(window) kind \(index)")
                        let pieces = [1, 7, 100, 4096, 65_536].map { min($0, max(size / 3, 1)) }
                        let fragments = try T.compressFragments(client, message, sizes: pieces)
                        let fragmented = try T.decompress(server, fragments) == message
                        #expect(fragmented, "fragmented, size \(size) window \(window) kind \(index)")
                    }
                }
            }
        }
    }

    @Test("compressed frames may be re-split anywhere: inflate does not depend on frame boundaries")
    func resplitStream() throws {
        let message = T.textBytes(200_000, seed: 7)
        let server = PerMessageDeflate(parameters: Self.takeover, role: .server, configuration: Self.configuration)
        let payload = try T.compress(server, message)
        for pieces in [1, 2, 3, 17, 1000] {
            let client = PerMessageDeflate(parameters: Self.takeover, role: .client)
            let step = max(payload.count / pieces, 1)
            let fragments = stride(from: 0, to: payload.count, by: step).map { Array(payload[$0..<min($0 + step, payload.count)]) }
            let same = try T.decompress(client, fragments) == message
            #expect(same, "\(pieces) pieces")
        }
        // One byte per frame, the worst case for a streaming inflater.
        let client = PerMessageDeflate(parameters: Self.takeover, role: .client)
        let short = try T.compress(PerMessageDeflate(parameters: Self.takeover, role: .server, configuration: Self.configuration), Array(message.prefix(3000)))
        let same = try T.decompress(client, short.map { [$0] }) == Array(message.prefix(3000))
        #expect(same)
    }

    // MARK: 8-bit windows

    @Test("window 8: what we compress (zlib with 9) inflates with a 256-byte window, across messages")
    func eightBitWindow() throws {
        let parameters = PerMessageDeflateParameters(serverMaxWindowBits: 8, clientMaxWindowBits: 8)
        let server = PerMessageDeflate(parameters: parameters, role: .server, configuration: Self.configuration)
        // zlib used directly at windowBits 8, kept across messages like a peer with context
        // takeover: each message is inflated into its own buffer, so every reference into an
        // earlier message is checked against the 256-byte window.
        let reference = ReferenceInflater(windowBits: 8)
        let block = T.randomBytes(300, seed: 42)
        for seed in 0..<30 {
            let message = seed % 3 == 0 ? block : T.textBytes(20 + seed * 997, seed: UInt64(seed))
            let payload = try T.compress(server, message)
            let same = reference.inflate(payload) == message
            #expect(same, "message \(seed)")
        }
    }

    @Test("the window is enforced across messages: a reference 300 bytes back fails with window 8 (1002)")
    func windowEnforced() throws {
        let block = T.randomBytes(300, seed: 42)
        // Control: a compressor with a 1 KiB window refers back into the previous message.
        let wide = PerMessageDeflate(parameters: .init(serverMaxWindowBits: 10), role: .server, configuration: Self.configuration)
        let first = try T.compress(wide, block)
        let second = try T.compress(wide, block)
        #expect(second.count < 20, "the second copy is a back-reference")
        let narrow = PerMessageDeflate(parameters: .init(serverMaxWindowBits: 8), role: .client)
        #expect(try T.decompress(narrow, [first]) == block)
        #expect(T.protocolError { _ = try T.decompress(narrow, [second]) }?.closeCode == .protocolError)
        let enough = PerMessageDeflate(parameters: .init(serverMaxWindowBits: 10), role: .client)
        #expect(try T.decompress(enough, [first]) == block)
        #expect(try T.decompress(enough, [second]) == block)
        // And our 8-bit compressor never does that: the same two messages inflate with window 8.
        let eight = PerMessageDeflate(parameters: .init(serverMaxWindowBits: 8), role: .server, configuration: Self.configuration)
        let reference = ReferenceInflater(windowBits: 8)
        #expect(reference.inflate(try T.compress(eight, block)) == block)
        #expect(reference.inflate(try T.compress(eight, block)) == block)
    }

    // MARK: Bombs and corruption

    @Test("a 1 GiB decompression bomb fails with 1009 without allocating the gigabyte")
    func bomb() throws {
        // 1 GiB of zeros compressed in 256 fragments of 4 MiB: about 1 MiB of payload (at level 9,
        // as an attacker would make it; our default level 3 matches greedily: 4.5 MiB).
        let server = PerMessageDeflate(parameters: Self.takeover, role: .server,
                                       configuration: .init(compressionLevel: 9, compressionThreshold: 0))
        let zeros = [UInt8](repeating: 0, count: 4 << 20)
        let payload = DeflateBuffer()
        try zeros.withUnsafeBytes { chunk in
            for index in 0..<256 {
                try server.compress(fragment: chunk, isFinal: index == 255, into: payload)
            }
        }
        #expect(payload.count < 2 << 20)
        let client = PerMessageDeflate(parameters: Self.takeover, role: .client)
        let limit = 16 << 20
        let output = DeflateBuffer()
        let error = T.protocolError {
            try payload.withUnsafeBytes { bytes in
                _ = try client.decompress(fragment: bytes, isFinal: true, maximumMessageSize: limit, into: output)
            }
        }
        #expect(error?.closeCode == .messageTooBig)
        #expect(output.count == limit + 1, "stopped one byte past the limit")
        #expect(output.capacity <= 2 * limit, "no allocation in proportion to the bomb")
        #expect(client.zlibMemoryBytes == 0, "state released after the failure")
    }

    @Test("the limit is for the whole message across fragments, and exact sizes pass")
    func limitAcrossFragments() throws {
        let message = T.textBytes(10_000, seed: 3)
        let server = PerMessageDeflate(parameters: Self.takeover, role: .server, configuration: Self.configuration)
        let fragments = try T.compressFragments(server, message, sizes: [4000, 4000, 2000])
        let client = PerMessageDeflate(parameters: Self.takeover, role: .client)
        #expect(try T.decompress(client, fragments, limit: 10_000) == message)
        let strict = PerMessageDeflate(parameters: Self.takeover, role: .client)
        let server2 = PerMessageDeflate(parameters: Self.takeover, role: .server, configuration: Self.configuration)
        let again = try T.compressFragments(server2, message, sizes: [4000, 4000, 2000])
        #expect(T.protocolError { _ = try T.decompress(strict, again, limit: 9_999) }?.closeCode == .messageTooBig)
    }

    @Test("corrupt compressed data fails with 1002", arguments: [
        "ff ff ff",               // BTYPE 11 (reserved)
        "f2 00 11 00 00",         // distance beyond the (empty) window at the start of a stream
        "00 05 00 00 00 48 65",   // stored block whose NLEN is not the complement of LEN
        "f2 48 cd",               // message cut inside a block (final frame)
        "04 c0 81 08 00 00 00 00 20 7f eb 0b 00 00", // invalid Huffman code lengths (fuzz-found style)
    ])
    func corruption(hex: String) {
        let client = PerMessageDeflate(parameters: Self.takeover, role: .client)
        let error = T.protocolError { _ = try T.decompress(client, [T.hex(hex)]) }
        #expect(error?.closeCode == .protocolError, "\(hex): \(String(describing: error))")
        #expect(client.zlibMemoryBytes == 0)
    }

    @Test("threshold: small messages are not compressed")
    func threshold() {
        let codec = PerMessageDeflate(parameters: Self.takeover, role: .server)  // default threshold 64
        #expect(!codec.shouldCompress(messageSize: 63))
        #expect(codec.shouldCompress(messageSize: 64))
    }

    @Test("a loop-shared compressor is used only without context takeover, and gives the same bytes")
    func sharedCompressor() throws {
        let shared = DeflateCompressor(windowBits: 12, memoryLevel: 5, level: Self.configuration.compressionLevel)
        let parameters = PerMessageDeflateParameters(serverNoContextTakeover: true, serverMaxWindowBits: 12, clientMaxWindowBits: 12)
        let a = PerMessageDeflate(parameters: parameters, role: .server, configuration: Self.configuration, sharedCompressor: shared)
        let b = PerMessageDeflate(parameters: parameters, role: .server, configuration: Self.configuration, sharedCompressor: shared)
        let message = T.textBytes(5000, seed: 9)
        let first = try T.compress(a, message)
        #expect(try T.compress(b, message) == first)
        #expect(try T.compress(a, message) == first)
        #expect(a.zlibMemoryBytes == 0 && b.zlibMemoryBytes == 0 && shared.zlibMemoryBytes > 0)
        let client = PerMessageDeflate(parameters: parameters, role: .client)
        #expect(try T.decompress(client, [first]) == message)
        // With context takeover the shared compressor is ignored.
        let c = PerMessageDeflate(parameters: .init(serverMaxWindowBits: 12), role: .server, configuration: Self.configuration, sharedCompressor: shared)
        _ = try T.compress(c, message)
        #expect(c.zlibMemoryBytes > 0)
    }

    @Test("memory: defaults hold far less zlib state than 15/8")
    func memory() throws {
        func measure(_ configuration: PerMessageDeflateConfiguration, bits: Int) throws -> Int {
            let codec = PerMessageDeflate(parameters: .init(serverMaxWindowBits: bits, clientMaxWindowBits: bits), role: .server, configuration: configuration)
            let peer = PerMessageDeflate(parameters: .init(serverMaxWindowBits: bits, clientMaxWindowBits: bits), role: .client, configuration: configuration)
            let message = T.textBytes(100_000, seed: 1)
            _ = try T.decompress(codec, [T.compress(peer, message)])
            _ = try T.compress(codec, message)
            return codec.zlibMemoryBytes
        }
        let small = try measure(PerMessageDeflateConfiguration(compressionThreshold: 0), bits: 12)
        let large = try measure(PerMessageDeflateConfiguration(memoryLevel: 8, compressionThreshold: 0), bits: 15)
        #expect(small > 0 && small < 100_000, "\(small)")
        #expect(large > 3 * small, "\(large) vs \(small)")
    }
}

/// zlib raw inflate used directly, as an independent reference decoder that keeps its window
/// across messages (nil on error).
final class ReferenceInflater {
    private var stream = z_stream()

    init(windowBits: Int32) {
        precondition(inflateInit2_(&stream, -windowBits, zlibVersion(), Int32(MemoryLayout<z_stream>.size)) == Z_OK)
    }

    deinit { inflateEnd(&stream) }

    func inflate(_ payload: [UInt8]) -> [UInt8]? {
        var input = payload + [0x00, 0x00, 0xFF, 0xFF]
        var output = [UInt8](repeating: 0, count: 4 << 20)
        let before = stream.total_out
        let status = input.withUnsafeMutableBufferPointer { inputBuffer in
            output.withUnsafeMutableBufferPointer { outputBuffer in
                stream.next_in = inputBuffer.baseAddress
                stream.avail_in = uInt(inputBuffer.count)
                stream.next_out = outputBuffer.baseAddress
                stream.avail_out = uInt(outputBuffer.count)
                return CZlib.inflate(&stream, Z_SYNC_FLUSH)
            }
        }
        guard status == Z_OK, stream.avail_in == 0 else { return nil }
        return Array(output.prefix(Int(stream.total_out - before)))
    }
}
