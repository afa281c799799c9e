// swiftws-demo: the demo server — a chat with rooms, and the browser page to use it, on one port.
//
//   swiftws-demo [--host 127.0.0.1] [--port 8080] [--seconds N] [--ping-interval S] [--pong-timeout S] [--close-timeout S]
//
// Open http://HOST:PORT/ in a browser (or connect any WebSocket client to ws://HOST:PORT/ROOM):
// every text message goes to everyone in the sender's room, built once for all of them (a topic).
// The page connects with `?json` and gets JSON events instead (welcome, chat, join, leave,
// rename, presence with the room's members, and stats every second for its live panel); plain
// text clients keep the text lines, and both kinds share the rooms. `/nick NAME` renames.
// Plain HTTP on the same port serves the page, /health and /metrics (Prometheus text). --seconds stops it after N seconds
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

/// Who a connection is and which room (topic) it is in; attached at upgrade time. `json` members
/// (the page, which asks with `?json`) get JSON messages; the others get the plain text lines.
final class Member {
    var name: String
    var room: String
    let json: Bool
    init(name: String, room: String, json: Bool) { self.name = name; self.room = room; self.json = json }
}

/// A JSON string literal (quotes included) for `text`.
func jsonString(_ text: String) -> String {
    var out = "\""
    for scalar in text.unicodeScalars {
        switch scalar {
        case "\"": out += "\\\""
        case "\\": out += "\\\\"
        case "\n": out += "\\n"
        case "\r": out += "\\r"
        case "\t": out += "\\t"
        case _ where scalar.value < 0x20:
            let hex = String(scalar.value, radix: 16)
            out += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
        default: out.unicodeScalars.append(scalar)
        }
    }
    return out + "\""
}

/// A JSON object from already-encoded values: `json(["type": jsonString("chat")])`, keys in order.
func json(_ fields: KeyValuePairs<String, String>) -> String {
    "{" + fields.map { "\(jsonString($0.key)):\($0.value)" }.joined(separator: ",") + "}"
}

/// The demo's own counts, from its handlers (payload bytes, before any compression).
struct Counters {
    var messagesIn = 0, messagesOut = 0, bytesIn = 0, bytesOut = 0, dropped = 0
    /// Open WebSocket connections (server.connectionCount also counts plain HTTP requests and handshakes).
    var open = 0
}
var counters = Counters()

// Topics: the room name for plain-text members; these prefixes (a path cannot hold a newline)
// for JSON members of a room and for everyone who wants the live panel.
func jsonTopic(_ room: String) -> String { "\njson:" + room }
let statsTopic = "\nstats"

/// Sends to one connection and counts it.
@MainActor func send(_ connection: WebSocketConnection, _ text: String) {
    let result = try? connection.send(text: text)
    if result == nil || result == .dropped {
        counters.dropped += 1
    } else {
        counters.messagesOut += 1
        counters.bytesOut += text.utf8.count
    }
}

/// Publishes to a topic and counts what was delivered and what was dropped.
@MainActor func publish(_ topic: String, _ text: String, excluding: WebSocketConnection? = nil) {
    // `excluding`, when given, is a subscriber of `topic` (the callers make sure of it).
    let receivers = server.subscriberCount(topic) - (excluding == nil ? 0 : 1)
    let delivered = server.publish(topic, text: text, excluding: excluding)
    counters.messagesOut += delivered
    counters.bytesOut += delivered * text.utf8.count
    counters.dropped += max(0, receivers - delivered)
}

/// Who is in each room, in order of arrival.
var rooms: [String: [Member]] = [:]

@MainActor func presence(_ room: String) {
    let names = (rooms[room] ?? []).map { jsonString($0.name) }.joined(separator: ",")
    publish(jsonTopic(room), json(["type": jsonString("presence"), "room": jsonString(room), "members": "[\(names)]"]))
}

/// Puts a member in its room and tells everyone (plain line, JSON event, new member list).
@MainActor func enter(_ connection: WebSocketConnection, _ member: Member) {
    rooms[member.room, default: []].append(member)
    server.subscribe(connection, to: member.json ? jsonTopic(member.room) : member.room)
    if member.json {
        send(connection, json(["type": jsonString("welcome"), "you": jsonString(member.name), "room": jsonString(member.room)]))
    }
    publish(member.room, "* \(member.name) joined", excluding: member.json ? nil : connection)
    publish(jsonTopic(member.room), json(["type": jsonString("join"), "room": jsonString(member.room), "name": jsonString(member.name)]),
            excluding: member.json ? connection : nil)
    presence(member.room)
}

/// Takes a member out of its room and tells the others.
@MainActor func leave(_ connection: WebSocketConnection, _ member: Member, plainLine: String) {
    rooms[member.room]?.removeAll { $0 === member }
    if rooms[member.room]?.isEmpty == true { rooms[member.room] = nil }
    server.unsubscribe(connection, from: member.json ? jsonTopic(member.room) : member.room)
    publish(member.room, plainLine)
    publish(jsonTopic(member.room), json(["type": jsonString("leave"), "room": jsonString(member.room), "name": jsonString(member.name)]))
    presence(member.room)
}

server.onHTTPRequest = { request in
    switch request.target {
    case "/", "/index.html":
        var headers = HTTPHeaders()
        headers.append(name: "Content-Type", value: "text/html; charset=utf-8")
        return HTTPResponse(status: 200, headers: headers, text: demoPage)
    case "/metrics":
        var headers = HTTPHeaders()
        headers.append(name: "Content-Type", value: "text/plain; version=0.0.4; charset=utf-8")
        return HTTPResponse(status: 200, headers: headers, text: metricsText())
    case "/health":
        return HTTPResponse(status: 200, text: "ok \(server.connectionCount) connections\n")
    default:
        return HTTPResponse(status: 404, text: "not found\n")
    }
}

