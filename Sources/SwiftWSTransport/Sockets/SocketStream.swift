// Sockets/: non-blocking sockets on the event loop: streams with their write backlog, listeners,
// connect attempts, name resolution, addresses and socket options.
import Glibc
import CSwiftWSSystem

/// Why a stream closed, as given to its close handler.
public enum StreamCloseReason: Hashable, Sendable {
    /// `close()` or `abort()` was called on this side.
    case local
    /// The peer closed its side (end of stream) and the stream then closed.
    case peerClosed
    /// The peer reset the connection (`ECONNRESET`, `EPIPE`): data may have been lost.
    case reset
    /// Another socket error (`errno`).
    case error(errno: Int32)
    /// The loop was closed.
    case loopClosed
}

/// A connected, non-blocking stream socket (TCP or Unix) on an event loop. Loop-thread only.
///
/// **Reading.** Each time the socket is readable the stream reads once into the loop's shared
/// receive buffer and calls `onRead` with a borrowed, mutable view of the bytes (valid only
/// during the call; the WebSocket layer unmasks in place). At end of stream it calls
/// `onEndOfInput` if set (half-close: the stream may still write, then `close()`), and otherwise
/// sends what it still has and closes.
///
/// **Writing.** `write` never blocks and never drops: bytes are corked for the iteration (see
/// `EventLoop`), sent once, and what the kernel does not take waits in the stream's backlog
/// (`bufferedAmount`) until the socket is writable again; `onDrain` runs when it empties. Limits
/// on the backlog are the caller's policy (the WebSocket connection drops or closes).
///
/// **Closing.** `onClose` runs exactly once, at the end of the loop iteration in which the
/// stream closed (never inside a call to `write` or `close`); after that the handlers are
/// released, which breaks reference cycles through their captures. Every way of closing is
/// bounded in time: `closeLingering(timeout:)` (what servers use) sends what is buffered, then a
/// FIN, discards what the peer still sends until its FIN, and resets the connection when the
/// timeout passes first; `close()` with a backlog resets it after `defaultCloseTimeout`.
///
/// **TLS.** After `startTLS(_:)` the same stream speaks TLS (wss): the handshake runs inside the
/// loop on the socket's events, `onRead` sees plaintext only, writes made before the handshake
/// ends wait in the backlog, and every graceful close sends close_notify before the FIN. The
/// TLS state is an optional final class (`tls`), not a protocol: a plain stream pays one nil
/// check per read and per backlog flush, no existential and no indirect call (see
/// `SocketStream+TLS.swift`).
public final class SocketStream {
    enum State {
        case open
        /// `close()` was called with a backlog: close once it is sent.
        case closingAfterFlush(StreamCloseReason)
        case closed
    }

    /// What happens to what the peer sends.
    enum Input {
        /// Read and handed to `onRead`.
        case reading
        /// Not read (`pauseReading`): backpressure, the kernel's receive window fills.
        case paused
        /// Read and discarded until the peer's FIN (`closeLingering`); pausing no longer applies.
        case discardingUntilEnd
        /// The peer ended its output (a FIN or TLS close_notify): nothing more to read.
        case ended

        /// Whether the socket's readability is watched.
        var wantsReadEvents: Bool { self == .reading || self == .discardingUntilEnd }
    }

    /// What happens to what we write.
    enum Output {
        /// Writes are accepted.
        case open
        /// `shutdownOutput()` came with a backlog: the FIN follows once it is sent.
        case shutdownAfterFlush
        /// Our FIN is sent (`shutdown(SHUT_WR)`): nothing more can be written.
        case shut
    }

    // The stored properties are declared in the order they are laid out (Swift keeps the
    // declaration order): the four pointers, then the peer's 23-byte address, whose last word
    // has one byte left (`eventsAndHandlerKind`), then the 4-byte and 1-byte fields. That packs the
    // stream into 72 bytes after its header (88 with it), one malloc size class below 104
    // (issue 16); `IdleFootprintTests` fails if a field breaks the packing.

