/// The WebSocket connection after the opening handshake, for either role, without I/O
/// (RFC 6455 sections 5–7): bytes in, events out; messages in, bytes out.
///
/// Shaped like Python `websockets`' sans-I/O `Protocol` and Hummingbird's `WebSocketStateMachine`:
///
/// - Feed what the transport read to `receive(_:_:)`; events arrive through the callback with
///   borrowed payloads. A message whose frame is whole in the input is delivered straight from the
///   input buffer (unmasked in place, no copy, no allocation); only fragmented or split messages
///   are copied into the session's reassembly buffer, whose capacity is reused.
/// - Feed the end of the stream to `receiveEndOfStream(_:)`.
/// - Send with `send(text:)`, `send(binary:)`, `sendFragment`, `ping`, `pong`, `close`; frames are
///   appended to the pending output, which the transport writes (`withPendingOutput`,
///   `pendingOutput`) and acknowledges (`consumeOutput`).
/// - After each call, check `shouldCloseTransport` (and `closesTransportFirst`).
///
/// Every failure the peer can cause becomes a `.failed(ProtocolError)` event, a close frame with
/// the RFC's code (once), and `state == .closed`; later input is ignored. Nothing here traps on
/// peer input.
///
/// Not thread-safe: one session belongs to one event loop. The callback may call the session's
/// send methods (an echo server does), but not `receive` again.
public final class Session {
    /// The role and limits this session was created with.
    public let configuration: SessionConfiguration
    /// Where the connection is in its life.
    public var state: SessionState { lifecycle.state }
    /// How the connection ended; `nil` while it has not.
    public var closeStatus: CloseStatus? { lifecycle.closeStatus }
    /// The closing handshake's progress: the one owner of what may still be read and sent.
    private var lifecycle = SessionLifecycle.open
    /// The data message being received: set by its first frame, cleared after its final frame.
    /// Declared here, in the padding after `lifecycle` (25 bytes), rather than with the other
    /// receive state below, where it cost 7 bytes of padding: that room keeps `outstanding` from
    /// moving the session up a malloc size class (issue 16).
    private var messageKind: MessageKind? = nil

    // MARK: Receive state

    /// False once a close frame was received, the connection failed or the stream ended.
    private var acceptsInput: Bool { lifecycle.acceptsInput }
    /// A header split across reads, gathered here (at most 14 bytes; how many: `frameReadState`).
    private var headerScratch: (UInt64, UInt64) = (0, 0)
    /// Between frames or inside one frame's payload, with that frame's header and progress.
    private var frameReadState = FrameReadState.betweenFrames
    private var messageSize = 0
    private var messageFrameCount = 0
    private var messageIsStreaming = false
    private var messageHasStreamed = false
    /// When true, a fragmented message (a non-final first frame) is delivered as `.fragment`
    /// events, one per frame as it arrives, whatever its size; a single-frame message is still
    /// delivered whole (its fast path unchanged). Switchable at any time; it applies from the next
    /// message on. Independent of `configuration.streamingThreshold`, which streams large messages.
    public var streamsFragmentedMessages = false
    /// RSV1 was set on the message's first frame (permessage-deflate, RFC 7692 section 6).
    private var messageIsCompressed = false
    /// The permessage-deflate codec, when the handshake negotiated it.
    /// The codec the opening handshake negotiated (nil without compression).
    public let perMessageDeflate: PerMessageDeflate?
    /// Inflated bytes of the compressed message being received (capacity reused), and the
    /// compressed payload of the message being sent; created on first use, so sessions without
    /// compression pay nothing.
    @exclusivity(unchecked) private var inflatedBuffer: DeflateBuffer?
    @exclusivity(unchecked) private var compressedBuffer: DeflateBuffer?
    private var inflated: DeflateBuffer {
        if let inflatedBuffer { return inflatedBuffer }
        let buffer = DeflateBuffer()
        inflatedBuffer = buffer
        return buffer
    }
    private var compressed: DeflateBuffer {
        if let compressedBuffer { return compressedBuffer }
        let buffer = DeflateBuffer()
        compressedBuffer = buffer
        return buffer
    }
    /// Whether the message being sent with `sendFragment` is compressed (decided on its first frame).
    private var sendingIsCompressed = false
    private var receivedTextValidator = UTF8Validator()
    /// The message buffers (and `inflatedBuffer`, `compressedBuffer`, `inflateWork`) are
    /// `@exclusivity(unchecked)` for the reason given at `output`: each read asks for their
    /// counts (`bufferedInputCount`, for the server's memory budget) and every split frame
    /// appends to them, and each access paid a run-time check (callgrind: about 76 instructions
    /// each, 2 per read on `bufferedInputCount` alone); no access stays open across a callback.
    @exclusivity(unchecked) private var reassembly = ByteBuffer()
    @exclusivity(unchecked) private var controlPayload = ByteBuffer()

    // MARK: Bounded work per call

    /// Inflated bytes produced during the current `receive` or `resume` call.
    private var inflatedThisCall = 0
    /// Whether inflating reached `configuration.inflateBudget` in one call, and then what waits
    /// for `resume`. The waiting bytes live in an object made only when that happens, so the
    /// sessions that never stop (all without compression, most with it) carry one word for it.
    @exclusivity(unchecked) private var inflateWork = InflateWork.running
    private var isSuspended: Bool {
        if case .suspended = inflateWork { return true }
        return false
    }

    /// Reassembly storage above this is freed after the message, so one large message does not
    /// pin memory on an idle connection; below it the capacity is reused.
    static let retainedReassemblyCapacity = 256 << 10
    /// Where storage above that goes instead of back to the kernel, shared with the other
    /// sessions of a server (nil: freed).
    private let reassemblyPool: ReassemblyPool?

    // MARK: Send state

