// C API: the sans-I/O session (header section "Sans-I/O session"). Thin: each export checks its
// C arguments, translates them and delegates to SwiftWSCore.Session; events are translated back
// to the C callbacks.
import CSwiftWS
import SwiftWSCore

/// sizeof() of the first published sws_session_callbacks. Freeze it (as a literal) before
/// appending a field. (The config structs' sizes live in Configuration.swift.)
private let sessionCallbacksFirstVersionSize = MemoryLayout<sws_session_callbacks>.stride

/// What a `sws_session_t *` points to.
final class SessionHandle {
    let session: Session
    let callbacks: sws_session_callbacks
    let userData: UnsafeMutableRawPointer?
    /// True while a callback runs: feeding or freeing the session from there is refused.
    var isInCallback = false
    /// sws_session_feed_eof() was called (a second call is refused).
    var hasFedEndOfStream = false
    /// The close reason as C bytes, made on first request once the session is closed (it never
    /// changes after that) and kept until the handle is freed.
    var closeReasonStorage: UnsafeMutableBufferPointer<CChar>? = nil

    init(session: Session, callbacks: sws_session_callbacks, userData: UnsafeMutableRawPointer?) {
        self.session = session
        self.callbacks = callbacks
        self.userData = userData
    }

    deinit {
        closeReasonStorage?.deallocate()
    }

    /// Delivers one session event to the matching C callback, if set.
    func deliver(_ event: SessionEvent, handle: OpaquePointer) {
        switch event {
        case .text(let bytes):
            callbacks.on_text?(handle, userData, bytes.baseAddress?.assumingMemoryBound(to: CChar.self), bytes.count)
        case .binary(let bytes):
            callbacks.on_binary?(handle, userData, bytes.baseAddress?.assumingMemoryBound(to: UInt8.self), bytes.count)
        case .fragment(let kind, let bytes, let isFirst, let isFinal):
            callbacks.on_fragment?(handle, userData, kind == .text ? SWS_MESSAGE_TEXT : SWS_MESSAGE_BINARY,
                                   bytes.baseAddress?.assumingMemoryBound(to: UInt8.self), bytes.count, isFirst, isFinal)
        case .ping(let bytes):
            callbacks.on_ping?(handle, userData, bytes.baseAddress?.assumingMemoryBound(to: UInt8.self), bytes.count)
        case .pong(let bytes):
            callbacks.on_pong?(handle, userData, bytes.baseAddress?.assumingMemoryBound(to: UInt8.self), bytes.count)
        case .closeReceived(let code, let reason):
            guard let onClose = callbacks.on_close else { return }
            var reason = reason
            reason.withUTF8 { utf8 in
                onClose(handle, userData, (code ?? .noStatusReceived).rawValue,
                        UnsafeRawPointer(utf8.baseAddress)?.assumingMemoryBound(to: CChar.self), utf8.count)
            }
        case .failed(let error):
            guard let onError = callbacks.on_error else { return }
            var reason = error.reason
            reason.withUTF8 { utf8 in
                onError(handle, userData, error.closeCode.rawValue,
                        UnsafeRawPointer(utf8.baseAddress)?.assumingMemoryBound(to: CChar.self), utf8.count)
            }
        }
    }
}

/// The session behind a handle, or nil after recording SWS_ERR_INVALID_ARGUMENT.
@inline(__always)
private func sessionHandle(_ handle: OpaquePointer?, _ function: StaticString) -> SessionHandle? {
    guard let box = object(handle, as: SessionHandle.self) else {
        setLastError("\(function): session is NULL")
        return nil
    }
    return box
}

/// A C (pointer, length) pair as a buffer; nil when the pointer is NULL with a non-zero length.
@inline(__always)
func cBuffer(_ data: UnsafeRawPointer?, _ length: Int) -> UnsafeRawBufferPointer? {
    if length == 0 { return UnsafeRawBufferPointer(start: nil, count: 0) }
    guard let data else { return nil }
    return UnsafeRawBufferPointer(start: data, count: length)
}

