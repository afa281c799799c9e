// C API: permessage-deflate settings (header section "permessage-deflate"). Translates
// sws_compression_config to SwiftWSCore.PerMessageDeflateConfiguration, whose defaults it shows.
import CSwiftWS
import SwiftWSCore

/// sizeof() of the first published sws_compression_config; freeze as a literal before appending.
private let compressionConfigFirstVersionSize = MemoryLayout<sws_compression_config>.stride

@_cdecl("sws_compression_config_init")
public func sws_compression_config_init(_ config: UnsafeMutablePointer<sws_compression_config>?) -> sws_status {
    guard let config else { return fail(SWS_ERR_INVALID_ARGUMENT, "sws_compression_config_init: config is NULL") }
    let defaults = PerMessageDeflateConfiguration()
    var c = sws_compression_config()
    c.size = MemoryLayout<sws_compression_config>.stride
    c.enabled = defaults.isEnabled
    c.local_max_window_bits = Int32(defaults.localMaxWindowBits)
    c.remote_max_window_bits = Int32(defaults.remoteMaxWindowBits ?? 0)
    c.local_no_context_takeover = defaults.localNoContextTakeover
    c.remote_no_context_takeover = defaults.remoteNoContextTakeover
    c.memory_level = Int32(defaults.memoryLevel)
    c.compression_level = Int32(defaults.compressionLevel)
    c.threshold = defaults.compressionThreshold
    config.pointee = c
    return SWS_OK
}

/// Reads and checks a C compression config (NULL: the defaults). Returns the configuration, or
/// nil with `status` set.
func readCompressionConfig(_ pointer: UnsafePointer<sws_compression_config>?,
                           _ status: inout sws_status) -> PerMessageDeflateConfiguration? {
    var c = sws_compression_config()
    _ = sws_compression_config_init(&c)
    if let pointer {
        status = readSizedStruct(pointer, into: &c, firstVersionSize: compressionConfigFirstVersionSize,
                                 name: "sws_compression_config")
        guard status == SWS_OK else { return nil }
    }
    func refuse(_ message: String) -> PerMessageDeflateConfiguration? {
        status = fail(SWS_ERR_INVALID_ARGUMENT, "sws_compression_config: \(message)")
        return nil
    }
    // RFC 7692 section 7.1.2: window sizes are 8 to 15 bits.
    guard (8...15).contains(c.local_max_window_bits) else { return refuse("local_max_window_bits must be 8...15") }
    guard c.remote_max_window_bits == 0 || (8...15).contains(c.remote_max_window_bits) else {
        return refuse("remote_max_window_bits must be 0 or 8...15")
    }
    guard (1...9).contains(c.memory_level) else { return refuse("memory_level must be 1...9") }
    guard (-1...9).contains(c.compression_level) else { return refuse("compression_level must be -1...9") }
    guard checkLimit(c.threshold, "sws_compression_config.threshold", allowsZero: true) == SWS_OK else {
        status = SWS_ERR_INVALID_ARGUMENT
        return nil
    }
    status = SWS_OK
    return PerMessageDeflateConfiguration(
        isEnabled: c.enabled, localMaxWindowBits: Int(c.local_max_window_bits),
        remoteMaxWindowBits: c.remote_max_window_bits == 0 ? nil : Int(c.remote_max_window_bits),
        localNoContextTakeover: c.local_no_context_takeover, remoteNoContextTakeover: c.remote_no_context_takeover,
        memoryLevel: Int(c.memory_level), compressionLevel: Int(c.compression_level),
        compressionThreshold: c.threshold)
}
