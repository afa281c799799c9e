import Glibc
import Testing
import SwiftWSCore
@testable import SwiftWSEndpoints
@testable import SwiftWSTransport
import SwiftWSTestSupport

/// Certificates made once per test process by Tests/Peers/make_test_certs.sh (openssl CLI).
enum TestCertificates {
    static let directory: String = {
        let path = "/tmp/swiftws-tls-\(getpid())"
        let status = system("sh '\(PeerProcess.peersDirectory)/make_test_certs.sh' '\(path)'")
        precondition(status == 0, "make_test_certs.sh failed")
        return path
    }()

    static func file(_ name: String) -> String { directory + "/" + name }

    /// The contents of the file `name` (PEM text), "" when it cannot be read.
    static func text(_ name: String) -> String {
        guard let file = fopen(file(name), "r") else { return "" }
        defer { fclose(file) }
        var bytes: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 4096)
        while case let count = fread(&buffer, 1, buffer.count, file), count > 0 { bytes += buffer[0..<count] }
        return String(decoding: bytes, as: UTF8.self)
    }

    /// A server configuration for the CA-signed localhost certificate (or `certificate`).
    static func server(_ certificate: String = "server.pem", key: String = "server.key") -> TLSConfiguration {
        .server(certificateChainFile: file(certificate), privateKeyFile: file(key))
    }

    /// A client configuration trusting only the test CA.
    static var client: TLSConfiguration {
        var configuration = TLSConfiguration.client(caFile: file("ca.pem"))
        configuration.useSystemTrustStore = false
        return configuration
    }
}

/// wss:// end to end on 127.0.0.1: our client against our server, TLS failures with their
/// reasons, and what a hostile or confused peer can do to the TLS handshake.
@Suite("TLS (wss://)", .serialized)
struct TLSTests {
    /// A TLS echo server on a new loop.
    func echoServer(_ configure: (inout ServerOptions) -> Void = { _ in }) throws -> (EventLoop, WebSocketServer) {
        let loop = try EventLoop()
        var options = ServerOptions()
        options.tls = TestCertificates.server()
        configure(&options)
        let server = try WebSocketServer(loop: loop, host: "127.0.0.1", port: 0, options: options)
        server.handlers.onMessage = { connection, kind, bytes in _ = try? connection.send(kind, bytes) }
        return (loop, server)
    }

    func wssURL(_ server: WebSocketServer, host: String = "127.0.0.1") -> String {
        "wss://\(host):\(server.localAddress.port!)/"
    }

    /// Connects with `tls` and returns the error, or nil after a clean echo and close.
    func connectAndEcho(_ loop: EventLoop, _ url: String, tls: TLSConfiguration,
                        sizes: [Int] = [5]) -> (ClientError?, ClientRecord) {
        var options = ClientOptions()
        options.tls = tls
        var record: ClientRecord!
        record = connectRecordingClient(loop, url, options: options, onEvent: {
            if record.error != nil || record.close != nil { return loop.stop() }
            guard let connection = record.connection else { return }
            let index = record.messages.count
            if index < sizes.count {
                _ = patternBytes(sizes[index]).withUnsafeBytes { _ = try? connection.send(.binary, $0) }
            } else {
                connection.close(code: .normalClosure, reason: "done")
            }
        })
        #expect(runBounded(loop, seconds: 10))
        if record.error == nil {
            #expect(record.messages.map(\.1) == sizes.map(patternBytes))
            #expect(record.close?.code == .normalClosure)
        }
        return (record.error, record)
    }

