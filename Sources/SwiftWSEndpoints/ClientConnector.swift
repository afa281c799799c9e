import Glibc
import SwiftWSCore

/// How a client reaches the server (`ClientOptions.proxy`).
public enum ProxySetting: Hashable, Sendable {
    /// Straight to the URL's host (or `unixSocketPath`).
    case direct
    /// Through the proxy the process environment names for the URL, if any
    /// (`ProxyConfiguration.fromEnvironment`): what Python websockets does by default.
    case fromEnvironment
    /// Through this proxy.
    case through(ProxyConfiguration)
}

/// One client connect from URL to open connection, step by step: the stream (an adopted socket,
/// a Unix socket, a TCP connection straight or through a proxy tunnel), TLS for wss://, the
/// upgrade, and again from the start for each redirect followed. Loop-thread only.
final class ClientConnector {
    /// The statuses that redirect a WebSocket handshake (as Python websockets follows them).
    static let redirectStatuses: Set<Int> = [301, 302, 303, 307, 308]

    private let loop: EventLoop
    private var options: ClientOptions  // var: a cross-origin redirect drops the credential headers
    private let handlers: ConnectionHandlers
    private var adoptedSocket: Int32?
    private let shouldRedirect: ((Int, WebSocketURL) -> Bool)?
    /// Where the handshake's failure and the connection's opening and closing are logged.
    private let log: LogSink?
    /// Sees the final server answer as it arrived (not the redirects followed), accepted or not.
    private let onResponse: ((HandshakeResponse) -> Void)?
    private let completion: (Result<WebSocketConnection, ClientError>) -> Void
    private var redirectsFollowed = 0

    init(loop: EventLoop, options: ClientOptions, handlers: ConnectionHandlers, adoptedSocket: Int32?,
         shouldRedirect: ((Int, WebSocketURL) -> Bool)?, log: LogSink? = nil,
         onResponse: ((HandshakeResponse) -> Void)? = nil,
         completion: @escaping (Result<WebSocketConnection, ClientError>) -> Void) {
        self.loop = loop
        self.log = log
        self.onResponse = onResponse
        self.options = options
        self.handlers = handlers
        self.adoptedSocket = adoptedSocket
        self.shouldRedirect = shouldRedirect
        self.completion = completion
    }

    /// Starts with `text`; the completion always runs later, from the loop.
    func start(_ text: String) {
        guard let url = WebSocketURL(text) else { return finishLater(.failure(.invalidURL(text))) }
        start(url)
    }

    private func start(_ url: WebSocketURL) {
        let handshake: ClientHandshake
        do throws(HandshakeError) {
            handshake = try WebSocketClient.makeHandshake(url, options: options)
        } catch {
            return finishLater(.failure(.invalidRequest(error)))
        }
        var tlsContext: TLSContext?
        if url.isSecure {
            do throws(TLSError) {
                tlsContext = try TLSContext.shared(client: options.tls)
            } catch {
                return finishLater(.failure(.tlsFailed(error.message)))
            }
        }
        openStream(to: url) { [self] result in
            switch result {
            case .failure(let error):
                completion(.failure(error))
            case .success(let stream):
                if let tlsContext {
                    do throws(TLSError) {
                        try stream.startTLS(client: tlsContext, serverName: options.tls.serverName ?? url.host, port: url.port)
                    } catch {
                        stream.abort()
                        return completion(.failure(.tlsFailed(error.message)))
                    }
                }
                ClientUpgrade(stream: stream, handshake: handshake, url: url, options: options, handlers: handlers,
                              log: log, onResponse: onResponse,
                              redirect: { [self] status, location in redirect(from: url, status: status, location: location) },
                              completion: completion).start()
            }
        }
    }

