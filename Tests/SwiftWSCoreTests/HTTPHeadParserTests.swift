import Testing
@testable import SwiftWSCore

/// The incremental head parser on its own: syntax (RFC 7230 3), limits, chunking, leftovers.
@Suite("HTTP head parser (RFC 7230 3)")
struct HTTPHeadParserTests {
    func requestOutcome(_ text: String, limits: HTTPHeadLimits = HTTPHeadLimits(), chunkSize: Int? = nil) -> FeedOutcome<HTTPRequestHead> {
        var parser = HTTPRequestParser(limits: limits)
        return feed(text.bytes, chunkSize: chunkSize) { chunk throws(HandshakeError) in try parser.parse(chunk) }
    }

    func responseOutcome(_ text: String, chunkSize: Int? = nil) -> FeedOutcome<HTTPResponseHead> {
        var parser = HTTPResponseParser()
        return feed(text.bytes, chunkSize: chunkSize) { chunk throws(HandshakeError) in try parser.parse(chunk) }
    }

    @Test func parsesRequestLineAndFields() throws {
        let text = "GET /chat?x=1 HTTP/1.1\r\nHost: a\r\nX-Empty:\r\nX-Pad: \t v a l \t\r\n\r\n"
        let head = try #require(requestOutcome(text).value)
        #expect(head.method == "GET")
        #expect(head.target == "/chat?x=1")
        #expect(head.version == .http11)
        #expect(head.headers.fields == [.init(name: "Host", value: "a"), .init(name: "X-Empty", value: ""),
                                        .init(name: "X-Pad", value: "v a l")])
    }

    @Test func parsesStatusLine() throws {
        let head = try #require(responseOutcome("HTTP/1.1 403 Not Allowed Here\r\nA: b\r\n\r\n").value)
        #expect(head.status == 403)
        #expect(head.reasonPhrase == "Not Allowed Here")
        #expect(head.headers.first("a") == "b")
        // A missing reason phrase is tolerated, with or without its space.
        #expect(responseOutcome("HTTP/1.1 101\r\n\r\n").value?.reasonPhrase == "")
        #expect(responseOutcome("HTTP/1.1 101 \r\n\r\n").value?.status == 101)
    }

    @Test(arguments: [
        "HTTP/1.1 1O1 Switching\r\n\r\n",   // letter O in the code
        "HTTP/1.1 10 x\r\n\r\n",
        "HTTP/1.1 1011 x\r\n\r\n",
        "HTTP/1.1  101 x\r\n\r\n",
        "http/1.1 101 x\r\n\r\n",
        "HTTP/1.1\r\n\r\n",
        "HTTP/11 101 x\r\n\r\n",
        "HTTP/1.1 101 x\u{1}\r\n\r\n",
    ])
    func malformedStatusLines(text: String) {
        #expect(responseOutcome(text).error?.failure == .malformedHead)
    }

    /// Each is a 400 malformedHead, whole and byte by byte.
    @Test(arguments: [
        "GET /chat HTTP/1.1\r\nHost: a\r\n folded\r\n\r\n",          // obs-fold (3.2.4)
        "GET /chat HTTP/1.1\r\nHost: a\r\n\tfolded\r\n\r\n",
        "GET /chat HTTP/1.1\nHost: a\r\n\r\n",                          // bare LF
        "GET /chat HTTP/1.1\r\nHost: a\n\n",
        "GET /chat HTTP/1.1\r\nHost: a\rX: b\r\n\r\n",                   // CR without LF
        "GET /chat HTTP/1.1\r\nHost : a\r\n\r\n",                        // space before colon
        "GET /chat HTTP/1.1\r\nHo(st: a\r\n\r\n",                        // name not a token
        "GET /chat HTTP/1.1\r\n: a\r\n\r\n",                             // empty name
        "GET /chat HTTP/1.1\r\nHost a\r\n\r\n",                          // no colon
        "GET /chat HTTP/1.1\r\nHost: a\u{0}b\r\n\r\n",                   // NUL in value
        "GET /chat HTTP/1.1\r\nHost: a\u{7f}\r\n\r\n",                   // DEL in value
        "GET  /chat HTTP/1.1\r\nHost: a\r\n\r\n",                        // double space
        "GET /chat HTTP/1.1 \r\nHost: a\r\n\r\n",                        // trailing space
        "GET /chat\r\nHost: a\r\n\r\n",                                  // HTTP/0.9 style
        "GET /chat http/1.1\r\nHost: a\r\n\r\n",                         // "HTTP" is case-sensitive
        "GET /chat HTTP/1.10\r\nHost: a\r\n\r\n",
        "G@T /chat HTTP/1.1\r\nHost: a\r\n\r\n",                         // method not a token
        "GET /ch\u{e9}t HTTP/1.1\r\nHost: a\r\n\r\n",                    // non-ASCII target
        "\r\nGET /chat HTTP/1.1\r\nHost: a\r\n\r\n",                     // leading empty line
    ])
    func malformedRequests(text: String) {
        let whole = requestOutcome(text)
        #expect(whole.error?.failure == .malformedHead)
        #expect(whole.error?.status == 400)
        #expect(requestOutcome(text, chunkSize: 1) == whole)
    }

    @Test func obsTextInValuesIsKept() throws {
        let head = try #require(requestOutcome("GET / HTTP/1.1\r\nX: caf\u{e9}\r\n\r\n").value)
        #expect(head.headers.first("x") == "caf\u{e9}")
    }

    @Test func headSizeLimitIs431AndInclusive() {
        let text = "GET / HTTP/1.1\r\nX: 123456\r\n\r\n"  // 29 bytes
        #expect(text.utf8.count == 29)
        #expect(requestOutcome(text, limits: HTTPHeadLimits(maxHeadBytes: 29)).value != nil)
        let over = requestOutcome(text, limits: HTTPHeadLimits(maxHeadBytes: 28))
        #expect(over.error?.failure == .headTooLarge)
        #expect(over.error?.status == 431)
        #expect(requestOutcome(text, limits: HTTPHeadLimits(maxHeadBytes: 28), chunkSize: 1) == over)
    }

    @Test func defaultHeadLimitIs8KiB() {
        let filler = String(repeating: "a", count: 8192)
        let text = "GET / HTTP/1.1\r\nX: \(filler)\r\n\r\n"
        #expect(requestOutcome(text).error?.failure == .headTooLarge)
        // A head that never ends is refused as soon as it passes the limit, not buffered forever.
        var parser = HTTPRequestParser()
        let endless = [UInt8](repeating: UInt8(ascii: "a"), count: 8193)
        #expect(feed(endless) { chunk throws(HandshakeError) in try parser.parse(chunk) }.error?.failure == .headTooLarge)
    }

    @Test func headerCountLimitIs431() {
        let fields = (0..<64).map { "X-\($0): v\r\n" }.joined()
        #expect(requestOutcome("GET / HTTP/1.1\r\n\(fields)\r\n").value?.headers.count == 64)
        let tooMany = requestOutcome("GET / HTTP/1.1\r\n\(fields)X-64: v\r\n\r\n")
        #expect(tooMany.error?.failure == .tooManyHeaders)
        #expect(tooMany.error?.status == 431)
        let custom = requestOutcome("GET / HTTP/1.1\r\nA: 1\r\nB: 2\r\n\r\n", limits: HTTPHeadLimits(maxHeaderCount: 1))
        #expect(custom.error?.failure == .tooManyHeaders)
    }

    @Test func bytesAfterTheHeadAreLeftForTheFrameStream() {
        let head = "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\r\n"
        let frame: [UInt8] = [0x81, 0x02, 0x68, 0x69]
        var parser = HTTPResponseParser()
        let progress = (head.bytes + frame).withUnsafeBytes { buffer in
            Result { () throws(HandshakeError) in try parser.parse(buffer) }
        }
        guard case .success(.complete(_, let consumed)) = progress else {
            Issue.record("not complete: \(progress)")
            return
        }
        #expect(consumed == head.utf8.count)
        // Split inside the head: the second chunk's leftover is counted from that chunk.
        for split in [1, 10, head.utf8.count - 1, head.utf8.count] {
            var chunked = HTTPResponseParser()
            let all = head.bytes + frame
            let first = Array(all[..<split]), second = Array(all[split...])
            let a = first.withUnsafeBytes { b in Result { () throws(HandshakeError) in try chunked.parse(b) } }
            if split < head.utf8.count {
                #expect((try? a.get()) == .needMoreBytes)
                let b = second.withUnsafeBytes { b in Result { () throws(HandshakeError) in try chunked.parse(b) } }
                guard case .success(.complete(_, let consumedSecond)) = b else {
                    Issue.record("split \(split) not complete")
                    continue
                }
                #expect(consumedSecond == head.utf8.count - split)
            } else {
                guard case .success(.complete(_, let consumedFirst)) = a else {
                    Issue.record("split \(split) not complete")
                    continue
                }
                #expect(consumedFirst == split)
            }
        }
    }

    /// A peer that does not speak HTTP is refused once its first line arrived (with the rules of
    /// the whole head), not when the head would end: it may never send the empty line.
    @Test func startLineIsCheckedAsSoonAsItEnds() {
        var request = HTTPRequestParser()
        let junk = feed("HELO relay.invalid\r\n".bytes) { chunk throws(HandshakeError) in try request.parse(chunk) }
        #expect(junk.error?.failure == .malformedHead)
        #expect(junk.error?.reason == "request line is not 'METHOD target HTTP/x.y'")
        #expect(request.failedAtStartLine)
        #expect(request.received == "HELO relay.invalid\r\n".bytes)
        // A valid request line waits for the rest; a bare LF after it is not the request line's fault.
        var valid = HTTPRequestParser()
        #expect(feed("GET / HTTP/1.1\r\n".bytes) { chunk throws(HandshakeError) in try valid.parse(chunk) } == .needMoreBytes)
        #expect(feed("Host: a\n".bytes) { chunk throws(HandshakeError) in try valid.parse(chunk) }.error?.failure == .malformedHead)
        #expect(!valid.failedAtStartLine)
        // Byte by byte: refused at the LF that ends the line, not before.
        var bytewise = HTTPRequestParser()
        #expect(feed("GET /\r".bytes, chunkSize: 1) { chunk throws(HandshakeError) in try bytewise.parse(chunk) } == .needMoreBytes)
        var status = HTTPResponseParser()
        let smtp = feed("220 smtp.invalid ESMTP Postfix\r\n".bytes) { chunk throws(HandshakeError) in try status.parse(chunk) }
        #expect(smtp.error?.reason == "HTTP version is not 'HTTP/x.y'")
        // The check runs at the byte that ends the line, before the bytes after it: the outcome
        // does not depend on the chunking (fuzz/client_handshake found \"T\r\nC\r\n\n\" failing on
        // the bare LF when whole and on the status line byte by byte).
        for text in ["T\r\nC\r\n\n", "HELO\r\nX: y\n"] {
            #expect(responseOutcome(text) == responseOutcome(text, chunkSize: 1))
            #expect(requestOutcome(text) == requestOutcome(text, chunkSize: 1))
            #expect(requestOutcome(text).error?.reason == "request line is not 'METHOD target HTTP/x.y'")
        }
        var okStatus = HTTPResponseParser()
        #expect(feed("HTTP/1.1 101 Switching Protocols\r\n".bytes) { chunk throws(HandshakeError) in try okStatus.parse(chunk) } == .needMoreBytes)
    }

    @Test func afterCompletionOrErrorTheOutcomeIsSticky() {
        var parser = HTTPRequestParser()
        let text = "GET / HTTP/1.1\r\nHost: a\r\n\r\n"
        _ = feed(text.bytes) { chunk throws(HandshakeError) in try parser.parse(chunk) }
        let again = feed("more".bytes) { chunk throws(HandshakeError) in try parser.parse(chunk) }
        #expect(again.value?.target == "/")
        if case .complete(_, let length) = again { #expect(length == 0) }

        var failing = HTTPRequestParser()
        let first = feed("GET / HTTP/1.1\n".bytes) { chunk throws(HandshakeError) in try failing.parse(chunk) }
        let second = feed("\r\n".bytes) { chunk throws(HandshakeError) in try failing.parse(chunk) }
        #expect(first.error?.failure == .malformedHead)
        #expect(second == first)
    }

    /// picohttpparser's trick: the input ends at an unreadable page, so an over-read crashes.
    @Test func noReadPastTheEndOfTheInput() {
        let inputs = [
            "GET /chat HTTP/1.1\r\nHost: a\r\n\r\n",
            "GET /chat HTTP/1.1\r\nHost: a\r\n\r",
            "GET /chat HTTP/1.1\r\nHost: a\r",
            "GET /chat HTTP/1.1\r\nHost: \"a",
            "HTTP/1.1 101",
        ]
        for text in inputs {
            let guarded = GuardedBytes(text.bytes)
            var whole = HTTPRequestParser()
            _ = try? whole.parse(guarded.buffer)
            var response = HTTPResponseParser()
            _ = try? response.parse(guarded.buffer)
            var bytewise = HTTPRequestParser()
            for index in 0..<guarded.buffer.count {
                _ = try? bytewise.parse(UnsafeRawBufferPointer(rebasing: guarded.buffer[index..<(index + 1)]))
            }
        }
    }
}
