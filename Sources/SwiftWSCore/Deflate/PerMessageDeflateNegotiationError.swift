/// Why a client cannot accept a server's permessage-deflate response (RFC 7692 section 7.1: "the
/// client MUST _Fail the WebSocket Connection_"), or why a server declined an offer (reported
/// for logs only: a bad offer is declined, never failed).
public struct PerMessageDeflateNegotiationError: Error, Hashable, Sendable, CustomStringConvertible {
    /// The kinds of faults section 7 names.
    public enum Kind: Hashable, Sendable {
        /// A parameter section 7.1 does not define.
        case unknownParameter
        /// The same parameter twice in one element.
        case duplicateParameter
        /// A value where none is allowed, none where one is required, or a window outside 8...15.
        case invalidValue
        /// A response parameter the offer did not allow (`client_max_window_bits` not offered).
        case unexpectedParameter
        /// A response window larger than the one the offer allowed.
        case windowTooLarge
        /// A response lacking a parameter the offer required (`server_no_context_takeover`,
        /// `server_max_window_bits`).
        case missingParameter
        /// More than one permessage-deflate element in a response.
        case duplicateExtension
        /// A permessage-deflate response although none was offered.
        case notOffered
    }

    public var kind: Kind
    /// The parameter at fault, if any.
    public var parameter: String?
    /// Its value, if any (peer-controlled: keep out of close frames).
    public var value: String?

    public init(_ kind: Kind, parameter: String? = nil, value: String? = nil) {
        self.kind = kind
        self.parameter = parameter
        self.value = value
    }

    public var description: String {
        var text = "permessage-deflate: \(kind)"
        if let parameter { text += " \(parameter)" }
        if let value { text += "=\(value)" }
        return text
    }
}
