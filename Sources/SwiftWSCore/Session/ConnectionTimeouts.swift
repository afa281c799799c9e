/// The time policy of a WebSocket connection, without a clock: keepalive pings, the pong
/// timeout, the idle timeout, the unfinished-message timeout and the close timeout, as a pure
/// state machine. The transport tells it what happened and what time it is ("now", in
/// nanoseconds of any monotonic clock), asks `nextAction(now:)` what to do, carries the action
/// out, and sleeps until `nextDeadline`. Tested with a fake clock, no sockets, no sleeps. The
/// struct keeps only times; the durations (`Configuration`) are given to each call that needs
/// them, the same ones every time. The times of what the connection awaits (a pong, the rest of
/// a message) are kept apart, in `Outstanding`, and given to the calls that need them: they are
/// set only while something is awaited, when a connection already has its session, which keeps
/// them (`Session.outstanding`), so an idle connection does not carry them (16 bytes, issue 16).
///
/// The rule that keeps every connection bounded: once the connection is no longer open (we sent
/// a close frame, the peer sent one, or it failed), only the close deadline counts, and it is
/// always armed; it ends in `.abort`. Keepalive and idle timers belong to open connections only,
/// so a closing connection can neither re-arm a timer in the past (a spinning loop) nor lose
/// its last timer (a connection held forever).
public struct ConnectionTimeouts: Sendable, Hashable {
    /// The durations, in nanoseconds; nil switches a timer off.
    public struct Configuration: Sendable, Hashable {
        /// Send a ping this often while open.
        public var pingInterval: UInt64?
        /// Close with 1011 when no pong arrives this long after a ping.
        public var pongTimeout: UInt64
        /// Close with 1001 when nothing was received for this long while open.
        public var idleTimeout: UInt64?
        /// Close with 1008 when a data message is still unfinished this long after its first frame.
        public var messageTimeout: UInt64?
        /// Abort the TCP connection when the close handshake has not finished this long after it began.
        public var closeTimeout: UInt64

        /// A configuration; all durations in nanoseconds.
        public init(pingInterval: UInt64? = nil, pongTimeout: UInt64 = 20_000_000_000, idleTimeout: UInt64? = nil,
                    messageTimeout: UInt64? = nil, closeTimeout: UInt64 = 10_000_000_000) {
            self.pingInterval = pingInterval
            self.pongTimeout = pongTimeout
            self.idleTimeout = idleTimeout
            self.messageTimeout = messageTimeout
            self.closeTimeout = closeTimeout
        }
    }

    /// What the transport should do now.
    public enum Action: Sendable, Hashable {
        /// Nothing before `nextDeadline`.
        case wait
        /// Send a keepalive ping (the payload is up to the caller).
        case sendPing
        /// Start the close handshake with this code and reason (a timeout fired); the close
        /// deadline is armed from now.
        case close(CloseCode, String)
        /// Drop the TCP connection: the close handshake did not finish in time.
        case abort
    }

    /// The times of what the connection awaits: the pong to its keepalive ping, the final frame of
    /// a data message. Not part of `ConnectionTimeouts`: they are set only while something is
    /// awaited, and then a connection has its session, so it keeps them there
    /// (`Session.outstanding`); an idle connection, which has no session, carries neither.
    public struct Outstanding: Sendable, Hashable {
        /// When the keepalive ping's pong is due (`.max`: no ping awaits its pong).
        fileprivate var pongDeadline: UInt64 = .max
        /// When the first frame of the data message being received arrived (`.max`: none is).
        fileprivate var messageStart: UInt64 = .max

        /// Nothing awaited.
        public init() {}

        /// Whether an unfinished message is being timed: callers compare it with the session's
        /// state and call `messageInProgress` (and read the clock) only when the two differ.
        public var isTimingMessage: Bool { messageStart != .max }

        /// A pong arrived: the keepalive is answered.
        public mutating func pongReceived() {
            pongDeadline = .max
        }

        /// Whether a data message is being received (its first frame arrived, its final frame not
        /// yet), reported after each receive. Only the transition matters.
        public mutating func messageInProgress(_ inProgress: Bool, now: UInt64) {
            if !inProgress {
                messageStart = .max
            } else if messageStart == .max {
                messageStart = now
            }
        }
    }

