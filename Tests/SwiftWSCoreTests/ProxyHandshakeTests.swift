import Testing
@testable import SwiftWSCore

/// The client side of proxies without I/O: proxy URLs, the environment's choice (as Python
/// websockets reads it), and the HTTP CONNECT (RFC 9110 9.3.6), SOCKS5 (RFC 1928, RFC 1929) and
/// SOCKS4a negotiations, asserted byte for byte; every answer fed whole and one byte at a time.
@Suite("Proxies (RFC 9110 9.3.6, RFC 1928, RFC 1929, SOCKS4a)")
struct ProxyHandshakeTests {
    // MARK: URLs

    @Test("proxy URLs: schemes, default ports, credentials, IPv6")
    func urls() throws {
        let http = try #require(ProxyConfiguration(url: "http://alice:s%3Acret@proxy.example:3128/"))
        #expect(http == ProxyConfiguration(kind: .http, host: "proxy.example", port: 3128, username: "alice", password: "s:cret"))
        #expect(http.description == "http://alice@proxy.example:3128")  // never the password
        #expect(ProxyConfiguration(url: "HTTP://proxy")?.port == 80)
        #expect(ProxyConfiguration(url: "socks5://127.0.0.1")?.port == 1080)
        #expect(ProxyConfiguration(url: "socks5h://[::1]:9050") == ProxyConfiguration(kind: .socks5, host: "::1", port: 9050))
        #expect(ProxyConfiguration(url: "socks4a://bob@10.0.0.1:1080")?.username == "bob")
        for bad in ["https://proxy:443", "ftp://proxy", "proxy:3128", "http://", "http://proxy:0", "http://proxy:99999",
                    "http://proxy/path", "http://a%zz@proxy", "socks5://[::1"] {
            #expect(ProxyConfiguration(url: bad) == nil, "\(bad)")
        }
    }

    @Test("\"://\" is found byte by byte, also after non-ASCII text and at the very ends")
    func schemeSeparator() {
        // The URL parsers' search (no _StringProcessing in the C library: Tests/C/check_library_size.sh).
        for (text, scheme) in [("ws://h", "ws"), ("://", ""), ("é://x", "é"), ("a:/b://c", "a:/b"), ("x:/", nil),
                               ("x:", nil), ("", nil), ("a//:b", nil), ("日本://", "日本")] as [(String, String?)] {
            #expect(text.schemeSeparatorRange.map { String(text[..<$0.lowerBound]) } == scheme, "\(text)")
            #expect(text.schemeSeparatorRange.map { text[$0] == "://" } ?? true, "\(text)")
        }
    }

    @Test("the environment: websockets' order, no_proxy, schemes added")
    func environment() {
        let variables = ["https_proxy": "http://secure:3128", "HTTP_PROXY": "plain:8080", "all_proxy": "socks5://all:1080"]
        func chosen(_ env: [String: String], _ host: String = "example.com", secure: Bool) -> String? {
            ProxyConfiguration.fromEnvironment(env, host: host, port: secure ? 443 : 80, secure: secure)?.description
        }
        #expect(chosen(variables, secure: true) == "http://secure:3128")
        // ws:// also prefers the https proxy (websockets: ws, socks, https, http).
        #expect(chosen(variables, secure: false) == "http://secure:3128")
        #expect(chosen(["HTTP_PROXY": "plain:8080"], secure: false) == "http://plain:8080")
        #expect(chosen(["HTTP_PROXY": "plain:8080"], secure: true) == nil)  // http_proxy is not for wss
        #expect(chosen(["all_proxy": "socks5://all:1080"], secure: true) == "socks5://all:1080")
        #expect(chosen(["socks_proxy": "http://s:1080", "https_proxy": "http://h:3128"], secure: true) == "socks5://s:1080")
        #expect(chosen(["wss_proxy": "http://w:1", "https_proxy": "http://h:2"], secure: true) == "http://w:1")
        #expect(chosen(["https_proxy": ""], secure: true) == nil)
        for bypass in ["*", "example.com", ".example.com", "other, example.com", "example.com:443"] {
            #expect(chosen(variables.merging(["no_proxy": bypass]) { $1 }, secure: true) == nil, "\(bypass)")
        }
        #expect(chosen(variables.merging(["NO_PROXY": "example.org,ample.com"]) { $1 }, secure: true) == "http://secure:3128")
        #expect(chosen(variables.merging(["no_proxy": "example.com"]) { $1 }, "api.example.com", secure: true) == nil)
        // Loopback targets never go through an environment proxy.
        for local in ["localhost", "app.localhost", "127.0.0.1", "127.1.2.3", "::1"] {
            #expect(chosen(variables, local, secure: true) == nil, "\(local)")
        }
        #expect(chosen(variables, "127.0.0.1.example", secure: true) == "http://secure:3128")
    }

