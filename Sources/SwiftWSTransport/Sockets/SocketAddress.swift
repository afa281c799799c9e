import Glibc
import CSwiftWSSystem

/// An IPv4, IPv6 or Unix-domain socket address (a `sockaddr_storage` and its length).
///
/// Built from numeric addresses (`"127.0.0.1"`, `"::1"`); host names go through
/// `EventLoop.connect(host:port:…)`, which resolves them off the loop thread, or
/// `SocketAddress.resolve(host:port:)` / `listenAddress(host:port:)` (blocking).
public struct SocketAddress: @unchecked Sendable, Hashable, CustomStringConvertible {
    /// The address family.
    public enum Family: Sendable, Hashable {
        case ipv4
        case ipv6
        case unix
    }

    var storage: sockaddr_storage
    var length: socklen_t

    init(storage: sockaddr_storage, length: socklen_t) {
        self.storage = storage
        self.length = length
    }

    /// A numeric IPv4 (`"127.0.0.1"`) or IPv6 (`"::1"`, also written `"[::1]"`) address and a port;
    /// nil when `ip` is neither.
    public init?(ip: String, port: UInt16) {
        var storage = sockaddr_storage()
        var text = ip
        if text.hasPrefix("["), text.hasSuffix("]") { text = String(text.dropFirst().dropLast()) }
        let parsedV4: Bool = withUnsafeMutableBytes(of: &storage) { raw in
            let sin = raw.baseAddress!.assumingMemoryBound(to: sockaddr_in.self)
            guard inet_pton(AF_INET, text, &sin.pointee.sin_addr) == 1 else { return false }
            sin.pointee.sin_family = sa_family_t(AF_INET)
            sin.pointee.sin_port = port.bigEndian
            return true
        }
        if parsedV4 {
            self.init(storage: storage, length: socklen_t(MemoryLayout<sockaddr_in>.size))
            return
        }
        let parsedV6: Bool = withUnsafeMutableBytes(of: &storage) { raw in
            let sin6 = raw.baseAddress!.assumingMemoryBound(to: sockaddr_in6.self)
            guard inet_pton(AF_INET6, text, &sin6.pointee.sin6_addr) == 1 else { return false }
            sin6.pointee.sin6_family = sa_family_t(AF_INET6)
            sin6.pointee.sin6_port = port.bigEndian
            return true
        }
        guard parsedV6 else { return nil }
        self.init(storage: storage, length: socklen_t(MemoryLayout<sockaddr_in6>.size))
    }

    /// A Unix-domain socket path, or with a leading "@" a name in Linux's abstract namespace
    /// ("@swiftws-test": no file, gone with its last socket; the "@" stands for the leading NUL
    /// byte, as `ss` and systemd write it). Throws `.invalidAddress` when the path is empty or
    /// does not fit in `sun_path` (107 bytes plus the terminating zero on Linux).
    public init(unixPath path: String) throws(NetworkError) {
        var storage = sockaddr_storage()
        let pathOffset = MemoryLayout<sockaddr_un>.offset(of: \sockaddr_un.sun_path)!
        let capacity = MemoryLayout<sockaddr_un>.size - pathOffset
        var bytes = Array(path.utf8)
        let abstract = bytes.first == UInt8(ascii: "@")
        guard !bytes.isEmpty, bytes.count < capacity, !bytes.contains(0), !(abstract && bytes.count == 1) else {
            throw NetworkError(.invalidAddress, "unix socket path \(path)")
        }
        if abstract { bytes[0] = 0 }
        withUnsafeMutableBytes(of: &storage) { raw in
            raw.storeBytes(of: sa_family_t(AF_UNIX), toByteOffset: 0, as: sa_family_t.self)
            for (index, byte) in bytes.enumerated() { raw[pathOffset + index] = byte }
        }
        // An abstract name is exactly its bytes: no terminating zero counts.
        self.init(storage: storage, length: socklen_t(pathOffset + bytes.count + (abstract ? 0 : 1)))
    }