/// Runs a send on the session, mapping a thrown SessionError to its status.
@inline(__always)
private func send(_ function: StaticString, _ body: () throws(SessionError) -> Void) -> sws_status {
    do {
        try body()
        return SWS_OK
    } catch {
        return fail(error, function)
    }
}

@_cdecl("sws_session_callbacks_init")
public func sws_session_callbacks_init(_ callbacks: UnsafeMutablePointer<sws_session_callbacks>?) -> sws_status {
    guard let callbacks else { return fail(SWS_ERR_INVALID_ARGUMENT, "sws_session_callbacks_init: callbacks is NULL") }
    callbacks.pointee = sws_session_callbacks()
    callbacks.pointee.size = MemoryLayout<sws_session_callbacks>.stride
    return SWS_OK
}

@_cdecl("sws_session_new")
public func sws_session_new(_ role: sws_role, _ config: UnsafePointer<sws_session_config>?,
                            _ callbacks: UnsafePointer<sws_session_callbacks>?,
                            _ userData: UnsafeMutableRawPointer?,
                            _ out: UnsafeMutablePointer<OpaquePointer?>?) -> sws_status {
    guard let out else { return fail(SWS_ERR_INVALID_ARGUMENT, "sws_session_new: out is NULL") }
    out.pointee = nil
    let swiftRole: Role
    switch role {
    case SWS_ROLE_CLIENT: swiftRole = .client
    case SWS_ROLE_SERVER: swiftRole = .server
    default: return fail(SWS_ERR_INVALID_ARGUMENT, "sws_session_new: unknown role \(role.rawValue)")
    }
    return makeSession(swiftRole, config, callbacks, userData, out, compression: nil)
}

/// Creates a session handle from the C config and callbacks (both checked), with the
/// permessage-deflate codec the handshake negotiated, if any. Shared by sws_session_new and the
/// handshakes' _new_session functions.
func makeSession(_ role: Role, _ config: UnsafePointer<sws_session_config>?,
                 _ callbacks: UnsafePointer<sws_session_callbacks>?, _ userData: UnsafeMutableRawPointer?,
                 _ out: UnsafeMutablePointer<OpaquePointer?>,
                 compression: (PerMessageDeflateParameters, PerMessageDeflateConfiguration)?) -> sws_status {
    let configuration: SessionConfiguration
    do throws(CArgumentError) {
        configuration = try readSessionConfig(config, role: role)
    } catch {
        return error.status
    }
    var cCallbacks = sws_session_callbacks()
    _ = sws_session_callbacks_init(&cCallbacks)
    if let callbacks {
        let status = readSizedStruct(callbacks, into: &cCallbacks, firstVersionSize: sessionCallbacksFirstVersionSize,
                                     name: "sws_session_callbacks")
        guard status == SWS_OK else { return status }
    }

    let session = Session(role: role, configuration: configuration, deflate: compression?.0,
                          deflateConfiguration: compression?.1 ?? PerMessageDeflateConfiguration())
    out.pointee = makeHandle(SessionHandle(session: session, callbacks: cCallbacks, userData: userData))
    return SWS_OK
}

/// A completed opening handshake of the C sans-I/O API that can make its session once: what
/// `sws_client_handshake_new_session` and `sws_server_handshake_new_session` share.
protocol NegotiatedHandshakeHandle: AnyObject {
    /// The role of the session the handshake makes.
    static var role: Role { get }
    /// Whether the handshake got far enough for a session (client: complete; server: accepted).
    var isReadyForSession: Bool { get }
    var hasMadeSession: Bool { get set }
    /// The permessage-deflate parameters agreed, if any, and the configuration they came from.
    var agreedCompression: PerMessageDeflateParameters? { get }
    var compression: PerMessageDeflateConfiguration { get }
}

