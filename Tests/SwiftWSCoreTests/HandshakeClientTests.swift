import Testing
@testable import SwiftWSCore

/// Client side of the opening handshake, RFC 6455 section 4.1: the request we send and the
/// validation of the server's response, each failure asserted exactly.
@Suite("Handshake client (RFC 6455 4.1)")
struct HandshakeClientTests {
    /// The RFC's sample nonce, so the expected accept value is the RFC's.
    static let sampleKeyBytes = Array("the sample nonce".utf8)

    func client(host: String = "server.example.com", port: Int? = nil, secure: Bool = false, path: String = "/chat",
                query: String? = nil, origin: String? = nil, subprotocols: [String] = [], extensions: [ExtensionOffer] = [],
                headers: HTTPHeaders = HTTPHeaders()) throws -> ClientHandshake {
        try ClientHandshake(host: host, port: port, secure: secure, path: path, query: query, origin: origin,
                            subprotocols: subprotocols, extensions: extensions, headers: headers,
                            limits: HTTPHeadLimits(), keyBytes: HandshakeClientTests.sampleKeyBytes)
    }

    /// The outcome of `response`, checked to be the same whole, byte by byte and in 5-byte chunks.
    func outcome(_ handshake: ClientHandshake, _ response: [UInt8]) -> FeedOutcome<ServerAnswer> {
        var outcomes: [FeedOutcome<ServerAnswer>] = []
        for chunkSize in [nil, 1, 5] {
            var copy = handshake
            outcomes.append(feed(response, chunkSize: chunkSize) { chunk throws(HandshakeError) in try copy.receive(chunk) })
        }
        #expect(outcomes.allSatisfy { $0 == outcomes[0] }, "chunking changed the outcome: \(outcomes)")
        return outcomes[0]
    }

    func response(status: String = "101 Switching Protocols", removing removed: [String] = [], extra: [String] = []) -> [UInt8] {
        var lines = ["Upgrade: websocket", "Connection: Upgrade", "Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo="]
        lines.removeAll { line in removed.contains { line.hasPrefix($0 + ":") } }
        lines += extra
        return Array(("HTTP/1.1 \(status)\r\n" + lines.map { $0 + "\r\n" }.joined() + "\r\n").utf8)
    }

