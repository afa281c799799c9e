import Synchronization
import SwiftWSCore
import SwiftWSEndpoints
import SwiftWSTransport

/// Settings of the async layer itself, on top of `ConnectionOptions` (which the server's and
/// client's options carry for every face).
public struct AsyncSocketOptions: Sendable, Hashable {
    /// At most this many received messages (or frames of streamed messages) wait unread before
    /// the connection stops reading from the peer (Python `websockets`' `max_queue`).
    public var maxQueue: Int = 16
    /// `send` suspends while the connection's buffered output (`bufferedAmount`) is above this
    /// many bytes, until the peer has read it all (the drain). Keep it below
    /// `ConnectionOptions.maxBufferedAmount` (16 MiB by default), where sends are dropped.
    public var sendHighWaterMark: Int = 1 << 20
    /// Server side: run each connection's handler task on the server's event loop thread (a task
    /// executor preference) instead of the cooperative thread pool. Messages and sends then
    /// never cross threads, which is cheaper per message (an echo server: 0.73–0.8× the callback
    /// API's messages per CPU-second, against about 0.45× on the pool; bench/README.md); but a handler
    /// that computes for long stalls every connection of that loop, as in Python's asyncio.
    /// Default off.
    public var runsHandlersOnLoop: Bool = false

    /// The defaults: 16 messages, 1 MiB, handlers on the thread pool.
    public init(maxQueue: Int = 16, sendHighWaterMark: Int = 1 << 20, runsHandlersOnLoop: Bool = false) {
        self.maxQueue = maxQueue
        self.sendHighWaterMark = sendHighWaterMark
        self.runsHandlersOnLoop = runsHandlersOnLoop
    }
}

/// A WebSocket connection for async code, client or server side, shaped like Python
/// `websockets`: `try await socket.receive()`, `for try await message in socket.messages`,
/// `try await socket.send(…)`, `await socket.close()`. Thread-safe; the connection itself lives
/// on an `EventLoopThread` and every call reaches it through its `ConnectionHandle`.
///
/// Receiving: one consumer task at a time (`receive`, `messages` or `receiveStreaming`). Sending:
/// from any task; `send` returns once the message is handed to the connection, and suspends
/// while the connection's buffered output is above `AsyncSocketOptions.sendHighWaterMark`.
public final class AsyncWebSocket: Sendable {
    private struct State {
        var status: CloseStatus?
        var closeRequested: CloseStatus?
        var waiters: [CheckedContinuation<CloseStatus, Never>] = []
    }

    /// Received messages, in order (see `WebSocketMessages`).
    public var messages: WebSocketMessages { WebSocketMessages(queue: queue) }
    /// Server or client.
    public let role: Role
    /// The subprotocol agreed in the handshake.
    public let subprotocol: String?
    /// The request path: the one the client asked for (server side) or requested (client side).
    public let path: String
    /// The query string (without "?"), if any.
    public let query: String?
    /// The peer's address (nil for Unix sockets).
    public let remoteAddress: SocketAddress?
    /// The peer's handshake headers: on a server the client's upgrade request (Cookie,
    /// Authorization, User-Agent, …), on a client the server's 101 response.
    public let handshakeHeaders: HTTPHeaders
    /// Whether the connection runs over TLS (wss://).
    public let isSecure: Bool

    let handle: ConnectionHandle
    /// The connection's loop.
    let loop: EventLoop
    let queue: MessageQueue
    private let lifecycle = Mutex(State())
    private let sendHighWaterMark: Int
    /// Drain and ping waiters, touched only on the loop thread.
    let loopSide: SocketLoopSide

    /// Wraps `connection` (on its loop thread) and makes itself the connection's binding object,
    /// which the handlers of `installHandlers(on:)` find.
    init(connection: WebSocketConnection, options: AsyncSocketOptions) {
        queue = MessageQueue(maxQueue: options.maxQueue)
        sendHighWaterMark = max(options.sendHighWaterMark, 0)
        role = connection.role
        subprotocol = connection.subprotocol
        path = connection.path
        query = connection.query
        remoteAddress = connection.remoteAddress
        handshakeHeaders = connection.peerHandshakeHeaders
        isSecure = connection.isSecure
        handle = connection.handle
        loop = connection.loop
        loopSide = SocketLoopSide()
        loopSide.connection = connection
        let handle = self.handle
        queue.setResume { handle.withConnection { $0?.resumeReading() } }
        connection.bindingObject = self
    }

