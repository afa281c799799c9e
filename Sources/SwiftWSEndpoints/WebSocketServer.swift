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
    /// Answers requests that are not WebSocket upgrades (no Upgrade header). Without it they get
    /// `404 Not Found`. Requests that try to upgrade but break RFC 6455 get the handshake's
    /// answer (400, 405, 426 with `Sec-WebSocket-Version: 13`, 431).
    public var onHTTPRequest: ((HTTPRequestHead) -> HTTPResponse)?

    private let listener: SocketListener
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
    /// Payloads compressed for broadcasts and publishes (one per call at most), for tests.
    private(set) var broadcastCompressions = 0
    /// The server-wide memory budget, when `options.memoryBudget` sets one.
    private let memoryBudget: MemoryBudget?
    private var shutdownCompletion: (() -> Void)?
    private var shutdownTimer: TimerHandle?
    /// The TLS context new connections use (nil: plain ws://); `reloadTLS` replaces it.
    private var tlsContext: TLSContext?
    /// Whether `shutdown` has begun.
    public private(set) var isShuttingDown = false

    /// Starts a server listening on `address`. Loop-thread only.
    public init(loop: EventLoop, address: SocketAddress, options: ServerOptions = ServerOptions(),
                handlers: ConnectionHandlers = ConnectionHandlers()) throws(NetworkError) {
        self.loop = loop
        self.options = options
        self.handlers = handlers
        memoryBudget = options.memoryBudget.map { MemoryBudget(limit: $0) }
        if let tls = options.tls {
            do throws(TLSError) {
                tlsContext = try TLSContext(configuration: tls, role: .server)
            } catch {
                throw NetworkError(.tls(message: error.message), "TLS setup")
            }
        }
        listener = try loop.listen(on: address, options: options.listen)
        listener.onAccept = { [weak self] stream in
            // A server released without `shutdown` stops accepting (see deinit).
            guard let self else { return stream.close() }
            self.accepted(stream)
        }
    }

    deinit {
        // The loop keeps the listener and the connections' sockets; without a server they have
        // nobody to answer to. Open connections keep their handlers and stay usable.
        listener.close()
        for upgrade in upgrades.values { upgrade.cancel() }
    }

    /// Starts a server on a numeric host ("127.0.0.1", "::", …) and port (0: any free port).
    public convenience init(loop: EventLoop, host: String, port: UInt16, options: ServerOptions = ServerOptions(),
                            handlers: ConnectionHandlers = ConnectionHandlers()) throws(NetworkError) {
        guard let address = SocketAddress(ip: host, port: port) else {
            throw NetworkError(.invalidAddress, "listen on \(host):\(port)")
        }
        try self.init(loop: loop, address: address, options: options, handlers: handlers)
    }

    /// Replaces the certificates and TLS settings for connections accepted from now on (open
    /// connections keep theirs): a certificate renewal without a restart. The new files are read
    /// now; on error the old settings stay. Only for a server started with `ServerOptions.tls`.
    /// Loop-thread only.
    public func reloadTLS(_ configuration: TLSConfiguration) throws(TLSError) {
        guard tlsContext != nil else { throw TLSError("the server was not started with TLS") }
        tlsContext = try TLSContext(configuration: configuration, role: .server)
    }

    /// The address the server listens on (with the port the kernel chose for port 0).
    public var localAddress: SocketAddress { listener.localAddress }

    /// The open connections (including those in their close handshake).
    public var connections: [WebSocketConnection] { connectionList }

    /// Open connections plus handshakes in progress.
    public var connectionCount: Int { connectionList.count + upgrades.count }

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

    private func accepted(_ stream: SocketStream) {
        if let tlsContext {
            do throws(TLSError) {
                try stream.startTLS(server: tlsContext)
            } catch {
                return stream.abort()
            }
        }
        if let limit = options.maxConnections, connectionCount >= limit {
            stream.write(plainResponse(status: 503, text: "too many connections\n"))
            stream.closeLingering(timeout: options.handshakeTimeout)
            return
        }
        let upgrade = ServerUpgrade(stream: stream, server: self)
        upgrades[ObjectIdentifier(upgrade)] = upgrade
        upgrade.start()
    }

    func upgradeFinished(_ upgrade: ServerUpgrade) {
        upgrades[ObjectIdentifier(upgrade)] = nil
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
        var configuration = options.connection.session
        configuration.role = .server
        let codec = agreement.map {
            PerMessageDeflate(parameters: $0.parameters, role: .server, configuration: options.connection.perMessageDeflate,
                              sharedCompressor: sharedCompressor)
        }
        let connection = WebSocketConnection(
            stream: stream, session: Session(configuration: configuration, perMessageDeflate: codec, reassemblyPool: reassemblyPool),
            compression: codec,
            options: options.connection, handlers: handlers, subprotocol: subprotocol,
            extensions: agreement.map { [$0.response] } ?? [], path: request.path, query: request.query, userData: userData)
        connection.server = self
        connection.memoryBudget = memoryBudget
        connection.serverIndex = connectionList.count
        connectionList.append(connection)
        connection.start(initialBytes: initialBytes)
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
        checkShutdownComplete()
    }

    // MARK: Broadcast and topics

    /// Sends a text message to every open connection (except `excluding`); the frame is built
    /// once. Returns how many connections took it (sent or buffered).
    @discardableResult
    public func broadcast(text: String, excluding: WebSocketConnection? = nil) -> Int {
        var text = text
        return text.withUTF8 { deliver(.text, UnsafeRawBufferPointer($0), to: connectionList, excluding: excluding) }
    }

    /// Sends a binary message to every open connection (except `excluding`); the frame is built once.
    @discardableResult
    public func broadcast(binary: [UInt8], excluding: WebSocketConnection? = nil) -> Int {
        binary.withUnsafeBytes { deliver(.binary, $0, to: connectionList, excluding: excluding) }
    }

    /// Subscribes `connection` to `topic` (idempotent).
    public func subscribe(_ connection: WebSocketConnection, to topic: String) {
        guard connection.server === self, connection.isOpen else { return }
        if connection.topics == nil { connection.topics = [] }
        guard connection.topics!.insert(topic).inserted else { return }
        let members = topicMembers[topic] ?? {
            let created = TopicMembers()
            topicMembers[topic] = created
            return created
        }()
        members.add(connection)
    }

    /// Unsubscribes `connection` from `topic`.
    public func unsubscribe(_ connection: WebSocketConnection, from topic: String) {
        guard connection.topics?.remove(topic) != nil else { return }
        removeMember(connection, from: topic)
    }

    /// Number of connections subscribed to `topic`.
    public func subscriberCount(_ topic: String) -> Int { topicMembers[topic]?.list.count ?? 0 }

    /// Publishes a text message to the subscribers of `topic`; the frame is built once.
    @discardableResult
    public func publish(_ topic: String, text: String, excluding: WebSocketConnection? = nil) -> Int {
        guard let members = topicMembers[topic] else { return 0 }
        var text = text
        return text.withUTF8 { deliver(.text, UnsafeRawBufferPointer($0), to: members.list, excluding: excluding) }
    }

    /// Publishes a binary message to the subscribers of `topic`; the frame is built once.
    @discardableResult
    public func publish(_ topic: String, binary: [UInt8], excluding: WebSocketConnection? = nil) -> Int {
        guard let members = topicMembers[topic] else { return 0 }
        return binary.withUnsafeBytes { deliver(.binary, $0, to: members.list, excluding: excluding) }
    }

    private func removeMember(_ connection: WebSocketConnection, from topic: String) {
        guard let members = topicMembers[topic] else { return }
        members.remove(connection)
        if members.list.isEmpty { topicMembers[topic] = nil }
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
        // A snapshot: a send may close a connection (backpressure policy) and edit the list.
        for connection in receivers where connection !== excluding {
            var result = SendResult.dropped
            if let codec = connection.compression, sharesBroadcastCompression(codec, size: payload.count) {
                if compressed == nil { compressed = compressOnce(opcode, payload) }
                if let frame = compressed {
                    result = frame.withUnsafeBytes { (try? connection.sendEncodedFrame($0, payloadCount: payload.count)) ?? .dropped }
                } else {
                    result = plain.withUnsafeBytes { (try? connection.sendEncodedFrame($0, payloadCount: payload.count)) ?? .dropped }
                }
            } else {
                result = plain.withUnsafeBytes { (try? connection.sendEncodedFrame($0, payloadCount: payload.count)) ?? .dropped }
            }
            if result != .dropped { delivered += 1 }
        }
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
    /// that arrive before a peer answers the close are still delivered.
    public func shutdown(timeout: Duration = .seconds(5), completion: (() -> Void)? = nil) {
        guard !isShuttingDown else { return }
        isShuttingDown = true
        shutdownCompletion = completion
        listener.close()
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
