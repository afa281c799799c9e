import Glibc
import Synchronization
import Testing
@testable import SwiftWS

/// Bounds an async test: fails instead of hanging when `body` does not finish in time.
func withTimeout<T: Sendable>(seconds: Int = 10, _ body: @escaping @Sendable () async throws -> T) async throws -> T {
    try await withThrowingTaskGroup(of: T?.self) { group in
        group.addTask { try await body() }
        group.addTask {
            try await Task.sleep(for: .seconds(seconds))
            return nil
        }
        guard let first = try await group.next(), let value = first else {
            group.cancelAll()
            throw TimedOut()
        }
        group.cancelAll()
        return value
    }
}

struct TimedOut: Error {}

@Suite("Swift API: async server and client", .serialized)
struct AsyncAPITests {
    @Test func asyncEchoRoundTripAndNormalClose() async throws {
        let server = try await AsyncWebSocketServer.start(host: "127.0.0.1", port: 0) { socket in
            do {
                for try await message in socket.messages { try await socket.send(message) }
            } catch {}
        }
        let port = server.localAddress.port!
        let (echoes, status) = try await withTimeout {
            let client = try await AsyncWebSocket.connect("ws://127.0.0.1:\(port)/echo")
            #expect(client.path == "/echo")
            var echoes: [WebSocketMessage] = []
            var iterator = client.messages.makeAsyncIterator()
            for message in [WebSocketMessage.text("héllo"), .binary([0, 1, 2, 255]), .text("")] {
                #expect(try await client.send(message) == .sent)
                if let echo = try await iterator.next() { echoes.append(echo) }
            }
            let status = await client.close(code: .normalClosure, reason: "done")
            // After a normal close the sequence ends without an error.
            #expect(try await iterator.next() == nil)
            await #expect(throws: ConnectionClosed.self) { try await client.send("late") }
            return (echoes, status)
        }
        #expect(echoes == [.text("héllo"), .binary([0, 1, 2, 255]), .text("")])
        #expect(status.code == .normalClosure)
        await server.shutdown()
    }

    @Test func serverShutdownEndsClientSequencesWith1001() async throws {
        let server = try await AsyncWebSocketServer.start(host: "127.0.0.1", port: 0) { socket in
            _ = await socket.waitUntilClosed()
        }
        let port = server.localAddress.port!
        let client = try await withTimeout { try await AsyncWebSocket.connect("ws://127.0.0.1:\(port)/") }
        await server.shutdown(timeout: .seconds(2))
        let status = try await withTimeout {
            for try await _ in client.messages {}
            return await client.waitUntilClosed()
        }
        #expect(status == CloseStatus(code: .goingAway, reason: "server shutting down"))
    }

    @Test func abnormalClosureThrowsConnectionClosed() async throws {
        let server = try await AsyncWebSocketServer.start(host: "127.0.0.1", port: 0, configure: { server in
            // Dropped without a close frame once the client is open (an abort in onOpen itself
            // would also discard the 101 response still corked for this iteration).
            server.handlers.onOpen = { connection in
                connection.loop.schedule(after: .milliseconds(20)) { connection.abort() }
            }
        }) { _ in }
        let port = server.localAddress.port!
        let client = try await withTimeout { try await AsyncWebSocket.connect("ws://127.0.0.1:\(port)/") }
        let caught: ConnectionClosed? = try await withTimeout {
            do {
                for try await _ in client.messages {}
                return nil
            } catch let error as ConnectionClosed {
                return error
            }
        }
        #expect(caught?.status.code == .abnormalClosure)
        #expect(caught?.isNormal == false)
        await server.shutdown()
    }

    @Test func aSlowConsumerPausesReadingSoTheServerSeesBackpressure() async throws {
        let messageSize = 8 * 1024
        let count = 600
        let sawBackpressure = Mutex(false)
        let server = try await AsyncWebSocketServer.start(host: "127.0.0.1", port: 0) { socket in
            for index in 0..<count {
                var bytes = [UInt8](repeating: UInt8(truncatingIfNeeded: index), count: messageSize)
                bytes[0] = UInt8(index & 0xFF)
                bytes[1] = UInt8(index >> 8)
                if (try? await socket.send(bytes)) == .buffered { sawBackpressure.withLock { $0 = true } }
            }
            _ = await socket.waitUntilClosed()
        }
        let port = server.localAddress.port!
        var clientOptions = ClientOptions()
        clientOptions.connection.perMessageDeflate = .disabled
        clientOptions.stream.receiveBufferSize = 64 * 1024
        let options = clientOptions
        let client = try await withTimeout { try await AsyncWebSocket.connect("ws://127.0.0.1:\(port)/", options: options, maxQueue: 8) }
        // Not reading until the server's sends report backpressure (bounded: 10 s): the
        // client's queue stopped at its limit (plus one read's worth) and TCP did the rest.
        for _ in 0..<200 where !sawBackpressure.withLock({ $0 }) {
            try await Task.sleep(for: .milliseconds(50))
        }
        #expect(sawBackpressure.withLock { $0 })
        let waiting = client.queue.waitingCount
        #expect(waiting >= 8)
        #expect(waiting <= 8 + (256 * 1024) / messageSize + 1)
        // Then everything arrives, in order.
        let received = try await withTimeout(seconds: 20) {
            var indices: [Int] = []
            for try await message in client.messages {
                guard case .binary(let bytes) = message, bytes.count == messageSize else { break }
                indices.append(Int(bytes[0]) | Int(bytes[1]) << 8)
                if indices.count == count { break }
            }
            return indices
        }
        #expect(received == Array(0..<count))
        await client.close()
        await server.shutdown()
    }

    @Test func connectErrorsAreClientErrors() async throws {
        await #expect(throws: ClientError.invalidURL("http://x")) {
            _ = try await AsyncWebSocket.connect("http://x")
        }
        let error = await #expect(throws: ClientError.self) {
            _ = try await AsyncWebSocket.connect("ws://127.0.0.1:1/")
        }
        #expect(error == .connectFailed(NetworkError(.system(errno: ECONNREFUSED), "connect to 127.0.0.1:1")))
    }
}
