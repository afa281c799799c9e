import Glibc
import Synchronization
import Testing
import SwiftWSCore
@testable import SwiftWSEndpoints
@testable import SwiftWSTransport
import SwiftWSTestSupport

@Suite("WebSocket edges: server handshake timeout, half-close mid-frame, IPv6, SO_REUSEPORT", .serialized)
struct WebSocketEdgeTests {
    @Test func aClientThatNeverFinishesItsRequestGets408() throws {
        let loop = try EventLoop()
        var options = ServerOptions()
        options.handshakeTimeout = .milliseconds(100)
        let server = try WebSocketServer(loop: loop, host: "127.0.0.1", port: 0, options: options)
        var answer = ""
        let start = nowMilliseconds()
        // Half a request head, then silence.
        rawExchange(loop, server.localAddress, "GET / HTTP/1.1\r\nHost: x\r\n") { answer = $0; loop.stop() }
        #expect(runBounded(loop))
        #expect(answer.hasPrefix("HTTP/1.1 408 "))
        #expect(nowMilliseconds() - start >= 100)
        #expect(server.connectionCount == 0)
    }

    /// The Swift face of `sws_server_config.answer_bad_requests` / `on_no_request`: a request
    /// line that is not HTTP gets 400 at once by default, and with `answersBadRequests` off the
    /// connection ends without a byte; `onNoRequest` is told why, with what had arrived, both times.
    @Test(arguments: [true, false]) func aRequestLineThatIsNotHTTPIsAnsweredOrDroppedAsConfigured(answers: Bool) throws {
        let loop = try EventLoop()
        var options = ServerOptions()
        options.answersBadRequests = answers
        options.handshakeTimeout = .seconds(10)  // the answer must not wait for it
        let server = try WebSocketServer(loop: loop, host: "127.0.0.1", port: 0, options: options)
        var told: [NoRequest] = []
        server.onNoRequest = { told.append($0) }
        var answer: String?
        rawExchange(loop, server.localAddress, "HELLO\r\n") { answer = $0; loop.stop() }
        #expect(runBounded(loop))
        if answers {
            #expect(answer?.hasPrefix("HTTP/1.1 400 ") == true)
        } else {
            #expect(answer == "")
        }
        #expect(told.count == 1)
        if case .badRequestLine = told.first?.reason {} else { Issue.record("reason: \(String(describing: told.first?.reason))") }
        #expect(told.first?.received == Array("HELLO\r\n".utf8))
        #expect(server.connectionCount == 0)
    }

    @Test func halfCloseInTheMiddleOfAFrameIs1006() throws {
        let loop = try EventLoop()
        let server = try WebSocketServer(loop: loop, host: "127.0.0.1", port: 0)
        var status: CloseStatus?
        var messages = 0
        server.handlers.onMessage = { _, _, _ in messages += 1 }
        server.handlers.onClose = { _, closeStatus in
            status = closeStatus
            loop.stop()
        }
        loop.connect(to: server.localAddress) { result in
            guard case .success(let stream) = result else { return }
            stream.onRead = { _ in
                // One whole masked text frame "hi", then the first bytes of another, then FIN.
                stream.write([0x81, 0x82, 0, 0, 0, 0, 0x68, 0x69, 0x81, 0x85, 0, 0])
                stream.shutdownOutput()
            }
            stream.write(Array(upgradeRequest().utf8))
        }
        #expect(runBounded(loop))
        #expect(messages == 1)
        #expect(status == CloseStatus(code: .abnormalClosure, reason: "connection closed without a close frame"))
    }

    @Test func ipv6ServerAndClientURL() throws {
        let loop = try EventLoop()
        let server = try WebSocketServer(loop: loop, host: "::1", port: 0)
        server.handlers.onMessage = { connection, kind, bytes in _ = try? connection.send(kind, bytes) }
        var record: ClientRecord!
        record = connectRecordingClient(loop, "ws://[::1]:\(server.localAddress.port!)/v6", onEvent: {
            if !record.messages.isEmpty || record.error != nil { loop.stop() }
        }, onOpen: { _ = try? $0.send(text: "over ipv6") })
        #expect(runBounded(loop))
        #expect(record.texts == ["over ipv6"])
        #expect(record.connection?.remoteAddress?.family == .ipv6)
    }

    @Test func reusePortSpreadsOneServerOverTwoLoopThreads() throws {
        /// A loop on its own thread, for this test.
        final class LoopThread: @unchecked Sendable {
            let loop: EventLoop
            let done = Atomic<Bool>(false)
            init() throws {
                loop = try EventLoop()
                spawnDetachedThread { [self] in
                    loop.run()
                    loop.close()
                    done.store(true, ordering: .releasing)
                }
            }
        }
        final class Counter: @unchecked Sendable { var opened = 0; var server: WebSocketServer? }
        var reuseOptions = ServerOptions()
        reuseOptions.listen.reusePort = true
        let options = reuseOptions
        let first = try LoopThread(), second = try LoopThread()
        let counters = [Counter(), Counter()]
        let portBox = Mutex<UInt16>(0)
        for (thread, counter) in zip([first, second], counters) {
            let ready = Atomic<Bool>(false)
            thread.loop.execute {
                let port = portBox.withLock { $0 }
                let server = try? WebSocketServer(loop: thread.loop, host: "127.0.0.1", port: port, options: options)
                server?.handlers.onOpen = { _ in counter.opened += 1 }
                counter.server = server
                if let server { portBox.withLock { $0 = server.localAddress.port! } }
                ready.store(true, ordering: .releasing)
            }
            while !ready.load(ordering: .acquiring) { usleep(1000) }
        }
        #expect(counters.allSatisfy { $0.server != nil })
        let port = portBox.withLock { $0 }
        let loop = try EventLoop()
        var records: [ClientRecord] = []
        let clients = 40
        for _ in 0..<clients {
            records.append(connectRecordingClient(loop, "ws://127.0.0.1:\(port)/", onEvent: {
                if records.count == clients, records.allSatisfy({ $0.connection != nil || $0.error != nil }) { loop.stop() }
            }))
        }
        #expect(runBounded(loop))
        #expect(records.allSatisfy { $0.connection != nil })
        // Let both loops count their onOpen, then read the counters on their own threads.
        let totals = Mutex<[Int]>([])
        for (thread, counter) in zip([first, second], counters) {
            thread.loop.execute {
                totals.withLock { $0.append(counter.opened) }
                counter.server = nil
                thread.loop.stop()
            }
        }
        let deadline = nowMilliseconds() + 5000
        while !(first.done.load(ordering: .acquiring) && second.done.load(ordering: .acquiring)) && nowMilliseconds() < deadline {
            usleep(1000)
        }
        let counts = totals.withLock { $0 }
        #expect(counts.count == 2)
        #expect(counts.reduce(0, +) == clients)
        #expect(counts.allSatisfy { $0 > 0 })
        loop.close()
    }
}
