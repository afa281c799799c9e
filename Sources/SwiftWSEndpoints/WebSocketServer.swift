import Glibc
import SwiftWSCore

/// A WebSocket server on an event loop: listens, runs the opening handshake (with an upgrade
/// hook, Origin allow-list and plain HTTP answers), owns its connections, broadcasts and
/// publishes to topics with each frame built once, and shuts down gracefully. Loop-thread only.
public final class WebSocketServer {
    /// The loop the server runs on.
    public let loop: EventLoop
    /// The settings given at creation.
    public let options: ServerOptions
    /// Callbacks of every connection of this server.
    public let handlers: ConnectionHandlers
    /// Decides each valid upgrade request (after the Origin check): accept (subprotocol, headers,
    /// user data) or reject (status, body). Without it, every request is accepted with the first
    /// of `options.subprotocols` the client offered.
    public var onUpgrade: ((UpgradeRequest, SocketAddress?) -> UpgradeDecision)?
    /// During `onUpgrade` only: the subject of the client's TLS certificate ("CN=client,O=Example",
    /// RFC 2253) when the server verifies client certificates (`TLSConfiguration
    /// .verifyClientCertificates`), so that the hook can accept or refuse by it; nil otherwise.
    /// Afterwards the connection keeps it as `WebSocketConnection.peerCertificateSubject`.
    public internal(set) var upgradePeerCertificateSubject: String?
    /// Where the server and its connections log (nil: nowhere); see `LogSink`.
    public var log: LogSink?
    /// The upgrade whose `onUpgrade` runs now (for `deferUpgrade`).
    var upgradeInProgress: ServerUpgrade?

    /// During `onUpgrade` only: the handle to answer this request later; the hook then returns
    /// `.later`. Nil outside the hook.
    public func deferUpgrade() -> PendingUpgrade? {
        upgradeInProgress.map { PendingUpgrade($0) }
    }
    /// Answers requests that are not WebSocket upgrades (no Upgrade header). Without it they get
    /// `404 Not Found`. Requests that try to upgrade but break RFC 6455 get the handshake's
    /// answer (400, 405, 426 with `Sec-WebSocket-Version: 13`, 431).
    public var onHTTPRequest: ((HTTPRequestHead) -> HTTPResponse)?
    /// Told of each connection that ended before its request head was read whole: closed by
    /// the client, timed out, or not HTTP (answered 400/408 or not, see
    /// `ServerOptions.answersBadRequests`). For logs: Python websockets' "no valid HTTP request".
    public var onNoRequest: ((NoRequest) -> Void)?

