import Glibc
import Synchronization
import Testing
@testable import SwiftWS

/// The server a test restarts from another task.
final class RestartedServer: Sendable {
    let server = Mutex<AsyncWebSocketServer?>(nil)
}

/// `AsyncWebSocket.connections(to:)`: websockets' `async for websocket in connect(url)` in Swift.
@Suite("Swift API: reconnecting connections", .serialized)
struct ReconnectingTests {
    static func echoServer(port: UInt16) async throws -> AsyncWebSocketServer {
        try await AsyncWebSocketServer.start(host: "127.0.0.1", port: port) { socket in
            do {
                for try await message in socket.messages { try await socket.send(message) }
            } catch {}
        }
    }

    @Test func reconnectsAfterTheServerGoesAwayAndComesBack() async throws {
        let first = try await Self.echoServer(port: 0)
        let port = first.localAddress.port!
        let policy = ReconnectPolicy(initialDelay: .milliseconds(20), minDelay: .milliseconds(50), maxDelay: .milliseconds(200), factor: 2)
        let second = RestartedServer()
        let echoed = try await withTimeout(seconds: 20) { () async throws -> [String] in
            var echoed: [String] = []
            var server: AsyncWebSocketServer? = first
            var round = 0
            for try await socket in AsyncWebSocket.connections(to: "ws://127.0.0.1:\(port)/", policy: policy) {
                round += 1
                _ = try await socket.send("round \(round)")
                var iterator = socket.messages.makeAsyncIterator()
                if case .text(let text)? = try await iterator.next() { echoed.append(text) }
                if round == 2 { break }
                // The server goes away; it comes back while the client is retrying.
                await server?.shutdown(timeout: .milliseconds(100))
                server = nil
                Task {
                    try await Task.sleep(for: .milliseconds(150))
                    let restarted = try await Self.echoServer(port: port)
                    second.server.withLock { $0 = restarted }
                }
            }
            return echoed
        }
        #expect(echoed == ["round 1", "round 2"])
        await second.server.withLock { $0 }?.shutdown(timeout: .milliseconds(100))
    }

    @Test func fatalErrorsAreThrown() async throws {
        let server = try await Self.echoServer(port: 0)
        let port = server.localAddress.port!
        await server.shutdown(timeout: .zero)
        // A URL that cannot work is not retried.
        await #expect(throws: WebSocketError.connectFailed(.invalidURL("http://127.0.0.1:\(port)/"))) {
            for try await _ in AsyncWebSocket.connections(to: "http://127.0.0.1:\(port)/") {}
        }
        // Refused twice with maxFailures 2: the last error is thrown.
        let policy = ReconnectPolicy(initialDelay: .milliseconds(1), minDelay: .milliseconds(1), maxDelay: .milliseconds(1), maxFailures: 2)
        await #expect(throws: WebSocketError.self) {
            for try await _ in AsyncWebSocket.connections(to: "ws://127.0.0.1:\(port)/", policy: policy) {}
        }
    }
}
