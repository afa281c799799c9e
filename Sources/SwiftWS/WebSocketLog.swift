import Synchronization
import SwiftWSEndpoints

/// One thing the async API reports: a server listening or stopping, a connection opening or
/// closing, an upgrade refused, a handler that failed. Never one record per message.
public struct WebSocketLogRecord: Sendable, Hashable {
    /// How much it matters: the endpoints layer's `LogLevel` (debug for connections opening and
    /// closing, info for servers and refused upgrades, warning for abnormal closes, error for
    /// failing handlers), one definition for every face.
    public typealias Level = LogLevel

    /// The level.
    public let level: Level
    /// What happened, in a few words ("connection closed").
    public let message: String
    /// The details: "remote", "path", "code", "reason", "address", "error", "status".
    public let metadata: [String: String]
}

/// Where the async API's `WebSocketLogRecord`s go: nowhere until `setSink` is called. The
/// swift-log adapter (integrations/swiftws-logging, module `SwiftWSLogging`) installs one that forwards
/// to a `Logger`; any other log system can do the same with a closure.
///
/// The sink is process-wide and called from event loop threads and tasks, so it must be quick
/// and thread-safe. Without a sink a report costs one lock and no string is built.
public enum WebSocketLog {
    private static let sink = Mutex<(@Sendable (WebSocketLogRecord) -> Void)?>(nil)

    /// Sends every later record to `sink` (nil: drop them again).
    public static func setSink(_ sink: (@Sendable (WebSocketLogRecord) -> Void)?) {
        self.sink.withLock { $0 = sink }
    }

    /// Reports a record if a sink is set; `message` and `metadata` are only built then.
    static func report(_ level: WebSocketLogRecord.Level, _ message: @autoclosure () -> String,
                       _ metadata: @autoclosure () -> [String: String] = [:]) {
        guard let sink = sink.withLock({ $0 }) else { return }
        sink(WebSocketLogRecord(level: level, message: message(), metadata: metadata()))
    }
}
