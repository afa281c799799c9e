import Synchronization
import SwiftWSCore
import SwiftWSEndpoints
import SwiftWSTransport

/// An upgrade hook's answer in the async API (Sendable, unlike the endpoints layer's
/// `UpgradeDecision`, which can carry arbitrary user data).
public enum AsyncUpgradeDecision: Sendable, Hashable {
    /// Switch protocols, announcing `subprotocol` (one the client offered) and extra `headers`.
    case accept(subprotocol: String? = nil, headers: HTTPHeaders = HTTPHeaders())
    /// Refuse with an HTTP response (`status` 200...599; `body` is sent as text/plain).
    case reject(status: Int, body: String = "", headers: HTTPHeaders = HTTPHeaders())

    var endpointsDecision: UpgradeDecision {
        switch self {
        case .accept(let subprotocol, let headers): return .accept(UpgradeAcceptance(subprotocol: subprotocol, headers: headers))
        case .reject(let status, let body, let headers): return .reject(status: status, body: body, headers: headers)
        }
    }
}

/// A WebSocket server for async code: each connection is handed to `handler` as an
/// `AsyncWebSocket` in its own task; when the handler returns, the connection is closed (1000),
/// and when it throws (other than `WebSocketError`), with 1011. Thread-safe; the server lives on
/// an `EventLoopThread`.
///
/// ```swift
/// let server = try await AsyncWebSocketServer.start(host: "localhost", port: 9001) { socket in
///     for try await message in socket.messages { try await socket.send(message) }
/// }
/// ```
public final class AsyncWebSocketServer: Sendable {
    /// A hook that decides each upgrade request (after the Origin check), awaiting what it needs
    /// (a session store, a database). Until it answers the request waits; the handshake timeout
    /// (`ServerOptions.handshakeTimeout`) still applies.
    public typealias UpgradeHook = @Sendable (UpgradeRequest, SocketAddress?) async -> AsyncUpgradeDecision
    /// Answers a plain HTTP request (no Upgrade header) on the loop thread: keep it quick.
    public typealias HTTPHandler = @Sendable (HTTPRequestHead) -> HTTPResponse

    /// The address the server listens on (with the port chosen for port 0).
    public let localAddress: SocketAddress
    private let thread: EventLoopThread
    private let ownsThread: Bool
    private let server: LoopBound<WebSocketServer>
    /// Whether `shutdown` began and ended, and the tasks waiting for its end.
    private let shutdownState = Mutex<(begun: Bool, ended: Bool, waiters: [CheckedContinuation<Void, Never>])>((false, false, []))

    private init(localAddress: SocketAddress, thread: EventLoopThread, ownsThread: Bool, server: LoopBound<WebSocketServer>) {
        self.localAddress = localAddress
        self.thread = thread
        self.ownsThread = ownsThread
        self.server = server
    }

    /// Starts a server on `host` ("127.0.0.1", "::", "0.0.0.0", or a name such as "localhost",
    /// resolved off the loop: the first address the resolver prefers) and `port` (0: any free
    /// port; see `localAddress`). See `start(address:…)` for the rest.
    public static func start(host: String, port: UInt16, options: ServerOptions = ServerOptions(),
                             socketOptions: AsyncSocketOptions = AsyncSocketOptions(), on thread: EventLoopThread? = nil,
                             onUpgrade: UpgradeHook? = nil, onHTTPRequest: HTTPHandler? = nil,
                             configure: (@Sendable (WebSocketServer) -> Void)? = nil,
                             handler: @escaping @Sendable (AsyncWebSocket) async throws -> Void)
        async throws(WebSocketError) -> AsyncWebSocketServer {
        let loopThread = try makeThread(thread)
        let resolved: Result<[SocketAddress], NetworkError>? = await withCheckedContinuation { continuation in
            // `resolve` never calls back once the loop has stopped; `execute` tells.
            guard loopThread.loop.execute({}) else { return continuation.resume(returning: nil) }
            loopThread.loop.resolve(host: host, port: port) { continuation.resume(returning: $0) }
        }
        let address: SocketAddress
        switch resolved {
        case nil:
            throw .loopStopped
        case .failure(let error)?:
            if thread == nil { loopThread.shutdown() }
            throw .listenFailed(error)
        case .success(let addresses)?:
            address = addresses[0]
        }
        return try await start(address: address, options: options, socketOptions: socketOptions, thread: loopThread,
                               ownsThread: thread == nil, onUpgrade: onUpgrade, onHTTPRequest: onHTTPRequest,
                               configure: configure, handler: handler)
    }

