import Glibc

/// A socket address kept in the room its family needs: an IPv4 address (port and address, 6
/// bytes) or an IPv6 address (address, scope and port, 22 bytes) inline, anything else (a Unix
/// socket path, an IPv6 address with a flow label, bytes a kernel left in `sin_zero`) in a shared
/// box, so that it comes back exactly as it was given. A `SocketAddress` holds a whole
/// `sockaddr_storage` (128 bytes); every stream keeps its peer's address for its whole life, so
/// the stream carries 23 bytes instead (issue 16: memory per idle connection; 30 with a whole
/// `sockaddr_in6` inline, which kept the stream one malloc size class up).
struct CompactSocketAddress {
    private enum Storage {
        /// `sin_port` and `sin_addr`, as the kernel gave them (network byte order).
        case ipv4(port: UInt16, address: UInt32)
        /// `sin6_addr`, `sin6_scope_id` and `sin6_port` (network byte order; `sin6_flowinfo` 0).
        /// The 16-byte address first: the payload is 22 bytes, without padding between fields.
        case ipv6(address: (UInt64, UInt64), scope: UInt32, port: UInt16)
        case boxed(Box)
    }

    /// An address not kept inline.
    private final class Box {
        let address: SocketAddress
        init(_ address: SocketAddress) { self.address = address }
    }

    private let storage: Storage

    init(_ address: SocketAddress) {
        storage = withUnsafeBytes(of: address.storage) { raw -> Storage in
            let family = Int32(raw.load(as: sa_family_t.self))
            if family == AF_INET, Int(address.length) == MemoryLayout<sockaddr_in>.size {
                let sin = raw.load(as: sockaddr_in.self)
                if withUnsafeBytes(of: sin.sin_zero, { $0.allSatisfy { $0 == 0 } }) {
                    return .ipv4(port: sin.sin_port, address: sin.sin_addr.s_addr)
                }
            } else if family == AF_INET6, Int(address.length) == MemoryLayout<sockaddr_in6>.size {
                let sin6 = raw.load(as: sockaddr_in6.self)
                if sin6.sin6_flowinfo == 0 {
                    let bytes = withUnsafeBytes(of: sin6.sin6_addr) { $0.loadUnaligned(as: (UInt64, UInt64).self) }
                    return .ipv6(address: bytes, scope: sin6.sin6_scope_id, port: sin6.sin6_port)
                }
            }
            return .boxed(Box(address))
        }
    }

    /// The address as it was given.
    var address: SocketAddress {
        var full = sockaddr_storage()
        switch storage {
        case .boxed(let box):
            return box.address
        case .ipv4(let port, let address):
            var sin = sockaddr_in()
            sin.sin_family = sa_family_t(AF_INET)
            sin.sin_port = port
            sin.sin_addr.s_addr = address
            withUnsafeMutableBytes(of: &full) { $0.storeBytes(of: sin, as: sockaddr_in.self) }
            return SocketAddress(storage: full, length: socklen_t(MemoryLayout<sockaddr_in>.size))
        case .ipv6(let address, let scope, let port):
            var sin6 = sockaddr_in6()
            sin6.sin6_family = sa_family_t(AF_INET6)
            sin6.sin6_port = port
            sin6.sin6_scope_id = scope
            withUnsafeMutableBytes(of: &sin6.sin6_addr) { $0.storeBytes(of: address, as: (UInt64, UInt64).self) }
            withUnsafeMutableBytes(of: &full) { $0.storeBytes(of: sin6, as: sockaddr_in6.self) }
            return SocketAddress(storage: full, length: socklen_t(MemoryLayout<sockaddr_in6>.size))
        }
    }
}
