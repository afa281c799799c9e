// Loops/: one server on several event loops (ServerGroup: the loops' threads, the hand-off of
// accepted sockets, cross-loop broadcast and topics, shutdown) and its Redis topic bridge.
import Glibc
import Synchronization
import SwiftWSCore

/// A message that travels from one loop to the others (or from the topic bridge to every loop):
/// the payload is copied once and shared by every loop, each of which builds its frame once.
enum GroupDelivery: Sendable {
    case broadcast(kind: MessageKind, payload: [UInt8])
    case publish(topic: String, kind: MessageKind, payload: [UInt8])
}

/// The loops of one server (`ServerOptions.loops`), and the topic bridge joining it to other
/// processes (`ServerOptions.redis`). Created by the `WebSocketServer` on the first loop, which
/// stays in charge: its `shutdown` stops every loop. Everything public here is thread-safe.
///
/// Each loop has its own `WebSocketServer` (connections, topics, the shared compressor): a
/// connection lives on one loop only, so the per-message paths take no lock. What crosses loops
/// goes through `EventLoop.execute` (a mutex and an eventfd write per loop per message), and the
/// subscriber counts through one mutex, taken on subscribe and unsubscribe only.
public final class ServerGroup: Sendable {
    /// One loop's part. The server is touched only on its loop's thread (the group reaches it
    /// through `loop.execute`); `load` is the only field read from other threads. Hence
    /// `@unchecked`: the loop thread is the lock.
    final class Member: @unchecked Sendable {
        let loop: EventLoop
        /// The first loop's server (owned by the user: weak, or it would never be released).
        weak var primary: WebSocketServer?
        /// The other loops' servers (owned by the group until their loop stops).
        var owned: WebSocketServer?
        /// Open connections plus handshakes, as last reported, plus sockets handed over and not
        /// yet adopted.
        let load = Atomic<Int>(0)
        var server: WebSocketServer? { owned ?? primary }

        init(loop: EventLoop) { self.loop = loop }
    }

    private struct State {
        var topicCounts: [String: Int] = [:]
        var started = false
        var shuttingDown = false
        var unfinishedLoops = 0
        var exitedThreads = 0
    }

    /// The address every loop serves.
    public let address: SocketAddress
    let members: [Member]
    private let state = PThreadLock(State())
    /// Where the acceptor's search for the least loaded loop starts (rotates, to break ties).
    private let nextCandidate = Atomic<Int>(0)
    /// Run on the first loop once every loop has shut down (its thread only).
    private let shutdownCompletion = PThreadLock<LoopBound<() -> Void>?>(nil)
    /// Handlers for the connections of loop `index` > 0 (the first loop's server's own
    /// `handlers` when nil): bindings that keep per-loop state give each loop its own.
    package let handlersForLoop = PThreadLock<(@Sendable (Int) -> ConnectionHandlers)?>(nil)
    /// The Redis bridge, when `ServerOptions.redis` is set.
    let bridge: RedisTopicBridge?

    init(primary: WebSocketServer, address: SocketAddress) throws(NetworkError) {
        self.address = address
        let first = Member(loop: primary.loop)
        first.primary = primary
        var members = [first]
        for _ in 1..<max(1, primary.options.loops) {
            members.append(Member(loop: try EventLoop()))
        }
        self.members = members
        bridge = primary.options.redis.map { RedisTopicBridge(options: $0, loop: primary.loop) }
        bridge?.group = self
        // The other loops start once the first one runs: by then the application has set the
        // server's hooks and handlers, which the other loops copy (see `ServerOptions.loops`).
        primary.loop.deferCallback { [weak self] in self?.start() }
    }

    /// Number of loops.
    public var loopCount: Int { members.count }

    /// Open connections plus handshakes in progress, summed over the loops (each loop reports
    /// its own as they change, so the sum is instantaneous, not atomic).
    public var connectionCount: Int {
        members.reduce(0) { $0 + $1.load.load(ordering: .relaxed) }
    }

    /// Connections subscribed to `topic` on every loop.
    public func subscriberCount(_ topic: String) -> Int {
        state.withLock { $0.topicCounts[topic] ?? 0 }
    }

    /// Topics with at least one subscriber on some loop.
    var activeTopics: [String] { state.withLock { Array($0.topicCounts.keys) } }

    /// Whether the Redis bridge (`ServerOptions.redis`) is connected now; false without one.
    public var isRedisConnected: Bool { bridge?.isConnected ?? false }

    /// Whether Redis has confirmed this server's subscription to `topic` (it has subscribers
    /// here and the bridge is connected): from then on other nodes' publishes reach it.
    public func isRedisSubscribed(_ topic: String) -> Bool { bridge?.isSubscribed(topic) ?? false }

