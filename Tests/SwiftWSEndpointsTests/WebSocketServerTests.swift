import Glibc
import Synchronization
import Testing
import SwiftWSCore
@testable import SwiftWSEndpoints
@testable import SwiftWSTransport
import SwiftWSTestSupport

@Suite("WebSocket server and client over the loop", .serialized)
struct WebSocketServerTests {
    private func echoServer(_ loop: EventLoop, options: ServerOptions = ServerOptions()) throws -> WebSocketServer {
        let server = try WebSocketServer(loop: loop, host: "127.0.0.1", port: 0, options: options)
        server.handlers.onMessage = { connection, kind, bytes in _ = try? connection.send(kind, bytes) }
        return server
    }

    @Test func echoesTextAndBinaryOfEverySizeThenClosesWith1000() throws {
        let loop = try EventLoop()
        let server = try echoServer(loop)
        var serverClose: CloseStatus?
        server.handlers.onClose = { _, status in serverClose = status }
        let sizes = [0, 1, 125, 126, 65_535, 65_536, 1 << 20]
        var expected: [(MessageKind, [UInt8])] = []
        for size in sizes {
            expected.append((.binary, patternBytes(size)))
            expected.append((.text, Array(String(repeating: "é", count: size / 2).utf8)))
        }
        var record: ClientRecord!
        record = connectRecordingClient(loop, url(server), onEvent: {
            if record.messages.count == expected.count, record.close == nil { record.connection?.close(code: .normalClosure, reason: "done") }
            if record.close != nil { loop.schedule(after: .milliseconds(10)) { loop.stop() } }
        }, onOpen: { connection in
            for (kind, bytes) in expected { #expect(bytes.withUnsafeBytes { (try? connection.send(kind, $0)) ?? .dropped } != .dropped) }
        })
        #expect(runBounded(loop, seconds: 10))
        #expect(record.messages.count == expected.count)
        for (index, message) in record.messages.enumerated() where index < expected.count {
            #expect(message.0 == expected[index].0 && message.1 == expected[index].1, "message \(index)")
        }
        // The closing side reports the peer's answer (the server echoes the code, no reason).
        #expect(record.close == CloseStatus(code: .normalClosure, reason: ""))
        #expect(serverClose == CloseStatus(code: .normalClosure, reason: "done"))
        #expect(server.connectionCount == 0)
    }

    @Test func upgradeHookSeesTheRequestAndAcceptsWithSubprotocolHeadersAndUserData() throws {
        let loop = try EventLoop()
        let server = try echoServer(loop)
        var seenPath = "", seenQuery: String?, seenHeader: String?
        server.onUpgrade = { request, remote in
            seenPath = request.path
            seenQuery = request.query
            seenHeader = request.headers.first("X-Token")
            #expect(remote?.host == "127.0.0.1")
            return .accept(UpgradeAcceptance(subprotocol: "chat.v2", headers: HTTPHeaders([("X-Server", "swiftws")]), userData: "alice"))
        }
        var openedUser: String?
        var openedPath = ""
        server.handlers.onOpen = { connection in
            openedUser = connection.userData as? String
            openedPath = connection.path
        }
        var options = ClientOptions()
        options.subprotocols = ["chat.v1", "chat.v2"]
        options.headers = HTTPHeaders([("X-Token", "secret")])
        var record: ClientRecord!
        record = connectRecordingClient(loop, url(server, "/rooms/1?user=alice"), options: options, onEvent: { loop.stop() })
        #expect(runBounded(loop))
        #expect(record.error == nil)
        #expect(record.connection?.subprotocol == "chat.v2")
        #expect(seenPath == "/rooms/1")
        #expect(seenQuery == "user=alice")
        #expect(seenHeader == "secret")
        #expect(openedUser == "alice")
        #expect(openedPath == "/rooms/1")
    }

    @Test func upgradeHookRejectionReachesTheClientWithItsStatus() throws {
        let loop = try EventLoop()
        let server = try echoServer(loop)
        server.onUpgrade = { _, _ in .reject(status: 403, body: "no entry") }
        var record: ClientRecord!
        record = connectRecordingClient(loop, url(server), onEvent: { loop.stop() })
        #expect(runBounded(loop))
        #expect(record.error == .unexpectedStatus(code: 403, reason: "Forbidden"))
        var raw = ""
        rawExchange(loop, server.localAddress, upgradeRequest()) { raw = $0; loop.stop() }
        #expect(runBounded(loop))
        #expect(raw.hasPrefix("HTTP/1.1 403 Forbidden\r\n"))
        #expect(raw.hasSuffix("\r\n\r\nno entry"))
    }

    @Test func plainHTTPRequestsGetTheHandlerOr404AndBadUpgradesTheirStatus() throws {
        let loop = try EventLoop()
        let server = try echoServer(loop)
        var answers: [String] = []
        func next(_ request: String) {
            rawExchange(loop, server.localAddress, request) { answer in
                answers.append(answer)
                loop.stop()
            }
            #expect(runBounded(loop))
        }
        next("GET /health HTTP/1.1\r\nHost: x\r\n\r\n")
        server.onHTTPRequest = { head in
            HTTPResponse(status: head.target == "/health" ? 200 : 404, text: head.target == "/health" ? "ok" : "missing")
        }
        next("GET /health HTTP/1.1\r\nHost: x\r\n\r\n")
        next(upgradeRequest().replacingAll("Sec-WebSocket-Version: 13", "Sec-WebSocket-Version: 8"))
        next(upgradeRequest().replacingAll("Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n", ""))
        next("POST / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\n\r\n")
        next("GARBAGE\r\n\r\n")
        #expect(answers.count == 6)
        guard answers.count == 6 else { return }
        #expect(answers[0].hasPrefix("HTTP/1.1 404 "))
        #expect(answers[1].hasPrefix("HTTP/1.1 200 OK\r\n") && answers[1].hasSuffix("\r\n\r\nok"))
        #expect(answers[2].hasPrefix("HTTP/1.1 426 "))
        #expect(answers[2].contains("Sec-WebSocket-Version: 13\r\n"))
        #expect(answers[3].hasPrefix("HTTP/1.1 400 "))
        #expect(answers[4].hasPrefix("HTTP/1.1 405 "))
        #expect(answers[5].hasPrefix("HTTP/1.1 400 "))
    }

    @Test func originAllowListAdmitsListedOriginsOnly() throws {
        let loop = try EventLoop()
        var serverOptions = ServerOptions()
        serverOptions.allowedOrigins = ["https://good.example"]
        let server = try echoServer(loop, options: serverOptions)
        var good = ClientOptions(), bad = ClientOptions()
        good.origin = "https://GOOD.example"
        bad.origin = "https://evil.example"
        var records: [ClientRecord] = []
        let check = { if records.count == 2, records.allSatisfy({ $0.connection != nil || $0.error != nil }) { loop.stop() } }
        records.append(connectRecordingClient(loop, url(server), options: good, onEvent: check))
        records.append(connectRecordingClient(loop, url(server), options: bad, onEvent: check))
        #expect(runBounded(loop))
        #expect(records[0].connection != nil)
        #expect(records[1].error == .unexpectedStatus(code: 403, reason: "Forbidden"))
    }

    @Test func connectionsBeyondTheLimitGet503() throws {
        let loop = try EventLoop()
        var options = ServerOptions()
        options.maxConnections = 1
        let server = try echoServer(loop, options: options)
        var second: ClientRecord!
        let first = connectRecordingClient(loop, url(server), onEvent: {
            guard second == nil else { return }
            second = connectRecordingClient(loop, url(server), onEvent: { loop.stop() })
        })
        #expect(runBounded(loop))
        #expect(first.connection != nil)
        #expect(second.error == .unexpectedStatus(code: 503, reason: "Service Unavailable"))
    }

    @Test func clientErrorsAreSpecific() throws {
        let loop = try EventLoop()
        // Refused: a port nobody listens on.
        let probe = try loop.listen(host: "127.0.0.1", port: 0)
        let closedPort = probe.localAddress.port!
        probe.close()
        // A server that answers 101 with a wrong Sec-WebSocket-Accept, and one that never answers.
        let liar = try loop.listen(host: "127.0.0.1", port: 0) { stream in
            stream.onRead = { _ in
                stream.write(Array("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: AAAAAAAAAAAAAAAAAAAAAAAAAAA=\r\n\r\n".utf8))
            }
        }
        var silentStreams: [SocketStream] = []
        let silent = try loop.listen(host: "127.0.0.1", port: 0) { silentStreams.append($0) }
        var options = ClientOptions()
        options.handshakeTimeout = .milliseconds(200)
        var records: [ClientRecord] = []
        let check = { if records.count == 4, records.allSatisfy({ $0.error != nil }) { loop.stop() } }
        records.append(connectRecordingClient(loop, "ws://127.0.0.1:\(closedPort)/", onEvent: check))
        records.append(connectRecordingClient(loop, "ws://127.0.0.1:\(liar.localAddress.port!)/", onEvent: check))
        records.append(connectRecordingClient(loop, "ws://127.0.0.1:\(silent.localAddress.port!)/", options: options, onEvent: check))
        records.append(connectRecordingClient(loop, "http://127.0.0.1/", onEvent: check))
        #expect(runBounded(loop))
        #expect(records[0].error == .connectFailed(NetworkError(.system(errno: ECONNREFUSED), "connect to 127.0.0.1:\(closedPort)")))
        if case .handshakeFailed(let error)? = records[1].error {
            #expect(error.failure == .invalidAccept)
        } else {
            Issue.record("expected a bad-accept failure, got \(String(describing: records[1].error))")
        }
        #expect(records[2].error == .handshakeTimedOut)
        #expect(records[3].error == .invalidURL("http://127.0.0.1/"))
    }

    @Test func unknownHostNamesFailWithANameResolutionError() throws {
        let loop = try EventLoop()
        var options = ClientOptions()
        options.connectTimeout = .seconds(3)
        var record: ClientRecord!
        record = connectRecordingClient(loop, "ws://nonexistent.invalid:9001/", options: options, onEvent: { loop.stop() })
        #expect(runBounded(loop))
        guard case .connectFailed(let error)? = record.error, case .nameResolution = error.kind else {
            Issue.record("expected a name-resolution failure, got \(String(describing: record.error))")
            return
        }
        #expect(error.operation == "resolve nonexistent.invalid")
    }

    @Test func abortingInsideAMessageHandlerStopsDeliveryAtOnce() throws {
        let loop = try EventLoop()
        let server = try WebSocketServer(loop: loop, host: "127.0.0.1", port: 0)
        var delivered: [String] = []
        var status: CloseStatus?
        server.handlers.onMessage = { connection, _, bytes in
            delivered.append(String(decoding: bytes, as: UTF8.self))
            connection.abort()
        }
        server.handlers.onClose = { _, closeStatus in
            status = closeStatus
            loop.stop()
        }
        // Three messages in one write: they arrive in one read, and the handler aborts on the first.
        connectRecordingClient(loop, url(server), onOpen: { connection in
            for text in ["one", "two", "three"] { _ = try? connection.send(text: text) }
        })
        #expect(runBounded(loop))
        #expect(delivered == ["one"])
        #expect(status == CloseStatus(code: .abnormalClosure, reason: "aborted"))
    }

    @Test func urlsParse() {
        let full = WebSocketURL("ws://example.com:8080/chat?room=1")
        #expect(full?.host == "example.com" && full?.port == 8080 && full?.path == "/chat" && full?.query == "room=1")
        let v6 = WebSocketURL("ws://[::1]:9001")
        #expect(v6?.host == "::1" && v6?.port == 9001 && v6?.path == "/" && v6?.query == nil)
        #expect(WebSocketURL("wss://a.example")?.port == 443)
        #expect(WebSocketURL("ws://a.example?x")?.query == "x")
        for bad in ["http://a", "ws://", "ws://a:0/", "ws://a:99999/", "ws://a/#frag", "ws://u@a/", "ws://::1/", "ws://[::1/"] {
            #expect(WebSocketURL(bad) == nil, "\(bad)")
        }
    }

    @Test func slowReaderHitsTheDropPolicyThenDrains() throws {
        let loop = try EventLoop()
        var options = ServerOptions()
        options.connection.maxBufferedAmount = 1 << 20
        options.listen.stream.sendBufferSize = 16 * 1024
        options.connection.perMessageDeflate = .disabled  // bytes on the wire = bytes sent
        let server = try WebSocketServer(loop: loop, host: "127.0.0.1", port: 0, options: options)
        var results: [SendResult] = []
        var maxBuffered = 0
        var drained = 0
        let chunk = patternBytes(64 * 1024)
        var clientRecord: ClientRecord!
        server.handlers.onOpen = { connection in
            // Send until the policy drops a message, while the client is not reading.
            loop.schedule(after: .milliseconds(20)) {
                while results.last != .dropped && results.count < 10_000 {
                    results.append((try? connection.send(binary: chunk)) ?? .dropped)
                    maxBuffered = max(maxBuffered, connection.bufferedAmount)
                }
                loop.schedule(after: .milliseconds(50)) { clientRecord.connection?.stream.resumeReading() }
            }
        }
        server.handlers.onDrain = { _ in drained += 1 }
        var clientOptions = ClientOptions()
        clientOptions.stream.receiveBufferSize = 16 * 1024
        clientRecord = connectRecordingClient(loop, url(server), options: clientOptions, onEvent: {
            let accepted = results.filter { $0 != .dropped }.count
            if accepted > 0, clientRecord.messages.count == accepted { loop.schedule(after: .milliseconds(20)) { loop.stop() } }
        }, onOpen: { $0.stream.pauseReading() })
        #expect(runBounded(loop, seconds: 10))
        #expect(results.contains(.buffered))
        #expect(results.last == .dropped)
        #expect(maxBuffered <= (1 << 20) + chunk.count)
        let accepted = results.filter { $0 != .dropped }.count
        #expect(clientRecord.messages.count == accepted)
        #expect(clientRecord.messages.allSatisfy { $0.1 == chunk })
        #expect(drained >= 1)
        #expect(server.connections.first?.isOpen == true)
    }

    @Test func slowReaderHitsTheClosePolicy() throws {
        let loop = try EventLoop()
        var options = ServerOptions()
        options.connection.maxBufferedAmount = 256 * 1024
        options.connection.backpressurePolicy = .close
        options.listen.stream.sendBufferSize = 16 * 1024
        options.connection.perMessageDeflate = .disabled  // bytes on the wire = bytes sent
        let server = try WebSocketServer(loop: loop, host: "127.0.0.1", port: 0, options: options)
        var serverStatus: CloseStatus?
        var sends = 0
        server.handlers.onOpen = { connection in
            loop.schedule(after: .milliseconds(20)) {
                while (try? connection.send(binary: patternBytes(32 * 1024))) != .dropped && sends < 10_000 { sends += 1 }
            }
        }
        var record: ClientRecord!
        server.handlers.onClose = { _, status in
            serverStatus = status
            record.connection?.stream.resumeReading()
        }
        var clientOptions = ClientOptions()
        clientOptions.stream.receiveBufferSize = 16 * 1024
        record = connectRecordingClient(loop, url(server), options: clientOptions, onEvent: {
            if record.close != nil { loop.stop() }
        }, onOpen: { $0.stream.pauseReading() })
        #expect(runBounded(loop, seconds: 10))
        #expect(serverStatus == CloseStatus(code: .policyViolation, reason: "send buffer limit exceeded"))
        #expect(record.close?.code == .abnormalClosure)
        #expect(sends < 10_000)
    }

    @Test func autoPingKeepsAnsweringPeersAliveAndPongTimeoutCloses1011() throws {
        let loop = try EventLoop()
        var options = ServerOptions()
        options.connection.pingInterval = .milliseconds(30)
        options.connection.pongTimeout = .milliseconds(60)
        let server = try echoServer(loop, options: options)
        var silentOptions = ClientOptions()
        silentOptions.connection.session.autoPong = false
        let answering = connectRecordingClient(loop, url(server))
        var silent: ClientRecord!
        silent = connectRecordingClient(loop, url(server), options: silentOptions, onEvent: {
            if silent.close != nil { loop.schedule(after: .milliseconds(100)) { loop.stop() } }
        })
        #expect(runBounded(loop))
        #expect(silent.close == CloseStatus(code: .internalError, reason: "keepalive ping timeout"))
        #expect(silent.pings >= 1)
        #expect(answering.close == nil)
        #expect(answering.pings >= 3)
        #expect(answering.connection?.isOpen == true)
    }

    @Test func idleTimeoutClosesWith1001() throws {
        let loop = try EventLoop()
        var options = ServerOptions()
        options.connection.idleTimeout = .milliseconds(80)
        let server = try echoServer(loop, options: options)
        var record: ClientRecord!
        let start = nowMilliseconds()
        var closedAfter = 0
        record = connectRecordingClient(loop, url(server), onEvent: {
            if record.close != nil {
                closedAfter = nowMilliseconds() - start
                loop.stop()
            }
        }, onOpen: { connection in
            // Activity postpones the timeout: three messages 40 ms apart keep it open ~200 ms.
            for step in 1...3 { loop.schedule(after: .milliseconds(40 * step)) { _ = try? connection.send(text: "still here") } }
        })
        #expect(runBounded(loop))
        #expect(record.close == CloseStatus(code: .goingAway, reason: "idle timeout"))
        #expect(record.texts == ["still here", "still here", "still here"])
        #expect(closedAfter >= 190)
    }

    @Test func closeHandshakeTimesOutWhenThePeerNeverAnswers() throws {
        let loop = try EventLoop()
        let server = try echoServer(loop)
        server.handlers.onOpen = { $0.stream.pauseReading() }  // the server never reads the close frame
        var options = ClientOptions()
        options.connection.closeTimeout = .milliseconds(100)
        var record: ClientRecord!
        let start = nowMilliseconds()
        record = connectRecordingClient(loop, url(server), options: options, onEvent: {
            if record.close != nil { loop.stop() }
        }, onOpen: { $0.close(code: .normalClosure, reason: "bye") })
        #expect(runBounded(loop))
        #expect(record.close?.code == .abnormalClosure)
        #expect(nowMilliseconds() - start >= 100)
    }

    @Test func gracefulShutdownDeliversEveryMessageReceivedBeforeTheClose() throws {
        let loop = try EventLoop()
        let server = try WebSocketServer(loop: loop, host: "127.0.0.1", port: 0)
        var received: [String] = []
        var shutdownDone = false
        server.handlers.onMessage = { _, _, bytes in
            received.append(String(decoding: bytes, as: UTF8.self))
            // Shut down as soon as the first message is in: the rest are already on the way.
            if received.count == 1 { server.shutdown(timeout: .seconds(2)) { shutdownDone = true } }
        }
        var records: [ClientRecord] = []
        let check = { if shutdownDone, records.allSatisfy({ $0.close != nil }) { loop.stop() } }
        for client in 0..<3 {
            records.append(connectRecordingClient(loop, url(server), onEvent: check, onOpen: { connection in
                for index in 0..<5 { _ = try? connection.send(text: "c\(client)m\(index)") }
            }))
        }
        loop.schedule(after: .milliseconds(500)) { check() }
        #expect(runBounded(loop))
        #expect(shutdownDone)
        #expect(Set(received) == Set((0..<3).flatMap { c in (0..<5).map { "c\(c)m\($0)" } }))
        #expect(received.count == 15)
        for record in records { #expect(record.close == CloseStatus(code: .goingAway, reason: "server shutting down")) }
        #expect(server.connectionCount == 0)
        var refused: ClientRecord!
        refused = connectRecordingClient(loop, url(server), onEvent: { loop.stop() })
        #expect(runBounded(loop))
        if case .connectFailed? = refused.error {} else { Issue.record("expected refusal after shutdown") }
    }

    @Test func broadcastAndTopicsReachExactlyTheirReceivers() throws {
        let loop = try EventLoop()
        let server = try WebSocketServer(loop: loop, host: "127.0.0.1", port: 0)
        let clientCount = 40
        var opened = 0
        server.handlers.onOpen = { connection in
            if (connection.userData as? Int ?? 0) % 2 == 0 { server.subscribe(connection, to: "even") }
            opened += 1
        }
        server.onUpgrade = { request, _ in .accept(UpgradeAcceptance(userData: Int(request.query ?? "") ?? -1)) }
        var records: [ClientRecord] = []
        var phase = 0
        let check = {
            let total = records.reduce(0) { $0 + $1.messages.count }
            if phase == 0, opened == clientCount {
                phase = 1
                #expect(server.subscriberCount("even") == clientCount / 2)
                #expect(server.publish("even", text: "to evens") == clientCount / 2)
                #expect(server.broadcast(binary: [1, 2, 3]) == clientCount)
            } else if phase == 1, total == clientCount / 2 + clientCount {
                loop.stop()
            }
        }
        server.handlers.onClose = { _, _ in check() }
        for index in 0..<clientCount {
            records.append(connectRecordingClient(loop, url(server, "/?\(index)"), onEvent: check))
        }
        loop.schedule(after: .milliseconds(10)) { check() }
        let opener = loop.schedule(after: .milliseconds(1)) {}
        _ = opener
        // Opened connections are counted on the server; poll until all are in.
        func poll() { loop.schedule(after: .milliseconds(5)) { check(); if phase == 0 { poll() } } }
        poll()
        #expect(runBounded(loop))
        for (index, record) in records.enumerated() {
            let expected: [[UInt8]] = index % 2 == 0 ? [Array("to evens".utf8), [1, 2, 3]] : [[1, 2, 3]]
            #expect(record.messages.map(\.1) == expected, "client \(index)")
        }
        // Unsubscribing and closing remove members.
        let first = server.connections.first { ($0.userData as? Int) == 0 }!
        server.unsubscribe(first, from: "even")
        #expect(server.subscriberCount("even") == clientCount / 2 - 1)
    }

    @Test func handleSendsFromAnotherThreadAndReportsClosedAfterwards() throws {
        let loop = try EventLoop()
        let server = try WebSocketServer(loop: loop, host: "127.0.0.1", port: 0)
        let handleBox = Mutex<ConnectionHandle?>(nil)
        server.handlers.onOpen = { connection in
            let handle = connection.handle
            handleBox.withLock { $0 = handle }
            spawnDetachedThread {
                for index in 0..<100 { _ = handle.send(text: "m\(index)") }
                _ = handle.close(code: .normalClosure, reason: "from thread")
            }
        }
        var record: ClientRecord!
        record = connectRecordingClient(loop, url(server), onEvent: {
            if record.close != nil { loop.schedule(after: .milliseconds(20)) { loop.stop() } }
        })
        #expect(runBounded(loop))
        #expect(record.texts == (0..<100).map { "m\($0)" })
        #expect(record.close == CloseStatus(code: .normalClosure, reason: "from thread"))
        let handle = try #require(handleBox.withLock { $0 })
        #expect(handle.isClosed)
        #expect(handle.send(text: "late") == .closed)
        #expect(handle.close() == .closed)
    }

    @Test func workPostedThroughAHandleBeforeTheLoopClosesStillCompletes() throws {
        let loop = try EventLoop()
        let server = try WebSocketServer(loop: loop, host: "127.0.0.1", port: 0)
        var handle: ConnectionHandle?
        server.handlers.onOpen = { connection in
            handle = connection.handle
            loop.stop()
        }
        connectRecordingClient(loop, url(server))
        #expect(runBounded(loop))
        let liveHandle = try #require(handle)
        let result = Mutex<Result<SendResult, SessionError>?>(nil)
        #expect(liveHandle.send(text: "posted", completion: { sent in result.withLock { $0 = sent } }) == .queued)
        loop.close()
        // The posted send ran during close, after the connection closed: it reports `.closed`.
        #expect(result.withLock { $0 } == .failure(.closed))
        #expect(liveHandle.isClosed)
        #expect(liveHandle.send(text: "later") == .closed)
        // A closed loop refuses new work and reports new connects at once.
        var connectError: NetworkError?
        loop.connect(host: "127.0.0.1", port: 9) { result in
            if case .failure(let error) = result { connectError = error }
        }
        #expect(connectError?.kind == .closed)
    }

    @Test func abruptDisconnectMidFrameIs1006AndOtherConnectionsCarryOn() throws {
        let loop = try EventLoop()
        let server = try echoServer(loop)
        var statuses: [CloseStatus] = []
        server.handlers.onClose = { _, status in statuses.append(status) }
        var survivor: ClientRecord!
        survivor = connectRecordingClient(loop, url(server), onEvent: {
            if survivor.texts == ["still fine"] { loop.stop() }
        })
        // A raw client: handshake, half a masked frame, then RST.
        loop.connect(to: server.localAddress) { result in
            guard case .success(let stream) = result else { return }
            stream.onRead = { _ in
                stream.write([0x82, 0xFE, 0x01, 0x00, 1, 2, 3, 4, 9, 9, 9])  // 256-byte frame, 3 bytes sent
                loop.schedule(after: .milliseconds(20)) {
                    stream.abort()
                    loop.schedule(after: .milliseconds(20)) { _ = try? survivor.connection?.send(text: "still fine") }
                }
            }
            stream.write(Array(upgradeRequest().utf8))
        }
        #expect(runBounded(loop))
        #expect(statuses.count == 1)
        #expect(statuses.first?.code == .abnormalClosure)
        #expect(survivor.texts == ["still fine"])
    }

    @Test func protocolErrorsFromThePeerCloseWithTheRFCCode() throws {
        let loop = try EventLoop()
        let server = try echoServer(loop)
        var status: CloseStatus?
        server.handlers.onClose = { _, closeStatus in status = closeStatus }
        var response: [UInt8] = []
        loop.connect(to: server.localAddress) { result in
            guard case .success(let stream) = result else { return }
            var upgraded = false
            stream.onRead = { bytes in
                if !upgraded {
                    upgraded = true
                    stream.write([0x81, 0x02, 0x68, 0x69])  // an unmasked frame from a client: 1002
                    return
                }
                response += copyBytes(bytes)
            }
            stream.onClose = { _ in loop.stop() }
            stream.write(Array(upgradeRequest().utf8))
        }
        #expect(runBounded(loop))
        #expect(status?.code == .protocolError)
        // The server's close frame: FIN+close, length, code 1002 big-endian.
        #expect(response.count >= 4 && response[0] == 0x88 && response[2] == 0x03 && response[3] == 0xEA)
    }
}

extension String {
    /// `replacingOccurrences` without Foundation.
    func replacingAll(_ target: String, _ replacement: String) -> String {
        var result = ""
        var rest = Substring(self)
        while let range = rest.firstRange(of: target) {
            result += rest[..<range.lowerBound]
            result += replacement
            rest = rest[range.upperBound...]
        }
        return result + rest
    }
}
