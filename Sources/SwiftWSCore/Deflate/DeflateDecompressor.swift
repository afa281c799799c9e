import CZlib

/// A raw DEFLATE decompressor (zlib `inflate`) for RFC 7692 message payloads, with the size of
/// each message bounded *while* inflating: a few kilobytes that would inflate to a gigabyte fail
/// with 1009 after at most `limit + 1` bytes were produced, never allocating the gigabyte.
///
/// Errors (close codes):
/// - 1009 (`messageTooBig`): the inflated message exceeds the limit (RFC 6455 section 7.4.1).
/// - 1002 (`protocolError`): the data is not valid DEFLATE, refers further back than the
///   negotiated window, or the message does not end on a block boundary. Python `websockets` uses
///   1002 here too; Node `ws` uses 1007. We follow RFC 6455's split: 1007 is for data "not
///   consistent with the type of the message" (invalid UTF-8 in a text message, checked after
///   inflating), whereas a corrupt DEFLATE stream breaks the framing rules of the negotiated
///   extension (RFC 7692 sections 6 and 7.2.2), which is a protocol error, for binary and text
///   messages alike.
/// - 1011 (`internalError`): zlib could not allocate its state.
///
/// The zlib state is allocated on the first compressed message and can be released with
/// `release()`. Not thread-safe.
public final class DeflateDecompressor {
    /// The peer's negotiated LZ77 window (8...15). inflate keeps exactly this much history, so a
    /// reference reaching further back into earlier messages (or earlier output chunks) fails as a
    /// corrupt stream (1002); within one inflate call zlib checks distances against the output
    /// produced so far only.
    public let windowBits: Int
    /// Whether the window is kept from one message to the next (no `*_no_context_takeover` for
    /// the peer's direction); decides what happens after a DEFLATE block with BFINAL set.
    public let keepsContext: Bool

    /// The zlib stream and per-message state (allocated with the object, ~150 bytes; zlib's own
    /// state is allocated on the first compressed message).
    private let box: UnsafeMutablePointer<ZlibStreamBox>
    /// The 4 bytes `00 00 ff ff` appended to each message (RFC 7692 section 7.2.2).
    private let trailer: UnsafeMutableRawPointer

    /// Bytes produced so far for the current message (checked against the limit).
    public var messageSize: Int { box.pointee.messageSize }

    public init(windowBits: Int, keepsContext: Bool) {
        self.windowBits = min(max(windowBits, 8), 15)
        self.keepsContext = keepsContext
        box = ZlibStreamBox.allocate()
        trailer = .allocate(byteCount: 4, alignment: 4)
        trailer.storeBytes(of: UInt32(0xFFFF_0000).littleEndian, as: UInt32.self)
    }

    deinit {
        release()
        box.deinitialize(count: 1)
        box.deallocate()
        trailer.deallocate()
    }

    /// Bytes zlib currently holds for this decompressor (0 when released).
    public var zlibMemoryBytes: Int { box.pointee.allocatedBytes }

    /// Frees the zlib state; the next message allocates it again.
    public func release() {
        if box.pointee.isInitialized {
            inflateEnd(&box.pointee.stream)
            box.pointee.isInitialized = false
        }
        box.pointee.messageSize = 0
        box.pointee.atBlockBoundary = true
    }

    /// Forgets the window but keeps the memory (RFC 7692 section 7.1.1, no context takeover).
    public func resetContext() {
        if box.pointee.isInitialized { inflateReset(&box.pointee.stream) }
        box.pointee.messageSize = 0
        box.pointee.atBlockBoundary = true
    }

    /// Inflates one frame's payload of a compressed message and appends the result to `output`.
    ///
    /// - Parameters:
    ///   - fragment: the payload of a frame (the first frame had RSV1 set; continuation frames
    ///     follow). May be empty.
    ///   - isFinal: true for the frame with FIN set: the `00 00 ff ff` the sender removed is put
    ///     back (RFC 7692 section 7.2.2) and the message must then end on a block boundary.
    ///   - limit: the most bytes the whole message may inflate to (the session's
    ///     maxMessageSize); exceeding it throws 1009.
    ///   - output: where the inflated bytes go (appended).
    public func decompressFragment(
        _ fragment: UnsafeRawBufferPointer, isFinal: Bool, limit: Int, into output: DeflateBuffer
    ) throws(ProtocolError) {
        let box = try stream()
        do throws(ProtocolError) {
            try inflate(box, fragment, limit: limit, output: output)
            if isFinal {
                // RFC 7692 section 7.2.2: append 0x00 0x00 0xff 0xff to the payload of the
                // message, then decompress. The stripped sync flush leaves inflate inside an
                // empty stored block, which the trailer completes. If inflate already stands
                // between blocks, the trailer would open a block that never ends, so it is not
                // appended: that happens for an empty payload (what `ws` sends for an empty
                // message after a flush), a sender that did not strip the trailer, or a message
                // ending with a BFINAL block (section 7.2.3.4) without the extra 0x00 octet.
                if !box.pointee.atBlockBoundary {
                    try inflate(box, UnsafeRawBufferPointer(start: trailer, count: 4), limit: limit, output: output)
                    // A well-formed message ends with an empty stored block, so inflate now
                    // waits for the next block header (zlib reports that as bit 128 of
                    // data_type). Anything else means the peer cut the message inside a block.
                    if !box.pointee.atBlockBoundary {
                        throw ProtocolError.protocolViolation("compressed message ends inside a DEFLATE block")
                    }
                }
                box.pointee.messageSize = 0
            }
        } catch {
            // The stream is in an unknown state; the connection is failing anyway.
            release()
            throw error
        }
    }