    /// The loop the stream belongs to.
    public let loop: EventLoop
    /// Output the kernel refused, in order. `@exclusivity(unchecked)`: read on every write and
    /// by `bufferedAmount` (several times per message), and Swift cannot prove statically that
    /// accesses to a class's stored property do not overlap, so each one paid a run-time check
    /// (about 100 instructions, callgrind); the stream is confined to its loop thread and no
    /// access stays open across a callback.
    @exclusivity(unchecked) var backlog = ByteQueue()
    /// What only some streams need (TLS, a graceful close under way), in one object made when
    /// the first is set: a plain stream that is not closing carries one nil pointer instead of
    /// two, which (with the compact peer address) takes it down a malloc size class (issue 16).
    /// `@exclusivity(unchecked)`: read on every read and write through `tls` (see `backlog`).
    @exclusivity(unchecked) private var extras: StreamExtras?
    private var madeExtras: StreamExtras {
        if let extras { return extras }
        let made = StreamExtras()
        extras = made
        return made
    }
    /// The object behind `extras` if it was made: what `IdleFootprintTests` counts.
    var extrasIfMade: AnyObject? { extras }
    /// Resets the connection when a graceful close has not finished in time.
    private var closeTimer: TimerHandle? {
        get { extras?.closeTimer }
        set { if newValue != nil || extras != nil { madeExtras.closeTimer = newValue } }
    }
    /// The TLS state, nil for a plain stream.
    var tls: TLSChannel? {
        get { extras?.tls }
        set { if newValue != nil || extras != nil { madeExtras.tls = newValue } }
    }
    /// The handler object (see `handler`): one pointer, its type's dispatch found through
    /// `handlerKind`. `@exclusivity(unchecked)`: read on every read (see `backlog`); each access
    /// is a copy of the reference, never open across the handler's call.
    @exclusivity(unchecked) private var handlerObject: AnyObject?
    /// The peer's address (see `remoteAddress`).
    private let storedRemoteAddress: CompactSocketAddress?
    /// The epoll events asked for (`EPOLLIN` 1 and `EPOLLOUT` 4, the only two ever asked, in
    /// their own bits) and the handler's kind (bits 3-7): one byte, the last of the address's
    /// word. Two bytes would take the stream past 88 bytes, a malloc size class up (issue 16).
    /// `@exclusivity(unchecked)`: read with `handlerObject` on every read.
    @exclusivity(unchecked) private var eventsAndHandlerKind: UInt8 = 0
    private static let eventBits = UInt8(EPOLLIN.rawValue | EPOLLOUT.rawValue)
    /// The epoll events asked for (see `eventsAndHandlerKind`).
    private var watchedEvents: UInt32 {
        get { UInt32(eventsAndHandlerKind & SocketStream.eventBits) }
        set {
            assert(newValue & ~UInt32(SocketStream.eventBits) == 0, "an epoll event a stream never asks for")
            eventsAndHandlerKind = eventsAndHandlerKind & ~SocketStream.eventBits | UInt8(truncatingIfNeeded: newValue)
        }
    }
    /// The index of `handlerObject`'s type in the loop's table (`EventLoop.streamHandlerKinds`,
    /// below `EventLoop.maxStreamHandlerKinds`; 0 is `StreamClosures`).
    private var handlerKind: UInt8 {
        get { eventsAndHandlerKind >> 3 }
        set { eventsAndHandlerKind = eventsAndHandlerKind & 7 | newValue << 3 }
    }
    let fd: Int32
    /// The stream's slot in its loop's registry (`EventLoop.register`), 32 bits like `fd`.
    private var slot: Int32 = -1
    var state = State.open
    /// What happens to what the peer sends (one owner: pause, lingering and end of input).
    /// `@exclusivity(unchecked)`, like `tls` and `handler`: read on every read (`readOnce`),
    /// for the reason given at `backlog` (callgrind: two run-time checks per read, about 150
    /// instructions, before).
    @exclusivity(unchecked) var input = Input.reading
    /// What happens to what we write (one owner: a FIN pending or sent).
    private(set) var output = Output.open

