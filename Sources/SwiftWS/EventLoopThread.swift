import Glibc
import Synchronization
import SwiftWSEndpoints

/// An `EventLoop` running on its own thread, for programs that do not run a loop themselves
/// (async code, scripts). Thread-safe.
public final class EventLoopThread: Sendable {
    /// The loop; touch loop-thread-only API only from work posted with `loop.execute`.
    public let loop: EventLoop
    private let finished = Mutex<Bool>(false)
    private let exited = Atomic<Bool>(false)

    /// Creates a loop and starts its thread.
    public init() throws(NetworkError) {
        loop = try EventLoop()
        final class Start {
            let thread: EventLoopThread
            init(_ thread: EventLoopThread) { self.thread = thread }
        }
        let context = Unmanaged.passRetained(Start(self)).toOpaque()
        var thread = pthread_t()
        let result = pthread_create(&thread, nil, { raw in
            let owner = Unmanaged<Start>.fromOpaque(raw!).takeRetainedValue().thread
            owner.loop.run()
            owner.loop.close()
            owner.exited.store(true, ordering: .releasing)
            return nil
        }, context)
        guard result == 0 else {
            Unmanaged<Start>.fromOpaque(context).release()
            throw NetworkError(.system(errno: result), "pthread_create")
        }
        pthread_detach(thread)
    }

    /// A process-wide loop thread, started on first use, used by `AsyncWebSocket.connect` and
    /// `AsyncWebSocketServer.start` when no thread is given.
    public static var shared: EventLoopThread {
        get throws(NetworkError) {
            let existing = sharedThread.withLock { $0 }
            if let existing { return existing }
            let created = try EventLoopThread()
            return sharedThread.withLock { current in
                if let current {
                    created.shutdown()
                    return current
                }
                current = created
                return created
            }
        }
    }

    /// Stops the loop (its streams close) and lets the thread exit. Safe to call more than once.
    public func shutdown() {
        let first = finished.withLock { done -> Bool in
            defer { done = true }
            return !done
        }
        if first { loop.stop() }
    }

    /// Whether the thread has exited after `shutdown()`.
    public var hasExited: Bool { exited.load(ordering: .acquiring) }

    /// Runs `body` on the loop thread and returns its result.
    public func submit<Result: Sendable>(_ body: @escaping @Sendable () -> Result) async throws(NetworkError) -> Result {
        let outcome: Result? = await withCheckedContinuation { continuation in
            let posted = loop.execute { continuation.resume(returning: body()) }
            if !posted { continuation.resume(returning: nil) }
        }
        guard let outcome else { throw NetworkError(.closed, "event loop") }
        return outcome
    }
}

private let sharedThread = Mutex<EventLoopThread?>(nil)
