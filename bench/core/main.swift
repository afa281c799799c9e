// swiftws-bench-core: receive-path throughput of the protocol core.
//
// A server `Session` receives masked text messages (parse + unmask in place + UTF-8 validation +
// delivery of a borrowed buffer) from a read buffer, as the event loop would feed it. Reported in
// GB/s of payload, next to `memcpy` of the same buffer (the physical limit: every byte read and
// written once), with the ratio. Median of 7 repetitions, clock_gettime(CLOCK_MONOTONIC).
//
// The frames are masked with the key 00 00 00 00: a legal key the receiver cannot tell from any
// other (it XORs just the same), which leaves the buffer unchanged after unmasking in place, so
// the same buffer can be fed again without a restoring copy inside the timed loop.
//
// A second table times UTF-8 validation alone (`UTF8Validator.validate`) on ASCII, mixed, Polish,
// Russian and Chinese text from 16 B to 64 KiB, with the vector pass and without it (the scalar
// validator: what every text took before the vector pass), in the same run: median GB/s, the
// spread (min-max of the repetitions) and the ratio of medians.
//
//   swift run -c release swiftws-bench-core            (pin it: taskset -c 1 .build/release/swiftws-bench-core)
//   swiftws-bench-core utf8                            (only the UTF-8 table)
import Glibc
@_spi(Benchmarks) import SwiftWSCore

func now() -> Double {
    var ts = timespec()
    clock_gettime(CLOCK_MONOTONIC, &ts)
    return Double(ts.tv_sec) + Double(ts.tv_nsec) / 1e9
}

func median(_ values: [Double]) -> Double { values.sorted()[values.count / 2] }

/// A read buffer holding `count` masked text frames of `size` payload bytes.
/// `mixed`: text in which about half the bytes belong to 2-, 3- and 4-byte characters, to show
/// the validator's multi-byte path (otherwise printable ASCII, like JSON chat or market data).
func makeBuffer(messageSize size: Int, count: Int, mixed: Bool = false) -> [UInt8] {
    var text: [UInt8]
    if mixed {
        let pattern = Array("price: 12€, naïve café, 𝄞 музыка; ".utf8)
        text = (0..<size).map { pattern[$0 % pattern.count] }
        // Cut back to a character boundary so the message stays valid UTF-8.
        while let last = text.last, last & 0xC0 == 0x80 || last >= 0xC0 { text.removeLast() }
        while text.count < size { text.append(UInt8(ascii: " ")) }
    } else {
        text = (0..<size).map { UInt8(ascii: "a") + UInt8($0 % 26) }
    }
    var buffer: [UInt8] = []
    buffer.reserveCapacity(count * (size + 14))
    for _ in 0..<count {
        text.withUnsafeBytes { FrameEncoder.encodeFrame(into: &buffer, opcode: .text, payload: $0, maskKey: 0) }
    }
    return buffer
}

struct Row {
    var label: String
    var oursPayload: Double
    var oursWire: Double
    var memcpy: Double
    var nanosecondsPerMessage: Double
}

let repetitions = 7
let targetBytesPerRepetition = 256 << 20  // payload per repetition: long enough to time well
var rows: [Row] = []
var sink = 0

// Optional arguments pick sizes by label, e.g. `swiftws-bench-core 16B 1MiB` (for profiling).
let only = Set(CommandLine.arguments.dropFirst())
for (label, size, perBuffer, mixed) in [("16 B", 16, 16384, false), ("1 KiB", 1024, 256, false),
                                       ("64 KiB", 65536, 4, false), ("1 MiB", 1 << 20, 1, false),
                                       ("64 KiB*", 65536, 4, true)]
    where only.isEmpty || only.contains(String(label.filter { $0 != " " })) {
    var buffer = makeBuffer(messageSize: size, count: perBuffer, mixed: mixed)
    let payloadPerBuffer = size * perBuffer
    let rounds = max(1, targetBytesPerRepetition / payloadPerBuffer)
    let session = Session(configuration: SessionConfiguration(role: .server))
    var destination = [UInt8](repeating: 0, count: buffer.count)

    var ours: [Double] = []
    var copies: [Double] = []
    for _ in 0..<repetitions {
        var delivered = 0
        let start = now()
        buffer.withUnsafeMutableBytes { raw in
            for _ in 0..<rounds {
                session.receive(raw) { event in
                    if case .text(let bytes) = event { delivered &+= bytes.count }
                }
            }
        }
        let elapsed = now() - start
        precondition(delivered == payloadPerBuffer * rounds, "session did not deliver every message")
        ours.append(elapsed)

        let copyStart = now()
        buffer.withUnsafeBytes { source in
            destination.withUnsafeMutableBytes { target in
                for round in 0..<rounds {
                    memcpy(target.baseAddress!, source.baseAddress!, source.count)
                    sink &+= Int(target[round % target.count])
                }
            }
        }
        copies.append(now() - copyStart)
    }
    let payloadBytes = Double(payloadPerBuffer * rounds)
    let wireBytes = Double(buffer.count * rounds)
    rows.append(Row(label: label, oursPayload: payloadBytes / median(ours) / 1e9,
                    oursWire: wireBytes / median(ours) / 1e9, memcpy: wireBytes / median(copies) / 1e9,
                    nanosecondsPerMessage: median(ours) * 1e9 / Double(perBuffer * rounds)))
}

