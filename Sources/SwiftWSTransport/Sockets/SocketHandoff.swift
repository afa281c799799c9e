import Glibc

extension EventLoop {
    /// Registers a socket another loop accepted (and handed over through `execute`) as a stream
    /// of this loop. On error the descriptor is closed. Loop-thread only.
    package func adoptAcceptedSocket(_ fd: Int32, remoteAddress: SocketAddress?) throws(NetworkError) -> SocketStream {
        do {
            return try SocketStream.adopt(fd: fd, loop: self, remoteAddress: remoteAddress)
        } catch {
            Glibc.close(fd)
            throw error
        }
    }
}
