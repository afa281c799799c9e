import Glibc
import Testing
import SwiftWSCore
@testable import SwiftWSEndpoints
@testable import SwiftWSTransport
import SwiftWSTestSupport

@Suite("Scale: 1,000 clients, broadcast and topics, disconnects, memory per connection", .serialized)
struct ScaleTests {
    @Test func thousandClientsGetBroadcastsAndTheirTopicsAndSurviveAbruptDisconnects() throws {
        let loop = try EventLoop()
        var options = ServerOptions()
        options.listen.backlog = 4096
        let server = try WebSocketServer(loop: loop, host: "127.0.0.1", port: 0, options: options)
        let clientCount = 1000
        let topics = ["red", "green", "blue", "none"]
        server.onUpgrade = { request, _ in .accept(UpgradeAcceptance(userData: Int(request.query ?? "") ?? -1)) }
        var opened = 0
        server.handlers.onOpen = { connection in
            let index = connection.userData as? Int ?? 0
            if index % 4 != 3 { server.subscribe(connection, to: topics[index % 4]) }
            opened += 1
        }
        var serverCloses: [CloseCode] = []
        server.handlers.onClose = { _, status in serverCloses.append(status.code) }

        var records: [ClientRecord] = []
        var phase = 0
        func check() {
            switch phase {
            case 0 where opened == clientCount:
                phase = 1
                for topic in topics.prefix(3) { #expect(server.publish(topic, text: "topic \(topic)") == clientCount / 4) }
                #expect(server.broadcast(text: "everyone") == clientCount)
            case 1 where records.enumerated().allSatisfy({ index, record in record.messages.count == (index % 4 == 3 ? 1 : 2) }):
                phase = 2
                // Every tenth client vanishes without a close frame (RST).
                for index in stride(from: 0, to: clientCount, by: 10) { records[index].connection?.abort() }
            case 2 where server.connectionCount == clientCount - clientCount / 10:
                phase = 3
                #expect(server.broadcast(text: "after") == clientCount - clientCount / 10)
            case 3 where records.enumerated().allSatisfy({ index, record in
                index % 10 == 0 || record.texts.last == "after" }):
                loop.stop()
            default:
                break
            }
        }
        func poll() { loop.schedule(after: .milliseconds(10)) { check(); poll() } }
        poll()
        for index in 0..<clientCount {
            records.append(connectRecordingClient(loop, url(server, "/?\(index)")))
        }
        #expect(runBounded(loop, seconds: 30))
        #expect(phase == 3)
        for (index, record) in records.enumerated() {
            let expected = index % 4 == 3 ? ["everyone"] : ["topic \(topics[index % 4])", "everyone"]
            #expect(Array(record.texts.prefix(expected.count)) == expected, "client \(index)")
            if index % 10 != 0 { #expect(record.texts.count == expected.count + 1) }
        }
        #expect(serverCloses.count == clientCount / 10)
        #expect(serverCloses.allSatisfy { $0 == .abnormalClosure })
        // Closed connections left their topics: red had indices 0, 4, 8, …; those divisible by 20
        // were also aborted.
        #expect(server.subscriberCount("red") == clientCount / 4 - clientCount / 20)
        #expect(server.subscriberCount("green") == clientCount / 4)
        loop.close()
    }

    /// Memory per idle WebSocket connection of the real server, `swiftws-echo` (built next to
    /// the tests), measured in its own process so that the tests running in parallel here cannot
    /// disturb it: resident set growth for 1,000 connections that each exchanged one message.
    /// Kernel socket buffers are not part of a process's RSS. Also over TLS (wss://), where
    /// OpenSSL's buffers are released while idle (SSL_MODE_RELEASE_BUFFERS).
    @Test(arguments: [false, true])
    func idleConnectionsOfTheEchoServerStaySmall(tls: Bool) throws {
        // The test bundle and swiftws-echo are built into the same directory.
        guard let resolved = realpath("/proc/self/exe", nil) else {
            Issue.record("cannot resolve /proc/self/exe")
            return
        }
        let executable = String(cString: resolved)
        free(resolved)
        let binary = executable.split(separator: "/", omittingEmptySubsequences: false).dropLast().joined(separator: "/") + "/swiftws-echo"
        guard access(binary, X_OK) == 0 else {
            Issue.record("\(binary) not built: run swift build --build-tests")
            return
        }
        let tlsArguments = tls ? ["--tls-cert", TestCertificates.file("chain.pem"), "--tls-key", TestCertificates.file("server.key")] : []
        let server = try PeerProcess([binary, "--host", "127.0.0.1", "--port", "0", "--no-compression"] + tlsArguments)
        let clientTLS = tls ? try TLSContext.shared(client: TestCertificates.client) : nil
        defer { server.finish(timeoutMilliseconds: 100) }
        let ready = try #require(server.readLine(timeoutMilliseconds: 10_000))
        let port = try #require(UInt16(ready.split(separator: ":").last ?? ""))
        func residentBytes() -> Int {
            guard let file = fopen("/proc/\(server.pid)/status", "r") else { return -1 }
            defer { fclose(file) }
            var line = [CChar](repeating: 0, count: 256)
            while fgets(&line, 256, file) != nil {
                let text = String(decoding: line.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
                if text.hasPrefix("VmRSS:") {
                    return (Int(text.split(separator: " ").dropFirst().first ?? "") ?? -1) * 1024
                }
            }
            return -1
        }
        let loop = try EventLoop()
        var streams: [SocketStream] = []
        var echoed = 0
        // A masked one-byte text frame "x" (mask key 0).
        let frame: [UInt8] = [0x81, 0x81, 0, 0, 0, 0, 0x78]
        func open(_ count: Int) {
            echoed = 0
            for _ in 0..<count {
                loop.connect(to: SocketAddress(ip: "127.0.0.1", port: port)!) { result in
                    guard case .success(let stream) = result else { return }
                    streams.append(stream)
                    if let clientTLS { try? stream.startTLS(client: clientTLS, serverName: "127.0.0.1") }
                    var upgraded = false
                    stream.onRead = { bytes in
                        if !upgraded {
                            upgraded = true
                            stream.write(frame)
                        } else if bytes.count > 0 {
                            echoed += 1
                            if echoed == count { loop.stop() }
                        }
                    }
                    stream.write(Array(upgradeRequest().utf8))
                }
            }
            #expect(runBounded(loop, seconds: 20))
        }
        open(50)  // warm-up: allocator arenas, tables
        usleep(200_000)
        let before = residentBytes()
        let count = 1000
        // In steps of 50, as connections arrive in practice: 1,000 TLS handshakes at once would
        // measure their transient peak (freed but not given back by malloc), not idle memory.
        var opened = 0
        for _ in 0..<(count / 50) {
            open(50)
            opened += echoed
        }
        usleep(200_000)
        let after = residentBytes()
        #expect(opened == count)
        let perConnection = (after - before) / count
        print("swiftws-echo\(tls ? " (TLS)" : ""): \(perConnection) bytes of RSS per idle connection (\(count) connections, RSS \(before) -> \(after))")
        #expect(before > 0 && after > 0)
        #expect(perConnection < (tls ? 24 * 1024 : 4096))
        loop.close()
    }
}
