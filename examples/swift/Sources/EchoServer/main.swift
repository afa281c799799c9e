// An echo server on the event loop API: handlers run on the loop thread, messages arrive as
// borrowed buffers and are sent back without a copy into Swift arrays.
//   swift run EchoServer [PORT]
import SwiftWS

let port = CommandLine.arguments.dropFirst().first.flatMap { UInt16($0) } ?? 9001
let loop = try EventLoop()
let server = try WebSocketServer(loop: loop, host: "127.0.0.1", port: port)
server.handlers.onMessage = { connection, kind, bytes in
    connection.send(kind, bytes)
}
server.onHTTPRequest = { _ in HTTPResponse(status: 200, text: "echo server: connect with a WebSocket client\n") }
print("echo server on ws://\(server.localAddress)/")
loop.run()
