// Support/: what the whole core shares: the role (client or server), protocol errors with the
// close code each one maps to, and secure randomness (keys and masks).

/// Why a connection failed, as the close code to send and a human-readable reason.
///
/// Every failure the protocol core detects maps to exactly one of these, in one place, the way
/// Python `websockets` does it: the parser never traps or throws untyped errors at its caller.
/// The reason is what goes into the close frame (at most 123 bytes of UTF-8 there), so it is
/// short and free of peer-controlled bytes.
public struct ProtocolError: Error, Hashable, Sendable, CustomStringConvertible {
    /// The close code the RFC names for this failure (1002, 1007, 1009, ...).
    public var closeCode: CloseCode
    /// A short explanation, safe to put in a close frame and a log.
    public var reason: String

    public init(_ closeCode: CloseCode, _ reason: String) {
        self.closeCode = closeCode
        self.reason = reason
    }

    /// 1002: the peer broke a rule of RFC 6455 or of a negotiated extension.
    public static func protocolViolation(_ reason: String) -> ProtocolError {
        ProtocolError(.protocolError, reason)
    }
    /// 1007: a text message or close reason is not valid UTF-8.
    public static func invalidUTF8(_ reason: String = "invalid UTF-8 in text") -> ProtocolError {
        ProtocolError(.invalidPayloadData, reason)
    }
    /// 1009: a frame or message exceeds the configured limit.
    public static func tooBig(_ reason: String) -> ProtocolError {
        ProtocolError(.messageTooBig, reason)
    }

    public var description: String { "\(closeCode.rawValue) \(reason)" }
}