    /// Whether this is a Unix socket in the abstract namespace (`host` starts with "@").
    public var isAbstractUnix: Bool {
        let pathOffset = MemoryLayout<sockaddr_un>.offset(of: \sockaddr_un.sun_path)!
        guard family == .unix, Int(length) > pathOffset else { return false }
        return withUnsafeBytes(of: storage) { $0[pathOffset] == 0 }
    }

    /// The address family.
    public var family: Family {
        switch Int32(storage.ss_family) {
        case AF_INET: return .ipv4
        case AF_INET6: return .ipv6
        default: return .unix
        }
    }

    /// The port of an IP address; nil for a Unix socket.
    public var port: UInt16? {
        withUnsafeBytes(of: storage) { raw in
            switch Int32(storage.ss_family) {
            case AF_INET: return UInt16(bigEndian: raw.load(as: sockaddr_in.self).sin_port)
            case AF_INET6: return UInt16(bigEndian: raw.load(as: sockaddr_in6.self).sin6_port)
            default: return nil
            }
        }
    }

    /// The numeric host ("127.0.0.1", "::1") or, for a Unix socket, its path ("@name" for an
    /// abstract one).
    public var host: String {
        withUnsafeBytes(of: storage) { raw -> String in
            var text = [CChar](repeating: 0, count: Int(INET6_ADDRSTRLEN) + 1)
            switch Int32(storage.ss_family) {
            case AF_INET:
                var address = raw.load(as: sockaddr_in.self).sin_addr
                inet_ntop(AF_INET, &address, &text, socklen_t(text.count))
            case AF_INET6:
                var address = raw.load(as: sockaddr_in6.self).sin6_addr
                inet_ntop(AF_INET6, &address, &text, socklen_t(text.count))
            default:
                let pathOffset = MemoryLayout<sockaddr_un>.offset(of: \sockaddr_un.sun_path)!
                let end = min(Int(length), MemoryLayout<sockaddr_un>.size)
                guard end > pathOffset else { return "" }
                var path = Array(raw[pathOffset..<end])
                if path.first == 0 {  // abstract: the name is every byte after the NUL
                    return "@" + String(decoding: path.dropFirst(), as: UTF8.self)
                }
                if let zero = path.firstIndex(of: 0) { path.removeSubrange(zero...) }
                return String(decoding: path, as: UTF8.self)
            }
            let length = text.firstIndex(of: 0) ?? text.count
            return String(decoding: text[0..<length].map { UInt8(bitPattern: $0) }, as: UTF8.self)
        }
    }

    /// "127.0.0.1:9001", "[::1]:9001" or "unix:/path".
    public var description: String {
        switch family {
        case .ipv4: return "\(host):\(port ?? 0)"
        case .ipv6: return "[\(host)]:\(port ?? 0)"
        case .unix: return "unix:\(host)"
        }
    }

    /// Calls `body` with the C view of the address.
    func withSockAddr<Result>(_ body: (UnsafePointer<sockaddr>, socklen_t) throws -> Result) rethrows -> Result {
        try withUnsafeBytes(of: storage) { raw in
            try body(raw.baseAddress!.assumingMemoryBound(to: sockaddr.self), length)
        }
    }

    /// The `AF_…` constant of the address.
    var addressFamily: Int32 { Int32(storage.ss_family) }

    /// Same family, address, port (or path), byte for byte.
    public static func == (lhs: SocketAddress, rhs: SocketAddress) -> Bool {
        guard lhs.length == rhs.length else { return false }
        return withUnsafeBytes(of: lhs.storage) { left in
            withUnsafeBytes(of: rhs.storage) { right in
                memcmp(left.baseAddress!, right.baseAddress!, Int(lhs.length)) == 0
            }
        }
    }

    /// Hashes the bytes `==` compares.
    public func hash(into hasher: inout Hasher) {
        withUnsafeBytes(of: storage) { raw in
            hasher.combine(bytes: UnsafeRawBufferPointer(rebasing: raw[0..<Int(length)]))
        }
    }
}
