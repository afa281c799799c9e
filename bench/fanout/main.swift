// swiftws-bench-fanout: the scale benchmark's two sides (issue 15), driven by bench/fanout/run.sh.
//
//   swiftws-bench-fanout server [--loops N] [--compression none|takeover|shared] [--redis URL]
//       A topic server: connections to /pub publish each message to topic "t"; every other
//       connection subscribes to "t". Prints `listening on 127.0.0.1:PORT`, runs until SIGTERM.
//       takeover: permessage-deflate as negotiated by default (a context per connection, so a
//       publish goes out uncompressed to them); shared: the server imposes
//       server_no_context_takeover, so one compressed frame serves every subscriber.
//   swiftws-bench-fanout fanout --port P --pid PID [--subscribers N] [--messages M] [--size S] [--deflate]
//       N subscribers and one publisher; M messages of S bytes, at most 4 in flight (a message is
//       done when every subscriber has it). Prints deliveries per second and the server's CPU time
//       per delivery (from /proc/PID/stat), plus the server's resident memory.
//   swiftws-bench-fanout latency --publish-port A --subscribe-port B [--messages M]
//       One subscriber on node B, a publisher on node A (joined through Redis): publish → delivery
//       latency, p50 and p99, one message every 2 ms.
//   swiftws-bench-fanout ratio
//       Compressed size of a chat-like JSON stream with and without context takeover.
import Glibc
import SwiftWS

func say(_ line: String) {
    var bytes = Array((line + "\n").utf8)
    var offset = 0
    while offset < bytes.count {
        let written = bytes.withUnsafeMutableBytes { write(1, $0.baseAddress! + offset, $0.count - offset) }
        if written <= 0 { return }
        offset += written
    }
}

func fail(_ message: String) -> Never {
    say("swiftws-bench-fanout: \(message)")
    exit(1)
}

/// `--flag value` pairs and bare `--flags` after the subcommand.
struct Flags {
    var values: [String: String] = [:]
    var switches: Set<String> = []
    init(_ arguments: ArraySlice<String>) {
        var iterator = arguments.makeIterator()
        while let flag = iterator.next() {
            if flag == "--deflate" { switches.insert(flag); continue }
            guard let value = iterator.next() else { fail("\(flag) needs a value") }
            values[flag] = value
        }
    }
    func int(_ flag: String, _ fallback: Int) -> Int { values[flag].flatMap { Int($0) } ?? fallback }
}

/// CPU seconds (user + system) a process has used, from /proc/PID/stat.
func cpuSeconds(pid: Int) -> Double {
    guard let file = fopen("/proc/\(pid)/stat", "r") else { return .nan }
    defer { fclose(file) }
    var buffer = [CChar](repeating: 0, count: 1024)
    guard fgets(&buffer, 1024, file) != nil else { return .nan }
    let text = String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    // Fields after the command name (which is in parentheses): utime is the 14th, stime the 15th.
    guard let close = text.lastIndex(of: ")") else { return .nan }
    let fields = text[text.index(after: close)...].split(separator: " ")
    let ticks = Double(sysconf(Int32(_SC_CLK_TCK)))
    return ((Double(fields[11]) ?? .nan) + (Double(fields[12]) ?? .nan)) / ticks
}