    /// `@exclusivity(unchecked)`: read and written several times per message (send, flush,
    /// `pendingOutputCount`), and Swift cannot prove statically that a callback does not overlap
    /// an access to a class's stored property, so each access paid a run-time check (a
    /// thread-local access set: about 100 instructions, 20 % of a pipelined echo's work;
    /// callgrind). No access overlaps: the session is confined to one thread, and no method keeps
    /// an access to `output` open while it calls out (the event callbacks run between accesses).
    @exclusivity(unchecked) private var output = ByteBuffer()
    /// Whether our close frame is queued (after it, section 5.5.1, nothing more may be sent).
    private var closeSent: Bool { !lifecycle.canSend }
    /// The kind of the message being sent with `sendFragment`, if one is unfinished.
    private var sendingKind: MessageKind? = nil
    private var sentTextValidator = UTF8Validator()
    /// Masking keys for the client role, from `configuration.maskKeys` (servers never draw one).
    private lazy var maskKeys = MaskKeyGenerator(configuration.maskKeys)
    /// What the connection over this session carried (`WebSocketConnection.counters`). The
    /// connection counts (it decides what counts: messages it accepted, not those it dropped); the
    /// counts are kept here because a session exists once any message flows, so an idle
    /// connection, which has no session yet, carries no counters (32 bytes, issue 16).
    /// `@exclusivity(unchecked)`: updated for every message, as `output`; only through
    /// `countReceived` and `countSent`, inside this module: an access from another module pays the
    /// run-time exclusivity check whatever the attribute says (callgrind: +260 instructions per
    /// echo with the connection updating the property itself).
    @exclusivity(unchecked) package private(set) var counters = ConnectionCounters()

    /// The extensions the opening handshake agreed on for the connection over this session (the
    /// response's elements; `WebSocketConnection.extensions`): kept here because a connection
    /// that has any has its session from the upgrade on, so one without carries nothing (issue
    /// 16). Read and written through the two functions below, inside this module (see
    /// `counters`).
    @exclusivity(unchecked) private var keptExtensions: [ExtensionOffer] = []

    /// Keeps the extensions the handshake agreed on (see `keptExtensions`).
    package func keepAgreedExtensions(_ extensions: [ExtensionOffer]) {
        keptExtensions = extensions
    }

    /// The extensions the handshake agreed on, as kept (empty if none were).
    package func agreedExtensions() -> [ExtensionOffer] {
        keptExtensions
    }

    /// The times the connection over this session awaits (`ConnectionTimeouts.Outstanding`: a
    /// keepalive's pong, the end of a message): kept here, not in the connection, because they
    /// are set only while a ping or a message is under way, when the session exists, so an idle
    /// connection carries neither (16 bytes, issue 16). The connection's time policy reads and
    /// updates them through the functions below, inside this module (see `counters`).
    @exclusivity(unchecked) private var outstanding = ConnectionTimeouts.Outstanding()

    /// The outstanding times, as kept.
    package var outstandingTimes: ConnectionTimeouts.Outstanding { outstanding }

    /// Runs `body` on the outstanding times (the time policy's `nextAction`, a pong's arrival).
    package func updateOutstandingTimes<Result>(_ body: (inout ConnectionTimeouts.Outstanding) -> Result) -> Result {
        body(&outstanding)
    }

    /// Whether the unfinished-message timer disagrees with `hasMessageInProgress`: a message
    /// began or ended since the timer was last told (checked after every read, so that the clock
    /// is read only when it is true; one call, not two, on the message path).
    package var messageTimingIsStale: Bool { hasMessageInProgress != outstanding.isTimingMessage }

    /// `count` payload bytes received for the connection's counters, ending a message or not.
    package func countReceived(_ count: Int, endsMessage: Bool) {
        counters.received(count, endsMessage: endsMessage)
    }

    /// `count` payload bytes accepted for sending, for the connection's counters.
    package func countSent(_ count: Int, endsMessage: Bool) {
        counters.sent(count, endsMessage: endsMessage)
    }

    /// Creates a session in the `.open` state.
    ///
    /// - Parameter perMessageDeflate: the codec built from the parameters the opening handshake
    ///   negotiated (`PerMessageDeflateNegotiation`), or nil when compression is off. With a
    ///   codec, RSV1 is allowed on the first frame of a data message (whatever
    ///   `configuration.allowsRSV1` says) and such messages are inflated, bounded by
    ///   `maxMessageSize` (1009), before their UTF-8 is checked; outgoing messages of at least the
    ///   codec's threshold are compressed (RSV1 on their first frame only; RFC 7692 section 6).
    ///   Without a codec, RSV1 fails the connection with 1002 unless `allowsRSV1` is set.
    /// - Parameter reassemblyPool: shared by the sessions of one thread (a server's), it keeps
    ///   the storage of a large message for the next one instead of freeing it (see
    ///   `ReassemblyPool`); nil frees it.
    public init(configuration: SessionConfiguration, perMessageDeflate: PerMessageDeflate? = nil,
                reassemblyPool: ReassemblyPool? = nil) {
        var configuration = configuration
        if perMessageDeflate != nil { configuration.allowsRSV1 = true }
        self.configuration = configuration
        self.perMessageDeflate = perMessageDeflate
        self.reassemblyPool = reassemblyPool
    }

    deinit {
        reassembly.deallocate()
        controlPayload.deallocate()
        output.deallocate()
    }

    // MARK: Transport-facing state

    /// True once the transport should be closed: the close handshake is complete, the connection
    /// failed, or the stream ended. Write the pending output first.
    public var shouldCloseTransport: Bool { state == .closed }

    /// Whether this side closes the TCP connection as soon as `shouldCloseTransport` is true.
    /// RFC 6455 section 7.1.1: after a clean close handshake "the server SHOULD close the
    /// underlying TCP connection first", so a client keeps reading until the server's end of
    /// stream (closing after a timeout of its own). After a failure or end of stream, both sides
    /// close at once (section 7.1.7).
    public var closesTransportFirst: Bool { lifecycle.closesTransportFirst(role: configuration.role) }

