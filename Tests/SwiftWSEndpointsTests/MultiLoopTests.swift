import Glibc
import Synchronization
import Testing
import SwiftWSCore
@testable import SwiftWSEndpoints
@testable import SwiftWSTransport
import SwiftWSTestSupport

/// Counters the server's handlers update from every loop thread.
final class LoopCounters: Sendable {
    let opened = Atomic<Int>(0)
    let closed = Atomic<Int>(0)
    let threads = PThreadLock<Set<UInt>>([])
}

/// Runs a server's first loop on its own thread (the test thread runs the clients' loop).
func runOnThread(_ loop: EventLoop) {
    let bound = LoopBound(loop)
    #expect(spawnDetachedThread {
        bound.value.run()
        bound.value.close()
    })
}

@Suite("A server on several loops: hand-off or SO_REUSEPORT, cross-loop publish, counts, shutdown", .serialized)
struct MultiLoopTests {
    /// Clients over 2 loops; a third thread publishes 20 messages to a topic and one
    /// broadcast: every subscriber gets each exactly once, in order; counts are the sum of both
    /// loops; shutdown closes every connection with 1001 and ends the second loop's thread.
    /// 1,000 clients with the default hand-off; 200 with SO_REUSEPORT (the other strategy, kept
    /// for the benchmark): the suite blocks a thread of the test runner while it runs.
    @Test(arguments: [(AcceptStrategy.handoff, 1000), (.reusePort, 200)])
    func thousandClientsOnTwoLoopsGetEveryPublishOnceInOrder(strategy: AcceptStrategy, clientCount: Int) throws {
        let serverLoop = try EventLoop()
        var options = ServerOptions()
        options.loops = 2
        options.acceptStrategy = strategy
        options.listen.backlog = 4096
        let server = try WebSocketServer(loop: serverLoop, host: "127.0.0.1", port: 0, options: options)
        let group = try #require(server.group)
        let counters = LoopCounters()
        server.onUpgrade = { request, _ in .accept(UpgradeAcceptance(userData: Int(request.query ?? "") ?? -1)) }
        server.handlers.onOpen = { connection in
            // Any loop's server subscribes a connection of any loop (here: the first loop's server).
            if (connection.userData as? Int ?? 0) % 2 == 0 { server.subscribe(connection, to: "even") }
            counters.opened.wrappingAdd(1, ordering: .relaxed)
            counters.threads.withLock { _ = $0.insert(UInt(pthread_self())) }
        }
        server.handlers.onClose = { _, _ in counters.closed.wrappingAdd(1, ordering: .relaxed) }
        let address = server.localAddress
        runOnThread(serverLoop)

        let clientLoop = try EventLoop()
        let published = 20
        var records: [ClientRecord] = []
        var phase = 0
        var shutdownDone = false
        let boundServer = LoopBound(server)
        let finished = Atomic<Bool>(false)
        func check() {
            switch phase {
            case 0 where group.subscriberCount("even") == clientCount / 2 && counters.opened.load(ordering: .relaxed) == clientCount:
                phase = 1
                #expect(group.connectionCount == clientCount)
                // A third thread: neither loop's.
                #expect(spawnDetachedThread {
                    for index in 0..<published { group.publish("even", text: "m\(index)") }
                    group.broadcast(text: "all")
                    group.publish("nobody", text: "lost")
                })
            case 1 where records.enumerated().allSatisfy({ index, record in
                record.messages.count >= (index % 2 == 0 ? published + 1 : 1) }):
                phase = 2
                serverLoop.execute {
                    boundServer.value.shutdown(timeout: .seconds(5)) { finished.store(true, ordering: .releasing) }
                }
            case 2 where finished.load(ordering: .acquiring) && group.exitedThreadCount == 1
                && records.allSatisfy({ $0.close != nil }):
                shutdownDone = true
                clientLoop.stop()
            default:
                break
            }
        }
        func poll() { clientLoop.schedule(after: .milliseconds(10)) { check(); poll() } }
        poll()
        for index in 0..<clientCount {
            records.append(connectRecordingClient(clientLoop, "ws://\(address)/?\(index)"))
        }
        #expect(runBounded(clientLoop, seconds: 60))
        #expect(shutdownDone)
        // Both loops served connections (their handlers ran on two threads).
        #expect(counters.threads.withLock { $0.count } == 2)
        for (index, record) in records.enumerated() {
            let expected = index % 2 == 0 ? (0..<published).map { "m\($0)" } + ["all"] : ["all"]
            #expect(record.texts == expected, "client \(index)")
            #expect(record.close?.code == .goingAway, "client \(index)")
        }
        #expect(counters.closed.load(ordering: .relaxed) == clientCount)
        #expect(group.subscriberCount("even") == 0)
        #expect(group.connectionCount == 0)
        serverLoop.stop()
        clientLoop.close()
    }

    /// A publish made on one loop's thread reaches the other loop's subscribers too, and the
    /// subscription count follows unsubscribes and closes on both loops.
    @Test func publishFromALoopReachesTheOtherLoopAndCountsFollowUnsubscribes() throws {
        let serverLoop = try EventLoop()
        var options = ServerOptions()
        options.loops = 2
        let server = try WebSocketServer(loop: serverLoop, host: "127.0.0.1", port: 0, options: options)
        let group = try #require(server.group)
        server.handlers.onOpen = { connection in server.subscribe(connection, to: "room") }
        server.handlers.onMessage = { connection, _, bytes in
            let text = String(decoding: bytes, as: UTF8.self)
            if text == "leave" {
                server.unsubscribe(connection, from: "room")
                _ = try? connection.send(text: "left")
            } else {
                // The connection's own server publishes (on its loop's thread).
                connection.server?.publish("room", text: text)
            }
        }
        let address = server.localAddress
        runOnThread(serverLoop)

        let clientLoop = try EventLoop()
        var records: [ClientRecord] = []
        var phase = 0
        func check() {
            switch phase {
            case 0 where group.subscriberCount("room") == 4:
                phase = 1
                _ = try? records[0].connection?.send(text: "hello")
            case 1 where records.allSatisfy({ $0.texts == ["hello"] }):
                phase = 2
                _ = try? records[1].connection?.send(text: "leave")
            case 2 where group.subscriberCount("room") == 3 && records[1].texts.last == "left":
                phase = 3
                records[2].connection?.close()
            case 3 where group.subscriberCount("room") == 2:
                phase = 4
                _ = try? records[3].connection?.send(text: "again")
            case 4 where records[0].texts.last == "again" && records[3].texts.last == "again":
                clientLoop.stop()
            default:
                break
            }
        }
        func poll() { clientLoop.schedule(after: .milliseconds(5)) { check(); poll() } }
        poll()
        for _ in 0..<4 { records.append(connectRecordingClient(clientLoop, "ws://\(address)/")) }
        #expect(runBounded(clientLoop, seconds: 20))
        #expect(phase == 4)
        #expect(records[1].texts == ["hello", "left"])
        #expect(records[0].texts == ["hello", "again"])
        // Each loop ran at least one of the four connections.
        #expect(group.members.allSatisfy { $0.load.load(ordering: .relaxed) >= 1 })
        let done = Atomic<Bool>(false)
        let boundServer = LoopBound(server)
        serverLoop.execute { boundServer.value.shutdown { done.store(true, ordering: .releasing) } }
        let deadline = nowMilliseconds() + 10_000
        while !(done.load(ordering: .acquiring) && group.exitedThreadCount == 1) && nowMilliseconds() < deadline {
            clientLoop.runOnce(timeout: .milliseconds(10))
        }
        let completed = done.load(ordering: .acquiring)
        #expect(completed)
        #expect(group.exitedThreadCount == 1)
        serverLoop.stop()
        clientLoop.close()
    }
}

