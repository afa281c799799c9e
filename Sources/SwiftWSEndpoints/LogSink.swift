/// How much a log line matters (the C API's `sws_log_level`, Python's logging levels).
public enum LogLevel: Int, Sendable, Comparable {
    case debug = 0, info = 1, warning = 2, error = 3

    public static func < (lhs: LogLevel, rhs: LogLevel) -> Bool { lhs.rawValue < rhs.rawValue }
}

/// Where a server, its connections or a client connection write what the other callbacks do
/// not show: requests refused during the handshake and why, connections opened, connections
/// closed with their code (a peer's protocol error, a timeout, a limit). Lines below `level`
/// are not even formatted. Loop-thread only: `write` runs on the loop thread.
public final class LogSink {
    /// The least level written.
    public let level: LogLevel
    private let write: (LogLevel, String) -> Void

    /// A sink writing lines at `level` and above to `write`.
    public init(level: LogLevel, write: @escaping (LogLevel, String) -> Void) {
        self.level = level
        self.write = write
    }

    /// Writes `message` if `level` is at least the sink's level.
    @inline(__always)
    func callAsFunction(_ level: LogLevel, _ message: @autoclosure () -> String) {
        if level >= self.level { write(level, message()) }
    }
}
