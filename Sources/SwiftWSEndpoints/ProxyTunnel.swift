import SwiftWSCore

/// Drives a `ProxyHandshake` over a stream connected to the proxy until the tunnel to the
/// target is open, under `timeout` (the error then names the negotiation). Loop-thread only.
///
/// The completion runs once, from the loop, never inside `start`: with the stream, now a tunnel
/// whose handlers are free for TLS and the WebSocket upgrade, or with the proxy's refusal (the
/// stream is closed then).
final class ProxyTunnel {
    private let stream: SocketStream
    private var handshake: ProxyHandshake
    private var completion: ((Result<SocketStream, ProxyError>) -> Void)?
    private var timer: TimerHandle?

    init(stream: SocketStream, handshake: ProxyHandshake,
         completion: @escaping (Result<SocketStream, ProxyError>) -> Void) {
        self.stream = stream
        self.handshake = handshake
        self.completion = completion
    }

    func start(timeout: Duration) {
        // The stream's handlers keep this object alive until the negotiation ends.
        stream.onRead = { [self] bytes in receive(UnsafeRawBufferPointer(bytes)) }
        stream.onClose = { [self] _ in fail("closed the connection during the negotiation") }
        timer = stream.loop.schedule(after: timeout) { [self] in
            timer = nil
            fail("no answer within the timeout (proxy negotiation timed out)")
        }
        stream.write(handshake.takeOutput())
    }

    private func receive(_ bytes: UnsafeRawBufferPointer) {
        do throws(ProxyError) {
            let progress = try handshake.receive(bytes)
            let output = handshake.takeOutput()
            if case .open = progress, !output.isEmpty {
                // The proxy answered a request we had not sent yet (its replies came in one read
                // with an earlier one): sending it now would put it into the tunnel.
                return fail("answered a request before it was sent")
            }
            if !output.isEmpty { stream.write(output) }
            guard case .open(let consumed) = progress else { return }
            // Neither a WebSocket server nor a TLS server speaks first: bytes after the proxy's
            // answer mean the proxy or the target is not what we think.
            guard consumed == bytes.count else { return fail("sent data after opening the tunnel") }
            finish(.success(stream))
        } catch {
            finish(.failure(error))
        }
    }

    private func fail(_ reason: String) {
        finish(.failure(ProxyError(proxy: handshake.configuration.description, reason: reason)))
    }

    private func finish(_ result: Result<SocketStream, ProxyError>) {
        guard let completion else { return }
        self.completion = nil
        if let timer { stream.loop.cancel(timer) }
        timer = nil
        stream.onRead = nil
        stream.onClose = nil
        if case .failure = result { stream.abort() }
        // From the loop, outside this stream's read callback: TLS and the upgrade start fresh.
        stream.loop.deferCallback { completion(result) }
    }
}