/// Resident memory of a process in bytes, from /proc/PID/status.
func residentBytes(pid: Int) -> Int {
    guard let file = fopen("/proc/\(pid)/status", "r") else { return -1 }
    defer { fclose(file) }
    var line = [CChar](repeating: 0, count: 256)
    while fgets(&line, 256, file) != nil {
        let text = String(decoding: line.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
        if text.hasPrefix("VmRSS:") { return (Int(text.split(separator: " ").dropFirst().first ?? "") ?? -1) * 1024 }
    }
    return -1
}

func nanoseconds() -> UInt64 {
    var now = timespec()
    clock_gettime(CLOCK_MONOTONIC, &now)
    return UInt64(now.tv_sec) * 1_000_000_000 + UInt64(now.tv_nsec)
}

// MARK: server

func runServer(_ flags: Flags) {
    var options = ServerOptions()
    options.loops = flags.int("--loops", 1)
    options.listen.backlog = 16384
    options.connection.maxBufferedAmount = 64 << 20
    switch flags.values["--compression"] ?? "none" {
    case "none": options.connection.perMessageDeflate = .disabled
    case "takeover": break
    case "shared": options.connection.perMessageDeflate.localNoContextTakeover = true
    default: fail("--compression is none, takeover or shared")
    }
    if let url = flags.values["--redis"] {
        do { options.redis = try RedisOptions(url: url) } catch { fail("\(error)") }
    }
    let loop: EventLoop
    let server: WebSocketServer
    do {
        loop = try EventLoop()
        server = try WebSocketServer(loop: loop, host: "127.0.0.1", port: UInt16(flags.int("--port", 0)), options: options)
    } catch {
        fail("\(error)")
    }
    server.handlers.onOpen = { connection in
        if connection.path != "/pub" { server.subscribe(connection, to: "t") }
    }
    server.handlers.onMessage = { connection, kind, bytes in
        guard connection.path == "/pub" else { return }
        if kind == .text {
            server.publish("t", text: String(decoding: bytes, as: UTF8.self))
        } else {
            server.publish("t", binary: Array(bytes))
        }
    }
    loop.stopOnTerminationSignals()
    say("listening on 127.0.0.1:\(server.localAddress.port ?? 0)")
    loop.run()
    server.shutdown(timeout: .seconds(2)) { loop.stop() }
    loop.run()
}

// MARK: fanout

/// Runs `loop` until `done()` or `seconds` pass; false on timeout.
func run(_ loop: EventLoop, seconds: Double, until done: () -> Bool) -> Bool {
    let deadline = nanoseconds() + UInt64(seconds * 1e9)
    while !done() {
        if nanoseconds() > deadline { return false }
        loop.runOnce(timeout: .milliseconds(10))
    }
    return true
}

func runFanout(_ flags: Flags) {
    let port = flags.int("--port", 0)
    let pid = flags.int("--pid", 0)
    let subscriberCount = flags.int("--subscribers", 10_000)
    let messages = flags.int("--messages", 100)
    let size = flags.int("--size", 64)
    let window = 4
    guard port > 0, pid > 0 else { fail("fanout needs --port and --pid") }
    var clientOptions = ClientOptions()
    clientOptions.connection.perMessageDeflate = flags.switches.contains("--deflate") ? PerMessageDeflateConfiguration() : .disabled
    let loop: EventLoop
    do { loop = try EventLoop() } catch { fail("\(error)") }

    var received = [Int](repeating: 0, count: messages)
    var opened = 0
    var failed = 0
    let handlers = ConnectionHandlers()
    handlers.onMessage = { _, _, bytes in
        // The message index is in the first 4 bytes (decimal, zero-padded).
        let index = Int(String(decoding: UnsafeRawBufferPointer(rebasing: bytes.prefix(6)), as: UTF8.self)) ?? -1
        if index >= 0 && index < messages { received[index] += 1 }
    }
    // Connect in batches of 500 so the server's accept queue and our connect attempts stay sane.
    var started = 0
    while started < subscriberCount {
        let batch = min(500, subscriberCount - started)
        for _ in 0..<batch {
            WebSocketClient.connect(to: "ws://127.0.0.1:\(port)/sub", on: loop, options: clientOptions, handlers: handlers) { result in
                if case .success = result { opened += 1 } else { failed += 1 }
            }
        }
        started += batch
        guard run(loop, seconds: 60, until: { opened + failed == started }) else { fail("connecting timed out") }
    }
    guard failed == 0 else { fail("\(failed) subscribers could not connect") }
    var publisher: WebSocketConnection?
    WebSocketClient.connect(to: "ws://127.0.0.1:\(port)/pub", on: loop, options: clientOptions) { result in
        if case .success(let connection) = result { publisher = connection }
    }
    guard run(loop, seconds: 10, until: { publisher != nil }) else { fail("publisher could not connect") }
    // The text of message `index`: its index, zero-padded, then filler up to `size` bytes.
    func payload(_ index: Int) -> String {
        let head = String(index)
        let padded = String(repeating: "0", count: max(0, 6 - head.count)) + head
        let filler = #" {"user":"guest42","room":"lobby","text":"hello everyone, the quick brown fox"}"#
        return String((padded + filler + String(repeating: "x", count: max(0, size))).prefix(max(size, 6)))
    }
    let cpuBefore = cpuSeconds(pid: pid)
    let start = nanoseconds()
    var sent = 0
    var finished = 0
    let ok = run(loop, seconds: 300) {
        while finished < sent && received[finished] >= subscriberCount { finished += 1 }
        while sent < messages && sent - finished < window {
            _ = try? publisher?.send(text: payload(sent))
            sent += 1
        }
        return finished == messages
    }
    let elapsed = Double(nanoseconds() - start) / 1e9
    let cpu = cpuSeconds(pid: pid) - cpuBefore
    guard ok else { fail("timed out: \(finished) of \(messages) messages reached every subscriber") }
    let deliveries = Double(messages * subscriberCount)
    say("subscribers=\(subscriberCount) messages=\(messages) size=\(size) deflate=\(flags.switches.contains("--deflate")) "
        + "seconds=\(elapsed) deliveries_per_sec=\(Int(deliveries / elapsed)) "
        + "server_cpu_s=\(cpu) server_cpu_ns_per_delivery=\(Int(cpu * 1e9 / deliveries)) server_rss=\(residentBytes(pid: pid))")
    loop.close()
}

// MARK: latency

func runLatency(_ flags: Flags) {
    let publishPort = flags.int("--publish-port", 0), subscribePort = flags.int("--subscribe-port", 0)
    let messages = flags.int("--messages", 2000)
    guard publishPort > 0, subscribePort > 0 else { fail("latency needs --publish-port and --subscribe-port") }
    let loop: EventLoop
    do { loop = try EventLoop() } catch { fail("\(error)") }
    var latencies: [UInt64] = []
    var subscribed = false
    let handlers = ConnectionHandlers()
    handlers.onMessage = { _, _, bytes in
        let text = String(decoding: bytes, as: UTF8.self)
        if text == "probe" { subscribed = true; return }
        if let sentAt = UInt64(text.split(separator: " ").first ?? "") { latencies.append(nanoseconds() - sentAt) }
    }
    var subscriber: WebSocketConnection?, publisher: WebSocketConnection?
    var options = ClientOptions()
    options.connection.perMessageDeflate = .disabled
    WebSocketClient.connect(to: "ws://127.0.0.1:\(subscribePort)/sub", on: loop, options: options, handlers: handlers) { result in
        if case .success(let connection) = result { subscriber = connection }
    }
    WebSocketClient.connect(to: "ws://127.0.0.1:\(publishPort)/pub", on: loop, options: options) { result in
        if case .success(let connection) = result { publisher = connection }
    }
    guard run(loop, seconds: 10, until: { subscriber != nil && publisher != nil }) else { fail("could not connect") }
    // Until node B's subscription has reached Redis.
    guard run(loop, seconds: 10, until: {
        if !subscribed { _ = try? publisher?.send(text: "probe"); loop.runOnce(timeout: .milliseconds(20)) }
        return subscribed
    }) else { fail("nothing crossed through Redis") }
    for _ in 0..<messages {
        _ = try? publisher?.send(text: "\(nanoseconds()) " + String(repeating: "x", count: 40))
        let pause = nanoseconds() + 2_000_000
        _ = run(loop, seconds: 1) { nanoseconds() >= pause }
    }
    _ = run(loop, seconds: 5) { latencies.count >= messages }
    latencies.sort()
    func percentile(_ p: Double) -> Double {
        latencies.isEmpty ? .nan : Double(latencies[min(latencies.count - 1, Int(Double(latencies.count) * p))]) / 1000
    }
    say("messages=\(messages) received=\(latencies.count) p50_us=\(percentile(0.5)) p99_us=\(percentile(0.99)) max_us=\(percentile(1))")
    loop.close()
}

// MARK: ratio

func runRatio() {
    // A chat room's stream: similar JSON lines with different names and texts.
    let words = ["hello", "everyone", "the", "build", "is", "green", "again", "who", "broke", "main", "lunch", "at", "noon"]
    var lines: [String] = []
    for index in 0..<2000 {
        let text = (0..<(4 + index % 9)).map { words[($0 * 7 + index * 3) % words.count] }.joined(separator: " ")
        lines.append(#"{"type":"chat","room":"lobby","from":"guest\#(index % 37)","text":"\#(text)"}"#)
    }
    let payload = lines.reduce(0) { $0 + $1.utf8.count }
    for takeover in [true, false] {
        let codec = PerMessageDeflate(parameters: PerMessageDeflateParameters(serverNoContextTakeover: !takeover, serverMaxWindowBits: 12),
                                      role: .server)
        let buffer = DeflateBuffer()
        var compressed = 0
        let start = nanoseconds()
        for var line in lines {
            buffer.removeAll()
            line.withUTF8 { try? codec.compress(message: UnsafeRawBufferPointer($0), into: buffer) }
            compressed += buffer.count
        }
        let perMessage = Double(nanoseconds() - start) / Double(lines.count)
        say("context_takeover=\(takeover) messages=\(lines.count) payload_bytes=\(payload) compressed_bytes=\(compressed) "
            + "ratio=\(Double(payload) / Double(compressed)) ns_per_message=\(Int(perMessage))")
    }
}

let arguments = CommandLine.arguments
switch arguments.dropFirst().first {
case "server": runServer(Flags(arguments.dropFirst(2)))
case "fanout": runFanout(Flags(arguments.dropFirst(2)))
case "latency": runLatency(Flags(arguments.dropFirst(2)))
case "ratio": runRatio()
default: fail("usage: swiftws-bench-fanout server|fanout|latency|ratio [flags] (see bench/fanout/main.swift)")
}
