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

/// A client connect's arguments, checked and translated (what every way of connecting shares).
struct PreparedClient {
    let loop: EventLoop
    let url: String
    let options: ClientOptions
    let onRedirect: (@convention(c) (UnsafeMutableRawPointer?, Int32, UnsafePointer<CChar>?) -> Bool)?
    let context: HandlerContext
    let onConnectError: (@convention(c) (UnsafeMutableRawPointer?, sws_status, Int32, UnsafePointer<CChar>?) -> Void)?

    /// Checks everything, so that errors are the calling function's and no callback ever runs
    /// for them; nil with the status recorded otherwise.
    init?(_ function: StaticString, _ loopHandle: OpaquePointer?, _ url: UnsafePointer<CChar>?,
          _ config: UnsafePointer<sws_client_config>?, _ handlers: UnsafePointer<sws_conn_handlers>?,
          _ userData: UnsafeMutableRawPointer?, status: inout sws_status) {
        let (found, loopStatus) = loopOnItsThread(loopHandle, function)
        guard let loopBox = found else { status = loopStatus; return nil }
        guard let urlText = string(fromCString: url) else {
            status = fail(SWS_ERR_INVALID_ARGUMENT, "\(function): url is NULL or not UTF-8")
            return nil
        }
        guard let parsed = WebSocketURL(urlText) else {
            status = fail(SWS_ERR_INVALID_ARGUMENT, "\(function): not a ws:// or wss:// URL: \(urlText)")
            return nil
        }
        do throws(CArgumentError) {
            (options, onRedirect) = try readClientConfig(config)
        } catch {
            status = error.status
            return nil
        }
        var callbacks = sws_conn_handlers()
        status = readConnHandlers(handlers, into: &callbacks)
        guard status == SWS_OK else { return nil }
        if parsed.isSecure {
            // Read the certificate files now, so that unusable settings are this call's error
            // (the context is cached for the connect itself).
            do throws(TLSError) {
                _ = try TLSContext.shared(client: options.tls)
            } catch {
                status = fail(SWS_ERR_TLS, "\(function): \(error.message)")
                return nil
            }
        }
        // The request is built here once to check it, so that its errors are this call's.
        do throws(HandshakeError) {
            _ = try WebSocketClient.makeHandshake(parsed, options: options)
        } catch {
            status = fail(SWS_ERR_INVALID_ARGUMENT, "\(function): \(error.reason)")
            return nil
        }
        loop = loopBox.loop
        self.url = urlText
        context = HandlerContext(callbacks: callbacks, userData: userData)
        onConnectError = callbacks.on_connect_error
    }

    /// Calls on_connect_error (if set) for `error`.
    func reportConnectError(_ error: ClientError) {
        guard let onConnectError else { return }
        let (failure, httpStatus) = connectErrorStatus(error)
        let message = OwnedBytes(error.description)  // NUL-terminated for C
        onConnectError(context.userData, failure, httpStatus, message.cString)
    }
}

/// Both connects: the endpoints' connect, with its outcome mapped to the callbacks.
private func startClient(_ function: StaticString, _ loopHandle: OpaquePointer?, _ url: UnsafePointer<CChar>?, socket: Int32?,
                         _ config: UnsafePointer<sws_client_config>?, _ handlers: UnsafePointer<sws_conn_handlers>?,
                         _ userData: UnsafeMutableRawPointer?) -> sws_status {
    var status = SWS_OK
    guard let client = PreparedClient(function, loopHandle, url, config, handlers, userData, status: &status) else { return status }
    let context = client.context
    let completion: (Result<WebSocketConnection, ClientError>) -> Void = { result in
        switch result {
        case .success(let connection):
            // Before on_open and any message: the connection gets its box and user data.
            _ = context.box(for: connection)
        case .failure(let error):
            client.reportConnectError(error)
        }
    }
    if let socket {
        WebSocketClient.connect(to: client.url, socket: socket, on: client.loop, options: client.options,
                                handlers: context.makeHandlers(), completion: completion)
    } else {
        let shouldRedirect = client.onRedirect.map { hook in
            { (status: Int, target: WebSocketURL) -> Bool in
                let text = OwnedBytes(target.description)
                return hook(context.userData, Int32(status), text.cString)
            }
        }
        WebSocketClient.connect(to: client.url, on: client.loop, options: client.options, handlers: context.makeHandlers(),
                                shouldRedirect: shouldRedirect, completion: completion)
    }
    return SWS_OK
}

/// The status and HTTP status on_connect_error reports for `error`: mapped once, here.
func connectErrorStatus(_ error: ClientError) -> (sws_status, Int32) {
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
