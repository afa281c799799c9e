import Glibc
import Testing
@testable import SwiftWSCore

/// The masking key of the RFC 6455 section 5.7 examples, 37 fa 21 3d, as `FrameHeader.maskKey`.
let rfcMaskKey: UInt32 = 0x3d21_fa37
let hello: [UInt8] = Array("Hello".utf8)

@Suite("Frames: RFC 6455 5.7 examples")
struct FrameRFCExampleTests {
    static let unmaskedHello: [UInt8] = [0x81, 0x05, 0x48, 0x65, 0x6c, 0x6c, 0x6f]
    static let maskedHello: [UInt8] = [0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58]
    static let fragmentedHello: [UInt8] = [0x01, 0x03, 0x48, 0x65, 0x6c, 0x80, 0x02, 0x6c, 0x6f]
    static let unmaskedPing: [UInt8] = [0x89, 0x05, 0x48, 0x65, 0x6c, 0x6c, 0x6f]
    static let maskedPong: [UInt8] = [0x8a, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58]

    @Test func encodeUnmaskedText() {
        #expect(frame(0x1, hello, maskKey: nil) == Self.unmaskedHello)
    }

    @Test func encodeMaskedText() {
        #expect(frame(0x1, hello, maskKey: rfcMaskKey) == Self.maskedHello)
    }

    @Test func encodeFragmentedText() {
        let bytes = frame(0x1, Array("Hel".utf8), fin: false, maskKey: nil) + frame(0x0, Array("lo".utf8), maskKey: nil)
        #expect(bytes == Self.fragmentedHello)
    }

    @Test func encodePingAndMaskedPong() {
        #expect(frame(0x9, hello, maskKey: nil) == Self.unmaskedPing)
        #expect(frame(0xA, hello, maskKey: rfcMaskKey) == Self.maskedPong)
    }

    @Test func encodeBinaryHeaders256And64K() {
        let b256 = frame(0x2, [UInt8](repeating: 7, count: 256), maskKey: nil)
        #expect(Array(b256.prefix(4)) == [0x82, 0x7E, 0x01, 0x00])
        #expect(b256.count == 4 + 256)
        let b64k = frame(0x2, [UInt8](repeating: 7, count: 65536), maskKey: nil)
        #expect(Array(b64k.prefix(10)) == [0x82, 0x7F, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00])
        #expect(b64k.count == 10 + 65536)
    }

    @Test func serverFrameForBroadcastIsTheUnmaskedEncoding() {
        let built = hello.withUnsafeBytes { FrameEncoder.serverFrame(opcode: .text, payload: $0) }
        #expect(built == Self.unmaskedHello)
    }

    @Test func clientParsesUnmaskedText() {
        #expect(clientSession().feed(Self.unmaskedHello) == [.text(hello)])
    }

    @Test func serverParsesMaskedText() {
        #expect(serverSession().feed(Self.maskedHello) == [.text(hello)])
    }

    @Test func clientParsesFragmentedText() {
        #expect(clientSession().feed(Self.fragmentedHello) == [.text(hello)])
    }

    @Test func clientParsesPingAndAnswersWithMaskedPong() {
        let client = clientSession()
        #expect(client.feed(Self.unmaskedPing) == [.ping(hello)])
        #expect(client.takeOutputFrames() == [WireFrame(opcode: .pong, isFinal: true, payload: hello)])
    }

    @Test func serverParsesMaskedPong() {
        #expect(serverSession().feed(Self.maskedPong) == [.pong(hello)])
    }

    @Test func parseBinaryHeaders256And64K() {
        for size in [256, 65536] {
            let payload = (0..<size).map { UInt8(truncatingIfNeeded: $0) }
            #expect(clientSession().feed(frame(0x2, payload, maskKey: nil)) == [.binary(payload)])
        }
    }

    @Test func parserReportsTheRFCHeaderFields() {
        Self.maskedHello.withUnsafeBytes { raw in
            let result = FrameHeaderParser.parse(raw, role: .server, allowsRSV1: false)
            #expect(result == .header(FrameHeader(isFinal: true, opcode: .text, maskKey: rfcMaskKey, payloadLength: 5)))
            if case .header(let header) = result { #expect(header.headerLength == 6) }
        }
    }
}

@Suite("Frames: header parser (RFC 6455 5.2)")
struct FrameHeaderParserTests {
    private func parse(_ bytes: [UInt8], role: Role = .server, allowsRSV1: Bool = false) -> FrameHeaderParseResult {
        bytes.withUnsafeBytes { FrameHeaderParser.parse($0, role: role, allowsRSV1: allowsRSV1) }
    }

