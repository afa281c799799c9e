import Glibc
import SwiftWSCore

/// The settings of a client connection.
public struct ClientOptions: Sendable {
    /// Settings of the connection once open (limits, timeouts, backpressure).
    public var connection: ConnectionOptions = ConnectionOptions()
    /// Extra request headers (Authorization, cookies, …).
    public var headers: HTTPHeaders = HTTPHeaders()
    /// Subprotocols to offer, most preferred first.
    public var subprotocols: [String] = []
    /// Sent as the Origin header if set.
    public var origin: String? = nil
    /// Time allowed for name resolution and the TCP connection.
    public var connectTimeout: Duration = .seconds(10)
    /// Time allowed for the server's handshake response after the request was sent.
    public var handshakeTimeout: Duration = .seconds(10)
    /// Limits on the response head.
    public var headLimits: HTTPHeadLimits = HTTPHeadLimits()
    /// Socket options.
    public var stream: StreamOptions = StreamOptions()
    /// TLS settings for `wss://` URLs (ignored for `ws://`): by default the server's certificate
    /// is verified against the system trust store and the URL's host name. The TLS handshake
    /// counts against `handshakeTimeout`.
    public var tls: TLSConfiguration = TLSConfiguration()
    /// How the server is reached: directly (default), through the proxy the environment names
    /// (`https_proxy`, `no_proxy`, …; see `ProxyConfiguration.fromEnvironment`), or through a
    /// given HTTP CONNECT or SOCKS proxy. The TCP connection to the proxy is bounded by
    /// `connectTimeout`, the negotiation by its own timer of `handshakeTimeout` (its error names
    /// the proxy negotiation), then the upgrade by `handshakeTimeout` as without a proxy.
    public var proxy: ProxySetting = .direct
    /// Redirects (301, 302, 303, 307, 308) followed at most, each a new connection; 0 follows
    /// none (the 3xx is then `unexpectedStatus`). A redirect from wss:// to ws:// is refused.
    /// Default 10, as Python websockets.
    public var maxRedirects: Int = 10
    /// Connect to this Unix-domain socket instead of the URL's host and port (which still give
    /// the Host header and the path): a path, or "@name" for Linux's abstract namespace.
    public var unixSocketPath: String? = nil

    /// The defaults.
    public init() {}
}

/// Why a client could not open a connection.
public enum ClientError: Error, Sendable, Hashable, CustomStringConvertible {
    /// The text is not a ws:// or wss:// URL.
    case invalidURL(String)
    /// The options cannot be written into a request (a header with a line break, …).
    case invalidRequest(HandshakeError)
    /// Name resolution or the TCP connection failed: refused, DNS failure, timeout.
    case connectFailed(NetworkError)
    /// The server answered with a status other than 101 (the status code and reason phrase).
    case unexpectedStatus(code: Int, reason: String)
    /// The server's answer broke RFC 6455 section 4.1 (bad Sec-WebSocket-Accept, an unoffered
    /// subprotocol or extension, a malformed head).
    case handshakeFailed(HandshakeError)
    /// The server did not answer within the handshake timeout.
    case handshakeTimedOut
    /// The server closed the connection before answering.
    case closedDuringHandshake
    /// TLS failed: the client's TLS settings cannot be used, or the TLS handshake failed (the
    /// reason: "certificate verify failed: unable to get local issuer certificate", "Hostname
    /// mismatch", "certificate has expired", "wrong version number" for a plain server, …).
    case tlsFailed(String)
    /// The proxy refused or failed to open the tunnel (its refusal names the proxy).
    case proxyFailed(ProxyError)
    /// A redirect (its status) could not be followed: too many, wss:// to ws://, a Location that
    /// is not a ws/wss/http/https URL, or a connection over an adopted socket.
    case redirectFailed(status: Int, reason: String)

    /// A sentence for logs and people.
    public var description: String {
        switch self {
        case .invalidURL(let url): return "invalid WebSocket URL: \(url)"
        case .invalidRequest(let error): return "cannot build the request: \(error)"
        case .connectFailed(let error): return error.description
        case .unexpectedStatus(let code, let reason): return "server answered \(code) \(reason) instead of 101"
        case .handshakeFailed(let error): return error.description
        case .handshakeTimedOut: return "no handshake response in time"
        case .closedDuringHandshake: return "connection closed during the handshake"
        case .tlsFailed(let reason): return reason
        case .proxyFailed(let error): return error.description
        case .redirectFailed(let status, let reason): return "cannot follow the \(status) redirect: \(reason)"
        }
    }
}

