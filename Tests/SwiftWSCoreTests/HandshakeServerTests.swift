import Testing
@testable import SwiftWSCore

/// Server side of the opening handshake, RFC 6455 section 4.2.1 (reading the client's request)
/// and 4.2.2 (the server's answer). Every rejection asserts its rule and exact HTTP status, and
/// every outcome is checked to be the same fed whole, byte by byte and in 7-byte chunks.
@Suite("Handshake server (RFC 6455 4.2)")
struct HandshakeServerTests {
    func rejection(_ text: String, limits: HTTPHeadLimits = HTTPHeadLimits()) -> HandshakeError? {
        serverOutcome(text, limits: limits).error
    }

    /// RFC 6455 sections 1.3 and 4.2.2: the sample nonce and its accept value.
    @Test func rfcSampleKeyGivesRfcAcceptValue() {
        #expect(WebSocketAccept.value(forKey: "dGhlIHNhbXBsZSBub25jZQ==") == "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=")
    }

    @Test func acceptsTheRfcSampleRequestAndAnswers101() throws {
        let text = request(target: "/chat?room=1&x", extra: [
            "Origin: http://example.com",
            "Sec-WebSocket-Protocol: chat, superchat",
        ])
        let outcome = serverOutcome(text)
        let upgrade = try #require(outcome.value)
        #expect(outcome == .complete(upgrade, headLength: text.utf8.count))
        #expect(upgrade.path == "/chat")
        #expect(upgrade.query == "room=1&x")
        #expect(upgrade.host == "server.example.com")
        #expect(upgrade.origin == "http://example.com")
        #expect(upgrade.subprotocols == ["chat", "superchat"])
        #expect(upgrade.extensionOffers == [])
        #expect(upgrade.headers.first("sec-websocket-version") == "13")
        let response = try upgrade.acceptResponse(subprotocol: "chat")
        #expect(String(decoding: response, as: UTF8.self) == """
            HTTP/1.1 101 Switching Protocols\r
            Upgrade: websocket\r
            Connection: Upgrade\r
            Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r
            Sec-WebSocket-Protocol: chat\r
            \r

            """)
    }

    @Test func pathWithoutQuery() throws {
        let upgrade = try #require(serverOutcome(request(target: "/")).value)
        #expect(upgrade.path == "/")
        #expect(upgrade.query == nil)
        #expect(try #require(serverOutcome(request(target: "/a?")).value).query == "")
    }

    @Test func tokensAreCaseInsensitiveAndMayBeInLists() {
        let variants = [
            request(removing: ["Upgrade", "Connection"], extra: ["upgrade: WebSocket", "CONNECTION: keep-alive, UPGRADE"]),
            request(removing: ["Upgrade"], extra: ["Upgrade: h2c, websocket"]),
            request(removing: ["Connection"], extra: ["Connection: keep-alive", "Connection: Upgrade"]),
            request(version: "HTTP/1.2"),
        ]
        for text in variants {
            #expect(serverOutcome(text).value != nil, "\(text)")
        }
    }

    @Test func nonGETIs405WithAllow() throws {
        let error = try #require(rejection(request(method: "POST")))
        #expect(error.failure == .methodNotAllowed)
        #expect(error.status == 405)
        let response = String(decoding: error.responseBytes(), as: UTF8.self)
        #expect(response.hasPrefix("HTTP/1.1 405 Method Not Allowed\r\n"))
        #expect(response.contains("\r\nAllow: GET\r\n"))
        // Methods are case-sensitive (RFC 9110 9.1): `get` is another method, 405 with Allow: GET.
        #expect(rejection(request(method: "get"))?.failure == .methodNotAllowed)
        #expect(rejection(request(method: "get"))?.status == 405)
    }

    @Test func http10Is400() {
        let error = rejection(request(version: "HTTP/1.0"))
        #expect(error?.failure == .unsupportedHTTPVersion)
        #expect(error?.status == 400)
    }

    @Test(arguments: ["*", "http://server.example.com/chat", "chat", "/chat#frag"])
    func nonOriginFormTargetIs400(target: String) {
        let error = rejection(request(target: target))
        #expect(error?.failure == .invalidRequestTarget)
        #expect(error?.status == 400)
    }

    @Test func hostMissingRepeatedOrEmptyIs400() {
        for text in [request(removing: ["Host"]),
                     request(extra: ["Host: other.example.com"]),
                     request(removing: ["Host"], extra: ["Host:"])] {
            let error = rejection(text)
            #expect(error?.failure == .invalidHost)
            #expect(error?.status == 400)
        }
        #expect(rejection(request(removing: ["Host"]))?.reason == "missing Host header")
    }

    @Test func upgradeMissingOrWrongIs400() {
        for text in [request(removing: ["Upgrade"]),
                     request(removing: ["Upgrade"], extra: ["Upgrade: h2c"]),
                     request(removing: ["Upgrade"], extra: ["Upgrade: websockets"])] {
            let error = rejection(text)
            #expect(error?.failure == .invalidUpgrade)
            #expect(error?.status == 400)
        }
    }

    @Test func connectionWithoutUpgradeIs400() {
        for text in [request(removing: ["Connection"]),
                     request(removing: ["Connection"], extra: ["Connection: keep-alive"]),
                     request(removing: ["Connection"], extra: ["Connection: upgraded"])] {
            let error = rejection(text)
            #expect(error?.failure == .invalidConnection)
            #expect(error?.status == 400)
        }
    }

    @Test(arguments: [
        [] as [String],                                  // missing
        ["Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ"],    // no padding
        ["Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25j"],      // 15 bytes
        ["Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ=="
            + "AA=="],                                    // 17+ bytes
        ["Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZ==="],  // 3 "=" signs
        ["Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZ-=="],  // URL-safe alphabet
        ["Sec-WebSocket-Key: not base64 at all!!!!!!"],
        ["Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==", "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ=="],
    ])
    func badKeyIs400(keyLines: [String]) {
        let error = rejection(request(removing: ["Sec-WebSocket-Key"], extra: keyLines))
        #expect(error?.failure == .invalidKey)
        #expect(error?.status == 400)
    }

    @Test func keyWithNonZeroPadBitsIsToleratedLikeNodeAndPython() {
        let upgrade = serverOutcome(request(removing: ["Sec-WebSocket-Key"], extra: ["Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZR=="]))
        #expect(upgrade.value?.key == "dGhlIHNhbXBsZSBub25jZR==")
    }

    @Test(arguments: [[] as [String], ["Sec-WebSocket-Version: 8"], ["Sec-WebSocket-Version: 13, 8"],
                      ["Sec-WebSocket-Version: 13", "Sec-WebSocket-Version: 8"], ["Sec-WebSocket-Version: 013"]])
    func wrongOrMissingVersionIs426WithVersionHeader(versionLines: [String]) throws {
        let error = try #require(rejection(request(removing: ["Sec-WebSocket-Version"], extra: versionLines)))
        #expect(error.failure == .unsupportedWebSocketVersion)
        #expect(error.status == 426)
        let response = String(decoding: error.responseBytes(), as: UTF8.self)
        #expect(response.hasPrefix("HTTP/1.1 426 Upgrade Required\r\n"))
        #expect(response.contains("\r\nSec-WebSocket-Version: 13\r\n"))
        #expect(response.contains("\r\nUpgrade: websocket\r\n"))
    }

    @Test func rejectionResponseCarriesReasonAsTextBody() throws {
        let error = try #require(rejection(request(removing: ["Host"])))
        #expect(String(decoding: error.responseBytes(), as: UTF8.self) == """
            HTTP/1.1 400 Bad Request\r
            Content-Length: 20\r
            Content-Type: text/plain; charset=utf-8\r
            Connection: close\r
            \r
            missing Host header

            """)
    }

    @Test func oversizedHeadIs431() throws {
        let big = request(extra: ["X-Filler: " + String(repeating: "x", count: 9000)])
        let error = try #require(rejection(big))
        #expect(error.failure == .headTooLarge)
        #expect(String(decoding: error.responseBytes(), as: UTF8.self).hasPrefix("HTTP/1.1 431 Request Header Fields Too Large\r\n"))
        #expect(rejection(request(), limits: HTTPHeadLimits(maxHeadBytes: 64))?.status == 431)
        let many = request(extra: (0..<60).map { "X-\($0): 1" })
        #expect(rejection(many)?.failure == .tooManyHeaders)
        #expect(rejection(many)?.status == 431)
    }

    @Test func malformedHeadIs400() {
        let error = rejection(request(extra: [" obs-fold"]))
        #expect(error?.failure == .malformedHead)
        #expect(error?.status == 400)
    }

    @Test func subprotocolHeaderMustBeTokens() {
        for line in ["Sec-WebSocket-Protocol: chat superchat", "Sec-WebSocket-Protocol:", "Sec-WebSocket-Protocol: ,",
                     "Sec-WebSocket-Protocol: \"chat\""] {
            let error = rejection(request(extra: [line]))
            #expect(error?.failure == .invalidSubprotocolHeader, "\(line)")
            #expect(error?.status == 400)
        }
        let several = serverOutcome(request(extra: ["Sec-WebSocket-Protocol: a, ,b", "Sec-WebSocket-Protocol: c"]))
        #expect(several.value?.subprotocols == ["a", "b", "c"])
    }

    @Test func extensionOffersAreParsedForTheNegotiator() throws {
        let text = request(extra: [
            "Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits; server_max_window_bits=\"10\"",
            "Sec-WebSocket-Extensions: permessage-deflate, x-foo ; a = b",
        ])
        let upgrade = try #require(serverOutcome(text).value)
        #expect(upgrade.extensionOffers == [
            ExtensionOffer(name: "permessage-deflate", parameters: [.init("client_max_window_bits"), .init("server_max_window_bits", "10")]),
            ExtensionOffer(name: "permessage-deflate"),
            ExtensionOffer(name: "x-foo", parameters: [.init("a", "b")]),
        ])
        let accepted = ExtensionOffer(name: "permessage-deflate", parameters: [.init("server_max_window_bits", "10")])
        let response = String(decoding: try upgrade.acceptResponse(extensions: [accepted]), as: UTF8.self)
        #expect(response.contains("\r\nSec-WebSocket-Extensions: permessage-deflate; server_max_window_bits=10\r\n"))
    }

    @Test func malformedExtensionHeaderIs400() {
        let error = rejection(request(extra: ["Sec-WebSocket-Extensions: permessage-deflate;"]))
        #expect(error?.failure == .invalidExtensionHeader)
        #expect(error?.status == 400)
    }

    @Test func answerMayOnlyChooseWhatWasOffered() throws {
        let upgrade = try #require(serverOutcome(request(extra: [
            "Sec-WebSocket-Protocol: chat",
            "Sec-WebSocket-Extensions: permessage-deflate",
        ])).value)
        #expect(throws: HandshakeError.self) { try upgrade.acceptResponse(subprotocol: "Chat") }
        do {
            _ = try upgrade.acceptResponse(subprotocol: "superchat")
            Issue.record("accepted an unoffered subprotocol")
        } catch {
            #expect(error.failure == .subprotocolNotOffered)
            #expect(error.status == 500)
        }
        do {
            _ = try upgrade.acceptResponse(extensions: [ExtensionOffer(name: "x-webkit-deflate-frame")])
            Issue.record("accepted an unoffered extension")
        } catch {
            #expect(error.failure == .extensionNotOffered)
        }
        do {
            _ = try upgrade.acceptResponse(headers: HTTPHeaders([("X-Evil", "a\r\nSet-Cookie: b")]))
            Issue.record("wrote a header with CR LF")
        } catch {
            #expect(error.failure == .invalidArgument)
        }
        let extra = try upgrade.acceptResponse(headers: HTTPHeaders([("Set-Cookie", "id=1")]))
        #expect(String(decoding: extra, as: UTF8.self).hasSuffix("\r\nSet-Cookie: id=1\r\n\r\n"))
    }

    @Test func applicationRejectionResponses() throws {
        let forbidden = try HTTPResponseWriter.response(status: 403, headers: HTTPHeaders([("X-Why", "origin")]),
                                                        body: Array("origin not allowed".utf8))
        #expect(String(decoding: forbidden, as: UTF8.self) == """
            HTTP/1.1 403 Forbidden\r
            X-Why: origin\r
            Content-Length: 18\r
            Content-Type: text/plain; charset=utf-8\r
            Connection: close\r
            \r
            origin not allowed
            """)
        let redirect = try HTTPResponseWriter.response(status: 302, reasonPhrase: "Moved",
                                                       headers: HTTPHeaders([("Location", "/new"), ("Content-Length", "99")]))
        #expect(String(decoding: redirect, as: UTF8.self)
                == "HTTP/1.1 302 Moved\r\nLocation: /new\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
        #expect(throws: HandshakeError(.invalidArgument, "status 101 cannot be sent as a rejection (must be 200...599)")) {
            try HTTPResponseWriter.response(status: 101)
        }
        #expect(throws: HandshakeError(.invalidArgument, "header name is not a token")) {
            try HTTPResponseWriter.response(status: 400, headers: HTTPHeaders([("Bad Name", "x")]))
        }
    }

    @Test func plainHTTPRequestStaysReadableAfterTheRejection() {
        var handshake = ServerHandshake()
        let outcome = feed("GET /index.html HTTP/1.1\r\nHost: a\r\n\r\n".bytes) { chunk throws(HandshakeError) in
            try handshake.receive(chunk)
        }
        #expect(outcome.error?.failure == .invalidUpgrade)
        #expect(handshake.head?.target == "/index.html")
        var malformed = ServerHandshake()
        _ = feed("GET / HTTP/1.1\n".bytes) { chunk throws(HandshakeError) in try malformed.receive(chunk) }
        #expect(malformed.head == nil)
    }

    @Test func trailingFrameBytesAreNotConsumed() {
        let text = request()
        let frame: [UInt8] = [0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58]
        let outcome = serverOutcome(text.bytes + frame)
        guard case .complete(_, let headLength) = outcome else {
            Issue.record("not complete: \(outcome)")
            return
        }
        #expect(headLength == text.utf8.count)
        // Incomplete: everything kept, nothing decided.
        var handshake = ServerHandshake()
        #expect(feed(Array(text.bytes.dropLast())) { chunk throws(HandshakeError) in try handshake.receive(chunk) } == .needMoreBytes)
    }

    /// Every chunk size from 1 byte to the whole input gives the outcome of the whole, for
    /// accepted and rejected requests alike.
    @Test func everyChunkSizeGivesTheSameOutcome() {
        let inputs = [
            request(extra: ["Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits=\"15\""]).bytes + [0x88, 0x80, 0, 0, 0, 0],
            request(removing: ["Sec-WebSocket-Version"]).bytes,
            request(extra: ["X: a\nb"]).bytes,
        ]
        for bytes in inputs {
            let whole = serverOutcome(bytes)
            for chunkSize in 1...bytes.count {
                var handshake = ServerHandshake()
                let outcome = feed(bytes, chunkSize: chunkSize) { chunk throws(HandshakeError) in try handshake.receive(chunk) }
                #expect(outcome == whole, "chunk size \(chunkSize)")
            }
        }
    }

    @Test func errorDescriptionsNameTheStatus() throws {
        let error = try #require(rejection(request(removing: ["Host"])))
        #expect(error.description == "400 Bad Request: missing Host header")
        let client = HandshakeError(.invalidAccept, "Sec-WebSocket-Accept does not match the key sent")
        #expect(client.description == "WebSocket handshake failed: Sec-WebSocket-Accept does not match the key sent")
    }

    @Test func guardedInputIsNotOverRead() {
        for text in [request(), String(request().dropLast(1)), request(extra: ["Sec-WebSocket-Extensions: a; b=\"c"])] {
            let guarded = GuardedBytes(text.bytes)
            var whole = ServerHandshake()
            _ = try? whole.receive(guarded.buffer)
        }
    }
}
