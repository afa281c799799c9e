import Testing
@testable import SwiftWSEndpoints

/// The reconnect schedule and retry rule (Python websockets' `backoff` and `process_exception`).
@Suite("Reconnect policy")
struct ReconnectPolicyTests {
    @Test("websockets' default delays: random below 5 s, then 3.1 s growing by 1.618 up to 90 s")
    func defaults() {
        let policy = ReconnectPolicy()
        #expect(policy.delay(afterFailures: 1, random: 0) == .zero)
        #expect(policy.delay(afterFailures: 1, random: 0.5) == .milliseconds(2500))
        let seconds = (2...12).map { Double(policy.delay(afterFailures: $0, random: 0.5).components.seconds) }
        // 3.1, 5.0, 8.1, 13.1, 21.2, 34.3, 55.5, 89.9, then 90 for ever.
        #expect(seconds == [3, 5, 8, 13, 21, 34, 55, 89, 90, 90, 90])
        #expect(policy.delay(afterFailures: 1_000_000, random: 0.5) == .seconds(90))
    }

    @Test("which failures are retried")
    func transient() {
        #expect(ReconnectPolicy.isTransient(.connectFailed(NetworkError(.system(errno: 111), "connect"))))
        #expect(ReconnectPolicy.isTransient(.handshakeTimedOut))
        #expect(ReconnectPolicy.isTransient(.unexpectedStatus(code: 503, reason: "Service Unavailable")))
        #expect(!ReconnectPolicy.isTransient(.unexpectedStatus(code: 403, reason: "Forbidden")))
        #expect(!ReconnectPolicy.isTransient(.tlsFailed("certificate verify failed")))
        #expect(!ReconnectPolicy.isTransient(.invalidURL("http://x")))
    }

    @Test("redirect targets: absolute, http(s) mapped to ws(s), absolute and relative paths")
    func redirectTargets() throws {
        let base = try #require(WebSocketURL("wss://example.com:8443/a/b?x=1"))
        func resolved(_ location: String) -> String? { ClientConnector.resolve(location, against: base)?.description }
        #expect(resolved("ws://other:1/p") == "ws://other:1/p")
        #expect(resolved("https://other/p?q") == "wss://other:443/p?q")
        #expect(resolved("http://other/") == "ws://other:80/")
        #expect(resolved("/root?y=2") == "wss://example.com:8443/root?y=2")
        #expect(resolved("c") == "wss://example.com:8443/a/c")
        #expect(resolved("//cdn.example/p") == "wss://cdn.example:443/p")
        #expect(resolved("ftp://x/") == nil)
    }
}
