import Glibc
import Testing
@testable import SwiftWS

/// Bounds an async test: fails instead of hanging when `body` does not finish in time.
func withTimeout<T: Sendable>(seconds: Int = 10, _ body: @escaping @Sendable () async throws -> T) async throws -> T {
    try await withThrowingTaskGroup(of: T?.self) { group in
        group.addTask { try await body() }
        group.addTask {
            try await Task.sleep(for: .seconds(seconds))
            return nil
        }
        guard let first = try await group.next(), let value = first else {
            group.cancelAll()
            throw TimedOut()
        }
        group.cancelAll()
        return value
    }
}

struct TimedOut: Error {}

/// The error `body` threw, which must be a `WebSocketError` (nil if it did not throw).
func webSocketError(_ body: () async throws -> Void) async -> WebSocketError? {
    do {
        try await body()
        return nil
    } catch let error as WebSocketError {
        return error
    } catch {
        Issue.record("not a WebSocketError: \(error)")
        return nil
    }
}

/// The repository's root (this file is Tests/SwiftWSTests/AsyncTestSupport.swift).
let repositoryRoot: String = {
    var parts = #filePath.split(separator: "/", omittingEmptySubsequences: false)
    parts.removeLast(3)
    return parts.joined(separator: "/")
}()

/// Certificates made once per test process by Tests/Peers/make_test_certs.sh (openssl CLI).
enum AsyncTestCertificates {
    static let directory: String = {
        let path = "/tmp/swiftws-async-tls-\(getpid())"
        let status = system("sh '\(repositoryRoot)/Tests/Peers/make_test_certs.sh' '\(path)'")
        precondition(status == 0, "make_test_certs.sh failed")
        return path
    }()
}

/// One plain HTTP/1.1 exchange over a blocking TCP socket to 127.0.0.1 (bounded by a 5 s
/// receive timeout): the whole response text, read until the server closes.
func plainHTTPExchange(port: UInt16, request: String) -> String {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    guard fd >= 0 else { return "" }
    defer { close(fd) }
    var timeout = timeval(tv_sec: 5, tv_usec: 0)
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_port = port.bigEndian
    address.sin_addr.s_addr = inet_addr("127.0.0.1")
    let connected = withUnsafePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
    }
    guard connected == 0 else { return "" }
    let bytes = Array(request.utf8)
    _ = bytes.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
    var response: [UInt8] = []
    var buffer = [UInt8](repeating: 0, count: 4096)
    while true {
        let count = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
        if count <= 0 { break }
        response += buffer[0..<count]
    }
    return String(decoding: response, as: UTF8.self)
}

/// Writes `request` to the Unix socket at `path` and returns what comes back until the first
/// blank line (the response head), bounded by a 5 s receive timeout.
func unixSocketExchange(path: String, request: String) -> String {
    let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
    guard fd >= 0 else { return "" }
    defer { close(fd) }
    var timeout = timeval(tv_sec: 5, tv_usec: 0)
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
    var address = sockaddr_un()
    address.sun_family = sa_family_t(AF_UNIX)
    withUnsafeMutableBytes(of: &address.sun_path) { raw in
        for (index, byte) in path.utf8.prefix(raw.count - 1).enumerated() { raw[index] = byte }
    }
    let connected = withUnsafePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
    }
    guard connected == 0 else { return "" }
    let bytes = Array(request.utf8)
    _ = bytes.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
    var response: [UInt8] = []
    var buffer = [UInt8](repeating: 0, count: 4096)
    while !response.ends(with: Array("\r\n\r\n".utf8)) {
        let count = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
        if count <= 0 { break }
        response += buffer[0..<count]
    }
    return String(decoding: response, as: UTF8.self)
}

extension Array where Element: Equatable {
    func ends(with suffix: [Element]) -> Bool { count >= suffix.count && Array(self[(count - suffix.count)...]) == suffix }
}

/// `count` bytes of an endless pattern, from position `offset` (so that a message cut into
/// pieces is the concatenation of its pieces' patterns, and order errors show).
func pattern(_ count: Int, offset: Int = 0) -> [UInt8] {
    [UInt8](unsafeUninitializedCapacity: count) { buffer, initialized in
        for index in 0..<count { buffer[index] = UInt8(truncatingIfNeeded: (offset &+ index) &* 31 &+ (offset &+ index) >> 8) }
        initialized = count
    }
}

/// `count` fragments of `size` bytes of `pattern`, made one at a time as they are asked for.
struct PatternFragments: AsyncSequence, Sendable {
    let size: Int
    let count: Int

    struct AsyncIterator: AsyncIteratorProtocol {
        let size: Int
        let count: Int
        var index = 0

        mutating func next() async -> [UInt8]? {
            guard index < count else { return nil }
            defer { index += 1 }
            return pattern(size, offset: index * size)
        }
    }

    func makeAsyncIterator() -> AsyncIterator { AsyncIterator(size: size, count: count) }
}
