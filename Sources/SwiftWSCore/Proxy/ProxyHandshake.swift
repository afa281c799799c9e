/// Why a proxy did not open the tunnel: it refused (with its own words or the protocol's reply
/// code), wanted credentials, or answered something that is not its protocol.
public struct ProxyError: Error, Hashable, Sendable, CustomStringConvertible {
    /// The proxy, without the password ("http://127.0.0.1:3128").
    public var proxy: String
    /// What went wrong: "refused CONNECT to example.com:443: 403 Forbidden".
    public var reason: String
    /// The HTTP status of an HTTP proxy's refusal (407: authentication required); nil for SOCKS.
    public var httpStatus: Int?

    /// An error for `proxy`.
    public init(proxy: String, reason: String, httpStatus: Int? = nil) {
        self.proxy = proxy
        self.reason = reason
        self.httpStatus = httpStatus
    }

    /// "proxy http://127.0.0.1:3128: refused CONNECT to example.com:443: 403 Forbidden".
    public var description: String { "proxy \(proxy): \(reason)" }
}

/// The client's side of opening a tunnel through a proxy to `host`:`port`, without I/O: send
/// `output` (initially the greeting or the CONNECT request), feed what the proxy answers to
/// `receive`, send the new `output` it leaves, until `receive` returns `.open` (the tunnel
/// carries the WebSocket connection from now on; the bytes after `consumed` already belong to
/// it) or throws.
///
/// HTTP: `CONNECT host:port HTTP/1.1` with `Host` and, with credentials,
/// `Proxy-Authorization: Basic …`; any 2xx opens the tunnel (RFC 9110 9.3.6), the head read with
/// the core's HTTP parser and its limits. SOCKS5 (RFC 1928): the methods "none" and, with
/// credentials, "username/password" (RFC 1929); CONNECT with the target as a name. SOCKS4a: one
/// CONNECT with the user id and the name.
public struct ProxyHandshake {
    /// How far `receive` got.
    public enum Progress: Equatable, Sendable {
        /// More bytes from the proxy are needed (after sending `output`, if any).
        case needMoreBytes
        /// The tunnel is open; `consumed` bytes of the last chunk were the proxy's.
        case open(consumed: Int)
    }

    private enum State {
        case httpResponse(HTTPResponseParser)
        case socks5Method
        case socks5Authentication
        case socks5Reply
        case socks4Reply
        case open
        case failed
    }

    /// The proxy in use.
    public let configuration: ProxyConfiguration
    /// The target the tunnel leads to.
    public let host: String
    public let port: UInt16
    /// Bytes to send to the proxy now; taken (emptied) by `takeOutput()`.
    public private(set) var output: [UInt8]
    private var state: State
    private var pending: [UInt8] = []

