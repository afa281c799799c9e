// C API: connections and thread-safe connection references (header section "Connections").
// Thin over SwiftWSEndpoints.WebSocketConnection and ConnectionHandle.
import CSwiftWS
import SwiftWSCore
import SwiftWSEndpoints

/// sizeof() of the first published sws_conn_handlers (size and ten callbacks), before
/// `on_messages` was appended: a caller compiled against it leaves on_messages NULL.
private let connHandlersFirstVersionSize = MemoryLayout<Int>.stride * 11

/// A connection's C user data before the connection has its `ConnectionBox` (from the upgrade
/// hook or the connect call), carried in `WebSocketConnection.userData`.
final class InitialUserData {
    let pointer: UnsafeMutableRawPointer?
    init(_ pointer: UnsafeMutableRawPointer?) { self.pointer = pointer }
}

/// What a `sws_conn_t *` points to. Kept alive by `connection.bindingObject` from on_open until
/// the connection clears it after on_close; the C pointer is unretained.
final class ConnectionBox {
    // Strong: the cycle (connection.bindingObject -> box -> connection) ends when the connection
    // clears its bindingObject after on_close.
    let connection: WebSocketConnection
    let context: HandlerContext
    var userData: UnsafeMutableRawPointer?
    /// The server for topic subscriptions; nil for client connections.
    weak var server: WebSocketServer?
    private var infoStrings: (path: OwnedBytes, query: OwnedBytes?, subprotocol: OwnedBytes?)? = nil
    /// Client connections: the server's 101 head as received (sws_conn_handshake_response).
    var handshakeResponse: OwnedBytes?

    init(connection: WebSocketConnection, context: HandlerContext, userData: UnsafeMutableRawPointer?) {
        self.connection = connection
        self.context = context
        self.userData = userData
    }

    /// The C pointer for this box (valid while the connection holds the box).
    var cPointer: OpaquePointer { OpaquePointer(Unmanaged.passUnretained(self).toOpaque()) }

    /// Path, query and subprotocol as C strings, made on first request.
    var info: (path: OwnedBytes, query: OwnedBytes?, subprotocol: OwnedBytes?) {
        if let infoStrings { return infoStrings }
        let made = (path: OwnedBytes(connection.path), query: connection.query.map { OwnedBytes($0) },
                    subprotocol: connection.subprotocol.map { OwnedBytes($0) })
        infoStrings = made
        return made
    }
}

/// The C callbacks of a server's connections or of one client connection. The Swift
/// `ConnectionHandlers` made by `makeHandlers()` hold it strongly (it holds nothing back, so there
/// is no cycle): it lives as long as any connection, server or connect that may call it.
final class HandlerContext {
    let callbacks: sws_conn_handlers
    /// The initial user data of connections (the server's or the connect call's).
    let userData: UnsafeMutableRawPointer?
    /// The server whose connections these are (for subscriptions); nil for a client.
    weak var server: WebSocketServer?

    /// The batch of whole messages for `on_messages` (see `MessageBatch`).
    private var batch = MessageBatch()
    /// An emptied batch kept for its storage (swapped in while `batch` is being delivered).
    private var spareBatch = MessageBatch()
    /// Whether a delivery of the batch is deferred to the end of the current iteration.
    private var batchDeliveryScheduled = false

    init(callbacks: sws_conn_handlers, userData: UnsafeMutableRawPointer?) {
        self.callbacks = callbacks
        self.userData = userData
    }

    /// Adds a message to the batch; its delivery is deferred to the end of the iteration.
    private func enqueue(_ box: ConnectionBox, _ kind: MessageKind, _ bytes: UnsafeRawBufferPointer) {
        batch.append(box, kind == .text ? SWS_MESSAGE_TEXT : SWS_MESSAGE_BINARY, bytes)
        if !batchDeliveryScheduled {
            batchDeliveryScheduled = true
            box.connection.loop.deferCallback { [self] in
                batchDeliveryScheduled = false
                deliverBatch()
            }
        }
    }

