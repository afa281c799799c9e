import Glibc
import Synchronization
import Testing
@testable import SwiftWS

/// The async server: topics, broadcast, the async upgrade hook, plain HTTP, host names, IPv6,
/// TLS and graceful shutdown, over loopback.
@Suite("Swift API: AsyncWebSocketServer", .serialized)
struct AsyncServerTests {
    /// A chat: each client's first message names its room; later messages go to the room.
    @Test func topicsAndBinaryBroadcast() async throws {
        let box = Mutex<AsyncWebSocketServer?>(nil)
        let joined = Mutex(0)
        let server = try await AsyncWebSocketServer.start(host: "127.0.0.1", port: 0) { socket in
            let server = box.withLock { $0 }!
            guard case .text(let room) = try await socket.receive() else { return }
            await server.subscribe(socket, to: room)
            joined.withLock { $0 += 1 }
            try await socket.send("joined \(room)")
            for try await message in socket.messages {
                await server.publish(room, message, excluding: socket)
            }
        }
        box.withLock { $0 = server }
        let port = server.localAddress.port!
        try await withTimeout {
            var clients: [AsyncWebSocket] = []
            for room in ["a", "a", "b"] {
                let client = try await AsyncWebSocket.connect("ws://127.0.0.1:\(port)/")
                try await client.send(room)
                #expect(try await client.receive() == .text("joined \(room)"))
                clients.append(client)
            }
            #expect(await server.subscriberCount("a") == 2)
            #expect(await server.subscriberCount("b") == 1)
            try await clients[0].send("to a")
            #expect(try await clients[1].receive() == .text("to a"))
            #expect(await server.publish("b", .binary([7, 7])) == 1)
            #expect(try await clients[2].receive() == .binary([7, 7]))
            #expect(await server.broadcast(.binary([1, 2, 3])) == 3)
            #expect(await server.broadcast(.text("all")) == 3)
            // Client 0 got neither its own "to a" nor "b"'s message: the broadcasts come next.
            for client in clients {
                #expect(try await client.receive() == .binary([1, 2, 3]))
                #expect(try await client.receive() == .text("all"))
            }
            await clients[1].close()
            // A closed connection leaves its topics.
            for _ in 0..<100 where await server.subscriberCount("a") != 1 { try await Task.sleep(for: .milliseconds(10)) }
            #expect(await server.subscriberCount("a") == 1)
            #expect(await server.connectionCount == 2)
        }
        await server.shutdown()
    }

    /// The async hook awaits (an actor here), then accepts with a subprotocol and a header or
    /// rejects with a status; each side sees the other's handshake headers.
    @Test func asyncUpgradeHookAcceptsAndRejects() async throws {
        actor Tokens {
            func isValid(_ token: String?) async -> Bool { token == "secret" }
        }
        let tokens = Tokens()
        let server = try await AsyncWebSocketServer.start(
            host: "127.0.0.1", port: 0,
            onUpgrade: { request, address in
                guard await tokens.isValid(request.headers.first("X-Token")), address != nil else {
                    return .reject(status: 403, body: "no entry")
                }
                return .accept(subprotocol: request.subprotocols.first, headers: HTTPHeaders([("X-Room", "lobby")]))
            }
        ) { socket in
            try await socket.send(socket.handshakeHeaders.first("X-Token") ?? "none")
        }
        let port = server.localAddress.port!
        try await withTimeout {
            var options = ClientOptions()
            options.headers = HTTPHeaders([("X-Token", "secret")])
            options.subprotocols = ["chat.v2", "chat.v1"]
            let client = try await AsyncWebSocket.connect("ws://127.0.0.1:\(port)/", options: options)
            #expect(client.subprotocol == "chat.v2")
            #expect(client.handshakeHeaders.first("X-Room") == "lobby")
            #expect(try await client.receive() == .text("secret"))
            let refused = await webSocketError { _ = try await AsyncWebSocket.connect("ws://127.0.0.1:\(port)/") }
            #expect(refused == .connectFailed(.unexpectedStatus(code: 403, reason: "Forbidden")))
        }
        await server.shutdown()
    }

    @Test func plainHTTPRequestsGetTheHandlersAnswer() async throws {
        let server = try await AsyncWebSocketServer.start(
            host: "127.0.0.1", port: 0,
            onHTTPRequest: { head in HTTPResponse(status: 200, text: "ok \(head.target)\n") }
        ) { _ in }
        let port = server.localAddress.port!
        let response = try await withTimeout {
            plainHTTPExchange(port: port, request: "GET /health HTTP/1.1\r\nHost: x\r\n\r\n")
        }
        #expect(response.hasPrefix("HTTP/1.1 200"))
        #expect(response.hasSuffix("ok /health\n"))
        await server.shutdown()
    }

