import SwiftWS

// A server on localhost (port 0: any free port) that sends every message back ...
let server = try await AsyncWebSocketServer.start(host: "localhost", port: 0) { socket in
    for try await message in socket.messages {      // .text(String) or .binary([UInt8])
        try await socket.send(message)              // waits while the peer reads slowly
    }
}

// ... and a client that talks to it.
let client = try await AsyncWebSocket.connect("ws://localhost:\(server.localAddress.port!)/")
try await client.send("hello")
print("received:", try await client.receive())     // received: text("hello")
print("ping:", try await client.ping())             // the round-trip time
let status = await client.close()
print("closed:", status.code.rawValue)              // closed: 1000
await server.shutdown()                             // 1001 to the rest, waits for them
