// C API: the server half of the opening handshake (header section "Opening handshake helpers").
// Thin: parsing, validation and response writing are SwiftWSCore.ServerHandshake's.
import CSwiftWS
import SwiftWSCore

/// What a `sws_server_handshake_t *` points to.
final class ServerHandshakeHandle: NegotiatedHandshakeHandle {
    static var role: Role { .server }
    var isReadyForSession: Bool { isAccepted }
    var handshake = ServerHandshake()
    let compression: PerMessageDeflateConfiguration
    /// The permessage-deflate parameters agreed by accept, if any.
    var agreedCompression: PerMessageDeflateParameters? = nil
    var isAccepted = false
    var hasMadeSession = false
    /// Set once the request was read and validated.
    var request: UpgradeRequest? = nil
    /// The request's strings as C strings, made once at completion.
    var target: OwnedBytes? = nil
    var path: OwnedBytes? = nil
    var headerValues: [(name: String, value: OwnedBytes)] = []
    var subprotocols: [OwnedBytes] = []
    /// The response to write: 101, a rejection, or the answer to a malformed request.
    var response: OwnedBytes? = nil
    /// A feed failed: no more input.
    var failed = false

    init(compression: PerMessageDeflateConfiguration) {
        self.compression = compression
    }
}

@_cdecl("sws_server_handshake_new")
public func sws_server_handshake_new(_ compression: UnsafePointer<sws_compression_config>?,
                                     _ out: UnsafeMutablePointer<OpaquePointer?>?) -> sws_status {
    guard let out else { return fail(SWS_ERR_INVALID_ARGUMENT, "sws_server_handshake_new: out is NULL") }
    out.pointee = nil
    var status = SWS_OK
    guard let configuration = readCompressionConfig(compression, &status) else { return status }
    out.pointee = makeHandle(ServerHandshakeHandle(compression: configuration))
    return SWS_OK
}

@_cdecl("sws_server_handshake_free")
public func sws_server_handshake_free(_ handle: OpaquePointer?) -> sws_status {
    guard let handle, releaseHandle(handle, as: ServerHandshakeHandle.self) else {
        return fail(SWS_ERR_INVALID_ARGUMENT, "sws_server_handshake_free: NULL or not a live handshake (freed twice?)")
    }
    return SWS_OK
}

@_cdecl("sws_server_handshake_feed")
public func sws_server_handshake_feed(_ handle: OpaquePointer?, _ data: UnsafeRawPointer?, _ length: Int,
                                      _ consumed: UnsafeMutablePointer<Int>?,
                                      _ complete: UnsafeMutablePointer<Bool>?) -> sws_status {
    guard let box = object(handle, as: ServerHandshakeHandle.self), let consumed, let complete else {
        return fail(SWS_ERR_INVALID_ARGUMENT, "sws_server_handshake_feed: handshake, consumed or complete is NULL")
    }
    guard let bytes = cBuffer(data, length) else {
        return fail(SWS_ERR_INVALID_ARGUMENT, "sws_server_handshake_feed: data is NULL")
    }
    guard box.request == nil, !box.failed else {
        return fail(SWS_ERR_INVALID_ARGUMENT, "sws_server_handshake_feed: the handshake is already complete or failed")
    }
    consumed.pointee = 0
    complete.pointee = false
    do {
        switch try box.handshake.receive(bytes) {
        case .needMoreBytes:
            consumed.pointee = length
        case .complete(let request, let used):
            box.request = request
            box.target = OwnedBytes(request.head.target)
            box.path = OwnedBytes(request.path)
            box.headerValues = request.headers.map { (name: $0.name, value: OwnedBytes($0.value)) }
            box.subprotocols = request.subprotocols.map { OwnedBytes($0) }
            consumed.pointee = used
            complete.pointee = true
        }
        return SWS_OK
    } catch {
        box.failed = true
        box.response = OwnedBytes(error.responseBytes())
        return fail(SWS_ERR_HANDSHAKE, error.description)
    }
}

/// The handshake behind `handle` if its request is complete, else nil after recording the error.
private func completedHandshake(_ handle: OpaquePointer?, _ function: StaticString) -> ServerHandshakeHandle? {
    guard let box = object(handle, as: ServerHandshakeHandle.self) else {
        setLastError("\(function): handshake is NULL")
        return nil
    }
    guard box.request != nil else {
        setLastError("\(function): the request is not complete")
        return nil
    }
    return box
}

@_cdecl("sws_server_handshake_target")
public func sws_server_handshake_target(_ handle: OpaquePointer?,
                                        _ target: UnsafeMutablePointer<UnsafePointer<CChar>?>?,
                                        _ targetLength: UnsafeMutablePointer<Int>?,
                                        _ path: UnsafeMutablePointer<UnsafePointer<CChar>?>?,
                                        _ pathLength: UnsafeMutablePointer<Int>?) -> sws_status {
    guard let box = completedHandshake(handle, "sws_server_handshake_target") else { return SWS_ERR_INVALID_ARGUMENT }
    store(box.target, target, targetLength)
    store(box.path, path, pathLength)
    return SWS_OK
}

@_cdecl("sws_server_handshake_header")
public func sws_server_handshake_header(_ handle: OpaquePointer?, _ name: UnsafePointer<CChar>?,
                                        _ value: UnsafeMutablePointer<UnsafePointer<CChar>?>?,
                                        _ valueLength: UnsafeMutablePointer<Int>?) -> sws_status {
    guard let box = completedHandshake(handle, "sws_server_handshake_header") else { return SWS_ERR_INVALID_ARGUMENT }
    guard let value, let valueLength, let name = string(fromCString: name) else {
        return fail(SWS_ERR_INVALID_ARGUMENT, "sws_server_handshake_header: name, value or value_len is NULL (or name is not UTF-8)")
    }
    let found = box.headerValues.first { HTTPHeaders.namesMatch($0.name, name) }
    store(found?.value, value, valueLength)
    return SWS_OK
}

