// swiftws-bench-deflate: permessage-deflate throughput of SwiftWSCore next to raw zlib, and zlib
// memory per connection.
//
//   swift build -c release --product swiftws-bench-deflate
//   taskset -c 1 .build/release/swiftws-bench-deflate [--runs 7] [--megabytes 8] [--level N]
//
// For each corpus (JSON-ish chat/market text generated deterministically, and random bytes) and
// message size (1 KiB, 64 KiB, 1 MiB), a stream of consecutive messages totalling --megabytes is
// compressed and decompressed (context takeover, one connection) by
//   ours: PerMessageDeflate (DeflateBuffer output, trailer handling, size limit), and
//   zlib: deflate/inflate called directly with the same level, window and memLevel, into a
//         preallocated buffer (the floor our layer adds overhead to).
// Throughput is uncompressed MB/s (10^6 bytes), median of --runs runs; "ours/zlib" is the ratio.
import CZlib
import Glibc
import SwiftWSCore

// MARK: Settings

var runs = 7
var megabytes = 8
var inflateOnly = false  // profiling aid: skip the deflate comparison
var only: String?  // "corpus:bytes", e.g. "random:1024", to run one case (profiling)
var levelOverride: Int?  // zlib level instead of the default configuration's (ratio and speed by level)
var arguments = CommandLine.arguments.dropFirst().makeIterator()
while let argument = arguments.next() {
    switch argument {
    case "--runs": runs = Int(arguments.next() ?? "") ?? runs
    case "--megabytes": megabytes = Int(arguments.next() ?? "") ?? megabytes
    case "--case": only = arguments.next()
    case "--inflate-only": inflateOnly = true
    case "--level": levelOverride = Int(arguments.next() ?? "")
    default:
        print("usage: swiftws-bench-deflate [--runs N] [--megabytes N] [--case corpus:bytes] [--inflate-only] [--level N]")
        exit(2)
    }
}
let configuration: PerMessageDeflateConfiguration = {  // the defaults: 12 bits, memLevel 5
    var configuration = PerMessageDeflateConfiguration(compressionThreshold: 0)
    if let levelOverride { configuration.compressionLevel = levelOverride }
    return configuration
}()
let windowBits = Int32(configuration.localMaxWindowBits)
let memoryLevel = Int32(configuration.memoryLevel)
let level = Int32(configuration.compressionLevel)
let parameters = PerMessageDeflateParameters(serverMaxWindowBits: Int(windowBits), clientMaxWindowBits: Int(windowBits))

// MARK: Corpora

/// Deterministic xorshift64.
struct Generator {
    var state: UInt64
    mutating func next() -> UInt64 {
        state ^= state << 13; state ^= state >> 7; state ^= state << 17
        return state
    }
    mutating func below(_ bound: Int) -> Int { Int(next() % UInt64(bound)) }
}

/// Chat messages and market-data quotes as JSON lines, like a trading or chat feed.
func textCorpus(_ count: Int) -> [UInt8] {
    var random = Generator(state: 0x5EED_1234_ABCD_0001)
    let users = ["alice", "bob", "carol", "dave", "erin", "frank", "grace", "heidi", "ivan", "judy"]
    let words = ["hello", "price", "order", "filled", "cancel", "the", "market", "is", "up", "down",
                 "ok", "thanks", "buy", "sell", "limit", "stop", "see", "you", "later", "news"]
    let symbols = ["BTC-USD", "ETH-USD", "AAPL", "MSFT", "EUR-USD", "GOOG", "TSLA", "SOL-USD"]
    var text: [UInt8] = []
    text.reserveCapacity(count + 256)
    var sequence = 1_700_000_000
    while text.count < count {
        sequence += 1 + random.below(3)
        let line: String
        switch random.below(3) {
        case 0:
            var message = ""
            for _ in 0..<(3 + random.below(12)) { message += words[random.below(words.count)] + " " }
            line = "{\"type\":\"chat\",\"id\":\(sequence),\"room\":\"lobby-\(random.below(20))\",\"user\":\"\(users[random.below(users.count)])\",\"text\":\"\(message)\"}\n"
        case 1:
            line = "{\"type\":\"quote\",\"ts\":\(sequence),\"symbol\":\"\(symbols[random.below(symbols.count)])\",\"bid\":\(100 + random.below(90000)).\(random.below(100)),\"ask\":\(100 + random.below(90000)).\(random.below(100)),\"bidSize\":\(random.below(5000)),\"askSize\":\(random.below(5000))}\n"
        default:
            line = "{\"type\":\"trade\",\"ts\":\(sequence),\"symbol\":\"\(symbols[random.below(symbols.count)])\",\"price\":\(100 + random.below(90000)).\(random.below(100)),\"qty\":\(random.below(1000)),\"side\":\"\(random.below(2) == 0 ? "buy" : "sell")\"}\n"
        }
        text.append(contentsOf: line.utf8)
    }
    return Array(text.prefix(count))
}