    /// Runs inflate over `input`, growing `output` within the limit.
    private func inflate(
        _ box: UnsafeMutablePointer<ZlibStreamBox>, _ input: UnsafeRawBufferPointer, limit: Int,
        output: DeflateBuffer
    ) throws(ProtocolError) {
        var remaining = input.count
        var next = input.baseAddress.map { UnsafeMutablePointer(mutating: $0.assumingMemoryBound(to: Bytef.self)) }
        while remaining > 0 || box.pointee.stream.avail_out == 0 {
            let chunk = min(remaining, zlibMaximumChunk)
            box.pointee.stream.next_in = next
            box.pointee.stream.avail_in = zlibCount(chunk)
            // Output room: what is spare, else grow by about 4x the input (typical text ratio),
            // but never beyond limit + 1 bytes for the message: one byte past the limit proves
            // the message too big without producing (or allocating) the rest.
            let allowed = max(limit, 0) - box.pointee.messageSize + 1
            var room = output.spareCapacity
            if room < 256 {
                room = max(min(chunk &* 4, 1 << 20), 4096)
            }
            room = min(room, allowed, zlibMaximumChunk)
            let target = output.reserveSpare(room)
            box.pointee.stream.next_out = target.assumingMemoryBound(to: Bytef.self)
            box.pointee.stream.avail_out = uInt(room)
            let status = CZlib.inflate(&box.pointee.stream, Z_SYNC_FLUSH)
            let produced = room - Int(box.pointee.stream.avail_out)
            let consumed = chunk - Int(box.pointee.stream.avail_in)
            output.commit(produced)
            box.pointee.messageSize += produced
            remaining -= consumed
            next = box.pointee.stream.next_in
            if consumed > 0 {
                // zlib sets bit 128 of data_type when it stopped right after an end-of-block
                // code or a stored block, i.e. waiting for the next block header.
                box.pointee.atBlockBoundary = box.pointee.stream.data_type & 128 != 0
            }
            if box.pointee.messageSize > limit {
                throw ProtocolError.tooBig("decompressed message exceeds \(limit) bytes")
            }
            switch status {
            case Z_OK:
                continue
            case Z_BUF_ERROR:
                // No progress possible: all input consumed and no pending output.
                if remaining == 0 && box.pointee.stream.avail_out != 0 { return }
                if consumed == 0 && produced == 0 && box.pointee.stream.avail_out != 0 {
                    throw ProtocolError.protocolViolation("invalid compressed data")
                }
            case Z_STREAM_END:
                // A DEFLATE block with BFINAL set (RFC 7692 section 7.2.3.4 allows it). zlib stops
                // there, but in RFC 7692 the message data may go on (the sender appends an
                // empty stored block with BFINAL 0) and later messages continue the same
                // window. Restart inflate, carrying the window over when context is kept.
                try restartAfterStreamEnd(box)
                box.pointee.stream.avail_out = 1  // not 0: the loop must not think output is pending
                box.pointee.atBlockBoundary = true
            case Z_MEM_ERROR:
                throw ProtocolError(.internalError, "inflate out of memory")
            default:
                // Z_DATA_ERROR (corrupt data, distance too far back), Z_NEED_DICT, Z_STREAM_ERROR.
                throw ProtocolError.protocolViolation("invalid compressed data")
            }
        }
    }

    /// Resets inflate after Z_STREAM_END, preserving the window when context is kept.
    private func restartAfterStreamEnd(_ box: UnsafeMutablePointer<ZlibStreamBox>) throws(ProtocolError) {
        guard keepsContext else {
            inflateReset(&box.pointee.stream)
            return
        }
        let window = 1 << windowBits
        let dictionary = UnsafeMutablePointer<Bytef>.allocate(capacity: window)
        defer { dictionary.deallocate() }
        var length: uInt = 0
        guard inflateGetDictionary(&box.pointee.stream, dictionary, &length) == Z_OK,
              inflateReset(&box.pointee.stream) == Z_OK,
              length == 0 || inflateSetDictionary(&box.pointee.stream, dictionary, length) == Z_OK
        else {
            throw ProtocolError(.internalError, "inflate could not restart after a final block")
        }
    }

    /// The zlib stream, initialised on first use.
    private func stream() throws(ProtocolError) -> UnsafeMutablePointer<ZlibStreamBox> {
        if box.pointee.isInitialized { return box }
        // Negative windowBits: raw DEFLATE (RFC 7692 section 6). inflate accepts 8 (unlike deflate).
        let status = inflateInit2_(
            &box.pointee.stream, -Int32(windowBits), zlibVersion(), Int32(MemoryLayout<z_stream>.size))
        guard status == Z_OK else {
            throw ProtocolError(.internalError, "inflateInit2 failed (\(status))")
        }
        box.pointee.isInitialized = true
        return box
    }
}