    /// Points `handlers` at the `AsyncWebSocket` each connection carries as its binding object.
    static func installHandlers(on handlers: ConnectionHandlers) {
        func socket(_ connection: WebSocketConnection) -> AsyncWebSocket? { connection.bindingObject as? AsyncWebSocket }
        handlers.onMessage = { connection, kind, bytes in
            guard let socket = socket(connection) else { return }
            let message: WebSocketMessage
            switch kind {
            case .text: message = .text(String(decoding: bytes, as: UTF8.self))
            case .binary: message = .binary(Array(bytes))
            }
            if socket.queue.push(.message(message)) { connection.pauseReading() }
        }
        handlers.onFragment = { connection, kind, bytes, isFirst, isFinal in
            guard let socket = socket(connection) else { return }
            if socket.queue.push(.fragment(kind, Array(bytes), isFirst: isFirst, isFinal: isFinal)) { connection.pauseReading() }
        }
        handlers.onPong = { connection, payload in socket(connection)?.loopSide.pongReceived(payload) }
        handlers.onDrain = { connection in socket(connection)?.loopSide.drained() }
        handlers.onClose = { connection, status in socket(connection)?.closed(status) }
    }

    /// Loop thread: the connection closed.
    private func closed(_ status: CloseStatus) {
        let waiters = lifecycle.withLock { state -> [CheckedContinuation<CloseStatus, Never>] in
            state.status = status
            defer { state.waiters.removeAll() }
            return state.waiters
        }
        loopSide.closed(.closed(status))
        queue.finish(.closed(status))
        for waiter in waiters { waiter.resume(returning: status) }
    }

    /// The peer and path, for log records.
    var logMetadata: [String: String] {
        ["remote": remoteAddress?.description ?? "unix", "path": path]
    }

    /// How the connection closed; nil while it is open or closing.
    public var closeStatus: CloseStatus? { lifecycle.withLock { $0.status } }

    /// Runs `body` with the connection (nil once it closed) on its loop thread: at once when the
    /// caller is on it (a handler with `runsHandlersOnLoop`), otherwise posted through the
    /// handle. Returns false, without running `body`, when the connection is known to be closed.
    private func onConnection(_ body: @escaping @Sendable (WebSocketConnection?) -> Void) -> Bool {
        if loop.isInLoopThread {
            body(handle.isClosed ? nil : loopSide.connection)
            return true
        }
        return handle.withConnection(body) == .queued
    }

    /// The error a call on a closed or closing connection throws (see `WebSocketError.closed`).
    private var closedError: WebSocketError {
        let status = lifecycle.withLock { $0.status ?? $0.closeRequested }
        return .closed(status ?? CloseStatus(code: .abnormalClosure, reason: "closing"))
    }

    /// Where the connection is: `.open`, `.closing` (a close handshake or a timeout is ending it:
    /// sends fail) or `.closed`. Asks the loop thread.
    public var state: SessionState {
        get async {
            let current: SessionState? = await withCheckedContinuation { continuation in
                let posted = onConnection { connection in continuation.resume(returning: connection?.state ?? .closed) }
                if !posted { continuation.resume(returning: nil) }
            }
            return current ?? .closed
        }
    }

    /// Bytes accepted by sends that the peer has not read yet. Asks the loop thread.
    public var bufferedAmount: Int {
        get async {
            await withCheckedContinuation { continuation in
                let posted = onConnection { connection in continuation.resume(returning: connection?.bufferedAmount ?? 0) }
                if !posted { continuation.resume(returning: 0) }
            }
        }
    }

    // MARK: Receiving

    /// Waits for the next whole message. Throws `.closed` (with how it closed, normal or not)
    /// once the connection has closed and every queued message was taken, `.cancelled` when the
    /// task is cancelled.
    public nonisolated(nonsending) func receive() async throws(WebSocketError) -> WebSocketMessage {
        try await queue.nextMessage()
    }

    /// Waits for the next message and returns it frame by frame: its kind, and its payload as an
    /// async sequence of chunks, so a large message never has to be held whole. Messages reach
    /// the connection in frames once they are larger than `SessionConfiguration
    /// .streamingThreshold` (set it in the server's or client's `connection.session` options);
    /// smaller ones arrive as a single chunk. Throws like `receive()`.
    public nonisolated(nonsending) func receiveStreaming() async throws(WebSocketError) -> IncomingMessage {
        try await queue.nextStreamed()
    }

