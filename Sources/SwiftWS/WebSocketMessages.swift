import Synchronization
import SwiftWSCore
import SwiftWSEndpoints

/// The messages of an `AsyncWebSocket`, in order, with flow control: when `maxQueue` messages
/// wait unread, the connection stops reading from the peer (TCP pushes back on it) until the
/// consumer has caught up to half of that, as `max_queue` does in Python `websockets`. (Messages
/// already inside the read that crossed the limit are still queued: at most one receive buffer,
/// 256 KiB, more.)
///
/// Ends normally when the connection closes with 1000 or 1001, and throws `ConnectionClosed`
/// otherwise. One consumer at a time: iterate it from one task.
public struct WebSocketMessages: AsyncSequence, Sendable {
    public typealias Element = WebSocketMessage

    let queue: MessageQueue

    /// Makes the iterator; see the type for the rules.
    public func makeAsyncIterator() -> Iterator { Iterator(queue: queue) }

    /// Waits for the next message.
    public struct Iterator: AsyncIteratorProtocol {
        let queue: MessageQueue
        /// The next message, nil after a normal close; throws `ConnectionClosed` after another
        /// close, `CancellationError` when the waiting task is cancelled.
        public mutating func next() async throws -> WebSocketMessage? {
            try await queue.next()
        }
    }
}

/// The queue between the loop thread (producer) and the consuming task.
final class MessageQueue: Sendable {
    private struct State {
        var buffer: [WebSocketMessage] = []
        var head = 0
        var end: ConnectionClosed?
        var isEnded = false
        var waiter: CheckedContinuation<WebSocketMessage?, any Error>?
        var isPaused = false
        var count: Int { buffer.count - head }
    }

    private let state = Mutex(State())
    private let maxQueue: Int
    /// Resumes reading on the loop thread (set once the connection exists).
    private let resume: Mutex<(@Sendable () -> Void)?> = Mutex(nil)

    init(maxQueue: Int) {
        self.maxQueue = max(maxQueue, 1)
    }

    func setResume(_ body: @escaping @Sendable () -> Void) {
        resume.withLock { $0 = body }
    }

    /// Loop thread: a message arrived. Returns true when the connection should stop reading.
    func push(_ message: WebSocketMessage) -> Bool {
        let (waiter, pause) = state.withLock { state -> (CheckedContinuation<WebSocketMessage?, any Error>?, Bool) in
            if let waiter = state.waiter {
                state.waiter = nil
                return (waiter, false)
            }
            state.buffer.append(message)
            if state.count >= maxQueue && !state.isPaused {
                state.isPaused = true
                return (nil, true)
            }
            return (nil, false)
        }
        waiter?.resume(returning: message)
        return pause
    }

    /// Loop thread: the connection closed.
    func finish(_ closed: ConnectionClosed) {
        let waiter = state.withLock { state -> CheckedContinuation<WebSocketMessage?, any Error>? in
            state.isEnded = true
            state.end = closed.isNormal ? nil : closed
            defer { state.waiter = nil }
            return state.waiter
        }
        if let waiter {
            if closed.isNormal { waiter.resume(returning: nil) } else { waiter.resume(throwing: closed) }
        }
    }

    /// Number of messages waiting (for tests).
    var waitingCount: Int { state.withLock { $0.count } }

    func next() async throws -> WebSocketMessage? {
        enum Step { case message(WebSocketMessage, resume: Bool), end(ConnectionClosed?), wait }
        let step = state.withLock { state -> Step in
            if state.count > 0 {
                let message = state.buffer[state.head]
                state.head += 1
                if state.head > 64 && state.head * 2 > state.buffer.count {
                    state.buffer.removeFirst(state.head)
                    state.head = 0
                }
                var resumeReading = false
                if state.isPaused && state.count <= maxQueue / 2 {
                    state.isPaused = false
                    resumeReading = true
                }
                return .message(message, resume: resumeReading)
            }
            return state.isEnded ? .end(state.end) : .wait
        }
        switch step {
        case .message(let message, let resumeReading):
            if resumeReading { resume.withLock { $0 }?() }
            return message
        case .end(let closed):
            if let closed { throw closed }
            return nil
        case .wait:
            return try await withTaskCancellationHandler {
                try await withCheckedThrowingContinuation { continuation in
                    let ready = state.withLock { state -> Result<WebSocketMessage?, any Error>? in
                        if state.count > 0 {
                            let message = state.buffer[state.head]
                            state.head += 1
                            return .success(message)
                        }
                        if state.isEnded { return state.end.map { .failure($0) } ?? .success(nil) }
                        if Task.isCancelled { return .failure(CancellationError()) }
                        state.waiter = continuation
                        return nil
                    }
                    if let ready { continuation.resume(with: ready) }
                }
            } onCancel: {
                let waiter = state.withLock { state -> CheckedContinuation<WebSocketMessage?, any Error>? in
                    defer { state.waiter = nil }
                    return state.waiter
                }
                waiter?.resume(throwing: CancellationError())
            }
        }
    }
}