    /// The listening socket; nil for the servers of a group's other loops when one acceptor
    /// hands them their sockets (`ServerGroup`).
    private let listener: SocketListener?
    /// The loops of this server when `options.loops > 1` or a topic bridge joins it to other
    /// processes (nil: this loop is the whole server). Shared by the server of every loop.
    public internal(set) var group: ServerGroup?
    /// This server's place in `group` (0 on the loop the server was created on).
    var groupIndex = 0
    private var upgrades: [ObjectIdentifier: ServerUpgrade] = [:]
    private(set) var connectionList: [WebSocketConnection] = []
    private var topicMembers: [String: TopicMembers] = [:]
    /// The storage of the last large message any connection received, for the next one (at
    /// most `ReassemblyPool.maximumCapacity`): no page faults per large message.
    private let reassemblyPool = ReassemblyPool()
    /// One compressor for every connection whose server side negotiated no context takeover
    /// (each message starts from an empty window): their deflate state is not duplicated, and a
    /// broadcast to them is compressed once. Created on first use.
    private lazy var sharedCompressor: DeflateCompressor = {
        let configuration = options.connection.perMessageDeflate
        return DeflateCompressor(windowBits: min(max(configuration.localMaxWindowBits, 8), 15),
                                 memoryLevel: configuration.memoryLevel, level: configuration.compressionLevel)
    }()
    /// Compresses broadcast payloads once for the connections that share `sharedCompressor`.
    private lazy var broadcastCodec: PerMessageDeflate = PerMessageDeflate(
        parameters: PerMessageDeflateParameters(serverNoContextTakeover: true,
                                                serverMaxWindowBits: sharedCompressor.windowBits),
        role: .server, configuration: options.connection.perMessageDeflate, sharedCompressor: sharedCompressor)
    private let broadcastBuffer = DeflateBuffer()
    /// What the connections share (the recipe makes the sessions of connections without
    /// compression, on their first use).
    private lazy var connectionContext = ConnectionContext(
        server: self, options: options.connection, handlers: handlers, memoryBudget: memoryBudget,
        timeouts: Shared(options.connection.timeoutConfiguration),
        sessionRecipe: SessionRecipe(role: .server, configuration: options.connection.session, reassemblyPool: reassemblyPool))
    /// Payloads compressed for broadcasts and publishes (one per call at most), for tests.
    private(set) var broadcastCompressions = 0
    /// Payload and frame bytes of broadcasts and publishes, shared by every loop of the server.
    public let broadcastStatistics: BroadcastStatistics
    /// The server-wide memory budget, when `options.memoryBudget` sets one.
    private let memoryBudget: MemoryBudget?
    private var shutdownCompletion: (() -> Void)?
    private var shutdownTimer: TimerHandle?
    /// The TLS context new connections use (nil: plain ws://), one for every loop of the server:
    /// `reloadTLS` on any loop replaces it for all, under the lock, so a handshake that begins
    /// after it returns uses the new certificate on whichever loop it lands. (OpenSSL lets
    /// several threads make connections from one `SSL_CTX` as long as nobody changes it, and a
    /// context is never changed once made: a reload makes a new one; the old one lives on in the
    /// connections that use it.)
    let sharedTLSContext: PThreadLock<TLSContext>?
    /// The TLS context for a connection accepted now.
    var tlsContext: TLSContext? { sharedTLSContext?.withLock { $0 } }
    /// Whether `shutdown` has begun.
    public private(set) var isShuttingDown = false

    /// Starts a server listening on `address` (IP and port, a Unix socket path, or "@name" in the
    /// abstract namespace: `SocketAddress(unixPath:)`). Loop-thread only.
    public convenience init(loop: EventLoop, address: SocketAddress, options: ServerOptions = ServerOptions(),
                            handlers: ConnectionHandlers = ConnectionHandlers()) throws(NetworkError) {
        try self.init(loop: loop, options: options, handlers: handlers) { (listen) throws(NetworkError) in
            try loop.listen(on: address, options: listen)
        }
    }

    /// Starts a server on `listeningSocket`, a bound and listening stream socket opened by
    /// someone else (systemd socket activation, an inherited descriptor). The server owns the
    /// descriptor once this returns; on error the caller keeps it. Loop-thread only.
    public convenience init(loop: EventLoop, listeningSocket: Int32, options: ServerOptions = ServerOptions(),
                            handlers: ConnectionHandlers = ConnectionHandlers()) throws(NetworkError) {
        try self.init(loop: loop, options: options, handlers: handlers) { (listen) throws(NetworkError) in
            try loop.adoptListener(fd: listeningSocket, options: listen)
        }
    }

    private init(loop: EventLoop, options: ServerOptions, handlers: ConnectionHandlers,
                 openListener: (ListenOptions) throws(NetworkError) -> SocketListener) throws(NetworkError) {
        self.loop = loop
        self.options = options
        self.handlers = handlers
        broadcastStatistics = BroadcastStatistics()
        // A budget per loop (the loops share no memory accounting): the server-wide budget split evenly.
        memoryBudget = options.memoryBudget.map { MemoryBudget(limit: max(1, $0 / max(1, options.loops))) }
        guard options.loops >= 1, options.loops <= ServerOptions.maximumLoops else {
            throw NetworkError(.invalidAddress, "loops must be 1...\(ServerOptions.maximumLoops), not \(options.loops)")
        }
        // Fail now, not on every reconnection, when the bridge cannot work on this machine.
        if options.redis != nil, case .failure(let error) = Hiredis.shared { throw error }
        if let tls = options.tls {
            do throws(TLSError) {
                sharedTLSContext = PThreadLock(try TLSContext(configuration: tls, role: .server))
            } catch {
                throw NetworkError(.tls(message: error.message), "TLS setup")
            }
        } else {
            sharedTLSContext = nil
        }
        var listen = options.listen
        if options.loops > 1 && options.acceptStrategy == .reusePort { listen.reusePort = true }
        let listener = try openListener(listen)
        self.listener = listener
        listener.onAccept = { [weak self] stream in
            // A server released without `shutdown` stops accepting (see deinit).
            guard let self else { return stream.close() }
            self.accepted(stream)
        }
        if options.loops > 1 || options.redis != nil {
            let group = try ServerGroup(primary: self, address: listener.localAddress)
            self.group = group
            if options.loops > 1 && options.acceptStrategy == .handoff {
                // One acceptor for every loop: each socket goes to the least loaded one.
                listener.acceptRouter = { [unowned group] fd, remote in group.route(fd, remoteAddress: remote) }
            }
        }
    }

