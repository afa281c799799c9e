import Glibc
import Synchronization
import Testing
@testable import SwiftWSTransport
import SwiftWSTestSupport

/// Host names for listening (every face's servers resolve through `SocketAddress.listenAddress`)
/// and the loop's non-blocking `resolve`.
@Suite("Sockets: host-name resolution for servers")
struct HostResolutionTests {
    @Test func localhostResolvesToALoopbackAddress() throws {
        let address = try SocketAddress.listenAddress(host: "localhost", port: 9)
        #expect(address.host == "127.0.0.1" || address.host == "::1")
        #expect(address.port == 9)
        // Numeric addresses are taken as they are, without the resolver.
        #expect(try SocketAddress.listenAddress(host: "::1", port: 1) == SocketAddress(ip: "::1", port: 1))
        let unknown = #expect(throws: NetworkError.self) { try SocketAddress.listenAddress(host: "no-such-host.invalid", port: 1) }
        guard case .nameResolution? = unknown?.kind else {
            Issue.record("not a resolution failure: \(String(describing: unknown))")
            return
        }
    }

    @Test func theLoopResolvesOffItsThreadAndListensOnTheName() throws {
        let loop = try EventLoop()
        defer { loop.close() }
        let resolved = Mutex<[SocketAddress]?>(nil)
        loop.resolve(host: "localhost", port: 0) { result in
            resolved.withLock { $0 = try? result.get() }
            loop.stop()
        }
        #expect(runBounded(loop))
        let addresses = try #require(resolved.withLock { $0 })
        #expect(!addresses.isEmpty)
        let listener = try loop.listen(on: addresses[0])
        #expect(listener.localAddress.port != 0)
        listener.close()
    }
}
