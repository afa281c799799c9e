// C API: servers and the upgrade hook (header section "Servers"). Thin over
// SwiftWSEndpoints.WebSocketServer.
import CSwiftWS
import SwiftWSCore
import SwiftWSEndpoints

/// What a `sws_server_t *` points to.
final class ServerBox {
    let server: WebSocketServer
    let context: HandlerContext
    init(server: WebSocketServer, context: HandlerContext) {
        self.server = server
        self.context = context
    }
}

/// What a `sws_request_t *` points to: an upgrade request (on_upgrade) or a plain HTTP request
/// (on_http_request). Alive, and in the handle registry, during its callback only.
final class RequestBox {
    let head: HTTPRequestHead
    /// Set for upgrade requests (validated by the handshake).
    let upgrade: UpgradeRequest?
    /// on_upgrade's answer, if it gave one.
    var decision: UpgradeDecision? = nil
    /// on_http_request's answer, if it gave one.
    var response: HTTPResponse? = nil
    private(set) lazy var target = OwnedBytes(head.target)
    private(set) lazy var path = OwnedBytes(head.target.split(separator: "?", maxSplits: 1,
                                                              omittingEmptySubsequences: false).first.map(String.init) ?? "")
    private(set) lazy var subprotocols = (upgrade?.subprotocols ?? []).map { OwnedBytes($0) }
    /// The client certificate's subject (mutual TLS), captured when the request is made.
    var peerSubject: OwnedBytes?
    var headerValues: [String: OwnedBytes] = [:]
    /// Headers for the answer (sws_request_add_response_header), whichever it is.
    var responseHeaders = HTTPHeaders()
    /// Header lines handed out by sws_request_header_at, by index (name, value).
    var headerLines: [Int: (OwnedBytes, OwnedBytes)] = [:]
    /// The server, while on_upgrade runs (for sws_request_defer).
    weak var server: WebSocketServer?
    /// Set by sws_request_defer: the answer goes here, after on_upgrade returned.
    var pending: PendingUpgrade?
    /// Set by sws_request_defer, never changed after: the loop where the answer must be given
    /// (sws_request_post reads it from any thread).
    private(set) var deferredLoop: EventLoop?

    init(head: HTTPRequestHead, upgrade: UpgradeRequest?) {
        self.head = head
        self.upgrade = upgrade
    }

    var isAnswered: Bool { decision != nil || response != nil }

    /// Records the loop of a request being deferred (once; see `deferredLoop`).
    func setDeferredLoop(_ loop: EventLoop?) {
        if deferredLoop == nil { deferredLoop = loop }
    }

    /// Runs `body` with this request registered as a live handle, so that a pointer kept past
    /// the callback is refused instead of dereferenced.
    func whileRegistered(_ body: (OpaquePointer) -> Void) {
        let pointer = UnsafeRawPointer(Unmanaged.passUnretained(self).toOpaque())
        liveHandles.insert(pointer)
        body(OpaquePointer(pointer))
        server = nil
        if pending != nil {
            // Deferred: the handle stays valid, and the box alive, until it is answered.
            _ = Unmanaged.passRetained(self)
        } else {
            _ = liveHandles.remove(pointer)
        }
    }

    /// After a deferred request was answered: hands the answer to the waiting upgrade and
    /// frees the handle. SWS_ERR_CLOSED when the upgrade no longer waits.
    func answerDeferred(_ decision: UpgradeDecision, _ function: StaticString) -> sws_status {
        guard let pending else { return SWS_OK }
        self.pending = nil
        let delivered = pending.decide(decision)
        let pointer = UnsafeRawPointer(Unmanaged.passUnretained(self).toOpaque())
        if liveHandles.remove(pointer) { Unmanaged<RequestBox>.fromOpaque(pointer).release() }
        return delivered ? SWS_OK
            : fail(SWS_ERR_CLOSED, "\(function): the client went away or the handshake timed out first")
    }
}