    @Test func everyPrefixOfAValidHeaderNeedsMoreData() {
        let full = frame(0x2, [UInt8](repeating: 0, count: 70000))
        for length in 0..<14 {
            #expect(parse(Array(full.prefix(length))) == .needMoreData, "prefix \(length)")
        }
        guard case .header(let header) = parse(Array(full.prefix(14))) else {
            Issue.record("complete header not parsed"); return
        }
        #expect(header.payloadLength == 70000)
        #expect(header.headerLength == 14)
    }

    @Test func nonMinimalLengthEncodingsAreAccepted() {
        // 5 bytes announced with the 16-bit and the 64-bit forms (RFC binds senders only).
        let sixteen: [UInt8] = [0x82, 0xFE, 0x00, 0x05, 1, 2, 3, 4]
        let sixtyFour: [UInt8] = [0x82, 0xFF, 0, 0, 0, 0, 0, 0, 0, 5, 1, 2, 3, 4]
        guard case .header(let a) = parse(sixteen), case .header(let b) = parse(sixtyFour) else {
            Issue.record("non-minimal length rejected"); return
        }
        #expect(a.payloadLength == 5 && a.headerLength == 8)
        #expect(b.payloadLength == 5 && b.headerLength == 14)
    }

    @Test func failsFastOnTheFirstByte() {
        // Reserved opcode and RSV bits are reported before the second byte arrives.
        #expect(parse([0x83]) == .failure(.protocolViolation("reserved opcode")))
        #expect(parse([0xA1]) == .failure(.protocolViolation("reserved bits RSV2/RSV3 set")))
        #expect(parse([0x09]) == .failure(.protocolViolation("fragmented control frame")))
    }

    @Test func msbOfA64BitLengthFailsAtTheThirdByte() {
        #expect(parse([0x82, 0xFF, 0x80]) == .failure(.protocolViolation("64-bit payload length with the most significant bit set")))
    }

    /// picohttpparser's trick: the input ends right before an unreadable page, so any read past
    /// the end crashes the test at once.
    @Test func neverReadsPastTheEndOfTheInput() throws {
        let page = Int(sysconf(Int32(_SC_PAGESIZE)))
        guard let mapping = mmap(nil, 2 * page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0),
              mapping != MAP_FAILED else { Issue.record("mmap failed"); return }
        defer { munmap(mapping, 2 * page) }
        #expect(mprotect(mapping + page, page, PROT_NONE) == 0)
        let full = frame(0x2, [UInt8](repeating: 0, count: 70000))
        let header = Array(full.prefix(14))
        var rng = SeededGenerator(seed: 7)
        for length in 0...14 {
            let start = mapping + page - length
            header.withUnsafeBytes { start.copyMemory(from: $0.baseAddress!, byteCount: length) }
            _ = FrameHeaderParser.parse(UnsafeRawBufferPointer(start: start, count: length), role: .server, allowsRSV1: false)
            let raw = UnsafeMutableRawBufferPointer(start: start, count: length)
            _ = UTF8Validator.isValid(UnsafeRawBufferPointer(raw))
            Masking.apply(maskKey: UInt32.random(in: 0...UInt32.max, using: &rng), to: raw, payloadOffset: length)
        }
        // A whole session on input that ends at the guard page, split and whole.
        let stream = frame(0x1, hello) + frame(0x9, [1, 2]) + frame(0x2, [UInt8](repeating: 9, count: 300))
        let start = mapping + page - stream.count
        stream.withUnsafeBytes { start.copyMemory(from: $0.baseAddress!, byteCount: stream.count) }
        var events: [RecordedEvent] = []
        serverSession().receive(UnsafeMutableRawBufferPointer(start: start, count: stream.count)) { events.append(RecordedEvent($0)) }
        #expect(events == [.text(hello), .ping([1, 2]), .binary([UInt8](repeating: 9, count: 300))])
    }
}
