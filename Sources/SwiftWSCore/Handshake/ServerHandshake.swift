// Handshake/: the RFC 6455 opening handshake, sans-I/O, both roles. An incremental HTTP/1.1 head
// parser (HTTPRequestParser, HTTPResponseParser), HTTPHeaders, ServerHandshake -> UpgradeRequest ->
// 101 response, ClientHandshake -> request bytes -> ServerAnswer, HandshakeError, and the SHA-1 and
// Base64 that Sec-WebSocket-Accept needs.
//
// Decisions: CR LF line endings only (bare LF rejected); obs-fold rejected; origin-form request
// targets only; a major HTTP version other than 1 is 505; no or several Host on HTTP/1.1, an invalid
// or conflicting Content-Length, Content-Length with Transfer-Encoding, Transfer-Encoding on
// HTTP/1.0, and an upgrade request with a body are 400 (HTTPRequestRules.swift); non-GET (also
// `get`: methods are case-sensitive) is 405 with `Allow: GET`, and a plain HTTP request whose method
// is not a standard one is 501; a wrong or missing Sec-WebSocket-Version is 426
// with `Sec-WebSocket-Version: 13`; a head over 8 KiB or with over 64 header lines is 431; every
// other request failure is 400. Extension negotiation stays with the caller (see below).

/// The server half of the opening handshake (RFC 6455 section 4.2), without I/O.
///
/// Feed received bytes to `receive` until it returns `.complete(request, consumed:)`; the bytes
/// of the last chunk after `consumed` are the first WebSocket frames. Then look at the request
/// (path, Origin, subprotocols, extension offers, any header) and either send
/// `request.acceptResponse(...)` (101) or a rejection built with `HTTPResponseWriter.response`.
/// When `receive` throws, send `error.responseBytes()` (400, 405, 426 or 431 with a reason) and
/// close the connection.
///
/// Extension negotiation stays with the caller: `request.extensionOffers` is what the client
/// offered, parsed; the negotiator (permessage-deflate) chooses and passes what it accepts to
/// `acceptResponse(extensions:)`, which checks that each was offered.
public struct ServerHandshake {
    /// The only `Sec-WebSocket-Version` RFC 6455 defines.
    public static let supportedVersion = "13"

    /// The request head once it has been read, also when it failed validation: a server that
    /// answers plain HTTP on the same port serves it when the failure is `.invalidUpgrade` (no
    /// `Upgrade: websocket`, so not a WebSocket request at all).
    public private(set) var head: HTTPRequestHead?

    private var parser: HTTPRequestParser

    /// A handshake reading a request under `limits`.
    public init(limits: HTTPHeadLimits = HTTPHeadLimits()) {
        parser = HTTPRequestParser(limits: limits)
    }

    /// Feeds received bytes. Throws the reason to reject the request with.
    public mutating func receive(_ chunk: UnsafeRawBufferPointer) throws(HandshakeError) -> HandshakeProgress<UpgradeRequest> {
        switch try parser.parse(chunk) {
        case .needMoreBytes:
            return .needMoreBytes
        case .complete(let head, let consumed):
            self.head = head
            return .complete(try ServerHandshake.validate(head), consumed: consumed)
        }
    }

    /// Feeds received bytes held in an array.
    public mutating func receive(_ bytes: [UInt8]) throws(HandshakeError) -> HandshakeProgress<UpgradeRequest> {
        // withUnsafeBytes is rethrows-only for untyped errors, so the outcome travels as a Result.
        let outcome = bytes.withUnsafeBytes { buffer in
            Result { () throws(HandshakeError) in try receive(buffer) }
        }
        return try outcome.get()
    }

    /// What a server does with a complete request head, once the rules every request must follow
    /// hold (`HTTPRequestHead.validateMessage`): a request with an `Upgrade` or a
    /// `Sec-WebSocket-Key` header asks for a WebSocket and is validated as one (`validate`); any
    /// other is plain HTTP, for the application to answer if its method is one we recognise.
    /// Throws the reason to reject the request with; the caller sends `error.responseBytes()`.
    ///
    /// A plain request may announce a body: the server answers with `Connection: close` and never
    /// reads it, and nothing after the head is ever taken for WebSocket frames.
    public static func classify(_ head: HTTPRequestHead) throws(HandshakeError) -> ServerRequest {
        let body = try head.validateMessage()
        let headers = head.headers
        if headers.contains("Upgrade") || headers.contains("Sec-WebSocket-Key") {
            return .upgrade(try validateUpgrade(head, body: body))
        }
        // RFC 9110 section 9.1: "The method token is case-sensitive"; "An origin server that
        // receives a request method that is unrecognized or not implemented SHOULD respond with
        // the 501 (Not Implemented) status code." So `get` is answered 501, never served as GET.
        guard HTTPRequestHead.recognizedMethods.contains(head.method) else {
            throw HandshakeError(.methodNotImplemented, "method not implemented")
        }
        return .plain(head, body: body)
    }