@_cdecl("sws_server_handshake_subprotocol_count")
public func sws_server_handshake_subprotocol_count(_ handle: OpaquePointer?) -> Int {
    object(handle, as: ServerHandshakeHandle.self)?.subprotocols.count ?? 0
}

@_cdecl("sws_server_handshake_subprotocol")
public func sws_server_handshake_subprotocol(_ handle: OpaquePointer?, _ index: Int,
                                            _ name: UnsafeMutablePointer<UnsafePointer<CChar>?>?,
                                            _ nameLength: UnsafeMutablePointer<Int>?) -> sws_status {
    guard let box = completedHandshake(handle, "sws_server_handshake_subprotocol") else { return SWS_ERR_INVALID_ARGUMENT }
    guard let name, let nameLength else {
        return fail(SWS_ERR_INVALID_ARGUMENT, "sws_server_handshake_subprotocol: name or name_len is NULL")
    }
    // size_t values above Int.max arrive as negative Ints.
    guard box.subprotocols.indices.contains(index) else {
        return fail(SWS_ERR_INVALID_ARGUMENT,
                    "sws_server_handshake_subprotocol: index \(UInt(bitPattern: index)) but \(box.subprotocols.count) offered")
    }
    store(box.subprotocols[index], name, nameLength)
    return SWS_OK
}

@_cdecl("sws_server_handshake_accept")
public func sws_server_handshake_accept(_ handle: OpaquePointer?, _ subprotocol: UnsafePointer<CChar>?) -> sws_status {
    guard let box = completedHandshake(handle, "sws_server_handshake_accept"), let request = box.request else {
        return SWS_ERR_INVALID_ARGUMENT
    }
    guard box.response == nil else {
        return fail(SWS_ERR_INVALID_ARGUMENT, "sws_server_handshake_accept: a response was already made")
    }
    var chosen: String? = nil
    if let subprotocol {
        guard let text = String(validatingCString: subprotocol) else {
            return fail(SWS_ERR_INVALID_ARGUMENT, "sws_server_handshake_accept: subprotocol is not UTF-8")
        }
        chosen = text
    }
    do {
        // The upgrade policy is the core's (subprotocol offered, deflate negotiated, 101).
        let answer = try request.accept(subprotocol: chosen, deflate: box.compression)
        box.response = OwnedBytes(answer.response)
        box.agreedCompression = answer.deflate?.parameters
        box.isAccepted = true
        return SWS_OK
    } catch {
        return fail(SWS_ERR_INVALID_ARGUMENT, "sws_server_handshake_accept: \(error.reason)")
    }
}

@_cdecl("sws_server_handshake_reject")
public func sws_server_handshake_reject(_ handle: OpaquePointer?, _ status: Int32, _ body: UnsafePointer<CChar>?,
                                        _ bodyLength: Int) -> sws_status {
    guard let box = completedHandshake(handle, "sws_server_handshake_reject") else { return SWS_ERR_INVALID_ARGUMENT }
    guard box.response == nil else {
        return fail(SWS_ERR_INVALID_ARGUMENT, "sws_server_handshake_reject: a response was already made")
    }
    guard let bytes = cBuffer(body, bodyLength) else {
        return fail(SWS_ERR_INVALID_ARGUMENT, "sws_server_handshake_reject: body is NULL")
    }
    do {
        box.response = OwnedBytes(try HTTPResponseWriter.response(status: Int(status), body: Array(bytes)))
        return SWS_OK
    } catch {
        return fail(SWS_ERR_INVALID_ARGUMENT, "sws_server_handshake_reject: \(error.reason)")
    }
}

@_cdecl("sws_server_handshake_response")
public func sws_server_handshake_response(_ handle: OpaquePointer?, _ data: UnsafeMutablePointer<UnsafePointer<UInt8>?>?,
                                          _ length: UnsafeMutablePointer<Int>?) -> sws_status {
    guard let box = object(handle, as: ServerHandshakeHandle.self), let data, let length else {
        return fail(SWS_ERR_INVALID_ARGUMENT, "sws_server_handshake_response: handshake, data or len is NULL")
    }
    guard let response = box.response else {
        return fail(SWS_ERR_INVALID_ARGUMENT, "sws_server_handshake_response: no response made yet (accept or reject first)")
    }
    data.pointee = response.bytes
    length.pointee = response.count
    return SWS_OK
}

@_cdecl("sws_server_handshake_compression")
public func sws_server_handshake_compression(_ handle: OpaquePointer?) -> Bool {
    object(handle, as: ServerHandshakeHandle.self)?.agreedCompression != nil
}

@_cdecl("sws_server_handshake_new_session")
public func sws_server_handshake_new_session(_ handle: OpaquePointer?, _ config: UnsafePointer<sws_session_config>?,
                                             _ callbacks: UnsafePointer<sws_session_callbacks>?,
                                             _ userData: UnsafeMutableRawPointer?,
                                             _ out: UnsafeMutablePointer<OpaquePointer?>?) -> sws_status {
    makeSession(from: handle, as: ServerHandshakeHandle.self, function: "sws_server_handshake_new_session",
                readiness: "not accepted", config, callbacks, userData, out)
}