/// The body of the handshakes' `_new_session` functions: checks the handle and its progress,
/// makes the session with the negotiated codec, and marks the handshake as used.
func makeSession<Handshake: NegotiatedHandshakeHandle>(
    from handle: OpaquePointer?, as type: Handshake.Type, function: String, readiness: String,
    _ config: UnsafePointer<sws_session_config>?, _ callbacks: UnsafePointer<sws_session_callbacks>?,
    _ userData: UnsafeMutableRawPointer?, _ out: UnsafeMutablePointer<OpaquePointer?>?
) -> sws_status {
    guard let out else { return fail(SWS_ERR_INVALID_ARGUMENT, "\(function): out is NULL") }
    out.pointee = nil
    guard let box = object(handle, as: type), box.isReadyForSession, !box.hasMadeSession else {
        return fail(SWS_ERR_INVALID_ARGUMENT, "\(function): handshake NULL, \(readiness), or its session already made")
    }
    let status = makeSession(Handshake.role, config, callbacks, userData, out,
                             compression: box.agreedCompression.map { ($0, box.compression) })
    if status == SWS_OK { box.hasMadeSession = true }
    return status
}

@_cdecl("sws_session_free")
public func sws_session_free(_ handle: OpaquePointer?) -> sws_status {
    guard let handle else { return fail(SWS_ERR_INVALID_ARGUMENT, "sws_session_free: session is NULL") }
    // The registry is asked first: `handle` may be freed memory, which must not be read.
    guard liveHandles.contains(UnsafeRawPointer(handle)) else {
        return fail(SWS_ERR_INVALID_ARGUMENT, "sws_session_free: not a live session (freed twice?)")
    }
    if let box = object(handle, as: SessionHandle.self), box.isInCallback {
        return fail(SWS_ERR_INVALID_ARGUMENT, "sws_session_free: called from one of the session's callbacks")
    }
    guard releaseHandle(handle, as: SessionHandle.self) else {
        return fail(SWS_ERR_INVALID_ARGUMENT, "sws_session_free: not a live session (freed twice?)")
    }
    return SWS_OK
}

@_cdecl("sws_session_feed")
public func sws_session_feed(_ handle: OpaquePointer?, _ data: UnsafeMutableRawPointer?, _ length: Int) -> sws_status {
    guard let box = sessionHandle(handle, "sws_session_feed") else { return SWS_ERR_INVALID_ARGUMENT }
    guard !box.isInCallback else {
        return fail(SWS_ERR_INVALID_ARGUMENT, "sws_session_feed: called from one of the session's callbacks")
    }
    // `.closed` exactly when the session ignores input: close frame received, failure, or EOF.
    guard box.session.state != .closed else {
        return fail(SWS_ERR_CLOSED, "sws_session_feed: the session takes no more input (closed, failed or ended)")
    }
    if length == 0 { return SWS_OK }
    guard let data else { return fail(SWS_ERR_INVALID_ARGUMENT, "sws_session_feed: data is NULL") }
    box.isInCallback = true
    defer { box.isInCallback = false }
    let handle = handle!
    box.session.receive(UnsafeMutableRawBufferPointer(start: data, count: length)) { event in
        box.deliver(event, handle: handle)
    }
    // The caller's loop sees no "come back later": inflate budgets are for our own loop.
    box.session.finishDeferredWork { event in box.deliver(event, handle: handle) }
    return SWS_OK
}

@_cdecl("sws_session_feed_eof")
public func sws_session_feed_eof(_ handle: OpaquePointer?) -> sws_status {
    guard let box = sessionHandle(handle, "sws_session_feed_eof") else { return SWS_ERR_INVALID_ARGUMENT }
    guard !box.isInCallback else {
        return fail(SWS_ERR_INVALID_ARGUMENT, "sws_session_feed_eof: called from one of the session's callbacks")
    }
    guard !box.hasFedEndOfStream else {
        return fail(SWS_ERR_CLOSED, "sws_session_feed_eof: the end of the stream was already fed")
    }
    box.hasFedEndOfStream = true
    box.isInCallback = true
    defer { box.isInCallback = false }
    let handle = handle!
    box.session.receiveEndOfStream { event in box.deliver(event, handle: handle) }
    return SWS_OK
}

