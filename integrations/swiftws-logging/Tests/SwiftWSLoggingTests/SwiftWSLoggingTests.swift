import Logging
import Synchronization
import Testing
import SwiftWS
import SwiftWSLogging

/// What the handler was given.
final class Records: Sendable {
    let list = Mutex<[(Logger.Level, String, Logger.Metadata)]>([])
}

/// A swift-log handler that keeps what it is given.
struct RecordingHandler: LogHandler {
    let records: Records
    var logLevel: Logger.Level = .trace
    var metadata: Logger.Metadata = [:]

    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    func log(event: LogEvent) {
        records.list.withLock { $0.append((event.level, "\(event.message)", event.metadata ?? [:])) }
    }
}

/// A server and a client on 127.0.0.1: their events reach a `Logger` through the bootstrap.
@Test func asyncAPIEventsReachSwiftLog() async throws {
    let records = Records()
    let logger = Logger(label: "swiftws") { _ in
        RecordingHandler(records: records)
    }
    SwiftWSLogging.bootstrap(logger)
    defer { SwiftWSLogging.bootstrap(nil) }

    struct Failure: Error {}
    let server = try await AsyncWebSocketServer.start(host: "127.0.0.1", port: 0) { socket in
        if case .text("fail") = try await socket.receive() { throw Failure() }
    }
    let client = try await AsyncWebSocket.connect("ws://127.0.0.1:\(server.localAddress.port!)/chat")
    try await client.send("fail")
    let status = await client.waitUntilClosed()
    #expect(status.code == .internalError)
    await server.shutdown()

    let seen = records.list.withLock { $0 }
    let messages = seen.map(\.1)
    #expect(messages.first == "server listening")
    #expect(messages.contains("connection opened"))
    let failure = seen.first { $0.1 == "connection handler failed" }
    #expect(failure?.0 == .error)
    #expect(failure?.2["path"] == "/chat")
    #expect(messages.last == "server stopped")
}
