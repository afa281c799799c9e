import Testing
import SwiftWSCore
@testable import SwiftWSEndpoints
@testable import SwiftWSTransport
import SwiftWSTestSupport

/// Issue 9 item 8: what a server on 127.0.0.1 answers to malformed or ambiguous requests, over real
/// sockets, with an application handler that answers 200 to every plain request (as the demo
/// does, whatever the method). Each request is sent raw and the exact status line received is
/// asserted; no request here may open a WebSocket connection. The rules themselves are the
/// core's (HTTPRequestRulesTests); this checks that the server maps them to its answers.
@Suite("Plain HTTP strictness over sockets (RFC 9110, RFC 9112)", .serialized)
struct PlainHTTPStrictnessTests {
    static let upgrade = "GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        + "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n"

    /// (request, expected status line) pairs.
    static let cases: [(String, String)] = [
        // Baseline: a well-formed plain request reaches the handler.
        ("GET / HTTP/1.1\r\nHost: x\r\n\r\n", "HTTP/1.1 200 OK"),
        ("GET / HTTP/1.0\r\n\r\n", "HTTP/1.1 200 OK"),
        ("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello", "HTTP/1.1 200 OK"),
        ("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 5, 5\r\n\r\nhello", "HTTP/1.1 200 OK"),
        // Bytes after a plain head (pipelined, or a frame) are never parsed: one answer, then close.
        ("GET / HTTP/1.1\r\nHost: x\r\n\r\n\u{01}\u{02}\u{00}\u{00}\u{00}\u{00}Hi", "HTTP/1.1 200 OK"),
        // RFC 9112 6.3 / RFC 9110 8.6: Content-Length is one non-negative decimal.
        ("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nhello",
         "HTTP/1.1 400 Bad Request"),
        ("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: -5\r\n\r\n", "HTTP/1.1 400 Bad Request"),
        ("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 5x\r\n\r\nhello", "HTTP/1.1 400 Bad Request"),
        // RFC 9112 6.1: Transfer-Encoding with Content-Length, on HTTP/1.0, or not ending in chunked.
        ("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
         "HTTP/1.1 400 Bad Request"),
        ("POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", "HTTP/1.1 400 Bad Request"),
        ("POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip\r\n\r\n", "HTTP/1.1 400 Bad Request"),
        // RFC 9112 3.2: exactly one Host on HTTP/1.1, at most one anywhere, and a valid one.
        ("GET / HTTP/1.1\r\n\r\n", "HTTP/1.1 400 Bad Request"),
        ("GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", "HTTP/1.1 400 Bad Request"),
        ("GET / HTTP/1.0\r\nHost: a\r\nHost: a\r\n\r\n", "HTTP/1.1 400 Bad Request"),
        ("GET / HTTP/1.1\r\nHost: a b\r\n\r\n", "HTTP/1.1 400 Bad Request"),
        // RFC 9110 15.6.6: 505 for another major version; a request line without one is 400.
        ("GET / HTTP/9.9\r\nHost: x\r\n\r\n", "HTTP/1.1 505 HTTP Version Not Supported"),
        ("GET / HTTP/2.0\r\nHost: x\r\n\r\n", "HTTP/1.1 505 HTTP Version Not Supported"),
        ("GET / HTTP/0.9\r\nHost: x\r\n\r\n", "HTTP/1.1 505 HTTP Version Not Supported"),
        ("GET /\r\n\r\n", "HTTP/1.1 400 Bad Request"),
        ("GET / HTTP/1.10\r\nHost: x\r\n\r\n", "HTTP/1.1 400 Bad Request"),
        // RFC 9110 9.1: methods are case-sensitive; an unrecognised one is 501, never served as GET.
        ("get / HTTP/1.1\r\nHost: x\r\n\r\n", "HTTP/1.1 501 Not Implemented"),
        ("BREW / HTTP/1.1\r\nHost: x\r\n\r\n", "HTTP/1.1 501 Not Implemented"),
        // Upgrade path: `get` is another method (405 with Allow: GET); HTTP/2.0 is 505.
        ("get" + upgrade.dropFirst(3) + "\r\n", "HTTP/1.1 405 Method Not Allowed"),
        (upgrade.replacingAll("HTTP/1.1", "HTTP/2.0") + "\r\n", "HTTP/1.1 505 HTTP Version Not Supported"),
        (upgrade.replacingAll("Host: 127.0.0.1\r\n", "") + "\r\n", "HTTP/1.1 400 Bad Request"),
        // RFC 6455 4.1: an upgrade request has no body; before, "hello" was parsed as a frame (1002).
        (upgrade + "Content-Length: 5\r\n\r\nhello", "HTTP/1.1 400 Bad Request"),
        (upgrade + "Transfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n", "HTTP/1.1 400 Bad Request"),
        (upgrade + "Content-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\nhello", "HTTP/1.1 400 Bad Request"),
    ]

