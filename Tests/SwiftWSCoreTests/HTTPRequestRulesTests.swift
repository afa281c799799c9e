import Testing
@testable import SwiftWSCore

/// The rules every request must follow before a server answers it, upgrade or plain HTTP
/// (RFC 9110, RFC 9112; `HTTPRequestHead.validateMessage` and `ServerHandshake.classify`).
/// Each case asserts the rule broken and the exact status the server answers with.
@Suite("HTTP request rules (RFC 9110, RFC 9112)")
struct HTTPRequestRulesTests {
    /// Parses `text` (whole, byte by byte and in 7-byte chunks, which must agree) and classifies it.
    func classified(_ text: String) -> Result<ServerRequest, HandshakeError> {
        var outcomes: [FeedOutcome<HTTPRequestHead>] = []
        for chunkSize in [nil, 1, 7] {
            var parser = HTTPRequestParser()
            outcomes.append(feed(text.bytes, chunkSize: chunkSize) { chunk throws(HandshakeError) in try parser.parse(chunk) })
        }
        #expect(outcomes.allSatisfy { $0 == outcomes[0] }, "chunking changed the outcome: \(outcomes)")
        switch outcomes[0] {
        case .failed(let error): return .failure(error)
        case .needMoreBytes: return .failure(HandshakeError(.malformedHead, "incomplete"))
        case .complete(let head, _): return Result { () throws(HandshakeError) in try ServerHandshake.classify(head) }
        }
    }

    func status(_ text: String) -> Int? {
        switch classified(text) {
        case .success: return 200
        case .failure(let error): return error.status
        }
    }

    func failure(_ text: String) -> HandshakeFailure? {
        if case .failure(let error) = classified(text) { return error.failure }
        return nil
    }

    func plain(_ lines: [String] = ["Host: x"], method: String = "GET", version: String = "HTTP/1.1") -> String {
        "\(method) / \(version)\r\n" + lines.map { $0 + "\r\n" }.joined() + "\r\n"
    }

    func body(_ text: String) -> HTTPRequestBody? {
        if case .success(.plain(_, let body)) = classified(text) { return body }
        return nil
    }

    // MARK: version (RFC 9110 sections 2.5 and 15.6.6)

    @Test(arguments: ["HTTP/2.0", "HTTP/9.9", "HTTP/0.9", "HTTP/3.0"])
    func majorVersionOtherThanOneIs505(version: String) throws {
        #expect(failure(plain(version: version)) == .httpVersionNotSupported)
        #expect(failure(request(version: version)) == .httpVersionNotSupported)
        let response = String(decoding: HandshakeError(.httpVersionNotSupported, "x").responseBytes(), as: UTF8.self)
        #expect(response.hasPrefix("HTTP/1.1 505 HTTP Version Not Supported\r\n"))
    }

    @Test(arguments: ["GET /\r\n\r\n", "GET / HTTP/1\r\nHost: x\r\n\r\n", "GET / http/1.1\r\nHost: x\r\n\r\n",
                      "GET / HTTP/10.0\r\nHost: x\r\n\r\n", "GET / HTTP/1.1 \r\nHost: x\r\n\r\n"])
    func versionGarbageIs400(text: String) {
        #expect(failure(text) == .malformedHead)
        #expect(status(text) == 400)
    }

    @Test func http12IsAnsweredAsHTTP11() {
        #expect(body(plain(version: "HTTP/1.2")) == HTTPRequestBody.none)
        #expect(failure(request(version: "HTTP/1.2")) == nil)
    }

    // MARK: Host (RFC 9112 section 3.2)

    @Test func hostIsRequiredOnceOnHTTP11() {
        #expect(failure(plain([])) == .invalidHost)
        #expect(failure(plain(["Host: a", "Host: a"])) == .invalidHost)
        #expect(failure(plain(["Host: a", "host: b"])) == .invalidHost)
        #expect(status(plain([])) == 400)
        #expect(failure(request(removing: ["Host"])) == .invalidHost)
        #expect(failure(request(extra: ["Host: server.example.com"])) == .invalidHost)
    }

    @Test func http10MayOmitHostButNotRepeatIt() {
        #expect(body(plain([], version: "HTTP/1.0")) == HTTPRequestBody.none)
        #expect(failure(plain(["Host: a", "Host: b"], version: "HTTP/1.0")) == .invalidHost)
    }

    @Test(arguments: ["a b", "a/b", "user@host", "host:80x", "[::1", "[::1]x", "[]", "h\u{e9}te", "a:b:c"])
    func invalidHostValueIs400(host: String) {
        #expect(failure(plain(["Host: \(host)"])) == .invalidHost)
    }

    @Test(arguments: ["", "example.com", "example.com:8080", "example.com:", "127.0.0.1:1", "[::1]", "[::1]:443",
                      "xn--bcher-kva.example", "a%20b"])
    func validHostValueIsAccepted(host: String) {
        #expect(failure(plain(["Host: \(host)"])) == nil)
    }

    // MARK: Content-Length and Transfer-Encoding (RFC 9112 sections 6.1 and 6.3, RFC 9110 8.6)

