/// Where a session is in the closing handshake (RFC 6455 section 7), carrying what each stage
/// knows: the one owner of "may we still send", "do we still read", the public `SessionState`
/// and `CloseStatus`, and who closes the transport (issue 10 item 3: state as an enum carrying
/// its data, instead of four flags and an optional that had to agree).
enum SessionLifecycle {
    /// Messages flow both ways.
    case open
    /// We sent a close frame (section 7.1.2) and wait for the peer's; what the peer still sends
    /// is delivered, nothing more may be sent.
    case closeSent
    /// Over, with how it ended: nothing is read or sent any more.
    case closed(CloseStatus, Ending)

    /// How a closed session got there, which decides who closes the transport first.
    enum Ending {
        /// Close frames were exchanged (section 7.1.1: the server closes the TCP connection
        /// first; a client waits for it).
        case closeHandshake
        /// Close frames were exchanged, then the peer's end of stream arrived.
        case closeHandshakeThenEndOfStream
        /// We failed the connection (section 7.1.7), or the stream ended before a close
        /// handshake (1006): both sides close at once.
        case failure
    }

    /// The public view.
    var state: SessionState {
        switch self {
        case .open: return .open
        case .closeSent: return .closing
        case .closed: return .closed
        }
    }

    /// How the connection ended; nil until it has.
    var closeStatus: CloseStatus? {
        guard case .closed(let status, _) = self else { return nil }
        return status
    }

    /// Whether received bytes are still processed (not once a close frame arrived, the
    /// connection failed or the stream ended: section 5.5.1, nothing follows a close frame).
    var acceptsInput: Bool {
        if case .closed = self { return false }
        return true
    }

    /// Whether frames may still be sent (not after our close frame, section 5.5.1).
    var canSend: Bool {
        if case .open = self { return true }
        return false
    }

    /// Whether the transport should now be closed without waiting for the peer's end of stream.
    func closesTransportFirst(role: Role) -> Bool {
        switch self {
        case .open, .closeSent, .closed(_, .closeHandshake): return role == .server
        case .closed(_, .closeHandshakeThenEndOfStream), .closed(_, .failure): return true
        }
    }
}
