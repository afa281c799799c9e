/// The permessage-deflate codec of one connection (RFC 7692 sections 6 and 7.2): compresses what
/// we send and inflates what the peer sends, with the negotiated parameters, in either role.
///
/// zlib state is allocated lazily (an idle connection that never sends a compressed message
/// holds none) and, for a direction without context takeover, freed after each message.
///
/// The session decides *whether* a message is compressed (`shouldCompress(messageSize:)`, RSV1
/// on the first frame only) and validates UTF-8 on the *inflated* text. Not thread-safe: one
/// connection, one thread.
public final class PerMessageDeflate {
    /// Which end we are.
    public let role: Role
    /// What was negotiated.
    public let parameters: PerMessageDeflateParameters
    /// Our settings (memLevel, level, threshold).
    public let configuration: PerMessageDeflateConfiguration

    private let compressor: DeflateCompressor
    /// The window our compressor uses: the agreed one, or our own limit when smaller.
    var compressionWindowBits: Int { compressor.windowBits }
    private let decompressor: DeflateDecompressor
    /// A compressor shared by the loop, used for whole messages when our direction has no
    /// context takeover and its settings match ours.
    private let sharedCompressor: DeflateCompressor?
    private let localKeepsContext: Bool
    private let remoteKeepsContext: Bool

    /// - Parameters:
    ///   - parameters: the negotiated parameters.
    ///   - role: our role.
    ///   - configuration: our configuration (for zlib memLevel, level and the threshold).
    ///   - sharedCompressor: optional compressor shared by every connection of one event loop.
    ///     Used only when our direction negotiated no context takeover (each message then starts
    ///     from an empty window, so no state needs to survive between messages) and its window,
    ///     memLevel and level equal ours; otherwise ignored. Saves the ~50-150 KiB of deflate
    ///     state per connection. Fragmented (streamed) sends always use the connection's own
    ///     compressor, since another connection could use the shared one between fragments.
    public init(
        parameters: PerMessageDeflateParameters, role: Role,
        configuration: PerMessageDeflateConfiguration = .init(),
        sharedCompressor: DeflateCompressor? = nil
    ) {
        self.role = role
        self.parameters = parameters
        self.configuration = configuration
        // The agreed window is the most we may use; a client that offered
        // client_max_window_bits without a value may be granted 15 and still keeps to its own
        // limit (a smaller window is always valid for the peer's inflater).
        let localBits = min(parameters.localWindowBits(for: role), configuration.clampedLocalMaxWindowBits)
        compressor = DeflateCompressor(
            windowBits: localBits, memoryLevel: configuration.memoryLevel, level: configuration.compressionLevel)
        localKeepsContext = !parameters.localNoContextTakeover(for: role)
        remoteKeepsContext = !parameters.remoteNoContextTakeover(for: role)
        decompressor = DeflateDecompressor(windowBits: parameters.remoteWindowBits(for: role), keepsContext: remoteKeepsContext)
        if let shared = sharedCompressor, !localKeepsContext, shared.windowBits == compressor.windowBits,
           shared.memoryLevel == compressor.memoryLevel, shared.level == compressor.level {
            self.sharedCompressor = shared
        } else {
            self.sharedCompressor = nil
        }
    }

    /// Whether a message of `messageSize` bytes should be sent compressed (the threshold).
    @inlinable public func shouldCompress(messageSize: Int) -> Bool {
        messageSize >= configuration.compressionThreshold
    }

    /// Compresses a whole message into `output` (appended): the payload of a frame with RSV1 set.
    public func compress(message: UnsafeRawBufferPointer, into output: DeflateBuffer) throws(ProtocolError) {
        if let sharedCompressor {
            defer { sharedCompressor.resetContext() }
            try sharedCompressor.compressMessage(message, into: output)
            return
        }
        try compress(fragment: message, isFinal: true, into: output)
    }

    /// Compresses one fragment of a message sent in several frames (RSV1 on the first frame only;
    /// section 6.1). Call with `isFinal` for the last one.
    public func compress(fragment: UnsafeRawBufferPointer, isFinal: Bool, into output: DeflateBuffer) throws(ProtocolError) {
        try compressor.compressFragment(fragment, isFinal: isFinal, into: output)
        if isFinal && !localKeepsContext {
            compressor.release()  // section 7.1.1: nothing carries over; free the memory too
        }
    }

    /// Inflates one frame's payload of a compressed message into `output` (appended).
    ///
    /// - Parameters:
    ///   - maximumMessageSize: bound on the whole inflated message; exceeding it throws 1009
    ///     before the excess is produced. Corrupt data throws 1002 (see `DeflateDecompressor`).
    ///   - sliceSize: stop each time the message's output reaches a multiple of this (see
    ///     `DeflateDecompressor.decompressFragment`).
    /// - Returns: nil when done; otherwise the count of bytes at the end of `fragment` still to
    ///   be fed (again with `isFinal` as before).
    @discardableResult
    public func decompress(
        fragment: UnsafeRawBufferPointer, isFinal: Bool, maximumMessageSize: Int, sliceSize: Int = .max,
        into output: DeflateBuffer
    ) throws(ProtocolError) -> Int? {
        if let unconsumed = try decompressor.decompressFragment(
            fragment, isFinal: isFinal, limit: maximumMessageSize, sliceSize: sliceSize, into: output) {
            return unconsumed
        }
        if isFinal && !remoteKeepsContext {
            decompressor.release()
        }
        return nil
    }

    /// Bytes of zlib state this connection holds right now (a shared compressor not included).
    public var zlibMemoryBytes: Int { compressor.zlibMemoryBytes + decompressor.zlibMemoryBytes }

    /// Frees all zlib state (e.g. when the connection closes, or to trim an idle connection; with
    /// context takeover the next message then starts from an empty window, so only call this
    /// when no further messages will be exchanged).
    public func release() {
        compressor.release()
        decompressor.release()
    }
}
