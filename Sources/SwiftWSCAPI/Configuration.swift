// C API: the configuration schema (header sections "Sans-I/O session", "permessage-deflate",
// "Servers", "Clients"): every C config struct is initialised from, and read into, the Swift
// configuration types here, in one place. The defaults are the Swift types' defaults; a C struct
// only translates them.
//
// The groups nest the way the Swift types do:
//   sws_server_config / sws_client_config  -> ServerOptions / ClientOptions
//     .connection: sws_connection_config   -> ConnectionOptions
//     .tls: sws_tls_config                 -> TLSConfiguration (TLS.swift reads it)
//       .limits: sws_session_config        -> SessionConfiguration
//       .compression: sws_compression_config -> PerMessageDeflateConfiguration
import CSwiftWS
import SwiftWSCore
import SwiftWSEndpoints

/// A C argument refused: its status, with the detail already recorded for sws_last_error().
struct CArgumentError: Error {
    let status: sws_status

    /// Records `message` and refuses with `status`.
    init(_ message: String, status: sws_status = SWS_ERR_INVALID_ARGUMENT) {
        self.status = fail(status, message)
    }

    init(status: sws_status) {
        self.status = status
    }
}

// MARK: Sizes of the first published versions (frozen: only fields appended after them)

/// sws_session_config of ABI 1, before `inflate_budget` was appended.
private let sessionConfigFirstVersionSize = 48
/// sws_compression_config before `announce_local_max_window_bits` was appended.
private let compressionConfigFirstVersionSize = 40
/// The structs that ABI 2 introduced or reshaped: their first published sizes (x86_64/arm64).
private let connectionConfigFirstVersionSize = MemoryLayout<sws_connection_config>.stride
/// sws_server_config before `log`, `log_user_data`, `log_level`, `loops` and `redis_url` were appended.
private let serverConfigFirstVersionSize = 112
/// sws_client_config before `log`, `log_user_data`, `log_level`, `proxy`, `proxy_from_environment`,
/// `max_redirects`, `on_redirect` and `unix_path` were appended.
private let clientConfigFirstVersionSize = 96

/// Largest size limit accepted in config structs (SWS_SESSION_LIMIT_MAX).
let sessionLimitMax = 1 << 48

// MARK: Units

/// C milliseconds as a Duration.
func duration(milliseconds: UInt32) -> Duration { .milliseconds(Int64(milliseconds)) }

/// C milliseconds where 0 switches a timer off.
func optionalDuration(milliseconds: UInt32) -> Duration? { milliseconds == 0 ? nil : duration(milliseconds: milliseconds) }

/// A duration in whole milliseconds, clamped to UInt32 (nil: 0, "off").
func cMilliseconds(_ duration: Duration?) -> UInt32 {
    guard let duration else { return 0 }
    let (seconds, attoseconds) = duration.components
    return UInt32(clamping: seconds * 1000 + attoseconds / 1_000_000_000_000_000)
}

/// Checks one size limit: 1 ... SWS_SESSION_LIMIT_MAX (0 too if allowed).
func checkLimit(_ value: Int, _ name: String, allowsZero: Bool = false) -> sws_status {
    // size_t values above Int.max arrive here as negative Ints.
    guard value >= (allowsZero ? 0 : 1), value <= sessionLimitMax else {
        return fail(SWS_ERR_INVALID_ARGUMENT,
                    "\(name) is \(UInt(bitPattern: value)); it must be \(allowsZero ? 0 : 1)...2^48")
    }
    return SWS_OK
}

/// A checked size limit; 0 means "no limit" (nil) where allowed.
private func limit(_ value: Int, _ name: String) throws(CArgumentError) -> Int {
    let status = checkLimit(value, name)
    guard status == SWS_OK else { throw CArgumentError(status: status) }
    return value
}

private func optionalLimit(_ value: Int, _ name: String) throws(CArgumentError) -> Int? {
    let status = checkLimit(value, name, allowsZero: true)
    guard status == SWS_OK else { throw CArgumentError(status: status) }
    return value == 0 ? nil : value
}

