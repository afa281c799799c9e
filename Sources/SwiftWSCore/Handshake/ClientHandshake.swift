/// The client half of the opening handshake (RFC 6455 section 4.1), without I/O.
///
/// Create it with the target and options, send `requestBytes`, then feed received bytes to
/// `receive` until it returns `.complete(answer, consumed:)`; the bytes of the last chunk after
/// `consumed` are the first WebSocket frames. If `receive` throws, fail the connection: the
/// error says which rule the server broke (a non-101 status carries its code and reason phrase,
/// and `response` keeps the whole head, for example to read `Location` on a redirect).
///
/// Extension negotiation stays with the caller: the offers passed in are sent as they are, and
/// `answer.extensions` is what the server accepted (only names we offered get through); the
/// negotiator (permessage-deflate) then checks the parameters.
public struct ClientHandshake {
    /// The request to send, complete.
    public let requestBytes: [UInt8]
    /// The Sec-WebSocket-Key sent: Base64 of 16 random bytes.
    public let key: String
    /// The Sec-WebSocket-Accept value the server must answer with.
    public let expectedAccept: String
    /// The subprotocols offered, in order of preference.
    public let subprotocols: [String]
    /// The extension offers sent, in order of preference.
    public let extensionOffers: [ExtensionOffer]
    /// The server's response head once it has been read, also when it was rejected.
    public private(set) var response: HTTPResponseHead?

    private var parser: HTTPResponseParser

    /// Builds the request for `ws[s]://host[:port]path[?query]`.
    ///
    /// - Parameters:
    ///   - host: a DNS name or IP address; an IPv6 literal (with or without brackets) is written
    ///     in brackets.
    ///   - port: the TCP port; written in Host only when it is not the scheme's default (80 for
    ///     ws, 443 for wss), as RFC 6455 section 4.1 item 4 asks.
    ///   - secure: wss (only decides the default port here; TLS is the transport's business).
    ///   - path: the resource name, starting with "/"; `query` without its "?".
    ///   - origin: sent as `Origin` if given (browsers always send one; section 10.2).
    ///   - subprotocols: tokens, sent as `Sec-WebSocket-Protocol` if any.
    ///   - extensions: sent as `Sec-WebSocket-Extensions` if any.
    ///   - headers: extra headers, written last.
    /// - Throws: `.invalidArgument` if any of these cannot be written into a valid request.
    public init(host: String, port: Int? = nil, secure: Bool = false, path: String = "/", query: String? = nil,
                origin: String? = nil, subprotocols: [String] = [], extensions: [ExtensionOffer] = [],
                headers: HTTPHeaders = HTTPHeaders(), limits: HTTPHeadLimits = HTTPHeadLimits()) throws(HandshakeError) {
        // Section 4.1 item 7: "a nonce consisting of a randomly selected 16-byte value",
        // "chosen randomly for each connection" -- from the kernel's CSPRNG.
        try self.init(host: host, port: port, secure: secure, path: path, query: query, origin: origin,
                      subprotocols: subprotocols, extensions: extensions, headers: headers, limits: limits,
                      keyBytes: SecureRandom.bytes(16))
    }

