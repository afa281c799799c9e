import Glibc
import Testing
import SwiftWSCore
@testable import SwiftWSNetworking

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

    /// Heap bytes per idle server-side WebSocket connection, measured against plain TCP streams
    /// with the same raw clients, so the clients' own cost cancels out. Kernel socket buffers
    /// are not counted (they are the kernel's, shrink when idle, and every server pays them).
    @Test func idleServerConnectionsStaySmall() throws {
        let count = 500
        func measure(upgrade: Bool) throws -> Int {
            let loop = try EventLoop()
            var options = ServerOptions()
            options.listen.backlog = 4096
            var server: WebSocketServer? = try WebSocketServer(loop: loop, host: "127.0.0.1", port: 0, options: options)
            var plainListener: SocketListener?
            var plainStreams: [SocketStream] = []
            var opened = 0
            server!.handlers.onOpen = { _ in opened += 1 }
            if !upgrade {
                plainListener = try loop.listen(host: "127.0.0.1", port: 0) { stream in
                    stream.onRead = { _ in }
                    plainStreams.append(stream)
                    opened += 1
                }
            }
            let address = upgrade ? server!.localAddress : plainListener!.localAddress
            var clients: [SocketStream] = []
            clients.reserveCapacity(count)
            plainStreams.reserveCapacity(count)
            let request = Array(upgradeRequest().utf8)
            // Warm up allocator caches and the loop's tables before the baseline.
            loop.runOnce(timeout: .zero)
            let before = heapBytesInUse()
            for _ in 0..<count {
                loop.connect(to: address) { result in
                    guard case .success(let stream) = result else { return }
                    stream.onRead = { _ in }
                    clients.append(stream)
                    if upgrade { stream.write(request) }
                }
            }
            func poll() { loop.schedule(after: .milliseconds(10)) { if opened == count { loop.stop() } else { poll() } } }
            poll()
            #expect(runBounded(loop, seconds: 20))
            // Let the 101 responses be read and every per-handshake buffer be released.
            loop.runOnce(timeout: .milliseconds(50))
            let after = heapBytesInUse()
            #expect(opened == count)
            _ = clients.count
            server = nil
            loop.close()
            return (after - before) / count
        }
        // The heap is process-wide and other suites run in parallel: the smallest of three
        // measurements is the one least disturbed by them.
        var plain = Int.max, upgraded = Int.max
        for _ in 0..<3 {
            plain = min(plain, try measure(upgrade: false))
            upgraded = min(upgraded, try measure(upgrade: true))
        }
        let perConnection = upgraded - plain
        print("bytes per idle connection: WebSocket server side \(upgraded - plain + plain / 2) (plain TCP pair \(plain), WebSocket over plain server stream +\(perConnection))")
        #expect(perConnection < 4096)
    }
}
