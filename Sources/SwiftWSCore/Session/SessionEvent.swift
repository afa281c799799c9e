/// Whether a data message is text (opcode 0x1, UTF-8) or binary (opcode 0x2).
public enum MessageKind: Sendable, Hashable {
    case text
    case binary

    /// The opcode of the first frame of such a message.
    @inlinable public var opcode: Opcode { self == .text ? .text : .binary }
}

/// Something the peer did, reported by `Session.receive`.
///
/// Payloads are BORROWED: they point into the caller's input buffer or the session's own
/// buffers and are valid only during the callback. Copy what you keep.
public enum SessionEvent {
    /// A whole text message (validated UTF-8).
    case text(UnsafeRawBufferPointer)
    /// A whole binary message.
    case binary(UnsafeRawBufferPointer)
    /// One frame of a message delivered in streaming mode (`streamingThreshold`). For text, the
    /// bytes seen so far are valid UTF-8 but a fragment may end inside a character; the message
    /// as a whole is checked and a bad ending fails the connection (1007) before `isFinal`.
    case fragment(MessageKind, UnsafeRawBufferPointer, isFirst: Bool, isFinal: Bool)
    /// A ping; with `autoPong` the pong is already queued.
    case ping(UnsafeRawBufferPointer)
    /// A pong (solicited or not).
    case pong(UnsafeRawBufferPointer)
    /// The peer sent a close frame (`code` is nil when it had no payload). The session has queued
    /// its answering close frame if it had not sent one; no more events follow.
    case closeReceived(code: CloseCode?, reason: String)
    /// The connection failed. Unless the code is 1006 (the transport ended without a close frame),
    /// a close frame with this code and reason is queued (once). No more events follow.
    case failed(ProtocolError)
}

/// Where a session is in the connection's life after the opening handshake (RFC 6455 section 7).
public enum SessionState: Sendable, Hashable {
    /// Messages flow both ways.
    case open
    /// We sent a close frame and wait for the peer's; received data is still delivered.
    case closing
    /// Close frames were exchanged, the connection failed, or the transport ended.
    case closed
}

/// How a connection ended, as reported to the user.
public struct CloseStatus: Sendable, Hashable {
    /// The peer's close code, the code we failed with, 1005 for a close frame without a code,
    /// or 1006 when the transport ended without a close frame.
    public var code: CloseCode
    /// The accompanying reason (the peer's, or ours on failure).
    public var reason: String

    /// Creates a status.
    public init(code: CloseCode, reason: String) {
        self.code = code
        self.reason = reason
    }
}

/// Why a send was refused. Nothing was queued when one of these is thrown.
public enum SessionError: Error, Sendable, Hashable {
    /// A close frame was already sent (or the connection failed or ended): no more frames.
    case closed
    /// `send(text:)`/`send(binary:)`/`sendEncodedFrame` while a message sent with
    /// `sendFragment` is unfinished, or a fragment of the other kind.
    case fragmentedMessageInProgress
    /// The text is not valid UTF-8 (RFC 6455 section 5.6).
    case invalidUTF8
    /// Ping and pong payloads are limited to 125 bytes (section 5.5).
    case controlPayloadTooLong
    /// The code may not be sent in a close frame (section 7.4.1: 1005, 1006, 1015 and
    /// unassigned codes).
    case invalidCloseCode
    /// Close reasons are limited to 123 bytes of UTF-8 (section 5.5.1).
    case closeReasonTooLong
    /// Pre-encoded frames are unmasked, so only a server may send them.
    case encodedFrameRequiresServerRole
    /// zlib could not compress a fragment (it could not allocate its state); nothing was sent.
    case compressionFailed
}