    @Test func echoSmallAndOneMebibyteOverTLS() throws {
        let (loop, server) = try echoServer()
        var versions: [String?] = []
        var suites: [String?] = []
        var secure = false
        server.handlers.onOpen = { connection in
            secure = connection.isSecure
            versions.append(connection.stream.tlsVersion)
            suites.append(connection.stream.tls?.cipherSuite)
        }
        let (error, record) = connectAndEcho(loop, wssURL(server), tls: TestCertificates.client,
                                             sizes: [0, 5, 125, 70_000, 1 << 20, 3])
        #expect(error == nil)
        #expect(secure)
        #expect(versions == ["TLSv1.3"])
        // Our client (OpenSSL's default order) offers AES-256-GCM first; the server prefers
        // AES-128-GCM (the cheaper one with AES-NI, sws_ctx_prefer_aes128_gcm).
        #expect(suites == ["TLS_AES_128_GCM_SHA256"])
        #expect(record.connection?.isSecure == true)
        // The server's close_notify reached our client as close_notify, not a bare FIN.
        #expect(record.connection?.stream.tls?.closeNotifyReceived == true)
        // The host name form of the URL verifies too (SNI "localhost").
        let (again, _) = connectAndEcho(loop, wssURL(server, host: "localhost"), tls: TestCertificates.client)
        #expect(again == nil)
    }

    @Test func tls12AndCompressionAndPEMInMemory() throws {
        let read = TestCertificates.text
        let (loop, server) = try echoServer { options in
            options.tls = .server(certificateChainPEM: read("chain.pem"), privateKeyPEM: read("server.key"))
            options.tls?.maximumVersion = .tls12
        }
        var version: String?
        var suite: String?
        var compressed = false
        server.handlers.onOpen = { connection in
            version = connection.stream.tlsVersion
            suite = connection.stream.tls?.cipherSuite
            compressed = !connection.extensions.isEmpty
        }
        var client = TestCertificates.client
        client.caFile = nil
        client.caPEM = read("ca.pem")
        let (error, _) = connectAndEcho(loop, wssURL(server), tls: client, sizes: [10, 100_000])
        #expect(error == nil)
        #expect(version == "TLSv1.2")
        #expect(suite == "ECDHE-ECDSA-AES128-GCM-SHA256")  // the server's preference in TLS 1.2 too
        #expect(compressed)
    }

    /// Large writes leave in batches of records (`tlsTransmitStaged`); when the kernel takes only
    /// part of a batch, the rest of its records heads the backlog, before the plaintext not yet
    /// encrypted. Messages written at once, far more than the socket takes, arrive whole and in
    /// order, and the drain callback still fires.
    @Test func largeWritesTheKernelRefusesArriveInOrder() throws {
        let (loop, server) = try echoServer { options in
            options.listen.stream.sendBufferSize = 16 * 1024
            options.connection.perMessageDeflate = .disabled  // the pattern would compress to little
        }
        let sizes = [(1 << 20) + 7, 100_000, 20_000, 5, 70_000]
        func message(_ index: Int) -> [UInt8] {
            var bytes = patternBytes(sizes[index])
            bytes[0] = UInt8(index)
            return bytes
        }
        var encryptedBacklog = 0
        var drained = false
        server.handlers.onDrain = { _ in drained = true }
        server.handlers.onOpen = { connection in
            for index in sizes.indices { _ = message(index).withUnsafeBytes { try? connection.send(.binary, $0) } }
            encryptedBacklog = connection.stream.tls?.encryptedBacklog ?? 0
        }
        var record: ClientRecord!
        var options = ClientOptions()
        options.tls = TestCertificates.client
        record = connectRecordingClient(loop, wssURL(server), options: options, onEvent: {
            if record.error != nil || record.close != nil { return loop.stop() }
            if record.messages.count == sizes.count { record.connection?.close(code: .normalClosure, reason: "done") }
        })
        #expect(runBounded(loop, seconds: 20))
        #expect(record.error == nil)
        #expect(encryptedBacklog > 0, "the kernel took every record at once: the test proves nothing")
        #expect(record.messages.count == sizes.count)
        for (index, received) in record.messages.enumerated() where index < sizes.count {
            #expect(received.1 == message(index), "message \(index)")
        }
        #expect(drained)
    }

