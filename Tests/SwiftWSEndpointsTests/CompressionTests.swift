import Glibc
import Testing
import SwiftWSCore
@testable import SwiftWSEndpoints
@testable import SwiftWSTransport
import SwiftWSTestSupport

@Suite("permessage-deflate over the network: negotiation, round trips, broadcast compressed once", .serialized)
struct CompressionTests {
    private func compressibleText(_ size: Int) -> String {
        let words = ["price", "update", "symbol", "ACME", "bid", "ask", "volume", "{", "}", ":", ","]
        var text = ""
        var index = 0
        while text.utf8.count < size {
            text += words[index % words.count]
            index += 1
        }
        return String(text.prefix(size))
    }

    @Test(arguments: [
        PerMessageDeflateConfiguration(),
        PerMessageDeflateConfiguration(localNoContextTakeover: true),
        PerMessageDeflateConfiguration(localMaxWindowBits: 9, remoteMaxWindowBits: 9, remoteNoContextTakeover: true),
        PerMessageDeflateConfiguration.maximumCompression,
    ])
    func roundTripsCompressedAndSendsFewerBytes(serverConfiguration: PerMessageDeflateConfiguration) throws {
        let loop = try EventLoop()
        var options = ServerOptions()
        options.connection.perMessageDeflate = serverConfiguration
        let server = try WebSocketServer(loop: loop, host: "127.0.0.1", port: 0, options: options)
        server.handlers.onMessage = { connection, kind, bytes in _ = try? connection.send(kind, bytes) }
        let messages = [compressibleText(0), compressibleText(10), compressibleText(100_000), compressibleText(1 << 20)]
        var record: ClientRecord!
        var bytesBefore = 0
        record = connectRecordingClient(loop, url(server), onEvent: {
            if record.messages.count == messages.count { loop.stop() }
        }, onOpen: { connection in
            bytesBefore = loop.statistics.bytesWritten
            for message in messages { _ = try? connection.send(text: message) }
        })
        #expect(runBounded(loop, seconds: 10))
        #expect(record.texts == messages)
        let extensions = try #require(record.connection?.extensions)
        #expect(extensions.map(\.name) == ["permessage-deflate"])
        // Both directions together wrote far less than the ~2.2 MB of text.
        let written = loop.statistics.bytesWritten - bytesBefore
        #expect(written < 2 * messages.reduce(0) { $0 + $1.utf8.count } / 10)
    }

    @Test func aServerWithCompressionOffDeclinesAndTalksPlain() throws {
        let loop = try EventLoop()
        var options = ServerOptions()
        options.connection.perMessageDeflate = .disabled
        let server = try WebSocketServer(loop: loop, host: "127.0.0.1", port: 0, options: options)
        server.handlers.onMessage = { connection, kind, bytes in _ = try? connection.send(kind, bytes) }
        var record: ClientRecord!
        record = connectRecordingClient(loop, url(server), onEvent: {
            if !record.messages.isEmpty { loop.stop() }
        }, onOpen: { _ = try? $0.send(text: "plain") })
        #expect(runBounded(loop))
        #expect(record.texts == ["plain"])
        #expect(record.connection?.extensions == [])
    }

    @Test func broadcastIsCompressedOnceForReceiversWithoutContextTakeover() throws {
        let loop = try EventLoop()
        var options = ServerOptions()
        options.connection.perMessageDeflate = PerMessageDeflateConfiguration(localNoContextTakeover: true)
        let server = try WebSocketServer(loop: loop, host: "127.0.0.1", port: 0, options: options)
        let clientCount = 10
        let text = compressibleText(64 * 1024)
        var plainClientOptions = ClientOptions()
        plainClientOptions.connection.perMessageDeflate = .disabled
        var records: [ClientRecord] = []
        var sent = false
        var bytesBefore = 0
        let check = {
            if !sent, server.connections.count == clientCount + 1 {
                sent = true
                bytesBefore = loop.statistics.bytesWritten
                #expect(server.broadcast(text: text) == clientCount + 1)
            }
            if sent, records.allSatisfy({ $0.messages.count == 1 }) { loop.stop() }
        }
        for _ in 0..<clientCount { records.append(connectRecordingClient(loop, url(server), onEvent: check)) }
        // One client without compression gets the same message uncompressed.
        records.append(connectRecordingClient(loop, url(server), options: plainClientOptions, onEvent: check))
        func poll() { loop.schedule(after: .milliseconds(5)) { check(); if !sent { poll() } } }
        poll()
        #expect(runBounded(loop))
        for record in records { #expect(record.texts == [text]) }
        let written = loop.statistics.bytesWritten - bytesBefore
        // Eleven receivers: one uncompressed copy (~64 KiB) plus ten small compressed ones.
        #expect(written < text.utf8.count + text.utf8.count / 2)
        #expect(server.broadcastCompressions == 1)
        #expect(records[0].connection?.extensions.first?.parameters.contains { $0.name == "server_no_context_takeover" } == true)
    }
}
