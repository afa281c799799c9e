import Glibc
import Testing
import SwiftWSCore
@testable import SwiftWSEndpoints
@testable import SwiftWSTransport
import SwiftWSTestSupport

/// Reach from Swift over real sockets: Unix sockets (paths and abstract names), adopted sockets
/// (a listening descriptor, a connection handed to the server, a connection handed to the
/// client), redirect chains and their limits from a server's 3xx answers, a reconnecting client
/// whose server goes away and comes back, and a SOCKS5 proxy (microsocks) started here.
@Suite("Reach: Unix and adopted sockets, redirects, reconnection, proxies", .serialized)
struct ReachTests {
    private func echo(_ server: WebSocketServer) -> WebSocketServer {
        server.handlers.onMessage = { connection, kind, bytes in _ = try? connection.send(kind, bytes) }
        return server
    }

    /// Connects (over `socket` when given), sends "hello", and stops the loop on its echo.
    private func expectEcho(_ loop: EventLoop, _ url: String, options: ClientOptions = ClientOptions(), socket: Int32? = nil,
                            seconds: Int = 5) -> ClientRecord {
        let record = ClientRecord()
        let handlers = recordingHandlers(record) { if !record.messages.isEmpty { loop.stop() } }
        let completion: (Result<WebSocketConnection, ClientError>) -> Void = { result in
            switch result {
            case .success(let connection):
                record.connection = connection
                _ = try? connection.send(text: "hello")
            case .failure(let error):
                record.error = error
                loop.stop()
            }
        }
        if let socket {
            WebSocketClient.connect(to: url, socket: socket, on: loop, options: options, handlers: handlers, completion: completion)
        } else {
            WebSocketClient.connect(to: url, on: loop, options: options, handlers: handlers, completion: completion)
        }
        #expect(runBounded(loop, seconds: seconds))
        #expect(record.error == nil, "\(String(describing: record.error))")
        #expect(record.texts == ["hello"])
        return record
    }

    @Test(arguments: [false, true])
    func unixSocketServerAndClient(abstract: Bool) throws {
        let loop = try EventLoop()
        let path = abstract ? "@swiftws-test-\(getpid())" : temporaryUnixPath("reach")
        let address = try SocketAddress(unixPath: path)
        #expect(address.isAbstractUnix == abstract)
        #expect(address.host == path)
        let server = echo(try WebSocketServer(loop: loop, address: address))
        #expect(access(path, F_OK) == (abstract ? -1 : 0))
        var options = ClientOptions()
        options.unixSocketPath = path
        let record = expectEcho(loop, "ws://localhost/chat", options: options)
        #expect(server.connections.first?.path == "/chat")
        record.connection?.abort()
        server.shutdown(timeout: .milliseconds(100))
        withExtendedLifetime(server) {}
        _ = runBounded(loop, seconds: 1)
    }

    @Test func adoptedListeningSocketAndConnections() throws {
        let loop = try EventLoop()
        // A listening socket made outside the library (as systemd passes one).
        let listening = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var address = try #require(SocketAddress(ip: "127.0.0.1", port: 0))
        #expect(address.withSockAddr { bind(listening, $0, $1) } == 0)
        #expect(Glibc.listen(listening, 16) == 0)
        let server = echo(try WebSocketServer(loop: loop, listeningSocket: listening))
        address = server.localAddress
        // The client's connection, also made outside (blocking connect: the kernel completes it).
        let connected = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        #expect(address.withSockAddr { Glibc.connect(connected, $0, $1) } == 0)
        _ = expectEcho(loop, "ws://127.0.0.1/", socket: connected)

        // A connection handed to the server by the program's own code: a socket pair, no listener.
        var pair: [Int32] = [0, 0]
        #expect(socketpair(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0, &pair) == 0)
        try server.adoptConnection(socket: pair[0])
        _ = expectEcho(loop, "ws://localhost/", socket: pair[1])

        // Not a connection: refused with the reason, the caller keeps the descriptor.
        let unconnected = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        #expect(throws: NetworkError.self) { try server.adoptConnection(socket: unconnected) }
        #expect(throws: NetworkError.self) { _ = try WebSocketServer(loop: loop, listeningSocket: unconnected) }
        close(unconnected)
        server.shutdown(timeout: .milliseconds(100))
        _ = runBounded(loop, seconds: 1)
    }

