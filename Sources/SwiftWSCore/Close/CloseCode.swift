// Close/: the closing handshake's vocabulary (RFC 6455 sections 5.5.1, 7.4): close codes and the
// close frame's payload. The close handshake itself runs in Session/.

/// A close status code (RFC 6455 section 7.4; IANA "WebSocket Close Code Number Registry").
///
/// Which codes may appear on the wire, as decided here:
/// - 1000–1003 and 1007–1011: defined by RFC 6455, valid.
/// - 1012 (Service Restart), 1013 (Try Again Later), 1014 (Bad Gateway): registered with IANA
///   after RFC 6455 and sent by real servers (nginx, Python `websockets`, browsers accept them),
///   so we accept them too. Autobahn|Testsuite's current cases agree.
/// - 1004 (reserved), 1005 (no status), 1006 (abnormal), 1015 (TLS failure): must never be sent
///   in a close frame (section 7.4.1), so receiving one is a protocol error.
/// - 1016–2999 unassigned or reserved for future RFCs, and anything below 1000: invalid.
/// - 3000–3999 (registered by libraries and frameworks) and 4000–4999 (private use): valid.
public struct CloseCode: RawRepresentable, Hashable, Sendable, CustomStringConvertible {
    public var rawValue: UInt16

    @inlinable public init(rawValue: UInt16) { self.rawValue = rawValue }
    @inlinable public init(_ rawValue: UInt16) { self.rawValue = rawValue }

    public static let normalClosure = CloseCode(1000)
    public static let goingAway = CloseCode(1001)
    public static let protocolError = CloseCode(1002)
    public static let unsupportedData = CloseCode(1003)
    /// Not sent on the wire: reported when a close frame carried no status code.
    public static let noStatusReceived = CloseCode(1005)
    /// Not sent on the wire: reported when the connection dropped without a close frame.
    public static let abnormalClosure = CloseCode(1006)
    public static let invalidPayloadData = CloseCode(1007)
    public static let policyViolation = CloseCode(1008)
    public static let messageTooBig = CloseCode(1009)
    public static let mandatoryExtension = CloseCode(1010)
    public static let internalError = CloseCode(1011)
    public static let serviceRestart = CloseCode(1012)
    public static let tryAgainLater = CloseCode(1013)
    public static let badGateway = CloseCode(1014)
    /// Not sent on the wire: reported when the TLS handshake failed.
    public static let tlsHandshake = CloseCode(1015)

    /// Whether this code may be carried in a close frame, sent or received (see the type's notes).
    @inlinable public var isValidOnWire: Bool {
        switch rawValue {
        case 1000...1003, 1007...1014, 3000...4999: return true
        default: return false
        }
    }

    public var description: String { String(rawValue) }
}
