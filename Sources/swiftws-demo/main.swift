// swiftws-demo: the demo server — a chat with rooms, and the browser page to use it, on one port.
//
//   swiftws-demo [--host 127.0.0.1] [--port 8080] [--seconds N] [--loops N] [--redis redis://HOST:PORT]
//                [--node NAME] [--context-takeover] [--ping-interval S] [--pong-timeout S] [--close-timeout S]
//
// Open http://HOST:PORT/ in a browser (or connect any WebSocket client to ws://HOST:PORT/ROOM):
// every text message goes to everyone in the sender's room, built once for all of them (a topic).
// The page connects with `?json` and gets JSON events instead (welcome, chat, join, leave,
// rename, presence with the room's members, and stats every second for its live panel); plain
// text clients keep the text lines, and both kinds share the rooms. `/nick NAME` renames.
// Plain HTTP on the same port serves the page, /health and /metrics (Prometheus text). --seconds stops it after N seconds
// with a graceful shutdown (every client gets close 1001), so scripts can run it bounded; SIGINT
// (Ctrl-C) and SIGTERM do the same. `--loops N` serves on N threads; `--redis URL` joins the rooms
// of every demo node that uses the same Redis (each page shows its node, `--node NAME`).
// Compression: the server imposes server_no_context_takeover (one compressed frame serves every
// member of a room); `--context-takeover` keeps a context per connection instead (better ratio
// for direct messages, but broadcasts then go out uncompressed to browsers).
import Glibc
import SwiftWS

/// Prints a line at once, even when stdout is a pipe (scripts wait for the ready line).
func say(_ line: String) {
    var bytes = Array((line + "\n").utf8)
    var offset = 0
    while offset < bytes.count {
        let written = bytes.withUnsafeMutableBytes { write(1, $0.baseAddress! + offset, $0.count - offset) }
        if written <= 0 { return }
        offset += written
    }
}

struct Arguments {
    var host = "127.0.0.1"
    var port: UInt16 = 8080
    var seconds: Int? = nil
    var pingInterval: Duration = .seconds(20)
    var pongTimeout: Duration = .seconds(20)
    var closeTimeout: Duration = .seconds(10)
    /// https + wss with this certificate chain and key (PEM files); plain http without.
    var tlsCertificate: String? = nil
    var tlsKey: String? = nil
    var loops = 1
    var redis: String? = nil
    var node: String? = nil
    var contextTakeover = false
}

let usageLine = "usage: swiftws-demo [--host HOST] [--port PORT] [--seconds N] [--loops N] [--redis redis://HOST:PORT] [--node NAME] [--context-takeover] [--ping-interval S] [--pong-timeout S] [--close-timeout S] [--tls-cert CHAIN.pem --tls-key KEY.pem]"

/// Positive seconds, decimals allowed.
func duration(_ text: String) -> Duration? {
    guard let value = Double(text), value > 0, value < 1e9 else { return nil }
    return .milliseconds(Int64((value * 1000).rounded(.up)))
}

func parseArguments() -> Arguments {
    var arguments = Arguments()
    var iterator = CommandLine.arguments.dropFirst().makeIterator()
    while let flag = iterator.next() {
        if flag == "--context-takeover" {
            arguments.contextTakeover = true
            continue
        }
        switch (flag, iterator.next()) {
        case ("--host", let value?): arguments.host = value
        case ("--port", let value?) where UInt16(value) != nil: arguments.port = UInt16(value)!
        case ("--seconds", let value?) where Int(value) != nil: arguments.seconds = Int(value)!
        case ("--loops", let value?) where (1...ServerOptions.maximumLoops).contains(Int(value) ?? 0): arguments.loops = Int(value)!
        case ("--redis", let value?): arguments.redis = value
        case ("--node", let value?) where !value.isEmpty: arguments.node = value
        case ("--ping-interval", let value?) where duration(value) != nil: arguments.pingInterval = duration(value)!
        case ("--pong-timeout", let value?) where duration(value) != nil: arguments.pongTimeout = duration(value)!
        case ("--close-timeout", let value?) where duration(value) != nil: arguments.closeTimeout = duration(value)!
        case ("--tls-cert", let value?): arguments.tlsCertificate = value
        case ("--tls-key", let value?): arguments.tlsKey = value
        default:
            say(usageLine)
            exit(2)
        }
    }
    return arguments
}

let arguments = parseArguments()
var options = ServerOptions()
if let certificate = arguments.tlsCertificate, let key = arguments.tlsKey {
    options.tls = .server(certificateChainFile: certificate, privateKeyFile: key)  // https:// + wss://
} else if arguments.tlsCertificate != nil || arguments.tlsKey != nil {
    say("--tls-cert and --tls-key go together")
    exit(2)
}
options.connection.pingInterval = arguments.pingInterval  // notice browsers that vanished
options.connection.pongTimeout = arguments.pongTimeout
options.connection.closeTimeout = arguments.closeTimeout
options.connection.maxBufferedAmount = 1 << 20     // a member that stops reading ...
options.connection.backpressurePolicy = .close     // ... is disconnected, not buffered forever
options.connection.session.maxMessageSize = 64 << 10
options.connection.session.maxFrameSize = 64 << 10
options.connection.messageTimeout = .seconds(10)   // a chat line does not take longer to arrive
// A chat is broadcasts: one compressed frame for every member of a room (RFC 7692 lets the
// server impose server_no_context_takeover even when the browser did not offer it).
options.connection.perMessageDeflate.localNoContextTakeover = !arguments.contextTakeover
options.memoryBudget = 64 << 20                    // all members together
options.loops = arguments.loops
if let url = arguments.redis {
    do {
        options.redis = try RedisOptions(url: url)
    } catch {
        say("swiftws-demo: \(error)")
        exit(2)
    }
}

let loop: EventLoop
let server: WebSocketServer
do {
    loop = try EventLoop()
    server = try WebSocketServer(loop: loop, host: arguments.host, port: arguments.port, options: options)
} catch {
    say("swiftws-demo: \(error)")
    exit(1)
}
let address = server.localAddress
let host = address.family == .ipv6 ? "[\(address.host)]" : address.host
let chat = Chat(server: server, node: arguments.node ?? "\(host):\(address.port ?? 0)", qualifyNames: arguments.redis != nil)
chat.install(page: demoPage)

var second = 0
@MainActor func tick() {
    second += 1
    chat.tick(second)
    _ = loop.schedule(after: .seconds(1)) { tick() }
}
_ = loop.schedule(after: .seconds(1)) { tick() }

if let seconds = arguments.seconds {
    _ = loop.schedule(after: .seconds(seconds)) {
        say("swiftws-demo: \(seconds) s are up, shutting down")
        loop.stop()
    }
}
// SIGINT (Ctrl-C) and SIGTERM stop the loop too; either way every member then gets close 1001.
loop.stopOnTerminationSignals()
let secure = options.tls != nil
say("swiftws-demo: open \(secure ? "https" : "http")://\(host):\(address.port ?? 0)/ in a browser, or connect to "
    + "\(secure ? "wss" : "ws")://\(host):\(address.port ?? 0)/ROOM"
    + (arguments.loops > 1 ? " (\(arguments.loops) loops)" : "") + (arguments.redis != nil ? " (node \(chat.node), Redis)" : ""))
loop.run()
server.shutdown(timeout: .seconds(2)) { loop.stop() }
loop.run()
say("swiftws-demo: stopped")
