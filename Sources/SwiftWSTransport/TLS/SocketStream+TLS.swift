import Glibc
import COpenSSL
import CSwiftWSSystem

/// TLS over a `SocketStream` (see `SocketStream`'s "TLS" paragraph and `TLSChannel`).
///
/// Why an optional final class inside the stream rather than a `ByteStream` protocol with a
/// plain and a TLS implementation: the WebSocket layer (ServerUpgrade, WebSocketConnection,
/// ClientUpgrade) keeps its concrete `SocketStream` type, so every call on the plain `ws://`
/// path stays a direct (inlinable) call; the only cost for plain sockets is one nil check in
/// `readOnce`, `transmit` and the backlog flush. A protocol would have made every read and write
/// an existential or generic dispatch for everyone.
///
/// Flow: `startTLS` attaches the channel; the handshake advances on each socket event
/// (`SSL_ERROR_WANT_READ` watches EPOLLIN, `SSL_ERROR_WANT_WRITE` EPOLLOUT) and is bounded by
/// whoever owns the stream (the server's and the client's handshake timers). Until it ends,
/// `onRead` sees nothing and writes wait in the backlog; then the backlog is sent. A failure
/// closes the stream (`.error(errno: EPROTO)`) with its reason in `tlsFailure`.
extension SocketStream {
    /// Starts TLS on this stream with `channel` (server: waits for the client hello; client:
    /// sends its hello now). Loop-thread only; call once, before any read or write.
    func startTLS(_ channel: TLSChannel) {
        guard tls == nil, case .open = state else { return }
        tls = channel
        updateWatchedEvents()
        if channel.context.role == .client { tlsHandshakeStep(channel) }
    }

    /// Starts TLS as a server with `context`. Loop-thread only.
    public func startTLS(server context: TLSContext) throws(TLSError) {
        startTLS(try TLSChannel(context: context, fd: fd))
    }

    /// Starts TLS as a client with `context`, sending `serverName` as SNI and verifying the
    /// certificate against it; resumes the last session with `serverName` and `port` when the
    /// context has one (`TLSConfiguration.sessionTickets`). Loop-thread only.
    public func startTLS(client context: TLSContext, serverName: String?, port: UInt16 = 0) throws(TLSError) {
        startTLS(try TLSChannel(context: context, fd: fd, serverName: serverName, port: port))
    }

    /// Whether the TLS handshake resumed an earlier session.
    public var tlsSessionReused: Bool { tls?.sessionReused ?? false }

    /// Whether the stream speaks TLS.
    public var isTLS: Bool { tls != nil }

    /// Why TLS failed (handshake or later), when it did: "certificate verify failed: …".
    public var tlsFailure: String? { tls?.failure }

    /// The peer certificate's subject once the TLS handshake is done (mutual TLS), else nil.
    public var peerCertificateSubject: String? { tls?.peerCertificateSubject }

    /// The negotiated TLS version ("TLSv1.3") once the handshake is done, else nil.
    public var tlsVersion: String? { tls?.protocolVersion }

    // MARK: Handshake

    func tlsHandshakeStep(_ tls: TLSChannel) {
        guard let ssl = tls.ssl, !tls.established else { return }
        let result = SSL_do_handshake(ssl)
        if result == 1 {
            tls.established = true
            tls.handshakeWantsWrite = false
            // Send what was written meanwhile (and finish a close or shutdown asked for).
            tlsDrainBacklog(tls)
            if let linger = tls.closeLingeringAfterHandshake {
                tls.closeLingeringAfterHandshake = nil
                if let timer = tls.handshakeDeadline { loop.cancel(timer) }
                tls.handshakeDeadline = nil
                return closeLingering(timeout: linger)
            }
            if isOpen { scheduleTLSPendingRead(tls) }
            return
        }
        let code = SSL_get_error(ssl, result)
        switch code {
        case SSL_ERROR_WANT_READ:
            tls.handshakeWantsWrite = false
            updateWatchedEvents()
        case SSL_ERROR_WANT_WRITE:
            tls.handshakeWantsWrite = true
            updateWatchedEvents()
        default:
            if tls.failure == nil {
                let reason = code == SSL_ERROR_SSL ? tls.describeFailure()
                    : (errno == 0 ? "the peer closed the connection" : String(cString: strerror(errno)))
                tls.failure = "TLS handshake failed: \(reason)"
            }
            ERR_clear_error()
            closeNow(.error(errno: EPROTO))
        }
    }