    /// Bytes waiting to be written to the transport.
    public var pendingOutputCount: Int { output.count }

    /// Whether a data message is being received: its first frame arrived and its final frame
    /// has not (what an unfinished-message timeout watches).
    public var hasMessageInProgress: Bool { messageKind != nil && acceptsInput }

    /// Bytes of received input this session holds for unfinished frames and messages
    /// (reassembly, inflated output, a split control frame): what a server-wide memory budget
    /// counts on the input side.
    public var bufferedInputCount: Int {
        reassembly.count &+ controlPayload.count &+ (inflatedBuffer?.count ?? 0)
            &+ inflateWork.bufferedCount
    }

    /// Bytes of buffer storage this session holds (capacity, not contents), for footprint
    /// tests and memory reports: an idle session holds none.
    public var heldCapacity: Int {
        reassembly.capacity &+ controlPayload.capacity &+ inflateWork.heldCapacity &+ output.capacity
            &+ (inflatedBuffer?.capacity ?? 0) &+ (compressedBuffer?.capacity ?? 0)
    }

    /// Fails the connection for a reason the transport decided (a memory budget, a timeout):
    /// like a protocol failure, a close frame with `code` is queued (once), input stops and the
    /// buffers of an unfinished message are freed. No event is reported; `closeStatus` carries
    /// `code` and `reason`.
    public func abandon(code: CloseCode, reason: String) {
        fail(ProtocolError(code, reason)) { _ in }
        messageKind = nil
        inflateWork = .running
        reassembly.removeAll(retainedCapacity: 0)
        controlPayload.removeAll(retainedCapacity: 0)
        inflatedBuffer?.removeAll(retainingCapacityUpTo: 0)
    }

    /// The bytes waiting to be written, in order. Valid until the next call on this session.
    public var pendingOutput: UnsafeRawBufferPointer { output.bytes }

    /// Calls `body` with the bytes waiting to be written.
    public func withPendingOutput<Result>(_ body: (UnsafeRawBufferPointer) throws -> Result) rethrows -> Result {
        try body(output.bytes)
    }

    /// Drops the first `count` pending bytes once the transport has written them.
    public func consumeOutput(_ count: Int) {
        output.consume(count)
    }

    // MARK: Receiving

    /// Feeds bytes read from the transport. Payloads are unmasked in place, hence the mutable
    /// buffer. Events are delivered in order through `onEvent` and borrow their payloads for the
    /// duration of the call only.
    ///
    /// One call inflates at most about `configuration.inflateBudget` bytes of compressed
    /// messages; past that it stops, keeps what it has not processed, and `hasDeferredWork`
    /// becomes true: call `resume(_:)` later (after serving other connections) until it is false.
    /// Input fed meanwhile is queued behind, in order.
    public func receive(_ bytes: UnsafeMutableRawBufferPointer, _ onEvent: (SessionEvent) -> Void) {
        inflatedThisCall = 0
        if case .suspended(let waiting) = inflateWork {
            if acceptsInput { waiting.deferredInput.append(UnsafeRawBufferPointer(bytes)) }
            return
        }
        receiveInput(bytes, onEvent)
    }

    /// Whether `receive` stopped at the inflate budget with work left for `resume(_:)`.
    public var hasDeferredWork: Bool { isSuspended && acceptsInput }

    /// Continues what `receive` (or an earlier `resume`) left when it reached the inflate budget:
    /// the rest of the compressed frame, then the input that followed it. Events arrive as from
    /// `receive`; `hasDeferredWork` says whether another call is needed.
    public func resume(_ onEvent: (SessionEvent) -> Void) {
        // `waiting` keeps the bytes alive while they are worked on; stopping again makes a new
        // object for what is left.
        guard case .suspended(let waiting) = inflateWork else { return }
        inflateWork = .running
        inflatedThisCall = 0
        if let codec = perMessageDeflate, let kind = messageKind, acceptsInput {
            consumeCompressedPayload(codec, kind, waiting.compressed.bytes, frameIsDone: waiting.frameIsDone,
                                     frameIsFinal: waiting.frameIsFinal, onEvent)
        }
        guard acceptsInput else { return }
        if case .suspended(let next) = inflateWork {
            // Stopped again inside the frame: the input that followed it still waits behind.
            swap(&next.deferredInput, &waiting.deferredInput)
            return
        }
        if !waiting.deferredInput.isEmpty { receiveInput(waiting.deferredInput.mutableBytes, onEvent) }
    }

    /// Runs `resume(_:)` until no deferred work is left: for callers that want every event of
    /// the input now and have no other connections to be fair to (the C session API, tests).
    public func finishDeferredWork(_ onEvent: (SessionEvent) -> Void) {
        while hasDeferredWork { resume(onEvent) }
    }