    /// "localhost" resolves (off the loop) for the server and the client; IPv6 literals work.
    @Test func hostNamesAndIPv6() async throws {
        let cases: [(String, @Sendable (UInt16) -> String)] = [("localhost", { "ws://localhost:\($0)/" }), ("::1", { "ws://[::1]:\($0)/" })]
        for (host, url) in cases {
            let server = try await AsyncWebSocketServer.start(host: host, port: 0) { socket in
                for try await message in socket.messages { try await socket.send(message) }
            }
            let address = url(server.localAddress.port!)
            try await withTimeout {
                let client = try await AsyncWebSocket.connect(address)
                try await client.send("over \(host)")
                #expect(try await client.receive() == .text("over \(host)"))
                await client.close()
            }
            await server.shutdown()
        }
        let unknown = await webSocketError {
            _ = try await AsyncWebSocketServer.start(host: "no-such-host.invalid", port: 0) { _ in }
        }
        guard case .listenFailed(let error)? = unknown, case .nameResolution = error.kind else {
            Issue.record("expected a name resolution failure, got \(String(describing: unknown))")
            return
        }
    }

    /// `start(address:)` on a Unix socket: a raw client's upgrade gets its 101 there, and the
    /// socket file is removed at shutdown. (The async client has no Unix sockets yet.)
    @Test func unixSocketServer() async throws {
        let path = "/tmp/swiftws-async-\(getpid()).sock"
        unlink(path)
        let opened = Mutex(0)
        let server = try await AsyncWebSocketServer.start(address: try SocketAddress(unixPath: path)) { socket in
            opened.withLock { $0 += 1 }
            _ = await socket.waitUntilClosed()
        }
        let response = try await withTimeout {
            unixSocketExchange(path: path, request: "GET /unix HTTP/1.1\r\nHost: localhost\r\nUpgrade: websocket\r\n"
                               + "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                               + "Sec-WebSocket-Version: 13\r\n\r\n")
        }
        #expect(response.hasPrefix("HTTP/1.1 101"))
        #expect(response.contains("s3pPLMBiTxaQ9kYGzzhZRbK+xOo="))
        await server.shutdown(timeout: .seconds(1))
        #expect(opened.withLock { $0 } == 1)
        #expect(access(path, F_OK) != 0)
    }

    @Test func tlsServerAndWSSClient() async throws {
        let directory = AsyncTestCertificates.directory
        var serverOptions = ServerOptions()
        serverOptions.tls = .server(certificateChainFile: directory + "/server.pem", privateKeyFile: directory + "/server.key")
        let server = try await AsyncWebSocketServer.start(host: "127.0.0.1", port: 0, options: serverOptions) { socket in
            try await socket.send("secure \(socket.isSecure)")
        }
        let port = server.localAddress.port!
        try await withTimeout {
            // (A refused certificate is tested in SwiftWSEndpointsTests' TLSTests. With client and
            // server on two loop threads it sometimes waits for the handshake timeout instead of
            // failing at once: see docs/notes/issue13-swift-api-round3.md.)
            var options = ClientOptions()
            options.tls = .client(caFile: directory + "/ca.pem")
            options.tls.useSystemTrustStore = false
            let client = try await AsyncWebSocket.connect("wss://localhost:\(port)/", options: options)
            #expect(client.isSecure)
            #expect(try await client.receive() == .text("secure true"))
        }
        await server.shutdown()
    }

    /// `run()` serves until its task is cancelled, then shuts down with 1001 (the
    /// swift-service-lifecycle pattern).
    @Test func runShutsDownGracefullyWhenCancelled() async throws {
        let server = try await AsyncWebSocketServer.start(host: "127.0.0.1", port: 0) { socket in
            for try await _ in socket.messages {}
        }
        let port = server.localAddress.port!
        let running = Task { await server.run(shutdownTimeout: .seconds(2)) }
        let client = try await withTimeout { try await AsyncWebSocket.connect("ws://127.0.0.1:\(port)/") }
        running.cancel()
        let status = try await withTimeout { await client.waitUntilClosed() }
        #expect(status.code == .goingAway)
        try await withTimeout { await running.value }
        await server.shutdown()  // a second call returns at once
    }
}