    /// Hands the batched messages to on_messages. Called at the end of an iteration and before
    /// any other callback of these handlers, so that each connection's events keep their order.
    @inline(__always)
    func deliverBatch() {
        guard !batch.isEmpty, let onMessages = callbacks.on_messages else { return }
        // Taken out first: on_messages may send or close, and a callback that this triggers
        // synchronously delivers (an empty or new) batch of its own rather than this one again.
        var taken = MessageBatch()
        swap(&taken, &spareBatch)
        swap(&taken, &batch)
        taken.deliver(onMessages, userData)
        taken.removeAll()
        spareBatch = taken
    }

    /// Swift handlers calling the C callbacks; unset callbacks stay nil (no call at all).
    func makeHandlers() -> ConnectionHandlers {
        let handlers = ConnectionHandlers()
        let c = callbacks
        handlers.onOpen = { connection in
            self.deliverBatch()
            let box = self.box(for: connection)
            c.on_open?(box.cPointer, box.userData)
        }
        if c.on_messages != nil {
            handlers.onMessage = { connection, kind, bytes in
                guard let box = connection.bindingObject as? ConnectionBox else { return }
                self.enqueue(box, kind, bytes)
            }
        } else if c.on_message != nil {
            handlers.onMessage = { connection, kind, bytes in
                guard let box = connection.bindingObject as? ConnectionBox else { return }
                c.on_message?(box.cPointer, box.userData, kind == .text ? SWS_MESSAGE_TEXT : SWS_MESSAGE_BINARY,
                              bytes.baseAddress?.assumingMemoryBound(to: UInt8.self), bytes.count)
            }
        }
        if c.on_fragment != nil {
            handlers.onFragment = { connection, kind, bytes, isFirst, isFinal in
                self.deliverBatch()
                guard let box = connection.bindingObject as? ConnectionBox else { return }
                c.on_fragment?(box.cPointer, box.userData, kind == .text ? SWS_MESSAGE_TEXT : SWS_MESSAGE_BINARY,
                               bytes.baseAddress?.assumingMemoryBound(to: UInt8.self), bytes.count, isFirst, isFinal)
            }
        }
        if c.on_ping != nil {
            handlers.onPing = { connection, bytes in
                self.deliverBatch()
                guard let box = connection.bindingObject as? ConnectionBox else { return }
                c.on_ping?(box.cPointer, box.userData, bytes.baseAddress?.assumingMemoryBound(to: UInt8.self), bytes.count)
            }
        }
        if c.on_pong != nil {
            handlers.onPong = { connection, bytes in
                self.deliverBatch()
                guard let box = connection.bindingObject as? ConnectionBox else { return }
                c.on_pong?(box.cPointer, box.userData, bytes.baseAddress?.assumingMemoryBound(to: UInt8.self), bytes.count)
            }
        }
        if c.on_drain != nil {
            handlers.onDrain = { connection in
                self.deliverBatch()
                guard let box = connection.bindingObject as? ConnectionBox else { return }
                c.on_drain?(box.cPointer, box.userData)
            }
        }
        handlers.onClose = { connection, status in
            // The box goes away right after this (the connection clears bindingObject); its batched
            // messages go first.
            self.deliverBatch()
            guard let box = connection.bindingObject as? ConnectionBox else { return }
            var reason = status.reason
            reason.withUTF8 { utf8 in
                c.on_close?(box.cPointer, box.userData, status.code.rawValue,
                            UnsafeRawPointer(utf8.baseAddress)?.assumingMemoryBound(to: CChar.self), utf8.count)
            }
        }
        return handlers
    }

    /// The connection's box, made when it opens (with the user data chosen so far).
    func box(for connection: WebSocketConnection) -> ConnectionBox {
        if let box = connection.bindingObject as? ConnectionBox { return box }
        let initial = (connection.userData as? InitialUserData)?.pointer ?? userData
        let box = ConnectionBox(connection: connection, context: self, userData: initial)
        box.server = server
        connection.bindingObject = box
        return box
    }
}

/// Reads a sws_conn_handlers struct (NULL: all callbacks NULL).
func readConnHandlers(_ pointer: UnsafePointer<sws_conn_handlers>?, into handlers: inout sws_conn_handlers) -> sws_status {
    _ = sws_conn_handlers_init(&handlers)
    guard let pointer else { return SWS_OK }
    return readSizedStruct(pointer, into: &handlers, firstVersionSize: connHandlersFirstVersionSize, name: "sws_conn_handlers")
}