    /// The server of one more loop of a group: listens on `address` too (SO_REUSEPORT) or,
    /// with `address` nil, takes the sockets the group's acceptor hands it.
    init(groupMemberOn loop: EventLoop, address: SocketAddress?, options: ServerOptions,
         handlers: ConnectionHandlers, sharedTLSContext: PThreadLock<TLSContext>?,
         statistics: BroadcastStatistics) throws(NetworkError) {
        self.loop = loop
        self.options = options
        self.handlers = handlers
        broadcastStatistics = statistics
        self.sharedTLSContext = sharedTLSContext
        memoryBudget = options.memoryBudget.map { MemoryBudget(limit: max(1, $0 / max(1, options.loops))) }
        if let address {
            var listen = options.listen
            listen.reusePort = true
            let listener = try loop.listen(on: address, options: listen)
            self.listener = listener
            listener.onAccept = { [weak self] stream in
                guard let self else { return stream.close() }
                self.accepted(stream)
            }
        } else {
            listener = nil
        }
    }

    deinit {
        // The loop keeps the listener and the connections' sockets; without a server they have
        // nobody to answer to. Open connections keep their handlers and stay usable.
        listener?.close()
        for upgrade in upgrades.values { upgrade.cancel() }
        if groupIndex == 0 { group?.abandon() }
    }

    /// Starts a server on a host ("127.0.0.1", "::", or a name such as "localhost") and port
    /// (0: any free port). A name is resolved here (`SocketAddress.listenAddress`: blocking, once,
    /// before listening; the first address the resolver prefers), so create servers on names
    /// before the loop serves traffic.
    public convenience init(loop: EventLoop, host: String, port: UInt16, options: ServerOptions = ServerOptions(),
                            handlers: ConnectionHandlers = ConnectionHandlers()) throws(NetworkError) {
        let address = try SocketAddress.listenAddress(host: host, port: port)
        try self.init(loop: loop, address: address, options: options, handlers: handlers)
    }

    /// Serves `socket`, a connected stream socket another part of the program accepted (its own
    /// HTTP stack handing a connection over before reading from it): the opening handshake runs
    /// as for an accepted connection, limits and TLS included. The server owns the descriptor once
    /// this returns; on error the caller keeps it. Loop-thread only.
    public func adoptConnection(socket: Int32) throws(NetworkError) {
        accepted(try loop.adoptStream(fd: socket, options: options.listen.stream))
    }

    /// Replaces the certificates and TLS settings for connections accepted from now on (open
    /// connections keep theirs): a certificate renewal without a restart. The new files are read
    /// now; on error the old settings stay. Only for a server started with `ServerOptions.tls`.
    /// Loop-thread only; on several loops (`ServerOptions.loops`) one call, on the thread of any
    /// of them, reaches every loop.
    public func reloadTLS(_ configuration: TLSConfiguration) throws(TLSError) {
        guard let sharedTLSContext else { throw TLSError("the server was not started with TLS") }
        let replacement = try TLSContext(configuration: configuration, role: .server)
        // Swapped under the lock; the old context comes out and is released after it (freeing an
        // SSL_CTX need not hold up the other loops' accepts).
        _ = sharedTLSContext.withLock { current in
            defer { current = replacement }
            return current
        }
    }