@_cdecl("sws_server_new")
public func sws_server_new(_ loopHandle: OpaquePointer?, _ host: UnsafePointer<CChar>?, _ port: UInt16,
                           _ config: UnsafePointer<sws_server_config>?, _ handlers: UnsafePointer<sws_conn_handlers>?,
                           _ userData: UnsafeMutableRawPointer?, _ out: UnsafeMutablePointer<OpaquePointer?>?) -> sws_status {
    guard let text = string(fromCString: host) else {
        out?.pointee = nil
        return fail(SWS_ERR_INVALID_ARGUMENT, "sws_server_new: host is NULL")
    }
    return makeServer("sws_server_new", loopHandle, config, handlers, userData, out) { loop, options, handlers throws(NetworkError) in
        try WebSocketServer(loop: loop, host: text, port: port, options: options, handlers: handlers)
    }
}

@_cdecl("sws_server_new_unix")
public func sws_server_new_unix(_ loopHandle: OpaquePointer?, _ path: UnsafePointer<CChar>?,
                                _ config: UnsafePointer<sws_server_config>?, _ handlers: UnsafePointer<sws_conn_handlers>?,
                                _ userData: UnsafeMutableRawPointer?, _ out: UnsafeMutablePointer<OpaquePointer?>?) -> sws_status {
    guard let text = string(fromCString: path) else {
        out?.pointee = nil
        return fail(SWS_ERR_INVALID_ARGUMENT, "sws_server_new_unix: path is NULL or not UTF-8")
    }
    return makeServer("sws_server_new_unix", loopHandle, config, handlers, userData, out) { loop, options, handlers throws(NetworkError) in
        try WebSocketServer(loop: loop, address: try SocketAddress(unixPath: text), options: options, handlers: handlers)
    }
}

@_cdecl("sws_server_new_from_socket")
public func sws_server_new_from_socket(_ loopHandle: OpaquePointer?, _ fd: Int32,
                                       _ config: UnsafePointer<sws_server_config>?, _ handlers: UnsafePointer<sws_conn_handlers>?,
                                       _ userData: UnsafeMutableRawPointer?, _ out: UnsafeMutablePointer<OpaquePointer?>?) -> sws_status {
    makeServer("sws_server_new_from_socket", loopHandle, config, handlers, userData, out) { loop, options, handlers throws(NetworkError) in
        try WebSocketServer(loop: loop, listeningSocket: fd, options: options, handlers: handlers)
    }
}

@_cdecl("sws_server_adopt_connection")
public func sws_server_adopt_connection(_ handle: OpaquePointer?, _ fd: Int32) -> sws_status {
    let (found, serverStatus) = server(handle, "sws_server_adopt_connection")
    guard let box = found else { return serverStatus }
    do throws(NetworkError) {
        try box.server.adoptConnection(socket: fd)
        return SWS_OK
    } catch {
        return fail(status(for: error), "sws_server_adopt_connection: \(error)")
    }
}

