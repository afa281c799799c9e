import Glibc
import Testing
@testable import SwiftWSTransport
import SwiftWSTestSupport

@Suite("Sockets: listen, accept, connect, write path, half-close and reset", .serialized)
struct SocketTests {
    /// Listens on `address`, echoes every byte back, and has a client send `message` and wait for
    /// the echo. Returns what the client received and how each side saw the close.
    private func echoRoundTrip(listenOn address: SocketAddress, message: [UInt8])
        throws -> (echoed: [UInt8], serverClose: StreamCloseReason?, listener: SocketAddress) {
        let loop = try EventLoop()
        var serverClose: StreamCloseReason?
        let listener = try loop.listen(on: address) { stream in
            stream.onRead = { bytes in stream.write(UnsafeRawBufferPointer(bytes)) }
            stream.onClose = { reason in
                serverClose = reason
                loop.stop()
            }
        }
        var echoed: [UInt8] = []
        loop.connect(to: listener.localAddress, timeout: .seconds(2)) { result in
            guard case .success(let client) = result else {
                Issue.record("connect failed: \(result)")
                loop.stop()
                return
            }
            client.onRead = { bytes in
                echoed += copyBytes(bytes)
                if echoed.count >= message.count { client.close() }
            }
            client.write(message)
        }
        #expect(runBounded(loop))
        let local = listener.localAddress
        listener.close()
        return (echoed, serverClose, local)
    }

    @Test func ipv4PortZeroPicksAPortAndBytesRoundTrip() throws {
        let message = patternBytes(100_000)
        let result = try echoRoundTrip(listenOn: SocketAddress(ip: "127.0.0.1", port: 0)!, message: message)
        #expect(result.listener.port != 0)
        #expect(result.listener.family == .ipv4)
        #expect(result.echoed == message)
        #expect(result.serverClose == .peerClosed)
    }

    @Test func ipv6LoopbackRoundTrip() throws {
        let message = Array("hello over ::1".utf8)
        let result = try echoRoundTrip(listenOn: SocketAddress(ip: "::1", port: 0)!, message: message)
        #expect(result.listener.family == .ipv6)
        #expect(result.listener.description.hasPrefix("[::1]:"))
        #expect(result.echoed == message)
        #expect(result.serverClose == .peerClosed)
    }

    @Test func unixSocketRoundTripAndPathRemovedOnClose() throws {
        let path = temporaryUnixPath("echo")
        let message = Array("hello over a unix socket".utf8)
        let result = try echoRoundTrip(listenOn: SocketAddress(unixPath: path), message: message)
        #expect(result.listener.description == "unix:\(path)")
        #expect(result.echoed == message)
        #expect(result.serverClose == .peerClosed)
        #expect(access(path, F_OK) != 0)
    }

    @Test func addressesParseAndPrint() throws {
        #expect(SocketAddress(ip: "127.0.0.1", port: 80)?.description == "127.0.0.1:80")
        #expect(SocketAddress(ip: "[::1]", port: 443)?.description == "[::1]:443")
        #expect(SocketAddress(ip: "::ffff:1.2.3.4", port: 1)?.family == .ipv6)
        #expect(SocketAddress(ip: "localhost", port: 80) == nil)
        #expect(SocketAddress(ip: "1.2.3.256", port: 80) == nil)
        #expect(SocketAddress(ip: "127.0.0.1", port: 1) == SocketAddress(ip: "127.0.0.1", port: 1))
        #expect(SocketAddress(ip: "127.0.0.1", port: 1) != SocketAddress(ip: "127.0.0.1", port: 2))
        #expect(throws: NetworkError.self) { try SocketAddress(unixPath: String(repeating: "x", count: 200)) }
    }

    @Test func connectToAClosedPortIsRefused() throws {
        let loop = try EventLoop()
        let listener = try loop.listen(host: "127.0.0.1", port: 0)
        let port = try #require(listener.localAddress.port)
        listener.close()
        var outcome: Result<SocketStream, NetworkError>?
        var calledSynchronously = true
        loop.connect(host: "127.0.0.1", port: port, timeout: .seconds(2)) { result in
            outcome = result
            loop.stop()
        }
        calledSynchronously = outcome != nil
        #expect(runBounded(loop))
        #expect(!calledSynchronously)
        guard case .failure(let error) = outcome else {
            Issue.record("expected a refusal, got \(String(describing: outcome))")
            return
        }
        #expect(error.kind == .system(errno: ECONNREFUSED))
        #expect(error.description == "connect to 127.0.0.1:\(port): Connection refused")
    }

