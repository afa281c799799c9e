import SwiftWSCore

/// A client that keeps a connection to one URL open: it connects, and when the connection is
/// lost it connects again at once; failed attempts are retried after `ReconnectPolicy`'s
/// delays while `shouldRetry` says the error is transient. Loop-thread only.
///
/// The connection's own callbacks are `handlers` (its `onOpen` means "connected", its `onClose`
/// "lost"); `onRetry` says "retrying in N" after a failed attempt, and `onGiveUp` reports the
/// error that ended the attempts (fatal, or `maxFailures` reached). `stop()` ends it all; so does
/// releasing the client (keep a reference while it should run).
public final class ReconnectingClient {
    /// The loop everything runs on.
    public let loop: EventLoop
    /// The URL connected to.
    public let url: String
    /// The connect options (proxy, redirects, TLS, timeouts, …) of every attempt.
    public let options: ClientOptions
    /// The retry schedule.
    public let policy: ReconnectPolicy
    /// Whether a failed attempt is retried; default `ReconnectPolicy.isTransient`.
    public var shouldRetry: (ClientError) -> Bool = ReconnectPolicy.isTransient
    /// After a failed attempt that will be retried: how many failed in a row, the delay, why.
    public var onRetry: ((_ failures: Int, _ delay: Duration, _ error: ClientError) -> Void)?
    /// Asked before each redirect is followed (see `WebSocketClient.connect`); nil: follow.
    public var shouldRedirect: ((_ status: Int, _ location: WebSocketURL) -> Bool)?
    /// The attempts ended with this error (not called after `stop()`).
    public var onGiveUp: ((ClientError) -> Void)?
    /// The open connection, if any.
    public private(set) var connection: WebSocketConnection?
    /// Whether `stop()` was called.
    public private(set) var isStopped = false

    private let userHandlers: ConnectionHandlers
    private let forwarding = ConnectionHandlers()
    private var failures = 0
    private var retryTimer: TimerHandle?

    /// A client for `url` whose connections report to `handlers`; `start()` begins.
    public init(url: String, on loop: EventLoop, options: ClientOptions = ClientOptions(),
                policy: ReconnectPolicy = ReconnectPolicy(), handlers: ConnectionHandlers) {
        self.loop = loop
        self.url = url
        self.options = options
        self.policy = policy
        self.userHandlers = handlers
        // The user's callbacks are read at each event, so they may be changed later; onClose
        // also starts the next attempt.
        forwarding.onOpen = { [handlers] in handlers.onOpen?($0) }
        forwarding.onMessage = { [handlers] in handlers.onMessage?($0, $1, $2) }
        forwarding.onFragment = { [handlers] in handlers.onFragment?($0, $1, $2, $3, $4) }
        forwarding.onPing = { [handlers] in handlers.onPing?($0, $1) }
        forwarding.onPong = { [handlers] in handlers.onPong?($0, $1) }
        forwarding.onDrain = { [handlers] in handlers.onDrain?($0) }
        forwarding.onClose = { [weak self, handlers] connection, status in
            handlers.onClose?(connection, status)
            self?.lost(connection)
        }
    }

    /// Makes the first attempt.
    public func start() {
        guard !isStopped, connection == nil, retryTimer == nil else { return }
        attempt()
    }

    /// No more attempts; the open connection, if any, is closed with `code` (default 1001).
    public func stop(code: CloseCode = .goingAway) {
        guard !isStopped else { return }
        isStopped = true
        if let retryTimer { loop.cancel(retryTimer) }
        retryTimer = nil
        connection?.close(code: code)
    }

    private func attempt() {
        WebSocketClient.connect(to: url, on: loop, options: options, handlers: forwarding,
                                shouldRedirect: shouldRedirect) { [self] result in
            switch result {
            case .success(let opened):
                guard !isStopped else { return opened.close(code: .goingAway) }
                failures = 0
                connection = opened
            case .failure(let error):
                guard !isStopped else { return }
                failures += 1
                guard shouldRetry(error), policy.maxFailures.map({ failures < $0 }) ?? true else {
                    isStopped = true
                    onGiveUp?(error)
                    return
                }
                let delay = policy.delay(afterFailures: failures, random: Double.random(in: 0..<1))
                onRetry?(failures, delay, error)
                retryTimer = loop.schedule(after: delay) { [weak self] in
                    self?.retryTimer = nil
                    self?.attempt()
                }
            }
        }
    }

    private func lost(_ closed: WebSocketConnection) {
        guard closed === connection else { return }
        connection = nil
        // A connection that was lost is followed by an attempt at once (websockets does the same).
        if !isStopped { loop.deferCallback { [weak self] in if self?.isStopped == false { self?.attempt() } } }
    }
}