    // MARK: Sending

    /// Sends a text message. Suspends until it is handed to the connection and, while the
    /// connection's buffered output is above `sendHighWaterMark`, until the peer has read it all.
    /// Throws `.closed` (closed or closing), `.dropped` (`maxBufferedAmount` with several senders).
    public nonisolated(nonsending) func send(_ text: String) async throws(WebSocketError) {
        try await transmit(.text(text), waitingForDrain: true)
    }

    /// Sends a binary message; see `send(_:)` for text.
    public nonisolated(nonsending) func send(_ bytes: [UInt8]) async throws(WebSocketError) {
        try await transmit(.binary(bytes), waitingForDrain: true)
    }

    /// Sends a message; see `send(_:)` for text.
    public nonisolated(nonsending) func send(_ message: WebSocketMessage) async throws(WebSocketError) {
        try await transmit(Outgoing(message), waitingForDrain: true)
    }

    /// Sends a message without waiting for the peer to read: hands it to the connection (one hop
    /// to the loop thread) and returns what happened, as every face reports it — `.sent`,
    /// `.buffered` (it waits behind unread bytes: back off) or `.dropped` (`maxBufferedAmount`).
    /// Throws `.closed` or `.invalid` when it was refused.
    @discardableResult
    public nonisolated(nonsending) func trySend(_ message: WebSocketMessage) async throws(WebSocketError) -> SendResult {
        try await transmit(Outgoing(message), waitingForDrain: false)
    }

    /// Sends one message of `kind` in fragments, one frame per element of `fragments`, as they
    /// come: a message of any size with memory bounded by one fragment plus the high-water mark.
    /// Each fragment waits like `send` (backpressure). The frame of the last element ends the
    /// message (an empty sequence sends one empty frame). Text fragments may split a character;
    /// together they must be UTF-8 (else `.invalid(.invalidUTF8)` and the message is unusable:
    /// close the connection). Only one message can be in fragments at a time on a connection:
    /// a whole message sent meanwhile throws `.invalid(.fragmentedMessageInProgress)`. An error
    /// thrown by `fragments` is rethrown by this call only after the connection is closed with
    /// 1011, since the peer cannot be told the message ends early.
    public func send<Fragments: AsyncSequence>(_ kind: MessageKind, fragments: Fragments) async throws
    where Fragments.Element == [UInt8] {
        var held: [UInt8]?
        do {
            for try await fragment in fragments {
                if let previous = held { try await sendFragment(kind, previous, isFinal: false) }
                held = fragment
            }
        } catch let error as WebSocketError {
            throw error
        } catch {
            await close(code: .internalError, reason: "message source failed")
            throw error
        }
        try await sendFragment(kind, held ?? [], isFinal: true)
    }

    /// Sends one fragment of a message (`isFinal` ends it), waiting like `send`.
    public nonisolated(nonsending) func sendFragment(_ kind: MessageKind, _ bytes: [UInt8], isFinal: Bool) async throws(WebSocketError) {
        try await transmit(.fragment(kind, bytes, isFinal: isFinal), waitingForDrain: true)
    }

    /// What a send hands to the connection: a value rather than a closure, so that a send made
    /// on the loop thread allocates no closure context.
    private enum Outgoing: Sendable {
        case text(String)
        case binary([UInt8])
        case fragment(MessageKind, [UInt8], isFinal: Bool)

        init(_ message: WebSocketMessage) {
            switch message {
            case .text(let text): self = .text(text)
            case .binary(let bytes): self = .binary(bytes)
            }
        }

        /// Loop thread: gives it to `connection`.
        func send(on connection: WebSocketConnection) throws(SessionError) -> SendResult {
            switch self {
            case .text(let text):
                return try connection.send(text: text)
            case .binary(let bytes):
                return try connection.send(binary: bytes)
            case .fragment(let kind, let bytes, let isFinal):
                return try bytes.withUnsafeBytes { raw in
                    Result { () throws(SessionError) in try connection.sendFragment(kind, raw, isFinal: isFinal) }
                }.get()
            }
        }
    }

