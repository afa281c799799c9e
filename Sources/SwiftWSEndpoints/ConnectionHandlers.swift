import SwiftWSCore

/// The callbacks of WebSocket connections, shared by every connection of a server (one
/// reference per connection, not seven closures). All run on the loop thread; borrowed buffers
/// are valid only during the call.
///
/// Every property is `@exclusivity(unchecked)`: a connection reads one for every message, and a
/// public class's `var` is otherwise checked at run time on each access (about 100
/// instructions, callgrind). Set them on the loop thread (or before it runs); an access is a
/// copy of a closure and never stays open across the call.
public final class ConnectionHandlers {
    /// The connection is open (after the handshake), before any message.
    @exclusivity(unchecked) public var onOpen: ((WebSocketConnection) -> Void)?
    /// A whole message (text is valid UTF-8). The bytes are borrowed.
    @exclusivity(unchecked) public var onMessage: ((WebSocketConnection, MessageKind, UnsafeRawBufferPointer) -> Void)?
    /// One frame of a message delivered frame by frame: one larger than
    /// `SessionConfiguration.streamingThreshold`, or a fragmented one while
    /// `WebSocketConnection.streamsFragmentedMessages` is on. The bytes are borrowed.
    @exclusivity(unchecked) public var onFragment: ((WebSocketConnection, MessageKind, UnsafeRawBufferPointer, _ isFirst: Bool, _ isFinal: Bool) -> Void)?
    /// A ping arrived (the pong is sent automatically unless `autoPong` is off).
    @exclusivity(unchecked) public var onPing: ((WebSocketConnection, UnsafeRawBufferPointer) -> Void)?
    /// A pong arrived.
    @exclusivity(unchecked) public var onPong: ((WebSocketConnection, UnsafeRawBufferPointer) -> Void)?
    /// Everything buffered has been written after a send returned `.buffered`.
    @exclusivity(unchecked) public var onDrain: ((WebSocketConnection) -> Void)?
    /// The connection is closed; called exactly once, with the peer's close code and reason, the
    /// code we failed with, 1005 (close frame without a code) or 1006 (no close frame).
    @exclusivity(unchecked) public var onClose: ((WebSocketConnection, CloseStatus) -> Void)?

    /// Handlers that do nothing until set.
    public init() {}
}