    /// How long `close()` waits for a peer to take a backlog before resetting the connection.
    public static let defaultCloseTimeout: Duration = .seconds(10)

    /// The peer's address (nil if the kernel could not tell, e.g. an unnamed Unix socket).
    public var remoteAddress: SocketAddress? { storedRemoteAddress?.address }

    /// Who hears about reads, the end of input, drains and the close: the four closures below
    /// (one `StreamClosures` object), or an object that is its own handler (a WebSocket
    /// connection: no closures and no closure contexts per idle connection, issue 16). Held
    /// strongly until the stream closes. Stored as one pointer and 6 bits (`handlerObject`,
    /// `handlerKind`) rather than as a 16-byte existential (issue 16): the bits select the
    /// type's witness table in the loop's table.
    package var handler: (any SocketStreamHandler)? {
        @inline(__always) get {
            guard let handlerObject else { return nil }
            // A class-bound existential is the object reference followed by its type's witness
            // table (the Swift ABI's class existential container), and the loop keeps the table
            // of each kind: the existential is put back together without a call. (Through a
            // static requirement that downcasts, a read cost 11 more instructions: the static
            // witness thunk cannot tail-call, callgrind.)
            return unsafeBitCast((handlerObject, loop.streamHandlerWitnessTable(handlerKind)),
                                 to: (any SocketStreamHandler).self)
        }
        set {
            if let newValue { handlerKind = loop.streamHandlerKind(of: newValue) }
            handlerObject = newValue
        }
    }
    private var closures: StreamClosures? {
        guard let handlerObject, handlerKind == EventLoop.streamClosuresKind else { return nil }
        return unsafeDowncast(handlerObject, to: StreamClosures.self)
    }
    /// The closures' holder, replacing a handler that is not one.
    private func ensureClosures() -> StreamClosures {
        if let closures { return closures }
        let made = StreamClosures()
        // The kind is known: no search of the loop's table (`handler`'s setter).
        handlerKind = EventLoop.streamClosuresKind
        handlerObject = made
        return made
    }

    /// Called with each chunk of received bytes (borrowed: copy what must outlive the call).
    /// Setting a closure replaces a `handler`; setting nil leaves a handler alone.
    public var onRead: ((UnsafeMutableRawBufferPointer) -> Void)? {
        get { closures?.onRead }
        set { if newValue != nil || closures != nil { ensureClosures().onRead = newValue } }
    }
    /// Called when the peer ended its output (half-close). If nil, the stream closes instead.
    public var onEndOfInput: (() -> Void)? {
        get { closures?.onEndOfInput }
        set { if newValue != nil || closures != nil { ensureClosures().onEndOfInput = newValue } }
    }
    /// Called when the backlog has been sent completely after a write had to be buffered.
    public var onDrain: (() -> Void)? {
        get { closures?.onDrain }
        set { if newValue != nil || closures != nil { ensureClosures().onDrain = newValue } }
    }
    /// Called once when the stream has closed.
    public var onClose: ((StreamCloseReason) -> Void)? {
        get { closures?.onClose }
        set { if newValue != nil || closures != nil { ensureClosures().onClose = newValue } }
    }

    init(loop: EventLoop, fd: Int32, remoteAddress: SocketAddress?) {
        self.loop = loop
        self.fd = fd
        self.storedRemoteAddress = (remoteAddress ?? SocketCalls.remoteAddress(fd)).map(CompactSocketAddress.init)
    }

    /// Registers a new stream for `fd` (already connected) with `loop`.
    static func adopt(fd: Int32, loop: EventLoop, remoteAddress: SocketAddress?, alreadyInEpoll: Bool = false) throws(NetworkError) -> SocketStream {
        let stream = SocketStream(loop: loop, fd: fd, remoteAddress: remoteAddress)
        stream.watchedEvents = EPOLLIN.rawValue
        stream.slot = Int32(try loop.register(.stream(stream), fd: fd, events: stream.watchedEvents, replacing: alreadyInEpoll))
        return stream
    }

    deinit {
        backlog.release()
    }

    /// The local address of the socket.
    public var localAddress: SocketAddress? { SocketCalls.localAddress(fd) }