    private func receiveInput(_ bytes: UnsafeMutableRawBufferPointer, _ onEvent: (SessionEvent) -> Void) {
        guard let base = bytes.baseAddress else { return }
        let end = bytes.count
        var cursor = 0
        defer {
            // Stopped at the inflate budget: what follows waits for `resume`, in order.
            if case .suspended(let waiting) = inflateWork, acceptsInput, cursor < end {
                waiting.deferredInput.append(UnsafeRawBufferPointer(start: base + cursor, count: end &- cursor))
            }
        }
        while cursor < end && acceptsInput && !isSuspended {
            switch frameReadState {
            case .inPayload(let frame):
                let count = Swift.min(frame.remaining, end &- cursor)
                consumePayload(UnsafeMutableRawBufferPointer(start: base + cursor, count: count), of: frame, onEvent)
                cursor &+= count
            case .awaitingHeader(gathered: 0):
                let rest = UnsafeRawBufferPointer(start: base + cursor, count: end &- cursor)
                switch FrameHeaderParser.parse(rest, role: configuration.role, allowsRSV1: configuration.allowsRSV1) {
                case .needMoreData:
                    // Keep the partial header (< 14 bytes) for the next read.
                    withUnsafeMutableBytes(of: &headerScratch) { scratch in
                        scratch.baseAddress!.copyMemory(from: rest.baseAddress!, byteCount: rest.count)
                    }
                    frameReadState = .awaitingHeader(gathered: rest.count)
                    cursor = end
                case .header(let header):
                    if isWholeUnfragmentedMessage(header, available: rest.count) {
                        // Fast path for the common case (one frame = one message, all in this
                        // read): no per-session state is touched, nothing is copied.
                        let payload = UnsafeMutableRawBufferPointer(start: base + cursor + header.headerLength,
                                                                    count: header.payloadLength)
                        cursor &+= header.headerLength &+ header.payloadLength
                        deliverWholeMessage(header, payload, onEvent)
                    } else {
                        cursor &+= header.headerLength
                        beginFrame(header, onEvent)
                    }
                case .failure(let error):
                    fail(error, onEvent)
                }
            case .awaitingHeader(let gathered):
                // Complete the header gathered from earlier reads with bytes from this one.
                let take = Swift.min(FrameEncoder.maximumHeaderLength &- gathered, end &- cursor)
                let result = withUnsafeMutableBytes(of: &headerScratch) { scratch in
                    (scratch.baseAddress! + gathered).copyMemory(from: base + cursor, byteCount: take)
                    return FrameHeaderParser.parse(UnsafeRawBufferPointer(start: scratch.baseAddress!, count: gathered &+ take),
                                                   role: configuration.role, allowsRSV1: configuration.allowsRSV1)
                }
                switch result {
                case .needMoreData:
                    frameReadState = .awaitingHeader(gathered: gathered &+ take)
                    cursor &+= take
                case .header(let header):
                    frameReadState = .betweenFrames
                    cursor &+= header.headerLength &- gathered
                    beginFrame(header, onEvent)
                case .failure(let error):
                    fail(error, onEvent)
                }
            }
        }
    }

    /// Convenience for tests and simple callers: copies `bytes` and feeds them.
    public func receive(_ bytes: [UInt8], _ onEvent: (SessionEvent) -> Void) {
        var copy = bytes
        copy.withUnsafeMutableBytes { receive($0, onEvent) }
    }

    /// The peer closed its side of the transport. Before a completed close handshake this is an
    /// abnormal closure (RFC 6455 section 7.1.5: status 1006), reported as `.failed` with code
    /// 1006 and no close frame queued.
    public func receiveEndOfStream(_ onEvent: (SessionEvent) -> Void) {
        switch lifecycle {
        case .closed(let status, .closeHandshake):
            lifecycle = .closed(status, .closeHandshakeThenEndOfStream)
        case .closed:
            break
        case .open, .closeSent:
            let error = ProtocolError(.abnormalClosure, "connection closed without a close frame")
            lifecycle = .closed(CloseStatus(code: error.closeCode, reason: error.reason), .failure)
            onEvent(.failed(error))
        }
    }

    /// Whether the frame is a whole message that `deliverWholeMessage` may handle: a final text or
    /// binary frame, no message in progress, within every limit, not streamed, not compressed,
    /// and its payload entirely in the `available` bytes. Anything else takes the general path,
    /// which gives the same events (the property tests and the fuzzer check this).
    @inline(__always)
    private func isWholeUnfragmentedMessage(_ header: FrameHeader, available: Int) -> Bool {
        let opcode = header.opcode
        return header.isFinal && !header.rsv1 && (opcode == .text || opcode == .binary)
            && header.payloadLength <= available &- header.headerLength
            && messageKind == nil
            && header.payloadLength <= configuration.maxFrameSize
            && header.payloadLength <= configuration.maxMessageSize
            && header.payloadLength <= (configuration.streamingThreshold ?? .max)
    }

    /// Unmasks, validates and delivers a message for which `isWholeUnfragmentedMessage` holds.
    @inline(__always)
    private func deliverWholeMessage(_ header: FrameHeader, _ payload: UnsafeMutableRawBufferPointer,
                                     _ onEvent: (SessionEvent) -> Void) {
        let bytes = UnsafeRawBufferPointer(payload)
        if header.opcode == .text {
            // One pass unmasks and skips the ASCII prefix; the validator sees only the rest.
            var asciiPrefix = 0
            if let maskKey = header.maskKey {
                asciiPrefix = Masking.applyReturningASCIIPrefix(maskKey: maskKey, to: payload, payloadOffset: 0)
            }
            if asciiPrefix < bytes.count {
                var validator = UTF8Validator()
                if validator.validate(UnsafeRawBufferPointer(rebasing: bytes[asciiPrefix...])) != nil {
                    return fail(.invalidUTF8(), onEvent)
                }
                if !validator.isAtBoundary {
                    return fail(.invalidUTF8("text message ends inside a UTF-8 sequence"), onEvent)
                }
            }
            onEvent(.text(bytes))
        } else {
            if let maskKey = header.maskKey {
                Masking.apply(maskKey: maskKey, to: payload, payloadOffset: 0)
            }
            onEvent(.binary(bytes))
        }
    }

