/// Where the receive side stands in the stream of frames: between frames (gathering a header
/// that a read split) or inside one frame's payload. The frame's registers exist only while its
/// payload is being read, so no field can be stale or disagree with another (issue 10 item 3:
/// receive state as an enum carrying its data, as NIO's frame decoder and Hummingbird's
/// `WebSocketStateMachine` do).
enum FrameReadState {
    /// The next bytes are a frame header. `gathered` of its bytes (fewer than 14) came in earlier
    /// reads and wait in the session's header scratch; 0 on the common path.
    case awaitingHeader(gathered: Int)
    /// A frame's payload is being read (`Session.beginFrame` accepted its header).
    case inPayload(FramePayloadProgress)

    /// Between frames with nothing gathered: where a session starts and returns after each frame.
    static let betweenFrames = FrameReadState.awaitingHeader(gathered: 0)
}

/// The frame whose payload is being read: what its header said and how far the payload got.
struct FramePayloadProgress {
    let opcode: Opcode
    /// FIN: the frame ends its message.
    let isFinal: Bool
    /// The masking key (`FrameHeader.maskKey`); nil for an unmasked frame.
    let maskKey: UInt32?
    /// The payload length the header announced.
    let length: Int
    /// Payload bytes consumed so far.
    private(set) var offset = 0

    init(_ header: FrameHeader) {
        opcode = header.opcode
        isFinal = header.isFinal
        maskKey = header.maskKey
        length = header.payloadLength
    }

    /// Payload bytes still to come.
    var remaining: Int { length &- offset }

    /// Counts `count` more payload bytes as consumed.
    mutating func advance(by count: Int) { offset &+= count }
}
