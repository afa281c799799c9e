import Glibc
import CSwiftWSSystem

/// Sockets opened by someone else — systemd socket activation, an inherited descriptor, a
/// connection an application's own HTTP stack accepted — taken over by a loop.
extension EventLoop {
    /// Takes over `fd`, a connected stream socket (TCP or Unix): made non-blocking and
    /// close-on-exec, and registered with this loop. The stream owns the descriptor from now on;
    /// on error the caller keeps it. Errors: `.invalidAddress` when `fd` is not a connected stream
    /// socket (a listening one, a datagram socket, a file). Loop-thread only.
    public func adoptStream(fd: Int32, options: StreamOptions = StreamOptions()) throws(NetworkError) -> SocketStream {
        try Self.checkConnectedStreamSocket(fd)
        try Self.prepare(fd, "adopt socket \(fd)")
        let family = SocketCalls.localAddress(fd)?.addressFamily ?? AF_UNIX
        SocketCalls.apply(options, to: fd, family: family)
        return try SocketStream.adopt(fd: fd, loop: self, remoteAddress: nil)
    }

    /// Checks that `fd` is a connected stream socket, as `adoptStream` needs, without taking it:
    /// for callers that must refuse a descriptor before they own it (the C API).
    public static func checkConnectedStreamSocket(_ fd: Int32) throws(NetworkError) {
        let operation = "adopt socket \(fd)"
        guard Self.socketOption(fd, SO_TYPE) == Int32(SOCK_STREAM.rawValue) else {
            throw NetworkError(.invalidAddress, "\(operation) (not a connected stream socket)")
        }
        guard Self.socketOption(fd, SO_ACCEPTCONN) == 0 else {
            throw NetworkError(.invalidAddress, "\(operation) (a listening socket, not a connection)")
        }
        var peer = sockaddr_storage()
        var peerLength = socklen_t(MemoryLayout<sockaddr_storage>.size)
        let connected = withUnsafeMutableBytes(of: &peer) { raw in
            getpeername(fd, raw.baseAddress!.assumingMemoryBound(to: sockaddr.self), &peerLength) == 0
        }
        guard connected else { throw NetworkError(.invalidAddress, "\(operation) (not a connected stream socket)") }
    }

    /// Takes over `fd`, a bound and listening stream socket (TCP or Unix): made non-blocking and
    /// close-on-exec, and registered with this loop. The listener owns the descriptor from now
    /// on (closing it does not remove a Unix socket's file: whoever bound it owns that); on error
    /// the caller keeps it. Errors: `.invalidAddress` when `fd` is not a listening stream socket.
    /// Loop-thread only.
    public func adoptListener(fd: Int32, options: ListenOptions = ListenOptions(),
                              onAccept: ((SocketStream) -> Void)? = nil) throws(NetworkError) -> SocketListener {
        let operation = "adopt listening socket \(fd)"
        guard Self.socketOption(fd, SO_TYPE) == Int32(SOCK_STREAM.rawValue), Self.socketOption(fd, SO_ACCEPTCONN) == 1 else {
            throw NetworkError(.invalidAddress, "\(operation) (not a listening stream socket)")
        }
        try Self.prepare(fd, operation)
        guard let local = SocketCalls.localAddress(fd) else { throw NetworkError.lastSystemError(operation) }
        return try SocketListener.adopt(loop: self, fd: fd, localAddress: local, options: options, onAccept: onAccept)
    }

    /// An integer socket option at SOL_SOCKET; -1 when `fd` is not a socket.
    private static func socketOption(_ fd: Int32, _ name: Int32) -> Int32 {
        var value: Int32 = 0
        var length = socklen_t(MemoryLayout<Int32>.size)
        return getsockopt(fd, SOL_SOCKET, name, &value, &length) == 0 ? value : -1
    }

    /// O_NONBLOCK and FD_CLOEXEC, which the loop's own sockets get at creation.
    private static func prepare(_ fd: Int32, _ operation: String) throws(NetworkError) {
        guard swiftws_make_nonblocking_cloexec(fd) == 0 else { throw NetworkError.lastSystemError(operation) }
    }
}
