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
    /// Weak: a reconnector keeps this value for its lifetime and must not keep the loop's box.
    weak var loopBox: LoopHandle?
    let loop: EventLoop
    let url: String
    let options: ClientOptions
    let onRedirect: (@convention(c) (UnsafeMutableRawPointer?, Int32, UnsafePointer<CChar>?) -> Bool)?
    let log: LogSink?
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
            log = try readClientLog(config)
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
        self.loopBox = loopBox
        loop = loopBox.loop
        self.url = urlText
        context = HandlerContext(callbacks: callbacks, userData: userData)
        onConnectError = callbacks.on_connect_error
    }

    /// Calls on_connect_error (if set) for `error`; a refusal's `response` is readable during
    /// the call (sws_loop_connect_error_response).
    func reportConnectError(_ error: ClientError, response: HandshakeResponse?) {
        guard let onConnectError else { return }
        let (failure, httpStatus) = connectErrorStatus(error)
        let message = OwnedBytes(error.description)  // NUL-terminated for C
        if httpStatus != 0 || failure == SWS_ERR_HANDSHAKE, let response {
            loopBox?.connectErrorResponse = (OwnedBytes(response.head), OwnedBytes(response.body))
        }
        onConnectError(context.userData, failure, httpStatus, message.cString)
        loopBox?.connectErrorResponse = nil
    }
}

/// Both connects: the endpoints' connect, with its outcome mapped to the callbacks.
private func startClient(_ function: StaticString, _ loopHandle: OpaquePointer?, _ url: UnsafePointer<CChar>?, socket: Int32?,
                         _ config: UnsafePointer<sws_client_config>?, _ handlers: UnsafePointer<sws_conn_handlers>?,
                         _ userData: UnsafeMutableRawPointer?) -> sws_status {
    var status = SWS_OK
    guard let client = PreparedClient(function, loopHandle, url, config, handlers, userData, status: &status) else { return status }
    let context = client.context
    // The server's final answer, kept for the connection (sws_conn_handshake_response) or the
    // refusal (sws_loop_connect_error_response). The connect's closures share this box.
    final class ResponseHolder { var response: HandshakeResponse? }
    let holder = ResponseHolder()
    let onResponse: (HandshakeResponse) -> Void = { holder.response = $0 }
    let completion: (Result<WebSocketConnection, ClientError>) -> Void = { result in
        switch result {
        case .success(let connection):
            // Before on_open and any message: the connection gets its box and user data.
            context.box(for: connection).handshakeResponse = holder.response.map { OwnedBytes($0.head) }
        case .failure(let error):
            client.reportConnectError(error, response: holder.response)
        }
    }
    if let socket {
        WebSocketClient.connect(to: client.url, socket: socket, on: client.loop, options: client.options,
                                handlers: context.makeHandlers(), log: client.log, onResponse: onResponse,
                                completion: completion)
    } else {
        let shouldRedirect = client.onRedirect.map { hook in
            { (status: Int, target: WebSocketURL) -> Bool in
                let text = OwnedBytes(target.description)
                return hook(context.userData, Int32(status), text.cString)
            }
        }
        WebSocketClient.connect(to: client.url, on: client.loop, options: client.options, handlers: context.makeHandlers(),
                                log: client.log, onResponse: onResponse, shouldRedirect: shouldRedirect,
                                completion: completion)
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
        return fail(SWS_ERR_INVALID_ARGUMENT,
                    "sws_loop_connect_error_response: only during on_connect_error with SWS_ERR_HANDSHAKE")
    }
    head?.pointee = response.head.bytes
    headLength?.pointee = response.head.count
    body?.pointee = response.body.bytes
    bodyLength?.pointee = response.body.count
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
