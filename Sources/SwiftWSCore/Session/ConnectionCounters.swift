/// What a connection carried: messages and payload bytes each way (see
/// `WebSocketConnection.counters`).
public struct ConnectionCounters: Sendable, Hashable {
    /// Whole messages received (a streamed message counts once, at its final fragment).
    public var messagesReceived = 0
    /// Payload bytes received, after decompression.
    public var bytesReceived = 0
    /// Messages accepted by `send` (dropped ones not counted).
    public var messagesSent = 0
    /// Payload bytes accepted by `send`, before compression.
    public var bytesSent = 0

    /// No traffic yet.
    public init() {}

    /// Counts `count` payload bytes received, and a message when they end one.
    package mutating func received(_ count: Int, endsMessage: Bool) {
        bytesReceived &+= count
        if endsMessage { messagesReceived &+= 1 }
    }

    /// Counts `count` payload bytes accepted for sending, and a message when they end one.
    package mutating func sent(_ count: Int, endsMessage: Bool) {
        bytesSent &+= count
        if endsMessage { messagesSent &+= 1 }
    }
}
