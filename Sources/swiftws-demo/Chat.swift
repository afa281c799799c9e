// The chat itself: rooms (topics), members, presence, the demo's counters and /metrics. Thread-safe:
// with `--loops N` the handlers run on N threads, so every piece of shared state sits behind one
// lock (held for bookkeeping only, never while a message is built). With `--redis URL` the rooms
// span nodes: chat lines, joins and presence travel through Redis; each node keeps its own member
// list and labels what it publishes with its node name, so pages merge the lists per node.
import SwiftWS
import SwiftWSTransport

/// Who a connection is and which room (topic) it is in; attached at upgrade time. `json` members
/// (the page, which asks with `?json`) get JSON messages; the others get the plain text lines.
/// `name` and `room` change under the chat's lock, on the member's own loop thread.
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

// Topics: the room name for plain-text members; these prefixes (a path cannot hold a newline)
// for JSON members of a room and for everyone who wants the live panel.
func jsonTopic(_ room: String) -> String { "\njson:" + room }
let statsTopic = "\nstats"

/// The chat on one server (on any number of loops). Its methods may be called from any of the
/// server's loop threads.
final class Chat {
    let server: WebSocketServer
    /// This node's name, shown by the page and attached to presence and stats.
    let node: String
    /// Whether guest names carry the node name (several nodes share the rooms through Redis).
    let qualifyNames: Bool

    private struct State {
        var counters = Counters()
        var lastCounters = Counters()
        var lastBroadcast = (payload: 0, frames: 0)
        /// Who is in each room on this node, in order of arrival.
        var rooms: [String: [Member]] = [:]
        var guestNumber = 0
        /// The first loop's held bytes at the last tick (read there; /metrics may run on any loop).
        var heldBytes = 0
    }
    /// The shared state; handlers on every loop thread take this lock for their bookkeeping.
    private let state = PThreadLock(State())

    init(server: WebSocketServer, node: String, qualifyNames: Bool) {
        self.server = server
        self.node = node
        self.qualifyNames = qualifyNames
    }