/// `count` NUL-terminated UTF-8 strings from a C array; nil if the array or a string is invalid
/// (a negative count included: size_t values above Int.max).
func cStrings(_ array: UnsafePointer<UnsafePointer<CChar>?>?, _ count: Int) -> [String]? {
    guard count > 0 else { return count == 0 ? [] : nil }
    guard let array, count <= 1 << 16 else { return nil }
    var result: [String] = []
    for index in 0..<count {
        guard let text = string(fromCString: array[index]) else { return nil }
        result.append(text)
    }
    return result
}

/// Reads a sized struct over `defaults` (NULL: the defaults), refusing a bad size.
private func read<T>(_ pointer: UnsafePointer<T>?, over defaults: T, firstVersionSize: Int, name: String) throws(CArgumentError) -> T {
    var value = defaults
    if let pointer {
        let status = readSizedStruct(pointer, into: &value, firstVersionSize: firstVersionSize, name: name)
        guard status == SWS_OK else { throw CArgumentError(status: status) }
    }
    return value
}

// MARK: Limits (sws_session_config)

extension sws_session_config {
    init(_ configuration: SessionConfiguration) {
        self.init(size: MemoryLayout<sws_session_config>.stride, max_message_size: configuration.maxMessageSize,
                  max_frame_size: configuration.maxFrameSize,
                  max_fragments_per_message: configuration.maxFragmentsPerMessage,
                  streaming_threshold: configuration.streamingThreshold ?? 0, auto_pong: configuration.autoPong,
                  inflate_budget: configuration.inflateBudget, mask_keys: nil, mask_key_count: 0)
    }
}

/// Most fixed masking keys a sws_session_config may list.
private let maxMaskKeyCount = 1 << 16

/// The mask-key source of `mask_keys`/`mask_key_count` (none: secure random), checked.
private func readMaskKeys(_ keys: UnsafePointer<UInt8>?, _ count: Int) throws(CArgumentError) -> MaskKeySource {
    guard count != 0 else { return .secureRandom }
    guard let keys, count > 0, count <= maxMaskKeyCount else {
        throw CArgumentError("sws_session_config: mask_keys NULL with a count, or mask_key_count above \(maxMaskKeyCount)")
    }
    return .fixed((0..<count).map { (keys[4 * $0], keys[4 * $0 + 1], keys[4 * $0 + 2], keys[4 * $0 + 3]) })
}

@_cdecl("sws_session_config_init")
public func sws_session_config_init(_ config: UnsafeMutablePointer<sws_session_config>?) -> sws_status {
    guard let config else { return fail(SWS_ERR_INVALID_ARGUMENT, "sws_session_config_init: config is NULL") }
    config.pointee = sws_session_config(SessionConfiguration(role: .server))
    return SWS_OK
}

/// The session configuration a C struct asks for (NULL: the defaults), checked.
func readSessionConfig(_ pointer: UnsafePointer<sws_session_config>?, role: Role) throws(CArgumentError) -> SessionConfiguration {
    let c = try read(pointer, over: sws_session_config(SessionConfiguration(role: role)),
                     firstVersionSize: sessionConfigFirstVersionSize, name: "sws_session_config")
    var configuration = SessionConfiguration(role: role)
    configuration.maxMessageSize = try limit(c.max_message_size, "sws_session_config.max_message_size")
    configuration.maxFrameSize = try limit(c.max_frame_size, "sws_session_config.max_frame_size")
    configuration.maxFragmentsPerMessage = try limit(c.max_fragments_per_message, "sws_session_config.max_fragments_per_message")
    configuration.streamingThreshold = try optionalLimit(c.streaming_threshold, "sws_session_config.streaming_threshold")
    configuration.autoPong = c.auto_pong
    configuration.inflateBudget = try limit(c.inflate_budget, "sws_session_config.inflate_budget")
    configuration.maskKeys = try readMaskKeys(c.mask_keys, c.mask_key_count)
    return configuration
}

// MARK: permessage-deflate (sws_compression_config)

