/// The parsed heads of HTTP/1.1 messages the opening handshake exchanges (RFC 7230 section 3),
/// the limits applied while reading them, and how far an incremental read has got.

/// `HTTP/major.minor` (RFC 7230 section 2.6).
public struct HTTPVersion: Hashable, Sendable, Comparable, CustomStringConvertible {
    /// The digit before the dot.
    public var major: Int
    /// The digit after the dot.
    public var minor: Int

    /// A version.
    public init(major: Int, minor: Int) {
        self.major = major
        self.minor = minor
    }

    /// HTTP/1.1, the minimum RFC 6455 section 4.1 allows.
    public static let http11 = HTTPVersion(major: 1, minor: 1)

    /// Orders by major, then minor version.
    public static func < (lhs: HTTPVersion, rhs: HTTPVersion) -> Bool {
        (lhs.major, lhs.minor) < (rhs.major, rhs.minor)
    }

    /// `"HTTP/1.1"`.
    public var description: String { "HTTP/\(major).\(minor)" }
}

/// A request line and its header fields.
public struct HTTPRequestHead: Hashable, Sendable {
    /// The method token, case-sensitive (RFC 7231 section 4.1): `GET`.
    public var method: String
    /// The request target as sent: `/chat?room=1`.
    public var target: String
    /// The protocol version of the request line.
    public var version: HTTPVersion
    /// The header fields in order.
    public var headers: HTTPHeaders
}

/// A status line and its header fields.
public struct HTTPResponseHead: Hashable, Sendable {
    /// The protocol version of the status line.
    public var version: HTTPVersion
    /// The three-digit status code.
    public var status: Int
    /// The reason phrase as sent (possibly empty); informational only.
    public var reasonPhrase: String
    /// The header fields in order.
    public var headers: HTTPHeaders
}

/// Limits on what a peer may send in a head, so it cannot make us buffer without bound.
public struct HTTPHeadLimits: Hashable, Sendable {
    /// Most bytes in a head, from the first byte to the blank line's CR LF included.
    /// Default 8 KiB, as nginx and Python `websockets` use; exceeding it is a 431 on a server.
    public var maxHeadBytes: Int
    /// Most header lines (the start line excluded). Default 64; exceeding it is a 431 on a server.
    public var maxHeaderCount: Int

    /// Limits with the defaults above unless given.
    public init(maxHeadBytes: Int = 8192, maxHeaderCount: Int = 64) {
        self.maxHeadBytes = maxHeadBytes
        self.maxHeaderCount = maxHeaderCount
    }
}

/// How far an incremental handshake read has got.
public enum HandshakeProgress<Value> {
    /// The head is not complete yet; every byte given so far was kept. Feed more.
    case needMoreBytes
    /// The head is complete. `consumed` is how many bytes of the *last* chunk belonged to it: the
    /// rest of that chunk (`chunk[consumed...]`) is already WebSocket frame data for the session.
    case complete(Value, consumed: Int)
}

extension HandshakeProgress: Sendable where Value: Sendable {}
extension HandshakeProgress: Equatable where Value: Equatable {}
