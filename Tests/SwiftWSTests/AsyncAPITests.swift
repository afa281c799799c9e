import Glibc
import Synchronization
import Testing
@testable import SwiftWS

/// The async connection: receiving (whole, iterated, streamed), sending (waiting at the
/// high-water mark, reporting, in fragments), ping, close and errors, over 127.0.0.1.
@Suite("Swift API: AsyncWebSocket", .serialized)
struct AsyncAPITests {
    /// An echo server whose handler sends every message back.
    func echoServer(options: ServerOptions = ServerOptions()) async throws -> AsyncWebSocketServer {
        try await AsyncWebSocketServer.start(host: "127.0.0.1", port: 0, options: options) { socket in
            for try await message in socket.messages { try await socket.send(message) }
        }
    }

    @Test func receiveIterateAndCloseNormally() async throws {
        let server = try await echoServer()
        let port = server.localAddress.port!
        try await withTimeout {
            let client = try await AsyncWebSocket.connect("ws://127.0.0.1:\(port)/echo?x=1")
            #expect(client.path == "/echo" && client.query == "x=1" && client.role == .client)
            #expect(await client.state == .open)
            try await client.send("héllo")
            #expect(try await client.receive() == .text("héllo"))
            // The iterator is Sendable and can be stepped by hand.
            var iterator = client.messages.makeAsyncIterator()
            for message in [WebSocketMessage.binary([0, 1, 2, 255]), .text("")] {
                try await client.send(message)
                #expect(try await iterator.next() == message)
            }
            let status = await client.close(code: .normalClosure, reason: "done")
            #expect(status.code == .normalClosure)
            #expect(await client.state == .closed)
            // After a normal close the sequence ends; receive and send throw `.closed`.
            #expect(try await iterator.next() == nil)
            #expect(await webSocketError { _ = try await client.receive() } == .closed(status))
            #expect(await webSocketError { try await client.send("late") } == .closed(status))
        }
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

    @Test func abnormalClosureThrowsClosedWith1006() async throws {
        let server = try await AsyncWebSocketServer.start(host: "127.0.0.1", port: 0) { socket in
            // Dropped without a close frame once the client has its first message.
            try await socket.send("bye")
            socket.abort()
        }
        let port = server.localAddress.port!
        let client = try await withTimeout { try await AsyncWebSocket.connect("ws://127.0.0.1:\(port)/") }
        let caught: WebSocketError? = try await withTimeout {
            await webSocketError {
                for try await message in client.messages { #expect(message == .text("bye")) }
            }
        }
        guard case .closed(let status)? = caught else { Issue.record("expected .closed, got \(String(describing: caught))"); return }
        #expect(status.code == .abnormalClosure)
        #expect(caught?.isNormalClosure == false)
        await server.shutdown()
    }

    @Test func aHandlerThatThrowsClosesWith1011() async throws {
        struct Failure: Error {}
        let server = try await AsyncWebSocketServer.start(host: "127.0.0.1", port: 0) { _ in throw Failure() }
        let port = server.localAddress.port!
        let status = try await withTimeout {
            let client = try await AsyncWebSocket.connect("ws://127.0.0.1:\(port)/")
            return await client.waitUntilClosed()
        }
        #expect(status.code == .internalError)
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
                if try await socket.trySend(.binary(bytes)) == .buffered { sawBackpressure.withLock { $0 = true } }
            }
            _ = await socket.waitUntilClosed()
        }
        let port = server.localAddress.port!
        var clientOptions = ClientOptions()
        clientOptions.connection.perMessageDeflate = .disabled
        clientOptions.stream.receiveBufferSize = 64 * 1024
        let options = clientOptions
        let client = try await withTimeout {
            try await AsyncWebSocket.connect("ws://127.0.0.1:\(port)/", options: options, socketOptions: AsyncSocketOptions(maxQueue: 8))
        }
        // Not reading until the server's sends report backpressure (polled, bounded: 10 s): the
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

    /// `send` returns only while the buffered output is at most the high-water mark (handlers on
    /// the thread pool, and on the loop thread where sends take the direct path): a server
    /// sending 4 MiB to a client that reads nothing for a while never holds more than that.
    @Test(arguments: [false, true]) func sendWaitsAtTheHighWaterMark(handlersOnLoop: Bool) async throws {
        let messageSize = 64 * 1024
        let count = 64
        let highWaterMark = 256 * 1024
        let observed = Mutex((maxBuffered: 0, sawBacklog: false, sent: 0))
        var serverOptions = ServerOptions()
        serverOptions.connection.perMessageDeflate = .disabled
        serverOptions.listen.stream.sendBufferSize = 64 * 1024
        let server = try await AsyncWebSocketServer.start(
            host: "127.0.0.1", port: 0, options: serverOptions,
            socketOptions: AsyncSocketOptions(maxQueue: 4, sendHighWaterMark: highWaterMark, runsHandlersOnLoop: handlersOnLoop)
        ) { socket in
            for index in 0..<count {
                let before = await socket.bufferedAmount
                try await socket.send(pattern(messageSize, offset: index))
                let after = await socket.bufferedAmount
                observed.withLock {
                    $0.maxBuffered = max($0.maxBuffered, after)
                    $0.sawBacklog = $0.sawBacklog || before > 0
                    $0.sent = index + 1
                }
            }
            _ = await socket.waitUntilClosed()
        }
        let port = server.localAddress.port!
        var clientOptions = ClientOptions()
        clientOptions.connection.perMessageDeflate = .disabled
        clientOptions.stream.receiveBufferSize = 64 * 1024
        let options = clientOptions
        let client = try await withTimeout {
            try await AsyncWebSocket.connect("ws://127.0.0.1:\(port)/", options: options, socketOptions: AsyncSocketOptions(maxQueue: 4))
        }
        // The client reads nothing until the server's sends stall (polled, bounded: 10 s).
        var last = -1
        for _ in 0..<100 {
            try await Task.sleep(for: .milliseconds(100))
            let sent = observed.withLock { $0.sent }
            if sent == last { break }
            last = sent
        }
        #expect(observed.withLock { $0.sent } < count)
        let received = try await withTimeout(seconds: 30) {
            var index = 0
            for try await message in client.messages {
                guard message == .binary(pattern(messageSize, offset: index)) else { break }
                index += 1
                if index == count { break }
            }
            return index
        }
        #expect(received == count)
        let (maxBuffered, sawBacklog, _) = observed.withLock { $0 }
        #expect(sawBacklog)
        #expect(maxBuffered <= highWaterMark)
        await client.close()
        await server.shutdown()
    }

    @Test func trySendReportsDroppedAtMaxBufferedAmount() async throws {
        let results = Mutex<[SendResult]>([])
        var serverOptions = ServerOptions()
        serverOptions.connection.perMessageDeflate = .disabled
        serverOptions.connection.maxBufferedAmount = 256 * 1024
        serverOptions.listen.stream.sendBufferSize = 64 * 1024
        let server = try await AsyncWebSocketServer.start(host: "127.0.0.1", port: 0, options: serverOptions,
                                                          socketOptions: AsyncSocketOptions(maxQueue: 1)) { socket in
            // The client never reads: TCP fills, then the buffered amount reaches the limit.
            let payload = pattern(32 * 1024)
            for _ in 0..<4096 {
                let result = try await socket.trySend(.binary(payload))
                results.withLock { $0.append(result) }
                if result == .dropped { break }
            }
            // Dropping leaves the connection open (the `.drop` policy).
            #expect(await socket.state == .open)
            socket.abort()
        }
        let port = server.localAddress.port!
        var clientOptions = ClientOptions()
        clientOptions.connection.perMessageDeflate = .disabled
        clientOptions.stream.receiveBufferSize = 64 * 1024
        let options = clientOptions
        let client = try await withTimeout {
            try await AsyncWebSocket.connect("ws://127.0.0.1:\(port)/", options: options, socketOptions: AsyncSocketOptions(maxQueue: 1))
        }
        _ = try await withTimeout { await client.waitUntilClosed() }
        let seen = results.withLock { $0 }
        #expect(seen.contains(.sent) && seen.contains(.buffered) && seen.last == .dropped)
        await server.shutdown()
    }

    @Test func pingReturnsTheRoundTripTime() async throws {
        let server = try await echoServer()
        let port = server.localAddress.port!
        try await withTimeout {
            let client = try await AsyncWebSocket.connect("ws://127.0.0.1:\(port)/")
            for _ in 0..<3 {
                let rtt = try await client.ping()
                #expect(rtt > .zero && rtt < .seconds(5))
            }
            let status = await client.close()
            #expect(await webSocketError { _ = try await client.ping() } == .closed(status))
        }
        await server.shutdown()
    }

    /// A 8 MiB message sent from an AsyncSequence in 64 KiB fragments arrives frame by frame at
    /// a server that streams it (`receiveStreaming`), and whole at one that does not.
    @Test func fragmentedSendAndStreamingReceive() async throws {
        let fragment = 64 * 1024
        let fragments = 128
        var serverOptions = ServerOptions()
        serverOptions.connection.session.streamingThreshold = 16 * 1024
        let server = try await AsyncWebSocketServer.start(host: "127.0.0.1", port: 0, options: serverOptions) { socket in
            // First message: streamed; count its chunks and check its bytes.
            let incoming = try await socket.receiveStreaming()
            var chunks = 0
            var total = 0
            var intact = true
            for try await chunk in incoming.chunks {
                intact = intact && chunk == pattern(chunk.count, offset: total)
                chunks += 1
                total += chunk.count
            }
            try await socket.send("\(incoming.kind == .binary) \(chunks > 1) \(total) \(intact)")
            // Second message: the same, gathered by receive().
            let whole = try await socket.receive()
            try await socket.send(whole == .binary(pattern(fragment * fragments)) ? "whole" : "different")
            // Third: a small message streams as one chunk.
            let small = try await socket.receiveStreaming()
            var smallChunks: [[UInt8]] = []
            for try await chunk in small.chunks { smallChunks.append(chunk) }
            try await socket.send("\(small.kind == .text) \(smallChunks == [Array("hi".utf8)])")
        }
        let port = server.localAddress.port!
        try await withTimeout(seconds: 30) {
            let client = try await AsyncWebSocket.connect("ws://127.0.0.1:\(port)/")
            // The message, made fragment by fragment as the send asks for them.
            let source = PatternFragments(size: fragment, count: fragments)
            try await client.send(.binary, fragments: source)
            #expect(try await client.receive() == .text("true true \(fragment * fragments) true"))
            try await client.send(.binary, fragments: source)
            #expect(try await client.receive() == .text("whole"))
            try await client.send("hi")
            #expect(try await client.receive() == .text("true true"))
            await client.close()
        }
        await server.shutdown()
    }

    @Test func aWholeMessageDuringAFragmentedOneIsInvalid() async throws {
        let server = try await echoServer()
        let port = server.localAddress.port!
        try await withTimeout {
            let client = try await AsyncWebSocket.connect("ws://127.0.0.1:\(port)/")
            try await client.sendFragment(.text, Array("ab".utf8), isFinal: false)
            #expect(await webSocketError { try await client.send("whole") } == .invalid(.fragmentedMessageInProgress))
            try await client.sendFragment(.text, Array("c".utf8), isFinal: true)
            #expect(try await client.receive() == .text("abc"))
            await client.close()
        }
        await server.shutdown()
    }

    /// `runsHandlersOnLoop`: the handler runs on the server's loop thread, before and after its
    /// awaits, and the echo is the same.
    @Test func handlersCanRunOnTheLoopThread() async throws {
        let onLoop = Mutex<[Bool]>([])
        let server = try await AsyncWebSocketServer.start(host: "127.0.0.1", port: 0,
                                                          socketOptions: AsyncSocketOptions(runsHandlersOnLoop: true)) { socket in
            onLoop.withLock { $0.append(socket.loop.isInLoopThread) }
            for try await message in socket.messages {
                try await socket.send(message)
                onLoop.withLock { $0.append(socket.loop.isInLoopThread) }
            }
        }
        let port = server.localAddress.port!
        try await withTimeout {
            let client = try await AsyncWebSocket.connect("ws://127.0.0.1:\(port)/")
            for index in 0..<50 {
                try await client.send("m\(index)")
                #expect(try await client.receive() == .text("m\(index)"))
            }
            await client.close()
        }
        await server.shutdown()
        let seen = onLoop.withLock { $0 }
        #expect(seen.count == 51 && seen.allSatisfy { $0 })
    }

    @Test func connectErrorsAreTyped() async throws {
        #expect(await webSocketError { _ = try await AsyncWebSocket.connect("http://x") } == .connectFailed(.invalidURL("http://x")))
        let refused = await webSocketError { _ = try await AsyncWebSocket.connect("ws://127.0.0.1:1/") }
        #expect(refused == .connectFailed(.connectFailed(NetworkError(.system(errno: ECONNREFUSED), "connect to 127.0.0.1:1"))))
    }

    /// A server handler's own receives skip the per-receive cancellation handler (one handler
    /// covers the whole handler task): its receive still throws `.cancelled` once the task is
    /// cancelled, and a task it starts (not covered) still gets `.cancelled` when cancelled.
    @Test(arguments: [false, true]) func handlerReceivesHonourCancellation(handlersOnLoop: Bool) async throws {
        let (outcomes, report) = AsyncStream.makeStream(of: WebSocketError?.self)
        let server = try await AsyncWebSocketServer.start(host: "127.0.0.1", port: 0,
                                                          socketOptions: AsyncSocketOptions(runsHandlersOnLoop: handlersOnLoop)) { socket in
            let waiting = Task { await webSocketError { _ = try await socket.receive() } }
            waiting.cancel()
            report.yield(await waiting.value)
            withUnsafeCurrentTask { $0?.cancel() }
            report.yield(await webSocketError { _ = try await socket.receive() })
            report.finish()
        }
        let client = try await withTimeout { try await AsyncWebSocket.connect("ws://127.0.0.1:\(server.localAddress.port!)/") }
        let seen = try await withTimeout { await outcomes.reduce(into: [WebSocketError?]()) { $0.append($1) } }
        #expect(seen == [.cancelled, .cancelled])
        await client.close()
        await server.shutdown()
    }

    @Test func cancellingAReceiveThrowsCancelled() async throws {
        let server = try await echoServer()
        let port = server.localAddress.port!
        let client = try await withTimeout { try await AsyncWebSocket.connect("ws://127.0.0.1:\(port)/") }
        let waiting = Task { await webSocketError { _ = try await client.receive() } }
        waiting.cancel()
        #expect(try await withTimeout { await waiting.value } == .cancelled)
        await client.close()
        await server.shutdown()
    }
}