    @Test func connectByHostNameResolvesOffTheLoop() throws {
        let loop = try EventLoop()
        var accepted = 0
        let listener = try loop.listen(host: "127.0.0.1", port: 0) { stream in
            accepted += 1
            stream.close()
        }
        var remote: SocketAddress?
        loop.connect(host: "localhost", port: listener.localAddress.port!, timeout: .seconds(3)) { result in
            if case .success(let stream) = result {
                remote = stream.remoteAddress
                stream.onClose = { _ in loop.stop() }
            } else {
                Issue.record("connect failed: \(result)")
                loop.stop()
            }
        }
        #expect(runBounded(loop))
        #expect(accepted == 1)
        #expect(remote == listener.localAddress)
    }

    @Test func listeningTwiceOnOnePortFailsWithAddressInUse() throws {
        let loop = try EventLoop()
        let first = try loop.listen(host: "127.0.0.1", port: 0)
        let port = first.localAddress.port!
        #expect(throws: NetworkError(.system(errno: EADDRINUSE), "listen on 127.0.0.1:\(port)")) {
            _ = try loop.listen(host: "127.0.0.1", port: port)
        }
        var options = ListenOptions()
        options.reusePort = true
        let a = try loop.listen(host: "127.0.0.1", port: 0, options: options)
        let b = try loop.listen(host: "127.0.0.1", port: a.localAddress.port!, options: options)
        #expect(a.localAddress == b.localAddress)
    }

    @Test func writesInOneIterationAreCorkedIntoOneSystemCall() throws {
        let loop = try EventLoop()
        var writesForTheReply = -1
        var before = 0
        let listener = try loop.listen(host: "127.0.0.1", port: 0) { stream in
            stream.onRead = { _ in
                before = loop.statistics.writes
                for index in 0..<10 { stream.write(Array("part\(index);".utf8)) }
                // Nothing sent yet: the ten writes wait in the cork buffer until the iteration ends.
                #expect(loop.statistics.writes == before)
                #expect(stream.bufferedAmount == 60)
            }
        }
        var received: [UInt8] = []
        loop.connect(to: listener.localAddress) { result in
            guard case .success(let client) = result else { return }
            client.onRead = { bytes in
                received += copyBytes(bytes)
                if received.count == 60 {
                    writesForTheReply = loop.statistics.writes - before
                    loop.stop()
                }
            }
            client.write(Array("go".utf8))
        }
        #expect(runBounded(loop))
        #expect(String(decoding: received, as: UTF8.self) == (0..<10).map { "part\($0);" }.joined())
        #expect(writesForTheReply == 1)
    }

    @Test func partialWritesAreBufferedThenDrainedInOrderToASlowReader() throws {
        let loop = try EventLoop()
        let payload = patternBytes(4 << 20)
        var options = ListenOptions()
        options.stream.sendBufferSize = 4096
        var bufferedAfterWrite = 0
        var drainCount = 0
        var serverStream: SocketStream?
        let listener = try loop.listen(host: "127.0.0.1", port: 0, options: options) { stream in
            serverStream = stream
            stream.onDrain = { drainCount += 1 }
            #expect(stream.write(payload))
            loop.schedule(after: .milliseconds(20)) { bufferedAfterWrite = stream.bufferedAmount }
        }
        var received: [UInt8] = []
        received.reserveCapacity(payload.count)
        var clientOptions = StreamOptions()
        clientOptions.receiveBufferSize = 4096
        loop.connect(to: listener.localAddress, options: clientOptions) { result in
            guard case .success(let client) = result else { return }
            // A slow reader: nothing for 100 ms, then everything.
            client.pauseReading()
            loop.schedule(after: .milliseconds(100)) { client.resumeReading() }
            client.onRead = { bytes in
                received += copyBytes(bytes)
                if received.count >= payload.count {
                    loop.schedule(after: .milliseconds(20)) { loop.stop() }
                }
            }
        }
        #expect(runBounded(loop, seconds: 10))
        #expect(bufferedAfterWrite > 0)
        #expect(bufferedAfterWrite < payload.count)
        #expect(received.count == payload.count)
        #expect(received == payload)
        #expect(drainCount == 1)
        #expect(serverStream?.bufferedAmount == 0)
    }

    @Test func peerResetIsReportedAsReset() throws {
        let loop = try EventLoop()
        var serverClose: StreamCloseReason?
        var clientClose: StreamCloseReason?
        var clientStream: SocketStream?
        let listener = try loop.listen(host: "127.0.0.1", port: 0) { stream in
            stream.onRead = { _ in }
            stream.onClose = { reason in
                serverClose = reason
                loop.stop()
            }
            // The client aborts as soon as the server holds the connection.
            loop.schedule(after: .milliseconds(10)) { clientStream?.abort() }
        }
        loop.connect(to: listener.localAddress) { result in
            guard case .success(let client) = result else { return }
            clientStream = client
            client.onClose = { clientClose = $0 }
        }
        #expect(runBounded(loop))
        #expect(serverClose == .reset)
        #expect(clientClose == .local)
    }

    @Test func halfCloseLetsTheOtherSideFinishWriting() throws {
        let loop = try EventLoop()
        var serverReceived: [UInt8] = []
        var serverSawEndOfInput = false
        var serverClose: StreamCloseReason?
        var clientReceived: [UInt8] = []
        var clientClose: StreamCloseReason?
        let listener = try loop.listen(host: "127.0.0.1", port: 0) { stream in
            stream.onRead = { serverReceived += copyBytes($0) }
            stream.onEndOfInput = {
                serverSawEndOfInput = true
                // Our output is still open after the peer's FIN: answer, then close.
                #expect(stream.write(Array("bye".utf8)))
                stream.close()
            }
            stream.onClose = { serverClose = $0 }
        }
        loop.connect(to: listener.localAddress) { result in
            guard case .success(let client) = result else { return }
            client.onRead = { clientReceived += copyBytes($0) }
            client.onClose = { reason in
                clientClose = reason
                loop.stop()
            }
            client.write(Array("request".utf8))
            client.shutdownOutput()
            #expect(!client.write(Array("too late".utf8)))
        }
        #expect(runBounded(loop))
        #expect(String(decoding: serverReceived, as: UTF8.self) == "request")
        #expect(serverSawEndOfInput)
        #expect(serverClose == .local)
        #expect(String(decoding: clientReceived, as: UTF8.self) == "bye")
        #expect(clientClose == .peerClosed)
    }

    @Test func writingToAConnectionTheKernelResetClosesItWithReset() throws {
        let loop = try EventLoop()
        var serverClose: StreamCloseReason?
        var serverStream: SocketStream?
        let listener = try loop.listen(host: "127.0.0.1", port: 0) { stream in
            serverStream = stream
            stream.pauseReading()  // only the write path can notice the reset
            stream.onClose = { reason in
                serverClose = reason
                loop.stop()
            }
        }
        loop.connect(to: listener.localAddress) { result in
            guard case .success(let client) = result else { return }
            loop.schedule(after: .milliseconds(20)) {
                client.abort()
                loop.schedule(after: .milliseconds(20)) {
                    let chunk = patternBytes(64 * 1024)
                    for _ in 0..<8 { serverStream?.write(chunk) }
                }
            }
        }
        #expect(runBounded(loop))
        #expect(serverClose == .reset)
        #expect(serverStream?.write([1]) == false)
    }

    @Test func closingTheLoopClosesItsStreamsAndListeners() throws {
        let loop = try EventLoop()
        var reasons: [StreamCloseReason] = []
        let listener = try loop.listen(host: "127.0.0.1", port: 0) { stream in
            stream.onClose = { reasons.append($0) }
            loop.stop()
        }
        loop.connect(to: listener.localAddress) { result in
            if case .success(let client) = result { client.onClose = { reasons.append($0) } }
        }
        #expect(runBounded(loop))
        loop.close()
        #expect(reasons == [.loopClosed, .loopClosed])
        #expect(!listener.isListening)
        #expect(loop.registrationCount == 0)
    }
}