    @Test func contentLengthIsOneDecimalValue() {
        #expect(body(plain(["Host: x", "Content-Length: 5"])) == .contentLength(5))
        #expect(body(plain(["Host: x", "Content-Length: 0"])) == .contentLength(0))
        // RFC 9110 8.6: the same value repeated may be folded.
        #expect(body(plain(["Host: x", "Content-Length: 5, 5"])) == .contentLength(5))
        #expect(body(plain(["Host: x", "Content-Length: 5", "content-length: 5"])) == .contentLength(5))
        #expect(body(plain(["Host: x", "Content-Length: 007"])) == .contentLength(7))
    }

    @Test(arguments: [["Content-Length: 5", "Content-Length: 6"], ["Content-Length: 5, 6"], ["Content-Length: -1"],
                      ["Content-Length: +5"], ["Content-Length: 0x10"], ["Content-Length: 5 5"], ["Content-Length:"],
                      ["Content-Length: 5,"], ["Content-Length: 1e3"], ["Content-Length: 1234567890123456789"],
                      ["Content-Length: 99999999999999999999999999"]])
    func invalidContentLengthIs400(lines: [String]) {
        #expect(failure(plain(["Host: x"] + lines)) == .invalidBodyFraming)
        #expect(status(plain(["Host: x"] + lines)) == 400)
    }

    @Test func transferEncodingRules() {
        #expect(body(plain(["Host: x", "Transfer-Encoding: chunked"])) == .chunked)
        #expect(body(plain(["Host: x", "Transfer-Encoding: gzip, Chunked"])) == .chunked)
        #expect(body(plain(["Host: x", "Transfer-Encoding: gzip", "Transfer-Encoding: chunked"])) == .chunked)
        for lines in [["Transfer-Encoding: chunked", "Content-Length: 5"],  // 6.1: both
                      ["Content-Length: 0", "Transfer-Encoding: chunked"],
                      ["Transfer-Encoding: gzip"],                          // 6.1: chunked not final
                      ["Transfer-Encoding: chunked, gzip"],
                      ["Transfer-Encoding: chunked, chunked"],              // 7: chunked once
                      ["Transfer-Encoding:"],
                      ["Transfer-Encoding: ,"]] {
            #expect(failure(plain(["Host: x"] + lines)) == .invalidBodyFraming, "\(lines)")
        }
        // 6.1: Transfer-Encoding on HTTP/1.0 is faulty framing.
        #expect(failure(plain(["Transfer-Encoding: chunked"], version: "HTTP/1.0")) == .invalidBodyFraming)
    }

    // MARK: upgrade requests carry no body (RFC 6455 section 4.1)

    @Test func upgradeWithBodyIs400() {
        for extra in [["Content-Length: 5"], ["Transfer-Encoding: chunked"], ["Content-Length: 1, 1"]] {
            #expect(failure(request(extra: extra)) == .unexpectedBody, "\(extra)")
            #expect(status(request(extra: extra)) == 400)
        }
        #expect(failure(request(extra: ["Content-Length: 0"])) == nil)
        // Framing errors come first, with their own failure.
        #expect(failure(request(extra: ["Content-Length: 5", "Transfer-Encoding: chunked"])) == .invalidBodyFraming)
        // ServerHandshake alone (no classify) enforces the same rules.
        #expect(serverOutcome(request(extra: ["Content-Length: 5"])).error?.failure == .unexpectedBody)
        #expect(serverOutcome(request(version: "HTTP/2.0")).error?.failure == .httpVersionNotSupported)
    }

    // MARK: methods (RFC 9110 section 9.1)

    @Test func plainMethodsAreCaseSensitiveAndUnknownOnesAre501() throws {
        for method in HTTPRequestHead.recognizedMethods {
            guard case .success(.plain(let head, _)) = classified(plain(method: method)) else {
                Issue.record("\(method) not answered as plain HTTP")
                continue
            }
            #expect(head.method == method)
        }
        for method in ["get", "Get", "PROPFIND", "BREW"] {
            #expect(failure(plain(method: method)) == .methodNotImplemented, "\(method)")
            #expect(status(plain(method: method)) == 501)
        }
        let response = String(decoding: HandshakeError(.methodNotImplemented, "x").responseBytes(), as: UTF8.self)
        #expect(response.hasPrefix("HTTP/1.1 501 Not Implemented\r\n"))
        // On the upgrade path a lowercase get is 405 with Allow: GET (HandshakeServerTests).
        #expect(failure(request(method: "get")) == .methodNotAllowed)
    }

    @Test func upgradeOrPlainIsDecidedByUpgradeOrKeyHeaders() throws {
        guard case .success(.upgrade(let upgrade)) = classified(request()) else {
            Issue.record("valid upgrade not classified as one")
            return
        }
        #expect(upgrade.path == "/chat")
        #expect(failure(plain(["Host: x", "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ=="])) == .invalidUpgrade)
        #expect(failure(plain(["Host: x", "Upgrade: h2c"])) == .invalidUpgrade)
    }

    // MARK: answers always close (RFC 9112 section 9.6)

    @Test func plainAnswersAlwaysSayConnectionClose() throws {
        var headers = HTTPHeaders()
        headers.append(name: "Connection", value: "keep-alive")
        let response = String(decoding: try HTTPResponseWriter.response(status: 200, headers: headers, body: [0x61]),
                              as: UTF8.self)
        #expect(response == "HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Type: text/plain; charset=utf-8\r\n"
            + "Connection: close\r\n\r\na")
    }
}