    /// Whether the stream is open (not closed and not closing).
    public var isOpen: Bool {
        if case .open = state { return true }
        return false
    }

    /// Bytes the kernel refused so far, waiting for the socket to become writable.
    package var backlogCount: Int { backlog.count }

    /// Bytes written but not yet taken by the kernel (corked or in the backlog).
    public var bufferedAmount: Int {
        backlog.count + (loop.corkedStream === self ? loop.corkCount : 0)
    }

    // MARK: Writing

    /// Writes `first` then `second` (a frame header and its payload, say) without blocking.
    /// Returns false when the stream no longer accepts writes (closing, closed, output shut).
    @discardableResult
    public func write(_ first: UnsafeRawBufferPointer,
                      _ second: UnsafeRawBufferPointer = UnsafeRawBufferPointer(start: nil, count: 0)) -> Bool {
        guard case .open = state, case .open = output else { return false }
        let total = first.count + second.count
        if total == 0 { return true }
        if !backlog.isEmpty {
            // Already waiting for EPOLLOUT: queue behind the backlog to keep the byte order.
            backlog.append(first)
            backlog.append(second)
            return true
        }
        guard loop.isInsideIteration else {
            // Between iterations nothing would flush a cork before the loop's next event:
            // send at once.
            transmit(first, second)
            return true
        }
        loop.cork(self)
        if loop.corkCount + total <= EventLoop.corkCapacity {
            let end = loop.corkBuffer + loop.corkCount
            if let source = first.baseAddress, first.count > 0 {
                end.copyMemory(from: source, byteCount: first.count)
            }
            if let source = second.baseAddress, second.count > 0 {
                (end + first.count).copyMemory(from: source, byteCount: second.count)
            }
            loop.corkCount += total
            return true
        }
        // Too big for the cork buffer: send the corked bytes and these in one writev, without
        // copying the (large) new bytes anywhere unless the kernel refuses part of them.
        let corked = UnsafeRawBufferPointer(start: loop.corkBuffer, count: loop.corkCount)
        loop.corkedStream = nil
        loop.corkCount = 0
        transmit(corked, first, second)
        return true
    }

    /// Writes `bytes` without blocking; see `write(_:_:)`.
    @discardableResult
    public func write(_ bytes: [UInt8]) -> Bool {
        bytes.withUnsafeBytes { write($0) }
    }

    /// Sends up to three buffers in one `sendmsg` (no `SIGPIPE`); keeps the unsent rest in the
    /// backlog and watches for `EPOLLOUT`; closes the stream on a fatal error.
    func transmit(_ a: UnsafeRawBufferPointer,
                  _ b: UnsafeRawBufferPointer = UnsafeRawBufferPointer(start: nil, count: 0),
                  _ c: UnsafeRawBufferPointer = UnsafeRawBufferPointer(start: nil, count: 0)) {
        guard case .open = state else {
            if case .closingAfterFlush = state { backlog.append(a); backlog.append(b); backlog.append(c) }
            return
        }
        let total = a.count + b.count + c.count
        guard total > 0 else { return }
        if !backlog.isEmpty {
            backlog.append(a)
            backlog.append(b)
            backlog.append(c)
            return
        }
        if let tls { return tlsTransmit(tls, a, b, c) }
        // Indexing instead of `[a, b, c]`: no array allocation on the write path.
        func part(_ index: Int) -> UnsafeRawBufferPointer { index == 0 ? a : (index == 1 ? b : c) }
        var sent = 0
        while true {
            var vectors = (iovec(), iovec(), iovec())
            var count = 0
            withUnsafeMutableBytes(of: &vectors) { raw in
                let list = raw.baseAddress!.assumingMemoryBound(to: iovec.self)
                for index in 0..<3 where part(index).count > 0 {
                    let bytes = part(index)
                    list[count] = iovec(iov_base: UnsafeMutableRawPointer(mutating: bytes.baseAddress), iov_len: bytes.count)
                    count += 1
                }
            }
            var result = 0
            if count == 1 {
                let only = vectors.0
                result = send(fd, only.iov_base, only.iov_len, Int32(MSG_NOSIGNAL) | Int32(MSG_DONTWAIT))
            } else {
                result = withUnsafeMutableBytes(of: &vectors) { raw -> Int in
                    var message = msghdr()
                    message.msg_iov = raw.baseAddress!.assumingMemoryBound(to: iovec.self)
                    message.msg_iovlen = count
                    return sendmsg(fd, &message, Int32(MSG_NOSIGNAL) | Int32(MSG_DONTWAIT))
                }
            }
            loop.statistics.writes += 1
            if result >= 0 {
                sent = result
                loop.statistics.bytesWritten += result
                break
            }
            let code = errno
            if code == EINTR { continue }
            if code == EAGAIN || code == EWOULDBLOCK { break }
            closeNow(code == EPIPE || code == ECONNRESET ? .reset : .error(errno: code))
            return
        }
        if sent == total { return }
        keepInBacklog(a, b, c, after: sent)
    }