    /// Header-time rules that need the connection's history (RFC 6455 section 5.4) and limits.
    private func beginFrame(_ header: FrameHeader, _ onEvent: (SessionEvent) -> Void) {
        let opcode = header.opcode
        if !opcode.isControl {
            if opcode == .continuation {
                // Section 5.4: continuation frames only follow a non-final data frame.
                guard messageKind != nil else {
                    return fail(.protocolViolation("continuation frame without a message in progress"), onEvent)
                }
                messageFrameCount &+= 1
                guard messageFrameCount <= configuration.maxFragmentsPerMessage else {
                    return fail(.tooBig("too many fragments in one message"), onEvent)
                }
            } else {
                // Section 5.4: "fragments of one message MUST NOT be interleaved" with another.
                guard messageKind == nil else {
                    return fail(.protocolViolation("new data frame while a fragmented message is in progress"), onEvent)
                }
                messageKind = opcode == .text ? .text : .binary
                messageSize = 0
                messageFrameCount = 1
                messageIsStreaming = streamsFragmentedMessages && !header.isFinal
                messageHasStreamed = false
                messageIsCompressed = header.rsv1
                receivedTextValidator.reset()
            }
            guard header.payloadLength <= configuration.maxFrameSize else {
                return fail(.tooBig("frame too big"), onEvent)
            }
            // 1009 as soon as the announced lengths pass the limit, before buffering the payload.
            guard header.payloadLength <= configuration.maxMessageSize &- messageSize else {
                return fail(.tooBig("message too big"), onEvent)
            }
            messageSize &+= header.payloadLength
            if let threshold = configuration.streamingThreshold, !messageIsStreaming, messageSize > threshold {
                messageIsStreaming = true
                if messageIsCompressed && perMessageDeflate != nil {
                    // Compressed: what was gathered so far is inflated output.
                    if let inflated = inflatedBuffer, inflated.count > 0 {
                        messageHasStreamed = true
                        onEvent(.fragment(messageKind!, inflated.bytes, isFirst: true, isFinal: false))
                        inflated.removeAll(retainingCapacityUpTo: Session.retainedReassemblyCapacity)
                        guard acceptsInput else { return }
                    }
                } else if !reassembly.isEmpty {
                    // Hand over what was gathered before the message turned out to be large.
                    let gathered = reassembly.bytes
                    messageHasStreamed = true
                    onEvent(.fragment(messageKind!, gathered, isFirst: true, isFinal: false))
                    reassembly.removeAll()
                    guard acceptsInput else { return }
                }
            }
        }
        let frame = FramePayloadProgress(header)
        frameReadState = .inPayload(frame)
        if header.payloadLength == 0 {
            consumePayload(UnsafeMutableRawBufferPointer(start: nil, count: 0), of: frame, onEvent)
        }
    }

    /// Handles the next piece of `frame`'s payload (all of it, or what this read holds), `frame`
    /// being the progress before this piece.
    private func consumePayload(_ chunk: UnsafeMutableRawBufferPointer, of frame: FramePayloadProgress,
                                _ onEvent: (SessionEvent) -> Void) {
        let isWholeFrame = frame.offset == 0 && chunk.count == frame.length
        // A piece of a binary message that is gathered (below) is unmasked while it is copied
        // into the reassembly buffer: one pass over its bytes instead of two.
        let unmasksWhileGathering = frame.maskKey != nil && messageKind == .binary && !frame.opcode.isControl
            && !messageIsStreaming && !(messageIsCompressed && perMessageDeflate != nil)
            && !(isWholeFrame && frame.isFinal && messageFrameCount == 1)
        // Bytes at the start of the chunk known to be ASCII, which UTF-8 validation may skip.
        var asciiPrefix = 0
        if let maskKey = frame.maskKey, !unmasksWhileGathering {
            if messageKind == .text && !frame.opcode.isControl && !messageIsCompressed && receivedTextValidator.isAtBoundary {
                asciiPrefix = Masking.applyReturningASCIIPrefix(maskKey: maskKey, to: chunk, payloadOffset: frame.offset)
            } else {
                Masking.apply(maskKey: maskKey, to: chunk, payloadOffset: frame.offset)
            }
        }
        var progress = frame
        progress.advance(by: chunk.count)
        let frameIsDone = progress.remaining == 0
        frameReadState = frameIsDone ? .betweenFrames : .inPayload(progress)
        let piece = UnsafeRawBufferPointer(chunk)

        if frame.opcode.isControl {
            if isWholeFrame {
                handleControlFrame(frame.opcode, piece, onEvent)
            } else {
                controlPayload.append(piece)
                if frameIsDone {
                    let payload = controlPayload.bytes
                    controlPayload.removeAll()  // storage stays valid until the next append
                    handleControlFrame(frame.opcode, payload, onEvent)
                }
            }
            return
        }

        guard let kind = messageKind else { return }  // unreachable: beginFrame set it
        let endsMessage = frameIsDone && frame.isFinal
        if messageIsCompressed, let perMessageDeflate {
            if isWholeFrame {
                return consumeCompressedPayload(perMessageDeflate, kind, piece, frameIsDone: frameIsDone,
                                                frameIsFinal: frame.isFinal, onEvent)
            }
            // A compressed frame split across reads is gathered and inflated whole. zlib checks
            // back-references against its window only across inflate() calls (within one call,
            // the bytes it just wrote count too), so inflating per read would make a reference
            // beyond the negotiated window fail or pass depending on how TCP split the stream
            // (found by fuzz/targets/inflate). Per frame, the outcome depends only on the peer's
            // bytes. The cost: compressed bytes of split frames are copied once (at most
            // maxFrameSize), and invalid UTF-8 is seen at the end of the frame, not mid-frame.
            reassembly.append(piece)
            guard frameIsDone else { return }
            let gathered = reassembly.bytes
            reassembly.removeAll()  // storage stays valid until the next append
            consumeCompressedPayload(perMessageDeflate, kind, gathered, frameIsDone: true,
                                     frameIsFinal: frame.isFinal, onEvent)
            if reassembly.capacity > Session.retainedReassemblyCapacity {
                reassembly.removeAll(retainedCapacity: Session.retainedReassemblyCapacity)
            }
            return
        }
        // Section 8.1: fail fast on invalid UTF-8, even in the middle of a fragment.
        // (permessage-deflate: UTF-8 is to be checked after inflating, not on compressed bytes.)
        if kind == .text {
            // ASCII bytes leave a validator at a boundary unchanged, so skipping them is exact.
            if receivedTextValidator.validate(UnsafeRawBufferPointer(rebasing: piece[asciiPrefix...])) != nil {
                return fail(.invalidUTF8(), onEvent)
            }
            if endsMessage && !receivedTextValidator.isAtBoundary {
                return fail(.invalidUTF8("text message ends inside a UTF-8 sequence"), onEvent)
            }
        }

        if messageIsStreaming {
            if isWholeFrame {
                deliverFragment(kind, piece, isFinal: frame.isFinal, onEvent)
            } else {
                reassembly.append(piece)
                if frameIsDone {
                    let payload = reassembly.bytes
                    reassembly.removeAll()  // storage stays valid until the next append
                    deliverFragment(kind, payload, isFinal: frame.isFinal, onEvent)
                }
            }
        } else if isWholeFrame && frame.isFinal && messageFrameCount == 1 {
            // Fast path: the whole message is one frame in the caller's buffer. No copy.
            deliverMessage(kind, piece, onEvent)
        } else {
            // A message outgrowing the retained capacity takes storage a large message left in
            // the pool rather than growing into fresh memory (page faults). Storage for the whole
            // frame, taken before its first piece is gathered: a smaller one would be outgrown by
            // a later piece and the bytes gathered so far copied again (realloc or adopt).
            let frameNeeds = reassembly.count &+ piece.count &+ progress.remaining
            if frameNeeds > reassembly.capacity {
                if frameNeeds > Session.retainedReassemblyCapacity, let reassemblyPool,
                   let kept = reassemblyPool.take(minimum: frameNeeds) {
                    reassembly.adopt(kept.storage, capacity: kept.capacity)
                } else if frameNeeds <= ReassemblyPool.maximumBufferCapacity {
                    // One allocation of the frame's size instead of doublings that each copy
                    // what was gathered. Bounded: the header passed maxFrameSize and
                    // maxMessageSize, and larger frames grow as their bytes arrive (a peer that
                    // announces much and sends little makes us reserve at most this much, and
                    // memory not yet written is not resident).
                    reassembly.reserveCapacity(frameNeeds)
                }
            }
            if unmasksWhileGathering, let maskKey = frame.maskKey, !piece.isEmpty {
                Masking.copyApplying(maskKey: maskKey, from: piece, to: reassembly.appendUninitialized(piece.count),
                                     payloadOffset: frame.offset)
            } else {
                reassembly.append(piece)
            }
            if endsMessage {
                let payload = reassembly.bytes
                reassembly.removeAll()  // storage stays valid until the next append
                deliverMessage(kind, payload, onEvent)
            }
        }
        if endsMessage {
            messageKind = nil
            if reassembly.capacity > Session.retainedReassemblyCapacity {
                if let reassemblyPool, let taken = reassembly.takeStorage() {
                    reassemblyPool.keep(taken.storage, capacity: taken.capacity)
                } else {
                    reassembly.removeAll(retainedCapacity: Session.retainedReassemblyCapacity)
                }
            }
        }
    }

