import Testing
@testable import SwiftWSCore

private func closeFrame(_ code: UInt16?, _ reason: [UInt8] = [], maskKey: UInt32? = 0x0BAD_CAFE) -> [UInt8] {
    guard let code else { return frame(0x8, [], maskKey: maskKey) }
    return frame(0x8, [UInt8(code >> 8), UInt8(code & 0xFF)] + reason, maskKey: maskKey)
}

@Suite("Session: close handshake (RFC 6455 5.5.1, 7)")
struct SessionCloseTests {
    @Test func peerCloseIsEchoedWithTheSameCode() {
        let session = serverSession()
        #expect(session.feed(closeFrame(1001, Array("bye".utf8))) == [.closeReceived(code: 1001, reason: "bye")])
        let frames = session.takeOutputFrames()
        #expect(frames == [WireFrame(opcode: .close, isFinal: true, payload: [0x03, 0xE9])])
        #expect(session.closeStatus == CloseStatus(code: .goingAway, reason: "bye"))
        #expect(session.state == .closed && session.shouldCloseTransport)
        #expect(session.closesTransportFirst)  // server closes TCP first (7.1.1)
    }

    @Test func emptyCloseIsAnsweredWithAnEmptyClose() {
        let session = serverSession()
        #expect(session.feed(closeFrame(nil)) == [.closeReceived(code: nil, reason: "")])
        #expect(session.takeOutputFrames() == [WireFrame(opcode: .close, isFinal: true, payload: [])])
        #expect(session.closeStatus?.code == .noStatusReceived)
    }

    @Test func clientWaitsForTheServerToCloseTheTransport() {
        let client = clientSession()
        #expect(client.feed(closeFrame(1000, maskKey: nil)) == [.closeReceived(code: 1000, reason: "")])
        #expect(client.shouldCloseTransport)
        #expect(!client.closesTransportFirst)
        #expect(client.takeOutputFrames().map(\.closeCode) == [1000])
        var events: [RecordedEvent] = []
        client.receiveEndOfStream { events.append(RecordedEvent($0)) }
        #expect(events.isEmpty)  // a clean close stays clean
        #expect(client.closeStatus?.code == .normalClosure)
    }

    @Test func closePayloadOfOneByteFails() {
        expectFailure(serverSession(), after: frame(0x8, [0x03]), code: 1002)
    }

    @Test(arguments: [0, 999, 1004, 1005, 1006, 1015, 1016, 2999, 5000, 65535] as [UInt16])
    func invalidCloseCodeOnTheWireFails(code: UInt16) {
        expectFailure(serverSession(), after: closeFrame(code), code: 1002)
    }

    @Test(arguments: [1000, 1003, 1007, 1011, 1014, 3000, 4999] as [UInt16])
    func validCloseCodesAreEchoed(code: UInt16) {
        let session = serverSession()
        #expect(session.feed(closeFrame(code)) == [.closeReceived(code: code, reason: "")])
        #expect(session.takeOutputFrames().map(\.closeCode) == [code])
    }

    @Test func invalidUTF8InCloseReasonFails() {
        expectFailure(serverSession(), after: closeFrame(1000, [0x61, 0xED, 0xA0, 0x80]), code: 1007)
    }

    @Test func closeBetweenFragmentsIsAnsweredNormally() {
        let session = serverSession()
        let events = session.feed(frame(0x1, Array("Hel".utf8), fin: false) + closeFrame(1000) + frame(0x0, Array("lo".utf8)))
        #expect(events == [.closeReceived(code: 1000, reason: "")])
        #expect(session.takeOutputFrames().map(\.closeCode) == [1000])
    }

    @Test func dataAfterCloseIsNotAccepted() {
        let session = serverSession()
        #expect(session.feed(closeFrame(1000) + frame(0x1, hello) + frame(0x9, [1])) == [.closeReceived(code: 1000, reason: "")])
        #expect(session.takeOutputFrames().map(\.opcode) == [.close])  // no pong either
    }

    @Test func sendingAfterCloseThrows() throws {
        let session = serverSession()
        try session.close(code: .normalClosure, reason: "done")
        #expect(session.state == .closing)
        #expect(throws: SessionError.closed) { try hello.withUnsafeBytes { try session.send(text: $0) } }
        #expect(throws: SessionError.closed) { try session.ping() }
        #expect(throws: SessionError.closed) { try session.close() }
        #expect(throws: SessionError.closed) { try hello.withUnsafeBytes { try session.sendFragment(.binary, $0, isFinal: true) } }
        let frames = session.takeOutputFrames()
        #expect(frames == [WireFrame(opcode: .close, isFinal: true, payload: [0x03, 0xE8] + Array("done".utf8))])
    }

    @Test func messagesStillArriveWhileClosingAndThePeerCloseCompletesIt() throws {
        let session = serverSession()
        try session.close(code: .goingAway)
        _ = session.takeOutput()
        #expect(session.feed(frame(0x1, hello) + frame(0x9, [1])) == [.text(hello), .ping([1])])
        #expect(session.pendingOutputCount == 0)  // no pong after our close
        #expect(session.feed(closeFrame(1001)) == [.closeReceived(code: 1001, reason: "")])
        #expect(session.pendingOutputCount == 0)  // no second close
        #expect(session.state == .closed && session.shouldCloseTransport)
    }

    @Test func endOfStreamBeforeCloseIs1006() {
        let session = serverSession()
        _ = session.feed(Array(frame(0x1, hello).prefix(4)))
        var events: [RecordedEvent] = []
        session.receiveEndOfStream { events.append(RecordedEvent($0)) }
        #expect(events.map(\.failureCode) == [1006])
        #expect(session.closeStatus?.code == .abnormalClosure)
        #expect(session.pendingOutputCount == 0)  // nothing to send on a dead transport
        #expect(session.shouldCloseTransport && session.closesTransportFirst)
    }

    @Test func closeArgumentsAreChecked() {
        let session = serverSession()
        #expect(throws: SessionError.invalidCloseCode) { try session.close(code: .noStatusReceived) }
        #expect(throws: SessionError.invalidCloseCode) { try session.close(code: CloseCode(999)) }
        #expect(throws: SessionError.closeReasonTooLong) { try session.close(reason: String(repeating: "x", count: 124)) }
        #expect(session.pendingOutputCount == 0 && session.state == .open)
    }

    @Test func failureReasonIsTruncatedOnACharacterBoundary() {
        let long = String(repeating: "é", count: 100)  // 200 bytes
        let truncated = ClosePayload.truncatedReason(long)
        #expect(truncated.count == 122)
        #expect(String(truncated) == String(repeating: "é", count: 61))
    }
}