@Suite("Sockets: connect timeout", .serialized)
struct ConnectTimeoutTests {
    @Test func connectTimesOutWhenTheListenQueueIsFull() throws {
        // A listener that never accepts, with the smallest backlog: once its queue is full the
        // kernel drops further SYNs, so later connects hang in SYN-SENT until our timeout.
        let loop = try EventLoop()
        var options = ListenOptions()
        options.backlog = 0
        let listener = try loop.listen(host: "127.0.0.1", port: 0, options: options)
        listener.onAccept = nil
        listener.pauseAccepting()
        var outcomes: [Result<SocketStream, NetworkError>] = []
        let attempts = 8
        let start = nowMilliseconds()
        var keep: [SocketStream] = []
        for _ in 0..<attempts {
            loop.connect(to: listener.localAddress, timeout: .milliseconds(300)) { result in
                outcomes.append(result)
                if case .success(let stream) = result { keep.append(stream) }
                if outcomes.count == attempts { loop.stop() }
            }
        }
        #expect(runBounded(loop))
        let timedOut = outcomes.filter { if case .failure(let e) = $0 { return e.kind == .timedOut } else { return false } }
        let connected = outcomes.filter { if case .success = $0 { return true } else { return false } }
        #expect(timedOut.count >= 1)
        #expect(timedOut.count + connected.count == attempts)
        #expect(nowMilliseconds() - start >= 300)
        if case .failure(let error)? = timedOut.first {
            #expect(error.description == "connect to \(listener.localAddress): timed out")
        }
    }
}
