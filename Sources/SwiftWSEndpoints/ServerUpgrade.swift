import Glibc
import SwiftWSCore

/// One accepted socket while its HTTP request head arrives: then it becomes a WebSocket
/// connection, gets a plain HTTP answer, or is refused. Loop-thread only.
final class ServerUpgrade {
    let stream: SocketStream
    private weak var server: WebSocketServer?
    private let options: ServerOptions
    private var parser: HTTPRequestParser
    private var timer: TimerHandle?
    private var done = false
    /// While the decision is deferred (`UpgradeDecision.later`): the request and the bytes that
    /// arrived after its head (copied: the read buffer is only lent).
    private var deferred: (request: UpgradeRequest, remaining: [UInt8])?

    init(stream: SocketStream, server: WebSocketServer) {
        self.stream = stream
        self.server = server
        self.options = server.options
        self.parser = HTTPRequestParser(limits: server.options.headLimits)
    }

    func start() {
        stream.onRead = { [unowned self] bytes in self.receive(bytes) }
        stream.onClose = { [self] _ in
            if !self.done && !self.headSettled { self.tellNoRequest(.closed) }
            self.finish()
        }
        timer = stream.loop.schedule(after: options.handshakeTimeout) { [weak self] in
            guard let self, !self.done else { return }
            self.timer = nil
            if self.deferred != nil {
                // The request arrived; the server did not decide in time.
                self.deferred = nil
                self.respond(plainResponse(status: 503, text: "upgrade not decided in time\n"))
                return
            }
            self.tellNoRequest(.timedOut)
            guard self.options.answersBadRequests else { return self.closeWithoutAnswer() }
            // RFC 7231 6.5.7: 408 for a request that did not arrive in time.
            self.respond(plainResponse(status: 408, text: "request head not received in time\n"))
        }
    }

    /// Whether the whole request head arrived, or `onNoRequest` was told why not (once).
    private var headSettled = false

    /// Tells `WebSocketServer.onNoRequest`, once per connection.
    private func tellNoRequest(_ reason: NoRequest.Reason) {
        guard !headSettled, let onNoRequest = server?.onNoRequest else { return }
        headSettled = true
        onNoRequest(NoRequest(reason: reason, received: parser.received, remoteAddress: stream.remoteAddress))
    }

    /// Ends a connection whose peer is not known to speak HTTP without an answer.
    private func closeWithoutAnswer() {
        server?.log?(.info, "connection closed without an answer (no valid HTTP request)")
        stream.close()
        finish()
    }

    /// Closes without an answer (server shutdown).
    func cancel() {
        stream.close()
    }

    /// Whether a deferred decision is still awaited.
    var isWaitingForDecision: Bool { !done && deferred != nil }

    /// The deferred decision arrived (see `PendingUpgrade.decide`).
    func decideLater(_ decision: UpgradeDecision) {
        guard let (request, remaining) = deferred, !done else { return }
        deferred = nil
        var bytes = remaining
        bytes.withUnsafeMutableBytes { apply(decision, to: request, remaining: $0) }
    }

    private func finish() {
        guard !done else { return }
        done = true
        deferred = nil
        if let timer { stream.loop.cancel(timer) }
        timer = nil
        server?.upgradeFinished(self)
    }

    private func receive(_ bytes: UnsafeMutableRawBufferPointer) {
        let head: HTTPRequestHead
        let consumed: Int
        do throws(HandshakeError) {
            switch try parser.parse(UnsafeRawBufferPointer(bytes)) {
            case .needMoreBytes:
                return
            case .complete(let parsed, let count):
                head = parsed
                consumed = count
            }
        } catch {
            if error.failure == .malformedHead {
                tellNoRequest(parser.failedAtStartLine ? .badRequestLine(error) : .malformed(error))
                if !options.answersBadRequests { return closeWithoutAnswer() }
            }
            respond(error.responseBytes())
            return
        }
        headSettled = true
        stream.pauseReading()
        let remaining = UnsafeMutableRawBufferPointer(rebasing: bytes[min(consumed, bytes.count)...])
        handle(head, remaining: remaining)
    }