    /// A piece of a compressed message's payload (RFC 7692 section 7.2.2): inflated as it
    /// arrives, bounded by `maxMessageSize` while inflating (1009; corrupt data 1002), UTF-8
    /// checked on the inflated bytes (never on compressed ones, wslay's flaw), then delivered
    /// like an uncompressed message: whole, or per frame in streaming mode.
    ///
    /// Work per call is bounded (`configuration.inflateBudget`): past the budget the message's
    /// remaining compressed bytes are kept and the session suspends (see `resume`). The stops
    /// fall on multiples of the budget in the message's own output, so how the peer's bytes were
    /// split into reads never changes what zlib sees.
    private func consumeCompressedPayload(_ codec: PerMessageDeflate, _ kind: MessageKind, _ piece: UnsafeRawBufferPointer,
                                          frameIsDone: Bool, frameIsFinal: Bool, _ onEvent: (SessionEvent) -> Void) {
        let endsMessage = frameIsDone && frameIsFinal
        let inflated = self.inflated
        let before = inflated.count
        var unconsumed: Int?
        do {
            unconsumed = inflatedThisCall >= configuration.inflateBudget
                ? piece.count  // this call already did its share: not one more zlib call
                : try codec.decompress(fragment: piece, isFinal: endsMessage, maximumMessageSize: configuration.maxMessageSize,
                                       sliceSize: configuration.inflateBudget, into: inflated)
        } catch {
            // Invalid UTF-8 in what was inflated before the failure came first in the stream, so
            // it wins: the outcome must not depend on how the frames were split into reads.
            var failure = error
            if kind == .text && receivedTextValidator.validate(UnsafeRawBufferPointer(rebasing: inflated.bytes[before...])) != nil {
                failure = .invalidUTF8()
            }
            inflated.removeAll(retainingCapacityUpTo: 0)
            return fail(failure, onEvent)
        }
        inflatedThisCall &+= inflated.count &- before
        if kind == .text {
            let fresh = UnsafeRawBufferPointer(rebasing: inflated.bytes[before...])
            if receivedTextValidator.validate(fresh) != nil {
                return fail(.invalidUTF8(), onEvent)
            }
        }
        if let unconsumed {
            let waiting = SuspendedInflate(frameIsDone: frameIsDone, frameIsFinal: frameIsFinal)
            waiting.compressed.append(UnsafeRawBufferPointer(rebasing: piece[(piece.count &- unconsumed)...]))
            inflateWork = .suspended(waiting)
            return
        }
        if kind == .text {
            if endsMessage && !receivedTextValidator.isAtBoundary {
                return fail(.invalidUTF8("text message ends inside a UTF-8 sequence"), onEvent)
            }
        }
        if messageIsStreaming {
            if frameIsDone {
                deliverFragment(kind, inflated.bytes, isFinal: frameIsFinal, onEvent)
                inflated.removeAll(retainingCapacityUpTo: Session.retainedReassemblyCapacity)
            }
        } else if endsMessage {
            deliverMessage(kind, inflated.bytes, onEvent)
            inflated.removeAll(retainingCapacityUpTo: Session.retainedReassemblyCapacity)
        }
        if endsMessage { messageKind = nil }
    }

    private func deliverMessage(_ kind: MessageKind, _ payload: UnsafeRawBufferPointer, _ onEvent: (SessionEvent) -> Void) {
        onEvent(kind == .text ? .text(payload) : .binary(payload))
    }

