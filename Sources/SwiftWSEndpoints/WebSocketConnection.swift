import Glibc
import SwiftWSCore

/// One WebSocket connection, server or client side, after the opening handshake: a `Session`
/// (the protocol) driven by a `SocketStream` (the bytes), with timeouts and backpressure.
/// Loop-thread only; use `handle` to send or close from other threads.
///
/// Received bytes go from the loop's receive buffer straight into the session (unmasked in
/// place); whole messages reach `onMessage` as borrowed buffers. Frames the session produces are
/// written to the stream at once (corked with the rest of the iteration's writes).
public final class WebSocketConnection {
    /// The loop the connection belongs to.
    public var loop: EventLoop { stream.loop }
    /// Server or client.
    public var role: Role { context.sessionRecipe?.configuration.role ?? session.configuration.role }
    /// The subprotocol agreed in the handshake, if any. Kept in `rare`: most connections have
    /// none.
    public var subprotocol: String? { rare?.subprotocol }
    /// The extensions agreed in the handshake (the permessage-deflate response element, if any).
    /// Kept in the session (`Session.agreedExtensions`), not inline: a connection that has one
    /// has its session from the upgrade on (compression, or a client), and one without needs
    /// none (8 bytes per idle connection, issue 16); not in `rare` either, which would cost every
    /// compressed connection that object.
    public var extensions: [ExtensionOffer] { askSession({ $0.agreedExtensions() }, fresh: []) }
    /// The handshake request's path ("/chat") on the server side; the requested path on a client.
    /// Kept as an index into the paths the context shares (`pathIndex`), or in `rare` when
    /// that table is full.
    public var path: String {
        pathIndex == WebSocketConnection.ownPath ? rare.unsafelyUnwrapped.path.unsafelyUnwrapped : context.sharedPath(pathIndex)
    }
    /// The query string (without "?"), if any. Kept in `rare`: most connections have none.
    public var query: String? { rare?.query }
    /// The peer's handshake headers: the client's upgrade request on a server, the server's 101
    /// response on a client. A server keeps them until `onOpen` returns (and the messages that
    /// arrived with the request are delivered), then empties them unless
    /// `ServerOptions.keepsHandshakeHeaders` is set: an idle connection carries no request.
    /// Kept in `rare`, which emptying them lets go when nothing else is set there (8 bytes less
    /// per idle connection, issue 16).
    public internal(set) var peerHandshakeHeaders: HTTPHeaders {
        get { rare?.peerHandshakeHeaders ?? HTTPHeaders() }
        set {
            if newValue.count > 0 {
                rareFields.peerHandshakeHeaders = newValue
            } else if let rare {
                rare.peerHandshakeHeaders = newValue
                if rare.isUnused { self.rare = nil }
            }
        }
    }
    /// Whatever the application attaches (the upgrade hook may set it).
    public var userData: Any? {
        get { rare?.userData }
        set { if newValue != nil || rare != nil { rareFields.userData = newValue } }
    }
    /// A binding's own per-connection object (the C API's connection box), cleared with
    /// `userData` after `onClose`. Typed as a class reference so that finding it on the
    /// per-message path is a cheap class check, not the dynamic cast an `Any` needs.
    public var bindingObject: AnyObject?

    let stream: SocketStream
    /// The session, made on first use when the connection was given a recipe (a server
    /// connection without compression: its first byte in or out), at once otherwise. An idle
    /// connection carries the recipe's pointer instead of a session (368 bytes, issue 16).
    ///
    /// `Unmanaged`, retained once here and released in `deinit`, so that the message path reaches
    /// the session through `withSession` without a retain and a release per access: a session
    /// behind an ordinary `var` cost 9 % more instructions per echo (round 4), where the `let`
    /// it replaces cost none. `@exclusivity(unchecked)`: see `rare`.
    @exclusivity(unchecked) private var madeSession: Unmanaged<Session>?
    /// The session (made now if it was not yet), for the paths that run once per connection;
    /// the message path uses `withSession`, which costs no reference counting.
    var session: Session { withSession { $0 } }
    /// The session if it exists: what a query (state, counts) reads, so that asking an idle
    /// connection about itself does not make one.
    var sessionIfMade: Session? { madeSession?.takeUnretainedValue() }
    /// The negotiated permessage-deflate codec (the session's), nil without compression.
    var compression: PerMessageDeflate? { sessionIfMade?.perMessageDeflate }
    /// What this connection shares with the other connections of its server: callbacks,
    /// limits, budget, durations, the session's recipe.
    let context: ConnectionContext
    /// The callbacks; shared with the other connections of a server.
    public var handlers: ConnectionHandlers { context.handlers }