/// The body every way of starting a server shares (the config, the handlers, the callbacks);
/// `open` makes the server on its listening socket.
private func makeServer(_ function: StaticString, _ loopHandle: OpaquePointer?, _ config: UnsafePointer<sws_server_config>?,
                        _ handlers: UnsafePointer<sws_conn_handlers>?, _ userData: UnsafeMutableRawPointer?,
                        _ out: UnsafeMutablePointer<OpaquePointer?>?,
                        open: (EventLoop, ServerOptions, ConnectionHandlers) throws(NetworkError) -> WebSocketServer) -> sws_status {
    guard let out else { return fail(SWS_ERR_INVALID_ARGUMENT, "\(function): out is NULL") }
    out.pointee = nil
    let (found, loopStatus) = loopOnItsThread(loopHandle, function)
    guard let loopBox = found else { return loopStatus }

    let options: ServerOptions
    do throws(CArgumentError) {
        options = try readServerConfig(config)
    } catch {
        return error.status
    }
    var callbacks = sws_conn_handlers()
    let handlersStatus = readConnHandlers(handlers, into: &callbacks)
    guard handlersStatus == SWS_OK else { return handlersStatus }
    let subprotocols = options.subprotocols

    let log: LogSink?
    let onNoRequest: ((NoRequest) -> Void)?
    do throws(CArgumentError) {
        log = try readServerLog(config)
        onNoRequest = try readServerNoRequest(config)
    } catch {
        return error.status
    }
    let context = HandlerContext(callbacks: callbacks, userData: userData)
    let server: WebSocketServer
    do throws(NetworkError) {
        server = try open(loopBox.loop, options, context.makeHandlers())
    } catch {
        return fail(status(for: error), "\(function): \(error)")
    }
    context.server = server
    server.log = log
    server.onNoRequest = onNoRequest
    let box = ServerBox(server: server, context: context)
    let handle = makeHandle(box)
    if let onUpgrade = callbacks.on_upgrade {
        let preferred = subprotocols
        // Weak, not unowned: the box owns the server and the server this closure, but the other
        // loops of a server on several loops have a copy, and a handshake can reach it on their
        // thread in the moment between sws_server_free() and their loop stopping.
        server.onUpgrade = { [weak box] request, _ in
            guard let box else { return .reject(status: 503, body: "server closed\n") }
            let upgrade = RequestBox(head: request.head, upgrade: request)
            // The server of the loop running this hook (several with sws_server_config.loops).
            let deciding = box.server.group?.serverOfCallingThread ?? box.server
            upgrade.peerSubject = deciding.upgradePeerCertificateSubject.map { OwnedBytes($0) }
            upgrade.server = deciding
            upgrade.whileRegistered { onUpgrade(handle, box.context.userData, $0) }
            if upgrade.pending != nil { return .later }
            return upgrade.decision
                ?? .accept(UpgradeAcceptance(subprotocol: request.preferredSubprotocol(from: preferred)))
        }
    }
    if let onHTTPRequest = callbacks.on_http_request {
        server.onHTTPRequest = { [weak box] head in
            guard let box else { return HTTPResponse(status: 503, text: "server closed\n") }
            let request = RequestBox(head: head, upgrade: nil)
            request.whileRegistered { onHTTPRequest(handle, box.context.userData, $0) }
            return request.response ?? HTTPResponse(status: 404, text: "not found\n")
        }
    }
    if let group = server.group {
        // Each loop gets its own handler context: contexts keep per-loop state (message batches).
        // The closure keeps the first loop's context, which holds the server weakly: the group
        // keeps this closure and the server keeps the group, so a strong server here was a cycle
        // that leaked the group, the server and every loop's buffers after sws_server_free.
        let template = LoopBound(context)
        group.handlersForLoop.withLock {
            $0 = { _ in
                let loopContext = HandlerContext(callbacks: template.value.callbacks, userData: template.value.userData)
                loopContext.server = template.value.server
                return loopContext.makeHandlers()
            }
        }
    }
    out.pointee = handle
    return SWS_OK
}

/// The server behind a handle on its loop thread, else nil with the status to return.
func server(_ handle: OpaquePointer?, _ function: StaticString) -> (ServerBox?, sws_status) {
    guard let box = object(handle, as: ServerBox.self) else {
        return (nil, fail(SWS_ERR_INVALID_ARGUMENT, "\(function): server is NULL"))
    }
    let status = checkLoopThread(box.server.loop, function)
    return status == SWS_OK ? (box, SWS_OK) : (nil, status)
}

@_cdecl("sws_server_port")
public func sws_server_port(_ handle: OpaquePointer?) -> UInt16 {
    guard let box = object(handle, as: ServerBox.self), box.server.loop.isInLoopThread else { return 0 }
    return box.server.localAddress.port ?? 0
}

@_cdecl("sws_server_fd")
public func sws_server_fd(_ handle: OpaquePointer?) -> Int32 {
    guard let box = object(handle, as: ServerBox.self), box.server.loop.isInLoopThread else { return -1 }
    return box.server.listeningDescriptor
}

/// The server behind a handle for a call that is loop-thread-only on one loop and thread-safe
/// on several (sws_server_config.loops > 1), else nil with the status to return.
func serverOnAnyThreadOfSeveralLoops(_ handle: OpaquePointer?, _ function: StaticString) -> (ServerBox?, sws_status) {
    if let box = object(handle, as: ServerBox.self), box.server.group != nil { return (box, SWS_OK) }
    return server(handle, function)
}

