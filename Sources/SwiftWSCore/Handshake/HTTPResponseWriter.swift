/// Writes HTTP/1.1 heads and responses as bytes, refusing anything that would let a header name
/// or value inject lines (CR, LF, NUL or other control bytes): the values often come from the
/// application (extra headers, reasons), and a response must never be split.
public enum HTTPResponseWriter {
    /// A complete response to send instead of switching protocols (a rejection, a redirect, a plain
    /// HTTP answer): status line, `headers`, then `Content-Length` (always, computed here; any
    /// given one is replaced), `Content-Type: text/plain; charset=utf-8` when there is a body and
    /// none was given, `Connection: close` (always: any given Connection is replaced, since the
    /// server closes after every such answer and RFC 9112 section 9.6 asks a server that will close
    /// to say so), and `body`.
    /// Throws `.invalidArgument` for a status outside 200...599 or a header that cannot be written.
    public static func response(status: Int, reasonPhrase: String? = nil, headers: HTTPHeaders = HTTPHeaders(),
                                body: [UInt8] = []) throws(HandshakeError) -> [UInt8] {
        guard (200...599).contains(status) else {
            throw HandshakeError(.invalidArgument, "status \(status) cannot be sent as a rejection (must be 200...599)")
        }
        if let reasonPhrase, !isValidFieldValue(reasonPhrase) {
            throw HandshakeError(.invalidArgument, "reason phrase holds control characters")
        }
        try validate(headers)
        return rejection(status: status, reasonPhrase: reasonPhrase, headers: headers, body: body)
    }

    /// `response` without the checks, for values this module built itself.
    static func rejection(status: Int, reasonPhrase: String? = nil, headers: HTTPHeaders, body: [UInt8]) -> [UInt8] {
        var all = headers
        all.remove(name: "Content-Length")
        all.append(name: "Content-Length", value: String(body.count))
        if !body.isEmpty && !all.contains("Content-Type") {
            all.append(name: "Content-Type", value: "text/plain; charset=utf-8")
        }
        all.remove(name: "Connection")
        all.append(name: "Connection", value: "close")
        var bytes = head(status: status, reasonPhrase: reasonPhrase ?? HTTPStatus.reasonPhrase(for: status), headers: all)
        bytes += body
        return bytes
    }

    /// `HTTP/1.1 <status> <reason>` CR LF, each header CR LF, and the empty line.
    static func head(status: Int, reasonPhrase: String, headers: HTTPHeaders) -> [UInt8] {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(256)
        bytes += "HTTP/1.1 \(status) \(reasonPhrase)\r\n".utf8
        appendFields(headers, to: &bytes)
        return bytes
    }

    /// Each field as `Name: value` CR LF, then the empty line.
    static func appendFields(_ headers: HTTPHeaders, to bytes: inout [UInt8]) {
        for field in headers {
            bytes += field.name.utf8
            bytes += ": ".utf8
            bytes += field.value.utf8
            bytes += "\r\n".utf8
        }
        bytes += "\r\n".utf8
    }

    /// Throws `.invalidArgument` unless every name is a token and every value can be written.
    static func validate(_ headers: HTTPHeaders) throws(HandshakeError) {
        for field in headers {
            guard HTTPToken.isToken(field.name) else {
                throw HandshakeError(.invalidArgument, "header name is not a token")
            }
            guard isValidFieldValue(field.value) else {
                throw HandshakeError(.invalidArgument, "value of header \(field.name) holds control characters")
            }
        }
    }

    /// Whether `value` is made of SP, HTAB, visible ASCII and non-ASCII UTF-8 only (no CR, LF, NUL, DEL).
    static func isValidFieldValue(_ value: String) -> Bool {
        value.utf8.allSatisfy(HTTPHeadParser.isFieldValueByte)
    }
}