    /// The server the connection belongs to (see `serverIndex`).
    var server: WebSocketServer? { context.server }
    /// The connection's position in its server's list (kept in 32 bits next to the flags).
    var serverIndex: Int {
        get { Int(storedServerIndex) }
        set { storedServerIndex = Int32(newValue) }
    }
    /// Topics this connection is subscribed to (nil until the first subscription).
    var topics: Set<String>? {
        get { rare?.topics }
        set { if newValue != nil || rare != nil { rareFields.topics = newValue } }
    }

    /// The time policy (keepalive, idle, unfinished message, close handshake): the core decides,
    /// this class keeps one loop timer at its next deadline and carries out its actions. The
    /// times of an outstanding ping or message are kept in the session
    /// (`Session.outstandingTimes`), which exists whenever one is set (16 bytes less per idle
    /// connection, issue 16). `@exclusivity(unchecked)`: read on every receive; see `rare`.
    @exclusivity(unchecked) private var timeouts: ConnectionTimeouts
    /// Who began the closing handshake: true for this side (a close call, a timeout, a protocol
    /// error of the peer that this side failed the connection for), false when the peer's close
    /// frame came first, nil while open or when the TCP connection just dropped (1006).
    public private(set) var closeInitiatedLocally: Bool? {
        get { flags.contains(.closeInitiatedSet) ? flags.contains(.closeInitiatedLocally) : nil }
        set {
            flags.set(.closeInitiatedSet, newValue != nil)
            flags.set(.closeInitiatedLocally, newValue == true)
        }
    }
    // The flags, the path's index and the server index follow the timeouts (17 bytes) and fill the rest of their
    // last word: stored properties are laid out in declaration order, so a flag between two
    // 8-byte fields costs 7 bytes of padding (issue 16).
    /// Set while the session delivers received events. A byte of its own, not a bit of `flags`:
    /// it is set and cleared on every receive, and a bit costs a read-modify-write each time
    /// (callgrind: 6 instructions more per echo with it in `flags`).
    private var isDelivering = false
    /// The one-bit states below, in one byte. `@exclusivity(unchecked)`: `finished` is read
    /// several times per message; see `rare`.
    @exclusivity(unchecked) private var flags: ConnectionFlags = []
    /// Where `path` is: its index in `context`'s shared paths, or `ownPath` (in `rare`).
    private let pathIndex: UInt8
    /// The `pathIndex` of a connection whose path is kept in `rare`.
    private static let ownPath = UInt8.max
    @exclusivity(unchecked) private var storedServerIndex: Int32 = -1
    /// Set once the socket was handed to its lingering close.
    private var releasedTransport: Bool {
        get { flags.contains(.releasedTransport) }
        set { flags.set(.releasedTransport, newValue) }
    }
    /// Reading paused by `pauseReading()` (the application), as opposed to the pause while the
    /// session's deferred work waits (`resumeScheduled`).
    private var readingPausedByApplication: Bool {
        get { flags.contains(.readingPausedByApplication) }
        set { flags.set(.readingPausedByApplication, newValue) }
    }
    private var resumeScheduled: Bool {
        get { flags.contains(.resumeScheduled) }
        set { flags.set(.resumeScheduled, newValue) }
    }
    private var finished: Bool {
        get { flags.contains(.finished) }
        set { flags.set(.finished, newValue) }
    }
    /// How long a closing handshake may take before the TCP connection is dropped (and bound of
    /// the lingering close after it): the connection options' `closeTimeout` unless set here.
    /// A new value applies to a closing handshake that begins after it is set (websockets lets
    /// a program change `close_timeout` on an open connection).
    public var closeTimeout: Duration {
        get { .nanoseconds(Int64(clamping: closeTimeoutNanoseconds)) }
        set { rareFields.closeTimeout = newValue.clampedNanoseconds }
    }
    /// Whether a fragmented message is delivered frame by frame through `onFragment` as its
    /// frames arrive (`Session.streamsFragmentedMessages`); single-frame messages are delivered
    /// whole either way. Off by default; a binding turns it on when its program first asks for a
    /// message frame by frame (websockets' `recv_streaming`). Applies from the next message on.
    public var streamsFragmentedMessages: Bool {
        get { askSession({ $0.streamsFragmentedMessages }, fresh: false) }
        set { withSession { $0.streamsFragmentedMessages = newValue } }
    }
    private var closeTimeoutNanoseconds: UInt64 { rare?.closeTimeout ?? context.timeouts.value.closeTimeout }
    /// Whether the close timeout ended the connection: the closing handshake began but the
    /// peer's close frame, or (a client) the server's closing of TCP, did not come in time, so
    /// the TCP connection was dropped. Readable in `onClose`, so that a binding can report the
    /// timeout as the cause (websockets sets `TimeoutError` as the exception's cause).
    public private(set) var closeTimedOut: Bool {
        get { flags.contains(.closeTimedOut) }
        set { flags.set(.closeTimedOut, newValue) }
    }
    /// The one timer, at the time policy's deadline when it was armed (its `deadline`), nil when
    /// none is due: no separate copy of the deadline (8 bytes, issue 16).
    private var housekeeping: TimerHandle?
    /// Set when we end the connection ourselves without the session knowing (timeouts, limits).
    private var localStatus: CloseStatus? {
        get { rare?.localStatus }
        set { if newValue != nil || rare != nil { rareFields.localStatus = newValue } }
    }
    private var sharedState: ConnectionHandle? {
        get { rare?.sharedState }
        set { if newValue != nil || rare != nil { rareFields.sharedState = newValue } }
    }
    /// The fields most idle connections never set (user data, topics, a handle for other
    /// threads, the close statuses, the handshake's subprotocol, query and headers), in one
    /// object made when the first is set: 128 bytes less per idle connection (issue 16). A
    /// server connection has it while `onOpen` runs (the request's headers) and drops it when
    /// the headers go, unless something else was set.
    /// `@exclusivity(unchecked)`: no run-time exclusivity check (as `Session.output`, whose comment says why): read or written for every message; the connection is confined to its loop thread and
    /// no access stays open across a callback.
    @exclusivity(unchecked) private var rare: RareConnectionFields?
    /// The object behind `rare` if it was made: what `IdleFootprintTests` counts.
    var rareFieldsIfMade: AnyObject? { rare }
    private var rareFields: RareConnectionFields {
        if let rare { return rare }
        let made = RareConnectionFields()
        rare = made
        return made
    }

