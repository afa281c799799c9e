// Frames/: the frame wire format (RFC 6455 section 5): frame headers, their parser and encoder,
// opcodes, and masking (section 5.3).

/// The fixed part of one WebSocket frame, as it was read from or will be written to the wire
/// (RFC 6455 section 5.2).
///
/// ```
///  0                   1                   2                   3
///  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
/// +-+-+-+-+-------+-+-------------+-------------------------------+
/// |F|R|R|R| opcode|M| Payload len |    Extended payload length    |
/// |I|S|S|S|  (4)  |A|     (7)     |             (16/64)           |
/// |N|V|V|V|       |S|             |   (if payload len==126/127)   |
/// | |1|2|3|       |K|             |                               |
/// +-+-+-+-+-------+-+-------------+ - - - - - - - - - - - - - - - +
/// |     Extended payload length continued, if payload len == 127  |
/// + - - - - - - - - - - - - - - - +-------------------------------+
/// |                               |Masking-key, if MASK set to 1  |
/// +-------------------------------+-------------------------------+
/// | Masking-key (continued)       |          Payload Data         |
/// ```
public struct FrameHeader: Hashable, Sendable {
    /// FIN: this is the last frame of its message.
    public var isFinal: Bool
    /// RSV1, claimed by permessage-deflate ("Per-Message Compressed", RFC 7692 section 6).
    public var rsv1: Bool
    /// RSV2; no extension we support claims it.
    public var rsv2: Bool
    /// RSV3; no extension we support claims it.
    public var rsv3: Bool
    /// The frame's opcode (may be reserved only in headers that failed validation).
    public var opcode: Opcode
    /// The masking key as the 4 wire bytes loaded little-endian (byte 0 of the key in the low
    /// 8 bits), the form `Masking.apply` takes; `nil` for an unmasked frame.
    public var maskKey: UInt32?
    /// Payload length in bytes (at most 2^63 - 1 on the wire; the parser guarantees it fits `Int`).
    public var payloadLength: Int
    /// Bytes the header occupies on the wire: 2, 4 or 10, plus 4 when masked.
    public var headerLength: Int

    /// Creates a header; `headerLength` is computed from the length and masking.
    public init(isFinal: Bool = true, rsv1: Bool = false, rsv2: Bool = false, rsv3: Bool = false,
                opcode: Opcode, maskKey: UInt32? = nil, payloadLength: Int) {
        self.isFinal = isFinal
        self.rsv1 = rsv1
        self.rsv2 = rsv2
        self.rsv3 = rsv3
        self.opcode = opcode
        self.maskKey = maskKey
        self.payloadLength = payloadLength
        self.headerLength = FrameEncoder.headerLength(payloadLength: payloadLength, masked: maskKey != nil)
    }
}