    /// Starts a server on `address`: IPv4, IPv6 (`SocketAddress(ip: "::1", port: 0)`) or a Unix
    /// socket (`SocketAddress(unixPath:)`; its file is removed at shutdown). With
    /// `options.tls` set it serves wss:// (`TLSConfiguration.server(certificateChainFile:…)`).
    ///
    /// - Parameters:
    ///   - address: where to listen.
    ///   - options: the server's settings for every face (limits, timeouts, TLS, subprotocols).
    ///   - socketOptions: the async layer's own (receive queue, send high-water mark).
    ///   - thread: the loop thread to run on; default a new one, ended by `shutdown`.
    ///   - onUpgrade: decides each upgrade (async); default: accept with the first of
    ///     `options.subprotocols` the client offered.
    ///   - onHTTPRequest: answers plain HTTP requests (health checks, a page); default 404.
    ///   - configure: runs on the loop thread before the first connection, with the
    ///     callback-level server (for what the async API does not wrap).
    ///   - handler: serves one connection; the connection closes when it returns.
    /// - Throws: `.listenFailed` (bind, listen, TLS setup), `.loopStopped`.
    public static func start(address: SocketAddress, options: ServerOptions = ServerOptions(),
                             socketOptions: AsyncSocketOptions = AsyncSocketOptions(), on thread: EventLoopThread? = nil,
                             onUpgrade: UpgradeHook? = nil, onHTTPRequest: HTTPHandler? = nil,
                             configure: (@Sendable (WebSocketServer) -> Void)? = nil,
                             handler: @escaping @Sendable (AsyncWebSocket) async throws -> Void)
        async throws(WebSocketError) -> AsyncWebSocketServer {
        let loopThread = try makeThread(thread)
        return try await start(address: address, options: options, socketOptions: socketOptions, thread: loopThread,
                               ownsThread: thread == nil, onUpgrade: onUpgrade, onHTTPRequest: onHTTPRequest,
                               configure: configure, handler: handler)
    }

    private static func makeThread(_ given: EventLoopThread?) throws(WebSocketError) -> EventLoopThread {
        if let given { return given }
        do throws(NetworkError) {
            return try EventLoopThread()
        } catch {
            throw .listenFailed(error)
        }
    }

    private static func start(address: SocketAddress, options: ServerOptions, socketOptions: AsyncSocketOptions,
                              thread: EventLoopThread, ownsThread: Bool, onUpgrade: UpgradeHook?,
                              onHTTPRequest: HTTPHandler?, configure: (@Sendable (WebSocketServer) -> Void)?,
                              handler: @escaping @Sendable (AsyncWebSocket) async throws -> Void)
        async throws(WebSocketError) -> AsyncWebSocketServer {
        let loop = thread.loop
        let started: Result<(LoopBound<WebSocketServer>, SocketAddress), NetworkError>
        do throws(NetworkError) {
            started = try await thread.submit {
                do throws(NetworkError) {
                    let server = try WebSocketServer(loop: loop, address: address, options: options)
                    AsyncWebSocket.installHandlers(on: server.handlers)
                    let executor = socketOptions.runsHandlersOnLoop ? LoopTaskExecutor(loop: loop) : nil
                    // With `options.loops` > 1 every loop runs these handlers (ServerGroup copies
                    // them): each connection belongs to the server and loop of the calling thread.
                    server.handlers.onOpen = { [unowned server] connection in
                        let own = server.group?.serverOfCallingThread ?? server
                        let socket = AsyncWebSocket(connection: connection, options: socketOptions)
                        socket.loopSide.server = own
                        let onItsLoop = own === server ? executor
                            : socketOptions.runsHandlersOnLoop ? LoopTaskExecutor(loop: own.loop) : nil
                        Task(executorPreference: onItsLoop) { await serve(socket, with: handler) }
                    }
                    if let onUpgrade { server.onUpgrade = deferredUpgrade(onUpgrade, server: server) }
                    if let onHTTPRequest { server.onHTTPRequest = onHTTPRequest }
                    configure?(server)
                    return .success((LoopBound(server), server.localAddress))
                } catch {
                    return .failure(error)
                }
            }
        } catch {
            throw .loopStopped
        }
        switch started {
        case .success(let (server, localAddress)):
            WebSocketLog.report(.info, "server listening", ["address": localAddress.description])
            return AsyncWebSocketServer(localAddress: localAddress, thread: thread, ownsThread: ownsThread, server: server)
        case .failure(let error):
            if ownsThread { thread.shutdown() }
            throw .listenFailed(error)
        }
    }