func randomCorpus(_ count: Int) -> [UInt8] {
    var random = Generator(state: 0x0123_4567_89AB_CDEF)
    var bytes = [UInt8](repeating: 0, count: count)
    for index in 0..<count { bytes[index] = UInt8(truncatingIfNeeded: random.next()) }
    return bytes
}

// MARK: Timing

func now() -> Double {
    var time = timespec()
    clock_gettime(CLOCK_MONOTONIC, &time)
    return Double(time.tv_sec) + Double(time.tv_nsec) / 1e9
}

func median(_ values: [Double]) -> Double {
    let sorted = values.sorted()
    return sorted[sorted.count / 2]
}

/// Median MB/s of `ours` and `raw`, each processing `bytes` uncompressed bytes per repetition.
/// Runs alternate between the two so that machine noise (other builds on a shared box) hits both
/// alike; each run repeats the body until it lasts at least 0.1 s, so short workloads (inflating
/// stored blocks at GB/s) are not timed at the clock's resolution.
func compare(bytes: Int, ours: () -> Void, raw: () -> Void) -> (ours: Double, raw: Double) {
    var repetitions = 1
    while true {  // calibrate on the raw side (also the warm-up for both)
        ours()
        let start = now()
        for _ in 0..<repetitions { raw() }
        if now() - start >= 0.1 { break }
        repetitions *= 2
    }
    var oursRates: [Double] = []
    var rawRates: [Double] = []
    for _ in 0..<runs {
        var start = now()
        for _ in 0..<repetitions { ours() }
        oursRates.append(Double(bytes * repetitions) / (now() - start) / 1e6)
        start = now()
        for _ in 0..<repetitions { raw() }
        rawRates.append(Double(bytes * repetitions) / (now() - start) / 1e6)
    }
    return (median(oursRates), median(rawRates))
}

// MARK: Raw zlib (the reference)

// The z_stream lives behind a pointer (as in our codec), so that neither side pays Swift's
// run-time exclusivity checks on class properties: the baseline is zlib plus nothing.
final class RawDeflate {
    let stream = UnsafeMutablePointer<z_stream>.allocate(capacity: 1)
    let output: UnsafeMutablePointer<Bytef>
    let capacity: Int
    /// - Parameter output: where compressed data goes, `capacity` bytes (from `outputCapacity`).
    init(output: UnsafeMutablePointer<Bytef>, capacity: Int) {
        stream.initialize(to: z_stream())
        precondition(deflateInit2_(stream, level, Z_DEFLATED, -windowBits, memoryLevel, Z_DEFAULT_STRATEGY,
                                   zlibVersion(), Int32(MemoryLayout<z_stream>.size)) == Z_OK)
        self.output = output
        self.capacity = capacity
    }
    deinit { deflateEnd(stream); stream.deallocate() }
    /// Room a message of `maximumInput` bytes may need, sync flush included.
    static func outputCapacity(maximumInput: Int) -> Int { maximumInput + maximumInput / 1000 * 5 + 1024 }
    /// Compresses one message; returns the payload size (sync flush minus the 4-byte trailer).
    func compress(_ message: UnsafeRawBufferPointer) -> Int {
        stream.pointee.next_in = UnsafeMutablePointer(mutating: message.baseAddress?.assumingMemoryBound(to: Bytef.self))
        stream.pointee.avail_in = uInt(message.count)
        stream.pointee.next_out = output
        stream.pointee.avail_out = uInt(capacity)
        let status = deflate(stream, Z_SYNC_FLUSH)
        precondition(status == Z_OK && stream.pointee.avail_in == 0 && stream.pointee.avail_out > 0)
        return capacity - Int(stream.pointee.avail_out) - 4
    }
    func payload(_ message: UnsafeRawBufferPointer) -> [UInt8] {
        let count = compress(message)
        return Array(UnsafeBufferPointer(start: output, count: count))
    }
}

