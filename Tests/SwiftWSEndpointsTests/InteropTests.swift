import Glibc
import Testing
import SwiftWSCore
@testable import SwiftWSEndpoints
@testable import SwiftWSTransport
import SwiftWSTestSupport

/// Our server against real clients, our client against real servers: Python `websockets` and
/// Node `ws`, without permessage-deflate, with each library's default, and with each parameter
/// (server/client_no_context_takeover, server/client_max_window_bits) and all of them at once;
/// messages from 0 B to 16 MiB (1 MiB in the parameter cases), whole and fragmented. Also over
/// TLS (wss://) with Python `websockets` and an `ssl.SSLContext`, with and without compression.
@Suite("Interop with Python websockets and Node ws", .serialized)
struct InteropTests {
    enum Peer: String, CaseIterable {
        case python, node

        var available: Bool { self == .python ? PeerProcess.hasPython : PeerProcess.hasNode }

        func command(_ arguments: [String]) -> [String] {
            switch self {
            case .python: return [PeerProcess.python, PeerProcess.peersDirectory + "/python_peer.py"] + arguments
            case .node: return ["node", PeerProcess.peersDirectory + "/node_peer.js"] + arguments
            }
        }

        var environment: [String] { self == .node ? ["NODE_PATH=/usr/share/nodejs"] : [] }
    }

    /// Peer, compression spec (see Tests/Peers/python_peer.py), whether to stop at 1 MiB, and
    /// whether to speak TLS.
    static let combinations: [(Peer, String, Bool, Bool)] = Peer.allCases.flatMap { peer in
        [(peer, "plain", false, false), (peer, "deflate", false, false)]
            + ["deflate:snct", "deflate:cnct", "deflate:smwb=10", "deflate:cmwb=9", "deflate:snct,cnct,smwb=9,cmwb=9"]
                .map { (peer, $0, true, false) }
    } + [(.python, "plain", true, true), (.python, "deflate", true, true)]

    /// The peer's environment: the certificates when speaking TLS.
    func environment(_ peer: Peer, tls: Bool) -> [String] {
        peer.environment + (tls ? ["SWIFTWS_PEER_TLS_DIR=\(TestCertificates.directory)"] : [])
    }