    /// The status once the connection closed (see `ConnectionHandlers.onClose`), nil before.
    public private(set) var closeStatus: CloseStatus? {
        get { rare?.closeStatus }
        set { if newValue != nil || rare != nil { rareFields.closeStatus = newValue } }
    }

    /// `session` is the connection's session, or nil to make it from `context.sessionRecipe`
    /// on first use.
    init(stream: SocketStream, session: Session?, context: ConnectionContext, subprotocol: String?,
         extensions: [ExtensionOffer], path: String, query: String?, userData: Any?) {
        precondition(session != nil || context.sessionRecipe != nil, "a connection needs a session or a recipe")
        self.stream = stream
        self.madeSession = session.map { Unmanaged.passRetained($0) }
        self.context = context
        self.timeouts = ConnectionTimeouts(context.timeouts.value, now: MonotonicClock.now())
        if let shared = context.sharedPathIndex(path) {
            self.pathIndex = shared
        } else {
            self.pathIndex = WebSocketConnection.ownPath
            rareFields.path = path
        }
        if subprotocol != nil || query != nil {
            let handshakeFacts = rareFields
            handshakeFacts.subprotocol = subprotocol
            handshakeFacts.query = query
        }
        if let userData { self.userData = userData }
        if !extensions.isEmpty { withSession { $0.keepAgreedExtensions(extensions) } }
    }

    deinit {
        madeSession?.release()
    }

    /// Calls `body` with the session, made now if it was not yet, guaranteed alive by this
    /// connection for the call: no retain or release (see `madeSession`).
    @inline(__always)
    private func withSession<Result, Failure: Error>(_ body: (Session) throws(Failure) -> Result) throws(Failure) -> Result {
        if _slowPath(madeSession == nil) { makeSession() }
        do {
            return try madeSession.unsafelyUnwrapped._withUnsafeGuaranteedRef(body)
        } catch {
            // `_withUnsafeGuaranteedRef` rethrows untyped; what it rethrows is `body`'s.
            throw error as! Failure
        }
    }

    /// `body`'s answer about the session, or `fresh` (what a session that has seen nothing
    /// answers) when it is not made yet; like `withSession`, without reference counting.
    @inline(__always)
    private func askSession<Result>(_ body: (Session) -> Result, fresh: Result) -> Result {
        guard let made = madeSession else { return fresh }
        return made._withUnsafeGuaranteedRef(body)
    }

    @inline(never)
    private func makeSession() {
        madeSession = Unmanaged.passRetained(context.sessionRecipe.unsafelyUnwrapped.makeSession())
    }

    /// Takes over the stream: installs the stream handlers, starts the timers, reports `onOpen`,
    /// then feeds `initialBytes` (frames that arrived with the handshake).
    func start(initialBytes: UnsafeMutableRawBufferPointer?) {
        // A stream can be closed already: writing the 101 found the client gone (it reset while
        // a deferred upgrade waited). Its close went to the handshake's handler, so it is
        // reported below, or the connection would stay open forever; and such a stream is not
        // given this connection as its handler, because a closed stream never lets go of its
        // handler (stream and connection would keep each other, with the loop, alive).
        let closedBeforeStart = !stream.isOpen
        // The connection is the stream's handler itself: no closures, no closure contexts.
        if !closedBeforeStart { stream.handler = self }
        rescheduleHousekeeping()
        handlers.onOpen?(self)
        if let initialBytes, initialBytes.count > 0, !finished { receive(initialBytes) }
        if closedBeforeStart { loop.deferCallback { [self] in streamClosed(.reset) } }
    }

