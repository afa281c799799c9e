/// Parses a complete HTTP head (as delimited by `HTTPHeadScanner`) into its start line and header
/// fields, applying the syntax rules of RFC 7230 sections 3.1 and 3.2 strictly:
/// - request line `method SP request-target SP HTTP-version`, single spaces, method a token,
///   target visible ASCII only; status line `HTTP-version SP 3DIGIT SP reason-phrase` (a missing
///   reason phrase, with or without its space, is accepted as picohttpparser does);
/// - header names are non-empty tokens with no whitespace before the colon (3.2.4: "MUST respond
///   with 400");
/// - obs-fold (a line starting with SP or HTAB, 3.2.4) is rejected rather than unfolded;
/// - values may hold SP, HTAB, visible ASCII and obs-text (0x80-0xFF, decoded as UTF-8 with
///   invalid sequences replaced); other control bytes, NUL included, are rejected.
/// Every failure is `.malformedHead` (400).
///
/// It works on an unsafe view of the buffer so that slicing lines and fields costs no reference
/// counting; the view never escapes, everything kept is copied into Strings.
enum HTTPHeadParser {
    private static let space = UInt8(ascii: " ")
    private static let tab = UInt8(ascii: "\t")
    private typealias Bytes = Slice<UnsafeBufferPointer<UInt8>>

    static func parseRequest(_ head: [UInt8]) throws(HandshakeError) -> HTTPRequestHead {
        try head.withUnsafeBufferPointer { buffer in
            Result { () throws(HandshakeError) in try parseRequest(buffer) }
        }.get()
    }

    static func parseResponse(_ head: [UInt8]) throws(HandshakeError) -> HTTPResponseHead {
        try head.withUnsafeBufferPointer { buffer in
            Result { () throws(HandshakeError) in try parseResponse(buffer) }
        }.get()
    }

    /// Checks a request line (without its CR LF) as soon as it has arrived, before the rest of
    /// the head: a peer that is not speaking HTTP is refused at once, not at the timeout.
    static func checkRequestLine(_ line: ArraySlice<UInt8>) throws(HandshakeError) {
        try line.withUnsafeBufferPointer { buffer in
            Result { () throws(HandshakeError) in _ = try parseRequestLine(buffer[...]) }
        }.get()
    }

    /// Checks a status line (without its CR LF) as soon as it has arrived (see `checkRequestLine`).
    static func checkStatusLine(_ line: ArraySlice<UInt8>) throws(HandshakeError) {
        try line.withUnsafeBufferPointer { buffer in
            Result { () throws(HandshakeError) in _ = try parseStatusLine(buffer[...]) }
        }.get()
    }

    private static func parseRequest(_ head: UnsafeBufferPointer<UInt8>) throws(HandshakeError) -> HTTPRequestHead {
        var lines = try splitLines(head)
        let (method, target, version) = try parseRequestLine(lines.removeFirst())
        return HTTPRequestHead(method: method, target: target, version: version, headers: try parseFields(lines))
    }

    /// `method SP request-target SP HTTP-version`.
    private static func parseRequestLine(_ startLine: Bytes) throws(HandshakeError) -> (String, String, HTTPVersion) {
        let parts = startLine.split(separator: space, omittingEmptySubsequences: false)
        guard parts.count == 3 else { throw malformed("request line is not 'METHOD target HTTP/x.y'") }
        guard !parts[0].isEmpty, parts[0].allSatisfy(HTTPToken.isTokenCharacter) else {
            throw malformed("request method is not a token")
        }
        guard !parts[1].isEmpty, parts[1].allSatisfy({ $0 > 0x20 && $0 < 0x7F }) else {
            throw malformed("request target is empty or holds characters other than visible ASCII")
        }
        let version = try parseVersion(parts[2])
        return (String(decoding: parts[0], as: UTF8.self), String(decoding: parts[1], as: UTF8.self), version)
    }

    private static func parseResponse(_ head: UnsafeBufferPointer<UInt8>) throws(HandshakeError) -> HTTPResponseHead {
        var lines = try splitLines(head)
        let (version, code, reason) = try parseStatusLine(lines.removeFirst())
        return HTTPResponseHead(version: version, status: code, reasonPhrase: reason, headers: try parseFields(lines))
    }

    /// `HTTP-version SP status-code [SP reason-phrase]`.
    private static func parseStatusLine(_ startLine: Bytes) throws(HandshakeError) -> (HTTPVersion, Int, String) {
        // HTTP-version SP status-code [SP reason-phrase]
        let versionEnd = startLine.firstIndex(of: space) ?? startLine.endIndex
        let version = try parseVersion(startLine[startLine.startIndex..<versionEnd])
        let rest = startLine[min(versionEnd + 1, startLine.endIndex)...]
        guard versionEnd < startLine.endIndex, rest.count >= 3 else { throw malformed("status line has no status code") }
        let codeBytes = rest.prefix(3)
        guard codeBytes.allSatisfy(isDigit) else { throw malformed("status code is not three digits") }
        let code = codeBytes.reduce(0) { $0 * 10 + Int($1 - UInt8(ascii: "0")) }
        let afterCode = rest.dropFirst(3)
        var reason = afterCode[afterCode.startIndex..<afterCode.startIndex]
        if let first = afterCode.first {
            guard first == space else { throw malformed("status code is not three digits") }
            reason = afterCode.dropFirst()
            guard reason.allSatisfy(isFieldValueByte) else { throw malformed("reason phrase holds control characters") }
        }
        return (version, code, String(decoding: reason, as: UTF8.self))
    }

