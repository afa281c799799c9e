// A chat server: rooms are topics. The URL path names the room (ws://localhost:9002/lobby);
// each message goes to the others in the sender's room, framed once for all of them;
// "/join ROOM" switches rooms. The (async) upgrade hook refuses paths that are not a room.
//   swift run ChatServer [PORT]
import Synchronization
import SwiftWS

let signals = TerminationSignals.install()   // SIGINT/SIGTERM end `signals.wait()` below
let port = CommandLine.arguments.dropFirst().first.flatMap { UInt16($0) } ?? 9002

var options = ServerOptions()
options.connection.pingInterval = .seconds(20)        // drop peers that vanished
options.connection.maxBufferedAmount = 1 << 20        // a member that stops reading ...
options.connection.backpressurePolicy = .close        // ... is disconnected, not buffered forever

let guests = Atomic<Int>(0)

let server = try await AsyncWebSocketServer.start(
    host: "localhost", port: port, options: options,
    onUpgrade: { request, _ in
        // An async hook can await a session store here; this one only checks the path.
        request.path.dropFirst().contains("/") ? .reject(status: 404, body: "rooms are /NAME\n") : .accept()
    }
) { socket in
    let name = "guest\(guests.add(1, ordering: .relaxed).newValue)"
    var room = socket.path == "/" ? "lobby" : String(socket.path.dropFirst())
    await socket.subscribe(to: room)
    try await socket.send("* you are \(name) in \(room)")
    await socket.publish(.text("* \(name) joined"), to: room)
    do {
        for try await message in socket.messages {
            guard case .text(let text) = message else { continue }
            if text.hasPrefix("/join "), text.count > 6 {
                await socket.unsubscribe(from: room)
                room = String(text.dropFirst(6))
                await socket.subscribe(to: room)
                try await socket.send("* you are in \(room)")
            } else {
                await socket.publish(.text("\(name): \(text)"), to: room)
            }
        }
    } catch {}  // closed abnormally (1006, 1009, …): the member leaves all the same
    await socket.publish(.text("* \(name) left"), to: room)
}
print("chat server listening on port \(server.localAddress.port!)")

await signals.wait()
await server.shutdown()
print("chat server stopped")
