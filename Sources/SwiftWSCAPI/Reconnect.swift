// C API: reconnecting clients (header section "Reconnecting clients"). Thin over
// SwiftWSEndpoints.ReconnectingClient and ReconnectPolicy, which own the schedule and the rule.
import CSwiftWS
import SwiftWSCore
import SwiftWSEndpoints

/// sizeof() of the first published sws_reconnect_config; freeze as a literal before appending a field.
private let reconnectConfigFirstVersionSize = MemoryLayout<sws_reconnect_config>.stride

extension sws_reconnect_config {
    init(_ policy: ReconnectPolicy) {
        self.init()
        size = MemoryLayout<sws_reconnect_config>.stride
        initial_delay_ms = cMilliseconds(policy.initialDelay)
        min_delay_ms = cMilliseconds(policy.minDelay)
        max_delay_ms = cMilliseconds(policy.maxDelay)
        factor = policy.factor
        max_failures = UInt32(clamping: policy.maxFailures ?? 0)
    }
}

/// The policy a C struct asks for (NULL: the defaults), checked, and its callbacks.
private func readReconnectConfig(_ pointer: UnsafePointer<sws_reconnect_config>?, _ function: StaticString)
    -> Result<(ReconnectPolicy, sws_reconnect_config), CArgumentError> {
    var c = sws_reconnect_config(ReconnectPolicy())
    if let pointer {
        let status = readSizedStruct(pointer, into: &c, firstVersionSize: reconnectConfigFirstVersionSize,
                                     name: "sws_reconnect_config")
        guard status == SWS_OK else { return .failure(CArgumentError(status: status)) }
    }
    guard c.factor.isFinite, c.factor >= 1 else {
        return .failure(CArgumentError("\(function): sws_reconnect_config.factor must be a finite number >= 1"))
    }
    guard c.max_delay_ms >= c.min_delay_ms else {
        return .failure(CArgumentError("\(function): sws_reconnect_config.max_delay_ms is below min_delay_ms"))
    }
    let policy = ReconnectPolicy(initialDelay: duration(milliseconds: c.initial_delay_ms),
                                 minDelay: duration(milliseconds: c.min_delay_ms),
                                 maxDelay: duration(milliseconds: c.max_delay_ms), factor: c.factor,
                                 maxFailures: c.max_failures == 0 ? nil : Int(c.max_failures))
    return .success((policy, c))
}

@_cdecl("sws_reconnect_config_init")
public func sws_reconnect_config_init(_ config: UnsafeMutablePointer<sws_reconnect_config>?) -> sws_status {
    guard let config else { return fail(SWS_ERR_INVALID_ARGUMENT, "sws_reconnect_config_init: config is NULL") }
    config.pointee = sws_reconnect_config(ReconnectPolicy())
    return SWS_OK
}

@_cdecl("sws_reconnect_delay_ms")
public func sws_reconnect_delay_ms(_ config: UnsafePointer<sws_reconnect_config>?, _ failures: UInt32, _ random: Double) -> UInt32 {
    guard case .success(let (policy, _)) = readReconnectConfig(config, "sws_reconnect_delay_ms") else { return 0 }
    return cMilliseconds(policy.delay(afterFailures: Int(failures), random: random.isFinite ? random : 0))
}

/// What a `sws_reconnector_t *` points to.
final class ReconnectorBox {
    let client: ReconnectingClient

    init(client: ReconnectingClient) {
        self.client = client
    }
}

@_cdecl("sws_reconnector_new")
public func sws_reconnector_new(_ loopHandle: OpaquePointer?, _ url: UnsafePointer<CChar>?,
                                _ config: UnsafePointer<sws_client_config>?, _ policyConfig: UnsafePointer<sws_reconnect_config>?,
                                _ handlers: UnsafePointer<sws_conn_handlers>?, _ userData: UnsafeMutableRawPointer?,
                                _ out: UnsafeMutablePointer<OpaquePointer?>?) -> sws_status {
    guard let out else { return fail(SWS_ERR_INVALID_ARGUMENT, "sws_reconnector_new: out is NULL") }
    out.pointee = nil
    guard handlers != nil else { return fail(SWS_ERR_INVALID_ARGUMENT, "sws_reconnector_new: handlers is NULL") }
    var status = SWS_OK
    guard let prepared = PreparedClient("sws_reconnector_new", loopHandle, url, config, handlers, userData, status: &status) else {
        return status
    }
    let policy: ReconnectPolicy
    let c: sws_reconnect_config
    switch readReconnectConfig(policyConfig, "sws_reconnector_new") {
    case .failure(let error): return error.status
    case .success(let read): (policy, c) = read
    }
    let context = prepared.context
    let client = ReconnectingClient(url: prepared.url, on: prepared.loop, options: prepared.options, policy: policy,
                                    handlers: context.makeHandlers())
    if let hook = prepared.onRedirect {
        client.shouldRedirect = { status, target in
            let text = OwnedBytes(target.description)
            return hook(context.userData, Int32(status), text.cString)
        }
    }
    if let shouldRetry = c.should_retry {
        client.shouldRetry = { error in
            let (failure, httpStatus) = connectErrorStatus(error)
            return shouldRetry(context.userData, failure, httpStatus)
        }
    }
    if let onRetry = c.on_retry {
        client.onRetry = { failures, delay, error in
            let (failure, httpStatus) = connectErrorStatus(error)
            let message = OwnedBytes(error.description)
            onRetry(context.userData, UInt32(clamping: failures), cMilliseconds(delay), failure, httpStatus, message.cString)
        }
    }
    client.onGiveUp = { error in prepared.reportConnectError(error, response: nil) }
    client.start()
    out.pointee = makeHandle(ReconnectorBox(client: client))
    return SWS_OK
}

@_cdecl("sws_reconnector_free")
public func sws_reconnector_free(_ handle: OpaquePointer?) -> sws_status {
    // Liveness first: a second free must not touch the released box.
    guard let handle, liveHandles.contains(UnsafeRawPointer(handle)), let box = object(handle, as: ReconnectorBox.self) else {
        return fail(SWS_ERR_INVALID_ARGUMENT, "sws_reconnector_free: NULL or not a live reconnector (freed twice?)")
    }
    let status = checkLoopThread(box.client.loop, "sws_reconnector_free")
    guard status == SWS_OK else { return status }
    box.client.stop()
    _ = releaseHandle(handle, as: ReconnectorBox.self)
    return SWS_OK
}