extension sws_compression_config {
    init(_ configuration: PerMessageDeflateConfiguration) {
        self.init(size: MemoryLayout<sws_compression_config>.stride, enabled: configuration.isEnabled,
                  local_max_window_bits: Int32(configuration.localMaxWindowBits),
                  remote_max_window_bits: Int32(configuration.remoteMaxWindowBits ?? 0),
                  local_no_context_takeover: configuration.localNoContextTakeover,
                  remote_no_context_takeover: configuration.remoteNoContextTakeover,
                  memory_level: Int32(configuration.memoryLevel), compression_level: Int32(configuration.compressionLevel),
                  threshold: configuration.compressionThreshold,
                  announce_local_max_window_bits: configuration.announcesLocalMaxWindowBits)
    }
}

@_cdecl("sws_compression_config_init")
public func sws_compression_config_init(_ config: UnsafeMutablePointer<sws_compression_config>?) -> sws_status {
    guard let config else { return fail(SWS_ERR_INVALID_ARGUMENT, "sws_compression_config_init: config is NULL") }
    config.pointee = sws_compression_config(PerMessageDeflateConfiguration())
    return SWS_OK
}

/// The permessage-deflate configuration a C struct asks for (NULL: the defaults), checked.
func readCompressionConfig(_ pointer: UnsafePointer<sws_compression_config>?) throws(CArgumentError) -> PerMessageDeflateConfiguration {
    let c = try read(pointer, over: sws_compression_config(PerMessageDeflateConfiguration()),
                     firstVersionSize: compressionConfigFirstVersionSize, name: "sws_compression_config")
    func refuse(_ message: String) -> CArgumentError { CArgumentError("sws_compression_config: \(message)") }
    // RFC 7692 section 7.1.2: window sizes are 8 to 15 bits.
    guard (8...15).contains(c.local_max_window_bits) else { throw refuse("local_max_window_bits must be 8...15") }
    guard c.remote_max_window_bits == 0 || (8...15).contains(c.remote_max_window_bits) else {
        throw refuse("remote_max_window_bits must be 0 or 8...15")
    }
    guard (1...9).contains(c.memory_level) else { throw refuse("memory_level must be 1...9") }
    guard (-1...9).contains(c.compression_level) else { throw refuse("compression_level must be -1...9") }
    let threshold = try optionalLimit(c.threshold, "sws_compression_config.threshold") ?? 0
    return PerMessageDeflateConfiguration(
        isEnabled: c.enabled, localMaxWindowBits: Int(c.local_max_window_bits),
        remoteMaxWindowBits: c.remote_max_window_bits == 0 ? nil : Int(c.remote_max_window_bits),
        localNoContextTakeover: c.local_no_context_takeover, remoteNoContextTakeover: c.remote_no_context_takeover,
        memoryLevel: Int(c.memory_level), compressionLevel: Int(c.compression_level),
        compressionThreshold: threshold, announcesLocalMaxWindowBits: c.announce_local_max_window_bits)
}

/// `readCompressionConfig` for callers that return a status (the handshake exports).
func readCompressionConfig(_ pointer: UnsafePointer<sws_compression_config>?,
                           _ status: inout sws_status) -> PerMessageDeflateConfiguration? {
    do throws(CArgumentError) {
        let configuration = try readCompressionConfig(pointer)
        status = SWS_OK
        return configuration
    } catch {
        status = error.status
        return nil
    }
}

// MARK: Connections (sws_connection_config)

extension sws_connection_config {
    /// The scalar fields of `options`; the group pointers stay NULL ("the defaults").
    init(_ options: ConnectionOptions) {
        self.init()
        size = MemoryLayout<sws_connection_config>.stride
        max_buffered_amount = options.maxBufferedAmount ?? 0
        backpressure_close = options.backpressurePolicy == .close
        ping_interval_ms = cMilliseconds(options.pingInterval)
        pong_timeout_ms = cMilliseconds(options.pongTimeout)
        idle_timeout_ms = cMilliseconds(options.idleTimeout)
        message_timeout_ms = cMilliseconds(options.messageTimeout)
        close_timeout_ms = cMilliseconds(options.closeTimeout)
    }
}

@_cdecl("sws_connection_config_init")
public func sws_connection_config_init(_ config: UnsafeMutablePointer<sws_connection_config>?) -> sws_status {
    guard let config else { return fail(SWS_ERR_INVALID_ARGUMENT, "sws_connection_config_init: config is NULL") }
    config.pointee = sws_connection_config(ConnectionOptions())
    return SWS_OK
}