@_cdecl("sws_conn_handlers_init")
public func sws_conn_handlers_init(_ handlers: UnsafeMutablePointer<sws_conn_handlers>?) -> sws_status {
    guard let handlers else { return fail(SWS_ERR_INVALID_ARGUMENT, "sws_conn_handlers_init: handlers is NULL") }
    handlers.pointee = sws_conn_handlers()
    handlers.pointee.size = MemoryLayout<sws_conn_handlers>.stride
    return SWS_OK
}

/// The box behind a connection handle on its loop thread, else nil with the status to return.
private func connection(_ handle: OpaquePointer?, _ function: StaticString) -> (ConnectionBox?, sws_status) {
    guard let box = object(handle, as: ConnectionBox.self) else {
        return (nil, fail(SWS_ERR_INVALID_ARGUMENT, "\(function): conn is NULL"))
    }
    let status = checkLoopThread(box.connection.loop, function)
    return status == SWS_OK ? (box, SWS_OK) : (nil, status)
}

/// The send functions: the connection decides (see `WebSocketConnection.send`); a refusal
/// (`SessionError`) is mapped to its status in one place, a result to `sws_send_result`.
private func send(_ handle: OpaquePointer?, _ data: UnsafeRawPointer?, _ length: Int,
                  _ result: UnsafeMutablePointer<sws_send_result>?, _ function: StaticString,
                  _ body: (WebSocketConnection, UnsafeRawBufferPointer) throws(SessionError) -> SendResult) -> sws_status {
    result?.pointee = SWS_SEND_DROPPED
    let (found, status) = connection(handle, function)
    guard let box = found else { return status }
    guard let bytes = cBuffer(data, length) else { return fail(SWS_ERR_INVALID_ARGUMENT, "\(function): data is NULL") }
    do throws(SessionError) {
        switch try body(box.connection, bytes) {
        case .sent: result?.pointee = SWS_SEND_SENT
        case .buffered: result?.pointee = SWS_SEND_BUFFERED
        case .dropped: result?.pointee = SWS_SEND_DROPPED
        }
        return SWS_OK
    } catch {
        return fail(error, function)
    }
}

@_cdecl("sws_conn_send_text")
public func sws_conn_send_text(_ handle: OpaquePointer?, _ data: UnsafePointer<CChar>?, _ length: Int,
                               _ result: UnsafeMutablePointer<sws_send_result>?) -> sws_status {
    send(handle, data, length, result, "sws_conn_send_text") { (connection, bytes) throws(SessionError) in
        try connection.send(.text, bytes)
    }
}

@_cdecl("sws_conn_send_binary")
public func sws_conn_send_binary(_ handle: OpaquePointer?, _ data: UnsafeRawPointer?, _ length: Int,
                                 _ result: UnsafeMutablePointer<sws_send_result>?) -> sws_status {
    send(handle, data, length, result, "sws_conn_send_binary") { (connection, bytes) throws(SessionError) in
        try connection.send(.binary, bytes)
    }
}

@_cdecl("sws_conn_send_batch")
public func sws_conn_send_batch(_ entries: UnsafeMutablePointer<sws_send_entry>?, _ count: Int,
                                _ payloads: UnsafeRawPointer?) -> Int {
    guard count > 0 else { return 0 }
    guard let entries else {
        _ = fail(SWS_ERR_INVALID_ARGUMENT, "sws_conn_send_batch: entries is NULL")
        return count
    }
    var notSent = 0
    var offset = 0
    for index in 0..<count {
        let conn = entries[index].conn
        let length = entries[index].len
        // Every entry's payload lies in `payloads` (NULL only if all are empty: send's own check).
        let data = payloads.map { $0 + offset }
        offset += length
        var result = SWS_SEND_DROPPED
        let status: sws_status
        switch entries[index].kind {
        case SWS_MESSAGE_TEXT:
            status = send(conn, data, length, &result, "sws_conn_send_batch") { (connection, bytes) throws(SessionError) in
                try connection.send(.text, bytes)
            }
        case SWS_MESSAGE_BINARY:
            status = send(conn, data, length, &result, "sws_conn_send_batch") { (connection, bytes) throws(SessionError) in
                try connection.send(.binary, bytes)
            }
        default:
            status = fail(SWS_ERR_INVALID_ARGUMENT, "sws_conn_send_batch: unknown kind \(entries[index].kind.rawValue)")
        }
        entries[index].status = status
        entries[index].result = result
        if status != SWS_OK || result != SWS_SEND_SENT { notSent += 1 }
    }
    return notSent
}