    /// Keeps what was not sent of `a`, `b`, `c` (all but their first `offset` bytes, counted
    /// across them) in the backlog, in order, and waits for the socket to become writable.
    func keepInBacklog(_ a: UnsafeRawBufferPointer, _ b: UnsafeRawBufferPointer, _ c: UnsafeRawBufferPointer, after offset: Int) {
        func part(_ index: Int) -> UnsafeRawBufferPointer { index == 0 ? a : (index == 1 ? b : c) }
        var skip = offset
        for index in 0..<3 where part(index).count > 0 {
            let bytes = part(index)
            if skip >= bytes.count {
                skip -= bytes.count
                continue
            }
            backlog.append(UnsafeRawBufferPointer(rebasing: bytes[skip...]))
            skip = 0
        }
        updateWatchedEvents()
    }

    /// Sends what the backlog holds after `EPOLLOUT`.
    private func drainBacklog() {
        if let tls { return tlsDrainBacklog(tls) }
        while !backlog.isEmpty {
            let pending = backlog.readable
            let result = send(fd, pending.baseAddress, pending.count, Int32(MSG_NOSIGNAL) | Int32(MSG_DONTWAIT))
            loop.statistics.writes += 1
            if result > 0 {
                loop.statistics.bytesWritten += result
                backlog.consume(result)
                // A partial send means the kernel buffer is full again: wait for the next EPOLLOUT.
                if !backlog.isEmpty { return }
                continue
            }
            let code = errno
            if code == EINTR { continue }
            if code == EAGAIN || code == EWOULDBLOCK { return }
            closeNow(code == EPIPE || code == ECONNRESET ? .reset : .error(errno: code))
            return
        }
        drained()
    }

    /// The backlog just emptied: stop watching EPOLLOUT and finish a pending close or shutdown.
    func drained() {
        updateWatchedEvents()
        switch state {
        case .closingAfterFlush(let reason):
            sendCloseNotify()
            closeNow(reason)
            return
        case .closed:
            return
        case .open:
            break
        }
        if case .shutdownAfterFlush = output {
            sendCloseNotify()
            output = .shut
            shutdown(fd, Int32(SHUT_WR))
        }
        if let handler, handler.wantsDrain { loop.deferCallback { handler.streamDrained() } }
    }

    // MARK: Reading

    /// Stops reading (backpressure towards the peer: the kernel's receive window fills).
    public func pauseReading() {
        if case .reading = input { input = .paused }
        updateWatchedEvents()
    }

    /// Resumes reading after `pauseReading()`.
    public func resumeReading() {
        if case .paused = input { input = .reading }
        updateWatchedEvents()
        // Decrypted bytes already inside OpenSSL raise no epoll event: read them now.
        if let tls { scheduleTLSPendingRead(tls) }
    }