    /// Runs the handler; closes with 1000 when it returns, 1011 when it throws something other
    /// than the connection's own end.
    private static func serve(_ socket: AsyncWebSocket, with handler: @Sendable (AsyncWebSocket) async throws -> Void) async {
        WebSocketLog.report(.debug, "connection opened", socket.logMetadata)
        do {
            // One cancellation handler for the whole handler instead of one per receive (see
            // `MessageQueue.State.coveredTask`).
            try await withTaskCancellationHandler {
                withUnsafeCurrentTask { socket.queue.cover($0) }
                defer { socket.queue.cover(nil) }
                try await handler(socket)
            } onCancel: {
                socket.queue.cancelCoveredWaiter()
            }
        } catch is WebSocketError {
        } catch {
            WebSocketLog.report(.error, "connection handler failed", socket.logMetadata.merging(["error": "\(error)"]) { $1 })
            await socket.close(code: .internalError, reason: "handler failed")
        }
        let status = await socket.close()
        WebSocketLog.report(status.isNormalClosure ? .debug : .warning, "connection closed",
                            socket.logMetadata.merging(["code": "\(status.code.rawValue)", "reason": status.reason]) { $1 })
    }

    /// The endpoints layer's upgrade hook for an async one: it defers the decision
    /// (`UpgradeDecision.later`), runs the hook in a task, and answers the `PendingUpgrade` back
    /// on the loop thread (an answer after the handshake timeout is ignored there).
    private static func deferredUpgrade(_ hook: @escaping UpgradeHook, server: WebSocketServer)
        -> (UpgradeRequest, SocketAddress?) -> UpgradeDecision {
        return { [unowned server] request, address in
            // The server of the loop running this hook (several with `options.loops` > 1).
            let own = server.group?.serverOfCallingThread ?? server
            let loop = own.loop
            guard let pending = own.deferUpgrade() else { return .reject(status: 500, body: "cannot defer the upgrade\n") }
            let reply = LoopBound(pending)
            Task {
                let decision = await hook(request, address)
                if case .reject(let status, _, _) = decision {
                    WebSocketLog.report(.info, "upgrade refused", ["status": "\(status)", "path": request.path,
                                                                   "remote": address?.description ?? "unix"])
                }
                _ = loop.execute { reply.value.decide(decision.endpointsDecision) }
            }
            return .later
        }
    }

    // MARK: Broadcast and topics

    /// Runs `body` with the server on its loop thread; nil when the loop or server is gone.
    private func onLoop<T: Sendable>(_ body: @escaping @Sendable (WebSocketServer) -> T) async -> T? {
        let server = self.server
        return await withCheckedContinuation { continuation in
            let posted = thread.loop.execute { continuation.resume(returning: body(server.value)) }
            if !posted { continuation.resume(returning: nil) }
        }
    }

    /// Sends `message` to every open connection; the frame is built (and compressed) once per
    /// loop. Returns how many connections took it (slow readers over their limit drop it); on
    /// several loops (`ServerOptions.loops`), how many of the first loop's did: the other loops
    /// deliver their share asynchronously.
    @discardableResult
    public func broadcast(_ message: WebSocketMessage) async -> Int {
        await onLoop { server in
            switch message {
            case .text(let text): return server.broadcast(text: text)
            case .binary(let bytes): return server.broadcast(binary: bytes)
            }
        } ?? 0
    }

