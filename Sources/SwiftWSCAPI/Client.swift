// C API: client connections (header section "Clients"). Thin over SwiftWSEndpoints.WebSocketClient.
import Glibc
import CSwiftWS
import SwiftWSCore
import SwiftWSEndpoints

@_cdecl("sws_client_connect")
public func sws_client_connect(_ loopHandle: OpaquePointer?, _ url: UnsafePointer<CChar>?,
                               _ config: UnsafePointer<sws_client_config>?, _ handlers: UnsafePointer<sws_conn_handlers>?,
                               _ userData: UnsafeMutableRawPointer?) -> sws_status {
    startClient("sws_client_connect", loopHandle, url, socket: nil, config, handlers, userData)
}

@_cdecl("sws_client_connect_socket")
public func sws_client_connect_socket(_ loopHandle: OpaquePointer?, _ url: UnsafePointer<CChar>?, _ fd: Int32,
                                      _ config: UnsafePointer<sws_client_config>?, _ handlers: UnsafePointer<sws_conn_handlers>?,
                                      _ userData: UnsafeMutableRawPointer?) -> sws_status {
    guard fd >= 0 else { return fail(SWS_ERR_INVALID_ARGUMENT, "sws_client_connect_socket: fd is negative") }
    // Refused now, while the caller still owns it, rather than through on_connect_error.
    do throws(NetworkError) {
        try EventLoop.checkConnectedStreamSocket(fd)
    } catch {
        return fail(SWS_ERR_INVALID_ARGUMENT, "sws_client_connect_socket: \(error)")
    }
    return startClient("sws_client_connect_socket", loopHandle, url, socket: fd, config, handlers, userData)
}

/// Both connects: every argument checked here, so that errors are this call's and no callback
/// ever runs for them; then the endpoints' connect, with its outcome mapped to the callbacks.
private func startClient(_ function: StaticString, _ loopHandle: OpaquePointer?, _ url: UnsafePointer<CChar>?, socket: Int32?,
                         _ config: UnsafePointer<sws_client_config>?, _ handlers: UnsafePointer<sws_conn_handlers>?,
                         _ userData: UnsafeMutableRawPointer?) -> sws_status {
    let (found, loopStatus) = loopOnItsThread(loopHandle, function)
    guard let loopBox = found else { return loopStatus }
    guard let urlText = string(fromCString: url) else { return fail(SWS_ERR_INVALID_ARGUMENT, "\(function): url is NULL or not UTF-8") }
    guard let parsed = WebSocketURL(urlText) else {
        return fail(SWS_ERR_INVALID_ARGUMENT, "\(function): not a ws:// or wss:// URL: \(urlText)")
    }
    let options: ClientOptions
    let onRedirect: (@convention(c) (UnsafeMutableRawPointer?, Int32, UnsafePointer<CChar>?) -> Bool)?
    do throws(CArgumentError) {
        (options, onRedirect) = try readClientConfig(config)
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
            return fail(SWS_ERR_TLS, "\(function): \(error.message)")
        }
    }
    // The request is built here once to check it, so that its errors are this call's.
    do throws(HandshakeError) {
        _ = try WebSocketClient.makeHandshake(parsed, options: options)
    } catch {
        return fail(SWS_ERR_INVALID_ARGUMENT, "\(function): \(error.reason)")
    }

    let context = HandlerContext(callbacks: callbacks, userData: userData)
    let onConnectError = callbacks.on_connect_error
    let completion: (Result<WebSocketConnection, ClientError>) -> Void = { result in
        switch result {
        case .success(let connection):
            // Before on_open and any message: the connection gets its box and user data.
            _ = context.box(for: connection)
        case .failure(let error):
            guard let onConnectError else { return }
            let (failure, httpStatus) = connectErrorStatus(error)
            let message = OwnedBytes(error.description)  // NUL-terminated for C
            onConnectError(context.userData, failure, httpStatus, message.cString)
        }
    }
    if let socket {
        WebSocketClient.connect(to: urlText, socket: socket, on: loopBox.loop, options: options,
                                handlers: context.makeHandlers(), completion: completion)
    } else {
        let shouldRedirect = onRedirect.map { hook in
            { (status: Int, target: WebSocketURL) -> Bool in
                let text = OwnedBytes(target.description)
                return hook(context.userData, Int32(status), text.cString)
            }
        }
        WebSocketClient.connect(to: urlText, on: loopBox.loop, options: options, handlers: context.makeHandlers(),
                                shouldRedirect: shouldRedirect, completion: completion)
    }
    return SWS_OK
}

/// The status and HTTP status on_connect_error reports for `error`: mapped once, here.
private func connectErrorStatus(_ error: ClientError) -> (sws_status, Int32) {
    switch error {
    case .invalidURL, .invalidRequest: return (SWS_ERR_INVALID_ARGUMENT, 0)
    case .connectFailed(let networkError): return (status(for: networkError), 0)
    case .unexpectedStatus(let code, _): return (SWS_ERR_HANDSHAKE, Int32(clamping: code))
    case .handshakeFailed, .closedDuringHandshake: return (SWS_ERR_HANDSHAKE, 0)
    case .handshakeTimedOut: return (SWS_ERR_TIMEOUT, 0)
    case .tlsFailed: return (SWS_ERR_TLS, 0)
    case .proxyFailed(let proxyError): return (SWS_ERR_PROXY, Int32(clamping: proxyError.httpStatus ?? 0))
    case .redirectFailed(let code, _): return (SWS_ERR_HANDSHAKE, Int32(clamping: code))
    }
}
