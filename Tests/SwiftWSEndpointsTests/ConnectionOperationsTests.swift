import Glibc
import Testing
import SwiftWSCore
@testable import SwiftWSEndpoints
@testable import SwiftWSTransport
import SwiftWSTestSupport

/// The per-connection operations round 6 added for the Python binding's websockets
/// compatibility (`fail`, `closeTimeout` on an open connection, `closeTimedOut`,
/// `streamsFragmentedMessages`), through the Swift API between a server and a client on
/// 127.0.0.1. The C and Python faces reach the same code: Tests/C/net_test.c,
/// bindings/python/tests/test_connection_close.py and test_recv_streaming.py.
@Suite("Connection operations: fail, close timeout on an open connection, fragmented messages frame by frame", .serialized)
struct ConnectionOperationsTests {
    /// RFC 6455 section 7.1.7: failing sends the close frame and drops TCP without waiting for
    /// the peer's close frame. The client stops reading before the server fails, so it cannot
    /// answer until the server's `onClose` has run (which resumes it); with a 30 s close timeout,
    /// a server that waited for the answer would outlast the 5 s bound. The client then reads
    /// the code and reason the server failed with.
    @Test func failSendsItsCodeAndDropsTCPWithoutWaitingForThePeersClose() throws {
        let loop = try EventLoop()
        var options = ServerOptions()
        options.connection.closeTimeout = .seconds(30)
        let server = try WebSocketServer(loop: loop, host: "127.0.0.1", port: 0, options: options)
        var client: WebSocketConnection?
        var serverClose: CloseStatus?
        var serverClosedLocally: Bool?
        var serverTimedOut: Bool?
        var stateAfterFail: SessionState?
        server.handlers.onMessage = { connection, _, _ in
            connection.fail(code: .internalError, reason: "cannot go on")
            stateAfterFail = connection.state
        }
        server.handlers.onClose = { connection, status in
            serverClose = status
            serverClosedLocally = connection.closeInitiatedLocally
            serverTimedOut = connection.closeTimedOut
            // Only now may the client read (and answer) the close frame.
            client?.resumeReading()
        }
        var record: ClientRecord!
        record = connectRecordingClient(loop, url(server), onEvent: {
            if record.close != nil || record.error != nil { loop.stop() }
        }, onOpen: { connection in
            client = connection
            connection.pauseReading()
            _ = try? connection.send(text: "fail now")
        })
        #expect(runBounded(loop))
        #expect(stateAfterFail == .closing)
        // The server received no close frame: 1006, begun by this side, not a timeout.
        #expect(serverClose?.code == .abnormalClosure)
        #expect(serverClosedLocally == true)
        #expect(serverTimedOut == false)
        // The peer saw the code and reason given to `fail`.
        #expect(record.close == CloseStatus(code: .internalError, reason: "cannot go on"))
        #expect(server.connectionCount == 0)
    }

    /// `closeTimeout` set on an open connection replaces the options' value for a closing
    /// handshake begun after it: configured 30 s, set to 150 ms, against a server that never
    /// reads (so never answers the close frame), the client drops TCP after about 150 ms, and
    /// `closeTimedOut` says so in `onClose`.
    @Test func aCloseTimeoutSetOnAnOpenConnectionBoundsTheHandshakeAndCloseTimedOutSaysSo() throws {
        let loop = try EventLoop()
        let server = try WebSocketServer(loop: loop, host: "127.0.0.1", port: 0)
        server.handlers.onOpen = { $0.stream.pauseReading() }  // the server never reads the close frame
        var options = ClientOptions()
        options.connection.closeTimeout = .seconds(30)
        var configured: Duration?
        var timedOutWhileClosing: Bool?
        var timedOutInOnClose: Bool?
        var closeStarted = 0, closedAfter = 0
        var record: ClientRecord!
        record = connectRecordingClient(loop, url(server), options: options, onEvent: {
            if let connection = record.connection, record.close != nil {
                timedOutInOnClose = connection.closeTimedOut
                closedAfter = nowMilliseconds() - closeStarted
                loop.stop()
            }
            if record.error != nil { loop.stop() }
        }, onOpen: { connection in
            configured = connection.closeTimeout
            connection.closeTimeout = .milliseconds(150)
            closeStarted = nowMilliseconds()
            connection.close(code: .normalClosure, reason: "bye")
            timedOutWhileClosing = connection.closeTimedOut
        })
        #expect(runBounded(loop))
        #expect(configured == .seconds(30))
        #expect(record.connection?.closeTimeout == .milliseconds(150))
        #expect(record.close?.code == .abnormalClosure)
        #expect(timedOutWhileClosing == false)
        #expect(timedOutInOnClose == true)
        #expect(closedAfter >= 150)
    }

