// swiftws-echo: a WebSocket echo server for conformance suites, interop tests and benchmarks.
//
//   swiftws-echo --host 127.0.0.1 --port 9001 [--no-compression] [--max-message-size BYTES] [limits…]
//                [--tls-cert CHAIN.pem --tls-key KEY.pem]     (wss://)
//                [--loops N [--accept handoff|reuseport]]     (N threads; reuseport for the benchmark)
//                [--async | --async-on-loop]   (the same echo on the async Swift API, its handler
//                tasks on the thread pool or on the loop thread: the benchmark's rows)
//
// (`--help` lists the limits and timeouts; `GET /stats` on the same port reports connections,
// handshakes, bytes held and the memory budget's count.)
//
// Echoes every text and binary message unchanged. Prints exactly one line, `listening on
// HOST:PORT`, once it accepts connections (port 0 prints the port the kernel chose). Runs until
// SIGINT or SIGTERM, then shuts down gracefully (close 1001). The flags are a stable interface:
// scripts and other teams' tools depend on them.
import Glibc
import SwiftWS

/// The command line. Limits default to what a public echo server can afford; `0` lifts a limit
/// (conformance runs that need more than the defaults).
struct Arguments {
    var host = "127.0.0.1"
    var port: UInt16 = 9001
    var options = ServerOptions()
    /// Serve through `AsyncWebSocketServer` (a task per connection) instead of the callbacks.
    var useAsyncAPI = false
    /// With `--async-on-loop`: the handler tasks run on the loop thread (`runsHandlersOnLoop`).
    var asyncHandlersOnLoop = false

    init() {
        // An echo server holds a whole message for a peer that reads slowly: 32 MiB of output
        // per connection (two 16 MiB echoes), past it the connection is closed, not trimmed.
        options.connection.maxBufferedAmount = 32 << 20
        options.connection.backpressurePolicy = .close
        options.memoryBudget = 512 << 20
        options.connection.messageTimeout = .seconds(60)
    }
}

let usageText = """
    usage: swiftws-echo [--host HOST] [--port PORT] [--no-compression] [--max-message-size BYTES]
                        [--max-buffered BYTES] [--memory-budget BYTES] [--max-connections N]
                        [--close-timeout S] [--handshake-timeout S] [--idle-timeout S]
                        [--ping-interval S] [--pong-timeout S] [--message-timeout S]
                        [--tls-cert CHAIN.pem --tls-key KEY.pem] [--loops N] [--accept handoff|reuseport]
                        [--async | --async-on-loop] [--compression-level 1...9] [--compression-memory-level 1...9]
      BYTES 0 and S 0 switch a limit off (except --close-timeout, --handshake-timeout and
      --pong-timeout, which must be positive); S is in seconds, decimals allowed.

    """

/// Writes `text` to a file descriptor unbuffered (stdout must show the ready line at once, and
/// the C `stdout`/`stderr` globals are not concurrency-safe in Swift 6).
func writeText(_ text: String, to fd: Int32) {
    var bytes = Array(text.utf8)
    var offset = 0
    while offset < bytes.count {
        let written = bytes.withUnsafeMutableBytes { write(fd, $0.baseAddress! + offset, $0.count - offset) }
        if written <= 0 { return }
        offset += written
    }
}

func usage(_ message: String) -> Never {
    writeText("swiftws-echo: \(message)\n" + usageText, to: 2)
    exit(2)
}

/// A byte count or count; 0 means "no limit" (nil).
func limit(_ flag: String, _ value: String?) -> Int? {
    guard let value, let number = Int(value), number >= 0 else { usage("\(flag) needs a number of 0 or more") }
    return number == 0 ? nil : number
}

/// Seconds (decimals allowed); 0 means "off" (nil) unless `positive` is required.
func seconds(_ flag: String, _ value: String?, positive: Bool = false) -> Duration? {
    guard let value, let number = Double(value), number >= 0, number.isFinite, number < 1e9,
          !positive || number > 0
    else { usage("\(flag) needs \(positive ? "a positive" : "a") number of seconds") }
    return number == 0 ? nil : .milliseconds(Int64((number * 1000).rounded(.up)))
}