    /// Runs the send on the loop thread; with `waitingForDrain`, then waits while the buffered
    /// output is above the high-water mark.
    @discardableResult
    private nonisolated(nonsending) func transmit(_ outgoing: Outgoing, waitingForDrain: Bool) async throws(WebSocketError) -> SendResult {
        // On the loop thread (`runsHandlersOnLoop`): send at once, and suspend only to wait for
        // the drain — no task switch per message.
        if loop.isInLoopThread {
            let (result, mustWait) = try sendOnLoop(outgoing, waitingForDrain: waitingForDrain)
            if mustWait { try await waitForDrainOnLoop() }
            return result
        }
        return try await transmitPosted(outgoing, waitingForDrain: waitingForDrain)
    }

    /// Off the loop thread: posts the send to the loop and waits for it (and for the drain,
    /// like `transmit`). A function of its own so that the on-loop path's async frame stays small.
    private nonisolated(nonsending) func transmitPosted(_ outgoing: Outgoing, waitingForDrain: Bool) async throws(WebSocketError) -> SendResult {
        let highWaterMark = sendHighWaterMark
        let loopSide = self.loopSide
        let outcome: Result<SendResult, WebSocketError>? = await withCheckedContinuation { continuation in
            let posted = onConnection { connection in
                guard let connection else { return continuation.resume(returning: nil) }
                let result: SendResult
                do throws(SessionError) {
                    result = try outgoing.send(on: connection)
                } catch {
                    return continuation.resume(returning: .failure(error == .closed ? self.closedError : .invalid(error)))
                }
                guard waitingForDrain else { return continuation.resume(returning: .success(result)) }
                if result == .dropped { return continuation.resume(returning: .failure(.dropped)) }
                guard connection.bufferedAmount > highWaterMark else { return continuation.resume(returning: .success(result)) }
                loopSide.waitForDrain { error in continuation.resume(returning: error.map { .failure($0) } ?? .success(result)) }
            }
            if !posted { continuation.resume(returning: nil) }
        }
        guard let outcome else { throw closedError }
        return try outcome.get()
    }

    /// Loop thread: sends `outgoing` at once; returns what happened and whether the caller must
    /// wait for the drain (buffered output above the high-water mark).
    private func sendOnLoop(_ outgoing: Outgoing, waitingForDrain: Bool) throws(WebSocketError) -> (SendResult, mustWait: Bool) {
        guard !handle.isClosed, let connection = loopSide.connection else { throw closedError }
        let result: SendResult
        do throws(SessionError) {
            result = try outgoing.send(on: connection)
        } catch {
            throw error == .closed ? closedError : .invalid(error)
        }
        guard waitingForDrain else { return (result, false) }
        if result == .dropped { throw .dropped }
        return (result, connection.bufferedAmount > sendHighWaterMark)
    }

    /// Loop thread: waits until the connection's buffered output was written (or it closed).
    private nonisolated(nonsending) func waitForDrainOnLoop() async throws(WebSocketError) {
        let loopSide = self.loopSide
        let failure: WebSocketError? = await withCheckedContinuation { continuation in
            loopSide.waitForDrain { error in continuation.resume(returning: error) }
        }
        if let failure { throw failure }
    }

    // MARK: Control

    /// Sends a ping and returns the time until its pong arrived (a later pong also answers an
    /// earlier ping, RFC 6455 section 5.5.3). Throws `.closed` when the connection closes first,
    /// `.dropped` when `maxBufferedAmount` applied.
    public func ping() async throws(WebSocketError) -> Duration {
        let loopSide = self.loopSide
        let outcome: Result<Duration, WebSocketError>? = await withCheckedContinuation { continuation in
            let posted = onConnection { connection in
                guard let connection else { return continuation.resume(returning: nil) }
                let payload = loopSide.nextPingPayload()
                do throws(SessionError) {
                    if try connection.ping(payload) == .dropped { return continuation.resume(returning: .failure(.dropped)) }
                } catch {
                    return continuation.resume(returning: .failure(error == .closed ? self.closedError : .invalid(error)))
                }
                loopSide.waitForPong(payload) { result in continuation.resume(returning: result) }
            }
            if !posted { continuation.resume(returning: nil) }
        }
        guard let outcome else { throw closedError }
        return try outcome.get()
    }

