import Testing
@testable import SwiftWSCore

/// `Session.send(_:_:directWrite:)`: a server payload goes to the caller with its header instead
/// of being copied into the output, with the same checks as every send; anything else (client
/// role, compressed, output already queued) is queued as before.
@Suite("Session: payloads written by the caller")
struct SessionDirectWriteTests {
    /// Calls the direct send and returns what `directWrite` received (nil when it was not called).
    func directSend(_ session: Session, _ kind: MessageKind, _ payload: [UInt8]) throws -> [UInt8]? {
        var written: [UInt8]?
        let direct = try payload.withUnsafeBytes { bytes in
            try session.send(kind, bytes) { header, body in
                #expect(written == nil, "directWrite is called once")
                #expect(body.baseAddress == bytes.baseAddress, "the payload is the caller's buffer, not a copy")
                written = Array(header) + Array(body)
            }
        }
        #expect(direct == (written != nil))
        return written
    }

    @Test(arguments: [0, 1, 32, 125, 126, 65_535, 65_536, 1 << 20])
    func aServerPayloadIsHandedOverWithItsHeader(size: Int) throws {
        let server = serverSession()
        let payload = (0..<size).map { UInt8(truncatingIfNeeded: $0 % 26 + 97) }
        let written = try #require(try directSend(server, .text, payload))
        #expect(server.pendingOutputCount == 0, "nothing was copied into the output")
        // The bytes are exactly the frame the output would have held: a client decodes them.
        #expect(written == frame(0x1, payload, maskKey: nil))
        #expect(clientSession().feed(written) == [.text(payload)])
    }

    @Test func theSameRulesAsEverySend() throws {
        let server = serverSession()
        let invalid = [UInt8](repeating: 0xC0, count: 16 * 1024)
        #expect(throws: SessionError.invalidUTF8) { _ = try directSend(server, .text, invalid) }
        try ([0x41] as [UInt8]).withUnsafeBytes { try server.sendFragment(.binary, $0, isFinal: false) }
        let large = [UInt8](repeating: 1, count: 16 * 1024)
        #expect(throws: SessionError.fragmentedMessageInProgress) { _ = try directSend(server, .binary, large) }
        let closing = serverSession()
        try closing.close(code: .normalClosure, reason: "")
        #expect(throws: SessionError.closed) { _ = try directSend(closing, .binary, large) }
    }

    @Test func otherwiseTheFrameIsQueuedAsBefore() throws {
        let large = [UInt8](repeating: 7, count: 16 * 1024)
        let server = serverSession()
        // Output already queued (a pong, say): the order of frames must hold.
        try ([1] as [UInt8]).withUnsafeBytes { try server.ping($0) }
        #expect(try directSend(server, .binary, large) == nil)
        #expect(server.takeOutput() == frame(0x9, [1], maskKey: nil) + frame(0x2, large, maskKey: nil))
        // Compressed: the compressor writes into the session's buffer, framed in the output.
        var configuration = SessionConfiguration(role: .server)
        configuration.allowsRSV1 = true
        let compressing = Session(configuration: configuration, perMessageDeflate: PerMessageDeflate(
            parameters: .init(), role: .server, configuration: .init(compressionThreshold: 0)))
        #expect(try directSend(compressing, .binary, large) == nil)
        let compressed = compressing.takeOutput()
        #expect(compressed.count < large.count / 10 && compressed.first == 0xC2, "RSV1 set: compressed")
        // A client masks its frames: they are built in the output.
        let client = clientSession()
        #expect(try directSend(client, .binary, large) == nil)
        #expect(serverSession().feed(client.takeOutput()) == [.binary(large)])
    }
}
