import SwiftWSCore

/// What a slow reader costs: the policy when a send would push a connection's buffered amount
/// past `ConnectionOptions.maxBufferedAmount`.
public enum BackpressurePolicy: Sendable, Hashable {
    /// Refuse the message (`SendResult.dropped`); the connection stays open. For feeds where
    /// a stale update is worthless (prices, positions): the next one replaces it.
    case drop
    /// Refuse the message and close the connection at once (the peer cannot read a close frame
    /// it is not reading, so the TCP connection is dropped; the close status is 1008). For
    /// streams where a gap is worse than a reconnect (chat history, collaborative edits).
    case close
}

/// What happened to a valid message given to `WebSocketConnection.send…` (a refused one throws
/// a `SessionError` instead: closed, or invalid).
public enum SendResult: Sendable, Hashable {
    /// Handed to the transport: it leaves in this loop iteration's flush.
    case sent
    /// Accepted, but it waits behind bytes the peer has not read yet (backpressure): watch
    /// `bufferedAmount` and the drain handler before sending more.
    case buffered
    /// Not sent: the connection's `maxBufferedAmount` applied (and with the `.close` policy the
    /// connection is closing). Nothing else is reported this way.
    case dropped
}

/// The settings of a WebSocket connection, either role.
public struct ConnectionOptions: Sendable {
    /// Limits on what the peer sends (message and frame size, fragments) and streaming delivery.
    /// The role is set by the server or client.
    public var session: SessionConfiguration = SessionConfiguration(role: .server)
    /// Most bytes a connection may hold for a peer that does not read; nil for no limit.
    /// Default 16 MiB (a 16 MiB message still goes through to a reader that keeps up).
    public var maxBufferedAmount: Int? = 16 << 20
    /// What happens past `maxBufferedAmount`.
    public var backpressurePolicy: BackpressurePolicy = .drop
    /// Send a ping this often (nil: never). Any pong counts as the answer.
    public var pingInterval: Duration? = nil
    /// Close with 1011 ("keepalive ping timeout") when no pong arrives this long after a ping.
    public var pongTimeout: Duration = .seconds(20)
    /// Close with 1001 ("idle timeout") when nothing was received for this long (nil: never).
    public var idleTimeout: Duration? = nil
    /// Close with 1008 ("message not completed in time") when a data message is still
    /// unfinished this long after its first frame arrived (nil: never). Bounds how long a peer
    /// can hold a reassembly buffer of up to `maxMessageSize` bytes by trickling a message.
    public var messageTimeout: Duration? = nil
    /// Drop the TCP connection when the close handshake has not finished this long after it
    /// began (status 1006 unless the peer's close frame arrived). Also bounds the lingering
    /// close: after our close frame and FIN, what the peer still sends is discarded until its
    /// FIN, for this long at most.
    public var closeTimeout: Duration = .seconds(10)
    /// permessage-deflate (RFC 7692): offered by clients and accepted by servers by default,
    /// with the memory-conscious defaults of `PerMessageDeflateConfiguration` (12-bit windows,
    /// memLevel 5, messages under 64 bytes uncompressed). `.disabled` switches it off.
    public var perMessageDeflate: PerMessageDeflateConfiguration = PerMessageDeflateConfiguration()

    /// The defaults.
    public init() {}

    /// The timeouts in the form of the core's time policy.
    var timeoutConfiguration: ConnectionTimeouts.Configuration {
        ConnectionTimeouts.Configuration(
            pingInterval: pingInterval?.clampedNanoseconds, pongTimeout: pongTimeout.clampedNanoseconds,
            idleTimeout: idleTimeout?.clampedNanoseconds, messageTimeout: messageTimeout?.clampedNanoseconds,
            closeTimeout: closeTimeout.clampedNanoseconds)
    }
}