extension MultiLoopTests {
    /// The server's first loop is also the clients' loop, and connections come one after the
    /// other: the acceptor alternates between the loops (equal loads), every echo comes back.
    @Test func sequentialConnectionsAlternateBetweenLoops() throws {
        let loop = try EventLoop()
        var options = ServerOptions()
        options.loops = 2
        let server = try WebSocketServer(loop: loop, host: "127.0.0.1", port: 0, options: options)
        server.handlers.onMessage = { connection, kind, bytes in _ = try? connection.send(kind, bytes) }
        let threads = PThreadLock<Set<UInt>>([])
        server.handlers.onOpen = { _ in threads.withLock { _ = $0.insert(UInt(pthread_self())) } }
        for index in 0..<8 {
            var record: ClientRecord!
            record = connectRecordingClient(loop, url(server), onEvent: {
                if record.error != nil || record.close != nil { return loop.stop() }
                guard let connection = record.connection else { return }
                if record.messages.isEmpty {
                    _ = try? connection.send(text: "echo \(index)")
                } else {
                    connection.close()
                }
            })
            #expect(runBounded(loop, seconds: 10), "connection \(index)")
            #expect(record.texts == ["echo \(index)"], "connection \(index)")
        }
        #expect(threads.withLock { $0.count } == 2)
        server.shutdown { loop.stop() }
        #expect(runBounded(loop, seconds: 10))
    }
}

