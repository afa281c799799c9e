/// The permessage-deflate parameters both endpoints agreed on in the opening handshake
/// (RFC 7692 section 7.1), per direction.
public struct PerMessageDeflateParameters: Hashable, Sendable, CustomStringConvertible {
    /// The server resets its compressor after each message (section 7.1.1.1).
    public var serverNoContextTakeover: Bool
    /// The client resets its compressor after each message (section 7.1.1.2).
    public var clientNoContextTakeover: Bool
    /// The server compresses with at most this window, 8...15 (section 7.1.2.1; 15 when absent).
    public var serverMaxWindowBits: Int
    /// The client compresses with at most this window, 8...15 (section 7.1.2.2; 15 when absent).
    public var clientMaxWindowBits: Int

    public init(
        serverNoContextTakeover: Bool = false, clientNoContextTakeover: Bool = false,
        serverMaxWindowBits: Int = 15, clientMaxWindowBits: Int = 15
    ) {
        self.serverNoContextTakeover = serverNoContextTakeover
        self.clientNoContextTakeover = clientNoContextTakeover
        self.serverMaxWindowBits = serverMaxWindowBits
        self.clientMaxWindowBits = clientMaxWindowBits
    }

    /// The window the endpoint playing `role` compresses with.
    public func localWindowBits(for role: Role) -> Int {
        role == .server ? serverMaxWindowBits : clientMaxWindowBits
    }
    /// The window the endpoint playing `role` must inflate with (its peer's).
    public func remoteWindowBits(for role: Role) -> Int {
        role == .server ? clientMaxWindowBits : serverMaxWindowBits
    }
    /// Whether the endpoint playing `role` resets its compressor after each message.
    public func localNoContextTakeover(for role: Role) -> Bool {
        role == .server ? serverNoContextTakeover : clientNoContextTakeover
    }
    /// Whether the peer of `role` resets its compressor after each message.
    public func remoteNoContextTakeover(for role: Role) -> Bool {
        role == .server ? clientNoContextTakeover : serverNoContextTakeover
    }

    public var description: String {
        "server: \(serverMaxWindowBits) bits\(serverNoContextTakeover ? ", no context takeover" : ""); "
            + "client: \(clientMaxWindowBits) bits\(clientNoContextTakeover ? ", no context takeover" : "")"
    }
}

/// The extension name (RFC 7692 section 7).
let permessageDeflateName = "permessage-deflate"

/// `client_max_window_bits` in an offer or response: absent, present without a value (offers
/// only: "I support the parameter", section 7.1.2.2), or with a value.
enum ClientWindowRequest: Hashable {
    case absent
    case withoutValue
    case bits(Int)
}

/// The four parameters of one `permessage-deflate` offer or response, as written by the peer,
/// before any policy is applied.
struct PerMessageDeflateRequest: Hashable {
    var serverNoContextTakeover = false
    var clientNoContextTakeover = false
    var serverMaxWindowBits: Int?
    var clientMaxWindowBits = ClientWindowRequest.absent

    /// Reads the parameters, rejecting what section 7 forbids: unknown parameters (7: "a server
    /// MUST decline an offer with an unknown parameter"; a client fails on one in a response),
    /// a parameter given twice (7.1), a value on a `*_no_context_takeover` (7.1.1), a window
    /// that is not a decimal 8...15 without leading zeros (7.1.2), and `client_max_window_bits`
    /// without a value in a response (7.1.2.2: a response must carry a value).
    init(parsing parameters: [ExtensionParameter], isOffer: Bool) throws(PerMessageDeflateNegotiationError) {
        var seen: Set<String> = []
        for parameter in parameters {
            let name = parameter.name.lowercased()
            guard seen.insert(name).inserted else {
                throw .init(.duplicateParameter, parameter: name)
            }
            switch name {
            case "server_no_context_takeover", "client_no_context_takeover":
                guard parameter.value == nil else {
                    throw .init(.invalidValue, parameter: name, value: parameter.value)
                }
                if name.hasPrefix("server") { serverNoContextTakeover = true } else { clientNoContextTakeover = true }
            case "server_max_window_bits":
                guard let bits = Self.windowBits(parameter.value) else {
                    throw .init(.invalidValue, parameter: name, value: parameter.value)
                }
                serverMaxWindowBits = bits
            case "client_max_window_bits":
                if parameter.value == nil && isOffer {
                    clientMaxWindowBits = .withoutValue
                } else if let bits = Self.windowBits(parameter.value) {
                    clientMaxWindowBits = .bits(bits)
                } else {
                    throw .init(.invalidValue, parameter: name, value: parameter.value)
                }
            default:
                throw .init(.unknownParameter, parameter: name)
            }
        }
    }

    init() {}

    /// "a decimal integer value without leading zeroes between 8 to 15, inclusive" (7.1.2.1).
    static func windowBits(_ value: String?) -> Int? {
        guard let value else { return nil }
        switch value {
        case "8": return 8
        case "9": return 9
        case "10": return 10
        case "11": return 11
        case "12": return 12
        case "13": return 13
        case "14": return 14
        case "15": return 15
        default: return nil
        }
    }

    /// The parameters written as an extension element, in the RFC's order.
    var offer: ExtensionOffer {
        var parameters: [ExtensionParameter] = []
        if serverNoContextTakeover { parameters.append(.init("server_no_context_takeover")) }
        if clientNoContextTakeover { parameters.append(.init("client_no_context_takeover")) }
        if let serverMaxWindowBits { parameters.append(.init("server_max_window_bits", String(serverMaxWindowBits))) }
        switch clientMaxWindowBits {
        case .absent: break
        case .withoutValue: parameters.append(.init("client_max_window_bits"))
        case .bits(let bits): parameters.append(.init("client_max_window_bits", String(bits)))
        }
        return ExtensionOffer(name: permessageDeflateName, parameters: parameters)
    }
}

extension ExtensionOffer {
    /// Whether this element names permessage-deflate (extension tokens compare case-insensitively).
    var isPermessageDeflate: Bool { name.lowercased() == permessageDeflateName }
}
