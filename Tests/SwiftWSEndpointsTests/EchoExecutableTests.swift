import Glibc
import Testing
import SwiftWSCore
@testable import SwiftWSEndpoints
@testable import SwiftWSTransport
import SwiftWSTestSupport

/// `swiftws-echo`'s command line is an interface other tools depend on (benchmarks, conformance
/// suites): its ready line, its flags and its echo are checked here against the built binary.
@Suite("swiftws-echo executable", .serialized)
struct EchoExecutableTests {
    static var binary: String? {
        guard let resolved = realpath("/proc/self/exe", nil) else { return nil }
        defer { free(resolved) }
        let path = String(cString: resolved).split(separator: "/", omittingEmptySubsequences: false).dropLast()
            .joined(separator: "/") + "/swiftws-echo"
        return access(path, X_OK) == 0 ? path : nil
    }

    private func start(_ arguments: [String]) throws -> (PeerProcess, UInt16)? {
        guard let binary = Self.binary else {
            Issue.record("swiftws-echo not built: run swift build --build-tests")
            return nil
        }
        let process = try PeerProcess([binary] + arguments)
        let line = try #require(process.readLine(timeoutMilliseconds: 10_000))
        // Exactly "listening on HOST:PORT".
        #expect(line.hasPrefix("listening on 127.0.0.1:"))
        let port = try #require(UInt16(line.dropFirst("listening on 127.0.0.1:".count)))
        #expect(port != 0)
        return (process, port)
    }

    @Test func echoesAndEnforcesMaxMessageSizeWith1009() throws {
        guard let (process, port) = try start(["--host", "127.0.0.1", "--port", "0", "--max-message-size", "1000"]) else { return }
        defer { process.finish(timeoutMilliseconds: 100) }
        let loop = try EventLoop()
        var record: ClientRecord!
        record = connectRecordingClient(loop, "ws://127.0.0.1:\(port)/", onEvent: {
            if record.messages.count == 2, record.close == nil {
                _ = try? record.connection?.send(binary: [UInt8](repeating: 7, count: 1001))  // one byte over
            }
            if record.close != nil || record.error != nil { loop.stop() }
        }, onOpen: { connection in
            _ = try? connection.send(text: String(repeating: "é", count: 500))
            _ = try? connection.send(binary: [UInt8](repeating: 1, count: 1000))
        })
        #expect(runBounded(loop, seconds: 10))
        #expect(record.messages.count == 2)
        #expect(record.texts == [String(repeating: "é", count: 500)])
        #expect(record.messages.last?.1 == [UInt8](repeating: 1, count: 1000))
        #expect(record.close?.code == .messageTooBig)
        // Compression is accepted by default.
        #expect(record.connection?.extensions.map(\.name) == ["permessage-deflate"])
    }

    @Test func noCompressionDeclinesTheOfferAndSigtermStopsIt() throws {
        guard let (process, port) = try start(["--port", "0", "--no-compression"]) else { return }
        let loop = try EventLoop()
        var record: ClientRecord!
        record = connectRecordingClient(loop, "ws://127.0.0.1:\(port)/", onEvent: {
            if !record.messages.isEmpty || record.error != nil { loop.stop() }
        }, onOpen: { _ = try? $0.send(text: "plain") })
        #expect(runBounded(loop))
        #expect(record.texts == ["plain"])
        #expect(record.connection?.extensions == [])
        // SIGTERM: a graceful shutdown (close 1001) and exit status 0.
        kill(process.pid, SIGTERM)
        record.close = nil
        let stopper = loop.schedule(after: .seconds(5)) { loop.stop() }
        func poll() { loop.schedule(after: .milliseconds(10)) { if record.close != nil { loop.stop() } else { poll() } } }
        poll()
        loop.run()
        loop.cancel(stopper)
        #expect(record.close?.code == .goingAway)
        #expect(process.finish(timeoutMilliseconds: 5000) == 0)
    }

    @Test func badArgumentsExitWithStatus2() throws {
        guard let binary = Self.binary else {
            Issue.record("swiftws-echo not built")
            return
        }
        for arguments in [["--port", "70000"], ["--bogus"], ["--max-message-size", "0"]] {
            let process = try PeerProcess([binary] + arguments)
            #expect(process.finish(timeoutMilliseconds: 5000) == 2, "\(arguments)")
        }
    }
}
