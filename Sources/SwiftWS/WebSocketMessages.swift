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

/// The whole messages of an `AsyncWebSocket`, in order: `for try await message in socket.messages`.
///
/// Ends (returns nil) when the connection closes with 1000 or 1001; throws
/// `WebSocketError.closed` after any other close and `.cancelled` when the waiting task is
/// cancelled. Messages delivered in streaming mode (`SessionConfiguration.streamingThreshold`)
/// are gathered into whole messages here; use `AsyncWebSocket.receiveStreaming()` to take them
/// frame by frame instead. One consumer at a time: iterate from one task.
///
/// Flow control: when `maxQueue` messages (or frames of streamed messages) wait unread, the
/// connection stops reading from the peer (TCP pushes back on it) until the consumer has caught
/// up to half of that, as `max_queue` does in Python `websockets`. Frames already inside the read
/// that crossed the limit are still queued: at most one receive buffer (256 KiB) more.
public struct WebSocketMessages: AsyncSequence, Sendable {
    /// A whole message.
    public typealias Element = WebSocketMessage
    /// The only error the iteration throws.
    public typealias Failure = WebSocketError

    let queue: MessageQueue

    /// Makes the iterator; see the type for the rules.
    public func makeAsyncIterator() -> Iterator { Iterator(queue: queue) }

    /// Waits for the next message. Sendable, so it can be stepped by hand from any task.
    public struct Iterator: AsyncIteratorProtocol, Sendable {
        let queue: MessageQueue

        /// The next message; nil after a normal close (1000, 1001).
        ///
        /// `nonisolated(nonsending)` (as every async step of the receive path): it runs on the
        /// caller's executor, so a message costs no executor switch per call layer — with
        /// `runsHandlersOnLoop` each such switch looks up the task's executor preference under
        /// the task's status lock, which was a tenth of the async echo's instructions.
        public nonisolated(nonsending) mutating func next() async throws(WebSocketError) -> WebSocketMessage? {
            do {
                return try await queue.nextMessage()
            } catch {
                if error.isNormalClosure { return nil }
                throw error
            }
        }

        /// The next message (the isolation-preserving form `for try await` uses).
        public mutating func next(isolation actor: isolated (any Actor)?) async throws(WebSocketError) -> WebSocketMessage? {
            do {
                return try await queue.nextMessage()
            } catch {
                if error.isNormalClosure { return nil }
                throw error
            }
        }
    }
}

/// A message being received frame by frame (`AsyncWebSocket.receiveStreaming()`): its kind,
/// and its payload as an async sequence of chunks (one per frame; a whole message is one chunk).
/// Text chunks may end inside a UTF-8 character; the whole message is valid UTF-8 (checked by
/// the protocol core as the frames arrive: an invalid one closes the connection with 1007).
public struct IncomingMessage: Sendable {
    /// Text or binary.
    public let kind: MessageKind
    /// The payload, chunk by chunk, ending after the message's final frame. Throws
    /// `WebSocketError.closed` when the connection closes before the message is complete.
    public let chunks: MessageChunks
}

/// The payload chunks of one `IncomingMessage`, in order; iterate it to the end (or drop the
/// message: the next receive skips its remaining frames).
public struct MessageChunks: AsyncSequence, Sendable {
    /// One frame's payload.
    public typealias Element = [UInt8]
    /// The only error the iteration throws.
    public typealias Failure = WebSocketError

    let queue: MessageQueue
    let first: [UInt8]
    let firstIsFinal: Bool
    /// Which streamed message of the connection this is (a chunk iterator kept past its
    /// message, after a receive skipped the rest, ends instead of taking another message's frames).
    let stream: Int

    /// Makes the iterator.
    public func makeAsyncIterator() -> Iterator {
        Iterator(queue: queue, stream: stream, pending: first, finished: false, pendingIsFinal: firstIsFinal)
    }

    /// Yields the chunks of the message.
    public struct Iterator: AsyncIteratorProtocol, Sendable {
        let queue: MessageQueue
        let stream: Int
        var pending: [UInt8]?
        var finished: Bool
        var pendingIsFinal: Bool

        /// The next chunk, nil after the final one.
        public mutating func next() async throws(WebSocketError) -> [UInt8]? {
            if let chunk = pending {
                pending = nil
                finished = pendingIsFinal
                return chunk
            }
            guard !finished, let (chunk, isFinal) = try await queue.nextChunk(of: stream) else {
                finished = true
                return nil
            }
            finished = isFinal
            return chunk
        }

