import SwiftWSCore

/// The settings of a `WebSocketServer`.
public struct ServerOptions: Sendable {
    /// Settings of every accepted connection (limits, timeouts, backpressure).
    public var connection: ConnectionOptions = ConnectionOptions()
    /// Socket options of the listener and accepted sockets.
    public var listen: ListenOptions = ListenOptions()
    /// Limits on the request head (8 KiB, 64 headers by default).
    public var headLimits: HTTPHeadLimits = HTTPHeadLimits()
    /// Time a client has to send its whole request head; then the socket is closed.
    public var handshakeTimeout: Duration = .seconds(10)
    /// Whether a request head that is not HTTP (a malformed request or header line, bad line
    /// endings) gets `400 Bad Request`, and one that does not arrive within `handshakeTimeout`
    /// `408 Request Timeout` (true, the default). False closes those connections without an
    /// answer, as Python websockets does (the peer is not known to speak HTTP). Heads over the
    /// limits (431) and requests that break the WebSocket rules still get their answers.
    public var answersBadRequests: Bool = true
    /// Most open WebSocket connections plus handshakes in progress (nil: no limit). Connections
    /// beyond it are answered `503 Service Unavailable` and closed.
    public var maxConnections: Int? = nil
    /// Most bytes all connections together may hold (nil: no limit): input kept for unfinished
    /// messages (reassembly, inflated data) plus output the peers have not taken. The connection
    /// whose growth passes it is closed: 1013 (try again later) when its input grew, a dropped
    /// TCP connection with status 1008 when its output grew (see `WebSocketServer.memoryBudgetUsed`).
    public var memoryBudget: Int? = nil
    /// Accepted `Origin` values (exact, case-insensitive match, e.g. "https://example.com").
    /// nil accepts any request; a request without Origin (not a browser) is accepted unless
    /// `requireOrigin` is set. A rejected origin gets `403 Forbidden`.
    public var allowedOrigins: [String]? = nil
    /// Reject requests without an Origin header when `allowedOrigins` is set.
    public var requireOrigin: Bool = false
    /// Subprotocols the server speaks, most preferred first. Without an upgrade hook, the first
    /// of these that the client offered is chosen.
    public var subprotocols: [String] = []
    /// TLS (wss://): the certificate chain and key to serve, and the other TLS settings. nil
    /// (the default) serves plain ws://. The TLS handshake counts against `handshakeTimeout`.
    public var tls: TLSConfiguration? = nil

    /// Event loops (one thread each) the server runs on: 1 (the default) is the loop given at
    /// creation; N > 1 adds N - 1 threads, each with its own loop. One acceptor on the given loop
    /// hands each new socket to the least loaded loop (`acceptStrategy`); broadcasts and topic
    /// publishes reach every loop, each loop building the frame (and its compressed form) once.
    /// Handlers then run on several threads (each connection's on its own loop's thread); the
    /// upgrade and HTTP hooks must be set before the loop first runs. `memoryBudget` is split
    /// evenly between the loops. With `tls`, every loop serves from one TLS context, which
    /// `WebSocketServer.reloadTLS` replaces for all of them at once.
    public var loops: Int = 1
    /// The most loops a server takes.
    public static let maximumLoops = 256
    /// How a server on several loops spreads new connections (measured in
    /// docs/notes/issue15-scale-round3.md); `.handoff` unless a benchmark asks for the other.
    package var acceptStrategy: AcceptStrategy = .handoff
    /// Keep each connection's `peerHandshakeHeaders` for its whole life. Off by default: the
    /// headers (a browser sends 0.5-1 KiB of them) are there in the upgrade hook and in `onOpen`,
    /// then dropped, so an idle connection does not carry its request (issue 16); an
    /// application that reads them later copies what it needs in `onOpen` or sets this.
    public var keepsHandshakeHeaders: Bool = false
    /// Joins this server's topics to other processes through Redis pub/sub (nil: this process
    /// only). See `RedisOptions` for what is delivered, and what is lost while Redis is down.
    public var redis: RedisOptions? = nil

    /// The defaults.
    public init() {}
}

