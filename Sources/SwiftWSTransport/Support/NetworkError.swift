// Support/: what the transport shares: NetworkError (system call + errno), the monotonic clock,
// detached threads and termination signals.
import Glibc
import CSwiftWSSystem

/// Why a networking operation failed: the system call and its `errno`, a name-resolution failure,
/// a timeout, or a bad address.
///
/// The description is meant for people ("connect to 127.0.0.1:1: Connection refused"), the
/// `kind` for programs (`.system(errno: ECONNREFUSED)`).
public struct NetworkError: Error, Hashable, Sendable, CustomStringConvertible {
    /// The class of failure.
    public enum Kind: Hashable, Sendable {
        /// A system call failed with this `errno` (for example `ECONNREFUSED`, `EADDRINUSE`).
        case system(errno: Int32)
        /// `getaddrinfo` failed with this `EAI_…` code (for example `EAI_NONAME`).
        case nameResolution(code: Int32)
        /// The operation did not finish within its timeout.
        case timedOut
        /// The address could not be parsed or does not fit (for example a Unix path too long).
        case invalidAddress
        /// The object (loop, stream, listener) was already closed.
        case closed
        /// TLS could not be set up (a certificate or key that cannot be read, …).
        case tls(message: String)
        /// Redis could not be used: hiredis missing, a bad URL, or an error reply.
        case redis(message: String)
    }

    /// The class of failure.
    public var kind: Kind
    /// What was being done, for the message: "connect to 127.0.0.1:9001", "listen on [::1]:0".
    public var operation: String

    /// Makes an error of `kind` that happened during `operation`.
    public init(_ kind: Kind, _ operation: String) {
        self.kind = kind
        self.operation = operation
    }

    /// An error for the current `errno`.
    static func lastSystemError(_ operation: String) -> NetworkError {
        NetworkError(.system(errno: errno), operation)
    }

    /// "operation: reason", with the system's text for `errno` and `EAI_…` codes.
    public var description: String {
        switch kind {
        case .system(let code): return "\(operation): \(String(cString: strerror(code)))"
        case .nameResolution(let code): return "\(operation): \(String(cString: gai_strerror(code)))"
        case .timedOut: return "\(operation): timed out"
        case .invalidAddress: return "\(operation): invalid address"
        case .closed: return "\(operation): already closed"
        case .tls(let message), .redis(let message): return "\(operation): \(message)"
        }
    }
}