    // MARK: State

    /// The peer's address.
    public var remoteAddress: SocketAddress? { stream.remoteAddress }
    /// Our own end's address (nil once the socket is closed).
    public var localAddress: SocketAddress? { stream.localAddress }

    /// Whether the connection runs over TLS (wss://).
    public var isSecure: Bool { stream.isTLS }

    /// The subject of the peer's TLS certificate ("CN=client,O=Example", RFC 2253), when the
    /// server verifies client certificates (`TLSConfiguration.verifyClientCertificates`).
    public var peerCertificateSubject: String? { stream.peerCertificateSubject }

    /// Where the connection is, for every face (C `sws_conn_get_state`, Python `state`): `.open`
    /// while messages flow both ways; `.closing` once the close handshake began (either side) or
    /// a timeout or limit is ending the connection — sends throw `.closed` from then on; `.closed`
    /// once `onClose` was reported. The session's state and the connection's own ending are its
    /// only sources.
    public var state: SessionState {
        if finished { return .closed }
        return askSession({ $0.state }, fresh: .open) == .open && localStatus == nil ? .open : .closing
    }

    /// Whether messages can still be sent (`state == .open`).
    public var isOpen: Bool { state == .open }

    /// Bytes accepted by `send` that the peer has not taken yet.
    public var bufferedAmount: Int { stream.bufferedAmount + askSession({ $0.pendingOutputCount }, fresh: 0) }

    /// Messages and payload bytes each way so far (application bytes: before compression and
    /// framing; a message sent in fragments counts once, when its final fragment goes).
    /// Kept in the session (`Session.counters`), which exists once a byte flows: an idle
    /// connection has none, and all its counts are zero.
    public var counters: ConnectionCounters { askSession({ $0.counters }, fresh: ConnectionCounters()) }

    /// Bytes this connection holds for its peer: received input of unfinished messages plus
    /// output the kernel has not taken (0 once closed).
    public var heldBytes: Int { finished ? 0 : askSession({ $0.bufferedInputCount }, fresh: 0) + stream.backlogCount }

    /// A thread-safe handle to this connection (created on first use, then the same one).
    public var handle: ConnectionHandle {
        if let sharedState { return sharedState }
        let created = ConnectionHandle(connection: self)
        if finished { created.markClosed() }
        sharedState = created
        return created
    }

    // MARK: Receiving

    private func receive(_ bytes: UnsafeMutableRawBufferPointer) {
        if timeouts.tracksReceiveTime(durations: context.timeouts.value) { timeouts.received(now: MonotonicClock.now()) }
        isDelivering = true
        withSession { session in session.receive(bytes) { event in self.deliver(event) } }
        isDelivering = false
        afterReceive()
    }

    /// The session stopped at its inflate budget (a message that inflates to megabytes): stop
    /// reading (what follows waits in the kernel, TCP flow control) and let it resume after the
    /// loop has served the other connections' events, one budget per iteration.
    private func deferRemainingWork() {
        guard !resumeScheduled else { return }
        resumeScheduled = true
        stream.pauseReading()
        // Weak: this path is rare, and the timer may fire after the connection ended.
        loop.schedule(after: .zero) { [weak self] in self?.resumeDeferredWork() }
    }

    private func resumeDeferredWork() {
        resumeScheduled = false
        guard !finished else { return }
        isDelivering = true
        session.resume { event in self.deliver(event) }
        isDelivering = false
        if !session.hasDeferredWork && !readingPausedByApplication { stream.resumeReading() }
        afterReceive()
    }

    /// What follows every step of the session's reading: deferred work, replies, closing,
    /// the unfinished-message timer and the memory budget.
    private func afterReceive() {
        if withSession({ $0.hasDeferredWork }) { deferRemainingWork() }
        if withSession({ $0.pendingOutputCount }) > 0 && repliesOverflowOutputLimit() { return }
        afterSessionActivity()
        // The clock is read only when a message starts or ends, not on every read.
        if context.timeouts.value.messageTimeout != nil && !finished && withSession({ $0.messageTimingIsStale }) {
            let now = MonotonicClock.now()
            withSession { $0.updateOutstandingTimes { $0.messageInProgress(!$0.isTimingMessage, now: now) } }
            rescheduleHousekeeping()
        }
        if context.memoryBudget != nil { countMemory() }
    }

    private func receiveEndOfStream() {
        // The session closes (1006 unless its close handshake was complete); afterSessionActivity
        // closes the stream once what is still buffered for the peer is sent.
        session.receiveEndOfStream { event in self.deliver(event) }
        afterSessionActivity()
    }

