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
    public let loop: EventLoop
    /// Server or client.
    public var role: Role { session.configuration.role }
    /// The subprotocol agreed in the handshake, if any.
    public let subprotocol: String?
    /// The extensions agreed in the handshake (the permessage-deflate response element, if any).
    public let extensions: [ExtensionOffer]
    /// The handshake request's path ("/chat") on the server side; the requested path on a client.
    public let path: String
    /// The query string (without "?"), if any.
    public let query: String?
    /// Whatever the application attaches (the upgrade hook may set it).
    public var userData: Any?
    /// A binding's own per-connection object (the C API's connection box), cleared with
    /// `userData` after `onClose`. Typed as a class reference so that finding it on the
    /// per-message path is a cheap class check, not the dynamic cast an `Any` needs.
    public var bindingObject: AnyObject?

    let stream: SocketStream
    let session: Session
    /// The negotiated permessage-deflate codec (the session's), nil without compression.
    let compression: PerMessageDeflate?
    let options: ConnectionOptions
    /// The callbacks; shared with the other connections of a server.
    public let handlers: ConnectionHandlers

    /// The server the connection belongs to and its position in the server's list.
    weak var server: WebSocketServer?
    var serverIndex = -1
    /// Topics this connection is subscribed to (nil until the first subscription).
    var topics: Set<String>?

    private var lastReceive: UInt64 = 0
    private var nextPingAt: UInt64 = .max
    private var pongDeadline: UInt64 = .max
    private var closeDeadline: UInt64 = .max
    private var idleNanoseconds: UInt64 = 0
    private var housekeeping: TimerHandle?
    private var housekeepingDeadline: UInt64 = .max
    private var isDelivering = false
    /// Set when we end the connection ourselves without the session knowing (timeouts, limits).
    private var localStatus: CloseStatus?
    private var finished = false
    private var sharedState: ConnectionHandle?

    /// The status once the connection closed (see `ConnectionHandlers.onClose`), nil before.
    public private(set) var closeStatus: CloseStatus?

    init(stream: SocketStream, session: Session, compression: PerMessageDeflate?, options: ConnectionOptions,
         handlers: ConnectionHandlers, subprotocol: String?, extensions: [ExtensionOffer], path: String,
         query: String?, userData: Any?) {
        self.loop = stream.loop
        self.stream = stream
        self.session = session
        self.compression = compression
        self.options = options
        self.handlers = handlers
        self.subprotocol = subprotocol
        self.extensions = extensions
        self.path = path
        self.query = query
        self.userData = userData
    }

    /// Takes over the stream: installs the stream handlers, starts the timers, reports `onOpen`,
    /// then feeds `initialBytes` (frames that arrived with the handshake).
    func start(initialBytes: UnsafeMutableRawBufferPointer?) {
        stream.onRead = { [unowned self] bytes in self.receive(bytes) }
        stream.onEndOfInput = { [unowned self] in self.receiveEndOfStream() }
        stream.onDrain = { [unowned self] in
            if !self.finished { self.handlers.onDrain?(self) }
        }
        stream.onClose = { [self] reason in self.streamClosed(reason) }
        let now = MonotonicClock.now()
        lastReceive = now
        if let idle = options.idleTimeout { idleNanoseconds = idle.clampedNanoseconds }
        if let interval = options.pingInterval { nextPingAt = now.saturatingAdd(interval.clampedNanoseconds) }
        rescheduleHousekeeping()
        handlers.onOpen?(self)
        if let initialBytes, initialBytes.count > 0, !finished { receive(initialBytes) }
    }

    // MARK: State

    /// The peer's address.
    public var remoteAddress: SocketAddress? { stream.remoteAddress }

    /// Whether messages can still be sent (the close handshake has not begun).
    public var isOpen: Bool { session.state == .open && !finished && localStatus == nil }

    /// Bytes accepted by `send` that the peer has not taken yet.
    public var bufferedAmount: Int { stream.bufferedAmount + session.pendingOutputCount }

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
        if idleNanoseconds > 0 { lastReceive = MonotonicClock.now() }
        isDelivering = true
        session.receive(bytes) { event in self.deliver(event) }
        isDelivering = false
        afterSessionActivity()
    }

    private func receiveEndOfStream() {
        session.receiveEndOfStream { event in self.deliver(event) }
        afterSessionActivity()
        // The session is closed now: nothing more to read and nothing to answer.
        stream.close()
    }

    private func deliver(_ event: SessionEvent) {
        // A handler may have aborted the connection while the session still holds events from
        // this read: nobody should hear from a connection after it was dropped.
        guard localStatus == nil || !stream.isClosed else { return }
        switch event {
        case .text(let bytes):
            handlers.onMessage?(self, .text, bytes)
        case .binary(let bytes):
            handlers.onMessage?(self, .binary, bytes)
        case .fragment(let kind, let bytes, let isFirst, let isFinal):
            handlers.onFragment?(self, kind, bytes, isFirst, isFinal)
        case .ping(let bytes):
            handlers.onPing?(self, bytes)
        case .pong(let bytes):
            pongDeadline = .max
            handlers.onPong?(self, bytes)
        case .closeReceived:
            break  // the session queued its answer; afterSessionActivity finishes the close
        case .failed:
            break  // the session queued the close frame (unless 1006); we close the transport
        }
    }

    /// Writes what the session produced and closes the transport when the session is done.
    private func afterSessionActivity() {
        flushSessionOutput()
        guard session.shouldCloseTransport, stream.isOpen else { return }
        if session.closesTransportFirst {
            stream.close()
        } else {
            // RFC 6455 section 7.1.1: the client waits for the server to close TCP first, but
            // not forever.
            armCloseDeadline()
        }
    }

    private func flushSessionOutput() {
        let count = session.pendingOutputCount
        guard count > 0 else { return }
        session.withPendingOutput { bytes in _ = stream.write(bytes) }
        session.consumeOutput(count)
    }

    /// Stops reading from the peer: its messages wait in the kernel and then in the peer's
    /// send buffer (TCP flow control), so a consumer that falls behind costs no memory here.
    /// Timers keep running; a long pause can trip `idleTimeout`.
    public func pauseReading() {
        guard !finished else { return }
        stream.pauseReading()
    }

    /// Resumes reading after `pauseReading()`.
    public func resumeReading() {
        guard !finished else { return }
        stream.resumeReading()
    }

    // MARK: Sending

    /// Sends a whole text message.
    @discardableResult
    public func send(text: String) -> SendResult {
        var text = text
        return text.withUTF8 { send(.text, UnsafeRawBufferPointer($0)) }
    }

    /// Sends a whole binary message.
    @discardableResult
    public func send(binary: [UInt8]) -> SendResult {
        binary.withUnsafeBytes { send(.binary, $0) }
    }

    /// Sends a whole message of `kind` (text must be UTF-8).
    @discardableResult
    public func send(_ kind: MessageKind, _ bytes: UnsafeRawBufferPointer) -> SendResult {
        guard admit(bytes.count) else { return .dropped }
        do throws(SessionError) {
            switch kind {
            case .text: try session.send(text: bytes)
            case .binary: try session.send(binary: bytes)
            }
        } catch {
            return .dropped
        }
        return afterSend()
    }

    /// Sends one fragment of a message (streaming): the first call starts a message of `kind`,
    /// the one with `isFinal` ends it. Control frames may go out in between.
    @discardableResult
    public func sendFragment(_ kind: MessageKind, _ bytes: UnsafeRawBufferPointer, isFinal: Bool) -> SendResult {
        guard admit(bytes.count) else { return .dropped }
        do throws(SessionError) {
            try session.sendFragment(kind, bytes, isFinal: isFinal)
        } catch {
            return .dropped
        }
        return afterSend()
    }

    /// Sends a frame built once for many receivers (`FrameEncoder.serverFrame`); server only.
    func sendEncodedFrame(_ frame: UnsafeRawBufferPointer) -> SendResult {
        guard admit(frame.count) else { return .dropped }
        do throws(SessionError) {
            try session.sendEncodedFrame(frame)
        } catch {
            return .dropped
        }
        return afterSend()
    }

    /// Sends a ping (payload at most 125 bytes).
    @discardableResult
    public func ping(_ payload: [UInt8] = []) -> SendResult {
        guard isOpen else { return .dropped }
        let accepted = payload.withUnsafeBytes { bytes -> Bool in
            do throws(SessionError) {
                try session.ping(bytes)
                return true
            } catch {
                return false
            }
        }
        return accepted ? afterSend() : .dropped
    }

    /// Starts the close handshake with `code` and `reason` (at most 123 bytes of UTF-8).
    /// Messages that arrive until the peer answers are still delivered; the connection closes
    /// when it answers, or after `closeTimeout`.
    public func close(code: CloseCode = .normalClosure, reason: String = "") {
        guard !finished, session.state == .open else { return }
        do throws(SessionError) {
            try session.close(code: code, reason: reason)
        } catch {
            // An invalid code or reason from the application: close with 1000 instead of not at all.
            try? session.close(code: .normalClosure, reason: "")
        }
        flushSessionOutput()
        armCloseDeadline()
        if !isDelivering { afterSessionActivity() }
    }

    /// Drops the TCP connection at once without a close handshake (status 1006).
    public func abort() {
        guard !finished else { return }
        if localStatus == nil { localStatus = CloseStatus(code: .abnormalClosure, reason: "aborted") }
        stream.abort()
    }

    /// Applies `maxBufferedAmount` before a send of `count` bytes.
    private func admit(_ count: Int) -> Bool {
        guard isOpen else { return false }
        guard let limit = options.maxBufferedAmount, bufferedAmount + count > limit else { return true }
        // One message larger than the whole limit, on an empty buffer, still goes through:
        // the limit is about readers falling behind, not about message size.
        if bufferedAmount == 0 { return true }
        if options.backpressurePolicy == .close {
            localStatus = CloseStatus(code: .policyViolation, reason: "send buffer limit exceeded")
            stream.abort()
        }
        return false
    }

    private func afterSend() -> SendResult {
        flushSessionOutput()
        return stream.backlogCount > 0 ? .buffered : .sent
    }

    // MARK: Timers

    private func armCloseDeadline() {
        guard closeDeadline == .max else { return }
        closeDeadline = MonotonicClock.now().saturatingAdd(options.closeTimeout.clampedNanoseconds)
        rescheduleHousekeeping()
    }

    /// One timer per connection, at the earliest of its deadlines. Receiving does not touch it
    /// (no heap operation per message): when it fires it looks at the clock and re-arms.
    private func rescheduleHousekeeping() {
        guard !finished else { return }
        var deadline = min(nextPingAt, pongDeadline, closeDeadline)
        if idleNanoseconds > 0, session.state == .open { deadline = min(deadline, lastReceive.saturatingAdd(idleNanoseconds)) }
        guard deadline != housekeepingDeadline else { return }
        if let housekeeping { loop.cancel(housekeeping) }
        housekeeping = nil
        housekeepingDeadline = deadline
        guard deadline != .max else { return }
        let now = MonotonicClock.now()
        let delay = deadline > now ? deadline - now : 0
        // Unowned, not weak: a weak reference gives the connection a side table, which sends
        // every retain and release of it (several per message) down the runtime's slow path.
        // The timer never outlives the connection: `streamClosed` (which always runs before the
        // stream's closure lets the connection go) and `EventLoop.close` cancel it.
        housekeeping = loop.schedule(after: .nanoseconds(Int64(clamping: delay))) { [unowned self] in
            self.housekeeping = nil
            self.housekeepingDeadline = .max
            self.runHousekeeping()
        }
    }

    private func runHousekeeping() {
        guard !finished else { return }
        let now = MonotonicClock.now()
        if now >= closeDeadline {
            // The peer did not finish the close handshake in time.
            stream.abort()
            return
        }
        if now >= pongDeadline {
            closeForTimeout(code: .internalError, reason: "keepalive ping timeout")
            return
        }
        if idleNanoseconds > 0, session.state == .open, now >= lastReceive.saturatingAdd(idleNanoseconds) {
            closeForTimeout(code: .goingAway, reason: "idle timeout")
            return
        }
        if now >= nextPingAt, session.state == .open {
            var payload = UInt32(truncatingIfNeeded: now / 1_000_000).bigEndian
            _ = withUnsafeBytes(of: &payload) { try? session.ping($0) }
            flushSessionOutput()
            if pongDeadline == .max { pongDeadline = now.saturatingAdd(options.pongTimeout.clampedNanoseconds) }
            nextPingAt = options.pingInterval.map { now.saturatingAdd($0.clampedNanoseconds) } ?? .max
        }
        rescheduleHousekeeping()
    }

    /// A timeout ends the connection: a close frame if the session can still send one, then the
    /// TCP connection at once (a peer that stopped answering will not complete a handshake).
    private func closeForTimeout(code: CloseCode, reason: String) {
        if session.state == .open { try? session.close(code: code, reason: reason) }
        flushSessionOutput()
        localStatus = CloseStatus(code: code, reason: reason)
        stream.close()
        // A graceful close waits for the backlog; a peer that does not read gets the abort.
        armCloseDeadline()
    }

    // MARK: Closing

    private func streamClosed(_ reason: StreamCloseReason) {
        guard !finished else { return }
        finished = true
        if let housekeeping { loop.cancel(housekeeping) }
        housekeeping = nil
        let status = localStatus ?? session.closeStatus
            ?? CloseStatus(code: .abnormalClosure, reason: reason == .reset ? "connection reset" : "connection closed")
        closeStatus = status
        sharedState?.markClosed()
        server?.connectionClosed(self)
        handlers.onClose?(self, status)
        userData = nil
        bindingObject = nil
    }
}
