import Testing
import SwiftWSCore
@testable import SwiftWSEndpoints
import SwiftWSTransport
import SwiftWSTestSupport

/// Upgrades decided later (`UpgradeDecision.later` + `PendingUpgrade`), the log sink, and the
/// client's view of the server's handshake response.
@Suite("Deferred upgrades, logging, handshake responses", .serialized)
struct DeferredUpgradeTests {
    private func echoServer(_ loop: EventLoop, options: ServerOptions = ServerOptions()) throws -> WebSocketServer {
        let server = try WebSocketServer(loop: loop, host: "127.0.0.1", port: 0, options: options)
        server.handlers.onMessage = { connection, kind, bytes in _ = try? connection.send(kind, bytes) }
        return server
    }

    @Test func aDeferredUpgradeIsAcceptedOrRefusedLaterAndLogged() throws {
        let loop = try EventLoop()
        let server = try echoServer(loop)
        var lines: [(LogLevel, String)] = []
        server.log = LogSink(level: .info) { lines.append(($0, $1)) }
        var pending: PendingUpgrade?
        server.onUpgrade = { _, _ in
            pending = server.deferUpgrade()
            loop.stop()
            return .later
        }
        #expect(server.deferUpgrade() == nil)  // only during onUpgrade

        // Accepted later, with a header: the client opens and sees the header in the 101.
        var response: HandshakeResponse?
        let record = ClientRecord()
        WebSocketClient.connect(to: url(server), on: loop, handlers: recordingHandlers(record),
                                onResponse: { response = $0 }) { result in
            if case .success(let connection) = result { record.connection = connection }
            loop.stop()
        }
        #expect(runBounded(loop))
        #expect(pending?.isPending == true)
        #expect(record.connection == nil)
        #expect(pending?.decide(.later) == false)
        var headers = HTTPHeaders()
        headers.append(name: "X-Decided", value: "later")
        #expect(pending?.decide(.accept(UpgradeAcceptance(headers: headers))) == true)
        #expect(pending?.isPending == false)
        #expect(pending?.decide(.reject(status: 403)) == false)  // once
        #expect(runBounded(loop))
        #expect(record.connection != nil)
        let head = String(decoding: response?.head ?? [], as: UTF8.self)
        #expect(head.hasPrefix("HTTP/1.1 101 "))
        #expect(head.contains("\r\nX-Decided: later\r\n"))

        // Refused later: the client gets the status, the body came with the head.
        var refused: ClientError?
        WebSocketClient.connect(to: url(server), on: loop, onResponse: { response = $0 }) { result in
            if case .failure(let error) = result { refused = error }
            loop.stop()
        }
        #expect(runBounded(loop))
        pending?.decide(.reject(status: 401, body: "who?"))
        #expect(runBounded(loop))
        #expect(refused == .unexpectedStatus(code: 401, reason: "Unauthorized"))
        #expect(response?.body == Array("who?".utf8))

        #expect(lines.contains { $0 == (.info, "connection open") })
        #expect(lines.contains { $0 == (.info, "connection rejected (401 Unauthorized)") })
    }

    @Test func anUndecidedUpgradeTimesOutWith503() throws {
        let loop = try EventLoop()
        var options = ServerOptions()
        options.handshakeTimeout = .milliseconds(200)
        let server = try echoServer(loop, options: options)
        var pending: PendingUpgrade?
        server.onUpgrade = { _, _ in
            pending = server.deferUpgrade()
            return .later
        }
        var refused: ClientError?
        WebSocketClient.connect(to: url(server), on: loop) { result in
            if case .failure(let error) = result { refused = error }
            loop.stop()
        }
        #expect(runBounded(loop))
        #expect(refused == .unexpectedStatus(code: 503, reason: "Service Unavailable"))
        #expect(pending?.isPending == false)
        #expect(pending?.decide(.accept(UpgradeAcceptance())) == false)
    }
}
