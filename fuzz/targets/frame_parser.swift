// Fuzz target: the frame parser and the whole receive path of `Session`, both roles.
//
// The input (after its first byte) is fed to a server and a client session whole, and again split
// at a point derived from the first byte (plus a byte-by-byte pass for short inputs). Invariants,
// which trap so libFuzzer reports them:
// - the same events (with payloads), the same amount of output and the same state whole and split;
// - nothing after a terminal event (`.closeReceived` / `.failed`);
// - a failure leaves the session closed with the failure's code in `closeStatus`.
// The first byte also picks limits and options, so 1009 paths, streaming, RSV1 and
// permessage-deflate (inflating inside the session) are reached.

private enum FuzzEvent: Equatable {
    case text([UInt8]), binary([UInt8]), fragment(MessageKind, [UInt8], Bool, Bool)
    case ping([UInt8]), pong([UInt8]), close(UInt16?, String), failed(UInt16, String)

    init(_ event: SessionEvent) {
        switch event {
        case .text(let b): self = .text(Array(b))
        case .binary(let b): self = .binary(Array(b))
        case .fragment(let k, let b, let first, let last): self = .fragment(k, Array(b), first, last)
        case .ping(let b): self = .ping(Array(b))
        case .pong(let b): self = .pong(Array(b))
        case .closeReceived(let code, let reason): self = .close(code?.rawValue, reason)
        case .failed(let error): self = .failed(error.closeCode.rawValue, error.reason)
        }
    }

    var isTerminal: Bool {
        switch self {
        case .close, .failed: return true
        default: return false
        }
    }
}

private func configuration(role: Role, options: UInt8) -> SessionConfiguration {
    var configuration = SessionConfiguration(role: role)
    if options & 0x01 != 0 { configuration.maxMessageSize = 300 }
    if options & 0x02 != 0 { configuration.maxFrameSize = 200 }
    if options & 0x04 != 0 { configuration.maxFragmentsPerMessage = 4 }
    if options & 0x08 != 0 { configuration.streamingThreshold = Int(options >> 5) * 8 }
    if options & 0x10 != 0 { configuration.allowsRSV1 = true }
    return configuration
}

/// With options 0x10 and 0x20 set, a permessage-deflate codec (windows 15, context takeover
/// unless 0x40), so compressed messages are inflated inside the session.
private func perMessageDeflate(role: Role, options: UInt8) -> PerMessageDeflate? {
    guard options & 0x30 == 0x30 else { return nil }
    let noTakeover = options & 0x40 != 0
    return PerMessageDeflate(parameters: PerMessageDeflateParameters(serverNoContextTakeover: noTakeover,
                                                                     clientNoContextTakeover: noTakeover),
                             role: role)
}

/// Feeds `input` cut at `cuts` and checks the per-run invariants.
/// `output` is the bytes a server queued (deterministic: unmasked), or for a client only their
/// count (its masking keys are random).
private func run(_ input: [UInt8], role: Role, options: UInt8, cuts: [Int]) -> (events: [FuzzEvent], output: [Int], state: SessionState) {
    let session = Session(configuration: configuration(role: role, options: options),
                          perMessageDeflate: perMessageDeflate(role: role, options: options))
    var events: [FuzzEvent] = []
    var start = 0
    for cut in cuts + [input.count] where cut >= start && cut <= input.count {
        var piece = Array(input[start..<cut])
        piece.withUnsafeMutableBytes { raw in
            func record(_ event: SessionEvent) {
                if events.last?.isTerminal == true { fatalError("event after a terminal event") }
                events.append(FuzzEvent(event))
            }
            session.receive(raw, record)
            session.finishDeferredWork(record)
        }
        start = cut
    }
    if case .failed(let code, _)? = events.last {
        guard session.state == .closed, session.closeStatus?.code.rawValue == code, session.shouldCloseTransport else {
            fatalError("failure did not close the session with its code")
        }
    }
    let output = role == .server ? session.pendingOutput.map { Int($0) } : [session.pendingOutputCount]
    return (events, output, session.state)
}

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzFrameParser(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    guard size >= 1 else { return 0 }
    let options = data[0]
    let input = Array(UnsafeBufferPointer(start: data + 1, count: size - 1))
    let split = input.isEmpty ? 0 : Int(options) % (input.count + 1)
    for role in [Role.server, Role.client] {
        let whole = run(input, role: role, options: options, cuts: [])
        let halves = run(input, role: role, options: options, cuts: [split])
        if whole.events != halves.events { fatalError("events differ whole vs split at \(split)") }
        if whole.output != halves.output || whole.state != halves.state { fatalError("output/state differ whole vs split") }
        if input.count <= 64 {
            let bytes = run(input, role: role, options: options, cuts: Array(0..<input.count))
            if whole.events != bytes.events || whole.output != bytes.output { fatalError("events differ byte by byte") }
        }
    }
    // The header parser alone, on every prefix length up to 14: never traps, never over-reads.
    input.withUnsafeBytes { raw in
        for length in 0...min(14, raw.count) {
            _ = FrameHeaderParser.parse(UnsafeRawBufferPointer(rebasing: raw[..<length]), role: .server,
                                        allowsRSV1: options & 1 != 0)
        }
    }
    return 0
}
