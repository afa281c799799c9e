/// The `host[:port]` part of a URL's authority (RFC 3986 3.2.2), one parser for every URL the
/// library reads (WebSocket URLs, proxy URLs): a name or IPv4 address, or an IPv6 address in
/// brackets (returned without them), and an optional port 1...65535.
public struct HostAndPort: Hashable, Sendable {
    /// The host, IPv6 without brackets; never empty.
    public var host: String
    /// The port if one was written.
    public var port: UInt16?

    /// Parses `authority` (without user information); nil when it is not a host and optional
    /// port: empty host, a colon outside brackets, brackets without an IPv6 address, a port that
    /// is empty, not decimal, 0 or above 65535.
    public init?(_ authority: Substring) {
        var portText: Substring?
        if authority.hasPrefix("[") {
            guard let close = authority.firstIndex(of: "]") else { return nil }
            host = String(authority[authority.index(after: authority.startIndex)..<close])
            let after = authority[authority.index(after: close)...]
            if !after.isEmpty {
                guard after.hasPrefix(":") else { return nil }
                portText = after.dropFirst()
            }
            guard host.contains(":") else { return nil }
        } else {
            var name = authority
            if let colon = authority.lastIndex(of: ":") {
                portText = authority[authority.index(after: colon)...]
                name = authority[..<colon]
            }
            host = String(name)
            guard !host.contains(":") else { return nil }
        }
        guard !host.isEmpty else { return nil }
        if let portText {
            guard !portText.isEmpty, portText.allSatisfy(\.isASCII), let value = UInt16(portText), value > 0 else { return nil }
            port = value
        } else {
            port = nil
        }
    }
}