    // The durations are not kept here: every call that needs them is given them (a connection
    // passes its server's, held once for all its connections), and neither are the outstanding
    // times (see `Outstanding`), so the state is 17 bytes, not 49 with a pointer to the durations
    // and the two times (issue 16: memory per idle connection).
    private var lastReceive: UInt64
    /// While open, when the next keepalive ping is due; once closing, the close deadline (the only
    /// time that counts then, so the two share the room).
    private var nextPingOrCloseDeadline: UInt64
    /// Last, so that one-byte fields after the struct can use the rest of its last word (a
    /// connection's flags).
    private var isOpen = true

    /// Starts the timers of a connection that opened at `now`, with these durations (give the same
    /// ones to every later call).
    public init(_ configuration: Configuration, now: UInt64) {
        lastReceive = now
        nextPingOrCloseDeadline = configuration.pingInterval.map { now.addingSaturated($0) } ?? .max
    }

    /// Starts the timers of a connection that opened at `now`, with durations shared by others
    /// (a server's connections); they are read now, not kept.
    public init(_ configuration: Shared<Configuration>, now: UInt64) {
        self.init(configuration.value, now: now)
    }

    /// Whether the idle timer needs the time of each receive (callers skip the clock otherwise).
    public func tracksReceiveTime(durations: Configuration) -> Bool { durations.idleTimeout != nil && isOpen }

    /// Whether the close deadline runs (`closingStarted` was called, or a timeout closed).
    public var isClosing: Bool { !isOpen }

    /// Bytes arrived from the peer at `now`.
    public mutating func received(now: UInt64) {
        lastReceive = now
    }

    /// The connection stopped being open at `now` (close frame sent or received, failure, end of
    /// stream): from here on only the close deadline counts. Idempotent: the first call arms it.
    public mutating func closingStarted(now: UInt64, durations: Configuration) {
        guard isOpen else { return }
        isOpen = false
        nextPingOrCloseDeadline = now.addingSaturated(durations.closeTimeout)
    }

    /// The earliest time at which `nextAction` may return something other than `.wait`
    /// (`UInt64.max`: never), with the connection's `outstanding` times.
    public func nextDeadline(durations: Configuration, outstanding: Outstanding) -> UInt64 {
        guard isOpen else { return nextPingOrCloseDeadline }
        var deadline = Swift.min(nextPingOrCloseDeadline, outstanding.pongDeadline)
        if let idle = durations.idleTimeout { deadline = Swift.min(deadline, lastReceive.addingSaturated(idle)) }
        if let limit = durations.messageTimeout, outstanding.messageStart != .max {
            deadline = Swift.min(deadline, outstanding.messageStart.addingSaturated(limit))
        }
        return deadline
    }

    /// What to do at `now`, with the connection's `outstanding` times (a `.sendPing` sets the
    /// pong's deadline there). Call again after carrying out an action other than `.wait`:
    /// several may be due at once (each call moves the state on, so the calls end with `.wait`).
    public mutating func nextAction(now: UInt64, durations: Configuration, outstanding: inout Outstanding) -> Action {
        guard isOpen else { return now >= nextPingOrCloseDeadline ? .abort : .wait }
        if now >= outstanding.pongDeadline {
            closingStarted(now: now, durations: durations)
            return .close(.internalError, "keepalive ping timeout")
        }
        if let limit = durations.messageTimeout, outstanding.messageStart != .max,
           now >= outstanding.messageStart.addingSaturated(limit) {
            closingStarted(now: now, durations: durations)
            return .close(.policyViolation, "message not completed in time")
        }
        if let idle = durations.idleTimeout, now >= lastReceive.addingSaturated(idle) {
            closingStarted(now: now, durations: durations)
            return .close(.goingAway, "idle timeout")
        }
        if now >= nextPingOrCloseDeadline {
            if outstanding.pongDeadline == .max { outstanding.pongDeadline = now.addingSaturated(durations.pongTimeout) }
            nextPingOrCloseDeadline = durations.pingInterval.map { now.addingSaturated($0) } ?? .max
            return .sendPing
        }
        return .wait
    }
}

extension UInt64 {
    /// `self + other`, saturating at `UInt64.max` (a deadline "never" must not wrap to "now").
    @inline(__always)
    func addingSaturated(_ other: UInt64) -> UInt64 {
        let (sum, overflow) = addingReportingOverflow(other)
        return overflow ? .max : sum
    }
}