/// A connection that ended before its request head was read (`WebSocketServer.onNoRequest`).
public struct NoRequest: Sendable {
    /// Why no request was read.
    public enum Reason: Sendable, Equatable {
        /// The client closed the connection (or it failed) first.
        case closed
        /// `ServerOptions.handshakeTimeout` passed first.
        case timedOut
        /// The request line is not `METHOD target HTTP/x.y` (checked as soon as it arrived).
        case badRequestLine(HandshakeError)
        /// Elsewhere, the bytes are not an HTTP head (line endings, a header line).
        case malformed(HandshakeError)
    }

    /// Why.
    public let reason: Reason
    /// The bytes of the head received until then (up to the offending byte).
    public let received: [UInt8]
    /// The client's address, when known.
    public let remoteAddress: SocketAddress?
}

/// How a server on several loops spreads new connections over them.
package enum AcceptStrategy: Sendable {
    /// One listening socket on the first loop; each accepted socket goes to the loop with the
    /// fewest connections (one cross-thread hand-off per connection).
    case handoff
    /// A listening socket per loop on the same port (SO_REUSEPORT): the kernel spreads
    /// connections by a hash of their addresses, whatever each loop's load.
    case reusePort
}

/// An upgrade hook's answer.
public enum UpgradeDecision {
    /// Switch protocols.
    case accept(UpgradeAcceptance)
    /// Refuse with an HTTP response (`status` 200...599; the body is sent as text/plain).
    case reject(status: Int, body: String = "", headers: HTTPHeaders = HTTPHeaders())
    /// Decide later (after a database lookup, say), through the `PendingUpgrade` that
    /// `WebSocketServer.deferUpgrade()` returned during the hook. The request waits, reading
    /// nothing more, until then or until `ServerOptions.handshakeTimeout` (counted from the
    /// accept) ends it with 503.
    case later
    /// Close the connection without any answer: the client sees its connection end during the
    /// handshake (what a Python websockets hook does when it closes `connection.transport`).
    case drop
}

/// An upgrade whose decision was deferred (`UpgradeDecision.later`). Loop-thread only.
public final class PendingUpgrade {
    private weak var upgrade: ServerUpgrade?

    init(_ upgrade: ServerUpgrade) {
        self.upgrade = upgrade
    }

    /// Whether the request still waits for its decision (false once decided, once the client
    /// went away, or once the handshake timeout answered 503).
    public var isPending: Bool { upgrade?.isWaitingForDecision ?? false }

    /// Answers the request: `.accept` opens the connection, `.reject` sends the response,
    /// `.drop` closes without one (`.later` is refused). Returns false, doing nothing, when the request no longer waits.
    @discardableResult
    public func decide(_ decision: UpgradeDecision) -> Bool {
        if case .later = decision { return false }
        guard let upgrade, upgrade.isWaitingForDecision else { return false }
        upgrade.decideLater(decision)
        return true
    }
}

/// How to accept an upgrade.
public struct UpgradeAcceptance {
    /// The subprotocol to announce; it must be one the client offered.
    public var subprotocol: String?
    /// Extra response headers.
    public var headers: HTTPHeaders
    /// Attached to the connection as `userData`.
    public var userData: Any?

    /// Accepts with the given subprotocol, headers and user data.
    public init(subprotocol: String? = nil, headers: HTTPHeaders = HTTPHeaders(), userData: Any? = nil) {
        self.subprotocol = subprotocol
        self.headers = headers
        self.userData = userData
    }
}

/// A plain HTTP response, for requests that are not WebSocket upgrades (health checks, a page).
public struct HTTPResponse {
    /// The status code (200...599).
    public var status: Int
    /// Response headers (Content-Length and Connection: close are added).
    public var headers: HTTPHeaders
    /// The body.
    public var body: [UInt8]

    /// A response; a text body is sent as text/plain unless a Content-Type header is given.
    public init(status: Int, headers: HTTPHeaders = HTTPHeaders(), body: [UInt8] = []) {
        self.status = status
        self.headers = headers
        self.body = body
    }

    /// A response with a UTF-8 text body.
    public init(status: Int, headers: HTTPHeaders = HTTPHeaders(), text: String) {
        self.init(status: status, headers: headers, body: Array(text.utf8))
    }
}
