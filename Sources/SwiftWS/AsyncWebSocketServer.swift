import SwiftWSCore
import SwiftWSEndpoints

/// A WebSocket server for async code: each connection is handed to `handler` as an
/// `AsyncWebSocket` in its own task; when the handler returns, the connection is closed (1000).
/// Thread-safe; the server lives on an `EventLoopThread`.
///
/// ```swift
/// let server = try await AsyncWebSocketServer.start(host: "127.0.0.1", port: 9001) { socket in
///     for try await message in socket.messages { try await socket.send(message) }
/// }
/// ```
public final class AsyncWebSocketServer: Sendable {
    /// The address the server listens on (with the port chosen for port 0).
    public let localAddress: SocketAddress
    private let thread: EventLoopThread
    private let ownsThread: Bool
    private let server: LoopBoundServer

    private init(localAddress: SocketAddress, thread: EventLoopThread, ownsThread: Bool, server: LoopBoundServer) {
        self.localAddress = localAddress
        self.thread = thread
        self.ownsThread = ownsThread
        self.server = server
    }

    /// Starts a server on a numeric host and port on `thread` (default: a new loop thread,
    /// ended by `shutdown`). `configure` runs on the loop thread before the first connection, for
    /// options that are closures (`onUpgrade`, `onHTTPRequest`). Each connection stops reading
    /// while `maxQueue` of its messages wait unread by the handler.
    public static func start(host: String, port: UInt16, options: ServerOptions = ServerOptions(),
                             maxQueue: Int = 16, on thread: EventLoopThread? = nil,
                             configure: (@Sendable (WebSocketServer) -> Void)? = nil,
                             handler: @escaping @Sendable (AsyncWebSocket) async -> Void) async throws -> AsyncWebSocketServer {
        let loopThread = try thread ?? EventLoopThread()
        let loop = loopThread.loop
        let started: Result<LoopBoundServer, NetworkError> = try await loopThread.submit {
            do throws(NetworkError) {
                let server = try WebSocketServer(loop: loop, host: host, port: port, options: options)
                installHandlers(server.handlers, SocketTable(), maxQueue: maxQueue, handler: handler)
                // With `options.loops` > 1: each loop its own handlers and socket table.
                server.group?.handlersForLoop.withLock {
                    $0 = { _ in
                        let handlers = ConnectionHandlers()
                        installHandlers(handlers, SocketTable(), maxQueue: maxQueue, handler: handler)
                        return handlers
                    }
                }
                configure?(server)
                return .success(LoopBoundServer(server))
            } catch {
                return .failure(error)
            }
        }
        let server = try started.get()
        return AsyncWebSocketServer(localAddress: server.localAddress, thread: loopThread, ownsThread: thread == nil, server: server)
    }

    /// Hands each connection of `handlers` to `handler` as an `AsyncWebSocket`; `sockets` is the
    /// table of one loop (a server on several loops gives each loop its own).
    private static func installHandlers(_ handlers: ConnectionHandlers, _ sockets: SocketTable, maxQueue: Int,
                                        handler: @escaping @Sendable (AsyncWebSocket) async -> Void) {
        handlers.onOpen = { connection in
            let socket = AsyncWebSocket(connection: connection, maxQueue: maxQueue)
            sockets.table[ObjectIdentifier(connection)] = socket
            let handle = connection.handle
            Task {
                await handler(socket)
                handle.close()
            }
        }
        handlers.onMessage = { connection, kind, bytes in
            sockets.table[ObjectIdentifier(connection)]?.received(connection, kind, bytes)
        }
        handlers.onClose = { connection, status in
            sockets.table.removeValue(forKey: ObjectIdentifier(connection))?.closed(status)
        }
    }

    /// Sends a text message to every connection; the frame is built once.
    public func broadcast(_ text: String) {
        let server = self.server
        thread.loop.execute { server.value?.broadcast(text: text) }
    }

    /// Stops accepting, closes every connection with 1001, waits for them (at most `timeout`),
    /// then stops the loop thread if this server created it.
    public func shutdown(timeout: Duration = .seconds(5)) async {
        let server = self.server
        let _: Void? = try? await withCheckedThrowingContinuation { continuation in
            let posted = thread.loop.execute {
                guard let live = server.value else { return continuation.resume(returning: ()) }
                live.shutdown(timeout: timeout) { continuation.resume(returning: ()) }
            }
            if !posted { continuation.resume(returning: ()) }
        }
        if ownsThread { thread.shutdown() }
    }
}

/// The wrappers of a server's connections, by connection identity (loop-thread only).
final class SocketTable: @unchecked Sendable {
    var table: [ObjectIdentifier: AsyncWebSocket] = [:]
}

/// A server reference that crosses threads but is only used on its loop thread.
final class LoopBoundServer: @unchecked Sendable {
    private(set) var value: WebSocketServer?
    let localAddress: SocketAddress
    init(_ server: WebSocketServer) {
        value = server
        localAddress = server.localAddress
    }
}
