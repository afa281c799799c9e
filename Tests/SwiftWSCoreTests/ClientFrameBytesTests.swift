import Testing
@testable import SwiftWSCore

/// The key of the RFC 6455 section 5.7 examples, in wire order.
private let rfcKey: (UInt8, UInt8, UInt8, UInt8) = (0x37, 0xfa, 0x21, 0x3d)

/// A client session whose masking keys are `keys` in turn, so its output is known byte for byte.
private func client(keys: [(UInt8, UInt8, UInt8, UInt8)] = [rfcKey]) -> Session {
    clientSession { $0.maskKeys = .fixed(keys) }
}

/// `payload` masked with `key` (RFC 6455 section 5.3), computed here independently of `Masking`.
private func masked(_ payload: [UInt8], _ key: (UInt8, UInt8, UInt8, UInt8)) -> [UInt8] {
    let k = [key.0, key.1, key.2, key.3]
    return payload.enumerated().map { $0.element ^ k[$0.offset % 4] }
}

@Suite("Client frames byte for byte (RFC 6455 5.3, 5.7) with an injected mask-key source")
struct ClientFrameBytesTests {
    @Test("5.7: a single-frame masked text message \"Hello\" is 81 85 37 fa 21 3d 7f 9f 4d 51 58")
    func maskedHello() throws {
        let session = client()
        try session.send(text: "Hello")
        #expect(session.takeOutput() == [0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58])
    }

    @Test("5.7: the masked pong answering an unmasked ping \"Hello\" is 8a 85 37 fa 21 3d 7f 9f 4d 51 58")
    func maskedPongAnswersPing() {
        let session = client()
        #expect(session.feed([0x89, 0x05, 0x48, 0x65, 0x6c, 0x6c, 0x6f]) == [.ping(Array("Hello".utf8))])
        #expect(session.takeOutput() == [0x8a, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58])
    }

    @Test("5.4, 5.7: a fragmented text message takes one key per frame, in turn")
    func fragmentsTakeKeysInTurn() throws {
        let second: (UInt8, UInt8, UInt8, UInt8) = (0x01, 0x02, 0x03, 0x04)
        let session = client(keys: [rfcKey, second])
        try Array("Hel".utf8).withUnsafeBytes { try session.sendFragment(.text, $0, isFinal: false) }
        try Array("lo".utf8).withUnsafeBytes { try session.sendFragment(.text, $0, isFinal: true) }
        try session.send(text: "!")  // the keys start again from the first
        let expected: [UInt8] = [0x01, 0x83, 0x37, 0xfa, 0x21, 0x3d] + masked(Array("Hel".utf8), rfcKey)
            + [0x80, 0x82, 0x01, 0x02, 0x03, 0x04] + masked(Array("lo".utf8), second)
            + [0x81, 0x81, 0x37, 0xfa, 0x21, 0x3d] + masked(Array("!".utf8), rfcKey)
        #expect(session.takeOutput() == expected)
    }

    @Test("5.2, 5.7: 256 bytes and 64 KiB binary messages use the 16-bit and 64-bit lengths, masked")
    func extendedLengths() throws {
        let session = client()
        let small = (0..<256).map { UInt8(truncatingIfNeeded: $0) }
        let large = (0..<65_536).map { UInt8(truncatingIfNeeded: $0 &* 7) }
        try small.withUnsafeBytes { try session.send(binary: $0) }
        #expect(session.takeOutput() == [0x82, 0xfe, 0x01, 0x00, 0x37, 0xfa, 0x21, 0x3d] + masked(small, rfcKey))
        try large.withUnsafeBytes { try session.send(binary: $0) }
        #expect(session.takeOutput()
            == [0x82, 0xff, 0, 0, 0, 0, 0, 1, 0, 0, 0x37, 0xfa, 0x21, 0x3d] + masked(large, rfcKey))
    }

    @Test("5.5.1: a client's close frame with code 1000 and a reason, masked")
    func maskedClose() throws {
        let session = client()
        try session.close(code: .normalClosure, reason: "bye")
        #expect(session.takeOutput() == [0x88, 0x85, 0x37, 0xfa, 0x21, 0x3d] + masked([0x03, 0xe8] + Array("bye".utf8), rfcKey))
    }

    @Test("5.3: an empty payload still carries its key; ping with a payload is masked")
    func emptyAndPing() throws {
        let session = client()
        try session.send(text: "")
        try Array("ab".utf8).withUnsafeBytes { try session.ping($0) }
        #expect(session.takeOutput() == [0x81, 0x80, 0x37, 0xfa, 0x21, 0x3d, 0x89, 0x82, 0x37, 0xfa, 0x21, 0x3d]
            + masked(Array("ab".utf8), rfcKey))
    }

    @Test("the default source is the secure random one, and fresh keys differ from frame to frame")
    func defaultIsSecureRandom() throws {
        #expect(SessionConfiguration(role: .client).maskKeys == .secureRandom)
        #expect(MaskKeySource.fixed([]).isSecureRandom)
        let session = clientSession()
        var keys = Set<[UInt8]>()
        for _ in 0..<64 {
            try session.send(text: "x")
            keys.insert(Array(session.takeOutput()[2..<6]))
        }
        // 64 draws of 32 random bits: a repeat has probability about 5e-7.
        #expect(keys.count == 64)
    }

    @Test("servers never mask, whatever the source says")
    func serversIgnoreTheSource() throws {
        let session = serverSession { $0.maskKeys = .fixed([rfcKey]) }
        try session.send(text: "Hello")
        #expect(session.takeOutput() == [0x81, 0x05] + Array("Hello".utf8))
    }
}