final class RawInflate {
    let stream = UnsafeMutablePointer<z_stream>.allocate(capacity: 1)
    let output: UnsafeMutablePointer<Bytef>
    let capacity: Int
    let trailer = UnsafeMutablePointer<Bytef>.allocate(capacity: 4)
    init(output: UnsafeMutablePointer<Bytef>, capacity: Int) {
        stream.initialize(to: z_stream())
        precondition(inflateInit2_(stream, -windowBits, zlibVersion(), Int32(MemoryLayout<z_stream>.size)) == Z_OK)
        self.output = output
        self.capacity = capacity
        trailer.initialize(from: [0x00, 0x00, 0xFF, 0xFF], count: 4)
    }
    deinit { inflateEnd(stream); stream.deallocate(); trailer.deallocate() }
    func decompress(_ payload: UnsafeRawBufferPointer) -> Int {
        stream.pointee.next_out = output
        stream.pointee.avail_out = uInt(capacity)
        stream.pointee.next_in = UnsafeMutablePointer(mutating: payload.baseAddress?.assumingMemoryBound(to: Bytef.self))
        stream.pointee.avail_in = uInt(payload.count)
        precondition(inflate(stream, Z_SYNC_FLUSH) == Z_OK || payload.isEmpty)
        stream.pointee.next_in = trailer
        stream.pointee.avail_in = 4
        _ = inflate(stream, Z_SYNC_FLUSH)
        return capacity - Int(stream.pointee.avail_out)
    }
}

// MARK: Benchmark

let totalBytes = megabytes << 20
let corpora: [(String, [UInt8])] = [("text", textCorpus(totalBytes)), ("random", randomCorpus(totalBytes))]
let sizes = [(1 << 10, "1 KiB"), (64 << 10, "64 KiB"), (1 << 20, "1 MiB")]

func pad(_ text: String, _ width: Int) -> String {
    text.count >= width ? text : String(repeating: " ", count: width - text.count) + text
}
func format(_ value: Double, _ decimals: Int = 1) -> String {
    var scaled = (value * pow(10, Double(decimals))).rounded() / pow(10, Double(decimals))
    if scaled == -0.0 { scaled = 0 }
    return String(scaled)
}

print("permessage-deflate throughput: SwiftWSCore vs raw zlib \(String(cString: zlibVersion()))")
print("window \(windowBits) bits, memLevel \(memoryLevel), level \(level), context takeover; \(megabytes) MiB per run, median of \(runs) runs; MB/s of uncompressed data")
print("")
print([pad("corpus", 7), pad("msg", 7), pad("ratio", 7), pad("deflate ours", 13), pad("zlib", 8), pad("ours/zlib", 10),
       pad("inflate ours", 13), pad("zlib", 8), pad("ours/zlib", 10)].joined(separator: " "))

