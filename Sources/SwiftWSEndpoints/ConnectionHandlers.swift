import SwiftWSCore

/// The callbacks of WebSocket connections, shared by every connection of a server (one
/// reference per connection, not seven closures). All run on the loop thread; borrowed buffers
/// are valid only during the call.
public final class ConnectionHandlers {
    /// The connection is open (after the handshake), before any message.
    public var onOpen: ((WebSocketConnection) -> Void)?
    /// A whole message (text is valid UTF-8). The bytes are borrowed.
    public var onMessage: ((WebSocketConnection, MessageKind, UnsafeRawBufferPointer) -> Void)?
    /// One frame of a message delivered in streaming mode (`SessionConfiguration.streamingThreshold`).
    public var onFragment: ((WebSocketConnection, MessageKind, UnsafeRawBufferPointer, _ isFirst: Bool, _ isFinal: Bool) -> Void)?
    /// A ping arrived (the pong is sent automatically unless `autoPong` is off).
    public var onPing: ((WebSocketConnection, UnsafeRawBufferPointer) -> Void)?
    /// A pong arrived.
    public var onPong: ((WebSocketConnection, UnsafeRawBufferPointer) -> Void)?
    /// Everything buffered has been written after a send returned `.buffered`.
    public var onDrain: ((WebSocketConnection) -> Void)?
    /// The connection is closed; called exactly once, with the peer's close code and reason, the
    /// code we failed with, 1005 (close frame without a code) or 1006 (no close frame).
    public var onClose: ((WebSocketConnection, CloseStatus) -> Void)?

    /// Handlers that do nothing until set.
    public init() {}
}