    func handleEvents(_ events: UInt32) {
        if events & EPOLLOUT.rawValue != 0 {
            drainBacklog()
        }
        guard !isClosed else { return }
        let trouble = events & (EPOLLERR.rawValue | EPOLLHUP.rawValue) != 0
        if input != .ended && (events & EPOLLIN.rawValue != 0 || trouble) {
            if input == .paused && !trouble && tls?.established != false {
                // Paused, but a TLS write waits for input (a TLS 1.3 KeyUpdate): retry the write,
                // which reads what it needs, instead of leaving EPOLLIN to fire again and again.
                if let tls, tls.writeWantsRead { tlsRetryWriteWaitingForInput(tls) }
                return
            }
            readOnce()
        } else if trouble {
            // Input already ended (or paused) and the socket failed or hung up completely.
            let code = SocketCalls.pendingError(fd)
            closeNow(code == 0 ? .peerClosed : (code == ECONNRESET || code == EPIPE ? .reset : .error(errno: code)))
        }
    }

    /// Whether the socket is closed already (not merely closing after a flush).
    package var isClosed: Bool {
        if case .closed = state { return true }
        return false
    }

    func readOnce() {
        if let tls { return tlsRead(tls) }
        let buffer = loop.receiveBuffer
        let result = read(fd, buffer.baseAddress, buffer.count)
        loop.statistics.reads += 1
        if result > 0 {
            // While lingering, what the peer still sends is read only so that closing does not
            // find unread input (which makes the kernel send an RST that destroys the close
            // frame or the response still in flight): it is discarded.
            if input != .discardingUntilEnd { handler?.streamRead(UnsafeMutableRawBufferPointer(rebasing: buffer[0..<result])) }
            return
        }
        if result == 0 {
            endOfInput()
            return
        }
        let code = errno
        if code == EAGAIN || code == EWOULDBLOCK || code == EINTR { return }
        closeNow(code == ECONNRESET || code == EPIPE ? .reset : .error(errno: code))
    }

    /// The peer ended its output (a FIN, or TLS close_notify).
    func endOfInput() {
        let wasLingering = input == .discardingUntilEnd
        input = .ended
        updateWatchedEvents()
        if wasLingering {
            close(reason: .local)
        } else if let handler, handler.handlesEndOfInput {
            handler.streamEndedInput()
        } else {
            close(reason: .peerClosed)
        }
    }

    func updateWatchedEvents() {
        guard !isClosed else { return }
        var wanted: UInt32 = 0
        if case .open = state, input.wantsReadEvents { wanted |= EPOLLIN.rawValue }
        if !backlog.isEmpty { wanted |= EPOLLOUT.rawValue }
        if let tls { wanted = tlsWatchedEvents(tls, plain: wanted) }
        if wanted != watchedEvents {
            watchedEvents = wanted
            loop.modify(slot: Int(slot), fd: fd, events: wanted)
        }
    }

    // MARK: Closing

    /// Ends our output once everything written so far is sent (`shutdown(SHUT_WR)`, a TCP FIN);
    /// reading continues. Further writes return false.
    public func shutdownOutput() {
        guard case .open = state, case .open = output else { return }
        if loop.corkedStream === self { loop.flushCork() }
        guard case .open = state else { return }
        if backlog.isEmpty && tls?.established != false {
            sendCloseNotify()
            output = .shut
            shutdown(fd, Int32(SHUT_WR))
        } else {
            output = .shutdownAfterFlush
        }
    }

    /// Closes gracefully: sends what is corked or buffered, then closes. Reading stops at once.
    /// A peer that does not take the backlog within `defaultCloseTimeout` gets a reset.
    public func close() {
        close(reason: .local)
    }

    /// Closes the way careful servers do (a "lingering close", as Apache and nginx call it):
    /// sends what is buffered, then a FIN (`shutdown(SHUT_WR)`), then reads and discards what the
    /// peer still sends until its FIN, and only then closes the socket. Closing a socket with
    /// unread input makes the kernel answer with an RST, which can destroy the last bytes we
    /// sent (a close frame, an HTTP error response) before the peer reads them. A peer that does
    /// not finish within `timeout` (it neither reads what we sent nor sends its FIN) gets the
    /// reset then: memory and the descriptor are held for `timeout` at most.
    public func closeLingering(timeout: Duration) {
        guard case .open = state, input != .discardingUntilEnd else { return }
        // Mid-TLS-handshake nothing we wrote can reach the peer, and a peer stuck there has had
        // the handshake timeout already: reset.
        if let tls, !tls.established { return abort() }
        onRead = nil
        armCloseTimer(timeout)
        if input == .ended {
            close(reason: .local)
        } else {
            input = .discardingUntilEnd
            shutdownOutput()
            updateWatchedEvents()
        }
    }