    /// The same with a given nonce, for tests that need fixed bytes.
    init(host: String, port: Int?, secure: Bool, path: String, query: String?, origin: String?,
         subprotocols: [String], extensions: [ExtensionOffer], headers: HTTPHeaders, limits: HTTPHeadLimits,
         keyBytes: [UInt8]) throws(HandshakeError) {
        let authority = try ClientHandshake.hostHeader(host: host, port: port, secure: secure)
        let path = path.isEmpty ? "/" : path
        guard path.utf8.first == UInt8(ascii: "/"), ClientHandshake.isTargetText(path),
              !path.utf8.contains(UInt8(ascii: "?")) else {
            throw HandshakeError(.invalidArgument, "path must start with '/' and hold visible ASCII only, without '?' or '#'")
        }
        if let query, !ClientHandshake.isTargetText(query) {
            throw HandshakeError(.invalidArgument, "query must hold visible ASCII only, without '#'")
        }
        if let origin, origin.isEmpty || !HTTPResponseWriter.isValidFieldValue(origin) {
            throw HandshakeError(.invalidArgument, "origin is empty or holds control characters")
        }
        guard subprotocols.allSatisfy(HTTPToken.isToken) else {
            throw HandshakeError(.invalidArgument, "subprotocols must be tokens")
        }
        for offer in extensions { try ExtensionOffer.validateForWriting(offer) }
        try HTTPResponseWriter.validate(headers)

        key = Base64.encode(keyBytes)
        expectedAccept = WebSocketAccept.value(forKey: key)
        self.subprotocols = subprotocols
        extensionOffers = extensions
        parser = HTTPResponseParser(limits: limits)

        var fields = HTTPHeaders()
        fields.append(name: "Host", value: authority)
        fields.append(name: "Upgrade", value: "websocket")
        fields.append(name: "Connection", value: "Upgrade")
        fields.append(name: "Sec-WebSocket-Key", value: key)
        fields.append(name: "Sec-WebSocket-Version", value: ServerHandshake.supportedVersion)
        if let origin { fields.append(name: "Origin", value: origin) }
        if !subprotocols.isEmpty { fields.append(name: "Sec-WebSocket-Protocol", value: subprotocols.joined(separator: ", ")) }
        if !extensions.isEmpty {
            fields.append(name: "Sec-WebSocket-Extensions", value: extensions.map(\.description).joined(separator: ", "))
        }
        for field in headers { fields.append(name: field.name, value: field.value) }

        var bytes: [UInt8] = []
        bytes.reserveCapacity(256)
        bytes += "GET ".utf8
        bytes += path.utf8
        if let query { bytes += "?".utf8; bytes += query.utf8 }
        bytes += " HTTP/1.1\r\n".utf8
        HTTPResponseWriter.appendFields(fields, to: &bytes)
        requestBytes = bytes
    }

    /// Feeds received bytes. Throws if the response fails any check of section 4.1.
    public mutating func receive(_ chunk: UnsafeRawBufferPointer) throws(HandshakeError) -> HandshakeProgress<ServerAnswer> {
        switch try parser.parse(chunk) {
        case .needMoreBytes:
            return .needMoreBytes
        case .complete(let head, let consumed):
            response = head
            return .complete(try validate(head), consumed: consumed)
        }
    }

    /// Feeds received bytes held in an array.
    public mutating func receive(_ bytes: [UInt8]) throws(HandshakeError) -> HandshakeProgress<ServerAnswer> {
        let outcome = bytes.withUnsafeBytes { buffer in
            Result { () throws(HandshakeError) in try receive(buffer) }
        }
        return try outcome.get()
    }

    /// Checks a complete response against section 4.1 ("the client MUST validate the server's
    /// response as follows"), in the order of that list.
    public func validate(_ head: HTTPResponseHead) throws(HandshakeError) -> ServerAnswer {
        // 1. "If the status code received from the server is not 101, the client handles the
        //    response per HTTP procedures" -- for us: fail, carrying the status.
        guard head.status == 101 else {
            throw HandshakeError(.unexpectedStatus(code: head.status, reasonPhrase: head.reasonPhrase),
                                 "server answered \(head.status) instead of 101 Switching Protocols")
        }
        // A 101 only exists from HTTP/1.1 on (RFC 7231 section 6.2), as does the upgrade mechanism.
        guard head.version >= .http11 else {
            throw HandshakeError(.unsupportedHTTPVersion, "response is \(head.version), not HTTP/1.1 or later")
        }
        let headers = head.headers
        // 2. Upgrade must be "websocket", ASCII case-insensitive.
        guard headers.containsToken("websocket", in: "Upgrade") else {
            throw HandshakeError(.invalidUpgrade, "response lacks 'Upgrade: websocket'")
        }
        // 3. Connection must include "Upgrade", ASCII case-insensitive.
        guard headers.containsToken("upgrade", in: "Connection") else {
            throw HandshakeError(.invalidConnection, "response Connection header does not include 'Upgrade'")
        }
        // 4. Sec-WebSocket-Accept must be base64(SHA-1(key + GUID)), compared exactly.
        let accepts = headers.values("Sec-WebSocket-Accept")
        guard accepts == [expectedAccept] else {
            throw HandshakeError(.invalidAccept, accepts.isEmpty
                ? "response lacks Sec-WebSocket-Accept"
                : "Sec-WebSocket-Accept does not match the key sent")
        }
        // 5. Extensions: only ones we offered ("indicates the use of an extension that was not
        //    present in the client's handshake" fails the connection).
        let answered = try ExtensionOffer.parseHeaderValues(headers.values("Sec-WebSocket-Extensions"))
        for answer in answered where !extensionOffers.contains(where: { HTTPHeaders.namesMatch($0.name, answer.name) }) {
            throw HandshakeError(.unofferedExtension, "server accepted extension '\(answer.name)' that was not offered")
        }
        // 6. Subprotocol: at most one, and one we offered.
        let protocols = headers.values("Sec-WebSocket-Protocol")
        var subprotocol: String?
        if !protocols.isEmpty {
            guard protocols.count == 1, let chosen = protocols.first, subprotocols.contains(chosen) else {
                throw HandshakeError(.unrequestedSubprotocol, subprotocols.isEmpty
                    ? "server selected a subprotocol though none was offered"
                    : "server selected a subprotocol that was not offered")
            }
            subprotocol = chosen
        }
        return ServerAnswer(head: head, subprotocol: subprotocol, extensions: answered)
    }

