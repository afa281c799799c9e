// C API: TLS — sws_tls_config to SwiftWSTransport.TLSConfiguration (whose defaults it shows),
// and sws_server_reload_tls. Whether the settings can be used (files, keys) is decided below,
// by TLSContext: one rule, one owner.
import CSwiftWS
import SwiftWSEndpoints

/// sizeof() of the first published sws_tls_config; freeze as a literal before appending.
private let tlsConfigFirstVersionSize = MemoryLayout<sws_tls_config>.stride

@_cdecl("sws_tls_config_init")
public func sws_tls_config_init(_ config: UnsafeMutablePointer<sws_tls_config>?) -> sws_status {
    guard let config else { return fail(SWS_ERR_INVALID_ARGUMENT, "sws_tls_config_init: config is NULL") }
    let defaults = TLSConfiguration()
    var c = sws_tls_config()
    c.size = MemoryLayout<sws_tls_config>.stride
    c.use_system_trust_store = defaults.useSystemTrustStore
    c.insecure_skip_verification = defaults.insecureSkipVerification
    c.verify_client_certificates = defaults.verifyClientCertificates
    c.session_tickets = defaults.sessionTickets
    c.min_version = UInt16(defaults.minimumVersion.rawValue)
    c.max_version = UInt16(defaults.maximumVersion.rawValue)
    config.pointee = c
    return SWS_OK
}

/// Reads and checks a C TLS config. Returns `.some(nil)` for NULL (no TLS settings),
/// `.some(configuration)`, or nil with `status` set.
func readTLSConfig(_ pointer: UnsafePointer<sws_tls_config>?, _ function: String,
                   _ status: inout sws_status) -> TLSConfiguration?? {
    status = SWS_OK
    guard let pointer else { return .some(nil) }
    var c = sws_tls_config()
    _ = sws_tls_config_init(&c)
    status = readSizedStruct(pointer, into: &c, firstVersionSize: tlsConfigFirstVersionSize, name: "sws_tls_config")
    guard status == SWS_OK else { return nil }
    var badField: String?
    func text(_ field: UnsafePointer<CChar>?, _ name: String) -> String? {
        guard field != nil else { return nil }
        guard let value = string(fromCString: field) else {
            badField = name
            return nil
        }
        return value
    }
    var configuration = TLSConfiguration()
    configuration.certificateChainFile = text(c.certificate_chain_file, "certificate_chain_file")
    configuration.privateKeyFile = text(c.private_key_file, "private_key_file")
    configuration.certificateChainPEM = text(c.certificate_chain_pem, "certificate_chain_pem")
    configuration.privateKeyPEM = text(c.private_key_pem, "private_key_pem")
    configuration.privateKeyPassword = text(c.private_key_password, "private_key_password")
    configuration.caFile = text(c.ca_file, "ca_file")
    configuration.caDirectory = text(c.ca_directory, "ca_directory")
    configuration.caPEM = text(c.ca_pem, "ca_pem")
    configuration.serverName = text(c.server_name, "server_name")
    configuration.useSystemTrustStore = c.use_system_trust_store
    configuration.insecureSkipVerification = c.insecure_skip_verification
    configuration.verifyClientCertificates = c.verify_client_certificates
    configuration.sessionTickets = c.session_tickets
    if let badField {
        status = fail(SWS_ERR_INVALID_ARGUMENT, "\(function): sws_tls_config.\(badField) is not UTF-8")
        return nil
    }
    guard let minimum = TLSConfiguration.Version(rawValue: Int(c.min_version)),
          let maximum = TLSConfiguration.Version(rawValue: Int(c.max_version)) else {
        status = fail(SWS_ERR_INVALID_ARGUMENT, "\(function): sws_tls_config versions must be SWS_TLS_1_2 or SWS_TLS_1_3")
        return nil
    }
    configuration.minimumVersion = minimum
    configuration.maximumVersion = maximum
    guard let chains = cStrings(c.sni_certificate_chain_files, c.sni_certificate_count),
          let keys = cStrings(c.sni_private_key_files, c.sni_certificate_count) else {
        status = fail(SWS_ERR_INVALID_ARGUMENT, "\(function): sws_tls_config SNI arrays NULL with a count, or an entry NULL or not UTF-8")
        return nil
    }
    configuration.sniCertificates = zip(chains, keys).map { TLSConfiguration.Certificate.files(chain: $0, key: $1) }
    return .some(configuration)
}

@_cdecl("sws_server_reload_tls")
public func sws_server_reload_tls(_ handle: OpaquePointer?, _ tls: UnsafePointer<sws_tls_config>?) -> sws_status {
    let (found, serverStatus) = server(handle, "sws_server_reload_tls")
    guard let box = found else { return serverStatus }
    guard tls != nil else { return fail(SWS_ERR_INVALID_ARGUMENT, "sws_server_reload_tls: tls is NULL") }
    var status = SWS_OK
    guard let read = readTLSConfig(tls, "sws_server_reload_tls", &status), let configuration = read else { return status }
    do throws(TLSError) {
        try box.server.reloadTLS(configuration)
    } catch {
        return fail(SWS_ERR_TLS, "sws_server_reload_tls: \(error.message)")
    }
    return SWS_OK
}

@_cdecl("sws_request_peer_certificate_subject")
public func sws_request_peer_certificate_subject(_ handle: OpaquePointer?,
                                                 _ subject: UnsafeMutablePointer<UnsafePointer<CChar>?>?) -> sws_status {
    guard let box = request(handle, "sws_request_peer_certificate_subject") else { return SWS_ERR_INVALID_ARGUMENT }
    guard let subject else { return fail(SWS_ERR_INVALID_ARGUMENT, "sws_request_peer_certificate_subject: subject is NULL") }
    subject.pointee = box.peerSubject?.cString
    return SWS_OK
}