    /// Connections the Redis bridge has made so far (reconnections included).
    public var redisConnectionCount: Int { bridge?.connectionCount ?? 0 }

    /// Publishes the Redis bridge did not send because Redis was unreachable (at-most-once).
    public var redisDroppedPublishCount: Int { bridge?.droppedPublishCount ?? 0 }

    /// Threads of the other loops that have ended after a shutdown.
    public var exitedThreadCount: Int { state.withLock { $0.exitedThreads } }

    // MARK: Publishing from any thread

    /// Publishes a text message to the subscribers of `topic` on every loop (and through the
    /// bridge to other processes). Thread-safe; each loop sends it during its next iteration, in
    /// the order this thread published.
    public func publish(_ topic: String, text: String) {
        forward(.publish(topic: topic, kind: .text, payload: Array(text.utf8)), from: nil)
    }

    /// Publishes a binary message (see `publish(_:text:)`).
    public func publish(_ topic: String, binary: [UInt8]) {
        forward(.publish(topic: topic, kind: .binary, payload: binary), from: nil)
    }

    /// Sends a text message to every connection on every loop of this process. Thread-safe.
    public func broadcast(text: String) {
        forward(.broadcast(kind: .text, payload: Array(text.utf8)), from: nil)
    }

    /// Sends a binary message to every connection on every loop of this process. Thread-safe.
    public func broadcast(binary: [UInt8]) {
        forward(.broadcast(kind: .binary, payload: binary), from: nil)
    }

    /// Hands `delivery` to every loop but `origin` (which delivered it itself), and a publish to
    /// the bridge. `origin` nil: a caller on any thread, every loop gets it.
    func forward(_ delivery: GroupDelivery, from origin: Int?) {
        deliverToLoops(delivery, except: origin)
        if case .publish(let topic, let kind, let payload) = delivery {
            bridge?.publish(topic: topic, kind: kind, payload: payload)
        }
    }

    /// What the bridge received from another process: to every loop, not back to the bridge.
    func deliverFromBridge(_ delivery: GroupDelivery) {
        deliverToLoops(delivery, except: nil)
    }

    private func deliverToLoops(_ delivery: GroupDelivery, except origin: Int?) {
        for (index, member) in members.enumerated() where index != origin {
            if member.loop.isInLoopThread {
                member.server?.deliverLocally(delivery)
            } else {
                member.loop.execute { member.server?.deliverLocally(delivery) }
            }
        }
    }

    /// A loop's subscriber count for `topic` changed by `delta`; the bridge hears when the
    /// whole server gains its first subscriber or loses its last.
    func subscriptionChanged(_ topic: String, by delta: Int) {
        let crossedZero = state.withLock { state -> Bool in
            let old = state.topicCounts[topic] ?? 0
            let new = old + delta
            state.topicCounts[topic] = new > 0 ? new : nil
            return (old == 0) != (new == 0)
        }
        if crossedZero { bridge?.interestChanged(in: topic) }
    }

    /// The server of the loop whose thread is calling, if it is one of the group's loops.
    package var serverOfCallingThread: WebSocketServer? {
        members.first { $0.loop.isInLoopThread }?.server
    }

    // MARK: Loops and accepting

    func report(load: Int, of index: Int) {
        members[index].load.store(load, ordering: .relaxed)
    }

    /// The acceptor's choice for a new socket: false keeps it on the first loop (the least
    /// loaded); true when another loop takes it (or it was closed because none could).
    func route(_ fd: Int32, remoteAddress: SocketAddress?) -> Bool {
        let count = members.count
        let start = nextCandidate.wrappingAdd(1, ordering: .relaxed).oldValue
        var best = start % count
        var bestLoad = Int.max
        for step in 0..<count {
            let index = (start + step) % count
            let load = members[index].load.load(ordering: .relaxed)
            if load < bestLoad { best = index; bestLoad = load }
        }
        guard best != 0 else { return false }
        let member = members[best]
        member.load.wrappingAdd(1, ordering: .relaxed)
        let posted = member.loop.execute {
            guard let server = member.server, !server.isShuttingDown else {
                member.load.wrappingSubtract(1, ordering: .relaxed)
                Glibc.close(fd)
                return
            }
            // On error the descriptor is closed; the load is reported afresh on the next change.
            guard let stream = try? member.loop.adoptAcceptedSocket(fd, remoteAddress: remoteAddress) else { return }
            server.accepted(stream)
        }
        if !posted { Glibc.close(fd) }
        return true
    }