@_cdecl("sws_server_connection_count")
public func sws_server_connection_count(_ handle: OpaquePointer?) -> Int {
    guard let box = serverOnAnyThreadOfSeveralLoops(handle, "sws_server_connection_count").0 else { return 0 }
    return box.server.connectionCount
}

/// Checks a message to broadcast or publish: its kind and bytes, or nil with the status.
private func message(_ kind: sws_message_kind, _ data: UnsafeRawPointer?, _ length: Int,
                     _ function: StaticString) -> (MessageKind, UnsafeRawBufferPointer)? {
    guard let bytes = cBuffer(data, length) else {
        setLastError("\(function): data is NULL")
        return nil
    }
    switch kind {
    case SWS_MESSAGE_TEXT:
        guard UTF8Validator.isValid(bytes) else {
            setLastError("\(function): text is not valid UTF-8")
            return nil
        }
        return (.text, bytes)
    case SWS_MESSAGE_BINARY:
        return (.binary, bytes)
    default:
        setLastError("\(function): unknown kind \(kind.rawValue)")
        return nil
    }
}

@_cdecl("sws_server_broadcast")
public func sws_server_broadcast(_ handle: OpaquePointer?, _ kind: sws_message_kind, _ data: UnsafeRawPointer?,
                                 _ length: Int, _ excluding: OpaquePointer?, _ delivered: UnsafeMutablePointer<Int>?) -> sws_status {
    delivered?.pointee = 0
    let (found, status) = serverOnAnyThreadOfSeveralLoops(handle, "sws_server_broadcast")
    guard let box = found else { return status }
    guard let (swiftKind, bytes) = message(kind, data, length, "sws_server_broadcast") else { return SWS_ERR_INVALID_ARGUMENT }
    let skip = object(excluding, as: ConnectionBox.self)?.connection
    let count = swiftKind == .text
        ? box.server.broadcast(text: String(decoding: bytes, as: UTF8.self), excluding: skip)
        : box.server.broadcast(binary: Array(bytes), excluding: skip)
    delivered?.pointee = count
    return SWS_OK
}

@_cdecl("sws_server_publish")
public func sws_server_publish(_ handle: OpaquePointer?, _ topic: UnsafePointer<CChar>?, _ kind: sws_message_kind,
                               _ data: UnsafeRawPointer?, _ length: Int, _ excluding: OpaquePointer?,
                               _ delivered: UnsafeMutablePointer<Int>?) -> sws_status {
    delivered?.pointee = 0
    let (found, status) = serverOnAnyThreadOfSeveralLoops(handle, "sws_server_publish")
    guard let box = found else { return status }
    guard let topic = string(fromCString: topic) else { return fail(SWS_ERR_INVALID_ARGUMENT, "sws_server_publish: topic is NULL or not UTF-8") }
    guard let (swiftKind, bytes) = message(kind, data, length, "sws_server_publish") else { return SWS_ERR_INVALID_ARGUMENT }
    let skip = object(excluding, as: ConnectionBox.self)?.connection
    let count = swiftKind == .text
        ? box.server.publish(topic, text: String(decoding: bytes, as: UTF8.self), excluding: skip)
        : box.server.publish(topic, binary: Array(bytes), excluding: skip)
    delivered?.pointee = count
    return SWS_OK
}

@_cdecl("sws_server_subscriber_count")
public func sws_server_subscriber_count(_ handle: OpaquePointer?, _ topic: UnsafePointer<CChar>?) -> Int {
    guard let box = serverOnAnyThreadOfSeveralLoops(handle, "sws_server_subscriber_count").0,
          let topic = string(fromCString: topic) else { return 0 }
    return box.server.subscriberCount(topic)
}

/// The pointers of a shutdown completion, carried into the server's closure.
private struct ShutdownDone {
    let function: @convention(c) (OpaquePointer?, UnsafeMutableRawPointer?) -> Void
    let server: OpaquePointer
    let userData: UnsafeMutableRawPointer?
}