    /// Starts a negotiation with `configuration` for `host`:`port`; throws for a target or
    /// credentials the protocol cannot carry (a name over 255 bytes for SOCKS5, …).
    public init(configuration: ProxyConfiguration, host: String, port: UInt16,
                headLimits: HTTPHeadLimits = HTTPHeadLimits()) throws(ProxyError) {
        self.configuration = configuration
        self.host = host
        self.port = port
        let target = host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)"
        func refuse(_ reason: String) -> ProxyError { ProxyError(proxy: configuration.description, reason: reason) }
        guard !host.utf8.contains(where: { $0 < 0x21 || $0 == 0x7F }) else { throw refuse("the target host cannot be sent") }
        switch configuration.kind {
        case .http:
            var request = "CONNECT \(target) HTTP/1.1\r\nHost: \(target)\r\n"
            if let username = configuration.username {
                let credentials = Base64.encode(Array("\(username):\(configuration.password ?? "")".utf8))
                request += "Proxy-Authorization: Basic \(credentials)\r\n"
            }
            output = Array((request + "\r\n").utf8)
            state = .httpResponse(HTTPResponseParser(limits: headLimits))
        case .socks5:
            guard host.utf8.count <= 255 else { throw refuse("the target host name is longer than 255 bytes") }
            if let username = configuration.username {
                guard username.utf8.count <= 255, (configuration.password ?? "").utf8.count <= 255 else {
                    throw refuse("SOCKS5 user names and passwords are at most 255 bytes")
                }
                output = [5, 2, 0x00, 0x02]  // version 5, two methods: none, username/password
            } else {
                output = [5, 1, 0x00]
            }
            state = .socks5Method
        case .socks4a:
            let user = Array((configuration.username ?? "").utf8)
            guard !user.contains(0) else { throw refuse("the SOCKS4a user id contains a NUL byte") }
            // Version 4, CONNECT, port, the address 0.0.0.1 that means "the name follows".
            output = [4, 1, UInt8(port >> 8), UInt8(port & 0xFF), 0, 0, 0, 1] + user + [0] + Array(host.utf8) + [0]
            state = .socks4Reply
        }
    }

    /// Returns the bytes to send and forgets them.
    public mutating func takeOutput() -> [UInt8] {
        defer { output = [] }
        return output
    }

    /// Feeds the proxy's bytes. Throws `ProxyError` when the proxy refuses or breaks its protocol.
    public mutating func receive(_ chunk: UnsafeRawBufferPointer) throws(ProxyError) -> Progress {
        if case .httpResponse(var parser) = state {
            let progress: HandshakeProgress<HTTPResponseHead>
            do throws(HandshakeError) {
                progress = try parser.parse(chunk)
            } catch {
                state = .failed
                throw failure("answered with an invalid HTTP response: \(error.reason)")
            }
            state = .httpResponse(parser)
            guard case .complete(let head, let consumed) = progress else { return .needMoreBytes }
            guard (200...299).contains(head.status) else {
                state = .failed
                // 407 is the proxy's "authenticate"; some proxies (tinyproxy) answer bad
                // credentials with 401.
                let reason = head.status == 407 || head.status == 401
                    ? (configuration.username == nil ? "requires authentication (\(head.status))"
                                                     : "refused the credentials (\(head.status))")
                    : "refused CONNECT to \(host):\(port): \(head.status) \(head.reasonPhrase)"
                throw ProxyError(proxy: configuration.description, reason: reason, httpStatus: head.status)
            }
            state = .open
            return .open(consumed: consumed)
        }
        // SOCKS replies are short binary messages: collect them, then act on each whole one.
        var index = 0
        while index < chunk.count {
            pending.append(chunk[index])
            index += 1
            if try step() { return .open(consumed: index) }
        }
        return .needMoreBytes
    }

    /// Acts on `pending` if it holds a whole reply; true when the tunnel is open.
    private mutating func step() throws(ProxyError) -> Bool {
        switch state {
        case .socks5Method:
            guard pending.count == 2 else { return false }
            guard pending[0] == 5 else { throw failure("is not a SOCKS5 proxy (version \(pending[0]))") }
            switch pending[1] {
            case 0x00:
                output += connectRequest()
                state = .socks5Reply
            case 0x02 where configuration.username != nil:
                let user = Array(configuration.username!.utf8), password = Array((configuration.password ?? "").utf8)
                output += [1, UInt8(user.count)] + user + [UInt8(password.count)] + password
                state = .socks5Authentication
            case 0xFF:
                throw failure(configuration.username == nil ? "requires authentication (no acceptable method)"
                                                            : "accepts none of the offered authentication methods")
            default:
                throw failure("chose the authentication method \(pending[1]), which was not offered")
            }
            pending = []
        case .socks5Authentication:
            guard pending.count == 2 else { return false }
            guard pending[1] == 0 else { throw failure("refused the credentials (status \(pending[1]))") }
            pending = []
            output += connectRequest()
            state = .socks5Reply
        case .socks5Reply:
            // VER REP RSV ATYP BND.ADDR BND.PORT: the address's length depends on ATYP.
            guard pending.count >= 5 else { return false }
            guard pending[0] == 5 else { throw failure("is not a SOCKS5 proxy (version \(pending[0]))") }
            guard pending[1] == 0 else { throw failure("refused CONNECT to \(host):\(port): \(Self.socks5Reason(pending[1]))") }
            let addressLength: Int
            switch pending[3] {
            case 1: addressLength = 4
            case 4: addressLength = 16
            case 3: addressLength = 1 + Int(pending[4])
            default: throw failure("answered with the unknown address type \(pending[3])")
            }
            guard pending.count == 4 + addressLength + 2 else { return false }
            state = .open
            return true
        case .socks4Reply:
            guard pending.count == 8 else { return false }
            guard pending[0] == 0 else { throw failure("is not a SOCKS4 proxy (reply version \(pending[0]))") }
            guard pending[1] == 0x5A else { throw failure("refused CONNECT to \(host):\(port): SOCKS4 reply \(pending[1])") }
            state = .open
            return true
        case .httpResponse, .open, .failed:
            throw failure("sent bytes after the negotiation")
        }
        return false
    }

    /// SOCKS5 CONNECT to the target as a name (address type 3).
    private func connectRequest() -> [UInt8] {
        let name = Array(host.utf8)
        return [5, 1, 0, 3, UInt8(name.count)] + name + [UInt8(port >> 8), UInt8(port & 0xFF)]
    }

    private mutating func failure(_ reason: String) -> ProxyError {
        state = .failed
        return ProxyError(proxy: configuration.description, reason: reason)
    }

    /// RFC 1928 section 6's reply codes.
    static func socks5Reason(_ code: UInt8) -> String {
        switch code {
        case 1: return "general SOCKS server failure"
        case 2: return "connection not allowed by ruleset"
        case 3: return "network unreachable"
        case 4: return "host unreachable"
        case 5: return "connection refused"
        case 6: return "TTL expired"
        case 7: return "command not supported"
        case 8: return "address type not supported"
        default: return "reply code \(code)"
        }
    }
}