@_cdecl("sws_conn_send_fragment")
public func sws_conn_send_fragment(_ handle: OpaquePointer?, _ kind: sws_message_kind, _ data: UnsafeRawPointer?,
                                   _ length: Int, _ isFinal: Bool,
                                   _ result: UnsafeMutablePointer<sws_send_result>?) -> sws_status {
    let swiftKind: MessageKind
    switch kind {
    case SWS_MESSAGE_TEXT: swiftKind = .text
    case SWS_MESSAGE_BINARY: swiftKind = .binary
    default:
        result?.pointee = SWS_SEND_DROPPED
        return fail(SWS_ERR_INVALID_ARGUMENT, "sws_conn_send_fragment: unknown kind \(kind.rawValue)")
    }
    return send(handle, data, length, result, "sws_conn_send_fragment") { (connection, bytes) throws(SessionError) in
        try connection.sendFragment(swiftKind, bytes, isFinal: isFinal)
    }
}

@_cdecl("sws_conn_send_ping")
public func sws_conn_send_ping(_ handle: OpaquePointer?, _ data: UnsafeRawPointer?, _ length: Int) -> sws_status {
    send(handle, data, length, nil, "sws_conn_send_ping") { (connection, bytes) throws(SessionError) in
        try connection.ping(Array(bytes))
    }
}

@_cdecl("sws_conn_send_pong")
public func sws_conn_send_pong(_ handle: OpaquePointer?, _ data: UnsafeRawPointer?, _ length: Int) -> sws_status {
    send(handle, data, length, nil, "sws_conn_send_pong") { (connection, bytes) throws(SessionError) in
        try connection.pong(Array(bytes))
    }
}

@_cdecl("sws_conn_get_state")
public func sws_conn_get_state(_ handle: OpaquePointer?, _ state: UnsafeMutablePointer<sws_session_state>?) -> sws_status {
    let (found, status) = connection(handle, "sws_conn_get_state")
    guard let box = found else { return status }
    guard let state else { return fail(SWS_ERR_INVALID_ARGUMENT, "sws_conn_get_state: state is NULL") }
    state.pointee = cState(box.connection.state)
    return SWS_OK
}

@_cdecl("sws_conn_pause_reading")
public func sws_conn_pause_reading(_ handle: OpaquePointer?) -> sws_status {
    let (found, status) = connection(handle, "sws_conn_pause_reading")
    guard let box = found else { return status }
    box.connection.pauseReading()
    return SWS_OK
}

@_cdecl("sws_conn_resume_reading")
public func sws_conn_resume_reading(_ handle: OpaquePointer?) -> sws_status {
    let (found, status) = connection(handle, "sws_conn_resume_reading")
    guard let box = found else { return status }
    box.connection.resumeReading()
    return SWS_OK
}

@_cdecl("sws_conn_get_counters")
public func sws_conn_get_counters(_ handle: OpaquePointer?, _ out: UnsafeMutablePointer<sws_conn_counters>?) -> sws_status {
    let (found, status) = connection(handle, "sws_conn_get_counters")
    guard let box = found else { return status }
    guard let out else { return fail(SWS_ERR_INVALID_ARGUMENT, "sws_conn_get_counters: counters is NULL") }
    let known = MemoryLayout<sws_conn_counters>.stride
    let declared = out.pointee.size
    guard declared >= known, declared <= 4096 else {
        return fail(SWS_ERR_INVALID_ARGUMENT, "sws_conn_get_counters: counters.size is \(declared); set it to sizeof(sws_conn_counters)")
    }
    let counters = box.connection.counters
    out.pointee = sws_conn_counters(size: declared, messages_received: UInt64(counters.messagesReceived),
                                    bytes_received: UInt64(counters.bytesReceived),
                                    messages_sent: UInt64(counters.messagesSent), bytes_sent: UInt64(counters.bytesSent))
    return SWS_OK
}