    func close(reason: StreamCloseReason) {
        guard case .open = state else { return }
        if loop.corkedStream === self { loop.flushCork() }
        guard case .open = state else { return }
        if backlog.isEmpty || output == .shut {
            sendCloseNotify()
            closeNow(reason)
        } else {
            state = .closingAfterFlush(reason)
            updateWatchedEvents()
            armCloseTimer(SocketStream.defaultCloseTimeout)
        }
    }

    /// Resets the connection after `timeout` unless it closed before (the first timer armed wins).
    private func armCloseTimer(_ timeout: Duration) {
        guard closeTimer == nil else { return }
        closeTimer = loop.schedule(after: timeout) { [weak self] in
            guard let self else { return }
            self.closeTimer = nil
            self.abort()
        }
    }

    /// Closes at once, discarding unsent bytes, and resets the connection (`SO_LINGER` 0 sends
    /// an RST instead of a FIN) so the peer learns the data was not delivered.
    public func abort() {
        guard !isClosed else { return }
        var linger = Glibc.linger(l_onoff: 1, l_linger: 0)
        setsockopt(fd, SOL_SOCKET, SO_LINGER, &linger, socklen_t(MemoryLayout<Glibc.linger>.size))
        closeNow(.local)
    }

    /// Closes the socket now and schedules `onClose` for the end of the iteration.
    func closeNow(_ reason: StreamCloseReason) {
        guard !isClosed else { return }
        state = .closed
        if let closeTimer { loop.cancel(closeTimer) }
        closeTimer = nil
        loop.discardCork(of: self)
        loop.unregister(slot: Int(slot))
        Glibc.close(fd)
        tls?.free()
        backlog.release()
        let handler = self.handler
        self.handler = nil
        if let handler, handler.wantsClose { loop.deferCallback { handler.streamClosed(reason) } }
    }
}

/// See `SocketStream.extras`.
private final class StreamExtras {
    var tls: TLSChannel?
    var closeTimer: TimerHandle?
}

/// What a `SocketStream` reports to (`SocketStream.handler`). Loop thread only.
package protocol SocketStreamHandler: AnyObject {
    /// Received bytes (borrowed: copy what must outlive the call).
    func streamRead(_ bytes: UnsafeMutableRawBufferPointer)
    /// Whether `streamEndedInput` is wanted; otherwise the peer's FIN closes the stream.
    var handlesEndOfInput: Bool { get }
    /// The peer ended its output (half-close).
    func streamEndedInput()
    /// Whether `streamDrained` is wanted (saves a deferred call when not).
    var wantsDrain: Bool { get }
    /// The backlog was sent completely after a write had to be buffered (deferred call).
    func streamDrained()
    /// Whether `streamClosed` is wanted.
    var wantsClose: Bool { get }
    /// The stream closed (deferred call, once).
    func streamClosed(_ reason: StreamCloseReason)
}

/// The stream's four callbacks as closures: the handler of every stream whose owner sets them.
final class StreamClosures: SocketStreamHandler {
    var onRead: ((UnsafeMutableRawBufferPointer) -> Void)?
    var onEndOfInput: (() -> Void)?
    var onDrain: (() -> Void)?
    var onClose: ((StreamCloseReason) -> Void)?

    func streamRead(_ bytes: UnsafeMutableRawBufferPointer) { onRead?(bytes) }
    var handlesEndOfInput: Bool { onEndOfInput != nil }
    func streamEndedInput() { onEndOfInput?() }
    var wantsDrain: Bool { onDrain != nil }
    func streamDrained() { onDrain?() }
    var wantsClose: Bool { onClose != nil }
    func streamClosed(_ reason: StreamCloseReason) { onClose?(reason) }
}