    /// A server answering `routes` (path → Location) with `status`, accepting other paths.
    private func redirectingServer(_ loop: EventLoop, status: Int, routes: [String: String]) throws -> WebSocketServer {
        let server = echo(try WebSocketServer(loop: loop, host: "127.0.0.1", port: 0))
        server.onUpgrade = { request, _ in
            guard let location = routes[request.path] else { return .accept(UpgradeAcceptance()) }
            return .reject(status: status, body: "moved", headers: HTTPHeaders([("Location", location)]))
        }
        return server
    }

    @Test(arguments: [301, 302, 303, 307, 308])
    func redirectChainIsFollowed(status: Int) throws {
        let loop = try EventLoop()
        let final = echo(try WebSocketServer(loop: loop, host: "127.0.0.1", port: 0))
        let hops = try redirectingServer(loop, status: status, routes: [
            "/a": "/b", "/b": "c", "/c": "http://127.0.0.1:\(final.localAddress.port!)/end"])
        _ = expectEcho(loop, url(hops, "/a"))
        #expect(final.connections.first?.path == "/end")
    }

    @Test func crossOriginRedirectDropsCredentialHeadersSameOriginKeepsThem() throws {
        let loop = try EventLoop()
        var received: [String: [String]] = [:]  // path -> the listed request headers the final server got
        let final = echo(try WebSocketServer(loop: loop, host: "127.0.0.1", port: 0))
        final.onUpgrade = { request, _ in
            if request.path == "/same" {
                return .reject(status: 302, body: "moved", headers: HTTPHeaders([("Location", "/kept")]))
            }
            received[request.path] = ["Authorization", "Cookie", "Proxy-Authorization", "X-Custom"]
                .filter { request.headers.contains($0) }
            return .accept(UpgradeAcceptance())
        }
        // Another origin: the same host, another port.
        let hops = try redirectingServer(loop, status: 302, routes: ["/cross": "ws://127.0.0.1:\(final.localAddress.port!)/crossed"])
        var options = ClientOptions()
        options.headers = HTTPHeaders([("Authorization", "Bearer secret"), ("Cookie", "session=secret"),
                                       ("Proxy-Authorization", "Basic secret"), ("X-Custom", "keep")])
        _ = expectEcho(loop, url(hops, "/cross"), options: options)
        _ = expectEcho(loop, url(final, "/same"), options: options)
        #expect(received["/crossed"] == ["X-Custom"])
        #expect(received["/kept"] == ["Authorization", "Cookie", "Proxy-Authorization", "X-Custom"])
    }

    @Test func redirectLoopStopsAtTheLimitAndTheHookCanVeto() throws {
        let loop = try EventLoop()
        let hops = try redirectingServer(loop, status: 302, routes: ["/loop": "/loop", "/out": "/elsewhere"])
        var outcomes: [ClientError] = []
        var options = ClientOptions()
        options.maxRedirects = 3
        WebSocketClient.connect(to: url(hops, "/loop"), on: loop, options: options) { result in
            if case .failure(let error) = result { outcomes.append(error) }
            var seen: [String] = []
            WebSocketClient.connect(to: url(hops, "/out"), on: loop, shouldRedirect: { status, target in
                seen.append("\(status) \(target.path)")
                return false
            }) { result in
                if case .failure(let error) = result { outcomes.append(error) }
                #expect(seen == ["302 /elsewhere"])
                loop.stop()
            }
        }
        #expect(runBounded(loop))
        #expect(outcomes.count == 2)
        #expect(outcomes.first == .redirectFailed(status: 302, reason: "more than 3 redirects (the last to \(url(hops, "/loop")))"))
        #expect(outcomes.last == .unexpectedStatus(code: 302, reason: "Found"))
    }

