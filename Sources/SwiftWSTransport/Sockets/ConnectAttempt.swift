import Glibc
import CSwiftWSSystem

/// One outgoing connection being established: non-blocking `connect` to each candidate address
/// in turn until one succeeds, under one overall timeout. Loop-thread only.
///
/// The completion always runs later, from the loop (never inside the `connect` call), and exactly
/// once: with the connected stream, or with the last error (`ECONNREFUSED`, a name-resolution
/// error, `.timedOut`).
final class ConnectAttempt {
    private let loop: EventLoop
    private let options: StreamOptions
    private let operation: String
    /// What a timeout names while no address is known yet: "resolve example.com" (the timer
    /// covers name resolution and the connection, and the error says which step ran out).
    var resolvingOperation: String?
    private var candidates: [SocketAddress] = []
    private var nextCandidate = 0
    private var fd: Int32 = -1
    private var slot = -1
    private var timer: TimerHandle?
    private var completion: ((Result<SocketStream, NetworkError>) -> Void)?
    private var lastError: NetworkError?

    init(loop: EventLoop, options: StreamOptions, operation: String,
         completion: @escaping (Result<SocketStream, NetworkError>) -> Void) {
        self.loop = loop
        self.options = options
        self.operation = operation
        self.completion = completion
    }

    private var isFinished: Bool { completion == nil }

    func startTimer(_ timeout: Duration?) {
        guard let timeout else { return }
        timer = loop.schedule(after: timeout) { [self] in
            timer = nil
            let step = candidates.isEmpty ? (resolvingOperation ?? operation) : operation
            fail(NetworkError(.timedOut, step))
        }
    }

    /// Tries `addresses` in order.
    func start(addresses: [SocketAddress]) {
        guard !isFinished else { return }
        candidates = addresses
        nextCandidate = 0
        tryNext()
    }

    private func tryNext() {
        while nextCandidate < candidates.count {
            let address = candidates[nextCandidate]
            nextCandidate += 1
            let description = "connect to \(address)"
            do {
                fd = try SocketCalls.makeStreamSocket(family: address.addressFamily, operation: description)
            } catch {
                lastError = error
                continue
            }
            SocketCalls.apply(options, to: fd, family: address.addressFamily)
            let result = address.withSockAddr { Glibc.connect(fd, $0, $1) }
            if result == 0 || errno == EINPROGRESS {
                // Connected or on its way: writability reports the outcome either way, so the
                // completion runs from the loop like every other one.
                do {
                    slot = try loop.register(.connect(self), fd: fd, events: EPOLLOUT.rawValue)
                    return
                } catch {
                    lastError = error
                }
            } else {
                lastError = NetworkError(.system(errno: errno), description)
            }
            Glibc.close(fd)
            fd = -1
        }
        fail(lastError ?? NetworkError(.invalidAddress, operation))
    }

    func handleEvents(_ events: UInt32) {
        guard !isFinished, fd >= 0 else { return }
        let code = SocketCalls.pendingError(fd)
        let address = candidates[nextCandidate - 1]
        loop.unregister(slot: slot)
        slot = -1
        if code != 0 {
            Glibc.close(fd)
            fd = -1
            lastError = NetworkError(.system(errno: code), "connect to \(address)")
            tryNext()
            return
        }
        let connected = fd
        fd = -1
        do {
            let stream = try SocketStream.adopt(fd: connected, loop: loop, remoteAddress: address, alreadyInEpoll: true)
            finish(.success(stream))
        } catch {
            Glibc.close(connected)
            finish(.failure(error))
        }
    }

    /// Gives up: closes a socket in progress and reports `error`.
    func fail(_ error: NetworkError) {
        guard !isFinished else { return }
        if fd >= 0 {
            loop.unregister(slot: slot)
            Glibc.close(fd)
            fd = -1
        }
        finish(.failure(error))
    }

    private func finish(_ result: Result<SocketStream, NetworkError>) {
        guard let completion else { return }
        self.completion = nil
        if let timer { loop.cancel(timer) }
        timer = nil
        loop.deferCallback { completion(result) }
    }
}

extension EventLoop {
    /// Connects to `address` without blocking. `completion` runs once on the loop thread, after
    /// this call returns, with the connected stream or the error (`.timedOut` after `timeout`).
    /// Loop-thread only.
    public func connect(to address: SocketAddress, timeout: Duration? = nil,
                        options: StreamOptions = StreamOptions(),
                        completion: @escaping (Result<SocketStream, NetworkError>) -> Void) {
        let attempt = ConnectAttempt(loop: self, options: options, operation: "connect to \(address)",
                                     completion: completion)
        attempt.startTimer(timeout)
        attempt.start(addresses: [address])
    }

    /// Connects to `host` (numeric, or a name resolved off the loop thread with `getaddrinfo`)
    /// and `port`, trying each resolved address in turn. `timeout` covers resolution and
    /// connection. `completion` runs once on the loop thread, after this call returns.
    /// Loop-thread only.
    public func connect(host: String, port: UInt16, timeout: Duration? = nil,
                        options: StreamOptions = StreamOptions(),
                        completion: @escaping (Result<SocketStream, NetworkError>) -> Void) {
        let attempt = ConnectAttempt(loop: self, options: options, operation: "connect to \(host):\(port)",
                                     completion: completion)
        attempt.startTimer(timeout)
        if let address = SocketAddress(ip: host, port: port) {
            attempt.start(addresses: [address])
            return
        }
        attempt.resolvingOperation = "resolve \(host)"
        let box = LoopBound(attempt)
        NameResolver.resolveOffLoop(host: host, port: port, loop: self) { result in
            switch result {
            case .success(let addresses): box.value.start(addresses: addresses)
            case .failure(let error): box.value.fail(error)
            }
        }
    }
}

/// Carries a loop-thread-only object through `execute` back to its own loop thread. The value is
/// only touched on that thread; the box merely lets it cross the `@Sendable` boundary.
package struct LoopBound<Value>: @unchecked Sendable {
    package let value: Value
    package init(_ value: Value) { self.value = value }
}