/// Checks a close code and reason from C; the reason as a String, or nil with the status.
func closeArguments(_ code: UInt16, _ reason: UnsafePointer<CChar>?, _ reasonLength: Int,
                    _ function: StaticString) -> (String?, sws_status) {
    guard let bytes = cBuffer(reason, reasonLength) else {
        return (nil, fail(SWS_ERR_INVALID_ARGUMENT, "\(function): reason is NULL"))
    }
    guard CloseCode(code).isValidOnWire else {
        return (nil, fail(SWS_ERR_INVALID_ARGUMENT, "\(function): close code \(code) may not be sent (RFC 6455 section 7.4)"))
    }
    guard let text = String(validating: bytes, as: UTF8.self) else {
        return (nil, fail(SWS_ERR_INVALID_ARGUMENT, "\(function): reason is not valid UTF-8"))
    }
    guard bytes.count <= ClosePayload.maximumReasonLength else {
        return (nil, fail(SWS_ERR_TOO_BIG, "\(function): close reasons are limited to 123 bytes"))
    }
    return (text, SWS_OK)
}

@_cdecl("sws_conn_close")
public func sws_conn_close(_ handle: OpaquePointer?, _ code: UInt16, _ reason: UnsafePointer<CChar>?,
                           _ reasonLength: Int) -> sws_status {
    endConnection(handle, code, reason, reasonLength, "sws_conn_close") { $0.close(code: $1, reason: $2) }
}

/// sws_conn_close and sws_conn_fail: the same checks, then `end` on an open connection.
private func endConnection(_ handle: OpaquePointer?, _ code: UInt16, _ reason: UnsafePointer<CChar>?,
                           _ reasonLength: Int, _ function: StaticString,
                           _ end: (WebSocketConnection, CloseCode, String) -> Void) -> sws_status {
    let (found, status) = connection(handle, function)
    guard let box = found else { return status }
    let (text, argumentStatus) = closeArguments(code, reason, reasonLength, function)
    guard let text else { return argumentStatus }
    guard box.connection.isOpen else {
        return fail(SWS_ERR_CLOSED, "\(function): the close handshake has already begun")
    }
    end(box.connection, CloseCode(code), text)
    return SWS_OK
}

@_cdecl("sws_conn_fail")
public func sws_conn_fail(_ handle: OpaquePointer?, _ code: UInt16, _ reason: UnsafePointer<CChar>?,
                          _ reasonLength: Int) -> sws_status {
    endConnection(handle, code, reason, reasonLength, "sws_conn_fail") { $0.fail(code: $1, reason: $2) }
}

@_cdecl("sws_conn_abort")
public func sws_conn_abort(_ handle: OpaquePointer?) -> sws_status {
    let (found, status) = connection(handle, "sws_conn_abort")
    guard let box = found else { return status }
    guard box.connection.closeStatus == nil else {
        return fail(SWS_ERR_CLOSED, "sws_conn_abort: the connection is closed")
    }
    box.connection.abort()
    return SWS_OK
}

@_cdecl("sws_conn_buffered_amount")
public func sws_conn_buffered_amount(_ handle: OpaquePointer?) -> Int {
    guard let box = object(handle, as: ConnectionBox.self), box.connection.loop.isInLoopThread else { return 0 }
    return box.connection.bufferedAmount
}

@_cdecl("sws_conn_is_open")
public func sws_conn_is_open(_ handle: OpaquePointer?) -> Bool {
    guard let box = object(handle, as: ConnectionBox.self), box.connection.loop.isInLoopThread else { return false }
    return box.connection.isOpen
}

@_cdecl("sws_conn_remote_address")
public func sws_conn_remote_address(_ handle: OpaquePointer?, _ buffer: UnsafeMutablePointer<CChar>?, _ size: Int) -> sws_status {
    let (found, status) = connection(handle, "sws_conn_remote_address")
    guard let box = found else { return status }
    return writeAddress(box.connection.remoteAddress, into: buffer, size, "sws_conn_remote_address")
}