    /// What the session queued while reading (pongs answering pings) is output the peer asked
    /// for: it counts against `maxBufferedAmount` like any send. A peer that keeps pinging
    /// without reading the answers is cut (1008, TCP dropped: it is not reading a close frame
    /// either), as `websockets` and uWebSockets do; a reader that keeps up is never affected,
    /// since its backlog is empty.
    private func repliesOverflowOutputLimit() -> Bool {
        guard let limit = context.maxBufferedAmount, session.state == .open, stream.backlogCount > 0,
              stream.bufferedAmount &+ session.pendingOutputCount > limit
        else { return false }
        localStatus = CloseStatus(code: .policyViolation, reason: "send buffer limit exceeded by control frame replies")
        stream.abort()
        return true
    }

    private func deliver(_ event: SessionEvent) {
        // A handler may have aborted the connection while the session still holds events from
        // this read: nobody should hear from a connection after it was dropped.
        guard localStatus == nil || !stream.isClosed else { return }
        switch event {
        case .text(let bytes):
            withSession { $0.countReceived(bytes.count, endsMessage: true) }
            handlers.onMessage?(self, .text, bytes)
        case .binary(let bytes):
            withSession { $0.countReceived(bytes.count, endsMessage: true) }
            handlers.onMessage?(self, .binary, bytes)
        case .fragment(let kind, let bytes, let isFirst, let isFinal):
            withSession { $0.countReceived(bytes.count, endsMessage: isFinal) }
            handlers.onFragment?(self, kind, bytes, isFirst, isFinal)
        case .ping(let bytes):
            handlers.onPing?(self, bytes)
        case .pong(let bytes):
            withSession { $0.updateOutstandingTimes { $0.pongReceived() } }
            handlers.onPong?(self, bytes)
        case .closeReceived:
            // The session queued its answer; afterSessionActivity finishes the close.
            if closeInitiatedLocally == nil { closeInitiatedLocally = false }
        case .failed(let error):
            // The session queued the close frame (unless 1006); we close the transport.
            if closeInitiatedLocally == nil, error.closeCode != .abnormalClosure { closeInitiatedLocally = true }
        }
    }

    /// Writes what the session produced and closes the transport when the session is done.
    /// Once the session is no longer open, the close deadline runs (whoever began the close);
    /// once it is done, the side that closes first does so with a lingering close (close frame,
    /// FIN, input drained and discarded, bounded by the close timeout), so that the close frame
    /// reaches a peer that is still sending instead of being destroyed by an RST.
    private func afterSessionActivity() {
        flushSessionOutput()
        guard withSession({ $0.state }) != .open, !finished else { return }
        markClosing()
        guard withSession({ $0.shouldCloseTransport }), stream.isOpen else { return }
        if withSession({ $0.closesTransportFirst }) {
            closeTransportLingering()
        }
        // Otherwise (a client after a clean close handshake, RFC 6455 section 7.1.1) the server
        // closes TCP first; the close deadline aborts if it does not.
    }

    /// Hands the socket to its lingering close and ends the connection for the application at
    /// the end of this iteration: the WebSocket is closed; the socket drains on its own (what the
    /// peer still sends is discarded), bounded by the close timeout.
    private func closeTransportLingering() {
        guard !releasedTransport else { return }
        releasedTransport = true
        stream.closeLingering(timeout: closeTimeout)
        loop.deferCallback { [self] in streamClosed(.local) }
    }

    /// The close handshake began (either side) or the connection failed: arm the close deadline.
    private func markClosing() {
        guard !timeouts.isClosing else { return }
        var durations = context.timeouts.value
        durations.closeTimeout = closeTimeoutNanoseconds
        timeouts.closingStarted(now: MonotonicClock.now(), durations: durations)
        rescheduleHousekeeping()
    }

    private func flushSessionOutput() {
        withSession { session in
            let count = session.pendingOutputCount
            guard count > 0 else { return }
            session.withPendingOutput { bytes in _ = stream.write(bytes) }
            session.consumeOutput(count)
        }
    }

    /// Stops reading from the peer: its messages wait in the kernel and then in the peer's
    /// send buffer (TCP flow control), so a consumer that falls behind costs no memory here.
    /// Timers keep running; a long pause can trip `idleTimeout`.
    public func pauseReading() {
        guard !finished else { return }
        readingPausedByApplication = true
        stream.pauseReading()
    }

    /// Resumes reading after `pauseReading()`.
    public func resumeReading() {
        guard !finished else { return }
        readingPausedByApplication = false
        // Work left over from the last read goes first; reading resumes when it is done.
        if !resumeScheduled { stream.resumeReading() }
    }

    // MARK: Sending

    // Every send says what happened in one way, the same in every face: it throws a
    // `SessionError` when the message is refused (the connection is closing or closed: `.closed`;
    // invalid: text that is not UTF-8, a control payload over 125 bytes, a fragment of the wrong
    // kind), and returns `.sent`, `.buffered` or `.dropped` when it was valid — `.dropped` meaning
    // only that `maxBufferedAmount` applied. The rules are the session's: nothing is checked twice
    // (text bytes are validated once, by the session; a `String` is UTF-8 already).

