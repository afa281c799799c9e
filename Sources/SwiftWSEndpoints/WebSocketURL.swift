import SwiftWSCore

/// A parsed `ws://` or `wss://` URL (RFC 6455 section 3): host, port, path and query.
///
/// `ws://example.com:8080/chat?room=1` → host "example.com", port 8080, path "/chat", query
/// "room=1". IPv6 literals are written in brackets (`ws://[::1]:9001/`). Fragments are not
/// allowed (section 3: "Fragment identifiers are meaningless in the context of WebSocket URIs").
public struct WebSocketURL: Hashable, Sendable, CustomStringConvertible {
    /// Whether the scheme is `wss` (TLS).
    public var isSecure: Bool
    /// The host: a name, an IPv4 address, or an IPv6 address without brackets.
    public var host: String
    /// The port (default 80 for ws, 443 for wss).
    public var port: UInt16
    /// The path, "/" when empty.
    public var path: String
    /// The query without "?", if any.
    public var query: String?

    /// Parses `text`; nil when it is not a valid ws/wss URL.
    public init?(_ text: String) {
        let lowered = text.lowercased()
        var rest: Substring
        if lowered.hasPrefix("ws://") {
            isSecure = false
            rest = text.dropFirst(5)
        } else if lowered.hasPrefix("wss://") {
            isSecure = true
            rest = text.dropFirst(6)
        } else {
            return nil
        }
        guard !rest.contains("#") else { return nil }
        let authorityEnd = rest.firstIndex { $0 == "/" || $0 == "?" } ?? rest.endIndex
        let authority = rest[..<authorityEnd]
        rest = rest[authorityEnd...]
        if authority.contains("@") { return nil }  // no user info in WebSocket URLs
        guard let parsed = HostAndPort(authority) else { return nil }
        host = parsed.host
        port = parsed.port ?? (isSecure ? 443 : 80)
        if let question = rest.firstIndex(of: "?") {
            query = String(rest[rest.index(after: question)...])
            rest = rest[..<question]
        } else {
            query = nil
        }
        path = rest.isEmpty ? "/" : String(rest)
    }

    /// The URL written back ("ws://host:port/path?query").
    public var description: String {
        let hostPart = host.contains(":") ? "[\(host)]" : host
        return "\(isSecure ? "wss" : "ws")://\(hostPart):\(port)\(path)\(query.map { "?\($0)" } ?? "")"
    }
}
