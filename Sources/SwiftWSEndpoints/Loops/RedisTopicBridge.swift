import Synchronization
import SwiftWSCore

/// Joins a server's topics to other processes through Redis pub/sub (`RedisOptions` says what
/// is delivered and what is lost). Runs on the server's first loop: two Redis connections there,
/// one subscribed (Redis allows nothing else on it) and one for PUBLISH. Its state is touched on
/// that loop only (`publish` and `interestChanged` post there from other threads): hence
/// `@unchecked Sendable`.
final class RedisTopicBridge: @unchecked Sendable {
    /// Magic and version at the start of the messages SwiftWS nodes publish.
    private static let magic: [UInt8] = Array("SWS1".utf8)
    private static let headerLength = magic.count + 8 + 1

    let options: RedisOptions
    let loop: EventLoop
    weak var group: ServerGroup?
    /// Random per bridge: a node skips the messages it published itself.
    private let nodeID = SecureRandom.bytes(8)

    private var subscriber: RedisConnection?
    private var publisher: RedisConnection?
    private var pendingConnections = 0
    /// Topics whose channel we asked Redis to subscribe to (on the current connection).
    private var subscribed: Set<String> = []
    private var nextDelay: Duration
    private var reconnectTimer: TimerHandle?
    private var isClosed = false
    private let connected = Atomic<Bool>(false)
    private let connectionsMade = Atomic<Int>(0)
    private let droppedPublishes = Atomic<Int>(0)
    /// Topics whose SUBSCRIBE Redis has confirmed on the current connection (thread-safe reads).
    private let confirmed = PThreadLock<Set<String>>([])

    init(options: RedisOptions, loop: EventLoop) {
        self.options = options
        self.loop = loop
        nextDelay = options.reconnectDelay
    }

    /// Whether both connections are up (thread-safe).
    var isConnected: Bool { connected.load(ordering: .acquiring) }
    /// Successful (re)connections so far (thread-safe).
    var connectionCount: Int { connectionsMade.load(ordering: .relaxed) }
    /// Publishes not sent to Redis because it was unreachable (thread-safe).
    var droppedPublishCount: Int { droppedPublishes.load(ordering: .relaxed) }

    /// Whether Redis confirmed the subscription to `topic`'s channel (thread-safe): from then
    /// on, what other nodes publish to it reaches this one.
    func isSubscribed(_ topic: String) -> Bool { confirmed.withLock { $0.contains(topic) } }

    /// Connects (on the loop thread).
    func start() {
        connect()
    }

    /// Disconnects for good (on the loop thread).
    func close() {
        onLoop { [self] in
            isClosed = true
            if let reconnectTimer { loop.cancel(reconnectTimer) }
            reconnectTimer = nil
            dropConnections()
        }
    }

    /// Sends a local publish to Redis once (from any thread); dropped while Redis is down.
    func publish(topic: String, kind: MessageKind, payload: [UInt8]) {
        onLoop { [self] in
            guard let publisher, connected.load(ordering: .relaxed) else {
                droppedPublishes.wrappingAdd(1, ordering: .relaxed)
                return
            }
            var message = Self.magic + nodeID
            message.append(kind == .text ? 0 : 1)
            message += payload
            publisher.send([Array("PUBLISH".utf8), channel(topic), message])
        }
    }

    /// The server gained its first subscriber to `topic` or lost its last (from any thread):
    /// subscribe or unsubscribe to match the count as it is when this runs.
    func interestChanged(in topic: String) {
        onLoop { [self] in reconcile(topic) }
    }

    private func onLoop(_ work: @escaping @Sendable () -> Void) {
        if loop.isInLoopThread { work() } else { loop.execute(work) }
    }

    private func channel(_ topic: String) -> [UInt8] { Array((options.channelPrefix + topic).utf8) }

    private func reconcile(_ topic: String) {
        guard let subscriber, let group else { return }
        let wanted = group.subscriberCount(topic) > 0
        if wanted && subscribed.insert(topic).inserted {
            subscriber.send([Array("SUBSCRIBE".utf8), channel(topic)])
        } else if !wanted && subscribed.remove(topic) != nil {
            subscriber.send([Array("UNSUBSCRIBE".utf8), channel(topic)])
        }
    }

