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
    ///   - sliceSize: inflate stops each time the message's output reaches a multiple of this
    ///     many bytes (`Int.max`: never), so that a caller can bound the work one call costs (a
    ///     few kilobytes of a decompression bomb inflate to megabytes) and come back later. The
    ///     stops depend only on the message's own output, never on how the peer's bytes were
    ///     split into reads, so the outcome of a stream is the same either way.
    /// - Returns: nil when the fragment was inflated completely; otherwise inflate stopped at a
    ///   slice boundary with this many bytes at the end of `fragment` not yet consumed (possibly
    ///   0, with output still pending inside zlib): call again with exactly those bytes.
    @inline(__always)  // into PerMessageDeflate.decompress: one call frame per message
    @discardableResult
    public func decompressFragment(
        _ fragment: UnsafeRawBufferPointer, isFinal: Bool, limit: Int, sliceSize: Int = .max, into output: DeflateBuffer
    ) throws(ProtocolError) -> Int? {
        // Fast path, a message in one frame (the usual case): straight-line inflate of the
        // payload and then, if inflate stopped inside a block, of the `00 00 ff ff` trailer
        // (RFC 7692 section 7.2.2; the loop below explains when it is appended) into the spare
        // capacity of `output`, when that room cannot exceed the limit. Anything unusual (output full, input left over, an error,
        // BFINAL, a message cut inside a block) hands the call just made to the general loop,
        // which treats it exactly as one of its own.
        //
        // Why: for small messages of incompressible data zlib only copies a stored block
        // (~150 ns for 1 KiB, two inflate calls); the general loop's bookkeeping per call (room,
        // growth, limit, status) and its call frames cost ~20% on top of that
        // (bench/deflate, random 1 KiB).
        let box = self.box
        let room = output.spareCapacity
        if isFinal, box.pointee.isInitialized, box.pointee.messageSize == 0, let base = fragment.baseAddress,
           room >= 256, room <= limit, room <= sliceSize, room < zlibMaximumChunk, fragment.count < zlibMaximumChunk {
            // room >= 256 as in the loop; room <= limit on an empty message: the limit cannot be
            // exceeded; counts fit zlib's 32-bit fields.
            box.pointee.stream.next_in = UnsafeMutablePointer(mutating: base.assumingMemoryBound(to: Bytef.self))
            box.pointee.stream.avail_in = uInt(truncatingIfNeeded: fragment.count)
            box.pointee.stream.next_out = output.reserveSpare(room).assumingMemoryBound(to: Bytef.self)
            box.pointee.stream.avail_out = uInt(truncatingIfNeeded: room)
            var status = CZlib.inflate(&box.pointee.stream, Z_SYNC_FLUSH)
            guard status == Z_OK, box.pointee.stream.avail_in == 0, box.pointee.stream.avail_out != 0 else {
                return try inflateReleasingOnError(
                    box, next: nil, remaining: fragment.count, isFinal: true, limit: limit, sliceSize: sliceSize,
                    output: output, pending: (status, room))
            }
            if box.pointee.stream.data_type & 128 == 0 {  // inside a block: the trailer completes it
                let before = Int(box.pointee.stream.avail_out)
                box.pointee.stream.next_in = trailer.assumingMemoryBound(to: Bytef.self)
                box.pointee.stream.avail_in = 4
                status = CZlib.inflate(&box.pointee.stream, Z_SYNC_FLUSH)
                guard status == Z_OK, box.pointee.stream.avail_in == 0, box.pointee.stream.avail_out == before,
                      box.pointee.stream.data_type & 128 != 0
                else {
                    // Account for the payload's output, then let the loop judge the trailer call.
                    output.commit(room &- before)
                    box.pointee.messageSize = room &- before
                    box.pointee.atBlockBoundary = false
                    return try inflateReleasingOnError(
                        box, next: nil, remaining: 4, isFinal: true, limit: limit, sliceSize: sliceSize, output: output,
                        pending: (status, before), trailerFed: true)
                }
            }
            output.commit(room &- Int(box.pointee.stream.avail_out))
            box.pointee.atBlockBoundary = true
            return nil
        }
        return try inflateReleasingOnError(
            box, next: fragment.baseAddress, remaining: fragment.count, isFinal: isFinal, limit: limit,
            sliceSize: sliceSize, output: output)
    }

    /// `inflate(...)` on a stream allocated first if need be, releasing it when inflate fails
    /// (its state is then unknown; the connection is failing anyway).
    @inline(never)
    private func inflateReleasingOnError(
        _ box: UnsafeMutablePointer<ZlibStreamBox>, next: UnsafeRawPointer?, remaining: Int, isFinal: Bool,
        limit: Int, sliceSize: Int, output: DeflateBuffer, pending: (status: Int32, room: Int)? = nil,
        trailerFed: Bool = false
    ) throws(ProtocolError) -> Int? {
        if !box.pointee.isInitialized { try initializeStream() }
        do throws(ProtocolError) {
            return try inflate(box, next: next, remaining: remaining, isFinal: isFinal, limit: limit,
                               sliceSize: max(sliceSize, 1), output: output, pending: pending, trailerFed: trailerFed)
        } catch {
            release()
            throw error
        }
    }

    /// Runs inflate over `remaining` bytes at `next` and, for the final fragment, over the
    /// trailer, growing `output` within the limit.
    ///
    /// - Parameters:
    ///   - pending: an inflate call the caller already made over `remaining` input bytes (its
    ///     status, and `avail_out` before it): the loop accounts for it and handles its status
    ///     before making calls of its own.
    ///   - trailerFed: whether the trailer is the input (`remaining` counts its bytes).
    ///
    /// The fragment and the trailer are two segments of one loop in one call frame. Error values
    /// are built out of line, so that the loop stays small.
    private func inflate(
        _ box: UnsafeMutablePointer<ZlibStreamBox>, next: UnsafeRawPointer?, remaining: Int, isFinal: Bool,
        limit: Int, sliceSize: Int, output: DeflateBuffer, pending: (status: Int32, room: Int)? = nil,
        trailerFed: Bool = false
    ) throws(ProtocolError) -> Int? {
        var remaining = remaining
        var next = next.map { UnsafeMutablePointer(mutating: $0.assumingMemoryBound(to: Bytef.self)) }
        var trailerFed = trailerFed
        var pending = pending
        // What the message had produced when this call began: a call always makes progress
        // before it may stop at a slice boundary.
        let sizeAtEntry = pending == nil ? box.pointee.messageSize : 0
        while true {
            let status: Int32
            let chunk: Int
            var room: Int
            if let (pendingStatus, pendingRoom) = pending {
                (status, chunk, room) = (pendingStatus, remaining, pendingRoom)
                pending = nil
            } else {
                let size = box.pointee.messageSize
                let moreToDo = remaining != 0 || box.pointee.stream.avail_out == 0
                // A slice boundary reached with more to do: stop, the caller resumes later. (The
                // trailer is never cut: it only completes an empty stored block.)
                if !trailerFed && moreToDo && size > sizeAtEntry && size % sliceSize == 0 {
                    return remaining
                }
                if remaining == 0 && box.pointee.stream.avail_out != 0 {
                    // This segment is consumed and zlib holds no pending output.
                    guard isFinal else { return nil }
                    if trailerFed {
                        // A well-formed message ends with an empty stored block, so inflate now
                        // waits for the next block header (zlib reports that as bit 128 of
                        // data_type). Anything else means the peer cut the message inside a block.
                        if !box.pointee.atBlockBoundary { throw Self.endsInsideBlock() }
                        break
                    }
                    // RFC 7692 section 7.2.2: append 0x00 0x00 0xff 0xff to the payload of the
                    // message, then decompress. The stripped sync flush leaves inflate inside an
                    // empty stored block, which the trailer completes. If inflate already stands
                    // between blocks, the trailer would open a block that never ends, so it is not
                    // appended: that happens for an empty payload (what `ws` sends for an empty
                    // message after a flush), a sender that did not strip the trailer, or a message
                    // ending with a BFINAL block (section 7.2.3.4) without the extra 0x00 octet.
                    // zlib takes one contiguous input, so the trailer needs its own inflate call
                    // (as for any zlib user).
                    if box.pointee.atBlockBoundary { break }
                    trailerFed = true
                    next = trailer.assumingMemoryBound(to: Bytef.self)
                    remaining = 4
                }
                chunk = min(remaining, zlibMaximumChunk)
                box.pointee.stream.next_in = next
                box.pointee.stream.avail_in = uInt(truncatingIfNeeded: chunk)
                // Output room: what is spare, else grow by about 4x the input (typical text ratio),
                // but never beyond limit + 1 bytes for the message: one byte past the limit proves
                // the message too big without producing (or allocating) the rest.
                room = output.spareCapacity
                if room < 256 {
                    room = max(min(chunk &* 4, 1 << 20), 4096)
                }
                room = min(room, zlibMaximumChunk)
                // Never past the next slice boundary, so that stops fall on the same bytes
                // whatever the room was.
                let toBoundary = sliceSize &- size % sliceSize
                if !trailerFed && toBoundary < room { room = toBoundary }
                // Bytes the message may still grow by, computed without overflow for any limit
                // (Int.max included): messageSize <= max(limit, 0) here, else we threw below.
                let headroom = max(limit, 0) &- box.pointee.messageSize
                if headroom < room { room = max(headroom, 0) &+ 1 }
                let target = output.reserveSpare(room)
                box.pointee.stream.next_out = target.assumingMemoryBound(to: Bytef.self)
                box.pointee.stream.avail_out = uInt(truncatingIfNeeded: room)
                status = CZlib.inflate(&box.pointee.stream, Z_SYNC_FLUSH)
            }
            // zlib never reports more than it was given, so these cannot go negative.
            let produced = room &- Int(box.pointee.stream.avail_out)
            let consumed = chunk &- Int(box.pointee.stream.avail_in)
            output.commit(produced)
            box.pointee.messageSize &+= produced
            remaining &-= consumed
            next = box.pointee.stream.next_in
            if consumed > 0 {
                // zlib sets bit 128 of data_type when it stopped right after an end-of-block
                // code or a stored block, i.e. waiting for the next block header.
                box.pointee.atBlockBoundary = box.pointee.stream.data_type & 128 != 0
            }
            if box.pointee.messageSize > limit {
                throw Self.tooBig(limit)
            }
            switch status {
            case Z_OK:
                continue
            case Z_BUF_ERROR:
                // No progress possible: all input consumed and no pending output (the top of
                // the loop ends the segment), or a stream that cannot move: corrupt.
                if consumed == 0 && produced == 0 && box.pointee.stream.avail_out != 0 && remaining != 0 {
                    throw Self.invalidData()
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
                throw Self.invalidData()
            }
        }
        box.pointee.messageSize = 0
        return nil
    }

    // Errors built out of line, so that the inlined inflate loop stays small.
    @inline(never) private static func tooBig(_ limit: Int) -> ProtocolError {
        ProtocolError.tooBig("decompressed message exceeds \(limit) bytes")
    }
    @inline(never) private static func invalidData() -> ProtocolError {
        ProtocolError.protocolViolation("invalid compressed data")
    }
    @inline(never) private static func endsInsideBlock() -> ProtocolError {
        ProtocolError.protocolViolation("compressed message ends inside a DEFLATE block")
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

    /// Allocates the zlib stream (first compressed message, or the first after `release()`).
    @inline(never)
    private func initializeStream() throws(ProtocolError) {
        // Negative windowBits: raw DEFLATE (RFC 7692 section 6). inflate accepts 8 (unlike deflate).
        let status = inflateInit2_(
            &box.pointee.stream, -Int32(windowBits), zlibVersion(), Int32(MemoryLayout<z_stream>.size))
        guard status == Z_OK else {
            throw ProtocolError(.internalError, "inflateInit2 failed (\(status))")
        }
        box.pointee.isInitialized = true
    }
}
