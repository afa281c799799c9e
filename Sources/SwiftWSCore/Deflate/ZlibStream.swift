import CZlib
import Glibc

/// One zlib stream (`z_stream`) at a fixed address, with an allocator that counts the bytes zlib
/// holds, so that `PerMessageDeflate.zlibMemoryBytes` and the benchmark can report real
/// per-connection memory instead of a formula.
///
/// zlib keeps a back pointer from its internal state to the `z_stream` (and checks it on every
/// call), so the stream must never move: it lives in a manually allocated box, not in a Swift
/// value that could be copied.
///
/// The box also holds the codec's per-message bookkeeping: state behind a pointer escapes Swift's
/// run-time exclusivity checks on class `var`s, which cost ~20% on small messages (see
/// `DeflateBuffer.State`).
struct ZlibStreamBox {
    var stream: z_stream
    /// Bytes currently allocated by zlib through `zlibCountingAlloc` for this stream.
    var allocatedBytes: Int
    /// Whether deflateInit2/inflateInit2 ran (and deflateEnd/inflateEnd is owed).
    var isInitialized: Bool
    /// Decompressor: bytes produced so far for the current message.
    var messageSize: Int
    /// Decompressor: inflate stopped between two DEFLATE blocks.
    var atBlockBoundary: Bool
    /// Compressor: between the first and the final fragment of a streamed message.
    var isInsideMessage: Bool
}

/// Size of the header `zlibCountingAlloc` puts in front of each block to remember its size
/// (16 keeps malloc's alignment guarantee for the block zlib sees).
private let allocationHeaderSize = 16

/// zalloc: `malloc` with a size header, added to the owning box's counter.
let zlibCountingAlloc: alloc_func = { opaque, items, size in
    let bytes = Int(items) &* Int(size)
    guard let raw = malloc(bytes + allocationHeaderSize) else { return nil }
    raw.storeBytes(of: bytes, as: Int.self)
    if let box = opaque?.assumingMemoryBound(to: ZlibStreamBox.self) {
        box.pointee.allocatedBytes += bytes
    }
    return raw + allocationHeaderSize
}

/// zfree: the inverse of `zlibCountingAlloc`.
let zlibCountingFree: free_func = { opaque, address in
    guard let address else { return }
    let raw = address - allocationHeaderSize
    let bytes = raw.load(as: Int.self)
    if let box = opaque?.assumingMemoryBound(to: ZlibStreamBox.self) {
        box.pointee.allocatedBytes -= bytes
    }
    free(raw)
}

extension ZlibStreamBox {
    /// A zeroed box whose stream allocates through the counting allocator.
    static func allocate() -> UnsafeMutablePointer<ZlibStreamBox> {
        let box = UnsafeMutablePointer<ZlibStreamBox>.allocate(capacity: 1)
        box.initialize(to: ZlibStreamBox(
            stream: z_stream(), allocatedBytes: 0, isInitialized: false, messageSize: 0,
            atBlockBoundary: true, isInsideMessage: false))
        box.pointee.stream.zalloc = zlibCountingAlloc
        box.pointee.stream.zfree = zlibCountingFree
        box.pointee.stream.opaque = UnsafeMutableRawPointer(box)
        return box
    }
}

/// The largest chunk handed to zlib in one call: `avail_in`/`avail_out` are 32-bit (`uInt`).
let zlibMaximumChunk = 1 << 30

/// `deflate(3)`'s and `inflate(3)`'s 32-bit window sizes as a Swift `Int32`.
@inline(__always) func zlibCount(_ count: Int) -> uInt { uInt(truncatingIfNeeded: min(count, zlibMaximumChunk)) }