/// Weak references to what a server on several loops is made of.
private final class GroupParts {
    weak var server: WebSocketServer?
    weak var group: ServerGroup?
    weak var secondServer: WebSocketServer?
    weak var secondLoop: EventLoop?
    var allGone: Bool { server == nil && group == nil && secondServer == nil && secondLoop == nil }
}

extension MultiLoopTests {
    /// A server on 2 loops, once released (after `shutdown`, or without it: the other loops
    /// then stop by themselves), leaves neither its group, nor the other loop's server, nor that
    /// loop (and its 256 KiB receive buffer) behind: no reference cycle survives. (The C API's
    /// share of this, a handler closure that kept the server, is checked by LeakSanitizer on
    /// Tests/C/loops_test.c in the sanitizer build.)
    @Test(arguments: [true, false])
    func releasedServerLeavesNothingBehind(shutdownFirst: Bool) throws {
        let loop = try EventLoop()
        let parts = GroupParts()
        do {
            var options = ServerOptions()
            options.loops = 2
            let server = try WebSocketServer(loop: loop, host: "127.0.0.1", port: 0, options: options)
            server.handlers.onMessage = { connection, kind, bytes in _ = try? connection.send(kind, bytes) }
            let group = try #require(server.group)
            parts.server = server
            parts.group = group
            // Two connections, one per loop (sequential connections alternate), each echoed.
            for index in 0..<2 {
                var record: ClientRecord!
                record = connectRecordingClient(loop, url(server), onEvent: {
                    if record.error != nil || record.close != nil { return loop.stop() }
                    guard let connection = record.connection else { return }
                    if record.messages.isEmpty { _ = try? connection.send(text: "echo \(index)") } else { connection.close() }
                })
                #expect(runBounded(loop, seconds: 10))
                #expect(record.texts == ["echo \(index)"])
            }
            parts.secondServer = group.members[1].owned
            parts.secondLoop = group.members[1].loop
            #expect(parts.secondServer != nil)
            if shutdownFirst {
                server.shutdown { loop.stop() }
                #expect(runBounded(loop, seconds: 10))
                #expect(waitUntil(loop, seconds: 10) { group.exitedThreadCount == 1 })
            }
        }
        // The other loop's thread lets go of its loop as it ends: wait for that (bounded).
        #expect(waitUntil(loop, seconds: 10) { parts.allGone })
        #expect(parts.server == nil)
        #expect(parts.group == nil)
        #expect(parts.secondServer == nil)
        #expect(parts.secondLoop == nil)
        loop.close()
    }
}