@_cdecl("sws_server_shutdown")
public func sws_server_shutdown(_ handle: OpaquePointer?, _ timeoutMilliseconds: UInt32,
                                _ done: (@convention(c) (OpaquePointer?, UnsafeMutableRawPointer?) -> Void)?,
                                _ userData: UnsafeMutableRawPointer?) -> sws_status {
    let (found, status) = server(handle, "sws_server_shutdown")
    guard let box = found, let handle else { return status }
    guard !box.server.isShuttingDown else { return fail(SWS_ERR_CLOSED, "sws_server_shutdown: shutdown already begun") }
    let callback = done.map { ShutdownDone(function: $0, server: handle, userData: userData) }
    box.server.shutdown(timeout: duration(milliseconds: timeoutMilliseconds)) { [weak box] in
        // A server freed in the meantime is not reported (its pointer would dangle).
        guard box != nil, let callback else { return }
        callback.function(callback.server, callback.userData)
    }
    return SWS_OK
}

@_cdecl("sws_server_free")
public func sws_server_free(_ handle: OpaquePointer?) -> sws_status {
    guard let handle, liveHandles.contains(UnsafeRawPointer(handle)) else {
        return fail(SWS_ERR_INVALID_ARGUMENT, "sws_server_free: NULL or not a live server (freed twice?)")
    }
    let (found, status) = server(handle, "sws_server_free")
    guard found != nil else { return status }
    guard releaseHandle(handle, as: ServerBox.self) else {
        return fail(SWS_ERR_INVALID_ARGUMENT, "sws_server_free: not a live server (freed twice?)")
    }
    return SWS_OK
}

// MARK: Requests in on_upgrade and on_http_request

/// The request behind a handle while its callback runs, else nil after recording the error.
func request(_ handle: OpaquePointer?, _ function: StaticString) -> RequestBox? {
    guard let handle, liveHandles.contains(UnsafeRawPointer(handle)) else {
        setLastError("\(function): request is NULL or used outside its callback")
        return nil
    }
    return object(handle, as: RequestBox.self)
}

@_cdecl("sws_request_target")
public func sws_request_target(_ handle: OpaquePointer?, _ target: UnsafeMutablePointer<UnsafePointer<CChar>?>?,
                               _ path: UnsafeMutablePointer<UnsafePointer<CChar>?>?) -> sws_status {
    guard let box = request(handle, "sws_request_target") else { return SWS_ERR_INVALID_ARGUMENT }
    target?.pointee = box.target.cString
    path?.pointee = box.path.cString
    return SWS_OK
}

@_cdecl("sws_request_header")
public func sws_request_header(_ handle: OpaquePointer?, _ name: UnsafePointer<CChar>?,
                               _ value: UnsafeMutablePointer<UnsafePointer<CChar>?>?) -> sws_status {
    guard let box = request(handle, "sws_request_header") else { return SWS_ERR_INVALID_ARGUMENT }
    guard let name = string(fromCString: name), let value else {
        return fail(SWS_ERR_INVALID_ARGUMENT, "sws_request_header: name or value is NULL")
    }
    guard let found = box.head.headers.first(name) else {
        value.pointee = nil
        return SWS_OK
    }
    let owned = box.headerValues[name] ?? OwnedBytes(found)
    box.headerValues[name] = owned
    value.pointee = owned.cString
    return SWS_OK
}

@_cdecl("sws_request_header_count")
public func sws_request_header_count(_ handle: OpaquePointer?) -> Int {
    request(handle, "sws_request_header_count")?.head.headers.count ?? 0
}

@_cdecl("sws_request_header_at")
public func sws_request_header_at(_ handle: OpaquePointer?, _ index: Int, _ name: UnsafeMutablePointer<UnsafePointer<CChar>?>?,
                                  _ value: UnsafeMutablePointer<UnsafePointer<CChar>?>?) -> sws_status {
    guard let box = request(handle, "sws_request_header_at") else { return SWS_ERR_INVALID_ARGUMENT }
    let fields = box.head.headers.fields
    guard fields.indices.contains(index) else { return fail(SWS_ERR_INVALID_ARGUMENT, "sws_request_header_at: index out of range") }
    let line = box.headerLines[index] ?? (OwnedBytes(fields[index].name), OwnedBytes(fields[index].value))
    box.headerLines[index] = line
    name?.pointee = line.0.cString
    value?.pointee = line.1.cString
    return SWS_OK
}

