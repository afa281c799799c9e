/// The TLS settings of a server (`ServerOptions.tls`) or a client (`ClientOptions.tls`): what
/// `wss://` needs. The same fields, under the same names, are the C `sws_tls_config` and the
/// Python `ssl=` parameters.
///
/// A server needs a certificate chain and its private key (PEM files or PEM text). A client
/// needs nothing: it verifies the server against the system trust store and checks the host
/// name of the URL (SNI is sent for names, not for IP addresses).
public struct TLSConfiguration: Sendable, Hashable {
    /// A TLS protocol version.
    public enum Version: Int, Sendable, Hashable, Comparable {
        /// TLS 1.2 (RFC 5246).
        case tls12 = 0x0303
        /// TLS 1.3 (RFC 8446).
        case tls13 = 0x0304

        public static func < (lhs: Version, rhs: Version) -> Bool { lhs.rawValue < rhs.rawValue }
    }

    /// PEM file with our certificate, then its intermediates (servers; clients for mutual TLS).
    public var certificateChainFile: String? = nil
    /// PEM file with the private key of that certificate.
    public var privateKeyFile: String? = nil
    /// The certificate chain as PEM text (instead of `certificateChainFile`).
    public var certificateChainPEM: String? = nil
    /// The private key as PEM text (instead of `privateKeyFile`).
    public var privateKeyPEM: String? = nil
    /// PEM file of certificates to trust (CAs), in addition to the system store if
    /// `useSystemTrustStore`.
    public var caFile: String? = nil
    /// Directory of hashed CA certificates (`openssl rehash`), as `caFile`.
    public var caDirectory: String? = nil
    /// Trusted certificates as PEM text, as `caFile`.
    public var caPEM: String? = nil
    /// Whether the system's trust store counts (clients: on; only what `ca…` gives when off).
    public var useSystemTrustStore: Bool = true
    /// Clients: skip verifying the server's certificate and host name. **Insecure**: anyone on
    /// the path can read and change the traffic. For tests against self-signed servers only.
    public var insecureSkipVerification: Bool = false
    /// Servers: ask every client for a certificate and refuse those without a valid one (mutual
    /// TLS) — verified against `ca…` (and the system store if `useSystemTrustStore`). The
    /// subject is then `WebSocketConnection.peerCertificateSubject`.
    public var verifyClientCertificates: Bool = false
    /// Clients: the name to send as SNI and to verify the certificate against, instead of the
    /// URL's host.
    public var serverName: String? = nil
    /// The password of an encrypted private key (PKCS#8 or traditional PEM encryption), used for
    /// the main key and the SNI certificates' keys. Without it an encrypted key is refused with a
    /// reason saying so; it is never asked for on a terminal.
    public var privateKeyPassword: String? = nil
    /// The oldest version accepted (TLS 1.2 by default).
    public var minimumVersion: Version = .tls12
    /// The newest version offered (TLS 1.3 by default).
    public var maximumVersion: Version = .tls13
    /// Servers: further certificates, chosen by the host name the client asks for (SNI): the
    /// first whose certificate matches the name (subjectAltName DNS entries, wildcards included)
    /// serves the connection; without SNI or without a match, the main certificate does. All
    /// other settings are this configuration's.
    public var sniCertificates: [Certificate] = []
    /// Stateless session tickets (RFC 5077 / RFC 8446 section 4.6.1), so that returning clients
    /// resume without a full handshake: servers issue them, clients keep the latest per host and
    /// port (in the shared client context) and offer it on the next connection.
    public var sessionTickets: Bool = true

    /// A certificate chain (leaf first, then intermediates) and its private key, from PEM files
    /// or PEM text.
    public struct Certificate: Sendable, Hashable {
        /// PEM file with the chain.
        public var chainFile: String?
        /// PEM file with the key.
        public var keyFile: String?
        /// The chain as PEM text (instead of `chainFile`).
        public var chainPEM: String?
        /// The key as PEM text (instead of `keyFile`).
        public var keyPEM: String?

        /// A certificate from PEM files.
        public static func files(chain: String, key: String) -> Certificate {
            Certificate(chainFile: chain, keyFile: key)
        }

        /// A certificate from PEM text.
        public static func pem(chain: String, key: String) -> Certificate {
            Certificate(chainPEM: chain, keyPEM: key)
        }
    }

    /// A client configuration: system trust store, peer and host name verification on.
    public init() {}

    /// A server configuration with a certificate chain and a key from PEM files.
    public static func server(certificateChainFile: String, privateKeyFile: String) -> TLSConfiguration {
        var configuration = TLSConfiguration()
        configuration.certificateChainFile = certificateChainFile
        configuration.privateKeyFile = privateKeyFile
        return configuration
    }

    /// A server configuration with a certificate chain and a key as PEM text.
    public static func server(certificateChainPEM: String, privateKeyPEM: String) -> TLSConfiguration {
        var configuration = TLSConfiguration()
        configuration.certificateChainPEM = certificateChainPEM
        configuration.privateKeyPEM = privateKeyPEM
        return configuration
    }

    /// A client configuration trusting the CAs in `caFile` (besides the system store).
    public static func client(caFile: String? = nil) -> TLSConfiguration {
        var configuration = TLSConfiguration()
        configuration.caFile = caFile
        return configuration
    }
}

/// Why TLS could not be set up or a TLS handshake failed ("certificate verify failed: unable to
/// get local issuer certificate", "cannot read the private key file key.pem: …").
public struct TLSError: Error, Sendable, Hashable, CustomStringConvertible {
    /// The reason, for people.
    public var message: String

    /// An error with this message.
    public init(_ message: String) { self.message = message }

    public var description: String { message }
}