    /// The lines of a head ending in CR LF CR LF, without their CR LF, the empty last line dropped.
    /// The scanner guarantees that CR and LF occur only as CR LF pairs.
    private static func splitLines(_ head: UnsafeBufferPointer<UInt8>) throws(HandshakeError) -> [Bytes] {
        guard head.count >= 2 else { throw malformed("empty HTTP head") }
        var lines: [Bytes] = []
        lines.reserveCapacity(16)
        var lineStart = 0
        var index = 0
        while index + 1 < head.count {
            if head[index] == UInt8(ascii: "\r") && head[index + 1] == UInt8(ascii: "\n") {
                lines.append(head[lineStart..<index])
                index += 2
                lineStart = index
            } else {
                index += 1
            }
        }
        // The last line is the empty line that ends the head.
        guard let last = lines.popLast(), last.isEmpty, let first = lines.first, !first.isEmpty else {
            throw malformed("empty start line")
        }
        return lines
    }

    private static func parseVersion(_ text: Bytes) throws(HandshakeError) -> HTTPVersion {
        // HTTP-version = "HTTP/" DIGIT "." DIGIT (RFC 7230 section 2.6; "HTTP" is case-sensitive).
        let start = text.startIndex
        guard text.count == 8, text.prefix(5).elementsEqual("HTTP/".utf8), isDigit(text[start + 5]),
              text[start + 6] == UInt8(ascii: "."), isDigit(text[start + 7]) else {
            throw malformed("HTTP version is not 'HTTP/x.y'")
        }
        return HTTPVersion(major: Int(text[start + 5] - UInt8(ascii: "0")), minor: Int(text[start + 7] - UInt8(ascii: "0")))
    }

    private static func parseFields(_ lines: [Bytes]) throws(HandshakeError) -> HTTPHeaders {
        var headers = HTTPHeaders()
        headers.reserveCapacity(lines.count)
        for line in lines {
            guard let first = line.first, first != space, first != tab else {
                throw malformed("obsolete line folding (obs-fold) in header")
            }
            guard let colon = line.firstIndex(of: UInt8(ascii: ":")) else { throw malformed("header line without colon") }
            let name = line[line.startIndex..<colon]
            guard !name.isEmpty, name.allSatisfy(HTTPToken.isTokenCharacter) else {
                throw malformed("header name is not a token (or has whitespace before the colon)")
            }
            let value = HTTPHeaders.trimmingWhitespace(line[(colon + 1)...])
            guard value.allSatisfy(isFieldValueByte) else { throw malformed("header value holds control characters") }
            headers.append(name: String(decoding: name, as: UTF8.self), value: String(decoding: value, as: UTF8.self))
        }
        return headers
    }

    /// field-vchar / SP / HTAB, with obs-text (RFC 7230 section 3.2).
    static func isFieldValueByte(_ byte: UInt8) -> Bool {
        byte == tab || (byte >= 0x20 && byte != 0x7F)
    }

    private static func isDigit(_ byte: UInt8) -> Bool {
        byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9")
    }

    private static func malformed(_ reason: String) -> HandshakeError {
        HandshakeError(.malformedHead, reason)
    }
}

/// Reads an HTTP request head incrementally: feed chunks as they arrive until `.complete`.
///
/// After `.complete`, further calls return the same head with `consumed: 0`; after an error,
/// further calls throw the same error. Nothing here traps on any input.
public struct HTTPRequestParser {
    private var scanner: HTTPHeadScanner
    private var outcome: Result<HTTPRequestHead, HandshakeError>?

    /// A parser with the given limits.
    public init(limits: HTTPHeadLimits = HTTPHeadLimits()) {
        scanner = HTTPHeadScanner(limits: limits, startLineCheck: HTTPHeadParser.checkRequestLine)
    }

    /// Whether the error thrown was about the request line itself (its syntax, checked as soon
    /// as the line has arrived), rather than the line endings, a header line or a limit.
    public var failedAtStartLine: Bool { scanner.failedAtStartLine }

    /// The bytes of the head received so far (all of it once complete; up to the offending
    /// byte after an error).
    public var received: [UInt8] { scanner.head }

    /// Feeds the next chunk of received bytes.
    public mutating func parse(_ chunk: UnsafeRawBufferPointer) throws(HandshakeError) -> HandshakeProgress<HTTPRequestHead> {
        if let outcome { return .complete(try outcome.get(), consumed: 0) }
        do {
            guard let consumed = try scanner.scan(chunk) else { return .needMoreBytes }
            let head = try HTTPHeadParser.parseRequest(scanner.head)
            outcome = .success(head)
            return .complete(head, consumed: consumed)
        } catch {
            outcome = .failure(error)
            throw error
        }
    }
}

/// Reads an HTTP response head incrementally; see `HTTPRequestParser` for the contract.
public struct HTTPResponseParser {
    private var scanner: HTTPHeadScanner
    private var outcome: Result<HTTPResponseHead, HandshakeError>?

    /// A parser with the given limits.
    public init(limits: HTTPHeadLimits = HTTPHeadLimits()) {
        scanner = HTTPHeadScanner(limits: limits, startLineCheck: HTTPHeadParser.checkStatusLine)
    }

    /// Feeds the next chunk of received bytes.
    public mutating func parse(_ chunk: UnsafeRawBufferPointer) throws(HandshakeError) -> HandshakeProgress<HTTPResponseHead> {
        if let outcome { return .complete(try outcome.get(), consumed: 0) }
        do {
            guard let consumed = try scanner.scan(chunk) else { return .needMoreBytes }
            let head = try HTTPHeadParser.parseResponse(scanner.head)
            outcome = .success(head)
            return .complete(head, consumed: consumed)
        } catch {
            outcome = .failure(error)
            throw error
        }
    }
}
