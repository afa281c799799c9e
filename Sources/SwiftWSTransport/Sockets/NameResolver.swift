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