    @Test func requestBytesFollowSection41() throws {
        let handshake = try client(query: "room=1", origin: "http://example.com", subprotocols: ["chat", "superchat"],
                                   extensions: [ExtensionOffer(name: "permessage-deflate", parameters: [.init("client_max_window_bits")])],
                                   headers: HTTPHeaders([("Authorization", "Bearer t")]))
        #expect(handshake.key == "dGhlIHNhbXBsZSBub25jZQ==")
        #expect(handshake.expectedAccept == "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=")
        #expect(String(decoding: handshake.requestBytes, as: UTF8.self) == """
            GET /chat?room=1 HTTP/1.1\r
            Host: server.example.com\r
            Upgrade: websocket\r
            Connection: Upgrade\r
            Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r
            Sec-WebSocket-Version: 13\r
            Origin: http://example.com\r
            Sec-WebSocket-Protocol: chat, superchat\r
            Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\r
            Authorization: Bearer t\r
            \r

            """)
    }

    @Test(arguments: [
        ("example.com", nil as Int?, false, "example.com"),
        ("example.com", 80, false, "example.com"),
        ("example.com", 443, false, "example.com:443"),
        ("example.com", 443, true, "example.com"),
        ("example.com", 80, true, "example.com:80"),
        ("127.0.0.1", 8080, false, "127.0.0.1:8080"),
        ("::1", 9001, false, "[::1]:9001"),
        ("[::1]", nil, true, "[::1]"),
        ("fe80::1", 443, true, "[fe80::1]"),
        ("::ffff:192.0.2.1", 8443, true, "[::ffff:192.0.2.1]:8443"),
    ])
    func hostHeaderOmitsDefaultPortAndBracketsIPv6(host: String, port: Int?, secure: Bool, expected: String) throws {
        #expect(try ClientHandshake.hostHeader(host: host, port: port, secure: secure) == expected)
        let text = String(decoding: try client(host: host, port: port, secure: secure).requestBytes, as: UTF8.self)
        #expect(text.contains("\r\nHost: \(expected)\r\n"))
    }

    @Test func keysAreRandomBase64Of16Bytes() throws {
        let first = try ClientHandshake(host: "a")
        let second = try ClientHandshake(host: "a")
        #expect(first.key != second.key)
        #expect(Base64.decode(first.key)?.count == 16)
        #expect(first.expectedAccept == WebSocketAccept.value(forKey: first.key))
    }

    /// The failure `make` throws, nil if it succeeds.
    func refusal(_ make: () throws(HandshakeError) -> ClientHandshake) -> HandshakeFailure? {
        do {
            _ = try make()
            return nil
        } catch {
            return error.failure
        }
    }

    @Test func invalidArgumentsAreRefused() {
        #expect(refusal { () throws(HandshakeError) in try ClientHandshake(host: "") } == .invalidArgument)
        #expect(refusal { () throws(HandshakeError) in try ClientHandshake(host: "a b") } == .invalidArgument)
        #expect(refusal { () throws(HandshakeError) in try ClientHandshake(host: "user@host") } == .invalidArgument)
        #expect(refusal { () throws(HandshakeError) in try ClientHandshake(host: "a", port: 0) } == .invalidArgument)
        #expect(refusal { () throws(HandshakeError) in try ClientHandshake(host: "example.com:8080") } == .invalidArgument)
        #expect(refusal { () throws(HandshakeError) in try ClientHandshake(host: "[::1") } == .invalidArgument)
        #expect(refusal { () throws(HandshakeError) in try ClientHandshake(host: "a", port: 70000) } == .invalidArgument)
        #expect(refusal { () throws(HandshakeError) in try ClientHandshake(host: "a", path: "chat") } == .invalidArgument)
        #expect(refusal { () throws(HandshakeError) in try ClientHandshake(host: "a", path: "/a b") } == .invalidArgument)
        #expect(refusal { () throws(HandshakeError) in try ClientHandshake(host: "a", path: "/a?b") } == .invalidArgument)
        #expect(refusal { () throws(HandshakeError) in try ClientHandshake(host: "a", query: "x#y") } == .invalidArgument)
        #expect(refusal { () throws(HandshakeError) in try ClientHandshake(host: "a", origin: "x\r\ny: z") } == .invalidArgument)
        #expect(refusal { () throws(HandshakeError) in try ClientHandshake(host: "a", subprotocols: ["a b"]) } == .invalidArgument)
        #expect(refusal { () throws(HandshakeError) in
            try ClientHandshake(host: "a", extensions: [ExtensionOffer(name: "a;b")])
        } == .invalidArgument)
        #expect(refusal { () throws(HandshakeError) in
            try ClientHandshake(host: "a", headers: HTTPHeaders([("X", "\r\n")]))
        } == .invalidArgument)
        #expect(refusal { () throws(HandshakeError) in try ClientHandshake(host: "a", path: "") } == nil)
    }

    @Test func validResponseGivesSubprotocolExtensionsAndLeavesFrames() throws {
        let handshake = try client(subprotocols: ["chat", "superchat"],
                                   extensions: [ExtensionOffer(name: "permessage-deflate")])
        let head = response(extra: ["sec-websocket-protocol: superchat",
                                    "Sec-WebSocket-Extensions: permessage-deflate; server_no_context_takeover"])
        let frame: [UInt8] = [0x81, 0x05, 0x48, 0x65, 0x6c, 0x6c, 0x6f]
        let result = outcome(handshake, head + frame)
        let answer = try #require(result.value)
        #expect(result == .complete(answer, headLength: head.count))
        #expect(answer.subprotocol == "superchat")
        #expect(answer.extensions == [ExtensionOffer(name: "permessage-deflate", parameters: [.init("server_no_context_takeover")])])
        #expect(answer.head.status == 101)
    }

    @Test func caseInsensitiveTokensAndListsAreAccepted() throws {
        let handshake = try client()
        let head = response(removing: ["Upgrade", "Connection"], extra: ["upgrade: WebSocket", "connection: keep-alive, UPGRADE"])
        let answer = try #require(outcome(handshake, head).value)
        #expect(answer.subprotocol == nil)
        #expect(answer.extensions == [])
    }

    func failure(_ handshake: ClientHandshake, _ response: [UInt8]) -> HandshakeError? {
        outcome(handshake, response).error
    }

    @Test func wrongOrMissingAcceptFails() throws {
        let handshake = try client()
        for head in [response(removing: ["Sec-WebSocket-Accept"], extra: ["Sec-WebSocket-Accept: dGhlIHNhbXBsZSBub25jZQ=="]),
                     response(removing: ["Sec-WebSocket-Accept"]),
                     response(extra: ["Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo="]),  // repeated
                     response(removing: ["Sec-WebSocket-Accept"], extra: ["Sec-WebSocket-Accept: S3PPLMBITXAQ9KYGZZHZRBK+XOO="])] {
            let error = failure(handshake, head)
            #expect(error?.failure == .invalidAccept)
            #expect(error?.status == nil)
        }
    }

    @Test func missingUpgradeFails() throws {
        let handshake = try client()
        #expect(failure(handshake, response(removing: ["Upgrade"]))?.failure == .invalidUpgrade)
        #expect(failure(handshake, response(removing: ["Upgrade"], extra: ["Upgrade: h2c"]))?.failure == .invalidUpgrade)
        #expect(failure(handshake, response(removing: ["Connection"]))?.failure == .invalidConnection)
    }

    @Test func non101StatusCarriesCodeAndReason() throws {
        var handshake = try client()
        let head = response(status: "403 Forbidden", removing: ["Upgrade", "Connection", "Sec-WebSocket-Accept"],
                            extra: ["Content-Length: 0"])
        let error = failure(handshake, head)
        #expect(error?.failure == .unexpectedStatus(code: 403, reasonPhrase: "Forbidden"))
        #expect(error?.status == nil)
        // The whole response stays readable (a redirect's Location, say).
        _ = feed(head) { chunk throws(HandshakeError) in try handshake.receive(chunk) }
        #expect(handshake.response?.headers.first("content-length") == "0")
        #expect(failure(try client(), response(status: "200 OK"))?.failure == .unexpectedStatus(code: 200, reasonPhrase: "OK"))
    }

    @Test func unrequestedSubprotocolFails() throws {
        let none = try client()
        #expect(failure(none, response(extra: ["Sec-WebSocket-Protocol: chat"]))?.failure == .unrequestedSubprotocol)
        let offered = try client(subprotocols: ["chat"])
        #expect(failure(offered, response(extra: ["Sec-WebSocket-Protocol: superchat"]))?.failure == .unrequestedSubprotocol)
        #expect(failure(offered, response(extra: ["Sec-WebSocket-Protocol: chat, chat"]))?.failure == .unrequestedSubprotocol)
        #expect(failure(offered, response(extra: ["Sec-WebSocket-Protocol: chat", "Sec-WebSocket-Protocol: chat"]))?.failure
                == .unrequestedSubprotocol)
        #expect(outcome(offered, response(extra: ["Sec-WebSocket-Protocol: chat"])).value?.subprotocol == "chat")
    }

    @Test func unofferedExtensionFails() throws {
        let none = try client()
        #expect(failure(none, response(extra: ["Sec-WebSocket-Extensions: permessage-deflate"]))?.failure == .unofferedExtension)
        let offered = try client(extensions: [ExtensionOffer(name: "permessage-deflate")])
        #expect(failure(offered, response(extra: ["Sec-WebSocket-Extensions: permessage-deflate, x-webkit-deflate-frame"]))?.failure
                == .unofferedExtension)
        #expect(failure(offered, response(extra: ["Sec-WebSocket-Extensions: permessage-deflate; =1"]))?.failure
                == .invalidExtensionHeader)
    }

    @Test func malformedAndOversizedResponsesFail() throws {
        let handshake = try client()
        var http10 = response()
        http10.replaceSubrange(0..<8, with: Array("HTTP/1.0".utf8))
        #expect(failure(handshake, http10)?.failure == .unsupportedHTTPVersion)
        #expect(failure(handshake, Array("HTTP/1.1 101 OK\nUpgrade: websocket\r\n\r\n".utf8))?.failure == .malformedHead)
        let big = response(extra: ["X: " + String(repeating: "y", count: 9000)])
        #expect(failure(handshake, big)?.failure == .headTooLarge)
    }
}
