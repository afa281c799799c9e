// Sends one large binary message (default 100 MiB) in 64 KiB fragments made as they are sent,
// so memory stays bounded whatever the size: each fragment waits while the connection's output
// is above its high-water mark (1 MiB), the peer's pace. Then prints the peer's answer, and the
// process's peak memory.
//   swift run StreamClient ws://localhost:9003/ [MiB]
import Glibc
import SwiftWS

let url = CommandLine.arguments.dropFirst().first ?? "ws://localhost:9003/"
let mebibytes = CommandLine.arguments.dropFirst(2).first.flatMap { Int($0) } ?? 100

/// The message, fragment by fragment: byte i of the message is i % 251 (the peer checks it).
struct Fragments: AsyncSequence {
    let total: Int
    let size = 64 * 1024

    struct AsyncIterator: AsyncIteratorProtocol {
        let total: Int
        let size: Int
        var offset = 0

        mutating func next() async -> [UInt8]? {
            guard offset < total else { return nil }
            let count = Swift.min(size, total - offset)
            let start = offset
            offset += count
            return [UInt8](unsafeUninitializedCapacity: count) { buffer, initialized in
                for index in 0..<count { buffer[index] = UInt8((start + index) % 251) }
                initialized = count
            }
        }
    }

    func makeAsyncIterator() -> AsyncIterator { AsyncIterator(total: total, size: size) }
}

let socket = try await AsyncWebSocket.connect(url)
let started = ContinuousClock.now
try await socket.send(.binary, fragments: Fragments(total: mebibytes << 20))
print("sent \(mebibytes) MiB in \(started.duration(to: .now))")
print("peer:", try await socket.receive())
await socket.close()

var usage = rusage()
getrusage(RUSAGE_SELF.rawValue, &usage)
print("peak memory: \(usage.ru_maxrss / 1024) MiB")
