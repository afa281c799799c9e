/// Why an opening handshake failed: which rule was broken (`failure`), a human-readable `reason`,
/// and, when a server detected it, the HTTP status to answer with (`status`).
///
/// Server side, `responseBytes()` is the complete HTTP rejection to send before closing the
/// connection. Client side, the caller fails the WebSocket connection (RFC 6455 section 4.1:
/// "the client MUST _Fail the WebSocket Connection_"). The reason never contains peer bytes
/// beyond short, sanitised excerpts, so it is safe to log and to send.
public struct HandshakeError: Error, Hashable, Sendable, CustomStringConvertible {
    /// The rule that was broken.
    public var failure: HandshakeFailure
    /// A short explanation for logs and for the body of a rejection response.
    public var reason: String

    /// A failure with its reason.
    public init(_ failure: HandshakeFailure, _ reason: String) {
        self.failure = failure
        self.reason = reason
    }

    /// The HTTP status a server answers with; nil for failures only a client detects.
    public var status: Int? { failure.status }

    /// `"400 Bad Request: missing Host header"`, or the client-side equivalent.
    public var description: String {
        if let status { return "\(status) \(HTTPStatus.reasonPhrase(for: status)): \(reason)" }
        return "WebSocket handshake failed: \(reason)"
    }

    /// The HTTP response a server sends for this failure: its status, a `text/plain` body with the
    /// reason, `Connection: close`, and the headers the status calls for (426 carries
    /// `Upgrade: websocket` and `Sec-WebSocket-Version: 13` per RFC 6455 section 4.2.2 and RFC 7231
    /// section 6.5.15; 405 carries `Allow: GET` per RFC 7231 section 6.5.5).
    /// For client-side failures (nil `status`) it is a 500 response and should not be needed.
    public func responseBytes() -> [UInt8] {
        let status = self.status ?? 500
        var headers = HTTPHeaders()
        switch failure {
        case .unsupportedWebSocketVersion:
            headers.append(name: "Upgrade", value: "websocket")
            headers.append(name: "Sec-WebSocket-Version", value: ServerHandshake.supportedVersion)
        case .methodNotAllowed:
            headers.append(name: "Allow", value: "GET")
        default:
            break
        }
        return HTTPResponseWriter.rejection(status: status, headers: headers, body: Array((reason + "\n").utf8))
    }
}

/// The handshake rules SwiftWS enforces, one case per rule, so tests and callers can tell them apart.
public enum HandshakeFailure: Hashable, Sendable {
    // HTTP syntax, both sides (RFC 7230 section 3).
    /// The request or status line, a header line or the line endings are malformed.
    case malformedHead
    /// The head exceeds the configured byte limit before its blank line (RFC 6585 section 5: 431).
    case headTooLarge
    /// The head has more header lines than the configured limit (431).
    case tooManyHeaders

    // Server side: any request, upgrade or plain HTTP (RFC 9110, RFC 9112; see `validateMessage`).
    /// The request's major HTTP version is not 1 (RFC 9110 section 15.6.6: 505).
    case httpVersionNotSupported
    /// Content-Length is not one non-negative decimal (or several different ones), comes with
    /// Transfer-Encoding, or Transfer-Encoding is on HTTP/1.0 or does not end in `chunked`
    /// (RFC 9112 sections 6.1 and 6.3: 400).
    case invalidBodyFraming
    /// A plain HTTP request's method is not one the server recognises (RFC 9110 section 9.1: 501;
    /// methods are case-sensitive, so `get` is not GET).
    case methodNotImplemented

    // Server side: the client's request (RFC 6455 section 4.2.1).
    /// The method is not GET (item 1). Answered with 405 and `Allow: GET`: the request is well
    /// formed, it only asks for something this resource does not do (RFC 9110 section 15.5.6).
    /// A lowercase `get` lands here too: method tokens are case-sensitive (RFC 9110 section 9.1),
    /// so it is another method, and 405 with `Allow: GET` tells the client the one that works
    /// (rather than 400: the request line itself is well formed).
    case methodNotAllowed
    /// The HTTP version is below 1.1 (item 1; client side: a response below HTTP/1.1).
    case unsupportedHTTPVersion
    /// The request target is not origin-form (`/path?query`, item 1).
    case invalidRequestTarget
    /// No Host header, or several, or an invalid one (item 2; RFC 9112 section 3.2). Any request.
    case invalidHost
    /// A WebSocket upgrade request announces a body (Content-Length above 0 or Transfer-Encoding):
    /// RFC 6455 section 4.1 makes the opening handshake a GET without one, and bytes after the head
    /// must never be taken for frames.
    case unexpectedBody
    /// No `Upgrade: websocket` (item 3).
    case invalidUpgrade
    /// No `upgrade` token in `Connection` (item 4).
    case invalidConnection
    /// `Sec-WebSocket-Key` missing, repeated, or not Base64 of 16 bytes (item 5).
    case invalidKey
    /// `Sec-WebSocket-Version` missing or not 13 (item 6): 426 with `Sec-WebSocket-Version: 13`.
    case unsupportedWebSocketVersion
    /// `Sec-WebSocket-Protocol` is not a comma list of tokens (item 8, RFC 6455 section 4.3).
    case invalidSubprotocolHeader
    /// `Sec-WebSocket-Extensions` does not follow RFC 6455 section 9.1 (item 9).
    case invalidExtensionHeader

    // Server side: the application's answer was not valid (a caller error, answered 500).
    /// The server tried to select a subprotocol the client did not offer (RFC 6455 section 4.2.2).
    case subprotocolNotOffered
    /// The server tried to accept an extension the client did not offer (RFC 6455 section 9.1).
    case extensionNotOffered
    /// A header name, value, host, path or status the application supplied cannot be written.
    case invalidArgument

    // Client side: the server's response (RFC 6455 section 4.1, "the client MUST validate").
    /// The status is not 101; `code` and `reasonPhrase` are the server's.
    case unexpectedStatus(code: Int, reasonPhrase: String)
    /// `Sec-WebSocket-Accept` is missing, repeated, or not the value our key calls for.
    case invalidAccept
    /// The server selected a subprotocol we did not offer, or several.
    case unrequestedSubprotocol
    /// The server answered with an extension we did not offer.
    case unofferedExtension
    /// The server accepted an extension with parameters we cannot accept (RFC 7692 section 7.1 for
    /// permessage-deflate: unknown, duplicated or out-of-range parameters, a larger window than
    /// offered, ...).
    case invalidExtensionResponse

    /// The HTTP status a server answers with for this failure; nil for client-only failures.
    public var status: Int? {
        switch self {
        case .headTooLarge, .tooManyHeaders: return 431
        case .methodNotAllowed: return 405
        case .methodNotImplemented: return 501
        case .httpVersionNotSupported: return 505
        case .unsupportedWebSocketVersion: return 426
        case .malformedHead, .invalidBodyFraming, .unexpectedBody, .unsupportedHTTPVersion, .invalidRequestTarget, .invalidHost,
             .invalidUpgrade, .invalidConnection, .invalidKey, .invalidSubprotocolHeader,
             .invalidExtensionHeader:
            return 400
        case .subprotocolNotOffered, .extensionNotOffered, .invalidArgument: return 500
        case .unexpectedStatus, .invalidAccept, .unrequestedSubprotocol, .unofferedExtension,
             .invalidExtensionResponse:
            return nil
        }
    }
}