@_cdecl("sws_request_defer")
public func sws_request_defer(_ handle: OpaquePointer?) -> sws_status {
    guard let box = request(handle, "sws_request_defer") else { return SWS_ERR_INVALID_ARGUMENT }
    guard box.upgrade != nil else { return fail(SWS_ERR_INVALID_ARGUMENT, "sws_request_defer: a plain HTTP request cannot be deferred") }
    guard !box.isAnswered, box.pending == nil else {
        return fail(SWS_ERR_INVALID_ARGUMENT, "sws_request_defer: already answered or deferred")
    }
    guard let pending = box.server?.deferUpgrade() else {
        return fail(SWS_ERR_INVALID_ARGUMENT, "sws_request_defer: only during on_upgrade")
    }
    box.pending = pending
    box.setDeferredLoop(box.server?.loop)
    return SWS_OK
}

/// A C function and its user data carried to a deferred request's loop (the pointer is the C
/// program's, never dereferenced by the library).
private struct PostedRequestWork: @unchecked Sendable {
    let function: sws_request_work_fn
    let request: OpaquePointer
    let userData: UnsafeMutableRawPointer?
}

@_cdecl("sws_request_post")
public func sws_request_post(_ handle: OpaquePointer?, _ function: sws_request_work_fn?,
                             _ userData: UnsafeMutableRawPointer?) -> sws_status {
    guard let box = request(handle, "sws_request_post"), let handle else { return SWS_ERR_INVALID_ARGUMENT }
    guard let function else { return fail(SWS_ERR_INVALID_ARGUMENT, "sws_request_post: fn is NULL") }
    guard let loop = box.deferredLoop else {
        return fail(SWS_ERR_INVALID_ARGUMENT, "sws_request_post: the request is not deferred (sws_request_defer)")
    }
    let work = PostedRequestWork(function: function, request: handle, userData: userData)
    // The box stays registered (and alive) until the program answers, which it may do only in
    // this work or on the loop thread: the handle is still valid when the work runs.
    guard loop.execute({ work.function(work.request, work.userData) }) else {
        return fail(SWS_ERR_CLOSED, "sws_request_post: the request's loop is closed")
    }
    return SWS_OK
}

@_cdecl("sws_request_is_pending")
public func sws_request_is_pending(_ handle: OpaquePointer?) -> Bool {
    guard let handle, liveHandles.contains(UnsafeRawPointer(handle)),
          let box = object(handle, as: RequestBox.self) else { return false }
    return box.pending?.isPending ?? false
}

@_cdecl("sws_request_subprotocol_count")
public func sws_request_subprotocol_count(_ handle: OpaquePointer?) -> Int {
    request(handle, "sws_request_subprotocol_count")?.subprotocols.count ?? 0
}

@_cdecl("sws_request_subprotocol")
public func sws_request_subprotocol(_ handle: OpaquePointer?, _ index: Int,
                                    _ name: UnsafeMutablePointer<UnsafePointer<CChar>?>?) -> sws_status {
    guard let box = request(handle, "sws_request_subprotocol"), let name else {
        return fail(SWS_ERR_INVALID_ARGUMENT, "sws_request_subprotocol: request or name is NULL (or outside its callback)")
    }
    guard box.subprotocols.indices.contains(index) else {
        return fail(SWS_ERR_INVALID_ARGUMENT, "sws_request_subprotocol: index out of range")
    }
    name.pointee = box.subprotocols[index].cString
    return SWS_OK
}