@_cdecl("sws_session_send_text")
public func sws_session_send_text(_ handle: OpaquePointer?, _ data: UnsafePointer<CChar>?, _ length: Int) -> sws_status {
    guard let box = sessionHandle(handle, "sws_session_send_text") else { return SWS_ERR_INVALID_ARGUMENT }
    guard let bytes = cBuffer(data, length) else {
        return fail(SWS_ERR_INVALID_ARGUMENT, "sws_session_send_text: data is NULL")
    }
    return send("sws_session_send_text") { () throws(SessionError) in try box.session.send(text: bytes) }
}

@_cdecl("sws_session_send_binary")
public func sws_session_send_binary(_ handle: OpaquePointer?, _ data: UnsafeRawPointer?, _ length: Int) -> sws_status {
    guard let box = sessionHandle(handle, "sws_session_send_binary") else { return SWS_ERR_INVALID_ARGUMENT }
    guard let bytes = cBuffer(data, length) else {
        return fail(SWS_ERR_INVALID_ARGUMENT, "sws_session_send_binary: data is NULL")
    }
    return send("sws_session_send_binary") { () throws(SessionError) in try box.session.send(binary: bytes) }
}

@_cdecl("sws_session_send_fragment")
public func sws_session_send_fragment(_ handle: OpaquePointer?, _ kind: sws_message_kind, _ data: UnsafeRawPointer?,
                                      _ length: Int, _ isFinal: Bool) -> sws_status {
    guard let box = sessionHandle(handle, "sws_session_send_fragment") else { return SWS_ERR_INVALID_ARGUMENT }
    guard let bytes = cBuffer(data, length) else {
        return fail(SWS_ERR_INVALID_ARGUMENT, "sws_session_send_fragment: data is NULL")
    }
    let swiftKind: MessageKind
    switch kind {
    case SWS_MESSAGE_TEXT: swiftKind = .text
    case SWS_MESSAGE_BINARY: swiftKind = .binary
    default: return fail(SWS_ERR_INVALID_ARGUMENT, "sws_session_send_fragment: unknown kind \(kind.rawValue)")
    }
    return send("sws_session_send_fragment") { () throws(SessionError) in
        try box.session.sendFragment(swiftKind, bytes, isFinal: isFinal)
    }
}

@_cdecl("sws_session_send_ping")
public func sws_session_send_ping(_ handle: OpaquePointer?, _ data: UnsafeRawPointer?, _ length: Int) -> sws_status {
    guard let box = sessionHandle(handle, "sws_session_send_ping") else { return SWS_ERR_INVALID_ARGUMENT }
    guard let bytes = cBuffer(data, length) else {
        return fail(SWS_ERR_INVALID_ARGUMENT, "sws_session_send_ping: data is NULL")
    }
    return send("sws_session_send_ping") { () throws(SessionError) in try box.session.ping(bytes) }
}

@_cdecl("sws_session_send_pong")
public func sws_session_send_pong(_ handle: OpaquePointer?, _ data: UnsafeRawPointer?, _ length: Int) -> sws_status {
    guard let box = sessionHandle(handle, "sws_session_send_pong") else { return SWS_ERR_INVALID_ARGUMENT }
    guard let bytes = cBuffer(data, length) else {
        return fail(SWS_ERR_INVALID_ARGUMENT, "sws_session_send_pong: data is NULL")
    }
    return send("sws_session_send_pong") { () throws(SessionError) in try box.session.pong(bytes) }
}

@_cdecl("sws_session_close")
public func sws_session_close(_ handle: OpaquePointer?, _ code: UInt16, _ reason: UnsafePointer<CChar>?,
                              _ reasonLength: Int) -> sws_status {
    guard let box = sessionHandle(handle, "sws_session_close") else { return SWS_ERR_INVALID_ARGUMENT }
    guard let bytes = cBuffer(reason, reasonLength) else {
        return fail(SWS_ERR_INVALID_ARGUMENT, "sws_session_close: reason is NULL")
    }
    guard let text = String(validating: bytes, as: UTF8.self) else {
        return fail(SWS_ERR_INVALID_ARGUMENT, "sws_session_close: reason is not valid UTF-8")
    }
    return send("sws_session_close") { () throws(SessionError) in
        try box.session.close(code: CloseCode(code), reason: text)
    }
}