    /// The address the server listens on (with the port the kernel chose for port 0).
    public var localAddress: SocketAddress { listener?.localAddress ?? group!.address }
    /// The listening socket's descriptor, owned by the server (do not close it); -1 for a loop of
    /// a server on several loops that does not accept itself.
    public var listeningDescriptor: Int32 { listener?.fd ?? -1 }

    /// The open connections (including those in their close handshake).
    public var connections: [WebSocketConnection] { connectionList }

    /// Open connections plus handshakes in progress, on every loop of the server (an
    /// instantaneous sum when the server runs on several loops).
    public var connectionCount: Int { group?.connectionCount ?? localConnectionCount }

    /// Open connections plus handshakes in progress on this loop.
    public var localConnectionCount: Int { connectionList.count + upgrades.count }

    /// Tells the group this loop's load (for the acceptor's choice and the group's counts).
    private func reportLoad() {
        group?.report(load: localConnectionCount, of: groupIndex)
    }

    /// Handshakes in progress (request heads not yet answered).
    public var handshakeCount: Int { upgrades.count }

    /// Bytes the connections hold right now: input kept for unfinished messages plus output their
    /// peers have not taken (counted afresh on each call; for monitoring).
    public var heldBytes: Int {
        connectionList.reduce(0) { $0 + $1.heldBytes }
    }

    /// What the memory budget counts (`ServerOptions.memoryBudget`), 0 without one. It lags
    /// `heldBytes` only by output sent since a connection last fully drained.
    public var memoryBudgetUsed: Int { memoryBudget?.used ?? 0 }

    // MARK: Accepting

    func accepted(_ stream: SocketStream) {
        if let tlsContext {
            do throws(TLSError) {
                try stream.startTLS(server: tlsContext)
            } catch {
                return stream.abort()
            }
        }
        if let limit = options.maxConnections, connectionCount >= limit {
            stream.write(plainResponse(status: 503, text: "too many connections\n"))
            // Over TLS the answer waits for the handshake (else the client would only see a reset).
            stream.closeLingeringAfterTLSHandshake(timeout: options.handshakeTimeout)
            return
        }
        let upgrade = ServerUpgrade(stream: stream, server: self)
        upgrades[ObjectIdentifier(upgrade)] = upgrade
        reportLoad()
        upgrade.start()
    }

    func upgradeFinished(_ upgrade: ServerUpgrade) {
        upgrades[ObjectIdentifier(upgrade)] = nil
        reportLoad()
        checkShutdownComplete()
    }

    func plainHTTPResponse(for head: HTTPRequestHead) -> [UInt8] {
        guard let onHTTPRequest else { return plainResponse(status: 404, text: "not found\n") }
        let response = onHTTPRequest(head)
        guard let bytes = try? HTTPResponseWriter.response(status: response.status, headers: response.headers,
                                                           body: response.body)
        else { return plainResponse(status: 500, text: "invalid response\n") }
        // RFC 9110 section 9.3.2: the answer to HEAD is the answer to GET without its content
        // (Content-Length still says how long the content would be).
        return head.method == "HEAD" ? Array(bytes.dropLast(response.body.count)) : bytes
    }

    func open(stream: SocketStream, request: UpgradeRequest, subprotocol: String?,
              deflate agreement: PerMessageDeflateNegotiation.Agreement?, userData: Any?,
              initialBytes: UnsafeMutableRawBufferPointer) {
        // Without compression the session is made on the connection's first byte in or out;
        // with it, now (its codec is this handshake's). The shared compressor only with
        // compression (it is made on first use).
        let session = agreement.map { agreement in
            Session(role: .server, configuration: options.connection.session, deflate: agreement.parameters,
                    deflateConfiguration: options.connection.perMessageDeflate,
                    sharedCompressor: sharedCompressor, reassemblyPool: reassemblyPool)
        }
        let connection = WebSocketConnection(
            stream: stream, session: session, context: connectionContext,
            subprotocol: subprotocol, extensions: agreement.map { [$0.response] } ?? [], path: request.path,
            query: request.query, userData: userData)
        connection.peerHandshakeHeaders = request.headers
        connection.serverIndex = connectionList.count
        connectionList.append(connection)
        reportLoad()
        connection.start(initialBytes: initialBytes)
        // After `onOpen` (and the messages that came with the handshake): an idle connection
        // does not keep its request's headers (`ServerOptions.keepsHandshakeHeaders`).
        if !options.keepsHandshakeHeaders { connection.peerHandshakeHeaders = HTTPHeaders() }
        if isShuttingDown { connection.close(code: .goingAway, reason: "server shutting down") }
    }