    @Test func reconnectingClientComesBackAfterTheServerDoes() throws {
        let loop = try EventLoop()
        var server: WebSocketServer? = echo(try WebSocketServer(loop: loop, host: "127.0.0.1", port: 0))
        let port = server!.localAddress.port!
        let policy = ReconnectPolicy(initialDelay: .milliseconds(50), minDelay: .milliseconds(100), maxDelay: .milliseconds(400),
                                     factor: 2)
        let handlers = ConnectionHandlers()
        var opened = 0, lost = 0
        var retries: [(Int, Duration)] = []
        var echoed: [String] = []
        handlers.onOpen = { connection in
            opened += 1
            _ = try? connection.send(text: "hello \(opened)")
        }
        handlers.onMessage = { _, _, bytes in
            echoed.append(String(decoding: bytes, as: UTF8.self))
            if echoed.count == 1 {
                // The server goes away: its connections are dropped and nobody listens.
                for connection in server!.connections { connection.abort() }
                server!.shutdown(timeout: .zero)
                server = nil
            } else {
                loop.stop()
            }
        }
        handlers.onClose = { _, _ in lost += 1 }
        let client = ReconnectingClient(url: "ws://127.0.0.1:\(port)/", on: loop, policy: policy, handlers: handlers)
        client.onRetry = { failures, delay, error in
            retries.append((failures, delay))
            #expect(ReconnectPolicy.isTransient(error))
            if failures == 3 { server = self.echo(try! WebSocketServer(loop: loop, host: "127.0.0.1", port: port)) }
        }
        client.start()
        #expect(runBounded(loop, seconds: 10))
        #expect(echoed == ["hello 1", "hello 2"])
        #expect(opened == 2 && lost == 1)
        #expect(retries.map(\.0) == [1, 2, 3])
        #expect(retries[0].1 < .milliseconds(50))
        #expect(retries[1].1 == .milliseconds(100) && retries[2].1 == .milliseconds(200))
        client.stop()
        #expect(client.isStopped)
        _ = runBounded(loop, seconds: 1)
    }

    @Test func aSilentProxyTimesOutNamingTheNegotiation() throws {
        let loop = try EventLoop()
        // Accepts and says nothing, as a stuck proxy.
        var held: [SocketStream] = []
        let silent = try loop.listen(host: "127.0.0.1", port: 0) { held.append($0) }
        var options = ClientOptions()
        options.handshakeTimeout = .milliseconds(200)
        options.proxy = .through(ProxyConfiguration(kind: .http, host: "127.0.0.1", port: silent.localAddress.port!))
        var failure: ClientError?
        let started = nowMilliseconds()
        WebSocketClient.connect(to: "ws://example.invalid/", on: loop, options: options) { result in
            if case .failure(let error) = result { failure = error }
            loop.stop()
        }
        #expect(runBounded(loop))
        #expect(failure?.description == "proxy http://127.0.0.1:\(silent.localAddress.port!): no answer within the timeout (proxy negotiation timed out)")
        #expect(nowMilliseconds() - started >= 190)
        #expect(held.count == 1)
        silent.close()
    }

    @Test(.enabled(if: access("/usr/bin/microsocks", X_OK) == 0, "microsocks (scripts/install-deps.sh)"))
    func throughASocks5Proxy() throws {
        let loop = try EventLoop()
        let server = echo(try WebSocketServer(loop: loop, host: "127.0.0.1", port: 0))
        // A free port for the proxy: bound, read, released.
        let probe = try loop.listen(host: "127.0.0.1", port: 0)
        let proxyPort = probe.localAddress.port!
        probe.close()
        let proxy = try PeerProcess(["/usr/bin/microsocks", "-i", "127.0.0.1", "-p", "\(proxyPort)", "-u", "u", "-P", "p"])
        defer { _ = proxy.finish(timeoutMilliseconds: 0) }
        var options = ClientOptions()
        options.proxy = .through(ProxyConfiguration(url: "socks5://u:p@127.0.0.1:\(proxyPort)")!)
        // Until the proxy listens, connecting to it is refused: try again (bounded by the run).
        let record = ClientRecord()
        func attempt() {
            WebSocketClient.connect(to: "ws://localhost:\(server.localAddress.port!)/", on: loop, options: options,
                                    handlers: recordingHandlers(record) { loop.stop() }) { result in
                switch result {
                case .success(let connection): _ = try? connection.send(text: "via socks")
                case .failure(.proxyFailed(let error)) where error.reason.contains("Connection refused"):
                    loop.schedule(after: .milliseconds(20)) { attempt() }
                case .failure(let error):
                    record.error = error
                    loop.stop()
                }
            }
        }
        attempt()
        #expect(runBounded(loop, seconds: 10))
        #expect(record.error == nil, "\(String(describing: record.error))")
        #expect(record.texts == ["via socks"])
        // Wrong credentials: the proxy is named, and why.
        options.proxy = .through(ProxyConfiguration(url: "socks5://u:wrong@127.0.0.1:\(proxyPort)")!)
        var refusal: ClientError?
        WebSocketClient.connect(to: "ws://localhost:\(server.localAddress.port!)/", on: loop, options: options) { result in
            if case .failure(let error) = result { refusal = error }
            loop.stop()
        }
        #expect(runBounded(loop))
        #expect(refusal?.description.hasPrefix("proxy socks5://u@127.0.0.1:\(proxyPort): refused the credentials (status ") == true)
    }
}