@_cdecl("sws_session_pending_output")
public func sws_session_pending_output(_ handle: OpaquePointer?, _ data: UnsafeMutablePointer<UnsafePointer<UInt8>?>?,
                                       _ length: UnsafeMutablePointer<Int>?) -> sws_status {
    guard let box = sessionHandle(handle, "sws_session_pending_output") else { return SWS_ERR_INVALID_ARGUMENT }
    guard let data, let length else {
        return fail(SWS_ERR_INVALID_ARGUMENT, "sws_session_pending_output: data or len is NULL")
    }
    let output = box.session.pendingOutput
    data.pointee = output.baseAddress?.assumingMemoryBound(to: UInt8.self)
    length.pointee = output.count
    return SWS_OK
}

@_cdecl("sws_session_consume_output")
public func sws_session_consume_output(_ handle: OpaquePointer?, _ count: Int) -> sws_status {
    guard let box = sessionHandle(handle, "sws_session_consume_output") else { return SWS_ERR_INVALID_ARGUMENT }
    // size_t values above Int.max arrive as negative Ints.
    guard count >= 0, count <= box.session.pendingOutputCount else {
        return fail(SWS_ERR_INVALID_ARGUMENT,
                    "sws_session_consume_output: \(UInt(bitPattern: count)) bytes, but only \(box.session.pendingOutputCount) are pending")
    }
    box.session.consumeOutput(count)
    return SWS_OK
}

@_cdecl("sws_session_should_close_transport")
public func sws_session_should_close_transport(_ handle: OpaquePointer?) -> Bool {
    object(handle, as: SessionHandle.self)?.session.shouldCloseTransport ?? false
}

@_cdecl("sws_session_closes_transport_first")
public func sws_session_closes_transport_first(_ handle: OpaquePointer?) -> Bool {
    object(handle, as: SessionHandle.self)?.session.closesTransportFirst ?? false
}

@_cdecl("sws_session_get_state")
public func sws_session_get_state(_ handle: OpaquePointer?) -> sws_session_state {
    guard let box = object(handle, as: SessionHandle.self) else { return SWS_SESSION_CLOSED }
    return cState(box.session.state)
}

@_cdecl("sws_session_close_status")
public func sws_session_close_status(_ handle: OpaquePointer?, _ code: UnsafeMutablePointer<UInt16>?,
                                     _ reason: UnsafeMutablePointer<UnsafePointer<CChar>?>?,
                                     _ reasonLength: UnsafeMutablePointer<Int>?) -> sws_status {
    guard let box = sessionHandle(handle, "sws_session_close_status") else { return SWS_ERR_INVALID_ARGUMENT }
    guard let code else { return fail(SWS_ERR_INVALID_ARGUMENT, "sws_session_close_status: code is NULL") }
    guard let status = box.session.closeStatus, box.session.state == .closed else {
        code.pointee = 0
        reason?.pointee = nil
        reasonLength?.pointee = 0
        return SWS_OK
    }
    if box.closeReasonStorage == nil {
        let utf8 = Array(status.reason.utf8)
        let storage = UnsafeMutableBufferPointer<CChar>.allocate(capacity: utf8.count + 1)
        for (index, byte) in utf8.enumerated() { storage[index] = CChar(bitPattern: byte) }
        storage[utf8.count] = 0
        box.closeReasonStorage = storage
    }
    code.pointee = status.code.rawValue
    reason?.pointee = UnsafePointer(box.closeReasonStorage!.baseAddress)
    reasonLength?.pointee = box.closeReasonStorage!.count - 1
    return SWS_OK
}