    func connectionClosed(_ connection: WebSocketConnection) {
        let index = connection.serverIndex
        guard index >= 0, index < connectionList.count, connectionList[index] === connection else { return }
        let last = connectionList.removeLast()
        if index < connectionList.count {
            connectionList[index] = last
            last.serverIndex = index
        }
        connection.serverIndex = -1
        if let topics = connection.topics {
            for topic in topics { removeMember(connection, from: topic) }
            connection.topics = nil
        }
        reportLoad()
        checkShutdownComplete()
    }

    // MARK: Broadcast and topics

    /// Sends a text message to every open connection (except `excluding`); the frame is built
    /// once per loop. Returns how many connections of this loop took it (sent or buffered); with
    /// several loops (`ServerOptions.loops`) the others get it during their next iteration. With
    /// several loops it may be called from any thread: from a handler, "this loop" is the
    /// handler's loop; from a thread of no loop every loop gets it later and it returns 0.
    @discardableResult
    public func broadcast(text: String, excluding: WebSocketConnection? = nil) -> Int {
        if let group, !loop.isInLoopThread {
            // Another loop's handler (that loop's server delivers), or a thread of no loop.
            if let current = group.serverOfCallingThread { return current.broadcast(text: text, excluding: excluding) }
            group.forward(.broadcast(kind: .text, payload: Array(text.utf8)), from: nil)
            return 0
        }
        var text = text
        let local = text.withUTF8 { deliver(.text, UnsafeRawBufferPointer($0), to: connectionList, excluding: excluding) }
        group?.forward(.broadcast(kind: .text, payload: Array(text.utf8)), from: groupIndex)
        return local
    }

    /// Sends a binary message to every open connection (except `excluding`); the frame is built
    /// once per loop. Returns how many connections of this loop took it (see `broadcast(text:)`).
    @discardableResult
    public func broadcast(binary: [UInt8], excluding: WebSocketConnection? = nil) -> Int {
        if let group, !loop.isInLoopThread {
            // Another loop's handler (that loop's server delivers), or a thread of no loop.
            if let current = group.serverOfCallingThread { return current.broadcast(binary: binary, excluding: excluding) }
            group.forward(.broadcast(kind: .binary, payload: binary), from: nil)
            return 0
        }
        let local = binary.withUnsafeBytes { deliver(.binary, $0, to: connectionList, excluding: excluding) }
        group?.forward(.broadcast(kind: .binary, payload: binary), from: groupIndex)
        return local
    }

    /// Delivers a message another loop (or the topic bridge) sent to this loop's connections.
    func deliverLocally(_ delivery: GroupDelivery) {
        switch delivery {
        case .broadcast(let kind, let payload):
            _ = payload.withUnsafeBytes { deliver(kind, $0, to: connectionList, excluding: nil) }
        case .publish(let topic, let kind, let payload):
            guard let members = topicMembers[topic] else { return }
            _ = payload.withUnsafeBytes { deliver(kind, $0, to: members.list, excluding: nil) }
        }
    }

    /// Subscribes `connection` to `topic` (idempotent). With several loops, any loop's server
    /// subscribes a connection of any loop (on that connection's loop thread).
    public func subscribe(_ connection: WebSocketConnection, to topic: String) {
        if let owner = connection.server, owner !== self, owner.group != nil, owner.group === group {
            return owner.subscribe(connection, to: topic)
        }
        guard connection.server === self, connection.isOpen else { return }
        if connection.topics == nil { connection.topics = [] }
        guard connection.topics!.insert(topic).inserted else { return }
        let members = topicMembers[topic] ?? {
            let created = TopicMembers()
            topicMembers[topic] = created
            return created
        }()
        members.add(connection)
        group?.subscriptionChanged(topic, by: 1)
    }

