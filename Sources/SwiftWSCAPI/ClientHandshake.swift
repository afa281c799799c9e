// C API: the client half of the opening handshake (header section "Opening handshake helpers").
// Thin: request writing and response validation are SwiftWSCore.ClientHandshake's.
import CSwiftWS
import SwiftWSCore

/// sizeof() of the first published sws_client_handshake_config; freeze as a literal before
/// appending a field.
private let clientHandshakeConfigFirstVersionSize = MemoryLayout<sws_client_handshake_config>.stride

/// What a `sws_client_handshake_t *` points to.
final class ClientHandshakeHandle: NegotiatedHandshakeHandle {
    static var role: Role { .client }
    var isReadyForSession: Bool { isComplete }
    var handshake: ClientHandshake
    let request: OwnedBytes
    var subprotocol: OwnedBytes? = nil
    var isComplete = false
    var failed = false
    let compression: PerMessageDeflateConfiguration
    /// The permessage-deflate parameters the server accepted, if any.
    var agreedCompression: PerMessageDeflateParameters? = nil
    var hasMadeSession = false

    init(handshake: ClientHandshake, compression: PerMessageDeflateConfiguration) {
        self.handshake = handshake
        self.compression = compression
        request = OwnedBytes(handshake.requestBytes)
    }
}

@_cdecl("sws_client_handshake_config_init")
public func sws_client_handshake_config_init(_ config: UnsafeMutablePointer<sws_client_handshake_config>?) -> sws_status {
    guard let config else { return fail(SWS_ERR_INVALID_ARGUMENT, "sws_client_handshake_config_init: config is NULL") }
    config.pointee = sws_client_handshake_config()
    config.pointee.size = MemoryLayout<sws_client_handshake_config>.stride
    return SWS_OK
}

@_cdecl("sws_client_handshake_new")
public func sws_client_handshake_new(_ config: UnsafePointer<sws_client_handshake_config>?,
                                     _ out: UnsafeMutablePointer<OpaquePointer?>?) -> sws_status {
    guard let out else { return fail(SWS_ERR_INVALID_ARGUMENT, "sws_client_handshake_new: out is NULL") }
    out.pointee = nil
    guard let config else { return fail(SWS_ERR_INVALID_ARGUMENT, "sws_client_handshake_new: config is NULL") }
    var c = sws_client_handshake_config()
    _ = sws_client_handshake_config_init(&c)
    let status = readSizedStruct(config, into: &c, firstVersionSize: clientHandshakeConfigFirstVersionSize,
                                 name: "sws_client_handshake_config")
    guard status == SWS_OK else { return status }

    guard let host = string(fromCString: c.host) else {
        return fail(SWS_ERR_INVALID_ARGUMENT, "sws_client_handshake_new: host is NULL or not UTF-8")
    }
    var path = "/"
    var query: String? = nil
    if c.path != nil {
        guard let target = string(fromCString: c.path) else {
            return fail(SWS_ERR_INVALID_ARGUMENT, "sws_client_handshake_new: path is not UTF-8")
        }
        if let mark = target.utf8.firstIndex(of: UInt8(ascii: "?")) {
            path = String(target[..<mark])
            query = String(target[target.index(after: mark)...])
        } else {
            path = target
        }
    }
    var origin: String? = nil
    if c.origin != nil {
        guard let text = string(fromCString: c.origin) else {
            return fail(SWS_ERR_INVALID_ARGUMENT, "sws_client_handshake_new: origin is not UTF-8")
        }
        origin = text
    }
    guard let subprotocols = cStrings(c.subprotocols, c.subprotocol_count) else {
        return fail(SWS_ERR_INVALID_ARGUMENT, "sws_client_handshake_new: subprotocols NULL with a count, or one is NULL or not UTF-8")
    }
    guard let names = cStrings(c.header_names, c.header_count), let values = cStrings(c.header_values, c.header_count) else {
        return fail(SWS_ERR_INVALID_ARGUMENT, "sws_client_handshake_new: header arrays NULL with a count, or an entry NULL or not UTF-8")
    }
    var headers = HTTPHeaders()
    for (name, value) in zip(names, values) { headers.append(name: name, value: value) }
    var compressionStatus = SWS_OK
    guard let compression = readCompressionConfig(c.compression, &compressionStatus) else { return compressionStatus }
    let offers = compression.isEnabled ? PerMessageDeflateNegotiation.clientOffers(configuration: compression) : []
    do {
        let handshake = try ClientHandshake(host: host, port: c.port == 0 ? nil : Int(c.port), secure: c.secure,
                                            path: path, query: query, origin: origin, subprotocols: subprotocols,
                                            extensions: offers, headers: headers)
        out.pointee = makeHandle(ClientHandshakeHandle(handshake: handshake, compression: compression))
        return SWS_OK
    } catch {
        return fail(SWS_ERR_INVALID_ARGUMENT, "sws_client_handshake_new: \(error.reason)")
    }
}