    /// Sends a whole text message.
    @discardableResult
    public func send(text: String) throws(SessionError) -> SendResult {
        guard try admit(text.utf8.count) else { return .dropped }
        try withSession { session throws(SessionError) in try session.send(text: text) }
        withSession { $0.countSent(text.utf8.count, endsMessage: true) }
        return afterSend()
    }

    /// Sends a whole binary message.
    @discardableResult
    public func send(binary: [UInt8]) throws(SessionError) -> SendResult {
        // (withUnsafeBytes rethrows untyped errors: the typed error travels in a Result.)
        try binary.withUnsafeBytes { bytes in Result { () throws(SessionError) in try send(.binary, bytes) } }.get()
    }

    /// Sends a whole message of `kind` (text is checked to be UTF-8: `.invalidUTF8`).
    @discardableResult
    public func send(_ kind: MessageKind, _ bytes: UnsafeRawBufferPointer) throws(SessionError) -> SendResult {
        guard try admit(bytes.count) else { return .dropped }
        // The payload goes from the caller's buffer to the stream with its header, not through
        // the session's output: a small one into the loop's cork, a large one to the socket in
        // one writev (the stream copies only what the kernel does not take).
        try withSession { session throws(SessionError) in
            try session.send(kind, bytes) { header, payload in _ = stream.write(header, payload) }
        }
        withSession { $0.countSent(bytes.count, endsMessage: true) }
        return afterSend()
    }

    /// Sends one fragment of a message (streaming): the first call starts a message of `kind`,
    /// the one with `isFinal` ends it. Control frames may go out in between. Text may split a
    /// character between fragments; the whole must be UTF-8.
    @discardableResult
    public func sendFragment(_ kind: MessageKind, _ bytes: UnsafeRawBufferPointer, isFinal: Bool) throws(SessionError) -> SendResult {
        guard try admit(bytes.count) else { return .dropped }
        try withSession { session throws(SessionError) in try session.sendFragment(kind, bytes, isFinal: isFinal) }
        withSession { $0.countSent(bytes.count, endsMessage: isFinal) }
        return afterSend()
    }

    /// Sends a frame built once for many receivers (`FrameEncoder.serverFrame`); server only.
    func sendEncodedFrame(_ frame: UnsafeRawBufferPointer, payloadCount: Int) throws(SessionError) -> SendResult {
        guard try admit(frame.count) else { return .dropped }
        try withSession { session throws(SessionError) in try session.sendEncodedFrame(frame) }
        withSession { $0.countSent(payloadCount, endsMessage: true) }
        return afterSend()
    }

    /// Sends a ping (payload at most 125 bytes: `.controlPayloadTooLong`).
    @discardableResult
    public func ping(_ payload: [UInt8] = []) throws(SessionError) -> SendResult {
        guard try admit(payload.count) else { return .dropped }
        try payload.withUnsafeBytes { bytes in Result { () throws(SessionError) in try session.ping(bytes) } }.get()
        return afterSend()
    }

    /// Sends an unsolicited pong, a one-way heartbeat (RFC 6455 section 5.5.3; payload at most
    /// 125 bytes).
    @discardableResult
    public func pong(_ payload: [UInt8] = []) throws(SessionError) -> SendResult {
        guard try admit(payload.count) else { return .dropped }
        try payload.withUnsafeBytes { bytes in Result { () throws(SessionError) in try session.pong(bytes) } }.get()
        return afterSend()
    }

    /// Starts the close handshake with `code` and `reason` (at most 123 bytes of UTF-8).
    /// Messages that arrive until the peer answers are still delivered; the connection closes
    /// when it answers, or after `closeTimeout`.
    public func close(code: CloseCode = .normalClosure, reason: String = "") {
        guard !finished, askSession({ $0.state }, fresh: .open) == .open else { return }
        closeInitiatedLocally = true
        do throws(SessionError) {
            try session.close(code: code, reason: reason)
        } catch {
            // An invalid code or reason from the application: close with 1000 instead of not at all.
            try? session.close(code: .normalClosure, reason: "")
        }
        flushSessionOutput()
        markClosing()
        if !isDelivering { afterSessionActivity() }
    }

    /// Drops the TCP connection at once without a close handshake (status 1006).
    public func abort() {
        guard !finished else { return }
        if localStatus == nil { localStatus = CloseStatus(code: .abnormalClosure, reason: "aborted") }
        stream.abort()
    }

    /// Applies `maxBufferedAmount` before a send of `count` bytes.
    private func admit(_ count: Int) throws(SessionError) -> Bool {
        guard isOpen else { throw .closed }
        guard let limit = context.maxBufferedAmount, bufferedAmount + count > limit else { return true }
        // One message larger than the whole limit, on an empty buffer, still goes through:
        // the limit is about readers falling behind, not about message size.
        if bufferedAmount == 0 { return true }
        if context.backpressurePolicy == .close {
            localStatus = CloseStatus(code: .policyViolation, reason: "send buffer limit exceeded")
            stream.abort()
        }
        return false
    }

