import CZlib

/// A raw DEFLATE compressor (zlib `deflate`, no zlib header) producing RFC 7692 message payloads.
///
/// The zlib state is allocated on first use and can be released with `release()`, so an idle
/// connection holds no compression memory (DESIGN.md: "compression state only once a message
/// needs it"). One compressor may also be shared by every connection of an event loop whose
/// negotiated parameters say `*_no_context_takeover` for our direction (see `PerMessageDeflate`),
/// because then each message starts from an empty window anyway. Not thread-safe.
public final class DeflateCompressor {
    /// The LZ77 window we promised the peer (8...15), as negotiated.
    public let windowBits: Int
    /// zlib `memLevel` (1...9): size of the hash tables; not negotiated.
    public let memoryLevel: Int
    /// zlib compression level (0...9; -1 = zlib's default, 6).
    public let level: Int

    /// The zlib stream and per-message state (allocated with the object, ~150 bytes; zlib's own
    /// state is allocated on the first compressed message).
    private let box: UnsafeMutablePointer<ZlibStreamBox>

    /// True between the first fragment of a streamed message and its final fragment.
    public var isInsideMessage: Bool { box.pointee.isInsideMessage }

    /// - Parameters:
    ///   - windowBits: negotiated window, 8...15. zlib cannot produce raw DEFLATE with an 8-bit
    ///     window (deflateInit2 rejects it since zlib 1.2.9; older versions silently used 9). We
    ///     then initialise zlib with 9, as Node.js does for `ws`: zlib's encoder never emits a
    ///     distance above `w_size - MIN_LOOKAHEAD` = 512 - 262 = 250 bytes, so a stream made with
    ///     windowBits 9 only refers back 250 bytes and any inflater with a 256-byte window decodes
    ///     it. We thus keep the promise of `*_max_window_bits=8` (tested against inflate with 8).
    ///   - memoryLevel: zlib memLevel, clamped to 1...9.
    ///   - level: zlib level, clamped to -1...9.
    public init(windowBits: Int, memoryLevel: Int, level: Int) {
        self.windowBits = min(max(windowBits, 8), 15)
        self.memoryLevel = min(max(memoryLevel, 1), 9)
        self.level = min(max(level, -1), 9)
        box = ZlibStreamBox.allocate()
    }

    deinit {
        release()
        box.deinitialize(count: 1)
        box.deallocate()
    }

    /// Bytes zlib currently holds for this compressor (0 when released).
    public var zlibMemoryBytes: Int { box.pointee.allocatedBytes }

    /// Frees the zlib state; the next message allocates it again. Any streamed message in
    /// progress is abandoned.
    public func release() {
        if box.pointee.isInitialized {
            deflateEnd(&box.pointee.stream)
            box.pointee.isInitialized = false
        }
        box.pointee.isInsideMessage = false
    }

    /// Forgets the window (context) but keeps the memory: the next message is compressed as if it
    /// were the first (RFC 7692 section 7.1.1, no context takeover).
    public func resetContext() {
        if box.pointee.isInitialized { deflateReset(&box.pointee.stream) }
        box.pointee.isInsideMessage = false
    }

    /// Compresses a whole message and appends its RFC 7692 payload to `output`: the DEFLATE data
    /// flushed with Z_SYNC_FLUSH, without the final `00 00 ff ff` (section 7.2.1).
    public func compressMessage(_ message: UnsafeRawBufferPointer, into output: DeflateBuffer) throws(ProtocolError) {
        try compressFragment(message, isFinal: true, into: output)
    }

    /// Compresses one fragment of a message sent in several frames (RFC 7692 section 7.2.1 allows
    /// the compressed data of one message to be split across its frames). Each fragment is
    /// flushed (Z_SYNC_FLUSH) so the peer can inflate it at once; only the final fragment has the
    /// trailing `00 00 ff ff` removed.
    public func compressFragment(
        _ fragment: UnsafeRawBufferPointer, isFinal: Bool, into output: DeflateBuffer
    ) throws(ProtocolError) {
        let box = try stream()
        let start = output.count
        box.pointee.isInsideMessage = !isFinal
        var remaining = fragment.count
        var next = fragment.baseAddress.map { UnsafeMutablePointer(mutating: $0.assumingMemoryBound(to: Bytef.self)) }
        // Reserve what zlib says the whole compressed fragment can take, so that one deflate call
        // normally does all the work; the loop below still handles any overflow.
        let bound = Int(deflateBound(&box.pointee.stream, uLong(min(remaining, zlibMaximumChunk)))) + 16
        output.reserveSpare(bound)
        repeat {
            let chunk = min(remaining, zlibMaximumChunk)
            box.pointee.stream.next_in = next
            box.pointee.stream.avail_in = zlibCount(chunk)
            remaining -= chunk
            // Only flush after the last chunk of input; before that, plain compression.
            let flush = remaining == 0 ? Z_SYNC_FLUSH : Z_NO_FLUSH
            while true {
                if output.spareCapacity < 64 { output.reserveSpare(max(output.capacity / 2, 4096)) }
                let spare = output.spareCapacity
                box.pointee.stream.next_out = output.reserveSpare(spare).assumingMemoryBound(to: Bytef.self)
                box.pointee.stream.avail_out = zlibCount(spare)
                let status = deflate(&box.pointee.stream, flush)
                output.commit(min(spare, zlibMaximumChunk) - Int(box.pointee.stream.avail_out))
                // Z_BUF_ERROR means "no progress possible": a second sync flush with no new input
                // (an empty fragment after a flushed one) produces nothing, which is fine.
                guard status == Z_OK || status == Z_BUF_ERROR else {
                    release()
                    throw ProtocolError(.internalError, "deflate failed (\(status))")
                }
                // zlib's rule: a flush is complete when deflate leaves output space unused.
                if box.pointee.stream.avail_out != 0 && box.pointee.stream.avail_in == 0 { break }
            }
            next = box.pointee.stream.next_in
        } while remaining > 0
        if isFinal {
            // RFC 7692 section 7.2.1: remove the 4 octets 0x00 0x00 0xff 0xff at the tail end. A
            // sync flush always ends with them; the check guards against a zlib that would not.
            let produced = output.count - start
            if produced >= 4, output.bytes[output.count - 4] == 0x00, output.bytes[output.count - 3] == 0x00,
               output.bytes[output.count - 2] == 0xFF, output.bytes[output.count - 1] == 0xFF {
                output.removeLast(4)
            }
        }
    }

    /// The zlib stream, initialised on first use.
    private func stream() throws(ProtocolError) -> UnsafeMutablePointer<ZlibStreamBox> {
        if box.pointee.isInitialized { return box }
        // Negative windowBits: raw DEFLATE without zlib header or checksum (RFC 7692 section 6).
        let bits = windowBits == 8 ? 9 : windowBits  // see init: 9 only ever refers back 250 bytes
        let status = deflateInit2_(
            &box.pointee.stream, Int32(level), Z_DEFLATED, -Int32(bits), Int32(memoryLevel),
            Z_DEFAULT_STRATEGY, zlibVersion(), Int32(MemoryLayout<z_stream>.size))
        guard status == Z_OK else {
            throw ProtocolError(.internalError, "deflateInit2 failed (\(status))")
        }
        box.pointee.isInitialized = true
        return box
    }
}