@_cdecl("sws_client_handshake_free")
public func sws_client_handshake_free(_ handle: OpaquePointer?) -> sws_status {
    guard let handle, releaseHandle(handle, as: ClientHandshakeHandle.self) else {
        return fail(SWS_ERR_INVALID_ARGUMENT, "sws_client_handshake_free: NULL or not a live handshake (freed twice?)")
    }
    return SWS_OK
}

@_cdecl("sws_client_handshake_request")
public func sws_client_handshake_request(_ handle: OpaquePointer?, _ data: UnsafeMutablePointer<UnsafePointer<UInt8>?>?,
                                         _ length: UnsafeMutablePointer<Int>?) -> sws_status {
    guard let box = object(handle, as: ClientHandshakeHandle.self), let data, let length else {
        return fail(SWS_ERR_INVALID_ARGUMENT, "sws_client_handshake_request: handshake, data or len is NULL")
    }
    data.pointee = box.request.bytes
    length.pointee = box.request.count
    return SWS_OK
}

@_cdecl("sws_client_handshake_feed")
public func sws_client_handshake_feed(_ handle: OpaquePointer?, _ data: UnsafeRawPointer?, _ length: Int,
                                      _ consumed: UnsafeMutablePointer<Int>?,
                                      _ complete: UnsafeMutablePointer<Bool>?) -> sws_status {
    guard let box = object(handle, as: ClientHandshakeHandle.self), let consumed, let complete else {
        return fail(SWS_ERR_INVALID_ARGUMENT, "sws_client_handshake_feed: handshake, consumed or complete is NULL")
    }
    guard let bytes = cBuffer(data, length) else {
        return fail(SWS_ERR_INVALID_ARGUMENT, "sws_client_handshake_feed: data is NULL")
    }
    guard !box.isComplete, !box.failed else {
        return fail(SWS_ERR_INVALID_ARGUMENT, "sws_client_handshake_feed: the handshake is already complete or failed")
    }
    consumed.pointee = 0
    complete.pointee = false
    do {
        switch try box.handshake.receive(bytes) {
        case .needMoreBytes:
            consumed.pointee = length
        case .complete(let answer, let used):
            // RFC 7692 section 7.1: a response we cannot accept fails the connection.
            box.agreedCompression = try answer.perMessageDeflateParameters(offeredWith: box.compression)
            box.isComplete = true
            box.subprotocol = answer.subprotocol.map { OwnedBytes($0) }
            consumed.pointee = used
            complete.pointee = true
        }
        return SWS_OK
    } catch {
        box.failed = true
        return fail(SWS_ERR_HANDSHAKE, error.description)
    }
}

@_cdecl("sws_client_handshake_http_status")
public func sws_client_handshake_http_status(_ handle: OpaquePointer?) -> Int32 {
    guard let status = object(handle, as: ClientHandshakeHandle.self)?.handshake.response?.status else { return 0 }
    return Int32(clamping: status)
}

@_cdecl("sws_client_handshake_subprotocol")
public func sws_client_handshake_subprotocol(_ handle: OpaquePointer?,
                                             _ name: UnsafeMutablePointer<UnsafePointer<CChar>?>?,
                                             _ nameLength: UnsafeMutablePointer<Int>?) -> sws_status {
    guard let box = object(handle, as: ClientHandshakeHandle.self), let name, let nameLength else {
        return fail(SWS_ERR_INVALID_ARGUMENT, "sws_client_handshake_subprotocol: handshake, name or name_len is NULL")
    }
    guard box.isComplete else {
        return fail(SWS_ERR_INVALID_ARGUMENT, "sws_client_handshake_subprotocol: the handshake is not complete")
    }
    store(box.subprotocol, name, nameLength)
    return SWS_OK
}

@_cdecl("sws_client_handshake_compression")
public func sws_client_handshake_compression(_ handle: OpaquePointer?) -> Bool {
    object(handle, as: ClientHandshakeHandle.self)?.agreedCompression != nil
}

@_cdecl("sws_client_handshake_new_session")
public func sws_client_handshake_new_session(_ handle: OpaquePointer?, _ config: UnsafePointer<sws_session_config>?,
                                             _ callbacks: UnsafePointer<sws_session_callbacks>?,
                                             _ userData: UnsafeMutableRawPointer?,
                                             _ out: UnsafeMutablePointer<OpaquePointer?>?) -> sws_status {
    makeSession(from: handle, as: ClientHandshakeHandle.self, function: "sws_client_handshake_new_session",
                readiness: "not complete", config, callbacks, userData, out)
}
