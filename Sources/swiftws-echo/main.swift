// swiftws-echo: a WebSocket echo server for conformance suites, interop tests and benchmarks.
//
//   swiftws-echo --host 127.0.0.1 --port 9001 [--no-compression] [--max-message-size BYTES]
//
// Echoes every text and binary message unchanged. Prints exactly one line, `listening on
// HOST:PORT`, once it accepts connections (port 0 prints the port the kernel chose). Runs until
// SIGINT or SIGTERM, then shuts down gracefully (close 1001). The flags are a stable interface:
// scripts and other teams' tools depend on them.
import Glibc
import SwiftWS

struct Arguments {
    var host = "127.0.0.1"
    var port: UInt16 = 9001
    var compression = true
    var maxMessageSize: Int? = nil
}

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
    writeText("swiftws-echo: \(message)\nusage: swiftws-echo [--host HOST] [--port PORT] [--no-compression] [--max-message-size BYTES]\n", to: 2)
    exit(2)
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
        case "--no-compression":
            arguments.compression = false
        case "--max-message-size":
            guard let value = iterator.next(), let size = Int(value), size > 0 else { usage("--max-message-size needs a positive number") }
            arguments.maxMessageSize = size
        case "--help", "-h":
            usage("echo server")
        default:
            usage("unknown argument \(flag)")
        }
    }
    return arguments
}

let arguments = parseArguments()
var options = ServerOptions()
// permessage-deflate is accepted by default (memory-conscious defaults); --no-compression declines
// every offer.
if !arguments.compression { options.connection.perMessageDeflate = .disabled }
if let size = arguments.maxMessageSize {
    options.connection.session.maxMessageSize = size
    options.connection.session.maxFrameSize = size
}
// An echo server must hold a whole message for a peer that reads slowly: never drop.
options.connection.maxBufferedAmount = nil

let loop: EventLoop
let server: WebSocketServer
do {
    loop = try EventLoop()
    server = try WebSocketServer(loop: loop, host: arguments.host, port: arguments.port, options: options)
} catch {
    writeText("swiftws-echo: \(error)\n", to: 2)
    exit(1)
}
server.handlers.onMessage = { connection, kind, bytes in
    connection.send(kind, bytes)
}

// SIGINT/SIGTERM: blocked in every thread and awaited by one small thread with sigwait, which
// then stops the loop through its thread-safe `stop()` (no work inside a signal handler).
final class SignalWaiter {
    let loop: EventLoop
    init(loop: EventLoop) { self.loop = loop }

    static func start(loop: EventLoop) {
        var signals = sigset_t()
        sigemptyset(&signals)
        sigaddset(&signals, SIGINT)
        sigaddset(&signals, SIGTERM)
        pthread_sigmask(SIG_BLOCK, &signals, nil)
        var thread = pthread_t()
        let context = Unmanaged.passRetained(SignalWaiter(loop: loop)).toOpaque()
        pthread_create(&thread, nil, { raw in
            let waiter = Unmanaged<SignalWaiter>.fromOpaque(raw!).takeRetainedValue()
            var signals = sigset_t()
            sigemptyset(&signals)
            sigaddset(&signals, SIGINT)
            sigaddset(&signals, SIGTERM)
            var received: Int32 = 0
            sigwait(&signals, &received)
            waiter.loop.stop()
            return nil
        }, context)
        pthread_detach(thread)
    }
}
SignalWaiter.start(loop: loop)

let host = server.localAddress.family == .ipv6 ? "[\(server.localAddress.host)]" : server.localAddress.host
writeText("listening on \(host):\(server.localAddress.port ?? 0)\n", to: 1)
loop.run()
server.shutdown(timeout: .seconds(2)) { loop.stop() }
loop.run()
