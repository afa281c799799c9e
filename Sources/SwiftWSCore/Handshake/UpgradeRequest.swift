/// A client's valid WebSocket upgrade request, as `ServerHandshake` accepted it: what the
/// application needs to decide, and how to answer 101 (RFC 6455 section 4.2.2).
public struct UpgradeRequest: Hashable, Sendable {
    /// The whole request head: method, target, version and every header in order.
    public let head: HTTPRequestHead
    /// The Host header value (authority, possibly with a port).
    public let host: String
    /// The Origin header value, if any (browsers always send it; section 10.2 leaves policy to us).
    public let origin: String?
    /// The Sec-WebSocket-Key value, already checked to be Base64 of 16 bytes.
    public let key: String
    /// The subprotocols the client offered, in its order of preference (section 4.1, item 10).
    public let subprotocols: [String]
    /// The extensions the client offered, parsed, in its order of preference. Empty if none.
    public let extensionOffers: [ExtensionOffer]

    /// Every header of the request.
    public var headers: HTTPHeaders { head.headers }

    /// The request target up to `?`: `/chat` for `/chat?room=1`.
    public var path: String {
        let target = head.target.utf8
        let end = target.firstIndex(of: UInt8(ascii: "?")) ?? target.endIndex
        return String(decoding: target[target.startIndex..<end], as: UTF8.self)
    }

    /// The request target after the first `?`, nil if there is none: `room=1` for `/chat?room=1`.
    public var query: String? {
        let target = head.target.utf8
        guard let mark = target.firstIndex(of: UInt8(ascii: "?")) else { return nil }
        return String(decoding: target[target.index(after: mark)...], as: UTF8.self)
    }

    /// The `Sec-WebSocket-Accept` value this request's key calls for.
    public var acceptValue: String { WebSocketAccept.value(forKey: key) }

    /// The 101 Switching Protocols response that completes the handshake:
    /// `Upgrade: websocket`, `Connection: Upgrade`, `Sec-WebSocket-Accept`, then
    /// `Sec-WebSocket-Protocol` if `subprotocol` is given, `Sec-WebSocket-Extensions` with
    /// `extensions` if any, then `headers`.
    ///
    /// Throws `.subprotocolNotOffered` if `subprotocol` is not one the client offered (section
    /// 4.2.2: "the server MUST NOT" pick another), `.extensionNotOffered` if an extension's name
    /// was not offered (section 9.1), `.invalidArgument` if a header cannot be written.
    public func acceptResponse(subprotocol: String? = nil, extensions: [ExtensionOffer] = [],
                               headers extra: HTTPHeaders = HTTPHeaders()) throws(HandshakeError) -> [UInt8] {
        var headers = HTTPHeaders()
        headers.append(name: "Upgrade", value: "websocket")
        headers.append(name: "Connection", value: "Upgrade")
        headers.append(name: "Sec-WebSocket-Accept", value: acceptValue)
        if let subprotocol {
            guard subprotocols.contains(subprotocol) else {
                throw HandshakeError(.subprotocolNotOffered, "subprotocol '\(subprotocol)' was not offered by the client")
            }
            headers.append(name: "Sec-WebSocket-Protocol", value: subprotocol)
        }
        if !extensions.isEmpty {
            for accepted in extensions {
                guard extensionOffers.contains(where: { HTTPHeaders.namesMatch($0.name, accepted.name) }) else {
                    throw HandshakeError(.extensionNotOffered, "extension '\(accepted.name)' was not offered by the client")
                }
                try ExtensionOffer.validateForWriting(accepted)
            }
            headers.append(name: "Sec-WebSocket-Extensions", value: extensions.map(\.description).joined(separator: ", "))
        }
        try HTTPResponseWriter.validate(extra)
        for field in extra { headers.append(name: field.name, value: field.value) }
        return HTTPResponseWriter.head(status: 101, reasonPhrase: "Switching Protocols", headers: headers)
    }
}

extension ExtensionOffer {
    /// Throws `.invalidArgument` unless the offer can be written and read back as it is: name and
    /// parameter names are tokens, values are tokens (written bare or quoted, section 9.1).
    static func validateForWriting(_ offer: ExtensionOffer) throws(HandshakeError) {
        guard HTTPToken.isToken(offer.name) else {
            throw HandshakeError(.invalidArgument, "extension name is not a token")
        }
        for parameter in offer.parameters {
            guard HTTPToken.isToken(parameter.name), parameter.value.map(HTTPToken.isToken) ?? true else {
                throw HandshakeError(.invalidArgument, "parameter of extension \(offer.name) is not a token")
            }
        }
    }
}
