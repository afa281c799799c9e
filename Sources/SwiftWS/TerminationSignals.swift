import Glibc
import SwiftWSTransport

/// SIGINT and SIGTERM as something to await, for graceful shutdown in a program without
/// swift-service-lifecycle:
///
/// ```swift
/// let signals = TerminationSignals.block()     // first thing in main, before any thread starts
/// let server = try await AsyncWebSocketServer.start(host: "localhost", port: 9001) { … }
/// await signals.wait()                         // Ctrl-C or `kill`
/// await server.shutdown()                      // 1001 to every peer, waits for them
/// ```
///
/// No work runs inside a signal handler: the signals are blocked in every thread and a small
/// thread takes them with `sigwait`.
public struct TerminationSignals: Sendable {
    private init() {}

    /// Blocks SIGINT and SIGTERM in the calling thread and every thread it starts afterwards
    /// (event loop threads, the concurrency runtime's), so that they are not fatal but wait for
    /// `wait()`. Call it before starting servers, clients or tasks.
    public static func block() -> TerminationSignals {
        var signals = signalSet()
        pthread_sigmask(SIG_BLOCK, &signals, nil)
        return TerminationSignals()
    }

    /// Waits until SIGINT or SIGTERM arrives and returns its number. Each call takes one signal.
    @discardableResult
    public func wait() async -> Int32 {
        await withCheckedContinuation { continuation in
            let started = spawnDetachedThread {
                var signals = TerminationSignals.signalSet()
                var received: Int32 = 0
                sigwait(&signals, &received)
                continuation.resume(returning: received)
            }
            if !started { continuation.resume(returning: 0) }
        }
    }

    private static func signalSet() -> sigset_t {
        var signals = sigset_t()
        sigemptyset(&signals)
        sigaddset(&signals, SIGINT)
        sigaddset(&signals, SIGTERM)
        return signals
    }
}
