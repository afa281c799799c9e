import Glibc
import CSwiftWSSystem

/// Options applied to every connected socket (accepted or connected).
public struct StreamOptions: Sendable {
    /// `TCP_NODELAY`: send small writes at once instead of waiting for Nagle's algorithm. On by
    /// default because WebSocket frames are latency-sensitive and writes are already batched per
    /// loop iteration (corking). Ignored on Unix sockets.
    public var noDelay: Bool = true
    /// `SO_SNDBUF` in bytes, or nil for the kernel's default (autotuned).
    public var sendBufferSize: Int? = nil
    /// `SO_RCVBUF` in bytes, or nil for the kernel's default (autotuned).
    public var receiveBufferSize: Int? = nil

    /// The defaults: `TCP_NODELAY` on, kernel buffer sizes.
    public init() {}
}

/// Options of a listening socket.
public struct ListenOptions: Sendable {
    /// The `listen(2)` backlog (the kernel caps it at `net.core.somaxconn`).
    public var backlog: Int32 = 1024
    /// `SO_REUSEADDR`: rebind a port still in TIME_WAIT after a restart. On by default.
    public var reuseAddress: Bool = true
    /// `SO_REUSEPORT`: let several loops (threads or processes) listen on the same port, the
    /// kernel spreading connections between them. Off by default.
    public var reusePort: Bool = false
    /// `IPV6_V6ONLY` for IPv6 listeners: nil keeps the system default (dual-stack on Linux).
    public var ipv6Only: Bool? = nil
    /// Options for the accepted connections.
    public var stream: StreamOptions = StreamOptions()

    /// The defaults: backlog 1024, `SO_REUSEADDR`, no `SO_REUSEPORT`.
    public init() {}
}

/// Thin wrappers over the socket system calls the loop uses, each returning an error with the
/// operation's name instead of a bare -1.
enum SocketCalls {
    static let streamType = Int32(SOCK_STREAM.rawValue) | Int32(SOCK_NONBLOCK.rawValue) | Int32(SOCK_CLOEXEC.rawValue)

    /// A non-blocking, close-on-exec stream socket of `family`.
    static func makeStreamSocket(family: Int32, operation: String) throws(NetworkError) -> Int32 {
        let fd = socket(family, streamType, 0)
        guard fd >= 0 else { throw NetworkError.lastSystemError(operation) }
        return fd
    }

    /// Sets an integer socket option; returns whether it worked.
    @discardableResult
    static func setOption(_ fd: Int32, _ level: Int32, _ name: Int32, _ value: Int32) -> Bool {
        var value = value
        return setsockopt(fd, level, name, &value, socklen_t(MemoryLayout<Int32>.size)) == 0
    }

    /// Applies `options` to a connected socket of `family`.
    static func apply(_ options: StreamOptions, to fd: Int32, family: Int32) {
        if options.noDelay && family != AF_UNIX {
            setOption(fd, Int32(IPPROTO_TCP), TCP_NODELAY, 1)
        }
        if let size = options.sendBufferSize {
            setOption(fd, SOL_SOCKET, SO_SNDBUF, Int32(clamping: size))
        }
        if let size = options.receiveBufferSize {
            setOption(fd, SOL_SOCKET, SO_RCVBUF, Int32(clamping: size))
        }
    }

    /// The pending error of a socket (`SO_ERROR`), which also clears it.
    static func pendingError(_ fd: Int32) -> Int32 {
        var value: Int32 = 0
        var length = socklen_t(MemoryLayout<Int32>.size)
        guard getsockopt(fd, SOL_SOCKET, SO_ERROR, &value, &length) == 0 else { return errno }
        return value
    }

    /// The local address of a socket (`getsockname`).
    static func localAddress(_ fd: Int32) -> SocketAddress? {
        var storage = sockaddr_storage()
        var length = socklen_t(MemoryLayout<sockaddr_storage>.size)
        let result = withUnsafeMutableBytes(of: &storage) { raw in
            getsockname(fd, raw.baseAddress!.assumingMemoryBound(to: sockaddr.self), &length)
        }
        return result == 0 ? SocketAddress(storage: storage, length: length) : nil
    }

    /// The peer address of a connected socket (`getpeername`).
    static func remoteAddress(_ fd: Int32) -> SocketAddress? {
        var storage = sockaddr_storage()
        var length = socklen_t(MemoryLayout<sockaddr_storage>.size)
        let result = withUnsafeMutableBytes(of: &storage) { raw in
            getpeername(fd, raw.baseAddress!.assumingMemoryBound(to: sockaddr.self), &length)
        }
        return result == 0 ? SocketAddress(storage: storage, length: length) : nil
    }
}
