// Proxy/: the client side of proxies, without I/O: which proxy a URL goes through (explicit, or
// from http_proxy/https_proxy/all_proxy/no_proxy as Python websockets and curl read them), and
// the negotiation that opens a tunnel through it (HTTP CONNECT with Basic authentication, SOCKS5
// with or without username/password, SOCKS4a). The endpoints drive it over a socket.

/// A proxy a client connection goes through, from a URL such as `http://user:pass@proxy:3128`,
/// `socks5://127.0.0.1:1080` or `socks5h://…` (`socks4a://` too).
///
/// SOCKS5 targets are always sent to the proxy as names (address type 3), so `socks5://` and
/// `socks5h://` behave alike: the proxy resolves, which also works for names only it can reach.
public struct ProxyConfiguration: Hashable, Sendable, CustomStringConvertible {
    /// The proxy protocol.
    public enum Kind: String, Hashable, Sendable {
        /// HTTP CONNECT (RFC 9110 section 9.3.6), optionally with Basic authentication.
        case http
        /// SOCKS5 (RFC 1928), optionally with username/password authentication (RFC 1929).
        case socks5
        /// SOCKS4a: no authentication beyond a user id, names resolved by the proxy.
        case socks4a
    }

    /// The proxy protocol.
    public var kind: Kind
    /// The proxy's host name or numeric address (IPv6 without brackets).
    public var host: String
    /// The proxy's port.
    public var port: UInt16
    /// Credentials: Basic authentication for HTTP, username/password for SOCKS5, the user id
    /// for SOCKS4a (password ignored).
    public var username: String?
    /// The password that goes with `username`.
    public var password: String?

    /// A proxy given by its parts.
    public init(kind: Kind, host: String, port: UInt16, username: String? = nil, password: String? = nil) {
        self.kind = kind
        self.host = host
        self.port = port
        self.username = username
        self.password = password
    }

    /// Parses a proxy URL: scheme `http` (default port 80), `socks5`, `socks5h`
    /// (default port 1080) or `socks4a`, optional percent-encoded `user:password@`, host and
    /// port. nil when it is not one (`https://` proxies are not supported yet).
    public init?(url text: String) {
        guard let schemeEnd = text.schemeSeparatorRange else { return nil }
        switch text[..<schemeEnd.lowerBound].lowercased() {
        case "http": kind = .http
        case "socks5", "socks5h": kind = .socks5
        case "socks4a": kind = .socks4a
        default: return nil
        }
        var rest = text[schemeEnd.upperBound...]
        if let slash = rest.firstIndex(of: "/") {
            guard rest[slash...].allSatisfy({ $0 == "/" }) else { return nil }  // no path
            rest = rest[..<slash]
        }
        if let at = rest.lastIndex(of: "@") {
            let credentials = rest[..<at]
            rest = rest[rest.index(after: at)...]
            let parts = credentials.split(separator: ":", maxSplits: 1, omittingEmptySubsequences: false)
            guard let user = ProxyConfiguration.percentDecoded(parts[0]) else { return nil }
            username = user
            password = parts.count > 1 ? ProxyConfiguration.percentDecoded(parts[1]) : nil
            if parts.count > 1 && password == nil { return nil }
        }
        guard let parsed = HostAndPort(rest) else { return nil }
        host = parsed.host
        port = parsed.port ?? (kind == .http ? 80 : 1080)
    }

    /// The URL without the password ("socks5://user@127.0.0.1:1080"), for messages and logs.
    public var description: String {
        let hostPart = host.contains(":") ? "[\(host)]" : host
        return "\(kind.rawValue)://\(username.map { "\($0)@" } ?? "")\(hostPart):\(port)"
    }

    private static func percentDecoded(_ text: Substring) -> String? {
        var bytes: [UInt8] = []
        var iterator = Array(text.utf8).makeIterator()
        while let byte = iterator.next() {
            guard byte == UInt8(ascii: "%") else { bytes.append(byte); continue }
            guard let high = iterator.next().flatMap(hexValue), let low = iterator.next().flatMap(hexValue) else { return nil }
            bytes.append(high << 4 | low)
        }
        return String(validating: bytes, as: UTF8.self)
    }

    private static func hexValue(_ byte: UInt8) -> UInt8? {
        switch byte {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): return byte - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): return byte - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): return byte - UInt8(ascii: "A") + 10
        default: return nil
        }
    }

    // MARK: From the environment

    /// The proxy the environment names for a connection to `host`:`port` (`secure`: wss), the
    /// way Python `websockets` (through `urllib.request.getproxies`) and curl read it: nothing
    /// when `no_proxy` matches the host (`*`, a name, a `.domain` suffix, or the host with port);
    /// otherwise the first of `wss_proxy`, `socks_proxy`, `https_proxy` (then, for ws://,
    /// `ws_proxy`/`http_proxy` come first and second), and `all_proxy`. Lower-case names win over
    /// upper-case ones. A value without a scheme is taken as `http://`; `socks_proxy` with
    /// `http://` means SOCKS5. nil when nothing applies or the value cannot be parsed.
    ///
    /// Unlike websockets, loopback targets (`localhost`, `*.localhost`, 127.0.0.0/8, `::1`) never
    /// go through an environment proxy: the proxy's loopback is not ours, so such a connection
    /// cannot be what was meant (an explicit proxy still applies).
    public static func fromEnvironment(_ environment: [String: String], host: String, port: UInt16,
                                       secure: Bool) -> ProxyConfiguration? {
        func variable(_ name: String) -> String? {
            let value = environment[name] ?? environment[name.uppercased()]
            return value?.isEmpty == false ? value : nil
        }
        if isLoopback(host) { return nil }
        if let bypass = variable("no_proxy"), bypasses(bypass, host: host, port: port) { return nil }
        let names = secure ? ["wss_proxy", "socks_proxy", "https_proxy", "all_proxy"]
                           : ["ws_proxy", "socks_proxy", "https_proxy", "http_proxy", "all_proxy"]
        for name in names {
            guard var value = variable(name) else { continue }
            if value.schemeSeparatorRange == nil { value = "http://" + value }
            if name == "socks_proxy" && value.lowercased().hasPrefix("http://") { value = "socks5h://" + value.dropFirst(7) }
            return ProxyConfiguration(url: value)
        }
        return nil
    }

    /// Whether `host` names this machine's loopback interface.
    static func isLoopback(_ host: String) -> Bool {
        let name = host.lowercased()
        if name == "localhost" || name.hasSuffix(".localhost") || name == "::1" { return true }
        let parts = name.split(separator: ".", omittingEmptySubsequences: false)
        return parts.count == 4 && parts[0] == "127" && parts.allSatisfy { UInt8($0) != nil }
    }

    /// Whether a `no_proxy` list (comma or space separated) exempts `host`.
    static func bypasses(_ list: String, host: String, port: UInt16) -> Bool {
        let name = host.lowercased()
        for raw in list.split(whereSeparator: { $0 == "," || $0 == " " }) {
            var entry = raw.lowercased()
            if entry == "*" { return true }
            if entry == "\(name):\(port)" { return true }
            if entry.hasPrefix(".") { entry.removeFirst() }
            if name == entry || name.hasSuffix("." + entry) { return true }
        }
        return false
    }
}