/// The connection options a C struct asks for (NULL: the defaults), checked, for `role`.
func readConnectionConfig(_ pointer: UnsafePointer<sws_connection_config>?, role: Role) throws(CArgumentError) -> ConnectionOptions {
    let c = try read(pointer, over: sws_connection_config(ConnectionOptions()),
                     firstVersionSize: connectionConfigFirstVersionSize, name: "sws_connection_config")
    var options = ConnectionOptions()
    options.session = try readSessionConfig(c.limits, role: role)
    options.perMessageDeflate = try readCompressionConfig(c.compression)
    options.maxBufferedAmount = try optionalLimit(c.max_buffered_amount, "sws_connection_config.max_buffered_amount")
    options.backpressurePolicy = c.backpressure_close ? .close : .drop
    options.pingInterval = optionalDuration(milliseconds: c.ping_interval_ms)
    options.pongTimeout = duration(milliseconds: c.pong_timeout_ms)
    options.idleTimeout = optionalDuration(milliseconds: c.idle_timeout_ms)
    options.messageTimeout = optionalDuration(milliseconds: c.message_timeout_ms)
    options.closeTimeout = duration(milliseconds: c.close_timeout_ms)
    return options
}

/// The HTTP head limits of a server or client config, checked.
private func headLimits(_ maxHeadSize: Int, _ maxHeaderCount: Int, _ structName: String) throws(CArgumentError) -> HTTPHeadLimits {
    HTTPHeadLimits(maxHeadBytes: try limit(maxHeadSize, "\(structName).max_head_size"),
                   maxHeaderCount: try limit(maxHeaderCount, "\(structName).max_header_count"))
}

/// The TLS settings a C struct asks for (NULL: none, plain ws://), checked (see TLS.swift).
private func readTLS(_ pointer: UnsafePointer<sws_tls_config>?, _ structName: String) throws(CArgumentError) -> TLSConfiguration? {
    var status = SWS_OK
    guard let configuration = readTLSConfig(pointer, structName, &status) else { throw CArgumentError(status: status) }
    return configuration
}

// MARK: Servers (sws_server_config)

extension sws_server_config {
    init(_ options: ServerOptions) {
        self.init()
        size = MemoryLayout<sws_server_config>.stride
        handshake_timeout_ms = cMilliseconds(options.handshakeTimeout)
        max_connections = options.maxConnections ?? 0
        memory_budget = options.memoryBudget ?? 0
        max_head_size = options.headLimits.maxHeadBytes
        max_header_count = options.headLimits.maxHeaderCount
        require_origin = options.requireOrigin
        reuse_port = options.listen.reusePort
        log_level = SWS_LOG_INFO
        loops = UInt32(options.loops)
        answer_bad_requests = options.answersBadRequests
    }
}

@_cdecl("sws_server_config_init")
public func sws_server_config_init(_ config: UnsafeMutablePointer<sws_server_config>?) -> sws_status {
    guard let config else { return fail(SWS_ERR_INVALID_ARGUMENT, "sws_server_config_init: config is NULL") }
    config.pointee = sws_server_config(ServerOptions())
    return SWS_OK
}

