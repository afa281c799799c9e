// An echo server on the async API: one task per connection, `for try await` over its messages,
// `send` that waits while the peer is slow. Ctrl-C (or SIGTERM) shuts it down gracefully: every
// peer gets 1001 and the server waits for them.
//   swift run EchoServer [PORT]          (PORT 0: any free port; the line printed says which)
import SwiftWS

let signals = TerminationSignals.install()   // SIGINT/SIGTERM end `signals.wait()` below
let port = CommandLine.arguments.dropFirst().first.flatMap { UInt16($0) } ?? 9001

let server = try await AsyncWebSocketServer.start(
    host: "localhost", port: port,
    onHTTPRequest: { _ in HTTPResponse(status: 200, text: "echo server: connect with a WebSocket client\n") }
) { socket in
    for try await message in socket.messages {
        try await socket.send(message)
    }
}
print("echo server listening on port \(server.localAddress.port!)")

await signals.wait()
await server.shutdown()
print("echo server stopped")