    // MARK: Negotiations

    /// Runs `handshake` against the proxy's `answers` (one per round), whole and byte by byte:
    /// what it sent each round, and how it ended.
    func run(_ handshake: ProxyHandshake, answers: [[UInt8]], trailing: [UInt8] = [])
        -> (sent: [[UInt8]], outcome: Result<Int, ProxyError>) {
        var results: [([[UInt8]], Result<Int, ProxyError>)] = []
        for byteByByte in [false, true] {
            var copy = handshake
            var sent = [copy.takeOutput()]
            var outcome: Result<Int, ProxyError> = .failure(ProxyError(proxy: "", reason: "incomplete"))
            rounds: for (index, answer) in answers.enumerated() {
                let bytes = index == answers.count - 1 ? answer + trailing : answer
                let chunks = byteByByte ? bytes.map { [$0] } : [bytes]
                for chunk in chunks {
                    var step: Result<ProxyHandshake.Progress, ProxyError> = .success(.needMoreBytes)
                    chunk.withUnsafeBytes { raw in step = Result { () throws(ProxyError) in try copy.receive(raw) } }
                    switch step {
                    case .success(.open(let consumed)):
                        outcome = .success(consumed)
                        break rounds
                    case .success(.needMoreBytes):
                        continue
                    case .failure(let error):
                        outcome = .failure(error)
                        break rounds
                    }
                }
                sent.append(copy.takeOutput())
            }
            results.append((sent.filter { !$0.isEmpty }, outcome))
        }
        #expect(results[0].0 == results[1].0, "chunking changed what was sent")
        switch (results[0].1, results[1].1) {
        case (.failure(let a), .failure(let b)): #expect(a == b)
        case (.success, .success): break
        default: Issue.record("chunking changed the outcome: \(results[0].1) vs \(results[1].1)")
        }
        return (results[0].0, results[0].1)
    }

    func http(_ user: String? = nil, _ password: String? = nil) throws -> ProxyHandshake {
        try ProxyHandshake(configuration: ProxyConfiguration(kind: .http, host: "127.0.0.1", port: 3128, username: user, password: password),
                           host: "example.com", port: 443)
    }

    @Test("HTTP CONNECT: the request, Basic credentials, any 2xx opens")
    func httpConnect() throws {
        let plain = run(try http(), answers: [Array("HTTP/1.1 200 Connection established\r\n\r\n".utf8)])
        #expect(plain.sent == [Array("CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n".utf8)])
        #expect(try plain.outcome.get() == 39)
        let basic = run(try http("Aladdin", "open sesame"), answers: [Array("HTTP/1.0 204 OK\r\nX: y\r\n\r\n".utf8)])
        // RFC 7617's example credentials.
        #expect(String(decoding: basic.sent[0], as: UTF8.self).contains("Proxy-Authorization: Basic QWxhZGRpbjpvcGVuIHNlc2FtZQ==\r\n"))
        #expect((try? basic.outcome.get()) != nil)
        let v6 = try ProxyHandshake(configuration: ProxyConfiguration(kind: .http, host: "p", port: 1), host: "::1", port: 9001)
        #expect(String(decoding: v6.output, as: UTF8.self).hasPrefix("CONNECT [::1]:9001 HTTP/1.1\r\nHost: [::1]:9001\r\n"))
    }

    @Test("HTTP CONNECT refusals name the proxy, the target and the status")
    func httpRefusals() throws {
        let cases: [(ProxyHandshake, String, String, Int?)] = [
            (try http(), "HTTP/1.1 403 Forbidden\r\n\r\n", "refused CONNECT to example.com:443: 403 Forbidden", 403),
            (try http(), "HTTP/1.1 407 Proxy Authentication Required\r\n\r\n", "requires authentication (407)", 407),
            (try http("a", "b"), "HTTP/1.1 407 Proxy Authentication Required\r\n\r\n", "refused the credentials (407)", 407),
            (try http(), "SSH-2.0-OpenSSH\r\n\r\n", "answered with an invalid HTTP response", nil),
        ]
        for (handshake, answer, reason, status) in cases {
            let outcome = run(handshake, answers: [Array(answer.utf8)]).outcome
            guard case .failure(let error) = outcome else { Issue.record("\(answer) opened"); continue }
            #expect(error.reason.hasPrefix(reason), "\(error)")
            #expect(error.httpStatus == status)
            #expect(error.description.hasPrefix("proxy http://") && error.description.contains("127.0.0.1:3128: "))
        }
        // A head longer than the limit is refused, not buffered without end.
        let endless = run(try http(), answers: [Array("HTTP/1.1 200 OK\r\n".utf8) + Array(repeating: UInt8(ascii: "a"), count: 9000)])
        guard case .failure = endless.outcome else { Issue.record("an endless head opened"); return }
    }

