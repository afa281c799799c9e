import Glibc
import CHiredis

/// One connection to a Redis server, driven by an `EventLoop`: the socket is one of the loop's
/// non-blocking streams (in its epoll set, corked and flushed like any other), hiredis formats
/// the commands (`redisFormatCommandArgv`) and parses the replies (`redisReader`), so nothing
/// ever blocks the loop. Loop-thread only.
package final class RedisConnection {
    /// A reply (or, on a subscribed connection, a pushed message) from Redis.
    package indirect enum Reply: Equatable, Sendable {
        case status(String)
        case error(String)
        case integer(Int)
        case bulk([UInt8])
        case null
        case array([Reply])
    }

    /// Each reply, in order.
    package var onReply: ((Reply) -> Void)?
    /// Called once when the connection ends (either side, or a reply hiredis cannot parse).
    package var onClose: (() -> Void)?

    private let stream: SocketStream
    private let hiredis: Hiredis
    private let reader: UnsafeMutablePointer<redisReader>
    private var isClosed = false

    private init(stream: SocketStream, hiredis: Hiredis, reader: UnsafeMutablePointer<redisReader>) {
        self.stream = stream
        self.hiredis = hiredis
        self.reader = reader
    }

    deinit {
        stream.onRead = nil
        stream.onClose = nil
        stream.close()
        hiredis.readerFree(reader)
    }

    /// Connects to `host`:`port` (numeric, or a name resolved off the loop thread). `completion`
    /// runs once on the loop thread, after this call returns: the connection, or why not (hiredis
    /// not installed, connection refused, `.timedOut` after `timeout`).
    package static func connect(loop: EventLoop, host: String, port: UInt16, timeout: Duration,
                                completion: @escaping (Result<RedisConnection, NetworkError>) -> Void) {
        let hiredis: Hiredis
        switch Hiredis.shared {
        case .success(let loaded): hiredis = loaded
        case .failure(let error): return loop.deferCallback { completion(.failure(error)) }
        }
        loop.connect(host: host, port: port, timeout: timeout) { result in
            switch result {
            case .failure(let error):
                completion(.failure(error))
            case .success(let stream):
                guard let reader = hiredis.readerCreate() else {
                    stream.close()
                    return completion(.failure(NetworkError(.redis(message: "out of memory"), "redisReaderCreate")))
                }
                let connection = RedisConnection(stream: stream, hiredis: hiredis, reader: reader)
                connection.attach()
                completion(.success(connection))
            }
        }
    }

    private func attach() {
        // Weak: the stream's close notification may come after the owner released us.
        stream.onRead = { [weak self] bytes in self?.received(UnsafeRawBufferPointer(bytes)) }
        stream.onClose = { [weak self] _ in self?.finished() }
    }

    /// Sends one command ("SUBSCRIBE", "chan", …); its reply arrives through `onReply` in order.
    /// Returns false when the connection is closed.
    @discardableResult
    package func send(_ arguments: [[UInt8]]) -> Bool {
        guard !isClosed, !arguments.isEmpty else { return false }
        var command: UnsafeMutablePointer<CChar>?
        let length = withArgumentPointers(arguments) { pointers, lengths in
            hiredis.formatArgv(&command, Int32(arguments.count), pointers, lengths)
        }
        guard length > 0, let command else { return false }
        defer { hiredis.freeCommand(command) }
        return stream.write(UnsafeRawBufferPointer(start: command, count: Int(length)))
    }

    /// Sends one command given as strings.
    @discardableResult
    package func send(_ arguments: String...) -> Bool {
        send(arguments.map { Array($0.utf8) })
    }

    /// Closes the connection; `onClose` runs (deferred) if it had not yet.
    package func close() {
        stream.close()
    }

    private func received(_ bytes: UnsafeRawBufferPointer) {
        guard !isClosed, bytes.count > 0 else { return }
        let fed = hiredis.readerFeed(reader, bytes.baseAddress!.assumingMemoryBound(to: CChar.self), bytes.count)
        guard fed == REDIS_OK else { return stream.abort() }
        while !isClosed {
            var raw: UnsafeMutableRawPointer?
            guard hiredis.readerGetReply(reader, &raw) == REDIS_OK else { return stream.abort() }
            guard let raw else { return }
            let reply = Self.convert(raw.assumingMemoryBound(to: redisReply.self))
            hiredis.freeReply(raw)
            onReply?(reply)
        }
    }

    private func finished() {
        guard !isClosed else { return }
        isClosed = true
        let handler = onClose
        onReply = nil
        onClose = nil
        handler?()
    }

    private static func convert(_ reply: UnsafeMutablePointer<redisReply>) -> Reply {
        let value = reply.pointee
        func text() -> String {
            guard let str = value.str else { return "" }
            return String(decoding: UnsafeRawBufferPointer(start: str, count: value.len), as: UTF8.self)
        }
        switch value.type {
        case REDIS_REPLY_STATUS: return .status(text())
        case REDIS_REPLY_ERROR: return .error(text())
        case REDIS_REPLY_INTEGER: return .integer(Int(value.integer))
        case REDIS_REPLY_STRING:
            guard let str = value.str else { return .bulk([]) }
            return .bulk(Array(UnsafeRawBufferPointer(start: str, count: value.len)))
        case REDIS_REPLY_ARRAY:
            return .array((0..<value.elements).map { convert(value.element[$0]!) })
        default: return .null
        }
    }
}

/// Calls `body` with C pointers to `arguments` and their lengths (valid during the call).
private func withArgumentPointers<R>(_ arguments: [[UInt8]],
                                     _ body: (UnsafeMutablePointer<UnsafePointer<CChar>?>, UnsafePointer<Int>) -> R) -> R {
    let storage = UnsafeMutableRawBufferPointer.allocate(byteCount: arguments.reduce(0) { $0 + $1.count } + 1, alignment: 1)
    defer { storage.deallocate() }
    var pointers: [UnsafePointer<CChar>?] = []
    var lengths: [Int] = []
    var offset = 0
    for argument in arguments {
        let start = storage.baseAddress! + offset
        argument.withUnsafeBytes { UnsafeMutableRawBufferPointer(start: start, count: $0.count).copyMemory(from: $0) }
        pointers.append(UnsafePointer(start.assumingMemoryBound(to: CChar.self)))
        lengths.append(argument.count)
        offset += argument.count
    }
    return pointers.withUnsafeMutableBufferPointer { p in lengths.withUnsafeBufferPointer { l in body(p.baseAddress!, l.baseAddress!) } }
}
