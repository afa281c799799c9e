/// The message rules every HTTP/1.x request must follow before a server answers it at all, WebSocket
/// upgrade or plain HTTP (RFC 9110 and RFC 9112): a version whose major is 1, exactly one valid Host
/// on HTTP/1.1, and unambiguous body framing (Content-Length, Transfer-Encoding). The syntax of the
/// head is `HTTPHeadParser`'s; these rules are about what a well-formed head means.
///
/// Each rule is checked once, here; the server (`ServerHandshake.classify`) calls
/// `validateMessage()` before it looks at anything else, and the network layer only turns the error
/// into its response (`HandshakeError.responseBytes()`, then close).

/// How the body after a request head is delimited (RFC 9112 section 6.3).
public enum HTTPRequestBody: Hashable, Sendable {
    /// No Content-Length and no Transfer-Encoding: a request has no body (6.3 item 7).
    case none
    /// `Content-Length: n` (6.3 item 6); `n` may be 0.
    case contentLength(Int)
    /// `Transfer-Encoding` ending in `chunked` (6.3 item 4): a body of unknown length.
    case chunked

    /// Whether no body byte follows the head.
    public var isEmpty: Bool { self == .none || self == .contentLength(0) }
}

extension HTTPRequestHead {
    /// The request methods of RFC 9110 section 9.3 and PATCH (RFC 5789): the ones a plain HTTP
    /// request may carry to reach the application. Method tokens are case-sensitive (RFC 9110
    /// section 9.1), so `get` is not among them.
    public static let recognizedMethods: Set<String> = [
        "GET", "HEAD", "POST", "PUT", "DELETE", "CONNECT", "OPTIONS", "TRACE", "PATCH",
    ]

    /// Checks the rules of RFC 9110 and RFC 9112 that any request must satisfy, and returns how its
    /// body is delimited. Throws, first failure wins:
    /// - `.httpVersionNotSupported` (505) for a major version other than 1;
    /// - `.invalidHost` (400) for no Host on HTTP/1.1, several Host fields, or an invalid value;
    /// - `.invalidBodyFraming` (400) for an invalid or conflicting Content-Length, Content-Length
    ///   together with Transfer-Encoding, Transfer-Encoding on HTTP/1.0, or a Transfer-Encoding
    ///   that does not end in `chunked`.
    public func validateMessage() throws(HandshakeError) -> HTTPRequestBody {
        // RFC 9110 section 15.6.6: 505 when the server does not support the *major* version.
        // RFC 9110 section 2.5: a 1.x minor above 1 is answered as 1.1 ("HTTP/1.2" is accepted).
        // HTTP/0.9's simple request ("GET /" with no version) never gets here: it is a malformed
        // request line (400); a request line that names "HTTP/0.9" has major 0 and gets 505.
        guard version.major == 1 else {
            throw HandshakeError(.httpVersionNotSupported, "HTTP version \(version) is not supported (HTTP/1.x only)")
        }
        try validateHost()
        return try bodyFraming()
    }

    /// RFC 9112 section 3.2: "A server MUST respond with a 400 (Bad Request) status code to any
    /// HTTP/1.1 request message that lacks a Host header field and to any request message that
    /// contains more than one Host header field line or a Host header field with an invalid field
    /// value." HTTP/1.0 may omit it. An empty value is valid (RFC 9110 section 7.2).
    private func validateHost() throws(HandshakeError) {
        let hosts = headers.values("Host")
        guard hosts.count <= 1 else { throw HandshakeError(.invalidHost, "more than one Host header") }
        guard let host = hosts.first else {
            guard version.minor == 0 else { throw HandshakeError(.invalidHost, "missing Host header") }
            return
        }
        guard HTTPRequestHead.isValidHost(host) else {
            throw HandshakeError(.invalidHost, "Host header is not 'host[:port]'")
        }
    }