    @Test(arguments: InteropTests.combinations)
    func realClientAgainstOurServer(peer: Peer, spec: String, quick: Bool, tls: Bool) throws {
        guard peer.available else {
            Issue.record("\(peer) peer not installed: run scripts/install-deps.sh")
            return
        }
        let loop = try EventLoop()
        var options = ServerOptions()
        options.connection.maxBufferedAmount = nil
        if tls { options.tls = TestCertificates.server("chain.pem") }
        let server = try WebSocketServer(loop: loop, host: "127.0.0.1", port: 0, options: options)
        var echoed = 0
        var status: CloseStatus?
        server.handlers.onMessage = { connection, kind, bytes in
            _ = try? connection.send(kind, bytes)
            echoed += 1
        }
        server.handlers.onClose = { _, closeStatus in status = closeStatus }
        let scheme = tls ? "wss" : "ws"
        let process = try PeerProcess(peer.command(["client", "\(scheme)://127.0.0.1:\(server.localAddress.port!)/", spec] + (quick ? ["quick"] : [])),
                                      environment: environment(peer, tls: tls))
        func watch() {
            loop.schedule(after: .milliseconds(20)) {
                if process.hasExited() { loop.schedule(after: .milliseconds(20)) { loop.stop() } } else { watch() }
            }
        }
        watch()
        #expect(runBounded(loop, seconds: 40))
        let output = process.readLine(timeoutMilliseconds: 1000) ?? ""
        #expect(process.finish() == 0)
        let expectedCount = (quick ? 7 : 8) * 3 + 2
        #expect(output.hasPrefix("OK \(expectedCount) "))
        // What the peer saw in our 101: the extension agreed, or none.
        #expect(output.contains("permessage-deflate") == (spec != "plain"), "\(output)")
        if spec.contains("snct") { #expect(output.contains("server_no_context_takeover")) }
        if spec.contains("cmwb=9") { #expect(output.contains("client_max_window_bits=9")) }
        #expect(echoed == expectedCount)
        #expect(status == CloseStatus(code: .normalClosure, reason: "bye"))
    }

    @Test(arguments: InteropTests.combinations)
    func ourClientAgainstARealServer(peer: Peer, spec: String, quick: Bool, tls: Bool) throws {
        guard peer.available else {
            Issue.record("\(peer) peer not installed: run scripts/install-deps.sh")
            return
        }
        let process = try PeerProcess(peer.command(["server", spec]), environment: environment(peer, tls: tls))
        defer { process.finish() }
        let ready = try #require(process.readLine(timeoutMilliseconds: 10_000))
        #expect(ready.hasPrefix("listening on 127.0.0.1:"))
        let port = String(ready.split(separator: ":").last ?? "")

        let loop = try EventLoop()
        var plan: [(MessageKind, [UInt8])] = []
        for size in [0, 1, 125, 126, 65_535, 65_536, 1 << 20] + (quick ? [] : [16 << 20]) {
            plan.append((.binary, patternBytes(size)))
            plan.append((.text, Array(String(repeating: "é", count: size / 2).utf8)))
            plan.append((.text, Array(String(repeating: "price update ACME ", count: size / 18 + 1).utf8.prefix(size))))
        }
        let fragmentedText = Array("hé".utf8) + Array("l".utf8) + Array(String(repeating: "lo", count: 5000).utf8)
        var received: [(MessageKind, [UInt8])] = []
        var status: CloseStatus?
        let handlers = ConnectionHandlers()
        var options = ClientOptions()
        options.connection.maxBufferedAmount = nil
        options.tls = TestCertificates.client
        func sendNext(_ connection: WebSocketConnection) {
            let index = received.count
            if index < plan.count {
                _ = plan[index].1.withUnsafeBytes { _ = try? connection.send(plan[index].0, $0) }
            } else if index == plan.count {
                // A text message in three frames, split inside the two-byte "é".
                let bytes = fragmentedText
                bytes.withUnsafeBytes { all in
                    _ = try? connection.sendFragment(.text, UnsafeRawBufferPointer(rebasing: all[0..<2]), isFinal: false)
                    _ = try? connection.sendFragment(.text, UnsafeRawBufferPointer(rebasing: all[2..<4]), isFinal: false)
                    _ = try? connection.sendFragment(.text, UnsafeRawBufferPointer(rebasing: all[4...]), isFinal: true)
                }
            } else {
                connection.close(code: .normalClosure, reason: "bye")
            }
        }
        handlers.onMessage = { connection, kind, bytes in
            received.append((kind, Array(bytes)))
            sendNext(connection)
        }
        handlers.onClose = { _, closeStatus in
            status = closeStatus
            loop.stop()
        }
        var failure: ClientError?
        var agreed: [ExtensionOffer] = []
        WebSocketClient.connect(to: "\(tls ? "wss" : "ws")://127.0.0.1:\(port)/echo?x=1", on: loop, options: options, handlers: handlers) { result in
            switch result {
            case .success(let connection):
                agreed = connection.extensions
                sendNext(connection)
            case .failure(let error):
                failure = error
                loop.stop()
            }
        }
        #expect(runBounded(loop, seconds: 40))
        #expect(failure == nil)
        #expect(received.count == plan.count + 1)
        for (index, message) in received.enumerated() {
            let expected = index < plan.count ? plan[index] : (.text, fragmentedText)
            #expect(message.0 == expected.0 && message.1 == expected.1, "message \(index)")
        }
        #expect(status?.code == .normalClosure)
        #expect(agreed.map(\.name) == (spec == "plain" ? [] : ["permessage-deflate"]))
    }
}
