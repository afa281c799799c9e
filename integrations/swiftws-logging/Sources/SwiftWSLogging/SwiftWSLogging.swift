// SwiftWSLogging: forwards SwiftWS's `WebSocketLogRecord`s (integrations/swiftws-logging) to swift-log.
import Logging
import SwiftWS

/// SwiftWS's log records in a swift-log `Logger`.
public enum SwiftWSLogging {
    /// From now on, every `WebSocketLogRecord` of the async API (servers listening and stopping,
    /// connections opening and closing, upgrades refused, failing handlers) goes to `logger`,
    /// with its metadata. `nil` stops forwarding.
    public static func bootstrap(_ logger: Logger?) {
        guard let logger else { return WebSocketLog.setSink(nil) }
        WebSocketLog.setSink { record in
            logger.log(level: level(record.level), "\(record.message)",
                       metadata: record.metadata.mapValues { Logger.MetadataValue.string($0) })
        }
    }

    /// The swift-log level of a SwiftWS level.
    static func level(_ level: WebSocketLogRecord.Level) -> Logger.Level {
        switch level {
        case .debug: return .debug
        case .info: return .info
        case .warning: return .warning
        case .error: return .error
        }
    }
}