/// The server options a C struct asks for (NULL: the defaults), checked.
func readServerConfig(_ pointer: UnsafePointer<sws_server_config>?) throws(CArgumentError) -> ServerOptions {
    let c = try read(pointer, over: sws_server_config(ServerOptions()),
                     firstVersionSize: serverConfigFirstVersionSize, name: "sws_server_config")
    var options = ServerOptions()
    options.connection = try readConnectionConfig(c.connection, role: .server)
    options.handshakeTimeout = duration(milliseconds: c.handshake_timeout_ms)
    options.maxConnections = try optionalLimit(c.max_connections, "sws_server_config.max_connections")
    options.memoryBudget = try optionalLimit(c.memory_budget, "sws_server_config.memory_budget")
    options.headLimits = try headLimits(c.max_head_size, c.max_header_count, "sws_server_config")
    guard let origins = cStrings(c.allowed_origins, c.allowed_origin_count) else {
        throw CArgumentError("sws_server_config: allowed_origins NULL with a count, or an entry NULL or not UTF-8")
    }
    guard let subprotocols = cStrings(c.subprotocols, c.subprotocol_count), subprotocols.allSatisfy(HTTPToken.isToken) else {
        throw CArgumentError("sws_server_config: subprotocols NULL with a count, or an entry not a token")
    }
    options.allowedOrigins = origins.isEmpty ? nil : origins
    options.requireOrigin = c.require_origin
    options.subprotocols = subprotocols
    options.listen.reusePort = c.reuse_port
    options.tls = try readTLS(c.tls, "sws_server_config.tls")
    guard c.loops >= 1, c.loops <= ServerOptions.maximumLoops else {
        throw CArgumentError("sws_server_config.loops: \(c.loops) is not 1...\(ServerOptions.maximumLoops)")
    }
    options.loops = Int(c.loops)
    options.answersBadRequests = c.answer_bad_requests
    if let url = c.redis_url {
        guard let text = string(fromCString: url) else { throw CArgumentError("sws_server_config.redis_url: not UTF-8") }
        do throws(NetworkError) {
            options.redis = try RedisOptions(url: text)
        } catch {
            throw CArgumentError("sws_server_config.redis_url: \(error)")
        }
    }
    return options
}

// MARK: Clients (sws_client_config)

extension sws_client_config {
    init(_ options: ClientOptions) {
        self.init()
        size = MemoryLayout<sws_client_config>.stride
        connect_timeout_ms = cMilliseconds(options.connectTimeout)
        handshake_timeout_ms = cMilliseconds(options.handshakeTimeout)
        max_head_size = options.headLimits.maxHeadBytes
        max_header_count = options.headLimits.maxHeaderCount
        log_level = SWS_LOG_INFO
        proxy_from_environment = options.proxy == .fromEnvironment
        max_redirects = UInt32(clamping: options.maxRedirects)
    }
}

@_cdecl("sws_client_config_init")
public func sws_client_config_init(_ config: UnsafeMutablePointer<sws_client_config>?) -> sws_status {
    guard let config else { return fail(SWS_ERR_INVALID_ARGUMENT, "sws_client_config_init: config is NULL") }
    config.pointee = sws_client_config(ClientOptions())
    return SWS_OK
}

/// The client options a C struct asks for (NULL: the defaults), checked, and its redirect hook.
func readClientConfig(_ pointer: UnsafePointer<sws_client_config>?) throws(CArgumentError)
    -> (options: ClientOptions, onRedirect: (@convention(c) (UnsafeMutableRawPointer?, Int32, UnsafePointer<CChar>?) -> Bool)?) {
    let c = try read(pointer, over: sws_client_config(ClientOptions()),
                     firstVersionSize: clientConfigFirstVersionSize, name: "sws_client_config")
    var options = ClientOptions()
    options.connection = try readConnectionConfig(c.connection, role: .client)
    options.connectTimeout = duration(milliseconds: c.connect_timeout_ms)
    options.handshakeTimeout = duration(milliseconds: c.handshake_timeout_ms)
    options.headLimits = try headLimits(c.max_head_size, c.max_header_count, "sws_client_config")
    if c.origin != nil {
        guard let origin = string(fromCString: c.origin) else { throw CArgumentError("sws_client_config: origin is not UTF-8") }
        options.origin = origin
    }
    guard let subprotocols = cStrings(c.subprotocols, c.subprotocol_count) else {
        throw CArgumentError("sws_client_config: subprotocols NULL with a count, or an entry NULL or not UTF-8")
    }
    guard let names = cStrings(c.header_names, c.header_count), let values = cStrings(c.header_values, c.header_count) else {
        throw CArgumentError("sws_client_config: header arrays NULL with a count, or an entry NULL or not UTF-8")
    }
    options.subprotocols = subprotocols
    for (name, value) in zip(names, values) { options.headers.append(name: name, value: value) }
    // Without settings, wss:// verifies the server against the system trust store.
    options.tls = try readTLS(c.tls, "sws_client_config.tls") ?? TLSConfiguration()
    if c.proxy != nil {
        guard let text = string(fromCString: c.proxy), let proxy = ProxyConfiguration(url: text) else {
            throw CArgumentError("sws_client_config: proxy is not an http://, socks5://, socks5h:// or socks4a:// URL")
        }
        options.proxy = .through(proxy)
    } else if c.proxy_from_environment {
        options.proxy = .fromEnvironment
    }
    options.maxRedirects = Int(c.max_redirects)
    if c.unix_path != nil {
        guard let path = string(fromCString: c.unix_path), (try? SocketAddress(unixPath: path)) != nil else {
            throw CArgumentError("sws_client_config: unix_path is empty, too long or not UTF-8")
        }
        options.unixSocketPath = path
    }
    return (options, c.on_redirect)
}