    /// Starts the close handshake with `code` and `reason` (at most 123 bytes of UTF-8) and
    /// waits until the connection is closed; returns how it closed (the peer's answer, or 1006
    /// after `ConnectionOptions.closeTimeout`). Messages that arrive meanwhile stay readable.
    @discardableResult
    public func close(code: CloseCode = .normalClosure, reason: String = "") async -> CloseStatus {
        lifecycle.withLock { state in
            if state.closeRequested == nil { state.closeRequested = CloseStatus(code: code, reason: reason) }
        }
        handle.close(code: code, reason: reason)
        return await waitUntilClosed()
    }

    /// Drops the TCP connection at once, without a close handshake (status 1006).
    public func abort() {
        handle.withConnection { $0?.abort() }
    }

    /// Waits until the connection is closed and returns how.
    public func waitUntilClosed() async -> CloseStatus {
        await withCheckedContinuation { continuation in
            let status = lifecycle.withLock { state -> CloseStatus? in
                if let status = state.status { return status }
                state.waiters.append(continuation)
                return nil
            }
            if let status { continuation.resume(returning: status) }
        }
    }

    // MARK: Topics (server side)

    /// Runs `body` on the loop thread with this connection's server and the connection (nil once
    /// it closed: a closed member's server can still publish its "left" message); nil on a
    /// client connection.
    func withServer<T: Sendable>(_ body: @escaping @Sendable (WebSocketServer, WebSocketConnection?) -> T) async -> T? {
        let loopSide = self.loopSide
        let loop = self.loop
        return await withCheckedContinuation { continuation in
            let run: @Sendable (WebSocketConnection?) -> Void = { connection in
                guard let server = loopSide.server else { return continuation.resume(returning: nil) }
                continuation.resume(returning: body(server, connection))
            }
            if handle.withConnection(run) == .closed, !loop.execute({ run(nil) }) {
                continuation.resume(returning: nil)
            }
        }
    }

    /// Subscribes this connection to `topic` on its server (a connection can be in many topics,
    /// and leaves them all when it closes). Does nothing on a client or closed connection.
    public func subscribe(to topic: String) async {
        _ = await withServer { server, connection in connection.map { server.subscribe($0, to: topic) } }
    }

    /// Unsubscribes this connection from `topic`.
    public func unsubscribe(from topic: String) async {
        _ = await withServer { server, connection in connection.map { server.unsubscribe($0, from: topic) } }
    }

    /// Sends `message` to the subscribers of `topic` on this connection's server, this
    /// connection excepted (a chat member does not get its own message back); the frame is built
    /// once. Returns how many connections took it (0 on a client connection).
    @discardableResult
    public func publish(_ message: WebSocketMessage, to topic: String) async -> Int {
        await withServer { server, connection in server.publish(topic, message, excluding: connection) } ?? 0
    }

    // MARK: Connecting

    /// Connects to `url` (`ws://` or `wss://`; host names resolved off the loop) on `thread`
    /// (default: `EventLoopThread.shared`) and completes the opening handshake. Throws
    /// `.connectFailed` with the reason (bad URL, resolution, refused, TLS, handshake) or
    /// `.loopStopped`.
    public static func connect(_ url: String, options: ClientOptions = ClientOptions(),
                               socketOptions: AsyncSocketOptions = AsyncSocketOptions(),
                               on thread: EventLoopThread? = nil) async throws(WebSocketError) -> AsyncWebSocket {
        let loopThread: EventLoopThread
        if let thread {
            loopThread = thread
        } else {
            do throws(NetworkError) {
                loopThread = try EventLoopThread.shared
            } catch {
                throw .loopStopped
            }
        }
        let loop = loopThread.loop
        let result: Result<AsyncWebSocket, WebSocketError> = await withCheckedContinuation { continuation in
            let posted = loop.execute {
                let handlers = ConnectionHandlers()
                installHandlers(on: handlers)
                WebSocketClient.connect(to: url, on: loop, options: options, handlers: handlers) { result in
                    switch result {
                    case .success(let connection):
                        continuation.resume(returning: .success(AsyncWebSocket(connection: connection, options: socketOptions)))
                    case .failure(let error):
                        continuation.resume(returning: .failure(.connectFailed(error)))
                    }
                }
            }
            if !posted { continuation.resume(returning: .failure(.loopStopped)) }
        }
        return try result.get()
    }
}
