import Glibc
import Testing
import SwiftWSCore
@testable import SwiftWSEndpoints
@testable import SwiftWSTransport
import SwiftWSTestSupport

/// What a test client saw: messages in order and the close status.
final class ClientRecord {
    var messages: [(MessageKind, [UInt8])] = []
    var pings = 0
    var close: CloseStatus?
    var connection: WebSocketConnection?
    var error: ClientError?

    var texts: [String] { messages.compactMap { $0.0 == .text ? String(decoding: $0.1, as: UTF8.self) : nil } }
}

/// Handlers that record into `record` and call `after` after each event.
func recordingHandlers(_ record: ClientRecord, onEvent: @escaping () -> Void = {}) -> ConnectionHandlers {
    let handlers = ConnectionHandlers()
    handlers.onMessage = { _, kind, bytes in
        record.messages.append((kind, Array(bytes)))
        onEvent()
    }
    handlers.onPing = { _, _ in
        record.pings += 1
        onEvent()
    }
    handlers.onClose = { _, status in
        record.close = status
        onEvent()
    }
    return handlers
}

/// Connects a client that records into a new `ClientRecord`.
@discardableResult
func connectRecordingClient(_ loop: EventLoop, _ url: String, options: ClientOptions = ClientOptions(),
                            onEvent: @escaping () -> Void = {},
                            onOpen: @escaping (WebSocketConnection) -> Void = { _ in }) -> ClientRecord {
    let record = ClientRecord()
    WebSocketClient.connect(to: url, on: loop, options: options, handlers: recordingHandlers(record, onEvent: onEvent)) { result in
        switch result {
        case .success(let connection):
            record.connection = connection
            onOpen(connection)
        case .failure(let error):
            record.error = error
        }
        onEvent()
    }
    return record
}

func url(_ server: WebSocketServer, _ path: String = "/") -> String {
    "ws://127.0.0.1:\(server.localAddress.port!)\(path)"
}

/// Sends raw bytes to `address` and collects everything until the server closes.
func rawExchange(_ loop: EventLoop, _ address: SocketAddress, _ request: String,
                 done: @escaping (String) -> Void) {
    loop.connect(to: address, timeout: .seconds(2)) { result in
        guard case .success(let stream) = result else { return done("connect failed") }
        var received: [UInt8] = []
        stream.onRead = { received += copyBytes($0) }
        stream.onClose = { _ in done(String(decoding: received, as: UTF8.self)) }
        stream.write(Array(request.utf8))
    }
}

/// A minimal valid upgrade request head.
func upgradeRequest(path: String = "/", extra: String = "") -> String {
    "GET \(path) HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        + "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\(extra)\r\n"
}