    /// `privateKeyPassword`: an encrypted key (PKCS#8, AES-256, from make_test_certs.sh) loads
    /// with its password, from a file and from PEM text, and serves; a missing or wrong password
    /// fails when the context is made, with a reason. No terminal prompt: our callback always
    /// answers OpenSSL (its default one would read /dev/tty and block this test on a terminal).
    @Test func anEncryptedKeyLoadsWithItsPasswordOnly() throws {
        func settings(fromFile: Bool, password: String?) -> TLSConfiguration {
            var configuration = fromFile ? TestCertificates.server("chain.pem", key: "server-encrypted.key")
                : .server(certificateChainPEM: TestCertificates.text("chain.pem"),
                          privateKeyPEM: TestCertificates.text("server-encrypted.key"))
            configuration.privateKeyPassword = password
            return configuration
        }
        #expect(TestCertificates.text("server-encrypted.key").contains("BEGIN ENCRYPTED PRIVATE KEY"))
        for fromFile in [true, false] {
            let (loop, server) = try echoServer { $0.tls = settings(fromFile: fromFile, password: "swiftws-test") }
            #expect(connectAndEcho(loop, wssURL(server), tls: TestCertificates.client).0 == nil)
            let source = fromFile ? "file" : "PEM"
            for (password, reason) in [(nil, "needs its password"), ("wrong", "bad decrypt")] as [(String?, String)] {
                #expect {
                    _ = try TLSContext(configuration: settings(fromFile: fromFile, password: password), role: .server)
                } throws: { error in
                    let message = (error as? TLSError)?.message ?? ""
                    return message.contains("cannot read the private key \(source)") && message.contains(reason)
                }
            }
        }
    }

    @Test func verificationFailuresSayWhy() throws {
        let (loop, server) = try echoServer()
        // Unknown CA: only the system store, which does not know the test CA.
        let (unknown, _) = connectAndEcho(loop, wssURL(server), tls: TLSConfiguration())
        #expect(unknown == .tlsFailed("TLS handshake failed: certificate verify failed: unable to get local issuer certificate"))
        // Wrong host name.
        var wrongName = TestCertificates.client
        wrongName.serverName = "wrong.example"
        let (mismatch, _) = connectAndEcho(loop, wssURL(server), tls: wrongName)
        #expect(mismatch == .tlsFailed("TLS handshake failed: certificate verify failed: hostname mismatch"))
        // The opt-out skips both.
        var insecure = TLSConfiguration()
        insecure.insecureSkipVerification = true
        insecure.serverName = "wrong.example"
        #expect(connectAndEcho(loop, wssURL(server), tls: insecure).0 == nil)
        // The server keeps serving.
        #expect(connectAndEcho(loop, wssURL(server), tls: TestCertificates.client).0 == nil)
    }

    @Test func expiredCertificateIsRefused() throws {
        let (loop, server) = try echoServer { $0.tls = TestCertificates.server("expired.pem") }
        let (error, _) = connectAndEcho(loop, wssURL(server), tls: TestCertificates.client)
        #expect(error == .tlsFailed("TLS handshake failed: certificate verify failed: certificate has expired"))
    }

    @Test func badServerSettingsFailAtStart() throws {
        let loop = try EventLoop()
        var options = ServerOptions()
        options.tls = .server(certificateChainFile: "/nonexistent.pem", privateKeyFile: TestCertificates.file("server.key"))
        #expect(throws: NetworkError.self) { try WebSocketServer(loop: loop, host: "127.0.0.1", port: 0, options: options) }
        options.tls = TestCertificates.server("server.pem", key: "client.key")  // key of another certificate
        do {
            _ = try WebSocketServer(loop: loop, host: "127.0.0.1", port: 0, options: options)
            Issue.record("a mismatched key was accepted")
        } catch {
            #expect(error.description.contains("key values mismatch"), "\(error)")
        }
    }

    @Test func tlsClientOnPlainPortAndPlainClientOnTLSPort() throws {
        let loop = try EventLoop()
        let plain = try WebSocketServer(loop: loop, host: "127.0.0.1", port: 0)
        let (error, _) = connectAndEcho(loop, wssURL(plain), tls: TestCertificates.client)
        guard case .tlsFailed(let reason) = error else {
            Issue.record("expected a TLS failure, got \(String(describing: error))")
            return
        }
        #expect(reason.hasPrefix("TLS handshake failed: "), "\(reason)")

        let (tlsLoop, tlsServer) = try echoServer()
        let (plainError, _) = connectAndEcho(tlsLoop, "ws://127.0.0.1:\(tlsServer.localAddress.port!)/", tls: TLSConfiguration())
        #expect(plainError == .closedDuringHandshake)
        #expect(tlsServer.handshakeCount == 0)
        #expect(connectAndEcho(tlsLoop, wssURL(tlsServer), tls: TestCertificates.client).0 == nil)
    }

    @Test func garbageHelloAndSilentPeerAreBounded() throws {
        let (loop, server) = try echoServer { $0.handshakeTimeout = .milliseconds(300) }
        var outcomes: [String] = []
        var started = nowMilliseconds()
        var elapsed: [Int] = []
        func finish(_ text: String) {
            outcomes.append(text)
            elapsed.append(nowMilliseconds() - started)
            if outcomes.count == 2 { loop.stop() }
        }
        // Garbage instead of a client hello: closed at once, not after the timeout.
        loop.connect(to: server.localAddress, timeout: .seconds(2)) { result in
            guard case .success(let stream) = result else { return finish("connect failed") }
            stream.onClose = { _ in finish("garbage closed") }
            stream.write(Array(repeating: 0x16, count: 3) + patternBytes(2000))
        }
        // Nothing at all: closed by the handshake timeout.
        loop.connect(to: server.localAddress, timeout: .seconds(2)) { result in
            guard case .success(let stream) = result else { return finish("connect failed") }
            stream.onRead = { _ in }
            stream.onClose = { _ in finish("silent closed") }
        }
        started = nowMilliseconds()
        #expect(runBounded(loop, seconds: 5))
        #expect(outcomes == ["garbage closed", "silent closed"])
        #expect(elapsed.first ?? 999 < 250)
        #expect((elapsed.last ?? 0) >= 250 && (elapsed.last ?? 9999) < 2000)
        #expect(server.handshakeCount == 0)
        // A peer that vanishes mid-handshake: the client hello, then a reset.
        #expect(connectAndEcho(loop, wssURL(server), tls: TestCertificates.client).0 == nil)
    }

    @Test func connectionsBeyondTheLimitGet503OverTLSToo() throws {
        // Issue 11: the TLS handshake finishes first, so the client reads the 503 (not a reset).
        let (loop, server) = try echoServer { $0.maxConnections = 1 }
        var options = ClientOptions()
        options.tls = TestCertificates.client
        var second: ClientRecord!
        let first = connectRecordingClient(loop, wssURL(server), options: options, onEvent: {
            guard second == nil else { return }
            second = connectRecordingClient(loop, wssURL(server), options: options, onEvent: { loop.stop() })
        })
        #expect(runBounded(loop))
        #expect(first.connection != nil)
        #expect(second.error == .unexpectedStatus(code: 503, reason: "Service Unavailable"))
    }

    @Test func aSilentPeerBeyondTheLimitIsClosedByTheHandshakeTimeout() throws {
        // The 503 waits for the TLS handshake; a peer that never sends its hello must not keep
        // the descriptor past the handshake timeout.
        let (loop, server) = try echoServer {
            $0.maxConnections = 1
            $0.handshakeTimeout = .milliseconds(300)
        }
        var options = ClientOptions()
        options.tls = TestCertificates.client
        var started = 0
        var elapsed: Int?
        let first = connectRecordingClient(loop, wssURL(server), options: options, onEvent: {
            guard started == 0 else { return }
            started = nowMilliseconds()
            loop.connect(to: server.localAddress, timeout: .seconds(2)) { result in
                guard case .success(let stream) = result else { return loop.stop() }
                stream.onRead = { _ in }
                stream.onClose = { _ in
                    elapsed = nowMilliseconds() - started
                    loop.stop()
                }
            }
        })
        #expect(runBounded(loop, seconds: 5))
        #expect(first.connection != nil)
        #expect((elapsed ?? 0) >= 250 && (elapsed ?? 9999) < 2000, "closed after \(String(describing: elapsed)) ms")
    }

    @Test func mutualTLSShowsTheClientSubject() throws {
        let (loop, server) = try echoServer { options in
            options.tls?.verifyClientCertificates = true
            options.tls?.caFile = TestCertificates.file("ca.pem")
            options.tls?.useSystemTrustStore = false
        }
        var subjects: [String?] = []
        server.handlers.onOpen = { subjects.append($0.peerCertificateSubject) }
        var client = TestCertificates.client
        client.certificateChainFile = TestCertificates.file("client.pem")
        client.privateKeyFile = TestCertificates.file("client.key")
        #expect(connectAndEcho(loop, wssURL(server), tls: client).0 == nil)
        #expect(subjects == ["CN=test client"])
        // Without a certificate: refused (TLS 1.3 reports it after the client's handshake ends,
        // so the client may see the alert or a closed connection).
        let (error, _) = connectAndEcho(loop, wssURL(server), tls: TestCertificates.client)
        #expect(error != nil)
        #expect(subjects.count == 1)
    }

    @Test func sniChoosesTheCertificateForTheRequestedName() throws {
        let (loop, server) = try echoServer { options in
            options.tls?.sniCertificates = [.files(chain: TestCertificates.file("other-name.pem"),
                                                   key: TestCertificates.file("server.key"))]
        }
        var other = TestCertificates.client
        other.serverName = "other.test"  // only the SNI certificate has this name
        #expect(connectAndEcho(loop, wssURL(server), tls: other).0 == nil)
        #expect(connectAndEcho(loop, wssURL(server, host: "localhost"), tls: TestCertificates.client).0 == nil)
        var unknown = TestCertificates.client
        unknown.serverName = "nobody.test"  // no match: the main certificate, which does not fit
        #expect(connectAndEcho(loop, wssURL(server), tls: unknown).0
                == .tlsFailed("TLS handshake failed: certificate verify failed: hostname mismatch"))
    }

    /// Sockets on 127.0.0.1 that involve `port` and are still held open by a descriptor
    /// (/proc/net/tcp: inode 0 means no descriptor, as in TIME_WAIT). Counting descriptors of
    /// the whole process would also count what suites running in parallel open.
    func heldSockets(port: UInt16) -> Int {
        guard let file = fopen("/proc/net/tcp", "r") else { return -1 }
        defer { fclose(file) }
        let suffix = ":" + String(port, radix: 16, uppercase: true).leftPadded(to: 4)
        var count = 0
        var line = [CChar](repeating: 0, count: 512)
        while fgets(&line, 512, file) != nil {
            let fields = String(cString: line).split(separator: " ")
            guard fields.count > 9, fields[1].hasSuffix(suffix) || fields[2].hasSuffix(suffix) else { continue }
            if fields[9] != "0" { count += 1 }
        }
        return count
    }

    @Test func twoHundredClientsGetABroadcastThenAThousandCyclesLeakNoSocket() throws {
        let (loop, server) = try echoServer()
        let port = server.localAddress.port!
        #expect(heldSockets(port: port) == 1)  // the listener
        var options = ClientOptions()
        options.tls = TestCertificates.client
        // 200 concurrent wss clients, one broadcast built once for all.
        var records: [ClientRecord] = []
        var broadcastSent = false
        var closing = false
        func check() {
            if !broadcastSent && records.count == 200 && records.allSatisfy({ $0.connection != nil }) {
                broadcastSent = true
                #expect(server.broadcast(text: "to everyone") == 200)
            }
            if !closing && broadcastSent && records.allSatisfy({ $0.texts == ["to everyone"] }) {
                closing = true
                for record in records { record.connection?.close(code: .normalClosure, reason: "") }
            }
            if closing && records.allSatisfy({ $0.close != nil }) { loop.stop() }
        }
        for _ in 0..<200 { records.append(connectRecordingClient(loop, wssURL(server), options: options, onEvent: check)) }
        #expect(runBounded(loop, seconds: 30))
        #expect(records.allSatisfy { $0.error == nil && $0.close?.code == .normalClosure })
        records = []

        // 1,000 connect/echo/close cycles, 20 at a time: every socket is closed afterwards.
        var finished = 0
        func cycle() {
            var record: ClientRecord!
            var sent = false
            var closing = false
            record = connectRecordingClient(loop, wssURL(server), options: options, onEvent: {
                if let error = record.error { Issue.record("\(error)") }
                if let connection = record.connection, !sent {
                    sent = true
                    _ = try? connection.send(text: "ping?")
                }
                if record.messages.count == 1, !closing {
                    closing = true
                    record.connection?.close(code: .normalClosure, reason: "")
                }
                if record.close != nil || record.error != nil {
                    finished += 1
                    if finished == 1000 { loop.stop() } else if finished <= 980 { cycle() }
                }
            })
        }
        for _ in 0..<20 { cycle() }
        #expect(runBounded(loop, seconds: 60))
        #expect(finished == 1000)
        // Lingering closes end within a few iterations: wait (bounded) for them.
        var settled = false
        func poll() {
            loop.schedule(after: .milliseconds(50)) {
                if server.connectionCount == 0 && heldSockets(port: port) == 1 { settled = true; loop.stop() } else { poll() }
            }
        }
        poll()
        _ = runBounded(loop, seconds: 10)
        #expect(settled, "sockets held: \(heldSockets(port: port)) (the listener is 1); connections: \(server.connectionCount)")
    }

    @Test func theClientResumesItsSessionWithATicket() throws {
        let (loop, server) = try echoServer()
        var resumed: [Bool] = []
        server.handlers.onOpen = { resumed.append($0.stream.tlsSessionReused) }
        for _ in 0..<3 { #expect(connectAndEcho(loop, wssURL(server), tls: TestCertificates.client).0 == nil) }
        #expect(resumed == [false, true, true])
        // Without tickets: a full handshake every time.
        var noTickets = TestCertificates.client
        noTickets.sessionTickets = false
        resumed = []
        for _ in 0..<2 { #expect(connectAndEcho(loop, wssURL(server), tls: noTickets).0 == nil) }
        #expect(resumed == [false, false])
    }

    @Test func certificateReloadAppliesToNewConnections() throws {
        let (loop, server) = try echoServer { $0.tls = TestCertificates.server("other.pem", key: "other.key") }
        #expect(connectAndEcho(loop, wssURL(server), tls: TestCertificates.client).0 != nil)
        #expect(throws: TLSError.self) { try server.reloadTLS(TestCertificates.server("missing.pem")) }
        try server.reloadTLS(TestCertificates.server())
        #expect(connectAndEcho(loop, wssURL(server), tls: TestCertificates.client).0 == nil)
    }

    /// wss:// on 2 loops, and a reload that reaches both: the server starts with a certificate
    /// the client does not trust (every handshake fails, on either loop), `reloadTLS` on the first
    /// loop's thread switches to a trusted one, and then every connection echoes, on both loops
    /// (a loop still serving the old certificate would fail its share). Sequential connections
    /// alternate between the loops (`MultiLoopTests.sequentialConnectionsAlternateBetweenLoops`);
    /// the second loop runs on its own thread, so half the handshakes cross threads.
    @Test func tlsOnTwoLoopsAndReloadReachesEveryLoop() throws {
        let (loop, server) = try echoServer { options in
            options.loops = 2
            options.tls = TestCertificates.server("other.pem", key: "other.key")
        }
        let threads = PThreadLock<Set<UInt>>([])
        server.handlers.onOpen = { connection in
            #expect(connection.isSecure)
            threads.withLock { _ = $0.insert(UInt(pthread_self())) }
        }
        for index in 0..<4 {
            let (error, _) = connectAndEcho(loop, wssURL(server), tls: TestCertificates.client)
            #expect(error != nil, "connection \(index) before the reload")
        }
        #expect(threads.withLock { $0.isEmpty })
        try server.reloadTLS(TestCertificates.server())
        for index in 0..<8 {
            let (error, _) = connectAndEcho(loop, wssURL(server), tls: TestCertificates.client)
            #expect(error == nil, "connection \(index) after the reload")
        }
        #expect(threads.withLock { $0.count } == 2)
        server.shutdown { loop.stop() }
        #expect(runBounded(loop, seconds: 10))
    }
}

private extension String {
    func leftPadded(to width: Int) -> String {
        count >= width ? self : String(repeating: "0", count: width - count) + self
    }
}