        /// The next chunk (the isolation-preserving form `for try await` uses).
        public mutating func next(isolation actor: isolated (any Actor)?) async throws(WebSocketError) -> [UInt8]? {
            try await next()
        }
    }
}

/// What the loop thread hands to the consuming task: whole messages, or the frames of a message
/// delivered in streaming mode.
enum Incoming: Sendable {
    case message(WebSocketMessage)
    case fragment(MessageKind, [UInt8], isFirst: Bool, isFinal: Bool)
}

/// The queue between the loop thread (producer) and the one consuming task.
final class MessageQueue: Sendable {
    private struct State {
        var buffer: [Incoming] = []
        var head = 0
        var end: WebSocketError?
        /// The consumer waiting for the next item. Unsafe (no per-wait allocation of the checked
        /// form's canary): the waiter is taken out of this state under the lock before it is
        /// resumed, so it is resumed exactly once (by `push`, `finish` or the cancellation).
        var waiter: UnsafeContinuation<Result<Incoming, WebSocketError>, Never>?
        /// Whether `waiter` is `coveredTask` (which `cancelCoveredWaiter` may then resume).
        var waiterIsCovered = false
        /// The server handler's task while its handler runs (`AsyncWebSocketServer` sets it):
        /// one cancellation handler around the whole handler (`cancelCoveredWaiter`) serves its
        /// receives, which then skip `withTaskCancellationHandler` — two status-record updates
        /// under the task's lock and an executor switch per message. Compared by identity only,
        /// and only while the handler runs, so the task is alive and no other task can have its
        /// address (kept as that address: `UnsafeCurrentTask` is not Sendable). Other tasks
        /// (children, unstructured) register a handler per receive.
        var coveredTask: UInt?
        var isPaused = false
        /// A streamed message was handed out and its final frame not yet taken: whole-message
        /// receives skip its remaining frames.
        var streamInProgress = false
        /// Counts streamed messages handed out.
        var streamID = 0
        var count: Int { buffer.count - head }

        mutating func pop() -> Incoming {
            let item = buffer[head]
            head += 1
            if head > 64 && head * 2 > buffer.count {
                buffer.removeFirst(head)
                head = 0
            }
            return item
        }

        /// Puts back the item `pop` just took.
        mutating func unpop(_ item: Incoming) {
            if head > 0 {
                head -= 1
                buffer[head] = item
            } else {
                buffer.insert(item, at: 0)
            }
        }
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

    /// Loop thread: a message or frame arrived. Returns true when the connection should stop reading.
    func push(_ item: Incoming) -> Bool {
        let (waiter, pause) = state.withLock { state -> (UnsafeContinuation<Result<Incoming, WebSocketError>, Never>?, Bool) in
            if let waiter = state.waiter {
                state.waiter = nil
                return (waiter, false)
            }
            state.buffer.append(item)
            if state.count >= maxQueue && !state.isPaused {
                state.isPaused = true
                return (nil, true)
            }
            return (nil, false)
        }
        waiter?.resume(returning: .success(item))
        return pause
    }

    /// Loop thread: the connection closed; what is queued can still be taken, then `error`.
    func finish(_ error: WebSocketError) {
        let waiter = state.withLock { state -> UnsafeContinuation<Result<Incoming, WebSocketError>, Never>? in
            state.end = error
            defer { state.waiter = nil }
            return state.waiter
        }
        waiter?.resume(returning: .failure(error))
    }

    /// Makes `task` (the server handler's task, nil when the handler returned) the covered task:
    /// see `State.coveredTask`.
    func cover(_ task: UnsafeCurrentTask?) {
        let identity = task.map(Self.identity)
        state.withLock { $0.coveredTask = identity }
    }

    /// A task's address: `UnsafeCurrentTask` holds only its task reference (`unsafeBitCast`
    /// traps if that ever changes size).
    private static func identity(_ task: UnsafeCurrentTask) -> UInt {
        unsafeBitCast(task, to: UInt.self)
    }

    /// The covered task was cancelled: if it is the one waiting, it gets `.cancelled`.
    func cancelCoveredWaiter() {
        let waiter = state.withLock { state -> UnsafeContinuation<Result<Incoming, WebSocketError>, Never>? in
            guard state.waiterIsCovered else { return nil }
            defer { state.waiter = nil }
            return state.waiter
        }
        waiter?.resume(returning: .failure(.cancelled))
    }

    /// Number of items waiting (for tests).
    var waitingCount: Int { state.withLock { $0.count } }

