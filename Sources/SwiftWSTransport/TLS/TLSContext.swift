import Glibc
import COpenSSL
import Synchronization

/// An OpenSSL `SSL_CTX` made from a `TLSConfiguration` for one role: certificates, keys and the
/// trust store are read once here, then every connection's `TLSChannel` shares them. Immutable
/// once made, so one context may serve several loops (OpenSSL makes `SSL_new` thread-safe).
public final class TLSContext: @unchecked Sendable {
    /// Whether the context accepts (server) or connects (client).
    public enum Role: Sendable { case server, client }

    let context: OpaquePointer
    /// The role given at creation.
    public let role: Role
    /// The configuration it was made from.
    public let configuration: TLSConfiguration
    /// Clients: the latest resumable session per "host:port" (TLS 1.3 tickets, TLS 1.2 sessions),
    /// each holding one reference; shared by the loops that use this context.
    private let sessions = Mutex<[String: StoredSession]>([:])

    /// An `SSL_SESSION` reference (OpenSSL's sessions are reference-counted and thread-safe).
    private struct StoredSession: @unchecked Sendable {
        let pointer: OpaquePointer
    }
    /// Servers: one context per SNI certificate, and the table the SNI callback reads.
    private var sniContexts: [TLSContext] = []
    private var sniTable: UnsafeMutablePointer<sws_sni_table>?

    /// Reads the certificates, key and trust store of `configuration` for `role`.
    public init(configuration: TLSConfiguration, role: Role) throws(TLSError) {
        guard let method = role == .server ? TLS_server_method() : TLS_client_method(),
              let context = SSL_CTX_new(method) else {
            throw TLSError("cannot create a TLS context: \(TLSContext.takeErrorQueue())")
        }
        self.context = context
        self.role = role
        self.configuration = configuration
        try configure(configuration)
        if role == .server && !configuration.sniCertificates.isEmpty { try configureSNI() }
    }

    deinit {
        sessions.withLock { stored in
            for session in stored.values { SSL_SESSION_free(session.pointer) }
            stored.removeAll()
        }
        if let sniTable {
            sniTable.pointee.contexts.deallocate()
            sniTable.deallocate()
        }
        SSL_CTX_free(context)
    }

    /// One context per SNI certificate (the same settings, another certificate) and the
    /// servername callback that picks among them.
    private func configureSNI() throws(TLSError) {
        for certificate in configuration.sniCertificates {
            var variant = configuration
            variant.sniCertificates = []
            variant.certificateChainFile = certificate.chainFile
            variant.privateKeyFile = certificate.keyFile
            variant.certificateChainPEM = certificate.chainPEM
            variant.privateKeyPEM = certificate.keyPEM
            do throws(TLSError) {
                sniContexts.append(try TLSContext(configuration: variant, role: .server))
            } catch {
                throw TLSError("SNI certificate \(certificate.chainFile ?? "(PEM)"): \(error.message)")
            }
        }
        let contexts = UnsafeMutablePointer<OpaquePointer?>.allocate(capacity: sniContexts.count)
        for (index, variant) in sniContexts.enumerated() { contexts[index] = variant.context }
        let table = UnsafeMutablePointer<sws_sni_table>.allocate(capacity: 1)
        table.initialize(to: sws_sni_table(count: sniContexts.count, contexts: contexts))
        sniTable = table
        sws_ctx_set_sni_table(context, table)
    }

    /// Reads the private key from its file or PEM text, decrypting it with the configured
    /// password. Our callback answers OpenSSL's password request (never the terminal prompt of its
    /// default callback); without a password an encrypted key fails with a reason that says so.
    private func loadPrivateKey(_ configuration: TLSConfiguration) throws(TLSError) {
        let hint = configuration.privateKeyPassword == nil ? " (an encrypted key needs its password)" : ""
        let loaded: Result<Void, TLSError> = withOptionalCString(configuration.privateKeyPassword) { password in
            sws_ctx_set_key_password(context, password)
            defer { sws_ctx_set_key_password(context, nil) }
            if let path = configuration.privateKeyFile {
                guard SSL_CTX_use_PrivateKey_file(context, path, SSL_FILETYPE_PEM) == 1 else {
                    return .failure(TLSError("cannot read the private key file \(path)\(hint): \(TLSContext.takeErrorQueue())"))
                }
            } else if let pem = configuration.privateKeyPEM {
                guard sws_ctx_use_key_pem(context, pem, pem.utf8.count, password) == 1 else {
                    return .failure(TLSError("cannot read the private key PEM\(hint): \(TLSContext.takeErrorQueue())"))
                }
            }
            return .success(())
        }
        try loaded.get()
    }

