/// Parsing of `Sec-WebSocket-Extensions` values into `[ExtensionOffer]` (RFC 6455 section 9.1).
///
///     extension-list = 1#extension
///     extension      = extension-token *( ";" extension-param )
///     extension-param = token [ "=" (token | quoted-string) ]
///         ; a quoted-string value, once unescaped, MUST conform to the token ABNF
///
/// Optional whitespace is allowed around ";", "," and "=" (the RFC's grammar uses implied LWS).
/// Empty list elements (`a, , b`) are skipped, as RFC 7230 section 7 requires, but a value with no
/// extension at all is malformed (`1#`). Anything else that does not match is an error, never
/// silently dropped: a server answers 400, a client fails the connection.
extension ExtensionOffer {
    /// The offers in one or several `Sec-WebSocket-Extensions` header values, in order.
    /// Each value must hold at least one offer.
    public static func parseHeaderValues(_ values: [String]) throws(HandshakeError) -> [ExtensionOffer] {
        var offers: [ExtensionOffer] = []
        for value in values { offers += try parseHeaderValue(value) }
        return offers
    }

    /// The offers in one `Sec-WebSocket-Extensions` header value, in order.
    public static func parseHeaderValue(_ value: String) throws(HandshakeError) -> [ExtensionOffer] {
        var reader = ExtensionListReader(bytes: Array(value.utf8))
        return try reader.readList()
    }
}

/// A cursor over one header value, following the grammar above.
private struct ExtensionListReader {
    let bytes: [UInt8]
    var index = 0

    mutating func readList() throws(HandshakeError) -> [ExtensionOffer] {
        var offers: [ExtensionOffer] = []
        while true {
            skipWhitespace()
            if index == bytes.count { break }
            if bytes[index] == UInt8(ascii: ",") {  // empty element
                index += 1
                continue
            }
            offers.append(try readExtension())
            skipWhitespace()
            if index == bytes.count { break }
            guard bytes[index] == UInt8(ascii: ",") else { throw error("expected ',' or ';' after an extension") }
            index += 1
        }
        guard !offers.isEmpty else { throw error("Sec-WebSocket-Extensions lists no extension") }
        return offers
    }

    private mutating func readExtension() throws(HandshakeError) -> ExtensionOffer {
        guard let name = readToken() else { throw error("extension name is not a token") }
        var offer = ExtensionOffer(name: name)
        while true {
            skipWhitespace()
            guard index < bytes.count, bytes[index] == UInt8(ascii: ";") else { return offer }
            index += 1
            skipWhitespace()
            guard let parameterName = readToken() else { throw error("extension parameter name is not a token") }
            skipWhitespace()
            var value: String?
            if index < bytes.count, bytes[index] == UInt8(ascii: "=") {
                index += 1
                skipWhitespace()
                if index < bytes.count, bytes[index] == UInt8(ascii: "\"") {
                    value = try readQuotedToken()
                } else {
                    guard let token = readToken() else { throw error("extension parameter value is not a token") }
                    value = token
                }
            }
            offer.parameters.append(ExtensionParameter(parameterName, value))
        }
    }

    /// A non-empty run of tchar, or nil (nothing consumed).
    private mutating func readToken() -> String? {
        let start = index
        while index < bytes.count, HTTPToken.isTokenCharacter(bytes[index]) { index += 1 }
        return index > start ? String(decoding: bytes[start..<index], as: UTF8.self) : nil
    }

    /// A quoted-string (RFC 7230 section 3.2.6) whose unescaped content must be a token.
    private mutating func readQuotedToken() throws(HandshakeError) -> String {
        index += 1  // opening quote
        var content: [UInt8] = []
        while index < bytes.count {
            let byte = bytes[index]
            index += 1
            switch byte {
            case UInt8(ascii: "\""):
                guard !content.isEmpty, content.allSatisfy(HTTPToken.isTokenCharacter) else {
                    throw error("quoted extension parameter value is not a token once unquoted")
                }
                return String(decoding: content, as: UTF8.self)
            case UInt8(ascii: "\\"):
                guard index < bytes.count else { throw error("unterminated quoted-string") }
                content.append(bytes[index])
                index += 1
            default:
                content.append(byte)
            }
        }
        throw error("unterminated quoted-string")
    }

    private mutating func skipWhitespace() {
        while index < bytes.count, HTTPHeaders.isWhitespace(bytes[index]) { index += 1 }
    }

    private func error(_ reason: String) -> HandshakeError {
        HandshakeError(.invalidExtensionHeader, "invalid Sec-WebSocket-Extensions: \(reason)")
    }
}
