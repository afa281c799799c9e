// Echo server on SwiftNIO + WebSocketKit (the WebSocket layer of Vapor), a peer for
// bench/echo/run.sh.
//
// Every message received is sent back with its type: text through `onText` / `send(String)`,
// binary through `onBinary` / `send(ByteBuffer)`, the calls a Vapor application makes. No
// permessage-deflate (none is configured), a frame limit large enough for any size the load
// generator sends, and one event loop thread, like the other single-threaded peers (run.sh pins
// every server to one core anyway).
//
//     nio-echo --port PORT [--host 127.0.0.1]
//
// Prints `listening on HOST:PORT` once the socket accepts connections; SIGTERM ends it.
#if canImport(Glibc)
import Glibc
#endif
import NIOCore
import NIOHTTP1
import NIOPosix
import NIOWebSocket
import WebSocketKit

/// Returns the value following `--name` on the command line, or `fallback`.
func option(_ name: String, _ fallback: String?) -> String? {
    let arguments = CommandLine.arguments
    guard let at = arguments.firstIndex(of: "--\(name)"), at + 1 < arguments.count else { return fallback }
    return arguments[at + 1]
}

guard let host = option("host", "127.0.0.1"), let portText = option("port", nil),
      let port = Int(portText), (1...65535).contains(port) else {
    fputs("usage: nio-echo --port PORT [--host 127.0.0.1]\n", stderr)
    exit(2)
}

let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)

let upgrader = NIOWebSocketServerUpgrader(
    maxFrameSize: 64 << 20,
    shouldUpgrade: { channel, _ in channel.eventLoop.makeSucceededFuture(HTTPHeaders()) },
    upgradePipelineHandler: { channel, _ in
        WebSocket.server(on: channel) { ws in
            ws.onText { ws, text in ws.send(text) }
            ws.onBinary { ws, buffer in ws.send(buffer, opcode: .binary) }
        }
    }
)

let bootstrap = ServerBootstrap(group: group)
    .serverChannelOption(ChannelOptions.backlog, value: 1024)
    .serverChannelOption(ChannelOptions.socketOption(.so_reuseaddr), value: 1)
    .childChannelOption(ChannelOptions.socketOption(.tcp_nodelay), value: 1)
    .childChannelInitializer { channel in
        channel.pipeline.configureHTTPServerPipeline(
            withServerUpgrade: (upgraders: [upgrader], completionHandler: { _ in })
        )
    }

let channel = try bootstrap.bind(host: host, port: port).wait()
print("listening on \(host):\(port)")
fflush(stdout)
try channel.closeFuture.wait()
