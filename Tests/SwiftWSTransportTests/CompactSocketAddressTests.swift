import Glibc
import Testing
@testable import SwiftWSTransport
import SwiftWSTestSupport

/// A stream keeps its peer's address compactly; what it gives back must be the address it got,
/// byte for byte, for every family.
@Suite("Compact socket addresses")
struct CompactSocketAddressTests {
    @Test(arguments: ["127.0.0.1", "0.0.0.0", "::1", "2001:db8::8a2e:370:7334", "fe80::1"])
    func ipAddressesComeBackUnchanged(ip: String) throws {
        let address = try #require(SocketAddress(ip: ip, port: 54321))
        let compact = CompactSocketAddress(address)
        #expect(compact.address == address)
        #expect(compact.address.description == address.description)
        #expect(compact.address.port == 54321)
    }

    @Test(arguments: ["/tmp/s", "/tmp/" + String(repeating: "p", count: 90)])
    func unixPathsComeBackUnchanged(path: String) throws {
        let address = try SocketAddress(unixPath: path)
        #expect(CompactSocketAddress(address).address == address)
    }

    /// What the inline forms cannot hold (a flow label, a scope, bytes in `sin_zero`) still comes
    /// back byte for byte; and the compact form stays small enough to keep a stream in its malloc
    /// size class (the footprint test has the whole stream).
    @Test func unusualIPAddressesComeBackUnchanged() throws {
        var v6 = try #require(SocketAddress(ip: "fe80::1", port: 443))
        withUnsafeMutableBytes(of: &v6.storage) { raw in
            raw.baseAddress!.assumingMemoryBound(to: sockaddr_in6.self).pointee.sin6_scope_id = 3
        }
        #expect(CompactSocketAddress(v6).address == v6)
        withUnsafeMutableBytes(of: &v6.storage) { raw in
            raw.baseAddress!.assumingMemoryBound(to: sockaddr_in6.self).pointee.sin6_flowinfo = 0x12345
        }
        #expect(CompactSocketAddress(v6).address == v6)
        var v4 = try #require(SocketAddress(ip: "10.1.2.3", port: 80))
        withUnsafeMutableBytes(of: &v4.storage) { raw in
            raw.baseAddress!.assumingMemoryBound(to: sockaddr_in.self).pointee.sin_zero.3 = 7
        }
        #expect(CompactSocketAddress(v4).address == v4)
        #expect(MemoryLayout<CompactSocketAddress?>.size <= 23)
    }

    /// Both ends of an IPv6 connection report their peer (IPv4: SocketTests).
    @Test func streamsReportTheirPeerOverIPv6() throws {
        let loop = try EventLoop()
        var accepted: [SocketAddress?] = []
        let listener = try loop.listen(host: "::1", port: 0) { stream in
            accepted.append(stream.remoteAddress)
            stream.close()
        }
        var connected: SocketStream?
        var local: SocketAddress?  // read while the socket is open
        loop.connect(to: listener.localAddress) { result in
            if case .success(let stream) = result {
                connected = stream
                local = stream.localAddress
                stream.onClose = { _ in loop.stop() }
            } else {
                loop.stop()
            }
        }
        #expect(runBounded(loop))
        #expect(connected?.remoteAddress == listener.localAddress)
        #expect(local != nil && accepted.count == 1 && accepted[0] == local)
        loop.close()
    }
}