    private func configure(_ configuration: TLSConfiguration) throws(TLSError) {
        guard configuration.minimumVersion <= configuration.maximumVersion else {
            throw TLSError("the minimum TLS version is newer than the maximum")
        }
        _ = sws_ctx_set_min_version(context, Int32(configuration.minimumVersion.rawValue))
        _ = sws_ctx_set_max_version(context, Int32(configuration.maximumVersion.rawValue))
        var options = sws_default_options()
        if !configuration.sessionTickets { options |= sws_option_no_ticket() }
        SSL_CTX_set_options(context, options)
        // Idle connections give their read and write buffers back (measured: 32 KB -> 16 KB of RSS
        // per idle connection, ScaleTests); partial writes let a large message go out record by
        // record under backpressure.
        sws_ctx_set_mode(context, sws_mode_release_buffers() | sws_mode_partial_write())
        // Read-ahead: one recv takes every record the kernel holds (without it OpenSSL reads each
        // record's 5-byte header and its body separately: two system calls per small message).
        sws_ctx_set_read_ahead(context)

        // Our own certificate: required for a server, optional (mutual TLS) for a client.
        if let path = configuration.certificateChainFile {
            guard SSL_CTX_use_certificate_chain_file(context, path) == 1 else {
                throw TLSError("cannot read the certificate chain file \(path): \(TLSContext.takeErrorQueue())")
            }
        } else if let pem = configuration.certificateChainPEM {
            guard sws_ctx_use_chain_pem(context, pem, pem.utf8.count) == 1 else {
                throw TLSError("cannot read the certificate chain PEM: \(TLSContext.takeErrorQueue())")
            }
        }
        try loadPrivateKey(configuration)
        let hasCertificate = configuration.certificateChainFile != nil || configuration.certificateChainPEM != nil
        let hasKey = configuration.privateKeyFile != nil || configuration.privateKeyPEM != nil
        if hasCertificate != hasKey {
            throw TLSError("a certificate chain needs its private key, and a key its certificate chain")
        }
        if hasCertificate && SSL_CTX_check_private_key(context) != 1 {
            throw TLSError("the private key does not match the certificate: \(TLSContext.takeErrorQueue())")
        }
        if role == .server && !hasCertificate {
            throw TLSError("a TLS server needs a certificate chain and a private key")
        }

        // Whom we trust: the peer's certificate must chain to one of these.
        let verifies = role == .client ? !configuration.insecureSkipVerification : configuration.verifyClientCertificates
        if verifies {
            if configuration.useSystemTrustStore && SSL_CTX_set_default_verify_paths(context) != 1 {
                throw TLSError("cannot load the system trust store: \(TLSContext.takeErrorQueue())")
            }
            if configuration.caFile != nil || configuration.caDirectory != nil {
                guard SSL_CTX_load_verify_locations(context, configuration.caFile, configuration.caDirectory) == 1 else {
                    throw TLSError("cannot read the CA file or directory \(configuration.caFile ?? configuration.caDirectory ?? ""): \(TLSContext.takeErrorQueue())")
                }
            }
            if let pem = configuration.caPEM {
                guard sws_ctx_add_trust_pem(context, pem, pem.utf8.count) == 1 else {
                    throw TLSError("no certificate in the CA PEM")
                }
            }
            if role == .server {
                if let path = configuration.caFile, let names = SSL_load_client_CA_file(path) {
                    SSL_CTX_set_client_CA_list(context, names)  // the CAs named in the request
                }
                SSL_CTX_set_verify(context, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, nil)
            } else {
                SSL_CTX_set_verify(context, SSL_VERIFY_PEER, nil)
            }
        } else {
            SSL_CTX_set_verify(context, SSL_VERIFY_NONE, nil)
        }
        if role == .client && configuration.sessionTickets {
            // Resumption: the server's tickets are kept (see `storeSession`) and offered again.
            sws_ctx_set_session_cache_client(context)
            SSL_CTX_sess_set_new_cb(context) { ssl, session in
                guard let ssl, let session, let channel = TLSChannel.owner(of: ssl) else { return 0 }
                return channel.context.storeSession(session, for: channel.sessionKey) ? 1 : 0
            }
        }
        if role == .server {
            // AES-128-GCM when the client offers it (see the shim; measured in bench/README.md).
            guard sws_ctx_prefer_aes128_gcm(context) == 1 else {
                throw TLSError("cannot set the cipher suites: \(TLSContext.takeErrorQueue())")
            }
            sws_ctx_set_session_cache_server(context)
            sws_ctx_select_alpn_http11(context)
            // Session IDs are scoped by context: any constant works for one server.
            let scope: [UInt8] = Array("swiftws".utf8)
            _ = SSL_CTX_set_session_id_context(context, scope, UInt32(scope.count))
        }
        ERR_clear_error()
    }

