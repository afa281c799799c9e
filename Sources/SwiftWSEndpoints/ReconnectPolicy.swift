/// When a reconnecting client tries again (Python websockets' semantics and defaults, RFC 6455
/// section 7.2.3): after the first failed attempt a random delay below `initialDelay` (so that
/// clients cut off together do not all come back at once), then `minDelay` growing by `factor`
/// up to `maxDelay`. A connection that opened resets the sequence; a connection that is lost is
/// followed by an immediate attempt.
public struct ReconnectPolicy: Hashable, Sendable {
    /// The first delay is random in [0, initialDelay). Default 5 s.
    public var initialDelay: Duration
    /// The second delay; each next one is `factor` times longer. Default 3.1 s.
    public var minDelay: Duration
    /// The longest delay. Default 90 s.
    public var maxDelay: Duration
    /// Growth per failed attempt. Default 1.618.
    public var factor: Double
    /// Attempts in a row that may fail before the client gives up (nil, default: never).
    public var maxFailures: Int?

    /// The defaults of Python websockets (`BACKOFF_*`).
    public init(initialDelay: Duration = .milliseconds(5000), minDelay: Duration = .milliseconds(3100),
                maxDelay: Duration = .seconds(90), factor: Double = 1.618, maxFailures: Int? = nil) {
        self.initialDelay = initialDelay
        self.minDelay = minDelay
        self.maxDelay = maxDelay
        self.factor = factor
        self.maxFailures = maxFailures
    }

    /// The delay after `failures` attempts in a row failed (1: the first failure), with `random`
    /// in [0, 1) for the first one's jitter.
    public func delay(afterFailures failures: Int, random: Double) -> Duration {
        if failures <= 1 { return initialDelay * min(max(random, 0), 1) }
        var delay = minDelay
        for _ in 2..<failures {
            guard delay < maxDelay else { break }
            delay = delay * max(factor, 1)
        }
        return min(delay, maxDelay)
    }

    /// Whether an attempt that failed with `error` is worth repeating (websockets'
    /// `process_exception` default): network failures (refused, reset, unreachable, name
    /// resolution, timeouts, a proxy that cannot be reached or fails), a connection closed during
    /// the handshake, and the statuses 500, 502, 503 and 504. Other answers and bad arguments are
    /// fatal: the same attempt would fail the same way.
    public static func isTransient(_ error: ClientError) -> Bool {
        switch error {
        case .connectFailed, .handshakeTimedOut, .closedDuringHandshake, .proxyFailed: return true
        case .unexpectedStatus(let code, _): return [500, 502, 503, 504].contains(code)
        case .invalidURL, .invalidRequest, .handshakeFailed, .tlsFailed, .redirectFailed: return false
        }
    }
}