    /// Sets the server's hooks and handlers (before its loop runs).
    func install(page: String) {
        server.onHTTPRequest = { [self] request in
            switch request.target {
            case "/", "/index.html":
                var headers = HTTPHeaders()
                headers.append(name: "Content-Type", value: "text/html; charset=utf-8")
                return HTTPResponse(status: 200, headers: headers, text: page)
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
        server.onUpgrade = { [self] request, _ in
            let number = state.withLock { state -> Int in
                state.guestNumber += 1
                return state.guestNumber
            }
            let room = request.path.count > 1 ? percentDecoded(request.path.dropFirst()) : "lobby"
            let json = request.query?.split(separator: "&").contains("json") ?? false
            let name = qualifyNames ? "guest\(number)@\(node)" : "guest\(number)"
            return .accept(UpgradeAcceptance(userData: Member(name: name, room: room, json: json)))
        }
        server.handlers.onOpen = { [self] connection in
            guard let member = connection.userData as? Member else { return }
            state.withLock { $0.counters.open += 1 }
            if member.json {
                server.subscribe(connection, to: statsTopic)
            } else {
                send(connection, "* you are \(member.name) in room \(member.room); /join ROOM to move, /nick NAME to rename")
            }
            enter(connection, member)
        }
        server.handlers.onMessage = { [self] connection, kind, bytes in
            state.withLock {
                $0.counters.messagesIn += 1
                $0.counters.bytesIn += bytes.count
            }
            guard kind == .text, let member = connection.userData as? Member else { return }
            received(String(decoding: bytes, as: UTF8.self), from: connection, member)
        }
        server.handlers.onClose = { [self] connection, _ in
            guard let member = connection.userData as? Member else { return }
            state.withLock { $0.counters.open -= 1 }
            if member.json { server.unsubscribe(connection, from: statsTopic) }
            leave(connection, member, plainLine: "* \(member.name) left")
        }
    }

    private func received(_ text: String, from connection: WebSocketConnection, _ member: Member) {
        if text.hasPrefix("/join "), text.count > 6 {
            leave(connection, member, plainLine: "* \(member.name) left for another room")
            state.withLock { _ in member.room = String(text.dropFirst(6)) }
            if !member.json { send(connection, "* you are in room \(member.room)") }
            enter(connection, member)
        } else if text.hasPrefix("/nick "), case let name = String(text.dropFirst(6).prefix(24)).filter({ $0 != " " }), !name.isEmpty {
            let old = member.name
            state.withLock { _ in member.name = name }
            publish(member.room, "* \(old) is now \(name)")
            if member.json { send(connection, welcome(member)) }
            publish(jsonTopic(member.room), json(["type": jsonString("rename"), "room": jsonString(member.room),
                                                    "from": jsonString(old), "to": jsonString(name)]))
            presence(member.room)
        } else {
            publish(member.room, "\(member.name): \(text)")
            publish(jsonTopic(member.room), json(["type": jsonString("chat"), "room": jsonString(member.room),
                                                    "from": jsonString(member.name), "text": jsonString(text)]))
        }
    }

    private func welcome(_ member: Member) -> String {
        json(["type": jsonString("welcome"), "you": jsonString(member.name), "room": jsonString(member.room),
              "node": jsonString(node)])
    }

    /// Sends to one connection and counts it.
    private func send(_ connection: WebSocketConnection, _ text: String) {
        let result = try? connection.send(text: text)
        state.withLock {
            if result == nil || result == .dropped {
                $0.counters.dropped += 1
            } else {
                $0.counters.messagesOut += 1
                $0.counters.bytesOut += text.utf8.count
            }
        }
    }

    /// Publishes to a topic (every loop of this node, and through Redis every node). What it
    /// delivers is counted by the server's broadcast statistics; what this loop dropped here.
    private func publish(_ topic: String, _ text: String, excluding: WebSocketConnection? = nil) {
        // The subscribers on the calling loop (a handler's), which `publish` reports on.
        let local = server.group?.serverOfCallingThread ?? server
        let receivers = local.localSubscriberCount(topic) - (excluding == nil ? 0 : 1)
        let delivered = server.publish(topic, text: text, excluding: excluding)
        let dropped = max(0, receivers - delivered)
        if dropped > 0 { state.withLock { $0.counters.dropped += dropped } }
    }

    /// Tells every node's pages who is in `room` on this node.
    private func presence(_ room: String) {
        let names = state.withLock { ($0.rooms[room] ?? []).map { jsonString($0.name) } }.joined(separator: ",")
        publish(jsonTopic(room), json(["type": jsonString("presence"), "room": jsonString(room), "node": jsonString(node),
                                       "members": "[\(names)]"]))
    }

    /// Puts a member in its room and tells everyone (plain line, JSON event, new member list).
    private func enter(_ connection: WebSocketConnection, _ member: Member) {
        state.withLock { $0.rooms[member.room, default: []].append(member) }
        server.subscribe(connection, to: member.json ? jsonTopic(member.room) : member.room)
        if member.json { send(connection, welcome(member)) }
        publish(member.room, "* \(member.name) joined", excluding: member.json ? nil : connection)
        publish(jsonTopic(member.room), json(["type": jsonString("join"), "room": jsonString(member.room), "name": jsonString(member.name)]),
                excluding: member.json ? connection : nil)
        presence(member.room)
    }

    /// Takes a member out of its room and tells the others.
    private func leave(_ connection: WebSocketConnection, _ member: Member, plainLine: String) {
        state.withLock { state in
            state.rooms[member.room]?.removeAll { $0 === member }
            if state.rooms[member.room]?.isEmpty == true { state.rooms[member.room] = nil }
        }
        server.unsubscribe(connection, from: member.json ? jsonTopic(member.room) : member.room)
        publish(member.room, plainLine)
        publish(jsonTopic(member.room), json(["type": jsonString("leave"), "room": jsonString(member.room), "name": jsonString(member.name)]))
        presence(member.room)
    }

    /// Counts so far: the handlers' own plus what broadcasts and publishes delivered.
    private func totals() -> Counters {
        var counters = state.withLock { $0.counters }
        counters.messagesOut += server.broadcastStatistics.deliveries
        counters.bytesOut += server.broadcastStatistics.payloadBytes
        return counters
    }

    /// `/metrics` in the Prometheus text format (version 0.0.4), from the demo's own counts.
    func metricsText() -> String {
        let counters = totals()
        let statistics = server.broadcastStatistics
        return """
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
        # HELP swiftws_demo_broadcast_bytes_total Broadcast and publish bytes: payloads, and the frames on the wire (after permessage-deflate).
        # TYPE swiftws_demo_broadcast_bytes_total counter
        swiftws_demo_broadcast_bytes_total{kind="payload"} \(statistics.payloadBytes)
        swiftws_demo_broadcast_bytes_total{kind="wire"} \(statistics.frameBytes)
        # HELP swiftws_demo_dropped_messages_total Sends that returned .dropped (or threw).
        # TYPE swiftws_demo_dropped_messages_total counter
        swiftws_demo_dropped_messages_total \(counters.dropped)
        # HELP swiftws_demo_redis_connected Whether the Redis bridge is connected (--redis; 0 without).
        # TYPE swiftws_demo_redis_connected gauge
        swiftws_demo_redis_connected \(server.group?.isRedisConnected == true ? 1 : 0)
        # HELP swiftws_demo_buffered_bytes Bytes the server's first loop holds for its connections (server.heldBytes).
        # TYPE swiftws_demo_buffered_bytes gauge
        swiftws_demo_buffered_bytes \(state.withLock { $0.heldBytes })

        """
    }

    /// Every second (on the first loop): the live panel's numbers to every JSON member of this
    /// node (rates are per the last second), and every fifth second this node's member lists.
    func tick(_ second: Int) {
        let now = totals()
        let statistics = server.broadcastStatistics
        let held = server.heldBytes
        let (last, lastBroadcast) = state.withLock { state in
            defer {
                state.lastCounters = now
                state.lastBroadcast = (statistics.payloadBytes, statistics.frameBytes)
                state.heldBytes = held
            }
            return (state.lastCounters, state.lastBroadcast)
        }
        // Payload over wire bytes of the last second's broadcasts (1.0 when nothing was sent).
        let payload = statistics.payloadBytes - lastBroadcast.payload, frames = statistics.frameBytes - lastBroadcast.frames
        let ratio = frames > 0 ? Double(payload) / Double(frames) : 1.0
        let overall = statistics.frameBytes > 0 ? Double(statistics.payloadBytes) / Double(statistics.frameBytes) : 1.0
        publish(statsTopic, json([
            "type": jsonString("stats"),
            "node": jsonString(node),
            "connections": String(now.open),
            "messagesInPerSecond": String(now.messagesIn - last.messagesIn),
            "messagesOutPerSecond": String(now.messagesOut - last.messagesOut),
            "bytesInPerSecond": String(now.bytesIn - last.bytesIn),
            "bytesOutPerSecond": String(now.bytesOut - last.bytesOut),
            "bytesIn": String(now.bytesIn), "bytesOut": String(now.bytesOut),
            "compressionRatio": formatted(ratio), "compressionRatioTotal": formatted(overall),
            "wireBytesOut": String(statistics.frameBytes),
            "dropped": String(now.dropped), "bufferedBytes": String(held),
        ]))
        if second % 5 == 0 {
            for room in state.withLock({ Array($0.rooms.keys) }) { presence(room) }
        }
    }

    private func formatted(_ ratio: Double) -> String {
        let hundredths = Int((ratio * 100).rounded())
        return "\(hundredths / 100).\(hundredths % 100 < 10 ? "0" : "")\(hundredths % 100)"
    }
}