/// Writes an address as text into a C buffer (NUL-terminated), or says why not.
private func writeAddress(_ address: SocketAddress?, into buffer: UnsafeMutablePointer<CChar>?, _ size: Int,
                          _ function: StaticString) -> sws_status {
    guard let buffer else { return fail(SWS_ERR_INVALID_ARGUMENT, "\(function): buffer is NULL") }
    guard let address else { return fail(SWS_ERR_CLOSED, "\(function): the address is no longer known") }
    let text = Array(address.description.utf8)
    guard size > text.count else {
        return fail(SWS_ERR_TOO_BIG, "\(function): needs \(text.count + 1) bytes")
    }
    for (index, byte) in text.enumerated() { buffer[index] = CChar(bitPattern: byte) }
    buffer[text.count] = 0
    return SWS_OK
}

@_cdecl("sws_conn_handshake_response")
public func sws_conn_handshake_response(_ handle: OpaquePointer?, _ head: UnsafeMutablePointer<UnsafePointer<UInt8>?>?,
                                        _ headLength: UnsafeMutablePointer<Int>?) -> sws_status {
    let (found, status) = connection(handle, "sws_conn_handshake_response")
    guard let box = found else { return status }
    guard let response = box.handshakeResponse else {
        return fail(SWS_ERR_INVALID_ARGUMENT, "sws_conn_handshake_response: not a client connection")
    }
    head?.pointee = response.bytes
    headLength?.pointee = response.count
    return SWS_OK
}

@_cdecl("sws_conn_close_initiated_locally")
public func sws_conn_close_initiated_locally(_ handle: OpaquePointer?) -> Bool {
    guard let box = object(handle, as: ConnectionBox.self), box.connection.loop.isInLoopThread else { return false }
    return box.connection.closeInitiatedLocally ?? false
}

@_cdecl("sws_conn_set_close_timeout")
public func sws_conn_set_close_timeout(_ handle: OpaquePointer?, _ closeTimeoutMs: UInt32) -> sws_status {
    let (found, status) = connection(handle, "sws_conn_set_close_timeout")
    guard let box = found else { return status }
    box.connection.closeTimeout = duration(milliseconds: closeTimeoutMs)
    return SWS_OK
}

@_cdecl("sws_conn_set_stream_fragmented")
public func sws_conn_set_stream_fragmented(_ handle: OpaquePointer?, _ on: Bool) -> sws_status {
    let (found, status) = connection(handle, "sws_conn_set_stream_fragmented")
    guard let box = found else { return status }
    box.connection.streamsFragmentedMessages = on
    return SWS_OK
}

@_cdecl("sws_conn_close_timed_out")
public func sws_conn_close_timed_out(_ handle: OpaquePointer?) -> Bool {
    guard let box = object(handle, as: ConnectionBox.self), box.connection.loop.isInLoopThread else { return false }
    return box.connection.closeTimedOut
}

@_cdecl("sws_conn_local_address")
public func sws_conn_local_address(_ handle: OpaquePointer?, _ buffer: UnsafeMutablePointer<CChar>?, _ size: Int) -> sws_status {
    let (found, status) = connection(handle, "sws_conn_local_address")
    guard let box = found else { return status }
    return writeAddress(box.connection.localAddress, into: buffer, size, "sws_conn_local_address")
}

@_cdecl("sws_conn_is_compressed")
public func sws_conn_is_compressed(_ handle: OpaquePointer?) -> Bool {
    guard let box = object(handle, as: ConnectionBox.self), box.connection.loop.isInLoopThread else { return false }
    return box.connection.extensions.contains { HTTPHeaders.namesMatch($0.name, "permessage-deflate") }
}

@_cdecl("sws_conn_set_user_data")
public func sws_conn_set_user_data(_ handle: OpaquePointer?, _ userData: UnsafeMutableRawPointer?) -> sws_status {
    let (found, status) = connection(handle, "sws_conn_set_user_data")
    guard let box = found else { return status }
    box.userData = userData
    return SWS_OK
}

