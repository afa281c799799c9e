/// One element of a `Sec-WebSocket-Extensions` header (RFC 6455 section 9.1): an extension name
/// with its parameters, in the order they were written.
///
/// `permessage-deflate; client_max_window_bits; server_max_window_bits=10` is
/// `ExtensionOffer(name: "permessage-deflate", parameters: [("client_max_window_bits", nil),
/// ("server_max_window_bits", "10")])`. Quoted values arrive unquoted. A header may list several
/// offers, most preferred first; a client may offer the same extension several times with
/// different parameters as fallbacks (RFC 7692 section 5).
public struct ExtensionOffer: Hashable, Sendable, CustomStringConvertible {
    /// The extension token: `permessage-deflate`.
    public var name: String
    /// The parameters in the order written.
    public var parameters: [ExtensionParameter]

    /// An offer or answer with the given parameters.
    public init(name: String, parameters: [ExtensionParameter] = []) {
        self.name = name
        self.parameters = parameters
    }

    /// The offer as it is written in a header: `name; p1; p2=value`.
    /// Values that are not RFC 7230 tokens are quoted.
    public var description: String {
        var text = name
        for parameter in parameters {
            text += "; " + parameter.name
            if let value = parameter.value {
                text += "=" + (HTTPToken.isToken(value) ? value : HTTPToken.quoted(value))
            }
        }
        return text
    }
}

/// A parameter of an extension offer: `name` or `name=value`.
public struct ExtensionParameter: Hashable, Sendable {
    /// The parameter token: `client_max_window_bits`.
    public var name: String
    /// The value, unquoted; nil when the parameter has none.
    public var value: String?

    /// A parameter, with a value or without.
    public init(_ name: String, _ value: String? = nil) {
        self.name = name
        self.value = value
    }
}

/// RFC 7230 section 3.2.6 tokens and quoted strings, as used in WebSocket headers.
public enum HTTPToken {
    /// tchar = "!" / "#" / "$" / "%" / "&" / "'" / "*" / "+" / "-" / "." / "^" / "_" / "`" / "|" / "~"
    ///         / DIGIT / ALPHA
    @inlinable public static func isTokenCharacter(_ byte: UInt8) -> Bool {
        switch byte {
        case UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "a")...UInt8(ascii: "z"),
             UInt8(ascii: "A")...UInt8(ascii: "Z"):
            return true
        case UInt8(ascii: "!"), UInt8(ascii: "#"), UInt8(ascii: "$"), UInt8(ascii: "%"),
             UInt8(ascii: "&"), UInt8(ascii: "'"), UInt8(ascii: "*"), UInt8(ascii: "+"),
             UInt8(ascii: "-"), UInt8(ascii: "."), UInt8(ascii: "^"), UInt8(ascii: "_"),
             UInt8(ascii: "`"), UInt8(ascii: "|"), UInt8(ascii: "~"):
            return true
        default:
            return false
        }
    }

    /// Whether `text` is a non-empty token.
    public static func isToken(_ text: String) -> Bool {
        !text.isEmpty && text.utf8.allSatisfy(isTokenCharacter)
    }

    /// `text` as a quoted-string, with `"` and `\` escaped.
    public static func quoted(_ text: String) -> String {
        var result = "\""
        for character in text {
            if character == "\"" || character == "\\" { result.append("\\") }
            result.append(character)
        }
        result.append("\"")
        return result
    }
}