@_cdecl("sws_request_accept")
public func sws_request_accept(_ handle: OpaquePointer?, _ subprotocol: UnsafePointer<CChar>?,
                               _ connectionUserData: UnsafeMutableRawPointer?) -> sws_status {
    guard let box = request(handle, "sws_request_accept") else { return SWS_ERR_INVALID_ARGUMENT }
    guard let upgrade = box.upgrade else {
        return fail(SWS_ERR_INVALID_ARGUMENT, "sws_request_accept: a plain HTTP request cannot be upgraded")
    }
    guard !box.isAnswered else { return fail(SWS_ERR_INVALID_ARGUMENT, "sws_request_accept: already answered") }
    var chosen: String? = nil
    if let subprotocol {
        guard let text = String(validatingCString: subprotocol), upgrade.subprotocols.contains(text) else {
            return fail(SWS_ERR_INVALID_ARGUMENT, "sws_request_accept: subprotocol was not offered by the client")
        }
        chosen = text
    }
    let decision = UpgradeDecision.accept(UpgradeAcceptance(subprotocol: chosen, headers: box.responseHeaders,
                                                            userData: InitialUserData(connectionUserData)))
    box.decision = decision
    return box.answerDeferred(decision, "sws_request_accept")
}

@_cdecl("sws_request_drop")
public func sws_request_drop(_ handle: OpaquePointer?) -> sws_status {
    guard let box = request(handle, "sws_request_drop") else { return SWS_ERR_INVALID_ARGUMENT }
    guard box.upgrade != nil else {
        return fail(SWS_ERR_INVALID_ARGUMENT, "sws_request_drop: a plain HTTP request cannot be dropped (answer it)")
    }
    guard !box.isAnswered else { return fail(SWS_ERR_INVALID_ARGUMENT, "sws_request_drop: already answered") }
    box.decision = .drop
    return box.answerDeferred(.drop, "sws_request_drop")
}

@_cdecl("sws_request_add_response_header")
public func sws_request_add_response_header(_ handle: OpaquePointer?, _ name: UnsafePointer<CChar>?,
                                            _ value: UnsafePointer<CChar>?) -> sws_status {
    guard let box = request(handle, "sws_request_add_response_header") else { return SWS_ERR_INVALID_ARGUMENT }
    guard !box.isAnswered else { return fail(SWS_ERR_INVALID_ARGUMENT, "sws_request_add_response_header: already answered") }
    guard let name = string(fromCString: name), let value = string(fromCString: value) else {
        return fail(SWS_ERR_INVALID_ARGUMENT, "sws_request_add_response_header: name or value NULL or not UTF-8")
    }
    var headers = box.responseHeaders
    headers.append(name: name, value: value)
    // The response writer's own rules (a token name, no line breaks, no framing headers of ours),
    // checked now so that a bad header is this call's error rather than a lost answer.
    do throws(HandshakeError) {
        _ = try HTTPResponseWriter.response(status: 200, headers: headers, body: [])
    } catch {
        return fail(SWS_ERR_INVALID_ARGUMENT, "sws_request_add_response_header: \(error.reason)")
    }
    box.responseHeaders = headers
    return SWS_OK
}

@_cdecl("sws_request_respond")
public func sws_request_respond(_ handle: OpaquePointer?, _ status: Int32, _ body: UnsafePointer<CChar>?,
                               _ bodyLength: Int) -> sws_status {
    guard let box = request(handle, "sws_request_respond") else { return SWS_ERR_INVALID_ARGUMENT }
    guard !box.isAnswered else { return fail(SWS_ERR_INVALID_ARGUMENT, "sws_request_respond: already answered") }
    guard (200...599).contains(status) else {
        return fail(SWS_ERR_INVALID_ARGUMENT, "sws_request_respond: status \(status) is not in 200...599")
    }
    guard let bytes = cBuffer(body, bodyLength) else { return fail(SWS_ERR_INVALID_ARGUMENT, "sws_request_respond: body is NULL") }
    if box.upgrade != nil {
        let decision = UpgradeDecision.reject(status: Int(status), body: String(decoding: bytes, as: UTF8.self),
                                              headers: box.responseHeaders)
        box.decision = decision
        return box.answerDeferred(decision, "sws_request_respond")
    } else {
        box.response = HTTPResponse(status: Int(status), headers: box.responseHeaders, body: Array(bytes))
    }
    return SWS_OK
}
