// C API: client connections (header section "Clients"). Thin over SwiftWSEndpoints.WebSocketClient.
import CSwiftWS
import SwiftWSCore
import SwiftWSEndpoints

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
    let options: ClientOptions
    let log: LogSink?
    do throws(CArgumentError) {
        options = try readClientConfig(config)
        log = try readClientLog(config)
    } catch {
        return error.status
    }
    var callbacks = sws_conn_handlers()
    let handlersStatus = readConnHandlers(handlers, into: &callbacks)
    guard handlersStatus == SWS_OK else { return handlersStatus }
    if parsed.isSecure {
        // Read the certificate files now, so that unusable settings are this call's error (the
        // context is cached for the connect itself).
        do throws(TLSError) {
            _ = try TLSContext.shared(client: options.tls)
        } catch {
            return fail(SWS_ERR_TLS, "sws_client_connect: \(error.message)")
        }
    }
    // The request is built here once to check it, so that its errors are this call's.
    do throws(HandshakeError) {
        _ = try WebSocketClient.makeHandshake(parsed, options: options)
    } catch {
        return fail(SWS_ERR_INVALID_ARGUMENT, "sws_client_connect: \(error.reason)")
    }

    let context = HandlerContext(callbacks: callbacks, userData: userData)
    let onConnectError = callbacks.on_connect_error
    var response: HandshakeResponse?
    WebSocketClient.connect(to: urlText, on: loopBox.loop, options: options, handlers: context.makeHandlers(), log: log,
                            onResponse: { response = $0 }) { [loopBox] result in
        switch result {
        case .success(let connection):
            // Before on_open and any message: the connection gets its box and user data.
            context.box(for: connection).handshakeResponse = response.map { OwnedBytes($0.head) }
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
            if case .unexpectedStatus = error, let response {
                loopBox.connectErrorResponse = (OwnedBytes(response.head), OwnedBytes(response.body))
            }
            onConnectError(context.userData, failure, httpStatus, message.cString)
            loopBox.connectErrorResponse = nil
        }
    }
    return SWS_OK
}

@_cdecl("sws_loop_connect_error_response")
public func sws_loop_connect_error_response(_ loopHandle: OpaquePointer?, _ head: UnsafeMutablePointer<UnsafePointer<UInt8>?>?,
                                            _ headLength: UnsafeMutablePointer<Int>?, _ body: UnsafeMutablePointer<UnsafePointer<UInt8>?>?,
                                            _ bodyLength: UnsafeMutablePointer<Int>?) -> sws_status {
    let (found, status) = loopOnItsThread(loopHandle, "sws_loop_connect_error_response")
    guard let loopBox = found else { return status }
    guard let response = loopBox.connectErrorResponse else {
        return fail(SWS_ERR_INVALID_ARGUMENT, "sws_loop_connect_error_response: only during on_connect_error for a refusal")
    }
    head?.pointee = response.head.bytes
    headLength?.pointee = response.head.count
    body?.pointee = response.body.bytes
    bodyLength?.pointee = response.body.count
    return SWS_OK
}