    /// The stream to the server (or a tunnel to it); `then` runs later, from the loop.
    private func openStream(to url: WebSocketURL, then: @escaping (Result<SocketStream, ClientError>) -> Void) {
        if let fd = adoptedSocket {
            adoptedSocket = nil  // used once: a redirect cannot reuse it
            let result: Result<SocketStream, ClientError>
            do throws(NetworkError) {
                result = .success(try loop.adoptStream(fd: fd))
            } catch {
                Glibc.close(fd)
                result = .failure(.connectFailed(error))
            }
            return loop.deferCallback { then(result) }
        }
        if let path = options.unixSocketPath {
            let address: SocketAddress
            do throws(NetworkError) {
                address = try SocketAddress(unixPath: path)
            } catch {
                return loop.deferCallback { then(.failure(.connectFailed(error))) }
            }
            return loop.connect(to: address, timeout: options.connectTimeout, options: options.stream) { result in
                then(result.mapError(ClientError.connectFailed))
            }
        }
        let proxy: ProxyConfiguration?
        switch options.proxy {
        case .direct: proxy = nil
        case .through(let configuration): proxy = configuration
        case .fromEnvironment:
            proxy = ProxyConfiguration.fromEnvironment(ProcessEnvironment.variables(), host: url.host, port: url.port,
                                                       secure: url.isSecure)
        }
        guard let proxy else {
            return loop.connect(host: url.host, port: url.port, timeout: options.connectTimeout, options: options.stream) { result in
                then(result.mapError(ClientError.connectFailed))
            }
        }
        let negotiation: ProxyHandshake
        do throws(ProxyError) {
            negotiation = try ProxyHandshake(configuration: proxy, host: url.host, port: url.port, headLimits: options.headLimits)
        } catch {
            return loop.deferCallback { then(.failure(.proxyFailed(error))) }
        }
        let timeout = options.handshakeTimeout
        loop.connect(host: proxy.host, port: proxy.port, timeout: options.connectTimeout, options: options.stream) { result in
            switch result {
            case .failure(let error):
                then(.failure(.proxyFailed(ProxyError(proxy: proxy.description, reason: error.description))))
            case .success(let stream):
                ProxyTunnel(stream: stream, handshake: negotiation) { tunnel in
                    then(tunnel.mapError(ClientError.proxyFailed))
                }.start(timeout: timeout)
            }
        }
    }

    /// Decides a redirect answer (`status`, `location`) to `url`: true when it is followed (a
    /// new connect starts), false to report the 3xx as it is; refusals finish with
    /// `.redirectFailed`, which also counts as taken over.
    private func redirect(from url: WebSocketURL, status: Int, location: String) -> Bool {
        guard Self.redirectStatuses.contains(status), options.maxRedirects > 0 else { return false }
        func refuse(_ reason: String) -> Bool {
            finishLater(.failure(.redirectFailed(status: status, reason: reason)))
            return true
        }
        guard options.unixSocketPath == nil || location.schemeSeparatorRange == nil else {
            return refuse("a cross-origin redirect (\(location)) over a Unix socket")
        }
        guard let target = Self.resolve(location, against: url) else {
            return refuse("Location \(location) is not a ws, wss, http or https URL")
        }
        guard !(url.isSecure && !target.isSecure) else { return refuse("it goes from wss:// to ws:// (\(target))") }
        guard redirectsFollowed < options.maxRedirects else {
            return refuse("more than \(options.maxRedirects) redirects (the last to \(target))")
        }
        if let shouldRedirect, !shouldRedirect(status, target) { return false }
        redirectsFollowed += 1
        if !Self.sameOrigin(url, target) {
            // Credentials the program gave for one origin are not handed to another that a
            // redirect names (websockets and browsers strip them; RFC 9110 15.4 leaves it to the client).
            for name in Self.credentialHeaders { options.headers.remove(name: name) }
        }
        start(target)
        return true
    }

    /// Request headers that carry credentials, dropped when a redirect changes the origin.
    static let credentialHeaders = ["Authorization", "Cookie", "Proxy-Authorization"]

    /// Whether `a` and `b` are one origin: scheme, host (case-insensitive) and port.
    static func sameOrigin(_ a: WebSocketURL, _ b: WebSocketURL) -> Bool {
        a.isSecure == b.isSecure && a.host.lowercased() == b.host.lowercased() && a.port == b.port
    }

    /// `location` as a WebSocket URL: absolute (http and https map to ws and wss), or a path
    /// relative to `base` (RFC 9110 10.2.2 allows a relative reference).
    static func resolve(_ location: String, against base: WebSocketURL) -> WebSocketURL? {
        let lowered = location.lowercased()
        if lowered.hasPrefix("http://") { return WebSocketURL("ws://" + location.dropFirst(7)) }
        if lowered.hasPrefix("https://") { return WebSocketURL("wss://" + location.dropFirst(8)) }
        if location.schemeSeparatorRange != nil { return WebSocketURL(location) }
        var origin = base
        origin.query = nil
        if location.hasPrefix("//") { return WebSocketURL((base.isSecure ? "wss:" : "ws:") + location) }
        if location.hasPrefix("/") {
            origin.path = location
        } else {
            let directory = base.path[...(base.path.lastIndex(of: "/") ?? base.path.startIndex)]
            origin.path = String(directory) + location
        }
        return WebSocketURL(origin.description)
    }

    private func finishLater(_ result: Result<WebSocketConnection, ClientError>) {
        let completion = completion
        loop.deferCallback { completion(result) }
    }
}

/// The process environment as a dictionary (for `ProxySetting.fromEnvironment`).
enum ProcessEnvironment {
    static func variables() -> [String: String] {
        var result: [String: String] = [:]
        var entry = environ
        while let pointer = entry.pointee {
            let text = String(cString: pointer)
            if let equals = text.firstIndex(of: "=") {
                result[String(text[..<equals])] = String(text[text.index(after: equals)...])
            }
            entry += 1
        }
        return result
    }
}
