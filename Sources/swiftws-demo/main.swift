// swiftws-demo: the demo server — a chat with rooms, and the browser page to use it, on one port.
//
//   swiftws-demo [--host 127.0.0.1] [--port 8080] [--seconds N] [--ping-interval S] [--pong-timeout S] [--close-timeout S]
//
// Open http://HOST:PORT/ in a browser (or connect any WebSocket client to ws://HOST:PORT/ROOM):
// every text message goes to everyone in the sender's room, built once for all of them (a topic).
// Plain HTTP on the same port serves the page and /health. --seconds stops it after N seconds
// with a graceful shutdown (every client gets close 1001), so scripts can run it bounded; SIGINT
// (Ctrl-C) and SIGTERM do the same.
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
}

let usageLine = "usage: swiftws-demo [--host HOST] [--port PORT] [--seconds N] [--ping-interval S] [--pong-timeout S] [--close-timeout S] [--tls-cert CHAIN.pem --tls-key KEY.pem]"

/// Positive seconds, decimals allowed.
func duration(_ text: String) -> Duration? {
    guard let value = Double(text), value > 0, value < 1e9 else { return nil }
    return .milliseconds(Int64((value * 1000).rounded(.up)))
}

func parseArguments() -> Arguments {
    var arguments = Arguments()
    var iterator = CommandLine.arguments.dropFirst().makeIterator()
    while let flag = iterator.next() {
        switch (flag, iterator.next()) {
        case ("--host", let value?): arguments.host = value
        case ("--port", let value?) where UInt16(value) != nil: arguments.port = UInt16(value)!
        case ("--seconds", let value?) where Int(value) != nil: arguments.seconds = Int(value)!
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

/// Who a connection is and which room (topic) it is in; attached at upgrade time.
final class Member {
    let name: String
    var room: String
    init(name: String, room: String) { self.name = name; self.room = room }
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
options.memoryBudget = 64 << 20                    // all members together

let loop: EventLoop
let server: WebSocketServer
do {
    loop = try EventLoop()
    server = try WebSocketServer(loop: loop, host: arguments.host, port: arguments.port, options: options)
} catch {
    say("swiftws-demo: \(error)")
    exit(1)
}

server.onHTTPRequest = { request in
    switch request.target {
    case "/", "/index.html":
        var headers = HTTPHeaders()
        headers.append(name: "Content-Type", value: "text/html; charset=utf-8")
        return HTTPResponse(status: 200, headers: headers, text: demoPage)
    case "/health":
        return HTTPResponse(status: 200, text: "ok \(server.connectionCount) connections\n")
    default:
        return HTTPResponse(status: 404, text: "not found\n")
    }
}

var guestNumber = 0
server.onUpgrade = { request, _ in
    guestNumber += 1
    let room = request.path.count > 1 ? String(request.path.dropFirst()) : "lobby"
    return .accept(UpgradeAcceptance(userData: Member(name: "guest\(guestNumber)", room: room)))
}
server.handlers.onOpen = { connection in
    guard let member = connection.userData as? Member else { return }
    server.subscribe(connection, to: member.room)
    _ = try? connection.send(text: "* you are \(member.name) in room \(member.room); /join ROOM to move")
    server.publish(member.room, text: "* \(member.name) joined", excluding: connection)
}
server.handlers.onMessage = { connection, kind, bytes in
    guard kind == .text, let member = connection.userData as? Member else { return }
    let text = String(decoding: bytes, as: UTF8.self)
    if text.hasPrefix("/join "), text.count > 6 {
        server.unsubscribe(connection, from: member.room)
        server.publish(member.room, text: "* \(member.name) left for another room")
        member.room = String(text.dropFirst(6))
        server.subscribe(connection, to: member.room)
        _ = try? connection.send(text: "* you are in room \(member.room)")
    } else {
        server.publish(member.room, text: "\(member.name): \(text)")
    }
}
server.handlers.onClose = { connection, _ in
    guard let member = connection.userData as? Member else { return }
    server.unsubscribe(connection, from: member.room)
    server.publish(member.room, text: "* \(member.name) left")
}

if let seconds = arguments.seconds {
    _ = loop.schedule(after: .seconds(seconds)) {
        say("swiftws-demo: \(seconds) s are up, shutting down")
        loop.stop()
    }
}
// SIGINT (Ctrl-C) and SIGTERM stop the loop too; either way every member then gets close 1001.
loop.stopOnTerminationSignals()
let address = server.localAddress
let host = address.family == .ipv6 ? "[\(address.host)]" : address.host
let secure = options.tls != nil
say("swiftws-demo: open \(secure ? "https" : "http")://\(host):\(address.port ?? 0)/ in a browser, or connect to "
    + "\(secure ? "wss" : "ws")://\(host):\(address.port ?? 0)/ROOM")
loop.run()
server.shutdown(timeout: .seconds(2)) { loop.stop() }
loop.run()
say("swiftws-demo: stopped")