    /// Closes the way `closeLingering(timeout:)` does, but lets an unfinished TLS handshake finish
    /// first, so that what was written (an HTTP error such as the 503 of a server at its
    /// connection limit) reaches the peer instead of a reset. Input is discarded. The handshake
    /// and the lingering close each get `timeout` at most (a reset then). A plain stream, or one
    /// whose handshake is done, closes lingering at once.
    public func closeLingeringAfterTLSHandshake(timeout: Duration) {
        guard let tls, !tls.established, case .open = state, tls.closeLingeringAfterHandshake == nil else {
            return closeLingering(timeout: timeout)
        }
        onRead = nil
        tls.closeLingeringAfterHandshake = timeout
        tls.handshakeDeadline = loop.schedule(after: timeout) { [weak self, weak tls] in
            tls?.handshakeDeadline = nil
            if tls?.closeLingeringAfterHandshake != nil { self?.abort() }
        }
    }

    /// The epoll events a TLS stream needs (`plain`: what a plain stream would watch).
    func tlsWatchedEvents(_ tls: TLSChannel, plain: UInt32) -> UInt32 {
        if tls.established {
            return tls.writeWantsRead && input != .ended ? plain | EPOLLIN.rawValue : plain
        }
        // Handshaking: only what OpenSSL asked for (a backlog must not make EPOLLOUT spin).
        guard case .open = state, input != .ended else { return 0 }
        return tls.handshakeWantsWrite ? EPOLLIN.rawValue | EPOLLOUT.rawValue : EPOLLIN.rawValue
    }

    // MARK: Reading

    /// Reads and decrypts into the loop's receive buffer and hands it to `onRead` in one call:
    /// one `recv` (read-ahead takes every record the kernel holds), then the records OpenSSL
    /// holds, while a whole record still fits. No second `recv` that would only find the socket
    /// empty: more bytes arriving raise another epoll event.
    func tlsRead(_ tls: TLSChannel) {
        guard tls.established else { return tlsHandshakeStep(tls) }
        guard let ssl = tls.ssl else { return }
        if tls.writeWantsRead && !backlog.isEmpty {
            tls.writeWantsRead = false
            tlsDrainBacklog(tls)
            guard isOpen else { return }
        }
        let buffer = loop.receiveBuffer
        var filled = 0
        var ended = false
        var failure: StreamCloseReason?
        reading: repeat {
            var got = 0
            let result = SSL_read_ex(ssl, buffer.baseAddress! + filled, buffer.count - filled, &got)
            if result == 1 {
                filled += got
                if SSL_has_pending(ssl) == 0 { break reading }
                continue
            }
            switch SSL_get_error(ssl, result) {
            case SSL_ERROR_WANT_READ, SSL_ERROR_WANT_WRITE:
                break reading
            case SSL_ERROR_ZERO_RETURN:  // close_notify (or an EOF, SSL_OP_IGNORE_UNEXPECTED_EOF)
                tls.closeNotifyReceived = SSL_get_shutdown(ssl) & SSL_RECEIVED_SHUTDOWN != 0
                ended = true
            case SSL_ERROR_SYSCALL:
                let code = errno
                if code == 0 { ended = true } else { failure = code == ECONNRESET || code == EPIPE ? .reset : .error(errno: code) }
            default:
                tls.failure = "TLS error: \(tls.describeFailure())"
                failure = .error(errno: EPROTO)
            }
            break reading
        } while buffer.count - filled >= 16 * 1024  // room for one more whole record
        loop.statistics.reads += 1
        // Lingering: read on (close_notify must be seen) but discard, as the plain path does.
        if filled > 0, input != .discardingUntilEnd { handler?.streamRead(UnsafeMutableRawBufferPointer(rebasing: buffer[0..<filled])) }
        guard !isClosed, input != .ended else { return }
        if let failure {
            ERR_clear_error()
            return closeNow(failure)
        }
        if ended { return endOfInput() }
        scheduleTLSPendingRead(tls)
    }