    private func deliverFragment(_ kind: MessageKind, _ payload: UnsafeRawBufferPointer, isFinal: Bool,
                                 _ onEvent: (SessionEvent) -> Void) {
        let isFirst = !messageHasStreamed
        messageHasStreamed = true
        onEvent(.fragment(kind, payload, isFirst: isFirst, isFinal: isFinal))
    }

    /// Ping, pong and close (RFC 6455 section 5.5), which may arrive between fragments.
    private func handleControlFrame(_ opcode: Opcode, _ payload: UnsafeRawBufferPointer, _ onEvent: (SessionEvent) -> Void) {
        switch opcode {
        case .ping:
            // Section 5.5.2: answer with a pong carrying the same "Application data", unless
            // we already sent a close frame (section 5.5.1: nothing may follow it).
            if configuration.autoPong && !closeSent {
                queueFrame(opcode: .pong, isFinal: true, payload: payload)
            }
            onEvent(.ping(payload))
        case .pong:
            onEvent(.pong(payload))
        case .close:
            switch ClosePayload.parse(payload) {
            case .failure(let error):
                fail(error, onEvent)
            case .success(let (code, reason)):
                // Section 5.5.1: answer with a close frame, "typically echoing the status code
                // it received"; an empty close is answered with an empty close. Nothing follows
                // a close frame: input stops here.
                if !closeSent { queueClose(code: code, reason: ""[...].utf8) }
                lifecycle = .closed(CloseStatus(code: code ?? .noStatusReceived, reason: reason), .closeHandshake)
                onEvent(.closeReceived(code: code, reason: reason))
            }
        default:
            break  // the parser only lets defined control opcodes through
        }
    }

    /// Fails the connection (RFC 6455 section 7.1.7): one close frame with the code, no more input.
    private func fail(_ error: ProtocolError, _ onEvent: (SessionEvent) -> Void) {
        guard acceptsInput else { return }  // already over: a connection ends once
        frameReadState = .betweenFrames
        if !closeSent { queueClose(code: error.closeCode, reason: ClosePayload.truncatedReason(error.reason)) }
        lifecycle = .closed(CloseStatus(code: error.closeCode, reason: error.reason), .failure)
        onEvent(.failed(error))
    }

    // MARK: Sending

    /// Sends a whole text message. Throws `.invalidUTF8` for text that is not UTF-8.
    public func send(text: UnsafeRawBufferPointer) throws(SessionError) {
        try checkCanSendMessage()
        guard UTF8Validator.isValid(text) else { throw .invalidUTF8 }
        queueMessage(opcode: .text, payload: text)
    }

    /// Sends a whole binary message.
    public func send(binary: UnsafeRawBufferPointer) throws(SessionError) {
        try checkCanSendMessage()
        queueMessage(opcode: .binary, payload: binary)
    }

    /// Sends a whole message like `send(text:)` or `send(binary:)` (same checks, same errors), but
    /// without copying the payload into the output when the frame goes out as it is: server role
    /// (no masking), not compressed, and nothing else queued. Then the session calls
    /// `directWrite(header, payload)` once, and the caller writes the two, in that order, before
    /// any other output. Otherwise the frame is queued in the output as usual. Returns whether
    /// `directWrite` was called.
    ///
    /// Any size: a large payload then costs no pass over its bytes, and a small one skips the
    /// output's bookkeeping (the stream's cork batches small writes as the output would; round 7:
    /// 2,033 → 1,871 instructions per 32 B echo, 1,105 → 941 with 16 in flight).
    @discardableResult
    public func send(_ kind: MessageKind, _ payload: UnsafeRawBufferPointer,
                     directWrite: (_ header: UnsafeRawBufferPointer, _ payload: UnsafeRawBufferPointer) -> Void) throws(SessionError) -> Bool {
        try checkCanSendMessage()
        if kind == .text { guard UTF8Validator.isValid(payload) else { throw .invalidUTF8 } }
        guard configuration.role == .server, output.isEmpty,
              perMessageDeflate?.shouldCompress(messageSize: payload.count) != true else {
            queueMessage(opcode: kind.opcode, payload: payload)
            return false
        }
        var header: (UInt64, UInt64) = (0, 0)  // room for the longest header, 14 bytes
        withUnsafeMutableBytes(of: &header) { raw in
            let count = FrameEncoder.writeHeader(to: raw.baseAddress!, opcode: kind.opcode,
                                                 payloadLength: payload.count, maskKey: nil)
            directWrite(UnsafeRawBufferPointer(rebasing: raw[..<count]), payload)
        }
        return true
    }

    /// Sends a text message given as a `String` (always valid UTF-8).
    public func send(text: String) throws(SessionError) {
        try checkCanSendMessage()
        var text = text
        text.withUTF8 { queueMessage(opcode: .text, payload: UnsafeRawBufferPointer($0)) }
    }