/// The server's answer to a client's upgrade request as it arrived: the head (status line and
/// header lines, with the empty line) and, for a refusal, the body bytes that came in the same
/// reads (at most `maxBodyBytes`; the connection is not kept open to read more).
public struct HandshakeResponse: Sendable, Equatable {
    /// The bytes of the head, up to and including the empty line.
    public let head: [UInt8]
    /// Bytes received after the head (a refusal's body, or its beginning).
    public let body: [UInt8]
    /// Most body bytes kept from a refusal.
    public static let maxBodyBytes = 64 * 1024
}

/// Opens client WebSocket connections.
public enum WebSocketClient {
    /// The opening handshake a connect to `url` with `options` sends (the request, the offers it
    /// makes): built once here for every face, so that a binding can check a connect's arguments
    /// before it starts (the C API does) with exactly the rules the connect uses.
    public static func makeHandshake(_ url: WebSocketURL, options: ClientOptions) throws(HandshakeError) -> ClientHandshake {
        let deflate = options.connection.perMessageDeflate
        return try ClientHandshake(host: url.host, port: Int(url.port), secure: url.isSecure, path: url.path,
                                   query: url.query, origin: options.origin, subprotocols: options.subprotocols,
                                   extensions: deflate.isEnabled ? PerMessageDeflateNegotiation.clientOffers(configuration: deflate) : [],
                                   headers: options.headers, limits: options.headLimits)
    }

    /// Connects to `url` (`ws://host[:port]/path[?query]`; names resolved off the loop) and runs
    /// the opening handshake: directly, over `options.unixSocketPath`, or through
    /// `options.proxy`, following up to `options.maxRedirects` redirects, each of which
    /// `shouldRedirect` (if set) may veto by returning false (then the 3xx is the failure).
    /// `log` receives the handshake's failure and the connection's opening and closing;
    /// `onResponse` sees the server's final answer as it arrived (before `completion`), accepted
    /// or not. `completion` runs once on the loop thread, after this call returns, with the open
    /// connection (its `onOpen` already called) or the reason it failed. Loop-thread only.
    public static func connect(to url: String, on loop: EventLoop, options: ClientOptions = ClientOptions(),
                               handlers: ConnectionHandlers = ConnectionHandlers(), log: LogSink? = nil,
                               onResponse: ((HandshakeResponse) -> Void)? = nil,
                               shouldRedirect: ((_ status: Int, _ location: WebSocketURL) -> Bool)? = nil,
                               completion: @escaping (Result<WebSocketConnection, ClientError>) -> Void) {
        ClientConnector(loop: loop, options: options, handlers: handlers, adoptedSocket: nil,
                        shouldRedirect: shouldRedirect, log: log, onResponse: onResponse, completion: completion).start(url)
    }

    /// Runs the opening handshake for `url` over `socket`, a connected stream socket (TCP or
    /// Unix) the caller opened: socket activation, or a connection set up by other code. The
    /// connection owns the descriptor from now on (also on failure, when it is closed). No
    /// proxy, no redirects (a 3xx fails). `log` and `onResponse` as for the other connect.
    /// Loop-thread only.
    public static func connect(to url: String, socket: Int32, on loop: EventLoop, options: ClientOptions = ClientOptions(),
                               handlers: ConnectionHandlers = ConnectionHandlers(), log: LogSink? = nil,
                               onResponse: ((HandshakeResponse) -> Void)? = nil,
                               completion: @escaping (Result<WebSocketConnection, ClientError>) -> Void) {
        ClientConnector(loop: loop, options: options, handlers: handlers, adoptedSocket: socket,
                        shouldRedirect: nil, log: log, onResponse: onResponse, completion: completion).start(url)
    }
}

/// A connected socket waiting for the server's handshake response. Loop-thread only.
final class ClientUpgrade {
    private let stream: SocketStream
    private var handshake: ClientHandshake
    private let url: WebSocketURL
    private let options: ClientOptions
    private let handlers: ConnectionHandlers
    private let log: LogSink?
    private let onResponse: ((HandshakeResponse) -> Void)?
    /// What arrived so far, while someone wants the response (bounded: the head limit plus
    /// HandshakeResponse.maxBodyBytes).
    private var received: [UInt8] = []
    private var completion: ((Result<WebSocketConnection, ClientError>) -> Void)?
    private var timer: TimerHandle?
    /// Asked with a redirect's status and Location; true when it takes the redirect over (this
    /// upgrade then ends without calling `completion`).
    private let redirect: ((Int, String) -> Bool)?

    init(stream: SocketStream, handshake: ClientHandshake, url: WebSocketURL, options: ClientOptions,
         handlers: ConnectionHandlers, log: LogSink?, onResponse: ((HandshakeResponse) -> Void)?,
         redirect: ((Int, String) -> Bool)? = nil,
         completion: @escaping (Result<WebSocketConnection, ClientError>) -> Void) {
        self.redirect = redirect
        self.stream = stream
        self.log = log
        self.onResponse = onResponse
        self.handshake = handshake
        self.url = url
        self.options = options
        self.handlers = handlers
        self.completion = completion
    }

