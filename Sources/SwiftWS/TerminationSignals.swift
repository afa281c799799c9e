import Glibc
import Synchronization
import SwiftWSTransport

/// SIGINT and SIGTERM as something to await, for graceful shutdown in a program without
/// swift-service-lifecycle:
///
/// ```swift
/// let signals = TerminationSignals.install()   // Ctrl-C and `kill` no longer end the process ...
/// let server = try await AsyncWebSocketServer.start(host: "localhost", port: 9001) { … }
/// await signals.wait()                         // ... they end this wait
/// await server.shutdown()                      // 1001 to every peer, waits for them
/// ```
///
/// The signal handler only writes the signal's number into a pipe (the self-pipe pattern: one
/// async-signal-safe `write`); `wait()` reads it on a thread of its own. (Blocking the signals
/// instead would need every thread's mask, which Swift's main executor does not keep.)
public struct TerminationSignals: Sendable {
    private let readEnd: Int32

    /// Installs the handler for SIGINT and SIGTERM (once per process; later calls return the
    /// same). If the pipe cannot be made, the signals keep their default action.
    public static func install() -> TerminationSignals {
        installed.withLock { readEnd in
            if readEnd < 0 {
                var ends: [Int32] = [-1, -1]
                guard pipe(&ends) == 0 else { return TerminationSignals(readEnd: -1) }
                for end in ends { _ = fcntl(end, F_SETFD, FD_CLOEXEC) }
                readEnd = ends[0]
                signalPipeWriteEnd.store(ends[1], ordering: .releasing)
                signal(SIGINT, terminationHandler)
                signal(SIGTERM, terminationHandler)
            }
            return TerminationSignals(readEnd: readEnd)
        }
    }

    /// Waits until SIGINT or SIGTERM arrives and returns its number (each call takes one).
    /// Returns 0 at once when `install()` could not install the handler.
    @discardableResult
    public func wait() async -> Int32 {
        let readEnd = self.readEnd
        guard readEnd >= 0 else { return 0 }
        return await withCheckedContinuation { continuation in
            let started = spawnDetachedThread {
                var number: UInt8 = 0
                while read(readEnd, &number, 1) < 0 && errno == EINTR {}
                continuation.resume(returning: Int32(number))
            }
            if !started { continuation.resume(returning: 0) }
        }
    }
}

/// The pipe's read end once installed (-1 before).
private let installed = Mutex<Int32>(-1)
/// The pipe's write end, for the signal handler (an atomic load is async-signal-safe).
private let signalPipeWriteEnd = Atomic<Int32>(-1)

/// Writes the signal's number into the pipe: the only thing done inside the handler.
private let terminationHandler: @convention(c) (Int32) -> Void = { number in
    var byte = UInt8(truncatingIfNeeded: number)
    _ = write(signalPipeWriteEnd.load(ordering: .acquiring), &byte, 1)
}
