import Glibc

/// A socket address kept in the room its family needs: an IPv4 or IPv6 address (at most 28
/// bytes, a `sockaddr_in6`) inline, anything longer (a Unix socket path) in a shared box. A
/// `SocketAddress` holds a whole `sockaddr_storage` (128 bytes); every stream keeps its peer's
/// address for its whole life, so an idle connection would carry about 100 bytes of zeros
/// (issue 16: memory per idle connection).
struct CompactSocketAddress {
    private enum Storage {
        case inline((UInt64, UInt64, UInt64, UInt32), length: UInt8)
        case boxed(Box)
    }

    /// An address too long to keep inline.
    private final class Box {
        let address: SocketAddress
        init(_ address: SocketAddress) { self.address = address }
    }

    private static let inlineCapacity = MemoryLayout<(UInt64, UInt64, UInt64, UInt32)>.size

    private let storage: Storage

    init(_ address: SocketAddress) {
        let length = Int(address.length)
        guard length <= CompactSocketAddress.inlineCapacity else {
            storage = .boxed(Box(address))
            return
        }
        var bytes: (UInt64, UInt64, UInt64, UInt32) = (0, 0, 0, 0)
        withUnsafeMutableBytes(of: &bytes) { destination in
            withUnsafeBytes(of: address.storage) { source in
                destination.copyMemory(from: UnsafeRawBufferPointer(rebasing: source[..<length]))
            }
        }
        storage = .inline(bytes, length: UInt8(length))
    }

    /// The address as it was given.
    var address: SocketAddress {
        switch storage {
        case .boxed(let box):
            return box.address
        case .inline(let bytes, let length):
            var full = sockaddr_storage()
            withUnsafeMutableBytes(of: &full) { destination in
                withUnsafeBytes(of: bytes) { source in
                    destination.copyMemory(from: UnsafeRawBufferPointer(rebasing: source[..<Int(length)]))
                }
            }
            return SocketAddress(storage: full, length: socklen_t(length))
        }
    }
}