    /// The next whole message, gathering streamed frames; throws at the end (`.closed`).
    nonisolated(nonsending) func nextMessage() async throws(WebSocketError) -> WebSocketMessage {
        var gathered: [UInt8] = []
        while true {
            switch try await next() {
            case .message(let message):
                return message
            case .fragment(let kind, let bytes, let isFirst, let isFinal):
                let skipping = state.withLock { state -> Bool in
                    if isFirst { state.streamInProgress = false }
                    return state.streamInProgress
                }
                if skipping {
                    if isFinal { state.withLock { $0.streamInProgress = false } }
                    continue
                }
                gathered.append(contentsOf: bytes)
                if isFinal {
                    switch kind {
                    case .text: return .text(String(decoding: gathered, as: UTF8.self))
                    case .binary: return .binary(gathered)
                    }
                }
            }
        }
    }

    /// The next message as a stream of chunks.
    nonisolated(nonsending) func nextStreamed() async throws(WebSocketError) -> IncomingMessage {
        while true {
            switch try await next() {
            case .message(let message):
                switch message {
                case .text(let text):
                    return IncomingMessage(kind: .text, chunks: MessageChunks(queue: self, first: Array(text.utf8), firstIsFinal: true, stream: -1))
                case .binary(let bytes):
                    return IncomingMessage(kind: .binary, chunks: MessageChunks(queue: self, first: bytes, firstIsFinal: true, stream: -1))
                }
            case .fragment(let kind, let bytes, let isFirst, let isFinal):
                // Frames left over from a streamed message the consumer dropped are skipped.
                guard isFirst else { continue }
                let stream = state.withLock { state -> Int in
                    state.streamID += 1
                    state.streamInProgress = !isFinal
                    return state.streamID
                }
                return IncomingMessage(kind: kind, chunks: MessageChunks(queue: self, first: bytes, firstIsFinal: isFinal, stream: stream))
            }
        }
    }

    /// The next frame of streamed message `stream`, nil when that message is no longer the one
    /// in progress (a receive skipped its rest).
    nonisolated(nonsending) func nextChunk(of stream: Int) async throws(WebSocketError) -> ([UInt8], Bool)? {
        guard state.withLock({ $0.streamInProgress && $0.streamID == stream }) else { return nil }
        let item = try await next()
        guard case .fragment(_, let bytes, let isFirst, let isFinal) = item, !isFirst else {
            // The core delivers a streamed message's frames in order with nothing between them,
            // so this is not reached; if it were, the item stays for the next receive.
            state.withLock { $0.unpop(item) }
            return nil
        }
        if isFinal { state.withLock { $0.streamInProgress = false } }
        return (bytes, isFinal)
    }

    private nonisolated(nonsending) func next() async throws(WebSocketError) -> Incoming {
        enum Step { case item(Incoming, resume: Bool), end(WebSocketError), wait(covered: Bool) }
        let current = withUnsafeCurrentTask { task in task.map(Self.identity) }
        let step = state.withLock { state -> Step in
            if state.count > 0 {
                let item = state.pop()
                var resumeReading = false
                if state.isPaused && state.count <= maxQueue / 2 {
                    state.isPaused = false
                    resumeReading = true
                }
                return .item(item, resume: resumeReading)
            }
            if let end = state.end { return .end(end) }
            return .wait(covered: current != nil && state.coveredTask == current)
        }
        switch step {
        case .item(let item, let resumeReading):
            if resumeReading { resume.withLock { $0 }?() }
            return item
        case .end(let error):
            throw error
        case .wait(covered: true):
            return try await wait(covered: true).get()
        case .wait(covered: false):
            let result = await withTaskCancellationHandler {
                await wait(covered: false)
            } onCancel: {
                let waiter = state.withLock { state -> UnsafeContinuation<Result<Incoming, WebSocketError>, Never>? in
                    defer { state.waiter = nil }
                    return state.waiter
                }
                waiter?.resume(returning: .failure(.cancelled))
            }
            return try result.get()
        }
    }

    /// Suspends until `push` or `finish` (or a cancellation) resumes the task; `covered`: see
    /// `State.coveredTask`.
    private nonisolated(nonsending) func wait(covered: Bool) async -> Result<Incoming, WebSocketError> {
        await withUnsafeContinuation { continuation in
            let ready = state.withLock { state -> Result<Incoming, WebSocketError>? in
                if state.count > 0 { return .success(state.pop()) }
                if let end = state.end { return .failure(end) }
                // The task's cancelled flag is set before its cancellation handlers run, and they
                // take this lock: either they find the waiter, or this sees the flag.
                if Task.isCancelled { return .failure(.cancelled) }
                state.waiter = continuation
                state.waiterIsCovered = covered
                return nil
            }
            if let ready { continuation.resume(returning: ready) }
        }
    }
}
