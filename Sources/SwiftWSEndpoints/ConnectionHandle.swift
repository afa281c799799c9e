import Synchronization
import SwiftWSCore

/// A thread-safe reference to a `WebSocketConnection`: send to it and close it from any thread.
///
/// Calls copy their arguments and post the work to the connection's loop. They never touch a
/// connection that has closed, however late they come: once the connection is closed they return
/// `.closed` (and a call that raced with the close is dropped on the loop thread). The handle may
/// outlive the connection and its loop.
public final class ConnectionHandle: @unchecked Sendable {
    /// What a call through the handle did.
    public enum Outcome: Sendable, Hashable {
        /// Posted to the loop; it runs there in the next iteration (the connection may still
        /// close before, and then the call is dropped).
        case queued
        /// The connection is closed (or its loop is): nothing was done.
        case closed
    }

    private let loop: EventLoop
    private let closed = Atomic<Bool>(false)
    /// Touched only on the loop thread (inside posted work); weak so that a forgotten handle
    /// does not keep a closed connection's buffers alive.
    private weak var connection: WebSocketConnection?

    init(connection: WebSocketConnection) {
        self.loop = connection.loop
        self.connection = connection
    }

    func markClosed() {
        closed.store(true, ordering: .releasing)
    }

    /// Whether the connection has closed. Thread-safe.
    public var isClosed: Bool { closed.load(ordering: .acquiring) }

    /// What a send through the handle did, given to its completion on the loop thread: the
    /// connection's answer (`SendResult`), or the `SessionError` it threw (`.closed` also when the
    /// connection closed before the posted send ran).
    public typealias SendCompletion = @Sendable (Result<SendResult, SessionError>) -> Void

    /// Sends a text message. `completion`, if given, runs on the loop thread with the result.
    @discardableResult
    public func send(text: String, completion: SendCompletion? = nil) -> Outcome {
        post { connection in
            // Sent first, reported after: `completion?(…)` would skip the send without a completion.
            let result = Result { () throws(SessionError) -> SendResult in
                guard let connection else { throw .closed }
                return try connection.send(text: text)
            }
            completion?(result)
        }
    }

    /// Sends a binary message (copied). `completion`, if given, runs on the loop thread.
    @discardableResult
    public func send(binary: [UInt8], completion: SendCompletion? = nil) -> Outcome {
        post { connection in
            // Sent first, reported after: `completion?(…)` would skip the send without a completion.
            let result = Result { () throws(SessionError) -> SendResult in
                guard let connection else { throw .closed }
                return try connection.send(binary: binary)
            }
            completion?(result)
        }
    }

    /// Starts the close handshake.
    @discardableResult
    public func close(code: CloseCode = .normalClosure, reason: String = "") -> Outcome {
        post { connection in connection?.close(code: code, reason: reason) }
    }

    /// Runs `body` with the connection on its loop thread (nil if it closed in the meantime).
    @discardableResult
    public func withConnection(_ body: @escaping @Sendable (WebSocketConnection?) -> Void) -> Outcome {
        post(body)
    }

    private func post(_ body: @escaping @Sendable (WebSocketConnection?) -> Void) -> Outcome {
        guard !isClosed else { return .closed }
        let accepted = loop.execute { [self] in
            let connection = isClosed ? nil : self.connection
            body(connection)
        }
        return accepted ? .queued : .closed
    }
}