var worstRatio = Double.infinity
for (name, corpus) in corpora {
    for (size, label) in sizes where only == nil || only == "\(name):\(size)" {
        let count = corpus.count / size
        let bytes = count * size
        // Compressed payloads (made by raw zlib; ours gives the same bytes) for the inflate runs.
        // Output buffers live across runs on both sides (steady state: a connection keeps its
        // buffers); each run starts a fresh zlib stream on both sides (deflateInit/inflateInit
        // for raw zlib, a new PerMessageDeflate for ours), since the messages form one stream.
        let rawCapacity = RawDeflate.outputCapacity(maximumInput: size)
        let rawOutput = UnsafeMutablePointer<Bytef>.allocate(capacity: rawCapacity)
        defer { rawOutput.deallocate() }
        let oursOutput = DeflateBuffer()
        let reference = RawDeflate(output: rawOutput, capacity: rawCapacity)
        // Stored back to back in one array (payload i = flat[offsets[i]..<offsets[i + 1]]), so
        // that iterating them costs no reference counting on either side.
        var flat: [UInt8] = []
        var offsets = [0]
        corpus.withUnsafeBytes { all in
            for index in 0..<count {
                flat += reference.payload(UnsafeRawBufferPointer(rebasing: all[index * size..<(index + 1) * size]))
                offsets.append(flat.count)
            }
        }
        let compressedBytes = flat.count

        let (oursDeflate, rawDeflate) = inflateOnly ? (1, 1) : compare(bytes: bytes, ours: {
            let codec = PerMessageDeflate(parameters: parameters, role: .server, configuration: configuration)
            let output = oursOutput
            corpus.withUnsafeBytes { all in
                for index in 0..<count {
                    output.removeAll()
                    try! codec.compress(message: UnsafeRawBufferPointer(rebasing: all[index * size..<(index + 1) * size]), into: output)
                }
            }
        }, raw: {
            let raw = RawDeflate(output: rawOutput, capacity: rawCapacity)
            corpus.withUnsafeBytes { all in
                for index in 0..<count {
                    _ = raw.compress(UnsafeRawBufferPointer(rebasing: all[index * size..<(index + 1) * size]))
                }
            }
        })
        let (oursInflate, rawInflate) = compare(bytes: bytes, ours: {
            let codec = PerMessageDeflate(parameters: parameters, role: .client, configuration: configuration)
            let output = oursOutput
            flat.withUnsafeBytes { all in
                for index in 0..<count {
                    output.removeAll()
                    let payload = UnsafeRawBufferPointer(rebasing: all[offsets[index]..<offsets[index + 1]])
                    try! codec.decompress(fragment: payload, isFinal: true, maximumMessageSize: 16 << 20, into: output)
                    precondition(output.count == size)
                }
            }
        }, raw: {
            let raw = RawInflate(output: rawOutput, capacity: rawCapacity)
            flat.withUnsafeBytes { all in
                for index in 0..<count {
                    let payload = UnsafeRawBufferPointer(rebasing: all[offsets[index]..<offsets[index + 1]])
                    precondition(raw.decompress(payload) == size)
                }
            }
        })
        worstRatio = min(worstRatio, oursDeflate / rawDeflate, oursInflate / rawInflate)
        print([pad(name, 7), pad(label, 7), pad(format(Double(compressedBytes) / Double(bytes), 3), 7),
               pad(format(oursDeflate), 13), pad(format(rawDeflate), 8), pad(format(100 * oursDeflate / rawDeflate, 0) + "%", 10),
               pad(format(oursInflate), 13), pad(format(rawInflate), 8), pad(format(100 * oursInflate / rawInflate, 0) + "%", 10)]
            .joined(separator: " "))
    }
}
print("")
print("worst ours/zlib: \(format(100 * worstRatio, 0))% (target >= 90%)")

// MARK: Memory per connection

/// zlib bytes one connection holds after sending and receiving one 64 KiB text message.
func memory(_ configuration: PerMessageDeflateConfiguration, bits: Int, noContextTakeover: Bool = false) -> Int {
    let parameters = PerMessageDeflateParameters(serverNoContextTakeover: noContextTakeover, clientNoContextTakeover: noContextTakeover,
                                                 serverMaxWindowBits: bits, clientMaxWindowBits: bits)
    let server = PerMessageDeflate(parameters: parameters, role: .server, configuration: configuration)
    let client = PerMessageDeflate(parameters: parameters, role: .client, configuration: configuration)
    let message = Array(corpora[0].1.prefix(64 << 10))
    let wire = DeflateBuffer()
    let output = DeflateBuffer()
    message.withUnsafeBytes { try! client.compress(message: $0, into: wire) }
    try! server.decompress(fragment: wire.bytes, isFinal: true, maximumMessageSize: 1 << 20, into: output)
    message.withUnsafeBytes { try! server.compress(message: $0, into: wire) }
    return server.zlibMemoryBytes
}

print("")
print("zlib memory per connection (deflate + inflate state after one 64 KiB message each way, counted by zalloc):")
let defaults = PerMessageDeflateConfiguration()
print("  defaults (window 12, memLevel 5):          \(memory(defaults, bits: 12)) bytes")
print("  window 15, memLevel 8 (zlib defaults):     \(memory(.init(memoryLevel: 8), bits: 15)) bytes")
print("  defaults + no context takeover both ways:  \(memory(defaults, bits: 12, noContextTakeover: true)) bytes between messages")
print("  (idle connection that never compressed:    0 bytes; state is allocated on first use)")