    /// The Host value: host, bracketed if IPv6, then ":port" unless it is the default.
    static func hostHeader(host: String, port: Int?, secure: Bool) throws(HandshakeError) -> String {
        var name = host
        let bytes = Array(host.utf8)
        if bytes.first == UInt8(ascii: "["), bytes.last == UInt8(ascii: "]") {
            name = String(decoding: bytes.dropFirst().dropLast(), as: UTF8.self)
        }
        // reg-name / IPv4address / IPv6address characters (RFC 3986 section 3.2.2), no userinfo.
        let allowed: (UInt8) -> Bool = { byte in
            switch byte {
            case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"),
                 UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "-"), UInt8(ascii: "."), UInt8(ascii: "_"),
                 UInt8(ascii: "~"), UInt8(ascii: "%"), UInt8(ascii: ":"):
                return true
            default:
                return false
            }
        }
        guard !name.isEmpty, name.utf8.allSatisfy(allowed) else {
            throw HandshakeError(.invalidArgument, "host is empty or holds characters not allowed in a host name")
        }
        if name.utf8.contains(UInt8(ascii: ":")) {
            // An IPv6 literal: hex digits, ':' and '.' (embedded IPv4) only, so that "host:port"
            // passed as a host is refused instead of being bracketed into nonsense. Zone IDs
            // (RFC 6874) are not supported: they mean nothing to the server.
            let isIPv6Character: (UInt8) -> Bool = { byte in
                switch byte {
                case UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "a")...UInt8(ascii: "f"),
                     UInt8(ascii: "A")...UInt8(ascii: "F"), UInt8(ascii: ":"), UInt8(ascii: "."):
                    return true
                default:
                    return false
                }
            }
            guard name.utf8.allSatisfy(isIPv6Character) else {
                throw HandshakeError(.invalidArgument, "host with ':' is not an IPv6 address (give the port separately)")
            }
            name = "[" + name + "]"
        }
        guard let port else { return name }
        guard (1...65535).contains(port) else { throw HandshakeError(.invalidArgument, "port \(port) is not in 1...65535") }
        return port == (secure ? 443 : 80) ? name : name + ":" + String(port)
    }

    /// Visible ASCII without '#' (a fragment is never sent, RFC 6455 section 3).
    private static func isTargetText(_ text: String) -> Bool {
        text.utf8.allSatisfy { $0 > 0x20 && $0 < 0x7F && $0 != UInt8(ascii: "#") }
    }
}

/// What the server answered to a successful handshake.
public struct ServerAnswer: Hashable, Sendable {
    /// The whole 101 response head.
    public let head: HTTPResponseHead
    /// The subprotocol the server selected (one we offered), or nil.
    public let subprotocol: String?
    /// The extensions the server accepted, in its order, each one whose name we offered.
    /// The negotiator checks the parameters (RFC 7692 section 7.1 for permessage-deflate).
    public let extensions: [ExtensionOffer]
}
