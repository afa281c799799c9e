import Testing
@testable import SwiftWSCore

private typealias T = DeflateTestSupport

/// The one-frame fast path of `DeflateDecompressor` (a final frame of an empty message, on a stream
/// in use, with output room that cannot exceed the limit) against the general loop, which a fresh
/// output buffer (no spare capacity) always takes. Both must give the same bytes or the same
/// close code (RFC 7692 7.2.2, RFC 6455 7.4.1), and the fast path hands every unusual call over to
/// the loop.
@Suite("permessage-deflate inflate fast path (RFC 7692 7.2.2)")
struct DeflateFastPathTests {
    static let takeover = PerMessageDeflateParameters()
    static let configuration = PerMessageDeflateConfiguration(compressionThreshold: 0)
    static let hello = Array("Hello".utf8)

    /// A client codec whose inflate stream is in use (one "Hello" inflated), so that the next
    /// message may take the fast path.
    static func warmClient() throws -> PerMessageDeflate {
        let client = PerMessageDeflate(parameters: takeover, role: .client)
        #expect(try T.decompress(client, [T.hex("f2 48 cd c9 c9 07 00")]) == hello)
        return client
    }

    /// Inflates one whole-message frame into `output` (emptied first, capacity kept).
    static func decompress(
        _ codec: PerMessageDeflate, _ payload: [UInt8], into output: DeflateBuffer, limit: Int = 64 << 20
    ) -> Result<[UInt8], ProtocolError> {
        output.removeAll()
        return payload.withUnsafeBytes { bytes in
            do throws(ProtocolError) {
                try codec.decompress(fragment: bytes, isFinal: true, maximumMessageSize: limit, into: output)
                return .success(output.array)
            } catch { return .failure(error) }
        }
    }

    /// Expected result: the inflated text, or nil for 1002.
    static let cases: [(hex: String, expected: String?)] = [
        ("f2 48 cd c9 c9 07 00", "Hello"),                      // 7.2.3.1: trailer needed
        ("f2 00 11 00 00", "Hello"),                            // 7.2.3.2: refers to the warm-up message
        ("f2 48 cd c9 c9 07 00 00 00 ff ff", "Hello"),          // trailer not stripped: no second call
        ("00 05 00 fa ff 48 65 6c 6c 6f 00", "Hello"),          // 7.2.3.3: stored block
        ("f3 48 cd c9 c9 07 00 00", "Hello"),                   // 7.2.3.4: BFINAL (Z_STREAM_END)
        ("f3 48 cd c9 c9 07 00", "Hello"),                      // BFINAL without the 00 octet
        ("f2 48 05 00 00 00 ff ff ca c9 c9 07 00", "Hello"),    // 7.2.3.5: two blocks
        ("", ""),                                               // empty payload
        ("ff ff ff", nil),                                      // BTYPE 11
        ("00 05 00 00 00 48 65", nil),                          // NLEN not the complement of LEN
        ("f2 48 cd", nil),                                      // cut inside a block
        ("00 05 00 fa ff 48 65", nil),                          // cut inside a stored block: the trailer
                                                                // becomes data, then BTYPE 11
        ("04 c0 81 08 00 00 00 00 20 7f eb 0b 00 00", nil),     // invalid code lengths
    ]

    @Test("warm stream and reused output: same bytes or close code as the general loop", arguments: cases)
    func sameAsGeneralLoop(hex: String, expected: String?) throws {
        let payload = T.hex(hex)
        // General loop: a fresh buffer has no spare capacity.
        let general = try Self.warmClient()
        let slow = Self.decompress(general, payload, into: DeflateBuffer())
        // Fast path: spare capacity 4096 (>= 256, <= the limit), message empty so far.
        let fast = try Self.warmClient()
        let output = DeflateBuffer(initialCapacity: 4096)
        let quick = Self.decompress(fast, payload, into: output)
        switch (slow, quick, expected) {
        case let (.success(a), .success(b), expected?):
            #expect(a == Array(expected.utf8))
            #expect(b == Array(expected.utf8))
            // The window is intact: the next message refers back into it.
            #expect(try Self.decompress(fast, T.hex("f2 00 11 00 00"), into: output).get() == Self.hello)
        case let (.failure(a), .failure(b), nil):
            #expect(a.closeCode == .protocolError)
            #expect(b.closeCode == .protocolError)
            #expect(fast.zlibMemoryBytes == 0, "state released after the failure")
        default:
            Issue.record("\(hex): general \(slow), fast \(quick), expected \(String(describing: expected))")
        }
    }

    @Test("the limit on the fast path: output room equal to the limit, exact size passes, one more byte is 1009")
    func limit() throws {
        for (size, limit, passes) in [(4096, 4096, true), (4097, 4096, false), (9000, 10_000, true), (10_001, 10_000, false)] {
            let message = T.randomBytes(size, seed: UInt64(size))  // stored blocks: the output fills exactly
            let server = PerMessageDeflate(parameters: Self.takeover, role: .server, configuration: Self.configuration)
            _ = try T.compress(server, Self.hello)
            let payload = try T.compress(server, message)
            let client = try Self.warmClient()
            let output = DeflateBuffer(initialCapacity: 4096)
            let result = Self.decompress(client, payload, into: output, limit: limit)
            if passes {
                #expect(try result.get() == message, "\(size) within \(limit)")
            } else {
                #expect(T.protocolError { _ = try result.get() }?.closeCode == .messageTooBig, "\(size) over \(limit)")
                #expect(output.count == limit + 1, "stopped one byte past the limit")
            }
        }
    }

    @Test("a stream of messages of every size through one reused output buffer")
    func reusedBuffer() throws {
        let server = PerMessageDeflate(parameters: Self.takeover, role: .server, configuration: Self.configuration)
        let client = PerMessageDeflate(parameters: Self.takeover, role: .client)
        let output = DeflateBuffer()
        for (index, size) in [0, 1, 100, 1024, 300, 5000, 70_000, 1024, 0, 64, 200_000, 1024, 17].enumerated() {
            for message in [T.randomBytes(size, seed: UInt64(index)), T.textBytes(size, seed: UInt64(index))] {
                let payload = try T.compress(server, message)
                #expect(try Self.decompress(client, payload, into: output).get() == message, "size \(size)")
            }
        }
    }

    @Test("a limit of Int.max does not overflow the room computation")
    func unlimited() throws {
        let message = T.textBytes(5000, seed: 9)
        let server = PerMessageDeflate(parameters: Self.takeover, role: .server, configuration: Self.configuration)
        let payload = try T.compress(server, message)
        let client = PerMessageDeflate(parameters: Self.takeover, role: .client)
        #expect(try Self.decompress(client, payload, into: DeflateBuffer(), limit: Int.max).get() == message)
        let next = try T.compress(server, message)  // warm stream, spare room: the fast path's guard
        #expect(try Self.decompress(client, next, into: DeflateBuffer(initialCapacity: 4096), limit: Int.max).get() == message)
    }
}