    /// Unsubscribes `connection` from `topic`.
    public func unsubscribe(_ connection: WebSocketConnection, from topic: String) {
        if let owner = connection.server, owner !== self, owner.group != nil, owner.group === group {
            return owner.unsubscribe(connection, from: topic)
        }
        guard connection.topics?.remove(topic) != nil else { return }
        removeMember(connection, from: topic)
    }

    /// Number of connections subscribed to `topic`, on every loop of this server (not on other
    /// processes joined through a topic bridge).
    public func subscriberCount(_ topic: String) -> Int {
        group?.subscriberCount(topic) ?? localSubscriberCount(topic)
    }

    /// Number of this loop's connections subscribed to `topic`.
    public func localSubscriberCount(_ topic: String) -> Int { topicMembers[topic]?.list.count ?? 0 }

    /// Publishes a text message to the subscribers of `topic`; the frame is built once per loop.
    /// Returns how many subscribers of this loop took it; the other loops get it during their
    /// next iteration, and a topic bridge (Redis) sends it once to the other processes.
    @discardableResult
    public func publish(_ topic: String, text: String, excluding: WebSocketConnection? = nil) -> Int {
        if let group, !loop.isInLoopThread {
            // Another loop's handler (that loop's server delivers), or a thread of no loop.
            if let current = group.serverOfCallingThread { return current.publish(topic, text: text, excluding: excluding) }
            group.forward(.publish(topic: topic, kind: .text, payload: Array(text.utf8)), from: nil)
            return 0
        }
        var text = text
        let local = text.withUTF8 { bytes -> Int in
            guard let members = topicMembers[topic] else { return 0 }
            return deliver(.text, UnsafeRawBufferPointer(bytes), to: members.list, excluding: excluding)
        }
        group?.forward(.publish(topic: topic, kind: .text, payload: Array(text.utf8)), from: groupIndex)
        return local
    }

    /// Publishes a binary message to the subscribers of `topic` (see `publish(_:text:)`).
    @discardableResult
    public func publish(_ topic: String, binary: [UInt8], excluding: WebSocketConnection? = nil) -> Int {
        if let group, !loop.isInLoopThread {
            // Another loop's handler (that loop's server delivers), or a thread of no loop.
            if let current = group.serverOfCallingThread { return current.publish(topic, binary: binary, excluding: excluding) }
            group.forward(.publish(topic: topic, kind: .binary, payload: binary), from: nil)
            return 0
        }
        let local = binary.withUnsafeBytes { bytes -> Int in
            guard let members = topicMembers[topic] else { return 0 }
            return deliver(.binary, bytes, to: members.list, excluding: excluding)
        }
        group?.forward(.publish(topic: topic, kind: .binary, payload: binary), from: groupIndex)
        return local
    }

    private func removeMember(_ connection: WebSocketConnection, from topic: String) {
        guard let members = topicMembers[topic] else { return }
        members.remove(connection)
        if members.list.isEmpty { topicMembers[topic] = nil }
        group?.subscriptionChanged(topic, by: -1)
    }

    private func deliver(_ kind: MessageKind, _ payload: UnsafeRawBufferPointer, to receivers: [WebSocketConnection],
                         excluding: WebSocketConnection?) -> Int {
        guard !receivers.isEmpty else { return 0 }
        let opcode: Opcode = kind == .text ? .text : .binary
        // One frame for everyone: servers do not mask (RFC 6455 section 5.1), so the bytes are
        // identical for every receiver. Receivers whose server side keeps no compression context
        // and uses the shared compressor's window get one compressed frame (RSV1, RFC 7692
        // section 6); the others get the uncompressed frame, which permessage-deflate allows.
        let plain = FrameEncoder.serverFrame(opcode: opcode, payload: payload)
        var compressed: [UInt8]?
        var delivered = 0
        var frameBytes = 0
        // A snapshot: a send may close a connection (backpressure policy) and edit the list.
        for connection in receivers where connection !== excluding {
            var result = SendResult.dropped
            var frameCount = plain.count
            if let codec = connection.compression, sharesBroadcastCompression(codec, size: payload.count) {
                if compressed == nil { compressed = compressOnce(opcode, payload) }
                if let frame = compressed {
                    frameCount = frame.count
                    result = frame.withUnsafeBytes { (try? connection.sendEncodedFrame($0, payloadCount: payload.count)) ?? .dropped }
                } else {
                    result = plain.withUnsafeBytes { (try? connection.sendEncodedFrame($0, payloadCount: payload.count)) ?? .dropped }
                }
            } else {
                result = plain.withUnsafeBytes { (try? connection.sendEncodedFrame($0, payloadCount: payload.count)) ?? .dropped }
            }
            if result != .dropped {
                delivered += 1
                frameBytes += frameCount
            }
        }
        broadcastStatistics.record(payloadBytes: delivered * payload.count, frameBytes: frameBytes, deliveries: delivered)
        return delivered
    }