    // MARK: Connecting

    private func connect() {
        guard !isClosed, pendingConnections == 0, subscriber == nil else { return }
        pendingConnections = 2
        var made: [RedisConnection] = []
        var failed = false
        for _ in 0..<2 {
            RedisConnection.connect(loop: loop, host: options.host, port: options.port,
                                    timeout: options.connectTimeout) { [self] result in
                pendingConnections -= 1
                switch result {
                case .success(let connection): made.append(connection)
                case .failure: failed = true
                }
                guard pendingConnections == 0 else { return }
                if failed || isClosed || made.count != 2 {
                    for connection in made { connection.close() }
                    return scheduleReconnect()
                }
                established(subscriber: made[0], publisher: made[1])
            }
        }
    }

    private func established(subscriber: RedisConnection, publisher: RedisConnection) {
        self.subscriber = subscriber
        self.publisher = publisher
        for connection in [subscriber, publisher] {
            if let password = options.password { connection.send("AUTH", password) }
            connection.onClose = { [weak self] in self?.connectionLost() }
        }
        subscriber.onReply = { [weak self] reply in self?.received(reply) }
        publisher.onReply = { _ in }  // PUBLISH answers the number of receivers; nothing to do
        nextDelay = options.reconnectDelay
        connected.store(true, ordering: .releasing)
        connectionsMade.wrappingAdd(1, ordering: .relaxed)
        // Resubscribe to every topic that has subscribers now.
        subscribed = []
        for topic in group?.activeTopics ?? [] { reconcile(topic) }
    }

    private func connectionLost() {
        connected.store(false, ordering: .releasing)
        dropConnections()
        scheduleReconnect()
    }

    private func dropConnections() {
        connected.store(false, ordering: .releasing)
        let connections = [subscriber, publisher]
        subscriber = nil
        publisher = nil
        subscribed = []
        confirmed.withLock { $0.removeAll() }
        for connection in connections {
            connection?.onClose = nil
            connection?.close()
        }
    }

    private func scheduleReconnect() {
        guard !isClosed, reconnectTimer == nil else { return }
        let delay = nextDelay
        nextDelay = min(nextDelay * 2, options.maxReconnectDelay)
        reconnectTimer = loop.schedule(after: delay) { [weak self] in
            self?.reconnectTimer = nil
            self?.connect()
        }
    }

    // MARK: Receiving

    private func received(_ reply: RedisConnection.Reply) {
        // Pushed messages: ["message", channel, payload]. Subscribe confirmations and AUTH's
        // answer need no action; an error reply (AUTH refused) ends the connection, to retry.
        if case .error = reply { return connectionLost() }
        guard case .array(let parts) = reply, parts.count == 3, case .bulk(let kindName) = parts[0],
              case .bulk(let channelName) = parts[1] else { return }
        let prefix = Array(options.channelPrefix.utf8)
        guard channelName.starts(with: prefix) else { return }
        let topic = String(decoding: channelName.dropFirst(prefix.count), as: UTF8.self)
        switch String(decoding: kindName, as: UTF8.self) {
        case "subscribe": return confirmed.withLock { _ = $0.insert(topic) }
        case "unsubscribe": return confirmed.withLock { _ = $0.remove(topic) }
        case "message": break
        default: return
        }
        guard case .bulk(let message) = parts[2] else { return }
        let delivery: GroupDelivery
        if message.count >= Self.headerLength, message.starts(with: Self.magic) {
            let sender = message[Self.magic.count..<Self.magic.count + 8]
            guard !sender.elementsEqual(nodeID) else { return }  // our own publish, delivered already
            let kind: MessageKind = message[Self.headerLength - 1] == 0 ? .text : .binary
            delivery = .publish(topic: topic, kind: kind, payload: Array(message[Self.headerLength...]))
        } else {
            // Another Redis client's message.
            let isText = String(validating: message, as: UTF8.self) != nil
            delivery = .publish(topic: topic, kind: isText ? .text : .binary, payload: message)
        }
        group?.deliverFromBridge(delivery)
    }
}
