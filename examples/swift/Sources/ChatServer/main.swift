// A chat server: every message goes to everyone in the sender's room (a topic), built once for
// all receivers; "/join ROOM" switches rooms. Rooms come from the URL path: ws://host:port/lobby.
//   swift run ChatServer [PORT]
import SwiftWS

let port = CommandLine.arguments.dropFirst().first.flatMap { UInt16($0) } ?? 9002
var options = ServerOptions()
options.connection.pingInterval = .seconds(20)        // drop peers that vanished
options.connection.maxBufferedAmount = 1 << 20        // a member that stops reading ...
options.connection.backpressurePolicy = .close        // ... is disconnected, not buffered forever

let loop = try EventLoop()
let server = try WebSocketServer(loop: loop, host: "127.0.0.1", port: port, options: options)

/// Per-connection state, attached at upgrade time.
final class Member {
    var room: String
    let name: String
    init(room: String, name: String) { self.room = room; self.name = name }
}

var nextNumber = 1
server.onUpgrade = { request, _ in
    let room = request.path == "/" ? "lobby" : String(request.path.dropFirst())
    defer { nextNumber += 1 }
    return .accept(UpgradeAcceptance(userData: Member(room: room, name: "guest\(nextNumber)")))
}
server.handlers.onOpen = { connection in
    guard let member = connection.userData as? Member else { return }
    server.subscribe(connection, to: member.room)
    server.publish(member.room, text: "* \(member.name) joined \(member.room)")
}
server.handlers.onMessage = { connection, kind, bytes in
    guard kind == .text, let member = connection.userData as? Member else { return }
    let text = String(decoding: bytes, as: UTF8.self)
    if text.hasPrefix("/join "), !text.dropFirst(6).isEmpty {
        server.unsubscribe(connection, from: member.room)
        member.room = String(text.dropFirst(6))
        server.subscribe(connection, to: member.room)
        _ = try? connection.send(text: "* you are in \(member.room)")
    } else {
        server.publish(member.room, text: "\(member.name): \(text)")
    }
}
server.handlers.onClose = { connection, _ in
    guard let member = connection.userData as? Member else { return }
    server.publish(member.room, text: "* \(member.name) left")
}
print("chat server on ws://\(server.localAddress)/ROOM")
loop.run()
