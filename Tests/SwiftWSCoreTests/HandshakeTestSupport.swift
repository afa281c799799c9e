import Glibc
import Testing
@testable import SwiftWSCore

/// What feeding a whole handshake head gives, comparable across chunkings: the value and how many
/// bytes in total belonged to the head, or the error.
enum FeedOutcome<Value: Equatable>: Equatable {
    case needMoreBytes
    case complete(Value, headLength: Int)
    case failed(HandshakeError)

    var error: HandshakeError? {
        if case .failed(let error) = self { return error }
        return nil
    }
    var value: Value? {
        if case .complete(let value, _) = self { return value }
        return nil
    }
}

/// Feeds `bytes` in chunks of `chunkSize` (the whole at once when nil) to `step`, stopping at the
/// first completion or error, and totals the bytes the head consumed.
func feed<Value: Equatable>(_ bytes: [UInt8], chunkSize: Int? = nil,
                            _ step: (UnsafeRawBufferPointer) throws(HandshakeError) -> HandshakeProgress<Value>) -> FeedOutcome<Value> {
    let size = max(chunkSize ?? bytes.count, 1)
    var offset = 0
    repeat {
        let end = min(offset + size, bytes.count)
        let chunk = Array(bytes[offset..<end])
        // withUnsafeBytes only rethrows untyped errors, so the outcome travels as a Result.
        let result = chunk.withUnsafeBytes { buffer in Result { () throws(HandshakeError) in try step(buffer) } }
        switch result {
        case .failure(let error):
            return .failed(error)
        case .success(.complete(let value, let consumed)):
            return .complete(value, headLength: offset + consumed)
        case .success(.needMoreBytes):
            break
        }
        offset = end
    } while offset < bytes.count
    return .needMoreBytes
}

/// Server outcome of `text`, checked to be the same whole, byte by byte and in 7-byte chunks.
func serverOutcome(_ text: String, limits: HTTPHeadLimits = HTTPHeadLimits()) -> FeedOutcome<UpgradeRequest> {
    serverOutcome(Array(text.utf8), limits: limits)
}

func serverOutcome(_ bytes: [UInt8], limits: HTTPHeadLimits = HTTPHeadLimits()) -> FeedOutcome<UpgradeRequest> {
    var outcomes: [FeedOutcome<UpgradeRequest>] = []
    for chunkSize in [nil, 1, 7] {
        var handshake = ServerHandshake(limits: limits)
        outcomes.append(feed(bytes, chunkSize: chunkSize) { chunk throws(HandshakeError) in try handshake.receive(chunk) })
    }
    #expect(outcomes.allSatisfy { $0 == outcomes[0] }, "chunking changed the outcome: \(outcomes)")
    return outcomes[0]
}

/// A valid request in the shape of RFC 6455 section 1.2, without the base lines whose header is
/// named in `removing`, and with the `extra` header lines added before the blank line.
func request(method: String = "GET", target: String = "/chat", version: String = "HTTP/1.1",
             removing removed: [String] = [], extra: [String] = []) -> String {
    var lines = [
        "Host: server.example.com",
        "Upgrade: websocket",
        "Connection: Upgrade",
        "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==",
        "Sec-WebSocket-Version: 13",
    ]
    lines.removeAll { line in removed.contains { line.lowercased().hasPrefix($0.lowercased() + ":") } }
    lines += extra
    return "\(method) \(target) \(version)\r\n" + lines.map { $0 + "\r\n" }.joined() + "\r\n"
}

/// Bytes placed so that they end exactly at a page boundary followed by an unreadable page, as
/// picohttpparser's tests do: any read past the end faults at once instead of going unnoticed.
final class GuardedBytes {
    private let mapping: UnsafeMutableRawPointer
    private let mappingSize: Int
    let buffer: UnsafeRawBufferPointer

    init(_ bytes: [UInt8]) {
        let page = Int(sysconf(Int32(_SC_PAGESIZE)))
        let dataPages = (bytes.count + page - 1) / page + 1
        mappingSize = (dataPages + 1) * page
        let raw = mmap(nil, mappingSize, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0)
        guard let raw, raw != MAP_FAILED else { fatalError("mmap failed") }
        mapping = raw
        let guardPage = mapping + dataPages * page
        _ = mprotect(guardPage, page, PROT_NONE)
        let start = guardPage - bytes.count
        bytes.withUnsafeBytes { source in
            if let base = source.baseAddress { start.copyMemory(from: base, byteCount: bytes.count) }
        }
        buffer = UnsafeRawBufferPointer(start: start, count: bytes.count)
    }

    deinit { munmap(mapping, mappingSize) }
}

extension String {
    var bytes: [UInt8] { Array(utf8) }
}

func hex(_ bytes: [UInt8]) -> String {
    let digits = Array("0123456789abcdef")
    return String(bytes.flatMap { [digits[Int($0 >> 4)], digits[Int($0 & 0xF)]] })
}