    func socks5(_ user: String? = nil, _ password: String? = nil, host: String = "example.com") throws -> ProxyHandshake {
        try ProxyHandshake(configuration: ProxyConfiguration(kind: .socks5, host: "127.0.0.1", port: 1080, username: user, password: password),
                           host: host, port: 443)
    }

    static let connectToExample: [UInt8] = [5, 1, 0, 3, 11] + Array("example.com".utf8) + [1, 0xBB]
    static let succeeded: [UInt8] = [5, 0, 0, 1, 127, 0, 0, 1, 0x1F, 0x90]

    @Test("SOCKS5 without authentication: greeting, CONNECT by name, reply with each address type")
    func socks5NoAuth() throws {
        let result = run(try socks5(), answers: [[5, 0], Self.succeeded])
        #expect(result.sent == [[5, 1, 0], Self.connectToExample])
        #expect(try result.outcome.get() == 10)
        for reply: [UInt8] in [[5, 0, 0, 4] + Array(repeating: 0, count: 16) + [0, 80], [5, 0, 0, 3, 3] + Array("abc".utf8) + [0, 80]] {
            #expect(try run(try socks5(), answers: [[5, 0], reply]).outcome.get() == reply.count)
        }
    }

    @Test("SOCKS5 with username/password (RFC 1929)")
    func socks5Password() throws {
        let result = run(try socks5("bob", "pw"), answers: [[5, 2], [1, 0], Self.succeeded])
        #expect(result.sent == [[5, 2, 0, 2], [1, 3] + Array("bob".utf8) + [2] + Array("pw".utf8), Self.connectToExample])
        #expect((try? result.outcome.get()) != nil)
        // The proxy may still choose "no authentication" when credentials were offered.
        #expect((try? run(try socks5("bob", "pw"), answers: [[5, 0], Self.succeeded]).outcome.get()) != nil)
    }

    @Test("SOCKS5 refusals say why")
    func socks5Refusals() throws {
        let cases: [(ProxyHandshake, [[UInt8]], String)] = [
            (try socks5(), [[5, 0xFF]], "requires authentication (no acceptable method)"),
            (try socks5("u", "p"), [[5, 0xFF]], "accepts none of the offered authentication methods"),
            (try socks5("u", "p"), [[5, 2], [1, 1]], "refused the credentials (status 1)"),
            (try socks5(), [[5, 2]], "chose the authentication method 2, which was not offered"),
            (try socks5(), [[5, 0], [5, 5, 0, 1, 0, 0, 0, 0, 0, 0]], "refused CONNECT to example.com:443: connection refused"),
            (try socks5(), [[5, 0], [5, 2, 0, 1, 0, 0, 0, 0, 0, 0]], "refused CONNECT to example.com:443: connection not allowed by ruleset"),
            (try socks5(), [[5, 0], [5, 0, 0, 9, 0]], "answered with the unknown address type 9"),
            (try socks5(), [[4, 0]], "is not a SOCKS5 proxy (version 4)"),
        ]
        for (handshake, answers, reason) in cases {
            guard case .failure(let error) = run(handshake, answers: answers).outcome else {
                Issue.record("\(answers) opened"); continue
            }
            #expect(error.reason == reason)
            #expect(error.description.hasPrefix("proxy socks5://"))
        }
        #expect(throws: ProxyError.self) { try socks5(host: String(repeating: "a", count: 256)) }
        #expect(throws: ProxyError.self) { try socks5("x", String(repeating: "p", count: 256)) }
    }

    @Test("SOCKS4a: one request with the user id and the name; reply 0x5A opens")
    func socks4a() throws {
        let handshake = try ProxyHandshake(configuration: ProxyConfiguration(kind: .socks4a, host: "p", port: 1080, username: "me"),
                                           host: "example.com", port: 80)
        let result = run(handshake, answers: [[0, 0x5A, 0, 0, 0, 0, 0, 0]])
        #expect(result.sent == [[4, 1, 0, 80, 0, 0, 0, 1] + Array("me".utf8) + [0] + Array("example.com".utf8) + [0]])
        #expect(try result.outcome.get() == 8)
        guard case .failure(let error) = run(handshake, answers: [[0, 0x5B, 0, 0, 0, 0, 0, 0]]).outcome else {
            Issue.record("a refusal opened"); return
        }
        #expect(error.reason == "refused CONNECT to example.com:80: SOCKS4 reply 91")
    }

    @Test("bytes after the answer are left to the caller (consumed counts only the proxy's)")
    func trailingBytes() throws {
        #expect(try run(try socks5(), answers: [[5, 0], Self.succeeded], trailing: [0x81]).outcome.get() == 10)
        #expect(try run(try http(), answers: [Array("HTTP/1.1 200 OK\r\n\r\n".utf8)], trailing: [1, 2]).outcome.get() == 19)
    }
}