    /// Bytes left inside OpenSSL (records read ahead, or decrypted bytes that did not fit the
    /// receive buffer; also application data that came with the end of the handshake) raise no
    /// epoll event: read them at the end of the iteration, unless reading is paused.
    func scheduleTLSPendingRead(_ tls: TLSChannel) {
        guard let ssl = tls.ssl, tls.established, input.wantsReadEvents, SSL_has_pending(ssl) != 0 else { return }
        // A strong capture, held until the end of this iteration only: a weak one would give the
        // stream a side table for its reference counts, and every retain on its hot path would
        // take the slow path from then on.
        loop.deferCallback { [self] in
            guard isOpen, self.input.wantsReadEvents, let tls = self.tls else { return }
            tlsRead(tls)
        }
    }

    // MARK: Writing

    /// Encrypts and sends `a`, `b`, `c` in order; what OpenSSL cannot send now waits in the
    /// backlog (retried from there: `SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER`). The backlog is empty.
    func tlsTransmit(_ tls: TLSChannel, _ a: UnsafeRawBufferPointer, _ b: UnsafeRawBufferPointer, _ c: UnsafeRawBufferPointer) {
        guard tls.established else {
            backlog.append(a)
            backlog.append(b)
            backlog.append(c)
            return
        }
        // Indexing instead of `[a, b, c]`: no array allocation on the write path.
        func part(_ index: Int) -> UnsafeRawBufferPointer { index == 0 ? a : (index == 1 ? b : c) }
        for index in 0..<3 where part(index).count > 0 {
            let part = part(index)
            let sent = tlsWrite(tls, part)
            if sent == part.count { continue }
            guard sent >= 0 else { return }  // closed
            backlog.append(UnsafeRawBufferPointer(rebasing: part[sent...]))
            if index < 1 { backlog.append(b) }
            if index < 2 { backlog.append(c) }
            updateWatchedEvents()
            return
        }
    }

    /// A write stopped on `SSL_ERROR_WANT_READ` and input arrived while reading is paused.
    func tlsRetryWriteWaitingForInput(_ tls: TLSChannel) {
        tls.writeWantsRead = false
        if backlog.isEmpty { return updateWatchedEvents() }
        tlsDrainBacklog(tls)
    }

    /// Sends the backlog through TLS after EPOLLOUT (or once the handshake is done).
    func tlsDrainBacklog(_ tls: TLSChannel) {
        guard tls.established else { return tlsHandshakeStep(tls) }
        while !backlog.isEmpty {
            let sent = tlsWrite(tls, backlog.readable)
            guard sent >= 0 else { return }
            backlog.consume(sent)
            if !backlog.isEmpty { return updateWatchedEvents() }
        }
        drained()
    }

    /// Writes as much of `bytes` as OpenSSL takes now: the count, or -1 when the stream closed.
    private func tlsWrite(_ tls: TLSChannel, _ bytes: UnsafeRawBufferPointer) -> Int {
        guard let ssl = tls.ssl else { return -1 }
        var offset = 0
        while offset < bytes.count {
            var written = 0
            let result = SSL_write_ex(ssl, bytes.baseAddress! + offset, bytes.count - offset, &written)
            loop.statistics.writes += 1
            if result == 1 {
                offset += written
                loop.statistics.bytesWritten += written
                continue
            }
            switch SSL_get_error(ssl, result) {
            case SSL_ERROR_WANT_WRITE:
                return offset
            case SSL_ERROR_WANT_READ:
                tls.writeWantsRead = true
                return offset
            case SSL_ERROR_SYSCALL:
                let code = errno
                ERR_clear_error()
                closeNow(code == EPIPE || code == ECONNRESET || code == 0 ? .reset : .error(errno: code))
                return -1
            default:
                tls.failure = "TLS error: \(tls.describeFailure())"
                closeNow(.error(errno: EPROTO))
                return -1
            }
        }
        return offset
    }

    // MARK: Closing

    /// Sends close_notify (RFC 8446 section 6.1) before our FIN, once, if the handshake is done.
    /// Best effort: a full socket buffer drops it (the FIN still ends the stream).
    func sendCloseNotify() {
        guard let tls, tls.established, !tls.closeNotifySent, output != .shut, let ssl = tls.ssl else { return }
        tls.closeNotifySent = true
        _ = SSL_shutdown(ssl)
        ERR_clear_error()
    }
}