    private func afterSend() -> SendResult {
        flushSessionOutput()
        guard stream.backlogCount > 0 else { return .sent }
        if context.memoryBudget != nil {
            countMemory()
            if finished || localStatus != nil { return .dropped }
        }
        return .buffered
    }

    // MARK: Memory budget

    /// Brings this connection's share of the server-wide memory budget up to date. The
    /// connection whose growth takes the server past the budget is the one closed: growth of
    /// input (an unfinished message) fails it with 1013 (try again later: the server is short of
    /// memory, not the peer at fault); growth of output (a reader falling behind) drops it with
    /// 1008 as the `.close` backpressure policy does. Output counts the backlog the kernel
    /// refused, until it has been sent completely.
    private func countMemory() {
        guard let budget = context.memoryBudget else { return }
        let input = finished ? 0 : askSession({ $0.bufferedInputCount }, fresh: 0)
        let output = finished ? 0 : stream.backlogCount
        let countedInput = rare?.countedInput ?? 0, countedOutput = rare?.countedOutput ?? 0
        guard input != countedInput || output != countedOutput else { return }
        let grewInput = input > countedInput
        let grewOutput = output > countedOutput
        budget.used += (input &- countedInput) &+ (output &- countedOutput)
        let fields = rareFields
        fields.countedInput = input
        fields.countedOutput = output
        if fields.isUnused { rare = nil }
        guard budget.used > budget.limit, !finished else { return }
        if grewInput {
            session.abandon(code: .tryAgainLater, reason: "server memory budget exceeded")
            afterSessionActivity()
            countMemory()
        } else if grewOutput {
            localStatus = CloseStatus(code: .policyViolation, reason: "server memory budget exceeded")
            stream.abort()
        }
    }

    // MARK: Timers

    /// One timer per connection, at the time policy's next deadline. Receiving does not touch
    /// it (no heap operation per message): when it fires it asks the policy and re-arms.
    private func rescheduleHousekeeping() {
        guard !finished else { return }
        let outstanding = askSession({ $0.outstandingTimes }, fresh: ConnectionTimeouts.Outstanding())
        let deadline = timeouts.nextDeadline(durations: context.timeouts.value, outstanding: outstanding)
        guard deadline != housekeeping?.deadline ?? .max else { return }
        if let housekeeping { loop.cancel(housekeeping) }
        housekeeping = nil
        guard deadline != .max else { return }
        // Unowned, not weak: a weak reference gives the connection a side table, which sends
        // every retain and release of it (several per message) down the runtime's slow path.
        // The timer never outlives the connection: `streamClosed` (which always runs before the
        // stream's closure lets the connection go) and `EventLoop.close` cancel it.
        housekeeping = loop.schedule(atDeadline: deadline) { [unowned self] in
            self.housekeeping = nil
            self.runHousekeeping()
        }
    }

    /// Carries out what the time policy says is due, then sleeps until its next deadline.
    private func runHousekeeping() {
        let now = MonotonicClock.now()
        while !finished {
            // The session keeps the outstanding times (a `.sendPing` sets the pong's deadline
            // there). A connection whose timer fires without a session gets it made here, which
            // what is due would do anyway: a ping or a close frame to send (a closing connection
            // has its session already).
            let action = withSession { session in
                session.updateOutstandingTimes { timeouts.nextAction(now: now, durations: context.timeouts.value, outstanding: &$0) }
            }
            switch action {
            case .wait:
                return rescheduleHousekeeping()
            case .sendPing:
                // The send time (CLOCK_MONOTONIC ns, big-endian): whoever sees the pong (a
                // binding's on_pong) can tell the round trip without keeping state.
                var payload = now.bigEndian
                _ = withUnsafeBytes(of: &payload) { try? session.ping($0) }
                flushSessionOutput()
            case .close(let code, let reason):
                closeForTimeout(code: code, reason: reason)
            case .abort:
                // The close handshake did not finish in time. (`finished` is set when the
                // stream's close notification runs, at the end of the iteration.)
                closeTimedOut = true
                return stream.abort()
            }
        }
    }

    /// A timeout ends the connection: a close frame if the session can still send one, then a
    /// lingering close of the TCP connection at once (a peer that stopped answering will not
    /// complete a handshake; one that is still reading gets the close frame).
    private func closeForTimeout(code: CloseCode, reason: String) {
        endWithCloseFrame(code: code, reason: reason, status: CloseStatus(code: code, reason: reason))
    }