    @Test func eachMalformedRequestGetsItsExactStatusLine() throws {
        let loop = try EventLoop()
        let server = try WebSocketServer(loop: loop, host: "127.0.0.1", port: 0)
        var handled: [String] = []
        server.onHTTPRequest = { head in
            handled.append(head.method)
            var headers = HTTPHeaders()
            headers.append(name: "Connection", value: "keep-alive")  // replaced: the server closes
            return HTTPResponse(status: 200, headers: headers, text: "ok")
        }
        var opened = 0
        server.handlers.onOpen = { _ in opened += 1 }
        let cases = Self.cases
        var answers = [String?](repeating: nil, count: cases.count)
        var remaining = cases.count
        for (index, (request, _)) in cases.enumerated() {
            rawExchange(loop, server.localAddress, request) { answer in
                answers[index] = answer
                remaining -= 1
                if remaining == 0 { loop.stop() }
            }
        }
        #expect(runBounded(loop, seconds: 10))
        for (index, (request, expected)) in cases.enumerated() {
            let answer = answers[index] ?? "no answer"
            let statusLine = answer.split(separator: "\r\n", maxSplits: 1).first.map(String.init) ?? ""
            #expect(statusLine == expected, "request: \(request.debugDescription)\nanswer: \(answer.debugDescription)")
            #expect(answer.contains("\r\nConnection: close\r\n"), "request: \(request.debugDescription)")
        }
        #expect(opened == 0)
        #expect(handled.sorted() == ["GET", "GET", "GET", "POST", "POST"])
    }

    /// The bytes after an upgrade request's head are never taken for frames when the request
    /// announced a body, even when they are a valid masked frame: no 101, no connection, no message.
    @Test func upgradeBodyThatIsAValidFrameIsNeverParsed() throws {
        let loop = try EventLoop()
        let server = try WebSocketServer(loop: loop, host: "127.0.0.1", port: 0)
        var events = 0
        server.handlers.onOpen = { _ in events += 1 }
        server.handlers.onMessage = { _, _, _ in events += 1 }
        // A masked text frame "Hi" with a zero mask, all bytes ASCII so the String carries them as-is.
        let frame = "\u{01}\u{02}\u{00}\u{00}\u{00}\u{00}Hi"
        var answer: String?
        rawExchange(loop, server.localAddress, Self.upgrade + "Content-Length: 8\r\n\r\n" + frame) {
            answer = $0
            loop.stop()
        }
        #expect(runBounded(loop))
        #expect(answer?.hasPrefix("HTTP/1.1 400 Bad Request\r\n") == true)
        #expect(answer?.contains("101") == false)
        #expect(events == 0)
        #expect(server.connections.isEmpty)
    }

    /// Not over-strict: `Content-Length: 0` announces no body, so the upgrade goes through and the
    /// bytes after the head are the first frame.
    @Test func upgradeWithContentLengthZeroIsAccepted() throws {
        let loop = try EventLoop()
        let server = try WebSocketServer(loop: loop, host: "127.0.0.1", port: 0)
        var texts: [String] = []
        var answer = ""
        let check = { if !texts.isEmpty && answer.contains("\r\n\r\n") { loop.stop() } }
        server.handlers.onMessage = { _, _, bytes in
            texts.append(String(decoding: bytes, as: UTF8.self))
            check()
        }
        loop.connect(to: server.localAddress, timeout: .seconds(2)) { result in
            guard case .success(let stream) = result else { return loop.stop() }
            stream.onRead = {
                answer += String(decoding: copyBytes($0), as: UTF8.self)
                check()
            }
            // A masked FIN text frame "Hi" with a zero mask, right behind the head.
            stream.write(Array((Self.upgrade + "Content-Length: 0\r\n\r\n").utf8) + [0x81, 0x82, 0, 0, 0, 0, 0x48, 0x69])
        }
        #expect(runBounded(loop))
        #expect(answer.hasPrefix("HTTP/1.1 101 Switching Protocols\r\n"))
        #expect(texts == ["Hi"])
    }
}