    /// Keeps `session` (taking the reference OpenSSL hands over) as the one to resume `key` with.
    func storeSession(_ session: OpaquePointer, for key: String?) -> Bool {
        guard let key, SSL_SESSION_is_resumable(session) == 1 else { return false }
        let new = StoredSession(pointer: session)
        let replaced = sessions.withLock { stored -> StoredSession? in
            if stored[key] == nil && stored.count >= 1024 {  // bounded: forget everything, rarely
                for old in stored.values { SSL_SESSION_free(old.pointer) }
                stored.removeAll()
            }
            let old = stored[key]
            stored[key] = new
            return old
        }
        if let replaced { SSL_SESSION_free(replaced.pointer) }
        return true
    }

    /// Offers the stored session for `key` to `ssl`, if there is one (`SSL_set_session` takes
    /// its own reference).
    func offerSession(for key: String, to ssl: OpaquePointer) {
        let target = StoredSession(pointer: ssl)
        sessions.withLock { stored in
            if let session = stored[key] { _ = SSL_set_session(target.pointer, session.pointer) }
        }
    }

    /// Client contexts by configuration: loading the system trust store costs milliseconds, so
    /// clients with the same settings share one context.
    private static let clientContexts = Mutex<[TLSConfiguration: TLSContext]>([:])

    /// The shared client context for `configuration` (what `WebSocketClient.connect` uses).
    public static func shared(client configuration: TLSConfiguration) throws(TLSError) -> TLSContext {
        if let known = clientContexts.withLock({ $0[configuration] }) { return known }
        let made = try TLSContext(configuration: configuration, role: .client)
        return clientContexts.withLock { cache in
            if cache.count >= 32 { cache.removeAll() }  // bounded: settings rarely vary this much
            if let known = cache[configuration] { return known }
            cache[configuration] = made
            return made
        }
    }

    /// The text of OpenSSL's error queue (its first error), which it then empties.
    static func takeErrorQueue() -> String {
        let first = ERR_get_error()
        while ERR_get_error() != 0 {}
        guard first != 0 else { return "unknown error" }
        var buffer = [CChar](repeating: 0, count: 256)
        ERR_error_string_n(first, &buffer, buffer.count)
        // "error:0A000086:SSL routines::certificate verify failed" → the last part.
        let text = String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
        return text.split(separator: ":", omittingEmptySubsequences: true).last.map(String.init) ?? text
    }
}

/// The socket BIO method (send with MSG_NOSIGNAL; see COpenSSL/shim.h), made once per process.
nonisolated(unsafe) let socketBIOMethod: OpaquePointer? = sws_bio_method_new()

/// Calls `body` with `text` as a C string, or with nil.
private func withOptionalCString<T>(_ text: String?, _ body: (UnsafePointer<CChar>?) -> T) -> T {
    guard let text else { return body(nil) }
    return text.withCString { body($0) }
}