    /// Fails the connection (RFC 6455 section 7.1.7): sends a close frame with `code` and
    /// `reason` (if the closing handshake has not begun), then closes TCP at once -- a lingering
    /// close bounded by `closeTimeout` -- without waiting for the peer's answer, which is
    /// discarded. `onClose` reports 1006 (no close frame was received), as websockets does when
    /// it fails a connection (closing during a fragmented send). For an application that cannot
    /// go on (it cannot finish the message it was sending); `close` is the orderly way.
    public func fail(code: CloseCode, reason: String) {
        guard !finished, !releasedTransport else { return }
        endWithCloseFrame(code: code, reason: reason, status: CloseStatus(code: .abnormalClosure, reason: ""))
    }

    /// A close frame if the session can still send one, then a lingering close of the TCP
    /// connection at once; `onClose` reports `status`.
    private func endWithCloseFrame(code: CloseCode, reason: String, status: CloseStatus) {
        if askSession({ $0.state }, fresh: .open) == .open {
            closeInitiatedLocally = true
            try? session.close(code: code, reason: reason)
        }
        flushSessionOutput()
        if localStatus == nil { localStatus = status }
        closeTransportLingering()
    }

    // MARK: Closing

    /// The stream closed (its handler call, or our own after a handed-over lingering close).
    package func streamClosed(_ reason: StreamCloseReason) {
        guard !finished else { return }
        finished = true
        if let housekeeping { loop.cancel(housekeeping) }
        housekeeping = nil
        if context.memoryBudget != nil { countMemory() }
        let status = localStatus ?? askSession({ $0.closeStatus }, fresh: nil)
            ?? CloseStatus(code: .abnormalClosure, reason: reason == .reset ? "connection reset" : "connection closed")
        closeStatus = status
        if let log = context.log {
            let normal = [CloseCode.normalClosure, .goingAway, .noStatusReceived].contains(status.code)
            log(normal ? .info : .warning, "connection closed (\(status.code.rawValue)\(status.reason.isEmpty ? "" : " \(status.reason)"))")
        }
        sharedState?.markClosed()
        server?.connectionClosed(self)
        handlers.onClose?(self, status)
        userData = nil
        bindingObject = nil
    }
}

/// The stream reports straight to its connection (see `SocketStream.handler`).
extension WebSocketConnection: SocketStreamHandler {
    package func streamRead(_ bytes: UnsafeMutableRawBufferPointer) { receive(bytes) }
    package var handlesEndOfInput: Bool { true }
    package func streamEndedInput() { receiveEndOfStream() }
    package var wantsDrain: Bool { true }
    package func streamDrained() {
        guard !finished else { return }
        countMemory()
        handlers.onDrain?(self)
    }
    package var wantsClose: Bool { true }
}

/// See `WebSocketConnection.flags`.
private struct ConnectionFlags: OptionSet {
    let rawValue: UInt8
    static let releasedTransport = ConnectionFlags(rawValue: 1 << 0)
    static let readingPausedByApplication = ConnectionFlags(rawValue: 1 << 1)
    static let resumeScheduled = ConnectionFlags(rawValue: 1 << 2)
    static let finished = ConnectionFlags(rawValue: 1 << 3)
    static let closeTimedOut = ConnectionFlags(rawValue: 1 << 4)
    /// `closeInitiatedLocally` is not nil; its value is the next bit.
    static let closeInitiatedSet = ConnectionFlags(rawValue: 1 << 5)
    static let closeInitiatedLocally = ConnectionFlags(rawValue: 1 << 6)

    /// Sets or clears `flag`.
    mutating func set(_ flag: ConnectionFlags, _ value: Bool) {
        if value { insert(flag) } else { remove(flag) }
    }
}

/// See `WebSocketConnection.rare`.
private final class RareConnectionFields {
    var userData: Any?
    var topics: Set<String>?
    var localStatus: CloseStatus?
    var sharedState: ConnectionHandle?
    var closeStatus: CloseStatus?
    /// `WebSocketConnection.closeTimeout` when a program set it (nanoseconds); nil: the options'.
    var closeTimeout: UInt64?
    /// Set once, in the connection's `init`; see the connection's properties of these names.
    var subprotocol: String?
    var query: String?
    /// The connection's path when its context's shared paths were full (see
    /// `WebSocketConnection.pathIndex`).
    var path: String?
    var peerHandshakeHeaders = HTTPHeaders()
    /// What the connection has counted against its server's memory budget
    /// (`ConnectionContext.memoryBudget`): input held for unfinished messages, output the kernel
    /// refused. Here, not inline (16 bytes per idle connection, issue 16): they are not zero only
    /// while a budgeted connection holds bytes, and the connection lets the object go when they
    /// return to zero and nothing else is set.
    var countedInput = 0
    var countedOutput = 0

    /// Whether every field is at its initial value, so that the connection can let the object go.
    var isUnused: Bool {
        userData == nil && topics == nil && localStatus == nil && sharedState == nil && closeStatus == nil
            && closeTimeout == nil
            && subprotocol == nil && query == nil && path == nil && peerHandshakeHeaders.count == 0
            && countedInput == 0 && countedOutput == 0
    }
}
