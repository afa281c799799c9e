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
        // OpenSSL wants more bytes from the socket: what it holds (SSL_has_pending) is only the
        // start of a record, and the rest raises an epoll event when it comes. Reading it again
        // at the end of the iteration would find nothing, and again and again: a peer that
        // stops in the middle of a record would spin the loop.
        var waitsForSocket = false
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
                waitsForSocket = true
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
        if !waitsForSocket { scheduleTLSPendingRead(tls) }
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
        if a.count + b.count + c.count > SocketStream.tlsRecordSize { return tlsTransmitStaged(tls, a, b, c) }
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

    /// TLS records carry at most 16 KiB of plaintext (RFC 8446 section 5.1).
    static let tlsRecordSize = 16 * 1024
    /// The loop's staging area: 4 records, so a 64 KiB message leaves in one `send`.
    static let tlsStageCapacity = 4 * TLSChannel.maxRecordLength

    /// `tlsTransmit` for more than one record: OpenSSL writes the records into the loop's
    /// staging area (see `sws_socket_bio`), sent 4 at a time in one `send`, instead of one
    /// `send` per record. When the kernel takes only part of them, the rest of the records
    /// heads the backlog (`TLSChannel.encryptedBacklog`), followed by the plaintext not yet
    /// encrypted. The records are copied once more (into the stage); measured against the
    /// system calls saved in bench/README.md.
    private func tlsTransmitStaged(_ tls: TLSChannel, _ a: UnsafeRawBufferPointer, _ b: UnsafeRawBufferPointer, _ c: UnsafeRawBufferPointer) {
        guard let ssl = tls.ssl else { return }
        let stage = loop.tlsStage ?? .allocate(byteCount: SocketStream.tlsStageCapacity, alignment: 16)
        loop.tlsStage = stage
        func part(_ index: Int) -> UnsafeRawBufferPointer { index == 0 ? a : (index == 1 ? b : c) }
        var taken = 0  // plaintext bytes of a, b, c (in order) that OpenSSL encrypted
        /// Sends the staged records; false when they did not all leave (the rest is kept) or
        /// the stream closed.
        func flush() -> Bool {
            let staged = sws_bio_take_staged(ssl)
            let sent = sendEncrypted(UnsafeRawBufferPointer(start: stage, count: staged))
            guard sent >= 0 else { return false }  // closed: the BIO is gone with the SSL
            if sent == staged { return true }
            sws_bio_end_staging(ssl)
            backlog.append(UnsafeRawBufferPointer(start: stage + sent, count: staged - sent))
            tls.encryptedBacklog = staged - sent
            keepInBacklog(a, b, c, after: taken)
            return false
        }
        sws_bio_begin_staging(ssl, stage, SocketStream.tlsStageCapacity)
        for index in 0..<3 where part(index).count > 0 {
            let bytes = part(index)
            var offset = 0
            while offset < bytes.count {
                let (written, code) = sslWrite(ssl, bytes, from: offset)
                if code == SSL_ERROR_NONE {
                    offset += written
                    taken += written
                    continue
                }
                if code == SSL_ERROR_WANT_WRITE {  // the stage is full: send it, then retry
                    guard flush() else { return }
                    continue
                }
                guard flush() else { return }
                sws_bio_end_staging(ssl)
                if code == SSL_ERROR_WANT_READ {
                    tls.writeWantsRead = true
                    return keepInBacklog(a, b, c, after: taken)
                }
                return tlsWriteFailed(tls, code)
            }
        }
        guard flush() else { return }
        sws_bio_end_staging(ssl)
    }

    /// Sends records as they are (staged, or kept at the head of the backlog): the count the
    /// kernel took, or -1 when the stream closed.
    private func sendEncrypted(_ bytes: UnsafeRawBufferPointer) -> Int {
        guard bytes.count > 0 else { return 0 }
        while true {
            let result = send(fd, bytes.baseAddress, bytes.count, Int32(MSG_NOSIGNAL) | Int32(MSG_DONTWAIT))
            if result >= 0 {
                loop.statistics.bytesWritten += result
                return result
            }
            let code = errno
            if code == EINTR { continue }
            if code == EAGAIN || code == EWOULDBLOCK { return 0 }
            closeNow(code == EPIPE || code == ECONNRESET ? .reset : .error(errno: code))
            return -1
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
        while tls.encryptedBacklog > 0 {
            let sent = sendEncrypted(UnsafeRawBufferPointer(rebasing: backlog.readable.prefix(tls.encryptedBacklog)))
            guard sent >= 0 else { return }
            backlog.consume(sent)
            tls.encryptedBacklog -= sent
            if tls.encryptedBacklog > 0 { return updateWatchedEvents() }
        }
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
            let (written, code) = sslWrite(ssl, bytes, from: offset)
            if code == SSL_ERROR_NONE {
                offset += written
                loop.statistics.bytesWritten += written
                continue
            }
            switch code {
            case SSL_ERROR_WANT_WRITE:
                return offset
            case SSL_ERROR_WANT_READ:
                tls.writeWantsRead = true
                return offset
            case let code:
                tlsWriteFailed(tls, code)
                return -1
            }
        }
        return offset
    }

    /// One `SSL_write_ex` of `bytes` from `offset` (one record: partial-write mode): the bytes
    /// OpenSSL took and `SSL_ERROR_NONE`, or 0 and the error code.
    private func sslWrite(_ ssl: OpaquePointer, _ bytes: UnsafeRawBufferPointer, from offset: Int) -> (Int, Int32) {
        var written = 0
        let result = SSL_write_ex(ssl, bytes.baseAddress! + offset, bytes.count - offset, &written)
        loop.statistics.writes += 1
        return result == 1 ? (written, SSL_ERROR_NONE) : (0, SSL_get_error(ssl, result))
    }

    /// Closes the stream after `SSL_write` failed with `code` (not a "want" code).
    private func tlsWriteFailed(_ tls: TLSChannel, _ code: Int32) {
        if code == SSL_ERROR_SYSCALL {
            let error = errno
            ERR_clear_error()
            closeNow(error == EPIPE || error == ECONNRESET || error == 0 ? .reset : .error(errno: error))
        } else {
            tls.failure = "TLS error: \(tls.describeFailure())"
            closeNow(.error(errno: EPROTO))
        }
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
