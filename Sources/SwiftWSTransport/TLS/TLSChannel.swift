// SwiftWSTransport/TLS: wss:// inside the socket stream, through the system OpenSSL 3 (COpenSSL):
// contexts (TLSContext), the per-connection channel (TLSChannel), settings (TLSConfiguration).
import Glibc
import COpenSSL

/// The TLS state of one `SocketStream`: its OpenSSL `SSL` object, reading and writing the socket
/// itself through the MSG_NOSIGNAL socket BIO (no memory BIOs: no second copy of every byte,
/// and no per-connection ciphertext buffers, so with `SSL_MODE_RELEASE_BUFFERS` an idle
/// connection holds no TLS buffer at all). Loop-thread only; the stream drives it.
final class TLSChannel {
    private(set) var ssl: OpaquePointer?
    /// Keeps the shared `SSL_CTX` alive as long as the connection.
    let context: TLSContext
    /// Whether the handshake has finished: until then the stream delivers nothing and holds
    /// what is written in its backlog.
    var established = false
    /// The handshake waits for the socket to become writable (else readable).
    var handshakeWantsWrite = false
    /// A write waits for the socket to become readable (TLS may need to read to write).
    var writeWantsRead = false
    /// Why the handshake or the connection failed at the TLS level, for the error reported.
    var failure: String?
    /// Bytes at the head of the stream's backlog that are records already (encrypted, staged
    /// by a large write, refused by the kernel): sent as they are before anything else.
    var encryptedBacklog = 0
    /// Whether close_notify went out.
    var closeNotifySent = false
    /// Whether the peer's close_notify arrived (not a bare FIN).
    var closeNotifyReceived = false
    /// Set by `SocketStream.closeLingeringAfterTLSHandshake`: once the handshake is done, close
    /// lingering with this timeout.
    var closeLingeringAfterHandshake: Duration?
    /// Resets the stream if the handshake has not finished by then (with the above).
    var handshakeDeadline: TimerHandle?
    /// Clients: "host:port", under which the session is kept for resumption.
    private(set) var sessionKey: String?

    /// Largest record on the wire: a 5-byte header and at most 2^14 + 256 bytes of ciphertext
    /// (RFC 8446 section 5.2: plaintext, content type, padding, tag).
    static let maxRecordLength = 5 + 16 * 1024 + 256
    /// OpenSSL's read buffer: 4 records.
    static let readBufferLength = 4 * maxRecordLength

    /// The `SSL` ex-data slot that points back to the channel (for OpenSSL's callbacks).
    private static let ownerIndex = sws_ssl_new_ex_index()

    /// The channel of `ssl` (unretained: the channel owns the `SSL` and outlives it).
    static func owner(of ssl: OpaquePointer) -> TLSChannel? {
        guard let pointer = SSL_get_ex_data(ssl, ownerIndex) else { return nil }
        return Unmanaged<TLSChannel>.fromOpaque(pointer).takeUnretainedValue()
    }

    /// Makes the `SSL` for an accepted (server) or connected (client) socket `fd`. A client
    /// sends `serverName` as SNI (unless it is an IP address) and, when verifying, checks the
    /// certificate against it (a DNS name or an IP address).
    init(context: TLSContext, fd: Int32, serverName: String? = nil, port: UInt16 = 0) throws(TLSError) {
        self.context = context
        guard let method = socketBIOMethod, let ssl = SSL_new(context.context) else {
            throw TLSError("cannot create a TLS connection: \(TLSContext.takeErrorQueue())")
        }
        self.ssl = ssl
        guard sws_ssl_set_socket(ssl, method, fd) == 1 else {
            throw TLSError("cannot attach TLS to the socket: \(TLSContext.takeErrorQueue())")
        }
        // With read-ahead, one recv takes up to this much: 4 full records (a 64 KiB message in
        // one system call instead of 5). Allocated only while records are being read
        // (SSL_MODE_RELEASE_BUFFERS), and under glibc's mmap threshold.
        SSL_set_default_read_buffer_len(ssl, TLSChannel.readBufferLength)
        if context.role == .server {
            SSL_set_accept_state(ssl)
            return
        }
        SSL_set_connect_state(ssl)
        _ = sws_ssl_offer_alpn_http11(ssl)
        if context.configuration.sessionTickets, let name = serverName {
            let key = "\(name):\(port)"
            sessionKey = key
            _ = SSL_set_ex_data(ssl, TLSChannel.ownerIndex, Unmanaged.passUnretained(self).toOpaque())
            context.offerSession(for: key, to: ssl)
        }
        guard let name = serverName, !name.isEmpty else { return }
        let isAddress = SocketAddress(ip: name, port: 0) != nil
        // RFC 6066 section 3: "Literal IPv4 and IPv6 addresses are not permitted in HostName".
        if !isAddress { _ = sws_set_host_name(ssl, name) }
        if !context.configuration.insecureSkipVerification {
            let ok = isAddress ? X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl), name) : SSL_set1_host(ssl, name)
            guard ok == 1 else { throw TLSError("cannot verify against the host name \(name)") }
        }
    }

    deinit { free() }

    /// Frees the `SSL` (the connection closed): its memory goes at once, not with the stream.
    func free() {
        if let ssl {
            _ = SSL_set_ex_data(ssl, TLSChannel.ownerIndex, nil)
            SSL_free(ssl)
        }
        ssl = nil
    }

    /// The reason for an `SSL_ERROR_SSL`: the certificate verification result when that failed,
    /// else OpenSSL's error queue.
    func describeFailure() -> String {
        if let ssl {
            let verification = SSL_get_verify_result(ssl)
            if verification != X509_V_OK {
                return "certificate verify failed: \(String(cString: X509_verify_cert_error_string(verification)))"
            }
        }
        return TLSContext.takeErrorQueue()
    }

    /// Whether the handshake resumed an earlier session (no certificate exchange).
    var sessionReused: Bool {
        guard established, let ssl else { return false }
        return SSL_session_reused(ssl) == 1
    }

    /// The negotiated protocol ("TLSv1.3"), nil before the handshake ends.
    var protocolVersion: String? {
        guard established, let ssl, let name = SSL_get_version(ssl) else { return nil }
        return String(cString: name)
    }

    /// The negotiated cipher suite ("TLS_AES_128_GCM_SHA256"), nil before the handshake ends.
    var cipherSuite: String? {
        guard established, let ssl, let name = SSL_CIPHER_get_name(SSL_get_current_cipher(ssl)) else { return nil }
        return String(cString: name)
    }

    /// The peer certificate's subject (RFC 2253: "CN=client,O=Example"), nil without one.
    var peerCertificateSubject: String? {
        guard established, let ssl else { return nil }
        var buffer = [CChar](repeating: 0, count: 1024)
        let length = sws_ssl_peer_subject(ssl, &buffer, buffer.count)
        guard length > 0 else { return nil }
        return String(decoding: buffer.prefix(length).map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }
}