/// `%XX` escapes decoded (the page sends the room through encodeURIComponent); invalid ones kept.
func percentDecoded(_ text: Substring) -> String {
    var bytes: [UInt8] = []
    var index = text.utf8.startIndex
    let utf8 = text.utf8
    while index < utf8.endIndex {
        let byte = utf8[index]
        if byte == UInt8(ascii: "%"), utf8.distance(from: index, to: utf8.endIndex) >= 3,
           let value = UInt8(String(decoding: utf8[utf8.index(after: index)..<utf8.index(index, offsetBy: 3)], as: UTF8.self), radix: 16) {
            bytes.append(value)
            index = utf8.index(index, offsetBy: 3)
        } else {
            bytes.append(byte)
            index = utf8.index(after: index)
        }
    }
    return String(decoding: bytes, as: UTF8.self)
}

var guestNumber = 0
server.onUpgrade = { request, _ in
    guestNumber += 1
    let room = request.path.count > 1 ? percentDecoded(request.path.dropFirst()) : "lobby"
    let json = request.query?.split(separator: "&").contains("json") ?? false
    return .accept(UpgradeAcceptance(userData: Member(name: "guest\(guestNumber)", room: room, json: json)))
}
server.handlers.onOpen = { connection in
    guard let member = connection.userData as? Member else { return }
    counters.open += 1
    if member.json {
        server.subscribe(connection, to: statsTopic)
    } else {
        send(connection, "* you are \(member.name) in room \(member.room); /join ROOM to move, /nick NAME to rename")
    }
    enter(connection, member)
}
server.handlers.onMessage = { connection, kind, bytes in
    counters.messagesIn += 1
    counters.bytesIn += bytes.count
    guard kind == .text, let member = connection.userData as? Member else { return }
    let text = String(decoding: bytes, as: UTF8.self)
    if text.hasPrefix("/join "), text.count > 6 {
        leave(connection, member, plainLine: "* \(member.name) left for another room")
        member.room = String(text.dropFirst(6))
        if !member.json { send(connection, "* you are in room \(member.room)") }
        enter(connection, member)
    } else if text.hasPrefix("/nick "), case let name = String(text.dropFirst(6).prefix(24)).filter({ $0 != " " }), !name.isEmpty {
        let old = member.name
        member.name = name
        publish(member.room, "* \(old) is now \(name)")
        if member.json { send(connection, json(["type": jsonString("welcome"), "you": jsonString(name), "room": jsonString(member.room)])) }
        publish(jsonTopic(member.room), json(["type": jsonString("rename"), "room": jsonString(member.room),
                                                "from": jsonString(old), "to": jsonString(name)]))
        presence(member.room)
    } else {
        publish(member.room, "\(member.name): \(text)")
        publish(jsonTopic(member.room), json(["type": jsonString("chat"), "room": jsonString(member.room),
                                                "from": jsonString(member.name), "text": jsonString(text)]))
    }
}
server.handlers.onClose = { connection, _ in
    guard let member = connection.userData as? Member else { return }
    counters.open -= 1
    if member.json { server.unsubscribe(connection, from: statsTopic) }
    leave(connection, member, plainLine: "* \(member.name) left")
}


/// `/metrics` in the Prometheus text format (version 0.0.4), from the demo's own counts.
@MainActor func metricsText() -> String {
    """
    # HELP swiftws_demo_connections Open WebSocket connections.
    # TYPE swiftws_demo_connections gauge
    swiftws_demo_connections \(counters.open)
    # HELP swiftws_demo_messages_total Messages received (in) and sent (out) by the demo's handlers.
    # TYPE swiftws_demo_messages_total counter
    swiftws_demo_messages_total{direction="in"} \(counters.messagesIn)
    swiftws_demo_messages_total{direction="out"} \(counters.messagesOut)
    # HELP swiftws_demo_bytes_total Message payload bytes received and sent (before any compression).
    # TYPE swiftws_demo_bytes_total counter
    swiftws_demo_bytes_total{direction="in"} \(counters.bytesIn)
    swiftws_demo_bytes_total{direction="out"} \(counters.bytesOut)
    # HELP swiftws_demo_dropped_messages_total Sends that returned .dropped (or threw).
    # TYPE swiftws_demo_dropped_messages_total counter
    swiftws_demo_dropped_messages_total \(counters.dropped)
    # HELP swiftws_demo_buffered_bytes Bytes the server holds for its connections (server.heldBytes).
    # TYPE swiftws_demo_buffered_bytes gauge
    swiftws_demo_buffered_bytes \(server.heldBytes)

    """
}

/// Every second: the live panel's numbers to every JSON member (rates are per the last second).
var lastCounters = Counters()
@MainActor func broadcastStats() {
    let now = counters
    publish(statsTopic, json([
        "type": jsonString("stats"),
        "connections": String(now.open),
        "messagesInPerSecond": String(now.messagesIn - lastCounters.messagesIn),
        "messagesOutPerSecond": String(now.messagesOut - lastCounters.messagesOut),
        "bytesInPerSecond": String(now.bytesIn - lastCounters.bytesIn),
        "bytesOutPerSecond": String(now.bytesOut - lastCounters.bytesOut),
        "bytesIn": String(now.bytesIn), "bytesOut": String(now.bytesOut),
        "dropped": String(now.dropped), "bufferedBytes": String(server.heldBytes),
    ]))
    lastCounters = now
    _ = loop.schedule(after: .seconds(1)) { broadcastStats() }
}
_ = loop.schedule(after: .seconds(1)) { broadcastStats() }

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