    /// RFC 9112 section 6.3 (message body length) and 6.1 (Transfer-Encoding).
    private func bodyFraming() throws(HandshakeError) -> HTTPRequestBody {
        let lengths = headers.values("Content-Length")
        let codings = headers.values("Transfer-Encoding")
        guard !codings.isEmpty else {
            guard !lengths.isEmpty else { return .none }
            return .contentLength(try HTTPRequestHead.contentLength(lengths))
        }
        // RFC 9112 section 6.1: "A server or client that receives an HTTP/1.0 message containing a
        // Transfer-Encoding header field MUST treat the message as if the framing is faulty".
        guard version.minor > 0 else {
            throw HandshakeError(.invalidBodyFraming, "Transfer-Encoding in an HTTP/1.0 request")
        }
        // RFC 9112 section 6.1: a server "MAY reject a request that contains both Content-Length
        // and Transfer-Encoding"; 6.3 item 3: such a message "ought to be handled as an error"
        // (it is how requests are smuggled past proxies). We reject it.
        guard lengths.isEmpty else {
            throw HandshakeError(.invalidBodyFraming, "both Content-Length and Transfer-Encoding")
        }
        // RFC 9112 section 6.1: "If a Transfer-Encoding header field is present in a request and the
        // chunked transfer coding is not the final encoding, the message body length cannot be
        // determined reliably; the server MUST respond with the 400 (Bad Request) status code";
        // section 7: chunked is applied at most once.
        let elements = codings.flatMap(HTTPHeaders.listElements)
        guard let last = elements.last, HTTPHeaders.namesMatch(last, "chunked"),
              elements.dropLast().allSatisfy({ !HTTPHeaders.namesMatch($0, "chunked") }) else {
            throw HandshakeError(.invalidBodyFraming, "Transfer-Encoding does not end in a single 'chunked'")
        }
        return .chunked
    }

    /// RFC 9110 section 8.6: `Content-Length = 1*DIGIT`. "a recipient MAY either reject the message
    /// as invalid or replace the duplicated field values with a single valid Content-Length field
    /// containing that decimal value" when it is a list of one repeated value (`42, 42` or two
    /// fields of 42): we fold those. RFC 9112 section 6.3 item 5: anything else is "an unrecoverable
    /// error", 400. Values beyond 18 digits are refused too (no Int overflow, and no body we would
    /// ever read is that long).
    static func contentLength(_ values: [String]) throws(HandshakeError) -> Int {
        var length: Int?
        for value in values {
            for element in value.utf8.split(separator: UInt8(ascii: ","), omittingEmptySubsequences: false) {
                let digits = HTTPHeaders.trimmingWhitespace(element)
                guard !digits.isEmpty, digits.count <= 18,
                      digits.allSatisfy({ $0 >= UInt8(ascii: "0") && $0 <= UInt8(ascii: "9") }) else {
                    throw HandshakeError(.invalidBodyFraming, "Content-Length is not a decimal number")
                }
                let parsed = digits.reduce(0) { $0 * 10 + Int($1 - UInt8(ascii: "0")) }
                if let length, length != parsed {
                    throw HandshakeError(.invalidBodyFraming, "different Content-Length values")
                }
                length = parsed
            }
        }
        return length ?? 0
    }

    /// `Host = uri-host [ ":" port ]` (RFC 9110 section 7.2, RFC 3986 section 3.2.2): an IP-literal
    /// in brackets, or reg-name / IPv4 characters (unreserved, pct-encoded, sub-delims), then
    /// optionally ':' and digits. Empty is valid.
    static func isValidHost(_ value: String) -> Bool {
        var bytes = Substring(value).utf8[...]
        if bytes.first == UInt8(ascii: "[") {
            guard let close = bytes.firstIndex(of: UInt8(ascii: "]")) else { return false }
            let literal = bytes[bytes.index(after: bytes.startIndex)..<close]
            guard !literal.isEmpty, literal.allSatisfy(isIPLiteralByte) else { return false }
            bytes = bytes[bytes.index(after: close)...]
            guard let colon = bytes.first else { return true }
            return colon == UInt8(ascii: ":") && bytes.dropFirst().allSatisfy(isDigit)
        }
        if let colon = bytes.lastIndex(of: UInt8(ascii: ":")) {
            guard bytes[bytes.index(after: colon)...].allSatisfy(isDigit) else { return false }
            bytes = bytes[..<colon]
        }
        return bytes.allSatisfy(isRegNameByte)
    }

    private static func isDigit(_ byte: UInt8) -> Bool {
        byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9")
    }

    /// unreserved / sub-delims / "%" (RFC 3986 sections 2.1-2.3).
    private static func isRegNameByte(_ byte: UInt8) -> Bool {
        switch byte {
        case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"),
             UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "-"), UInt8(ascii: "."), UInt8(ascii: "_"),
             UInt8(ascii: "~"), UInt8(ascii: "%"), UInt8(ascii: "!"), UInt8(ascii: "$"), UInt8(ascii: "&"),
             UInt8(ascii: "'"), UInt8(ascii: "("), UInt8(ascii: ")"), UInt8(ascii: "*"), UInt8(ascii: "+"),
             UInt8(ascii: ","), UInt8(ascii: ";"), UInt8(ascii: "="):
            return true
        default:
            return false
        }
    }

    /// IPv6address / IPvFuture characters inside brackets (RFC 3986 section 3.2.2).
    private static func isIPLiteralByte(_ byte: UInt8) -> Bool {
        byte == UInt8(ascii: ":") || isRegNameByte(byte)
    }
}