    /// Creates the other loops' servers and starts their threads (on the first loop).
    private func start() {
        let go = state.withLock { state -> Bool in
            guard !state.started, !state.shuttingDown else { return false }
            state.started = true
            return true
        }
        guard go, let primary = members[0].primary else { return }
        bridge?.start()
        let makeHandlers = handlersForLoop.withLock { $0 }
        let listens = primary.options.acceptStrategy == .reusePort
        for index in 1..<members.count {
            let member = members[index]
            do {
                let server = try WebSocketServer(
                    groupMemberOn: member.loop, address: listens ? address : nil, options: primary.options,
                    handlers: makeHandlers?(index) ?? primary.handlers, sharedTLSContext: primary.sharedTLSContext,
                    statistics: primary.broadcastStatistics)
                server.onUpgrade = primary.onUpgrade
                server.onHTTPRequest = primary.onHTTPRequest
                server.onNoRequest = primary.onNoRequest
                server.group = self
                server.groupIndex = index
                member.owned = server
            } catch {
                // This loop serves nobody: the acceptor never picks it.
                member.load.store(Int.max / 2, ordering: .relaxed)
            }
            let started = spawnLoopThread(member.loop) { [weak self] in
                self?.state.withLock { $0.exitedThreads += 1 }
            }
            if !started { member.owned = nil; member.load.store(Int.max / 2, ordering: .relaxed) }
        }
    }

    // MARK: Shutdown

    /// Shuts every loop down (on the first loop's thread); `completion` runs there once all
    /// connections of all loops are closed and the other loops' threads are ending.
    func shutdown(timeout: Duration, completion: (() -> Void)?) {
        guard let primary = members[0].primary else { return }
        let begin = state.withLock { state -> Bool in
            guard !state.shuttingDown else { return false }
            state.shuttingDown = true
            state.unfinishedLoops = state.started ? members.count : 1
            return true
        }
        guard begin else { return }
        shutdownCompletion.withLock { $0 = completion.map { LoopBound($0) } }
        bridge?.close()
        let started = state.withLock { $0.started }
        primary.shutdownLoop(timeout: timeout) { [self] in loopFinished() }
        guard started else { return }
        for member in members.dropFirst() {
            member.loop.execute { [self] in
                guard let server = member.server else {
                    loopFinished()
                    return member.loop.stop()
                }
                server.shutdownLoop(timeout: timeout) { [self] in
                    // Break the server <-> group cycle; the loop thread ends after this iteration.
                    server.group = nil
                    member.owned = nil
                    member.loop.stop()
                    loopFinished()
                }
            }
        }
    }

    private func loopFinished() {
        let last = state.withLock { state -> Bool in
            state.unfinishedLoops -= 1
            return state.unfinishedLoops == 0
        }
        guard last else { return }
        let primaryLoop = members[0].loop
        primaryLoop.execute { [self] in
            let completion = shutdownCompletion.withLock { bound in
                defer { bound = nil }
                return bound
            }
            completion?.value()
        }
    }

    /// The first loop's server was released without `shutdown`: the other loops stop (their
    /// connections close without a close handshake) and the bridge disconnects.
    func abandon() {
        bridge?.close()
        for member in members.dropFirst() {
            let posted = member.loop.execute {
                member.owned?.group = nil
                member.owned = nil
                member.loop.stop()
            }
            // A loop that already stopped (its thread ended after a shutdown) runs nothing
            // posted, and nothing else uses its server any more: the cycle between the group and
            // that server is broken here, or both (and the loop's buffers) would leak.
            if !posted {
                member.owned?.group = nil
                member.owned = nil
            }
        }
    }
}

/// Runs `loop` on a new detached thread until it is stopped, then closes it and calls `exited`.
/// Returns false (and `exited` is never called) when the thread could not be created.
private func spawnLoopThread(_ loop: EventLoop, exited: @escaping @Sendable () -> Void) -> Bool {
    final class Start {
        let loop: EventLoop
        let exited: @Sendable () -> Void
        init(_ loop: EventLoop, _ exited: @escaping @Sendable () -> Void) { self.loop = loop; self.exited = exited }
    }
    let context = Unmanaged.passRetained(Start(loop, exited)).toOpaque()
    var thread = pthread_t()
    let result = pthread_create(&thread, nil, { raw in
        let start = Unmanaged<Start>.fromOpaque(raw!).takeRetainedValue()
        start.loop.run()
        start.loop.close()
        start.exited()
        return nil
    }, context)
    guard result == 0 else {
        Unmanaged<Start>.fromOpaque(context).release()
        return false
    }
    pthread_detach(thread)
    return true
}