    /// The other side of `closeTimedOut`: a peer that answers the close in time (an echo server
    /// that reads) ends with 1000, and `closeTimedOut` stays false, also with a close timeout
    /// shortened on the open connection.
    @Test func closeTimedOutIsFalseAfterAHandshakeInTime() throws {
        let loop = try EventLoop()
        let server = try WebSocketServer(loop: loop, host: "127.0.0.1", port: 0)
        var timedOutInOnClose: Bool?
        var record: ClientRecord!
        record = connectRecordingClient(loop, url(server), onEvent: {
            if let connection = record.connection, record.close != nil {
                timedOutInOnClose = connection.closeTimedOut
                loop.stop()
            }
            if record.error != nil { loop.stop() }
        }, onOpen: { connection in
            connection.closeTimeout = .seconds(3)
            connection.close(code: .normalClosure, reason: "bye")
        })
        #expect(runBounded(loop))
        #expect(record.close?.code == .normalClosure)
        #expect(timedOutInOnClose == false)
    }

    /// `streamsFragmentedMessages`, on a server connection, with and without permessage-deflate.
    /// Off (the default), a fragmented message comes whole through `onMessage`. Turned on, each
    /// frame of a fragmented message comes through `onFragment` as it arrives: the client sends
    /// the next frame only after the server acknowledged the previous one, so a server that
    /// waited for the whole message would never acknowledge (the bound fails). Single-frame
    /// messages still come whole through `onMessage`: a small one, and one of 1 MiB that is not
    /// compressible, so that it arrives over many reads (past the session's fast path for a
    /// frame read whole).
    @Test(arguments: [false, true])
    func streamsFragmentedMessagesDeliversEachFrameAsItArrivesAndSingleFramesWhole(compressed: Bool) throws {
        let loop = try EventLoop()
        var options = ServerOptions()
        if !compressed { options.connection.perMessageDeflate = .disabled }
        let server = try WebSocketServer(loop: loop, host: "127.0.0.1", port: 0, options: options)
        var whole: [[UInt8]] = []
        var frames: [(kind: MessageKind, text: String, isFirst: Bool, isFinal: Bool)] = []
        var streamingBefore: Bool?, streamingAfter: Bool?
        server.handlers.onMessage = { connection, kind, bytes in
            #expect(kind == (whole.count == 2 ? .binary : .text))
            whole.append(Array(bytes))
            if whole.count == 1 {
                streamingBefore = connection.streamsFragmentedMessages
                connection.streamsFragmentedMessages = true
                streamingAfter = connection.streamsFragmentedMessages
            }
            _ = try? connection.send(text: "ack")
        }
        server.handlers.onFragment = { connection, kind, bytes, isFirst, isFinal in
            frames.append((kind, String(decoding: bytes, as: UTF8.self), isFirst, isFinal))
            _ = try? connection.send(text: "ack")
        }
        // A linear congruential sequence's high bytes: deflate cannot shrink them.
        var seed: UInt32 = 12_345
        let large = (0..<(1 << 20)).map { _ -> UInt8 in
            seed = seed &* 1_664_525 &+ 1_013_904_223
            return UInt8(truncatingIfNeeded: seed >> 24)
        }
        func sendFragment(_ connection: WebSocketConnection, _ text: String, isFinal: Bool) {
            Array(text.utf8).withUnsafeBytes { _ = try? connection.sendFragment(.text, $0, isFinal: isFinal) }
        }
        // What the client sends after each acknowledgement (the first: the server switched on).
        let steps: [(WebSocketConnection) -> Void] = [
            { sendFragment($0, "gh", isFinal: false) },
            { sendFragment($0, "ij", isFinal: false) },
            { sendFragment($0, "kl", isFinal: true) },
            { _ = try? $0.send(text: "mn") },
            { _ = try? $0.send(binary: large) },
        ]
        var taken = 0
        var record: ClientRecord!
        record = connectRecordingClient(loop, url(server), onEvent: {
            guard let connection = record.connection, record.close == nil, record.error == nil else { return loop.stop() }
            let acknowledged = record.messages.count
            if acknowledged > steps.count { return loop.stop() }
            if acknowledged > taken {
                steps[taken](connection)
                taken += 1
            }
        }, onOpen: { connection in
            // Off: three fragments sent at once, one message.
            sendFragment(connection, "ab", isFinal: false)
            sendFragment(connection, "cd", isFinal: false)
            sendFragment(connection, "ef", isFinal: true)
        })
        #expect(runBounded(loop))
        #expect(record.connection?.extensions.isEmpty == !compressed)
        #expect(streamingBefore == false)
        #expect(streamingAfter == true)
        #expect(whole == [Array("abcdef".utf8), Array("mn".utf8), large])
        #expect(frames.map(\.text) == ["gh", "ij", "kl"])
        #expect(frames.allSatisfy { $0.kind == .text })
        #expect(frames.map(\.isFirst) == [true, false, false])
        #expect(frames.map(\.isFinal) == [false, false, true])
    }
}
