// C API: client connections (header section "Clients"). Thin over SwiftWSNetworking.WebSocketClient.
import CSwiftWS
import SwiftWSCore
import SwiftWSNetworking

/// sizeof() of the first published sws_client_config; freeze as a literal before appending.
private let clientConfigFirstVersionSize = 144  // before `tls` was appended

@_cdecl("sws_client_config_init")
public func sws_client_config_init(_ config: UnsafeMutablePointer<sws_client_config>?) -> sws_status {
    guard let config else { return fail(SWS_ERR_INVALID_ARGUMENT, "sws_client_config_init: config is NULL") }
    let client = ClientOptions()
    var c = sws_client_config()
    c.size = MemoryLayout<sws_client_config>.stride
    c.connectionSettings = .defaults
    c.connect_timeout_ms = clampedMilliseconds(client.connectTimeout)
    c.handshake_timeout_ms = clampedMilliseconds(client.handshakeTimeout)
    config.pointee = c
    return SWS_OK
}

@_cdecl("sws_client_connect")
public func sws_client_connect(_ loopHandle: OpaquePointer?, _ url: UnsafePointer<CChar>?,
                               _ config: UnsafePointer<sws_client_config>?, _ handlers: UnsafePointer<sws_conn_handlers>?,
                               _ userData: UnsafeMutableRawPointer?) -> sws_status {
    let (found, loopStatus) = loopOnItsThread(loopHandle, "sws_client_connect")
    guard let loopBox = found else { return loopStatus }
    guard let urlText = string(fromCString: url) else { return fail(SWS_ERR_INVALID_ARGUMENT, "sws_client_connect: url is NULL or not UTF-8") }
    // Checked here, so that a bad URL is this call's error and no callback ever runs for it.
    guard let parsed = WebSocketURL(urlText) else {
        return fail(SWS_ERR_INVALID_ARGUMENT, "sws_client_connect: not a ws:// or wss:// URL: \(urlText)")
    }
    var c = sws_client_config()
    _ = sws_client_config_init(&c)
    if let config {
        let status = readSizedStruct(config, into: &c, firstVersionSize: clientConfigFirstVersionSize, name: "sws_client_config")
        guard status == SWS_OK else { return status }
    }
    var callbacks = sws_conn_handlers()
    let handlersStatus = readConnHandlers(handlers, into: &callbacks)
    guard handlersStatus == SWS_OK else { return handlersStatus }
    guard let connectionOptions = c.connectionSettings.options(role: .client, "sws_client_config") else { return SWS_ERR_INVALID_ARGUMENT }
    var origin: String? = nil
    if c.origin != nil {
        guard let text = string(fromCString: c.origin) else { return fail(SWS_ERR_INVALID_ARGUMENT, "sws_client_connect: origin is not UTF-8") }
        origin = text
    }
    guard let subprotocols = cStrings(c.subprotocols, c.subprotocol_count) else {
        return fail(SWS_ERR_INVALID_ARGUMENT, "sws_client_connect: subprotocols NULL with a count, or an entry NULL or not UTF-8")
    }
    guard let names = cStrings(c.header_names, c.header_count), let values = cStrings(c.header_values, c.header_count) else {
        return fail(SWS_ERR_INVALID_ARGUMENT, "sws_client_connect: header arrays NULL with a count, or an entry NULL or not UTF-8")
    }
    var compressionStatus = SWS_OK
    guard let compression = readCompressionConfig(c.compression, &compressionStatus) else { return compressionStatus }
    var tlsStatus = SWS_OK
    guard let tls = readTLSConfig(c.tls, "sws_client_connect", &tlsStatus) else { return tlsStatus }
    var options = ClientOptions()
    options.tls = tls ?? TLSConfiguration()
    if parsed.isSecure {
        // Read the files now, so that unusable settings are this call's error (the context is
        // cached for the connect itself).
        do throws(TLSError) {
            _ = try TLSContext.shared(client: options.tls)
        } catch {
            return fail(SWS_ERR_TLS, "sws_client_connect: \(error.message)")
        }
    }
    options.connection = connectionOptions
    options.connection.perMessageDeflate = compression
    options.origin = origin
    options.subprotocols = subprotocols
    for (name, value) in zip(names, values) { options.headers.append(name: name, value: value) }
    options.connectTimeout = milliseconds(c.connect_timeout_ms)
    options.handshakeTimeout = milliseconds(c.handshake_timeout_ms)
    // The request is built here once to check it, so that its errors are this call's.
    do {
        _ = try ClientHandshake(host: parsed.host, port: Int(parsed.port), secure: false, path: parsed.path,
                                query: parsed.query, origin: origin, subprotocols: subprotocols,
                                extensions: compression.isEnabled ? PerMessageDeflateNegotiation.clientOffers(configuration: compression) : [],
                                headers: options.headers)
    } catch {
        return fail(SWS_ERR_INVALID_ARGUMENT, "sws_client_connect: \(error.reason)")
    }

    let context = HandlerContext(callbacks: callbacks, userData: userData)
    let onConnectError = callbacks.on_connect_error
    WebSocketClient.connect(to: urlText, on: loopBox.loop, options: options, handlers: context.makeHandlers()) { result in
        switch result {
        case .success(let connection):
            // Before on_open and any message: the connection gets its box and user data.
            _ = context.box(for: connection)
        case .failure(let error):
            guard let onConnectError else { return }
            let (failure, httpStatus): (sws_status, Int32)
            switch error {
            case .invalidURL, .invalidRequest: (failure, httpStatus) = (SWS_ERR_INVALID_ARGUMENT, 0)
            case .connectFailed(let networkError): (failure, httpStatus) = (status(for: networkError), 0)
            case .unexpectedStatus(let code, _): (failure, httpStatus) = (SWS_ERR_HANDSHAKE, Int32(clamping: code))
            case .handshakeFailed, .closedDuringHandshake: (failure, httpStatus) = (SWS_ERR_HANDSHAKE, 0)
            case .handshakeTimedOut: (failure, httpStatus) = (SWS_ERR_TIMEOUT, 0)
            case .tlsFailed: (failure, httpStatus) = (SWS_ERR_TLS, 0)
            }
            let message = OwnedBytes(error.description)  // NUL-terminated for C
            onConnectError(context.userData, failure, httpStatus, message.cString)
        }
    }
    return SWS_OK
}
