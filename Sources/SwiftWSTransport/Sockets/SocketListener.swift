import Glibc
import CSwiftWSSystem

/// A listening socket (TCP over IPv4/IPv6, or a Unix socket path) on an event loop, handing each
/// accepted connection to `onAccept` as a `SocketStream`. Loop-thread only.
public final class SocketListener {
    /// The loop the listener belongs to.
    public let loop: EventLoop
    /// The address actually bound: with port 0, the port the kernel picked.
    public let localAddress: SocketAddress
    /// Called with each accepted connection; set its handlers there. If nil, connections are
    /// closed as they arrive.
    public var onAccept: ((SocketStream) -> Void)?

    /// The listening socket (for `getsockname`, socket options); the listener owns and closes it.
    public let fd: Int32
    private var slot = -1
    private let options: ListenOptions
    private var isClosed = false
    private var resumeTimer: TimerHandle?

    /// Connections accepted per readiness event before other sockets get their turn.
    private static let acceptBatch = 64

    init(loop: EventLoop, fd: Int32, localAddress: SocketAddress, options: ListenOptions) {
        self.loop = loop
        self.fd = fd
        self.localAddress = localAddress
        self.options = options
    }

    /// Whether `close()` was called.
    public var isListening: Bool { !isClosed }

    /// Stops listening and closes the socket (a Unix socket's path is removed). Connections
    /// already accepted are not affected.
    public func close() {
        guard !isClosed else { return }
        isClosed = true
        if let resumeTimer { loop.cancel(resumeTimer) }
        loop.unregister(slot: slot)
        Glibc.close(fd)
        if localAddress.family == .unix { unlink(localAddress.host) }
        onAccept = nil
    }

    func handleEvents(_ events: UInt32) {
        for _ in 0..<SocketListener.acceptBatch {
            guard !isClosed else { return }
            var storage = sockaddr_storage()
            var length = socklen_t(MemoryLayout<sockaddr_storage>.size)
            let client = withUnsafeMutableBytes(of: &storage) { raw in
                swiftws_accept4(fd, raw.baseAddress!.assumingMemoryBound(to: sockaddr.self), &length,
                        Int32(SOCK_NONBLOCK.rawValue) | Int32(SOCK_CLOEXEC.rawValue))
            }
            if client < 0 {
                switch errno {
                case EAGAIN, EWOULDBLOCK: return
                case EINTR, ECONNABORTED, EPROTO: continue
                case EMFILE, ENFILE, ENOBUFS, ENOMEM:
                    // Out of descriptors or memory: with level-triggered epoll the pending
                    // connection would wake us in a busy loop, so stop watching for 100 ms.
                    backOffAfterResourceExhaustion()
                    return
                default:
                    return
                }
            }
            SocketCalls.apply(options.stream, to: client, family: localAddress.addressFamily)
            let remote = localAddress.family == .unix ? nil : SocketAddress(storage: storage, length: length)
            guard let stream = try? SocketStream.adopt(fd: client, loop: loop, remoteAddress: remote) else {
                Glibc.close(client)
                continue
            }
            if let onAccept {
                onAccept(stream)
            } else {
                stream.close()
            }
        }
    }

    /// Stops accepting: new connections wait in the kernel's queue (and are refused once it is
    /// full) until `resumeAccepting()`. A server uses this at its connection limit.
    public func pauseAccepting() {
        guard !isClosed else { return }
        loop.modify(slot: slot, fd: fd, events: 0)
    }

    /// Accepts again after `pauseAccepting()`.
    public func resumeAccepting() {
        guard !isClosed else { return }
        if let resumeTimer { loop.cancel(resumeTimer) }
        resumeTimer = nil
        loop.modify(slot: slot, fd: fd, events: EPOLLIN.rawValue)
    }

    private func backOffAfterResourceExhaustion() {
        pauseAccepting()
        resumeTimer = loop.schedule(after: .milliseconds(100)) { [weak self] in
            self?.resumeTimer = nil
            self?.resumeAccepting()
        }
    }

    /// Binds, listens and registers a listener for `address`.
    static func open(loop: EventLoop, address: SocketAddress, options: ListenOptions,
                     onAccept: ((SocketStream) -> Void)?) throws(NetworkError) -> SocketListener {
        let operation = "listen on \(address)"
        let fd = try SocketCalls.makeStreamSocket(family: address.addressFamily, operation: operation)
        var succeeded = false
        defer { if !succeeded { Glibc.close(fd) } }
        switch address.family {
        case .unix:
            removeStaleUnixSocket(at: address.host)
        case .ipv4, .ipv6:
            if options.reuseAddress { SocketCalls.setOption(fd, SOL_SOCKET, SO_REUSEADDR, 1) }
            if options.reusePort { SocketCalls.setOption(fd, SOL_SOCKET, SO_REUSEPORT, 1) }
            if address.family == .ipv6, let only = options.ipv6Only {
                SocketCalls.setOption(fd, Int32(IPPROTO_IPV6), IPV6_V6ONLY, only ? 1 : 0)
            }
        }
        let bound = address.withSockAddr { bind(fd, $0, $1) }
        guard bound == 0 else { throw NetworkError.lastSystemError(operation) }
        guard Glibc.listen(fd, options.backlog) == 0 else { throw NetworkError.lastSystemError(operation) }
        let local = address.family == .unix ? address : (SocketCalls.localAddress(fd) ?? address)
        let listener = SocketListener(loop: loop, fd: fd, localAddress: local, options: options)
        listener.onAccept = onAccept
        listener.slot = try loop.register(.listener(listener), fd: fd, events: EPOLLIN.rawValue)
        succeeded = true
        return listener
    }

    /// A Unix socket file left by a previous process makes `bind` fail with EADDRINUSE; remove it,
    /// but only if it is a socket (never a regular file that happens to have that name).
    private static func removeStaleUnixSocket(at path: String) {
        var info = stat()
        if lstat(path, &info) == 0 && (info.st_mode & S_IFMT) == S_IFSOCK {
            unlink(path)
        }
    }
}

extension EventLoop {
    /// Listens on `address` (IPv4, IPv6 or Unix path). Port 0 picks a free port, reported by
    /// `localAddress`. Loop-thread only.
    public func listen(on address: SocketAddress, options: ListenOptions = ListenOptions(),
                       onAccept: ((SocketStream) -> Void)? = nil) throws(NetworkError) -> SocketListener {
        try SocketListener.open(loop: self, address: address, options: options, onAccept: onAccept)
    }

    /// Listens on a numeric `host` ("127.0.0.1", "::1", "0.0.0.0", "::") and `port` (0: any free
    /// port). Host names are refused (`.invalidAddress`): resolve them first, a listener should
    /// say exactly which address it binds. Loop-thread only.
    public func listen(host: String, port: UInt16, options: ListenOptions = ListenOptions(),
                       onAccept: ((SocketStream) -> Void)? = nil) throws(NetworkError) -> SocketListener {
        guard let address = SocketAddress(ip: host, port: port) else {
            throw NetworkError(.invalidAddress, "listen on \(host):\(port)")
        }
        return try listen(on: address, options: options, onAccept: onAccept)
    }

    /// Listens on a Unix socket path (a stale socket file at that path is replaced).
    /// Loop-thread only.
    public func listen(unixPath: String, options: ListenOptions = ListenOptions(),
                       onAccept: ((SocketStream) -> Void)? = nil) throws(NetworkError) -> SocketListener {
        try listen(on: try SocketAddress(unixPath: unixPath), options: options, onAccept: onAccept)
    }
}