// MARK: Logging (sws_server_config.log, sws_client_config.log)

/// The log sink of a config's `log`, `log_user_data` and `log_level` (nil without `log`).
private func logSink(_ function: sws_log_fn?, _ userData: UnsafeMutableRawPointer?,
                     _ level: sws_log_level, _ structName: String) throws(CArgumentError) -> LogSink? {
    guard let function else { return nil }
    guard let swiftLevel = LogLevel(rawValue: Int(level.rawValue)) else {
        throw CArgumentError("\(structName).log_level \(level.rawValue) is not a sws_log_level")
    }
    let context = LogContext(userData)
    return LogSink(level: swiftLevel) { level, message in
        let text = OwnedBytes(message)  // NUL-terminated, alive during the call
        function(context.userData, sws_log_level(rawValue: UInt32(level.rawValue)), text.cString, text.count)
    }
}

/// The log sink a server config asks for (NULL config or no `log`: nil), checked.
func readServerLog(_ pointer: UnsafePointer<sws_server_config>?) throws(CArgumentError) -> LogSink? {
    let c = try read(pointer, over: sws_server_config(ServerOptions()),
                     firstVersionSize: serverConfigFirstVersionSize, name: "sws_server_config")
    return try logSink(c.log, c.log_user_data, c.log_level, "sws_server_config")
}

/// The `WebSocketServer.onNoRequest` a server config asks for (its `on_no_request`; nil without).
func readServerNoRequest(_ pointer: UnsafePointer<sws_server_config>?) throws(CArgumentError) -> ((NoRequest) -> Void)? {
    let c = try read(pointer, over: sws_server_config(ServerOptions()),
                     firstVersionSize: serverConfigFirstVersionSize, name: "sws_server_config")
    guard let function = c.on_no_request else { return nil }
    let context = LogContext(c.on_no_request_user_data)
    return { event in
        let (reason, message): (sws_no_request_reason, String)
        switch event.reason {
        case .closed: (reason, message) = (SWS_NO_REQUEST_CLOSED, "connection closed")
        case .timedOut: (reason, message) = (SWS_NO_REQUEST_TIMEOUT, "request head not received in time")
        case .badRequestLine(let error): (reason, message) = (SWS_NO_REQUEST_BAD_REQUEST_LINE, error.reason)
        case .malformed(let error): (reason, message) = (SWS_NO_REQUEST_MALFORMED, error.reason)
        }
        let text = OwnedBytes(message)  // NUL-terminated, alive during the call
        event.received.withUnsafeBufferPointer { function(context.userData, reason, text.cString, $0.baseAddress, $0.count) }
    }
}

/// The log sink a client config asks for (NULL config or no `log`: nil), checked.
func readClientLog(_ pointer: UnsafePointer<sws_client_config>?) throws(CArgumentError) -> LogSink? {
    let c = try read(pointer, over: sws_client_config(ClientOptions()),
                     firstVersionSize: clientConfigFirstVersionSize, name: "sws_client_config")
    return try logSink(c.log, c.log_user_data, c.log_level, "sws_client_config")
}

/// A C user-data pointer carried into a log (or on_no_request) closure.
private struct LogContext {
    let userData: UnsafeMutableRawPointer?
    init(_ userData: UnsafeMutableRawPointer?) { self.userData = userData }
}