    /// Checks a complete request against RFC 6455 section 4.2.1, first failure wins: first the
    /// rules of any HTTP request (`HTTPRequestHead.validateMessage`: version 505, Host, body
    /// framing), then in the order of that section's list: method and version, Host, Upgrade,
    /// Connection, key, version, then the syntax of the optional subprotocol and extension headers.
    public static func validate(_ head: HTTPRequestHead) throws(HandshakeError) -> UpgradeRequest {
        try validateUpgrade(head, body: head.validateMessage())
    }

    private static func validateUpgrade(_ head: HTTPRequestHead, body: HTTPRequestBody) throws(HandshakeError) -> UpgradeRequest {
        // 1. "An HTTP/1.1 or higher GET request, including a Request-URI". Methods are
        //    case-sensitive (RFC 9110 section 9.1): `get` is another method, answered 405.
        guard head.method == "GET" else {
            throw HandshakeError(.methodNotAllowed, "WebSocket upgrade requires GET")
        }
        guard head.version >= .http11 else {
            throw HandshakeError(.unsupportedHTTPVersion, "WebSocket upgrade requires HTTP/1.1 or later")
        }
        // RFC 6455 section 4.1: the opening handshake is a GET with no body; what follows the head
        // is frames, so a body would be parsed as frames. Refuse it (RFC 9110 section 9.3.1: a GET
        // body "has no generally defined semantics").
        guard body.isEmpty else {
            throw HandshakeError(.unexpectedBody, "WebSocket upgrade request must not have a body")
        }
        let target = Array(head.target.utf8)
        guard target.first == UInt8(ascii: "/"), !target.contains(UInt8(ascii: "#")) else {
            throw HandshakeError(.invalidRequestTarget, "request target must be a path with optional query (origin-form)")
        }
        let headers = head.headers
        // 2. "A |Host| header field containing the server's authority": exactly one, valid, was
        //    checked by validateMessage (RFC 9112 section 3.2); an authority is not empty.
        guard let host = headers.first("Host"), !host.isEmpty else {
            throw HandshakeError(.invalidHost, "empty Host header")
        }
        // 3. "An |Upgrade| header field containing the value "websocket", ... ASCII case-insensitive".
        guard headers.containsToken("websocket", in: "Upgrade") else {
            throw HandshakeError(.invalidUpgrade, "missing 'Upgrade: websocket' header")
        }
        // 4. "A |Connection| header field that includes the token "Upgrade", ... case-insensitive".
        guard headers.containsToken("upgrade", in: "Connection") else {
            throw HandshakeError(.invalidConnection, "Connection header does not include 'Upgrade'")
        }
        // 5. "A |Sec-WebSocket-Key| header field with a base64-encoded value that, when decoded,
        //    is 16 bytes in length." Non-zero bits before the "==" are tolerated, as Node's ws and
        //    Python's websockets do: they change nothing about the 16 bytes' length, and refusing
        //    them would only break clients that build keys by hand.
        let keys = headers.values("Sec-WebSocket-Key")
        guard keys.count == 1, let key = keys.first, Base64.decode(key, allowNonZeroPadBits: true)?.count == 16 else {
            throw HandshakeError(.invalidKey, keys.isEmpty
                ? "missing Sec-WebSocket-Key header"
                : "Sec-WebSocket-Key must be one Base64 value of 16 bytes")
        }
        // 6. "A |Sec-WebSocket-Version| header field, with a value of 13." Otherwise section 4.4:
        //    answer with the versions we support (the 426 carries Sec-WebSocket-Version: 13).
        let versions = headers.values("Sec-WebSocket-Version")
        guard versions == [supportedVersion] else {
            throw HandshakeError(.unsupportedWebSocketVersion, versions.isEmpty
                ? "missing Sec-WebSocket-Version header (13 required)"
                : "unsupported Sec-WebSocket-Version (13 required)")
        }
        // 8. Sec-WebSocket-Protocol: 1#token (section 4.3), possibly over several header lines.
        var subprotocols: [String] = []
        for value in headers.values("Sec-WebSocket-Protocol") {
            let elements = HTTPHeaders.listElements(value)
            guard !elements.isEmpty, elements.allSatisfy(HTTPToken.isToken) else {
                throw HandshakeError(.invalidSubprotocolHeader, "Sec-WebSocket-Protocol must be a comma list of tokens")
            }
            subprotocols += elements
        }
        // 9. Sec-WebSocket-Extensions (section 9.1).
        let offers = try ExtensionOffer.parseHeaderValues(headers.values("Sec-WebSocket-Extensions"))
        // 7. Origin is optional for non-browser clients; its policy belongs to the application.
        return UpgradeRequest(head: head, host: host, origin: headers.first("Origin"), key: key,
                              subprotocols: subprotocols, extensionOffers: offers)
    }
}

/// A request a server has read and checked (`ServerHandshake.classify`).
public enum ServerRequest: Hashable, Sendable {
    /// A valid WebSocket upgrade request: answer 101 (or refuse it).
    case upgrade(UpgradeRequest)
    /// A plain HTTP request with a recognised method, for the application to answer; `body` says
    /// what follows the head (never read: the answer closes the connection).
    case plain(HTTPRequestHead, body: HTTPRequestBody)
}