    private func handle(_ head: HTTPRequestHead, remaining: UnsafeMutableRawBufferPointer) {
        guard let server else { return stream.close() }
        // The core decides (RFC 9110/9112 request rules, then upgrade or plain HTTP); here its
        // error only becomes the response. A plain request's body, if any, is never read: the
        // answer says Connection: close and the connection closes.
        let request: UpgradeRequest
        do throws(HandshakeError) {
            switch try ServerHandshake.classify(head) {
            case .plain(let head, _):
                respond(server.plainHTTPResponse(for: head))
                return
            case .upgrade(let upgrade):
                request = upgrade
            }
        } catch {
            respond(error.responseBytes())
            return
        }
        if let allowed = options.allowedOrigins {
            let permitted: Bool
            if let origin = request.origin {
                permitted = allowed.contains { HTTPHeaders.namesMatch($0, origin) }
            } else {
                permitted = !options.requireOrigin
            }
            guard permitted else {
                respond(plainResponse(status: 403, text: "origin not allowed\n"))
                return
            }
        }
        server.upgradePeerCertificateSubject = stream.peerCertificateSubject
        server.upgradeInProgress = self
        let decision = server.onUpgrade?(request, stream.remoteAddress)
            ?? .accept(UpgradeAcceptance(subprotocol: request.preferredSubprotocol(from: options.subprotocols)))
        server.upgradeInProgress = nil
        server.upgradePeerCertificateSubject = nil
        apply(decision, to: request, remaining: remaining)
    }

    private func apply(_ decision: UpgradeDecision, to request: UpgradeRequest, remaining: UnsafeMutableRawBufferPointer) {
        guard let server else { return stream.close() }
        switch decision {
        case .later:
            // Still bounded by the handshake timer, which keeps running.
            deferred = (request, Array(UnsafeRawBufferPointer(remaining)))
        case .reject(let status, let body, let headers):
            let response = (try? HTTPResponseWriter.response(status: status, headers: headers, body: Array(body.utf8)))
                ?? plainResponse(status: 500, text: "invalid rejection\n")
            respond(response)
        case .drop:
            server.log?(.info, "connection dropped without an answer")
            stream.close()
            finish()
        case .accept(let acceptance):
            // The upgrade policy is the core's (subprotocol offered, deflate negotiated, 101).
            let answer: UpgradeAcceptanceAnswer
            do throws(HandshakeError) {
                answer = try request.accept(subprotocol: acceptance.subprotocol,
                                            deflate: options.connection.perMessageDeflate, headers: acceptance.headers)
            } catch {
                respond(error.responseBytes())
                return
            }
            let response = answer.response
            let agreement = answer.deflate
            done = true
            if let timer { stream.loop.cancel(timer) }
            timer = nil
            stream.write(response)
            server.log?(.info, "connection open")
            stream.resumeReading()
            server.upgradeFinished(self)
            server.open(stream: stream, request: request, subprotocol: acceptance.subprotocol,
                        deflate: agreement, userData: acceptance.userData, initialBytes: remaining)
        }
    }

    /// Sends a complete HTTP response and closes (no keep-alive: `Connection: close`).
    /// The close is a lingering one, bounded by the handshake timeout: a client still sending
    /// (a request body, pipelined bytes) gets the response, not an RST that destroys it.
    /// The handshake is then over for the server (it no longer counts the socket), while the
    /// socket finishes closing on its own.
    private func respond(_ bytes: [UInt8]) {
        if let log = server?.log {
            // "HTTP/1.1 403 Forbidden\r\n..." -> "403 Forbidden"
            let statusLine = bytes.prefix { $0 != 13 }.dropFirst("HTTP/1.1 ".utf8.count)
            log(.info, "connection rejected (\(String(decoding: statusLine, as: UTF8.self)))")
        }
        stream.write(bytes)
        stream.closeLingering(timeout: options.handshakeTimeout)
        finish()
    }
}

/// A complete `text/plain` response with `Connection: close` for a status and text this module
/// chose itself (so it cannot fail validation).
func plainResponse(status: Int, headers: HTTPHeaders = HTTPHeaders(), text: String) -> [UInt8] {
    (try? HTTPResponseWriter.response(status: status, headers: headers, body: Array(text.utf8))) ?? []
}
