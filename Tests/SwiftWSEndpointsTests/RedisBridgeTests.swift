import Glibc
import Synchronization
import Testing
import SwiftWSCore
@testable import SwiftWSEndpoints
@testable import SwiftWSTransport
import SwiftWSTestSupport

/// A redis-server (Debian `redis-server`, scripts/install-deps.sh) on a free loopback port, in
/// memory only, killed by `stop` (and by deinit).
final class RedisServerProcess {
    static let binary = "/usr/bin/redis-server"
    let port: UInt16
    private var process: PeerProcess?

    init(port: UInt16? = nil) throws {
        self.port = try port ?? freeLoopbackPort()
        try start()
    }

    deinit { stop() }

    /// Starts it (again, on the same port); returns once it accepts connections.
    func start() throws {
        let process = try PeerProcess([Self.binary, "--bind", "127.0.0.1", "--port", String(port), "--save", "",
                                       "--appendonly", "no", "--protected-mode", "no"])
        self.process = process
        while let line = process.readLine(timeoutMilliseconds: 10_000) {
            if line.contains("Ready to accept connections") { return }
        }
        throw NetworkError(.timedOut, "start redis-server on port \(port)")
    }

    /// Kills it (SIGKILL: no goodbye to the clients, as a crash).
    func stop() {
        guard let process else { return }
        kill(process.pid, SIGKILL)
        _ = process.finish(timeoutMilliseconds: 5000)
        self.process = nil
    }
}

/// A loopback port nobody listens on right now.
func freeLoopbackPort() throws -> UInt16 {
    let loop = try EventLoop()
    defer { loop.close() }
    let listener = try loop.listen(host: "127.0.0.1", port: 0)
    defer { listener.close() }
    return listener.localAddress.port!
}

/// Waits (running `loop`) until `condition` holds or `seconds` pass; returns whether it held.
func waitUntil(_ loop: EventLoop, seconds: Int = 20, _ condition: () -> Bool) -> Bool {
    let deadline = nowMilliseconds() + seconds * 1000
    while !condition() {
        if nowMilliseconds() > deadline { return false }
        loop.runOnce(timeout: .milliseconds(5))
    }
    return true
}

@Suite("Topics across servers through Redis: delivered once, in order, through a Redis restart", .serialized)
struct RedisBridgeTests {
    @Test func redisURLs() throws {
        let plain = try RedisOptions(url: "redis://127.0.0.1:6380/0")
        #expect(plain.host == "127.0.0.1" && plain.port == 6380 && plain.password == nil)
        let secret = try RedisOptions(url: "redis://:s3cret@cache.example:7000")
        #expect(secret.host == "cache.example" && secret.port == 7000 && secret.password == "s3cret")
        let v6 = try RedisOptions(url: "redis://[::1]")
        #expect(v6.host == "::1" && v6.port == 6379)
        for bad in ["http://x", "redis://", "redis://host:99999", "redis://[::1"] {
            #expect(throws: NetworkError.self) { try RedisOptions(url: bad) }
        }
    }

    /// Two servers (one on one loop, one on two) joined through one redis-server: 20 clients on
    /// each, both publish, every client gets every message once, in each publisher's order, and
    /// none twice (not even the publisher's own). Redis is then killed: each server still
    /// delivers its own publishes to its own clients; after Redis restarts the bridges reconnect,
    /// resubscribe, and messages cross again.
    @Test func twoServersShareTopicsThroughRedisAndSurviveItsRestart() throws {
        guard access(RedisServerProcess.binary, X_OK) == 0 else {
            Issue.record("redis-server is not installed: run scripts/install-deps.sh")
            return
        }
        let redis = try RedisServerProcess()
        let redisOptions = RedisOptions(host: "127.0.0.1", port: redis.port)
        var servers: [WebSocketServer] = []
        var groups: [ServerGroup] = []
        for loops in [1, 2] {
            let loop = try EventLoop()
            var options = ServerOptions()
            options.loops = loops
            options.redis = redisOptions
            options.redis?.reconnectDelay = .milliseconds(50)
            options.redis?.maxReconnectDelay = .milliseconds(200)
            let server = try WebSocketServer(loop: loop, host: "127.0.0.1", port: 0, options: options)
            server.handlers.onOpen = { connection in server.subscribe(connection, to: "news") }
            servers.append(server)
            groups.append(try #require(server.group))
            runOnThread(loop)
        }
        let first = groups[0], second = groups[1]
        let clientLoop = try EventLoop()
        let perServer = 20
        var records: [[ClientRecord]] = [[], []]
        for (index, server) in servers.enumerated() {
            for _ in 0..<perServer { records[index].append(connectRecordingClient(clientLoop, url(server))) }
        }
        #expect(waitUntil(clientLoop) {
            groups.allSatisfy { $0.subscriberCount("news") == perServer && $0.isRedisSubscribed("news") }
        })

        // Both publish from other threads, interleaved.
        let rounds = 10
        #expect(spawnDetachedThread { for index in 0..<rounds { first.publish("news", text: "a\(index)") } })
        #expect(spawnDetachedThread { for index in 0..<rounds { second.publish("news", text: "b\(index)") } })
        let everyone = records[0] + records[1]
        #expect(waitUntil(clientLoop) { everyone.allSatisfy { $0.texts.count >= 2 * rounds } })
        for record in everyone {
            #expect(record.texts.filter { $0.hasPrefix("a") } == (0..<rounds).map { "a\($0)" })
            #expect(record.texts.filter { $0.hasPrefix("b") } == (0..<rounds).map { "b\($0)" })
        }

        // Redis dies: local delivery goes on, nothing crosses (at-most-once), nothing is queued.
        redis.stop()
        #expect(waitUntil(clientLoop) { groups.allSatisfy { !$0.isRedisConnected } })
        groups[0].publish("news", text: "local only")
        #expect(waitUntil(clientLoop) { records[0].allSatisfy { $0.texts.last == "local only" } })

        // Redis is back: the bridges reconnect and resubscribe on their own.
        try redis.start()
        #expect(waitUntil(clientLoop) { groups.allSatisfy { $0.isRedisSubscribed("news") } })
        #expect(groups.allSatisfy { $0.redisConnectionCount >= 2 })
        groups[1].publish("news", text: "after restart")
        #expect(waitUntil(clientLoop) { everyone.allSatisfy { $0.texts.last == "after restart" } })
        // Exactly once each, and "local only" never reached the other server.
        for record in records[0] { #expect(record.texts.count == 2 * rounds + 2) }
        for record in records[1] {
            #expect(record.texts.count == 2 * rounds + 1)
            #expect(!record.texts.contains("local only"))
        }

        // The last subscriber leaving unsubscribes the channel.
        for record in records[1] { record.connection?.close() }
        #expect(waitUntil(clientLoop) { groups[1].subscriberCount("news") == 0 && !groups[1].isRedisSubscribed("news") })

        for (index, server) in servers.enumerated() {
            let done = Atomic<Bool>(false)
            let bound = LoopBound(server)
            server.loop.execute { bound.value.shutdown { done.store(true, ordering: .releasing) } }
            #expect(waitUntil(clientLoop) { done.load(ordering: .acquiring) }, "server \(index)")
            server.loop.stop()
        }
        clientLoop.close()
    }
}