@_cdecl("sws_conn_get_user_data")
public func sws_conn_get_user_data(_ handle: OpaquePointer?) -> UnsafeMutableRawPointer? {
    guard let box = object(handle, as: ConnectionBox.self), box.connection.loop.isInLoopThread else { return nil }
    return box.userData
}

@_cdecl("sws_conn_info")
public func sws_conn_info(_ handle: OpaquePointer?, _ path: UnsafeMutablePointer<UnsafePointer<CChar>?>?,
                          _ query: UnsafeMutablePointer<UnsafePointer<CChar>?>?,
                          _ subprotocol: UnsafeMutablePointer<UnsafePointer<CChar>?>?) -> sws_status {
    let (found, status) = connection(handle, "sws_conn_info")
    guard let box = found else { return status }
    let info = box.info
    path?.pointee = info.path.cString
    query?.pointee = info.query?.cString
    subprotocol?.pointee = info.subprotocol?.cString
    return SWS_OK
}

/// Checks the arguments of (un)subscribe; the server, topic and connection, or the status.
private func subscription(_ handle: OpaquePointer?, _ topic: UnsafePointer<CChar>?,
                          _ function: StaticString) -> (WebSocketServer, String, WebSocketConnection)? {
    let (found, status) = connection(handle, function)
    guard let box = found else { _ = status; return nil }
    guard let topic = string(fromCString: topic) else {
        setLastError("\(function): topic is NULL or not UTF-8")
        return nil
    }
    guard let server = box.server else {
        setLastError("\(function): only connections of a (live) server have topics")
        return nil
    }
    return (server, topic, box.connection)
}

@_cdecl("sws_conn_subscribe")
public func sws_conn_subscribe(_ handle: OpaquePointer?, _ topic: UnsafePointer<CChar>?) -> sws_status {
    if let box = object(handle, as: ConnectionBox.self), !box.connection.loop.isInLoopThread {
        return fail(SWS_ERR_WRONG_THREAD, "sws_conn_subscribe: called from a thread that is not the loop's")
    }
    guard let (server, name, connection) = subscription(handle, topic, "sws_conn_subscribe") else {
        return SWS_ERR_INVALID_ARGUMENT
    }
    guard connection.isOpen else { return fail(SWS_ERR_CLOSED, "sws_conn_subscribe: the connection is closing or closed") }
    server.subscribe(connection, to: name)
    return SWS_OK
}

@_cdecl("sws_conn_unsubscribe")
public func sws_conn_unsubscribe(_ handle: OpaquePointer?, _ topic: UnsafePointer<CChar>?) -> sws_status {
    if let box = object(handle, as: ConnectionBox.self), !box.connection.loop.isInLoopThread {
        return fail(SWS_ERR_WRONG_THREAD, "sws_conn_unsubscribe: called from a thread that is not the loop's")
    }
    guard let (server, name, connection) = subscription(handle, topic, "sws_conn_unsubscribe") else {
        return SWS_ERR_INVALID_ARGUMENT
    }
    server.unsubscribe(connection, from: name)
    return SWS_OK
}

// MARK: Thread-safe references

/// What a `sws_conn_ref_t *` points to.
final class ConnectionReference {
    let handle: ConnectionHandle
    init(handle: ConnectionHandle) { self.handle = handle }
}

@_cdecl("sws_conn_ref_new")
public func sws_conn_ref_new(_ handle: OpaquePointer?, _ out: UnsafeMutablePointer<OpaquePointer?>?) -> sws_status {
    guard let out else { return fail(SWS_ERR_INVALID_ARGUMENT, "sws_conn_ref_new: out is NULL") }
    out.pointee = nil
    let (found, status) = connection(handle, "sws_conn_ref_new")
    guard let box = found else { return status }
    out.pointee = makeHandle(ConnectionReference(handle: box.connection.handle))
    return SWS_OK
}

/// The reference behind a handle; it is checked against the registry, as these calls come from
/// any thread at any time (a lock per call is cheap next to posting work to another thread).
private func reference(_ handle: OpaquePointer?, _ function: StaticString) -> ConnectionReference? {
    guard let handle, liveHandles.contains(UnsafeRawPointer(handle)) else {
        setLastError("\(function): ref is NULL or not a live reference")
        return nil
    }
    return object(handle, as: ConnectionReference.self)
}