func parseArguments() -> Arguments {
    var arguments = Arguments()
    var iterator = CommandLine.arguments.dropFirst().makeIterator()
    while let flag = iterator.next() {
        switch flag {
        case "--host":
            guard let value = iterator.next() else { usage("--host needs a value") }
            arguments.host = value
        case "--port":
            guard let value = iterator.next(), let port = UInt16(value) else { usage("--port needs a number 0...65535") }
            arguments.port = port
        case "--tls-cert", "--tls-key":
            guard let path = iterator.next() else { usage("\(flag) needs a PEM file") }
            var tls = arguments.options.tls ?? TLSConfiguration()
            if flag == "--tls-cert" { tls.certificateChainFile = path } else { tls.privateKeyFile = path }
            arguments.options.tls = tls
        case "--no-compression":
            // permessage-deflate is accepted by default (memory-conscious defaults).
            arguments.options.connection.perMessageDeflate = .disabled
        case "--compression-level", "--compression-memory-level":
            // zlib's level and memLevel for our compressor (defaults: PerMessageDeflateConfiguration),
            // e.g. to compare with a peer at its settings (libwebsockets: level 1, memLevel 8).
            guard let value = iterator.next(), let number = Int(value), (1...9).contains(number) else { usage("\(flag) needs a number 1...9") }
            if flag == "--compression-level" {
                arguments.options.connection.perMessageDeflate.compressionLevel = number
            } else {
                arguments.options.connection.perMessageDeflate.memoryLevel = number
            }
        case "--max-message-size":
            guard let value = iterator.next(), let size = Int(value), size > 0 else { usage("--max-message-size needs a positive number") }
            arguments.options.connection.session.maxMessageSize = size
            arguments.options.connection.session.maxFrameSize = size
        case "--max-buffered": arguments.options.connection.maxBufferedAmount = limit(flag, iterator.next())
        case "--memory-budget": arguments.options.memoryBudget = limit(flag, iterator.next())
        case "--max-connections": arguments.options.maxConnections = limit(flag, iterator.next())
        case "--close-timeout": arguments.options.connection.closeTimeout = seconds(flag, iterator.next(), positive: true)!
        case "--handshake-timeout": arguments.options.handshakeTimeout = seconds(flag, iterator.next(), positive: true)!
        case "--pong-timeout": arguments.options.connection.pongTimeout = seconds(flag, iterator.next(), positive: true)!
        case "--idle-timeout": arguments.options.connection.idleTimeout = seconds(flag, iterator.next())
        case "--ping-interval": arguments.options.connection.pingInterval = seconds(flag, iterator.next())
        case "--message-timeout": arguments.options.connection.messageTimeout = seconds(flag, iterator.next())
        case "--loops":
            guard let value = iterator.next(), let loops = Int(value), (1...ServerOptions.maximumLoops).contains(loops)
            else { usage("--loops needs a number 1...\(ServerOptions.maximumLoops)") }
            arguments.options.loops = loops
        case "--accept":
            // How several loops share the port (compared in docs/notes/issue15-scale-round3.md).
            switch iterator.next() {
            case "handoff": arguments.options.acceptStrategy = .handoff
            case "reuseport": arguments.options.acceptStrategy = .reusePort
            default: usage("--accept needs handoff or reuseport")
            }
        case "--async":
            arguments.useAsyncAPI = true
        case "--async-on-loop":
            arguments.useAsyncAPI = true
            arguments.asyncHandlersOnLoop = true
        case "--help", "-h":
            usage("echo server")
        default:
            usage("unknown argument \(flag)")
        }
    }
    return arguments
}

let arguments = parseArguments()
if arguments.useAsyncAPI { startAsyncEcho(arguments, signals: TerminationSignals.install()) }
let loop: EventLoop
let server: WebSocketServer
do {
    loop = try EventLoop()
    server = try WebSocketServer(loop: loop, host: arguments.host, port: arguments.port, options: arguments.options)
} catch {
    writeText("swiftws-echo: \(error)\n", to: 2)
    exit(1)
}
server.handlers.onMessage = { connection, kind, bytes in
    // Valid input makes a valid echo; a connection that is already closing refuses it.
    _ = try? connection.send(kind, bytes)
}

// For monitoring and the hostile-peer tests: what the server holds right now.
server.onHTTPRequest = { request in
    guard request.target == "/stats" else { return HTTPResponse(status: 404, text: "not found\n") }
    // On several loops the other figures are per loop: only the thread-safe total is reported.
    if server.group != nil { return HTTPResponse(status: 200, text: "connections=\(server.connectionCount)\n") }
    return HTTPResponse(status: 200, text: "connections=\(server.connections.count) handshakes=\(server.handshakeCount) "
                        + "buffered=\(server.heldBytes) budget_used=\(server.memoryBudgetUsed)\n")
}

// SIGINT/SIGTERM stop the loop; then the server shuts down gracefully (close 1001).
loop.stopOnTerminationSignals()
let host = server.localAddress.family == .ipv6 ? "[\(server.localAddress.host)]" : server.localAddress.host
writeText("listening on \(host):\(server.localAddress.port ?? 0)\n", to: 1)
loop.run()
server.shutdown(timeout: .seconds(2)) { loop.stop() }
loop.run()
