import Testing
@testable import SwiftWSCore

/// The upgrade policy every server uses (WebSocketServer, the C sans-I/O handshake): default
/// subprotocol choice, permessage-deflate negotiation and the 101, in one place.
@Suite("Upgrade policy: subprotocol, permessage-deflate, 101 (RFC 6455 4.2.2, RFC 7692 5)")
struct UpgradePolicyTests {
    static func request(extra: String) throws -> UpgradeRequest {
        var handshake = ServerHandshake()
        let text = "GET /chat HTTP/1.1\r\nHost: example.com\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            + "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\(extra)\r\n"
        return try #require(feed(Array(text.utf8)) { c throws(HandshakeError) in try handshake.receive(c) }.value)
    }

    @Test func theFirstSupportedSubprotocolTheClientOfferedIsChosen() throws {
        let request = try Self.request(extra: "Sec-WebSocket-Protocol: chat, superchat\r\n")
        #expect(request.preferredSubprotocol(from: ["superchat", "chat"]) == "superchat")
        #expect(request.preferredSubprotocol(from: ["other"]) == nil)
    }

    @Test func acceptNegotiatesDeflateAndWritesOneResponse() throws {
        let request = try Self.request(extra: "Sec-WebSocket-Protocol: chat\r\n"
                                       + "Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\r\n")
        var headers = HTTPHeaders()
        headers.append(name: "X-Served-By", value: "test")
        let answer = try request.accept(subprotocol: "chat", deflate: PerMessageDeflateConfiguration(), headers: headers)
        let text = String(decoding: answer.response, as: UTF8.self)
        #expect(text.hasPrefix("HTTP/1.1 101 Switching Protocols\r\n"))
        #expect(text.contains("\r\nSec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n"))
        #expect(text.contains("\r\nSec-WebSocket-Protocol: chat\r\n"))
        #expect(text.contains("\r\nSec-WebSocket-Extensions: permessage-deflate"))
        #expect(text.contains("\r\nX-Served-By: test\r\n"))
        #expect(answer.subprotocol == "chat" && answer.deflate != nil)
        // Compression off: the offer is declined, not failed.
        let plain = try request.accept(subprotocol: nil, deflate: .disabled)
        #expect(plain.deflate == nil)
        #expect(!String(decoding: plain.response, as: UTF8.self).contains("Sec-WebSocket-Extensions"))
    }

    @Test func aSubprotocolTheClientDidNotOfferIsRefused() throws {
        let request = try Self.request(extra: "Sec-WebSocket-Protocol: chat\r\n")
        #expect(throws: HandshakeError.self) { try request.accept(subprotocol: "other", deflate: .disabled) }
    }
}