    func start() {
        // `startTLS` runs the client's first handshake step at once, and on loopback the server's
        // answer is often already there: a certificate that fails verification then closes the
        // stream before this upgrade could watch it (its close handler was not set yet), which
        // left the connect waiting for the handshake timeout.
        guard stream.isOpen else { return fail(stream.tlsFailure.map(ClientError.tlsFailed) ?? .closedDuringHandshake) }
        // The stream's handlers keep this object alive until the handshake ends.
        stream.onRead = { [self] bytes in receive(bytes) }
        stream.onClose = { [self] _ in
            if stream.tlsFailure == nil, completion != nil { reportResponse() }  // what arrived before the close
            fail(stream.tlsFailure.map(ClientError.tlsFailed) ?? .closedDuringHandshake)
        }
        timer = stream.loop.schedule(after: options.handshakeTimeout) { [self] in
            timer = nil
            fail(.handshakeTimedOut)
        }
        stream.write(handshake.requestBytes)
    }

    /// Reports the response as received to `onResponse`: the head ends at the first empty line
    /// (no empty line: every byte that arrived, as for an answer that is not HTTP or cut short).
    private func reportResponse() {
        guard let onResponse else { return }
        var headEnd = received.count
        if received.count >= 4 {
            for index in 0...(received.count - 4)
            where received[index] == 13 && received[index + 1] == 10 && received[index + 2] == 13 && received[index + 3] == 10 {
                headEnd = index + 4
                break
            }
        }
        onResponse(HandshakeResponse(head: Array(received[..<headEnd]),
                                     body: Array(received[headEnd...].prefix(HandshakeResponse.maxBodyBytes))))
        received = []
    }

    private func receive(_ bytes: UnsafeMutableRawBufferPointer) {
        if onResponse != nil, received.count < options.headLimits.maxHeadBytes + HandshakeResponse.maxBodyBytes {
            received.append(contentsOf: UnsafeRawBufferPointer(bytes))
        }
        let answer: ServerAnswer
        let consumed: Int
        do throws(HandshakeError) {
            switch try handshake.receive(UnsafeRawBufferPointer(bytes)) {
            case .needMoreBytes: return
            case .complete(let value, let count):
                answer = value
                consumed = count
            }
        } catch {
            if case .unexpectedStatus(let code, let reason) = error.failure {
                if let redirect, let location = handshake.response?.headers.first("Location"), redirect(code, location) {
                    return abandon()
                }
                reportResponse()
                fail(.unexpectedStatus(code: code, reason: reason))
            } else {
                reportResponse()  // the answer that is not one, as it arrived
                fail(.handshakeFailed(error))
            }
            return
        }
        // RFC 7692 section 7.1: a response we did not offer, or cannot honour, fails the connection.
        let deflate = options.connection.perMessageDeflate
        let parameters: PerMessageDeflateParameters?
        do throws(HandshakeError) {
            parameters = deflate.isEnabled ? try answer.perMessageDeflateParameters(offeredWith: deflate) : nil
        } catch {
            fail(.handshakeFailed(error))
            return
        }
        guard let completion else { return }
        reportResponse()
        self.completion = nil
        if let timer { stream.loop.cancel(timer) }
        timer = nil
        let session = Session(role: .client, configuration: options.connection.session, deflate: parameters,
                              deflateConfiguration: deflate)
        let connection = WebSocketConnection(
            stream: stream, session: session, context: ConnectionContext(clientOptions: options.connection, handlers: handlers, log: log),
            subprotocol: answer.subprotocol,
            extensions: answer.extensions, path: url.path, query: url.query, userData: nil)
        connection.peerHandshakeHeaders = answer.head.headers
        log?(.info, "connection open")
        // The completion sees the connection before any message (frames may follow the 101 in
        // the same read), so it can set user data first.
        completion(.success(connection))
        connection.start(initialBytes: UnsafeMutableRawBufferPointer(rebasing: bytes[min(consumed, bytes.count)...]))
    }

    /// Ends the upgrade without a result: another connection carries on (a redirect).
    private func abandon() {
        completion = nil
        if let timer { stream.loop.cancel(timer) }
        timer = nil
        stream.onRead = nil
        stream.onClose = nil
        stream.abort()
    }

    private func fail(_ error: ClientError) {
        guard let completion else { return }
        self.completion = nil
        if let timer { stream.loop.cancel(timer) }
        timer = nil
        stream.onRead = nil
        stream.onClose = nil
        stream.abort()
        log?(.warning, "opening handshake failed: \(error.description)")
        completion(.failure(error))
    }
}