    private func sharesBroadcastCompression(_ codec: PerMessageDeflate, size: Int) -> Bool {
        codec.parameters.localNoContextTakeover(for: .server)
            && codec.parameters.localWindowBits(for: .server) == sharedCompressor.windowBits
            && codec.shouldCompress(messageSize: size)
    }

    /// The payload compressed once (no context) in a final frame with RSV1; nil if zlib failed.
    private func compressOnce(_ opcode: Opcode, _ payload: UnsafeRawBufferPointer) -> [UInt8]? {
        broadcastBuffer.removeAll(retainingCapacityUpTo: 64 * 1024)
        broadcastCompressions += 1
        do throws(ProtocolError) {
            try broadcastCodec.compress(message: payload, into: broadcastBuffer)
        } catch {
            return nil
        }
        var frame: [UInt8] = []
        broadcastBuffer.withUnsafeBytes { body in
            frame.reserveCapacity(FrameEncoder.maximumHeaderLength + body.count)
            FrameEncoder.encodeFrame(into: &frame, isFinal: true, rsv1: true, opcode: opcode, payload: body, maskKey: nil)
        }
        return frame
    }

    // MARK: Shutdown

    /// Stops accepting, closes every connection with 1001 ("server shutting down") and calls
    /// `completion` once all are closed, or after `timeout`, when the rest are dropped. Messages
    /// that arrive before a peer answers the close are still delivered. With several loops it
    /// shuts down every loop (the others' threads end) and calls `completion` on this loop once
    /// all have finished; a topic bridge disconnects.
    public func shutdown(timeout: Duration = .seconds(5), completion: (() -> Void)? = nil) {
        if let group, groupIndex == 0 {
            group.shutdown(timeout: timeout, completion: completion)
        } else {
            shutdownLoop(timeout: timeout, completion: completion)
        }
    }

    /// Shuts down this loop's part of the server (see `shutdown`).
    func shutdownLoop(timeout: Duration, completion: (() -> Void)?) {
        guard !isShuttingDown else { return }
        isShuttingDown = true
        shutdownCompletion = completion
        listener?.close()
        for upgrade in Array(upgrades.values) { upgrade.cancel() }
        for connection in connectionList { connection.close(code: .goingAway, reason: "server shutting down") }
        shutdownTimer = loop.schedule(after: timeout) { [weak self] in
            guard let self else { return }
            self.shutdownTimer = nil
            for connection in self.connectionList { connection.abort() }
        }
        checkShutdownComplete()
    }

    private func checkShutdownComplete() {
        guard isShuttingDown, connectionList.isEmpty, upgrades.isEmpty, let completion = shutdownCompletion else { return }
        shutdownCompletion = nil
        if let shutdownTimer { loop.cancel(shutdownTimer) }
        shutdownTimer = nil
        loop.deferCallback(completion)
    }
}

/// The subscribers of one topic, with O(1) removal (index by identity).
final class TopicMembers {
    private(set) var list: [WebSocketConnection] = []
    private var positions: [ObjectIdentifier: Int] = [:]

    func add(_ connection: WebSocketConnection) {
        let key = ObjectIdentifier(connection)
        guard positions[key] == nil else { return }
        positions[key] = list.count
        list.append(connection)
    }

    func remove(_ connection: WebSocketConnection) {
        guard let index = positions.removeValue(forKey: ObjectIdentifier(connection)) else { return }
        let last = list.removeLast()
        if index < list.count {
            list[index] = last
            positions[ObjectIdentifier(last)] = index
        }
    }
}