private func outcome(_ outcome: ConnectionHandle.Outcome, _ function: StaticString) -> sws_status {
    outcome == .queued ? SWS_OK : fail(SWS_ERR_CLOSED, "\(function): the connection is closed")
}

@_cdecl("sws_conn_ref_send_text")
public func sws_conn_ref_send_text(_ handle: OpaquePointer?, _ data: UnsafePointer<CChar>?, _ length: Int) -> sws_status {
    guard let ref = reference(handle, "sws_conn_ref_send_text") else { return SWS_ERR_INVALID_ARGUMENT }
    guard let bytes = cBuffer(data, length) else { return fail(SWS_ERR_INVALID_ARGUMENT, "sws_conn_ref_send_text: data is NULL") }
    guard let text = String(validating: bytes, as: UTF8.self) else {
        return fail(SWS_ERR_INVALID_ARGUMENT, "sws_conn_ref_send_text: text is not valid UTF-8")
    }
    return outcome(ref.handle.send(text: text), "sws_conn_ref_send_text")
}

@_cdecl("sws_conn_ref_send_binary")
public func sws_conn_ref_send_binary(_ handle: OpaquePointer?, _ data: UnsafeRawPointer?, _ length: Int) -> sws_status {
    guard let ref = reference(handle, "sws_conn_ref_send_binary") else { return SWS_ERR_INVALID_ARGUMENT }
    guard let bytes = cBuffer(data, length) else { return fail(SWS_ERR_INVALID_ARGUMENT, "sws_conn_ref_send_binary: data is NULL") }
    return outcome(ref.handle.send(binary: Array(bytes)), "sws_conn_ref_send_binary")
}

@_cdecl("sws_conn_ref_close")
public func sws_conn_ref_close(_ handle: OpaquePointer?, _ code: UInt16, _ reason: UnsafePointer<CChar>?,
                               _ reasonLength: Int) -> sws_status {
    guard let ref = reference(handle, "sws_conn_ref_close") else { return SWS_ERR_INVALID_ARGUMENT }
    let (text, status) = closeArguments(code, reason, reasonLength, "sws_conn_ref_close")
    guard let text else { return status }
    return outcome(ref.handle.close(code: CloseCode(code), reason: text), "sws_conn_ref_close")
}

@_cdecl("sws_conn_ref_is_closed")
public func sws_conn_ref_is_closed(_ handle: OpaquePointer?) -> Bool {
    guard let handle, liveHandles.contains(UnsafeRawPointer(handle)),
          let ref = object(handle, as: ConnectionReference.self) else { return true }
    return ref.handle.isClosed
}

/// A C function and its user data carried to the connection's loop. The pointer is the C
/// program's; the library never dereferences it (the API contract), so sending it is safe.
private struct PostedConnectionWork: @unchecked Sendable {
    let function: sws_conn_work_fn
    let userData: UnsafeMutableRawPointer?
}

@_cdecl("sws_conn_ref_post")
public func sws_conn_ref_post(_ handle: OpaquePointer?, _ function: sws_conn_work_fn?,
                              _ userData: UnsafeMutableRawPointer?) -> sws_status {
    guard let ref = reference(handle, "sws_conn_ref_post") else { return SWS_ERR_INVALID_ARGUMENT }
    guard let function else { return fail(SWS_ERR_INVALID_ARGUMENT, "sws_conn_ref_post: fn is NULL") }
    let work = PostedConnectionWork(function: function, userData: userData)
    return outcome(ref.handle.withConnection { connection in
        // The box is the C face of the connection; it is gone (nil) once on_close returned, and
        // then the work still runs, with NULL, so that the caller can release its user data.
        let box = connection?.bindingObject as? ConnectionBox
        work.function(box?.cPointer, work.userData)
    }, "sws_conn_ref_post")
}

@_cdecl("sws_conn_ref_free")
public func sws_conn_ref_free(_ handle: OpaquePointer?) -> sws_status {
    guard let handle, releaseHandle(handle, as: ConnectionReference.self) else {
        return fail(SWS_ERR_INVALID_ARGUMENT, "sws_conn_ref_free: NULL or not a live reference (freed twice?)")
    }
    return SWS_OK
}
