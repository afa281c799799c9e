import Synchronization
import SwiftWSCore
import SwiftWSEndpoints

/// A whole WebSocket message.
public enum WebSocketMessage: Sendable, Hashable {
    /// A text message.
    case text(String)
    /// A binary message.
    case binary([UInt8])
}

/// The connection closed; `status` says how (the peer's code and reason, or 1006).
public struct ConnectionClosed: Error, Sendable, Hashable, CustomStringConvertible {
    /// How the connection closed.
    public let status: CloseStatus
    /// Whether it closed normally (1000 or 1001), as Python `websockets`' `ConnectionClosedOK`.
    public var isNormal: Bool { status.code == .normalClosure || status.code == .goingAway }
    /// "connection closed: CODE REASON".
    public var description: String { "connection closed: \(status.code.rawValue) \(status.reason)" }
}

/// A WebSocket connection for async code, client or server side, shaped like Python
/// `websockets`: `for try await message in socket.messages`, `try await socket.send(…)`,
/// `await socket.close()`. Thread-safe; the connection itself lives on an `EventLoopThread`.
///
/// `messages` ends normally when the connection closes with 1000 or 1001 and throws
/// `ConnectionClosed` otherwise. At most `maxQueue` received messages wait unread: then the
/// connection stops reading from the peer until the consumer catches up (see `WebSocketMessages`).
public final class AsyncWebSocket: Sendable {
    private struct State {
        var status: CloseStatus?
        var waiters: [CheckedContinuation<CloseStatus, Never>] = []
    }

    /// Received messages, in order.
    public var messages: WebSocketMessages { WebSocketMessages(queue: queue) }
    /// The subprotocol agreed in the handshake.
    public let subprotocol: String?
    /// The request path (server side) or the path requested (client side).
    public let path: String
    /// The query string, if any.
    public let query: String?
    /// The peer's address.
    public let remoteAddress: SocketAddress?

    private let handle: ConnectionHandle
    let queue: MessageQueue
    private let state = Mutex(State())

    /// Wraps `connection` (on its loop thread); its handlers must call `received` and `closed`.
    init(connection: WebSocketConnection, maxQueue: Int) {
        queue = MessageQueue(maxQueue: maxQueue)
        subprotocol = connection.subprotocol
        path = connection.path
        query = connection.query
        remoteAddress = connection.remoteAddress
        handle = connection.handle
        let handle = self.handle
        queue.setResume { handle.withConnection { $0?.resumeReading() } }
    }

    /// Called on the loop thread for each message.
    func received(_ connection: WebSocketConnection, _ kind: MessageKind, _ bytes: UnsafeRawBufferPointer) {
        let message: WebSocketMessage
        switch kind {
        case .text: message = .text(String(decoding: bytes, as: UTF8.self))
        case .binary: message = .binary(Array(bytes))
        }
        if queue.push(message) { connection.pauseReading() }
    }

    /// Called on the loop thread when the connection closed.
    func closed(_ status: CloseStatus) {
        let waiters = state.withLock { state -> [CheckedContinuation<CloseStatus, Never>] in
            state.status = status
            defer { state.waiters.removeAll() }
            return state.waiters
        }
        queue.finish(ConnectionClosed(status: status))
        for waiter in waiters { waiter.resume(returning: status) }
    }

    /// How the connection closed, nil while it is open.
    public var closeStatus: CloseStatus? { state.withLock { $0.status } }

    /// Sends a text message; returns what happened to it (see `SendResult`). Throws
    /// `ConnectionClosed` when the connection is closed.
    @discardableResult
    public func send(_ text: String) async throws(ConnectionClosed) -> SendResult {
        try await deliver { handle, done in handle.send(text: text, completion: done) }
    }

    /// Sends a binary message; see `send(_:)` for text.
    @discardableResult
    public func send(_ bytes: [UInt8]) async throws(ConnectionClosed) -> SendResult {
        try await deliver { handle, done in handle.send(binary: bytes, completion: done) }
    }

    /// Sends a message.
    @discardableResult
    public func send(_ message: WebSocketMessage) async throws(ConnectionClosed) -> SendResult {
        switch message {
        case .text(let text): return try await send(text)
        case .binary(let bytes): return try await send(bytes)
        }
    }

    private func deliver(_ start: (ConnectionHandle, @escaping ConnectionHandle.SendCompletion) -> ConnectionHandle.Outcome)
        async throws(ConnectionClosed) -> SendResult {
        let result: Result<SendResult, SessionError> = await withCheckedContinuation { continuation in
            let outcome = start(handle) { result in continuation.resume(returning: result) }
            if outcome == .closed { continuation.resume(returning: .failure(.closed)) }
        }
        // A String is always valid UTF-8 and a message has no size rule here, so the only refusal
        // a whole message can meet is a closed connection.
        guard case .success(let sent) = result else {
            throw ConnectionClosed(status: closeStatus ?? CloseStatus(code: .abnormalClosure, reason: "connection closed"))
        }
        return sent
    }

    /// Starts the close handshake and waits until the connection is closed; returns how it
    /// closed (the peer's answer, or 1006 after the close timeout).
    @discardableResult
    public func close(code: CloseCode = .normalClosure, reason: String = "") async -> CloseStatus {
        handle.close(code: code, reason: reason)
        return await waitUntilClosed()
    }

    /// Waits until the connection is closed.
    public func waitUntilClosed() async -> CloseStatus {
        await withCheckedContinuation { continuation in
            let status = state.withLock { state -> CloseStatus? in
                if let status = state.status { return status }
                state.waiters.append(continuation)
                return nil
            }
            if let status { continuation.resume(returning: status) }
        }
    }

    /// Connects to `url` (`ws://…`) on `thread` (default: `EventLoopThread.shared`). At most
    /// `maxQueue` received messages wait unread before the connection stops reading.
    public static func connect(_ url: String, options: ClientOptions = ClientOptions(), maxQueue: Int = 16,
                               on thread: EventLoopThread? = nil) async throws -> AsyncWebSocket {
        let loopThread = try thread ?? EventLoopThread.shared
        let loop = loopThread.loop
        let result: Result<AsyncWebSocket, ClientError> = try await withCheckedThrowingContinuation { continuation in
            let posted = loop.execute {
                let handlers = ConnectionHandlers()
                let box = SocketBox()
                handlers.onMessage = { connection, kind, bytes in box.socket?.received(connection, kind, bytes) }
                handlers.onClose = { _, status in box.socket?.closed(status) }
                WebSocketClient.connect(to: url, on: loop, options: options, handlers: handlers) { result in
                    switch result {
                    case .success(let connection):
                        let socket = AsyncWebSocket(connection: connection, maxQueue: maxQueue)
                        box.socket = socket
                        continuation.resume(returning: .success(socket))
                    case .failure(let error):
                        continuation.resume(returning: .failure(error))
                    }
                }
            }
            if !posted { continuation.resume(throwing: NetworkError(.closed, "event loop")) }
        }
        return try result.get()
    }
}

/// Holds the wrapper for handlers created before it (loop-thread only).
final class SocketBox: @unchecked Sendable {
    var socket: AsyncWebSocket?
}
