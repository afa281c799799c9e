import Testing
@testable import SwiftWS

@Suite("Swift API: an async server on several loops", .serialized)
struct AsyncLoopsTests {
    /// `ServerOptions.loops = 2`: 20 clients are served by both loops, each gets its echo, and a
    /// broadcast reaches all of them.
    @Test func asyncServerOnTwoLoopsEchoesAndBroadcastsToEveryClient() async throws {
        var options = ServerOptions()
        options.loops = 2
        let server = try await AsyncWebSocketServer.start(host: "127.0.0.1", port: 0, options: options) { socket in
            do {
                for try await message in socket.messages { try await socket.send(message) }
            } catch {}
        }
        let port = server.localAddress.port!
        let received = try await withTimeout(seconds: 20) {
            let clients = try await (0..<20).asyncMap { _ in try await AsyncWebSocket.connect("ws://127.0.0.1:\(port)/") }
            var results: [[WebSocketMessage]] = []
            for index in clients.indices {
                try await clients[index].send(.text("echo \(index)"))
                results.append([try await clients[index].receive()])
            }
            // The count is the first loop's; the other loop delivers its share asynchronously.
            #expect(await server.broadcast(.text("everyone")) <= clients.count)
            for index in clients.indices {
                results[index].append(try await clients[index].receive())
                _ = await clients[index].close()
            }
            return results
        }
        for (index, messages) in received.enumerated() {
            #expect(messages == [.text("echo \(index)"), .text("everyone")])
        }
        await server.shutdown()
    }
}

extension Range where Bound == Int {
    /// `map` with an async throwing transform, in order.
    func asyncMap<T>(_ transform: (Int) async throws -> T) async rethrows -> [T] {
        var results: [T] = []
        for value in self { results.append(try await transform(value)) }
        return results
    }
}