func pad(_ text: String, _ width: Int) -> String { String(repeating: " ", count: max(0, width - text.count)) + text }
func format(_ value: Double) -> String {
    let hundredths = Int((value * 100).rounded())
    return "\(hundredths / 100).\(hundredths % 100 < 10 ? "0" : "")\(hundredths % 100)"
}

if !rows.isEmpty {
    print("receive path: parse + unmask + UTF-8 validate, server session, masked ASCII text (median of \(repetitions))")
    print(pad("message", 8) + pad("ours GB/s payload", 19) + pad("ours GB/s wire", 16) + pad("memcpy GB/s", 13) + pad("ratio", 8) + pad("ns/message", 12))
    for row in rows {
        print(pad(row.label, 8) + pad(format(row.oursPayload), 19) + pad(format(row.oursWire), 16)
              + pad(format(row.memcpy), 13) + pad("\(Int((row.oursPayload / row.memcpy * 100).rounded()))%", 8)
              + pad(format(row.nanosecondsPerMessage), 12))
    }
}

// UTF-8 validation alone, scalar (before) and with the vector pass (after), side by side.
let utf8Samples: [(String, String)] = [
    ("ASCII", "{\"user\": \"ann\", \"text\": \"see you at 5, bring the charts\"} "),
    ("mixed", "price: 12€, naïve café, 𝄞 музыка; "),
    ("Polish", "Zażółć gęślą jaźń. Pchnąć w tę łódź jeża lub ośm skrzyń fig. "),
    ("Russian", "Съешь же ещё этих мягких французских булок, да выпей чаю. "),
    ("Chinese", "我能吞下玻璃而不伤身体。天地玄黄，宇宙洪荒。日月盈昃，辰宿列张。"),
]

/// `size` bytes of whole characters of `sample`, repeated, padded with spaces.
func utf8Text(_ sample: String, size: Int) -> [UInt8] {
    var text: [UInt8] = []
    let characters = sample.unicodeScalars.map { Array(String($0).utf8) }
    var next = 0
    while text.count + characters[next % characters.count].count <= size {
        text += characters[next % characters.count]
        next += 1
    }
    return text + [UInt8](repeating: UInt8(ascii: " "), count: size - text.count)
}

/// Keeps the optimiser from hoisting a validation of unchanged bytes out of the timing loop.
@_optimize(none) func opaque(_ pointer: UnsafeRawPointer?) {}

@inline(never) func validateOnce(_ bytes: UnsafeRawBufferPointer, vectorized: Bool, avx2: Bool) -> Bool {
    var validator = UTF8Validator()
    return validator.benchmarkValidate(bytes, vectorized: vectorized, avx2: avx2) == nil && validator.isAtBoundary
}

/// GB/s of one repetition validating `text` about 32 MB worth of times.
func utf8Rate(_ text: [UInt8], vectorized: Bool, avx2: Bool = false) -> Double {
    let rounds = max(1, (32 << 20) / text.count)
    return text.withUnsafeBytes { bytes in
        let start = now()
        var valid = 0
        for _ in 0..<rounds {
            opaque(bytes.baseAddress)
            if validateOnce(bytes, vectorized: vectorized, avx2: avx2) { valid &+= 1 }
        }
        let elapsed = now() - start
        precondition(valid == rounds, "the sample text is not valid UTF-8")
        return Double(text.count * rounds) / elapsed / 1e9
    }
}

if only.isEmpty || only.contains("utf8") {
    print("")
    print("UTF-8 validation alone, GB/s: median (min-max) of \(repetitions), scalar = before the vector pass,")
    print("vector = its portable SSE2 form, avx2 = its AVX2 form where the CPU has it (else the same as vector)")
    print(pad("text", 8) + pad("size", 7) + pad("scalar", 20) + pad("vector", 20) + pad("avx2", 20)
          + pad("vector/scalar", 14) + pad("avx2/vector", 12))
    for size in [16, 64, 100, 256, 1024, 65536] {
        for (name, sample) in utf8Samples {
            let text = utf8Text(sample, size: size)
            // Interleaved, so that both see the same load on this shared machine.
            var before: [Double] = [], after: [Double] = [], avx2: [Double] = []
            for _ in 0..<repetitions {
                before.append(utf8Rate(text, vectorized: false))
                after.append(utf8Rate(text, vectorized: true))
                avx2.append(utf8Rate(text, vectorized: true, avx2: true))
            }
            func cell(_ rates: [Double]) -> String {
                "\(format(median(rates))) (\(format(rates.min()!))-\(format(rates.max()!)))"
            }
            print(pad(name, 8) + pad("\(size)", 7) + pad(cell(before), 20) + pad(cell(after), 20) + pad(cell(avx2), 20)
                  + pad(format(median(after) / median(before)), 14) + pad(format(median(avx2) / median(after)), 12))
        }
    }
}

// Per-connection memory: the session object itself (its buffers are allocated on first use:
// reassembly only for fragmented/split messages, output only once something is sent).
@_silgen_name("malloc_usable_size") func mallocUsableSize(_ pointer: UnsafeMutableRawPointer?) -> Int  // <malloc.h>
let idle = Session(configuration: SessionConfiguration(role: .server))
print("idle server Session object: \(mallocUsableSize(Unmanaged.passUnretained(idle).toOpaque())) bytes (malloc_usable_size), no buffers allocated")
print("* non-ASCII text: about half the bytes in 2-4 byte characters (validator's multi-byte path)")
if sink == -1 { print(sink) }
