@testable import SwiftWSCore

/// Helpers shared by the permessage-deflate test suites.
enum DeflateTestSupport {
    /// Parses `permessage-deflate; a; b=1, other` into elements (test input only: no quoting).
    static func elements(_ header: String) -> [ExtensionOffer] {
        header.split(separator: ",").map { element in
            let parts = element.split(separator: ";").map { $0.trimmingSpaces }
            let parameters = parts.dropFirst().map { part -> ExtensionParameter in
                let pair = part.split(separator: "=", maxSplits: 1).map { $0.trimmingSpaces }
                return ExtensionParameter(pair[0], pair.count > 1 ? pair[1] : nil)
            }
            return ExtensionOffer(name: parts[0], parameters: Array(parameters))
        }
    }

    /// Compresses `message` as one whole message.
    static func compress(_ codec: PerMessageDeflate, _ message: [UInt8]) throws -> [UInt8] {
        let output = DeflateBuffer()
        try message.withUnsafeBytes { try codec.compress(message: $0, into: output) }
        return output.array
    }

    /// Compresses `message` in fragments of the given sizes (the rest in a final fragment).
    static func compressFragments(_ codec: PerMessageDeflate, _ message: [UInt8], sizes: [Int]) throws -> [[UInt8]] {
        var fragments: [[UInt8]] = []
        var offset = 0
        for (index, size) in sizes.enumerated() {
            let end = index == sizes.count - 1 ? message.count : min(offset + size, message.count)
            let output = DeflateBuffer()
            try message[offset..<end].withUnsafeBytes {
                try codec.compress(fragment: $0, isFinal: index == sizes.count - 1, into: output)
            }
            fragments.append(output.array)
            offset = end
        }
        return fragments
    }

    /// Inflates a message given as frame payloads.
    static func decompress(_ codec: PerMessageDeflate, _ fragments: [[UInt8]], limit: Int = 64 << 20) throws(ProtocolError) -> [UInt8] {
        let output = DeflateBuffer()
        for (index, fragment) in fragments.enumerated() {
            let result = fragment.withUnsafeBytes { bytes -> Result<Void, ProtocolError> in
                do throws(ProtocolError) {
                    try codec.decompress(fragment: bytes, isFinal: index == fragments.count - 1,
                                         maximumMessageSize: limit, into: output)
                    return .success(())
                } catch { return .failure(error) }
            }
            try result.get()
        }
        return output.array
    }

    /// The error `body` throws, if any.
    static func protocolError(_ body: () throws -> Void) -> ProtocolError? {
        do { try body(); return nil } catch { return error as? ProtocolError ?? ProtocolError(.abnormalClosure, "not a ProtocolError: \(error)") }
    }

    static func hex(_ text: String) -> [UInt8] {
        let digits = Array(text.utf8.filter { $0 != UInt8(ascii: " ") })
        return stride(from: 0, to: digits.count, by: 2).map { UInt8(String(decoding: digits[$0..<$0 + 2], as: UTF8.self), radix: 16)! }
    }

    /// Deterministic pseudo-random bytes (SplitMix64), so failures reproduce.
    static func randomBytes(_ count: Int, seed: UInt64) -> [UInt8] {
        var state = seed
        var result = [UInt8](repeating: 0, count: count)
        result.withUnsafeMutableBytes { buffer in
            var index = 0
            while index < count {
                state &+= 0x9E37_79B9_7F4A_7C15
                var z = state
                z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
                z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
                z ^= z >> 31
                for shift in stride(from: 0, to: 64, by: 8) where index < count {
                    buffer[index] = UInt8(truncatingIfNeeded: z >> UInt64(shift))
                    index += 1
                }
            }
        }
        return result
    }

    /// Deterministic JSON-ish chat / market-data text of `count` bytes.
    static func textBytes(_ count: Int, seed: UInt64) -> [UInt8] {
        let users = ["alice", "bob", "carol", "dave", "erin", "frank"]
        let words = ["hello", "price", "order", "filled", "cancel", "the", "market", "is", "up", "down", "ok", "thanks"]
        let symbols = ["BTC-USD", "ETH-USD", "AAPL", "MSFT", "EUR-USD"]
        var state = seed | 1
        func next(_ bound: Int) -> Int {
            state ^= state << 13; state ^= state >> 7; state ^= state << 17
            return Int(state % UInt64(bound))
        }
        var text: [UInt8] = []
        text.reserveCapacity(count + 200)
        var sequence = 0
        while text.count < count {
            sequence += 1
            let line: String
            if next(2) == 0 {
                var message = ""
                for _ in 0..<(3 + next(8)) { message += words[next(words.count)] + " " }
                line = "{\"type\":\"chat\",\"seq\":\(sequence),\"user\":\"\(users[next(users.count)])\",\"text\":\"\(message)\"}\n"
            } else {
                line = "{\"type\":\"quote\",\"seq\":\(sequence),\"symbol\":\"\(symbols[next(symbols.count)])\",\"bid\":\(1000 + next(9000)).\(next(100)),\"ask\":\(1000 + next(9000)).\(next(100)),\"size\":\(next(500))}\n"
            }
            text.append(contentsOf: line.utf8)
        }
        return Array(text.prefix(count))
    }
}

extension Substring {
    var trimmingSpaces: String {
        var text = self
        while text.first == " " { text.removeFirst() }
        while text.last == " " { text.removeLast() }
        return String(text)
    }
}
