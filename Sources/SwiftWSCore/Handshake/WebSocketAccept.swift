/// The `Sec-WebSocket-Accept` value for a `Sec-WebSocket-Key` (RFC 6455 section 4.2.2, item 5.4):
/// Base64 of the SHA-1 of the key (as sent, in its Base64 form) followed by the protocol's GUID.
public enum WebSocketAccept {
    /// "258EAFA5-E914-47DA-95CA-C5AB0DC85B11", fixed by RFC 6455 section 1.3.
    public static let guid = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"

    /// The accept value for `key`: `dGhlIHNhbXBsZSBub25jZQ==` gives `s3pPLMBiTxaQ9kYGzzhZRbK+xOo=`.
    public static func value(forKey key: String) -> String {
        Base64.encode(SHA1.hash(Array(key.utf8) + Array(guid.utf8)))
    }
}