    /// Sends one frame of a message (RFC 6455 section 5.4). The first call starts a message of
    /// `kind`; the following ones must pass the same kind, until one with `isFinal`. Control
    /// frames may be sent in between. Text fragments may split characters, but the text as a
    /// whole must be UTF-8 (checked incrementally; a failing fragment is not sent).
    public func sendFragment(_ kind: MessageKind, _ bytes: UnsafeRawBufferPointer, isFinal: Bool) throws(SessionError) {
        guard !closeSent else { throw .closed }
        let opcode: Opcode
        if let sendingKind {
            guard sendingKind == kind else { throw .fragmentedMessageInProgress }
            opcode = .continuation
        } else {
            opcode = kind.opcode
        }
        if kind == .text {
            var validator = opcode == .continuation ? sentTextValidator : UTF8Validator()
            guard validator.validate(bytes) == nil, !isFinal || validator.isAtBoundary else { throw .invalidUTF8 }
            sentTextValidator = validator
        }
        if opcode != .continuation {
            // A message sent in several frames is compressed as a whole when compression is on;
            // one sent in a single call follows the threshold like `send`.
            sendingIsCompressed = perMessageDeflate.map { !isFinal || $0.shouldCompress(messageSize: bytes.count) } ?? false
        }
        if sendingIsCompressed, let perMessageDeflate {
            let compressed = self.compressed
            // RFC 7692 section 7.2.1: each fragment flushed, the final one without 00 00 ff ff;
            // section 6.1: RSV1 on the first frame only.
            do {
                try perMessageDeflate.compress(fragment: bytes, isFinal: isFinal, into: compressed)
            } catch {
                throw .compressionFailed
            }
            queueFrame(opcode: opcode, isFinal: isFinal, rsv1: opcode != .continuation, payload: compressed.bytes)
            compressed.removeAll(retainingCapacityUpTo: Session.retainedReassemblyCapacity)
        } else {
            queueFrame(opcode: opcode, isFinal: isFinal, payload: bytes)
        }
        sendingKind = isFinal ? nil : kind
    }

    /// Sends a frame built once by `FrameEncoder.serverFrame` (broadcast); server role only.
    /// The frame must be a complete, final data frame (or a control frame).
    public func sendEncodedFrame(_ frame: UnsafeRawBufferPointer) throws(SessionError) {
        guard configuration.role == .server else { throw .encodedFrameRequiresServerRole }
        try checkCanSendMessage()
        output.append(frame)
    }

    /// Sends a ping (payload at most 125 bytes).
    public func ping(_ payload: UnsafeRawBufferPointer = UnsafeRawBufferPointer(start: nil, count: 0)) throws(SessionError) {
        guard !closeSent else { throw .closed }
        guard payload.count <= 125 else { throw .controlPayloadTooLong }
        queueFrame(opcode: .ping, isFinal: true, payload: payload)
    }

    /// Sends an unsolicited pong, e.g. a heartbeat (section 5.5.3; payload at most 125 bytes).
    public func pong(_ payload: UnsafeRawBufferPointer = UnsafeRawBufferPointer(start: nil, count: 0)) throws(SessionError) {
        guard !closeSent else { throw .closed }
        guard payload.count <= 125 else { throw .controlPayloadTooLong }
        queueFrame(opcode: .pong, isFinal: true, payload: payload)
    }

    /// Starts the close handshake (RFC 6455 section 7.1.2): queues a close frame and moves to
    /// `.closing`; received messages are still delivered until the peer's close frame arrives.
    public func close(code: CloseCode = .normalClosure, reason: String = "") throws(SessionError) {
        guard !closeSent else { throw .closed }
        guard code.isValidOnWire else { throw .invalidCloseCode }
        guard reason.utf8.count <= ClosePayload.maximumReasonLength else { throw .closeReasonTooLong }
        queueClose(code: code, reason: reason[...].utf8)
        lifecycle = .closeSent
    }

    private func checkCanSendMessage() throws(SessionError) {
        guard !closeSent else { throw .closed }
        guard sendingKind == nil else { throw .fragmentedMessageInProgress }
    }

    /// Appends a close frame: empty when `code` is nil, else code and reason (already limited).
    private func queueClose(code: CloseCode?, reason: Substring.UTF8View) {
        guard let code else {
            return queueFrame(opcode: .close, isFinal: true, payload: UnsafeRawBufferPointer(start: nil, count: 0))
        }
        var payload: (UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64) =
            (0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0)  // 128 bytes: room for 2 + 123
        withUnsafeMutableBytes(of: &payload) { raw in
            raw.storeBytes(of: code.rawValue.bigEndian, as: UInt16.self)
            var count = 2
            for byte in reason.prefix(ClosePayload.maximumReasonLength) {
                raw[count] = byte
                count += 1
            }
            queueFrame(opcode: .close, isFinal: true, payload: UnsafeRawBufferPointer(rebasing: raw[..<count]))
        }
    }

    /// Appends a whole data message: compressed (RSV1) when permessage-deflate is on and the
    /// message reaches the codec's threshold, else as it is.
    private func queueMessage(opcode: Opcode, payload: UnsafeRawBufferPointer) {
        if let perMessageDeflate, perMessageDeflate.shouldCompress(messageSize: payload.count) {
            let compressed = self.compressed
            do {
                try perMessageDeflate.compress(message: payload, into: compressed)
                queueFrame(opcode: opcode, isFinal: true, rsv1: true, payload: compressed.bytes)
                compressed.removeAll(retainingCapacityUpTo: Session.retainedReassemblyCapacity)
                return
            } catch {
                // zlib could not allocate its state: send this message uncompressed (valid
                // RFC 7692: RSV1 clear) rather than lose it.
                compressed.removeAll(retainingCapacityUpTo: 0)
            }
        }
        queueFrame(opcode: opcode, isFinal: true, payload: payload)
    }

    /// Appends one frame to the output, masked with a fresh key in the client role (section 5.3).
    private func queueFrame(opcode: Opcode, isFinal: Bool, rsv1: Bool = false, payload: UnsafeRawBufferPointer) {
        let maskKey: UInt32?
        if configuration.role == .client {
            maskKey = maskKeys.next()
        } else {
            maskKey = nil
        }
        let headerCount = FrameEncoder.headerLength(payloadLength: payload.count, masked: maskKey != nil)
        let destination = output.appendUninitialized(headerCount &+ payload.count)
        FrameEncoder.writeHeader(to: destination, isFinal: isFinal, rsv1: rsv1, opcode: opcode,
                                 payloadLength: payload.count, maskKey: maskKey)
        if let source = payload.baseAddress, !payload.isEmpty {
            (destination + headerCount).copyMemory(from: source, byteCount: payload.count)
            if let maskKey {
                Masking.apply(maskKey: maskKey,
                              to: UnsafeMutableRawBufferPointer(start: destination + headerCount, count: payload.count),
                              payloadOffset: 0)
            }
        }
    }
}
