/// Which end of a WebSocket connection a session plays.
///
/// The role decides the masking rules (RFC 6455 section 5.1: a client masks every frame it sends,
/// a server never does, and each side fails a frame masked the wrong way) and which half of the
/// opening handshake a session writes.
public enum Role: Sendable, Hashable {
    case client
    case server
}
