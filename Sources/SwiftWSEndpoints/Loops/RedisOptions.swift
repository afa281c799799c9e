/// How a server joins its topics to other processes (and machines) through Redis pub/sub
/// (`ServerOptions.redis`).
///
/// **What is delivered.** A publish reaches the server's own subscribers at once and goes to
/// Redis once, on channel `channelPrefix + topic`; every other server joined to the same Redis
/// (and prefix) that has subscribers to the topic delivers it to them, once, in the order each
/// publisher published. A server subscribes to a channel while it has at least one subscriber to
/// the topic, and unsubscribes when the last one leaves. A server never delivers its own publish
/// twice (messages carry a random node id, and a node ignores its own). Messages that other Redis
/// clients publish (`redis-cli PUBLISH swiftws:room hello`) are delivered as text when they are
/// valid UTF-8, as binary otherwise.
///
/// **What is lost (Redis pub/sub is at-most-once).** While the connection to Redis is down, and
/// until the bridge has reconnected and resubscribed: publishes of this server reach only its
/// own subscribers (they are not queued for later), and what other servers publish does not
/// reach this one. Local delivery never stops. The bridge reconnects after `reconnectDelay`,
/// doubling up to `maxReconnectDelay`, and resubscribes to every topic that has subscribers.
/// A subscriber that joins a topic may miss messages published before the node's SUBSCRIBE
/// reached Redis.
public struct RedisOptions: Sendable {
    /// Host name or address of the Redis server.
    public var host: String
    /// TCP port (6379 by default).
    public var port: UInt16
    /// Sent with AUTH after each connect, if set.
    public var password: String?
    /// Prefix of the Redis channel of each topic.
    public var channelPrefix: String = "swiftws:"
    /// First wait before reconnecting after the connection to Redis is lost or refused.
    public var reconnectDelay: Duration = .milliseconds(100)
    /// Longest wait between reconnection attempts (the wait doubles up to it).
    public var maxReconnectDelay: Duration = .seconds(5)
    /// Time allowed for each connection attempt.
    public var connectTimeout: Duration = .seconds(5)

    /// Redis at `host`:`port`.
    public init(host: String, port: UInt16 = 6379) {
        self.host = host
        self.port = port
    }

    /// Redis at a URL: `redis://[[user]:password@]host[:port][/db]` (the database number is
    /// ignored: pub/sub channels are server-wide). Throws `.invalidAddress` for anything else.
    public init(url: String) throws(NetworkError) {
        let invalid = NetworkError(.invalidAddress, "Redis URL \(url)")
        guard url.hasPrefix("redis://") else { throw invalid }
        var rest = Substring(url.dropFirst("redis://".count))
        if let slash = rest.firstIndex(of: "/") { rest = rest[..<slash] }
        var password: String?
        if let at = rest.lastIndex(of: "@") {
            let credentials = rest[..<at]
            password = String(credentials.split(separator: ":", maxSplits: 1, omittingEmptySubsequences: false).last ?? "")
            rest = rest[rest.index(after: at)...]
        }
        var host = rest
        var port: UInt16 = 6379
        if rest.hasPrefix("[") {  // [::1]:6379
            guard let close = rest.firstIndex(of: "]") else { throw invalid }
            host = rest[rest.index(after: rest.startIndex)..<close]
            let after = rest[rest.index(after: close)...]
            if after.hasPrefix(":") {
                guard let value = UInt16(after.dropFirst()) else { throw invalid }
                port = value
            } else if !after.isEmpty { throw invalid }
        } else if let colon = rest.lastIndex(of: ":") {
            guard let value = UInt16(rest[rest.index(after: colon)...]) else { throw invalid }
            host = rest[..<colon]
            port = value
        }
        guard !host.isEmpty else { throw invalid }
        self.init(host: String(host), port: port)
        self.password = password.flatMap { $0.isEmpty ? nil : $0 }
    }
}
