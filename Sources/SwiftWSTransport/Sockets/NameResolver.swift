import Glibc
import CSwiftWSSystem

/// Host-name resolution through `getaddrinfo`.
///
/// `getaddrinfo` blocks (it may read files and query DNS), so the loop never calls it itself:
/// `resolveOffLoop` runs it on a short-lived thread and posts the answer back with `execute`.
enum NameResolver {
    /// Resolves `host` to stream-socket addresses with `port`, in the order the resolver prefers
    /// (RFC 6724). Blocking.
    static func resolve(host: String, port: UInt16) -> Result<[SocketAddress], NetworkError> {
        var hints = addrinfo()
        hints.ai_family = AF_UNSPEC
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        hints.ai_flags = AI_NUMERICSERV
        var list: UnsafeMutablePointer<addrinfo>?
        let code = getaddrinfo(host, String(port), &hints, &list)
        guard code == 0 else {
            let kind: NetworkError.Kind = code == EAI_SYSTEM ? .system(errno: errno) : .nameResolution(code: code)
            return .failure(NetworkError(kind, "resolve \(host)"))
        }
        defer { freeaddrinfo(list) }
        var addresses: [SocketAddress] = []
        var cursor = list
        while let entry = cursor {
            if let address = entry.pointee.ai_addr, entry.pointee.ai_addrlen <= MemoryLayout<sockaddr_storage>.size {
                var storage = sockaddr_storage()
                withUnsafeMutableBytes(of: &storage) { raw in
                    raw.baseAddress!.copyMemory(from: address, byteCount: Int(entry.pointee.ai_addrlen))
                }
                let resolved = SocketAddress(storage: storage, length: entry.pointee.ai_addrlen)
                if !addresses.contains(resolved) { addresses.append(resolved) }
            }
            cursor = entry.pointee.ai_next
        }
        if addresses.isEmpty { return .failure(NetworkError(.nameResolution(code: EAI_NONAME), "resolve \(host)")) }
        return .success(addresses)
    }

    /// The address a server listens on for `host`: a numeric address as it is, otherwise the
    /// first address the resolver prefers for the name (RFC 6724: `::1` before `127.0.0.1` for
    /// "localhost" where IPv6 is configured). Blocking for names (`getaddrinfo` reads
    /// /etc/hosts and may query DNS): servers resolve once, before they listen.
    static func listenAddress(host: String, port: UInt16) -> Result<SocketAddress, NetworkError> {
        if let numeric = SocketAddress(ip: host, port: port) { return .success(numeric) }
        return resolve(host: host, port: port).map { $0[0] }
    }

    /// Resolves on a new thread and calls `completion` on `loop`'s thread.
    static func resolveOffLoop(host: String, port: UInt16, loop: EventLoop,
                               completion: @escaping @Sendable (Result<[SocketAddress], NetworkError>) -> Void) {
        let started = spawnDetachedThread {
            let result = resolve(host: host, port: port)
            loop.execute { completion(result) }
        }
        if !started {
            loop.execute { completion(.failure(NetworkError(.system(errno: EAGAIN), "resolve \(host)"))) }
        }
    }
}

extension SocketAddress {
    /// The addresses of `host` (a name such as "localhost", or a numeric address) with `port`,
    /// in the order the system's resolver prefers. Blocking: `getaddrinfo` reads /etc/hosts and
    /// may query DNS, so never call it on a loop thread (`EventLoop.connect(host:…)` resolves
    /// off the loop; `resolve(host:port:) async` runs it off the caller's executor).
    public static func resolve(host: String, port: UInt16) -> Result<[SocketAddress], NetworkError> {
        if let numeric = SocketAddress(ip: host, port: port) { return .success([numeric]) }
        return NameResolver.resolve(host: host, port: port)
    }

    /// The address a server listens on for `host` and `port`: a numeric address as it is, or
    /// the resolver's first address for a name ("localhost" gives `::1` or `127.0.0.1`, whichever
    /// the system prefers). Blocking for names, like `resolve(host:port:)`: every face's servers
    /// (`WebSocketServer(loop:host:port:)`, C `sws_server_new`, Python `serve`) resolve here,
    /// once, before they listen.
    public static func listenAddress(host: String, port: UInt16) throws(NetworkError) -> SocketAddress {
        try NameResolver.listenAddress(host: host, port: port).get()
    }
}

extension EventLoop {
    /// Resolves `host` (a name, or a numeric address: then no thread is started) with `port`
    /// without blocking the loop: `getaddrinfo` runs on a short-lived thread and `completion`
    /// runs on this loop's thread with the addresses in the resolver's order. If the loop has
    /// stopped, `completion` is never called. Thread-safe.
    public func resolve(host: String, port: UInt16,
                        completion: @escaping @Sendable (Result<[SocketAddress], NetworkError>) -> Void) {
        if let numeric = SocketAddress(ip: host, port: port) {
            _ = execute { completion(.success([numeric])) }
            return
        }
        NameResolver.resolveOffLoop(host: host, port: port, loop: self, completion: completion)
    }
}