    /// Subscribes `socket` to `topic` (a connection can be in many; it leaves them all when it
    /// closes). The same as `socket.subscribe(to:)`.
    public func subscribe(_ socket: AsyncWebSocket, to topic: String) async {
        await socket.subscribe(to: topic)
    }

    /// Unsubscribes `socket` from `topic`.
    public func unsubscribe(_ socket: AsyncWebSocket, from topic: String) async {
        await socket.unsubscribe(from: topic)
    }

    /// Sends `message` to every subscriber of `topic` (but `excluding`, e.g. the sender); the frame
    /// is built once. Returns how many connections took it.
    @discardableResult
    public func publish(_ topic: String, _ message: WebSocketMessage, excluding: AsyncWebSocket? = nil) async -> Int {
        if let excluding { return await excluding.publish(message, to: topic) }
        return await onLoop { server in server.publish(topic, message, excluding: nil) } ?? 0
    }

    /// How many connections subscribe to `topic`.
    public func subscriberCount(_ topic: String) async -> Int {
        await onLoop { $0.subscriberCount(topic) } ?? 0
    }

    /// Open connections plus handshakes in progress.
    public var connectionCount: Int {
        get async { await onLoop { $0.connectionCount } ?? 0 }
    }

    // MARK: Shutdown

    /// Stops accepting, closes every connection with 1001 ("server shutting down"), waits until
    /// they are closed (those still open after `timeout` are dropped), then stops the loop thread
    /// if this server created it. Safe to call more than once; later calls wait for the first.
    public func shutdown(timeout: Duration = .seconds(5)) async {
        let server = self.server
        let first = shutdownState.withLock { state -> Bool in
            defer { state.begun = true }
            return !state.begun
        }
        guard first else { return await waitUntilShutDown() }
        let _: Void = await withCheckedContinuation { continuation in
            let posted = thread.loop.execute {
                server.value.shutdown(timeout: timeout) { continuation.resume(returning: ()) }
            }
            if !posted { continuation.resume(returning: ()) }
        }
        if ownsThread { thread.shutdown() }
        WebSocketLog.report(.info, "server stopped", ["address": localAddress.description])
        let waiters = shutdownState.withLock { state -> [CheckedContinuation<Void, Never>] in
            state.ended = true
            defer { state.waiters.removeAll() }
            return state.waiters
        }
        for waiter in waiters { waiter.resume() }
    }

    /// Waits until `shutdown` (called by another task) has finished.
    public func waitUntilShutDown() async {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            let ended = shutdownState.withLock { state -> Bool in
                if state.ended { return true }
                state.waiters.append(continuation)
                return false
            }
            if ended { continuation.resume() }
        }
    }

    /// Serves until the calling task is cancelled, then shuts down gracefully, waiting at most
    /// 5 seconds for the connections (see `run(shutdownTimeout:)`). Exactly the requirement of
    /// swift-service-lifecycle's `Service`.
    public func run() async {
        await run(shutdownTimeout: .seconds(5))
    }

    /// Serves until the calling task is cancelled, then shuts down gracefully (`shutdown`). This
    /// is the shape of swift-service-lifecycle's `Service.run()`: `extension
    /// AsyncWebSocketServer: Service {}` in an application that uses it makes the server one of
    /// its services, shut down on SIGTERM with the others.
    public func run(shutdownTimeout: Duration) async {
        await withTaskCancellationHandler {
            await waitUntilShutDown()
        } onCancel: {
            Task { await self.shutdown(timeout: shutdownTimeout) }
        }
    }
}

/// A loop-thread-only value carried across threads to be used back on its loop thread.
///
/// `@unchecked Sendable`: `value` is read only inside work posted to the loop it belongs to (the
/// async API reaches the server and upgrade answers through `loop.execute`), so it is never
/// touched by two threads.
final class LoopBound<Value>: @unchecked Sendable {
    let value: Value
    init(_ value: Value) { self.value = value }
}

extension WebSocketServer {
    /// Publishes a `WebSocketMessage` (the async API's message type) to `topic`.
    func publish(_ topic: String, _ message: WebSocketMessage, excluding: WebSocketConnection?) -> Int {
        switch message {
        case .text(let text): return publish(topic, text: text, excluding: excluding)
        case .binary(let bytes): return publish(topic, binary: bytes, excluding: excluding)
        }
    }
}
