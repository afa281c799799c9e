import Testing
@testable import SwiftWSCore

/// A `SessionEvent` with its borrowed payload copied, so tests can keep and compare it.
enum RecordedEvent: Equatable, CustomStringConvertible {
    case text([UInt8])
    case binary([UInt8])
    case fragment(MessageKind, [UInt8], isFirst: Bool, isFinal: Bool)
    case ping([UInt8])
    case pong([UInt8])
    case closeReceived(code: UInt16?, reason: String)
    case failed(code: UInt16, reason: String)

    init(_ event: SessionEvent) {
        switch event {
        case .text(let bytes): self = .text(Array(bytes))
        case .binary(let bytes): self = .binary(Array(bytes))
        case .fragment(let kind, let bytes, let isFirst, let isFinal):
            self = .fragment(kind, Array(bytes), isFirst: isFirst, isFinal: isFinal)
        case .ping(let bytes): self = .ping(Array(bytes))
        case .pong(let bytes): self = .pong(Array(bytes))
        case .closeReceived(let code, let reason): self = .closeReceived(code: code?.rawValue, reason: reason)
        case .failed(let error): self = .failed(code: error.closeCode.rawValue, reason: error.reason)
        }
    }

    var failureCode: UInt16? {
        if case .failed(let code, _) = self { return code }
        return nil
    }

    var description: String {
        switch self {
        case .text(let b): return "text(\(b.count) B)"
        case .binary(let b): return "binary(\(b.count) B)"
        case .fragment(let k, let b, let f, let l): return "fragment(\(k), \(b.count) B, first: \(f), final: \(l))"
        case .ping(let b): return "ping(\(b))"
        case .pong(let b): return "pong(\(b))"
        case .closeReceived(let c, let r): return "closeReceived(\(c.map(String.init) ?? "nil"), \(r))"
        case .failed(let c, let r): return "failed(\(c), \(r))"
        }
    }
}

/// A frame decoded from a session's output.
struct WireFrame: Equatable {
    var opcode: Opcode
    var isFinal: Bool
    var rsv1: Bool = false
    var payload: [UInt8]

    /// The close code of a close frame, if it has one.
    var closeCode: UInt16? {
        guard opcode == .close, payload.count >= 2 else { return nil }
        return UInt16(payload[0]) << 8 | UInt16(payload[1])
    }
}

extension Session {
    /// Feeds `bytes` in one call and returns the events.
    func feed(_ bytes: [UInt8]) -> [RecordedEvent] {
        var events: [RecordedEvent] = []
        receive(bytes) { events.append(RecordedEvent($0)) }
        finishDeferredWork { events.append(RecordedEvent($0)) }
        return events
    }

    /// Feeds `bytes` cut at `cuts` (sorted offsets) and returns the events.
    func feed(_ bytes: [UInt8], cutAt cuts: [Int]) -> [RecordedEvent] {
        var events: [RecordedEvent] = []
        var start = 0
        for cut in cuts + [bytes.count] where cut >= start {
            receive(Array(bytes[start..<cut])) { events.append(RecordedEvent($0)) }
            finishDeferredWork { events.append(RecordedEvent($0)) }
            start = cut
        }
        return events
    }

    /// Feeds `bytes` one byte per call.
    func feedByteByByte(_ bytes: [UInt8]) -> [RecordedEvent] {
        feed(bytes, cutAt: Array(0..<bytes.count))
    }

    /// Takes all pending output.
    func takeOutput() -> [UInt8] {
        let bytes = Array(pendingOutput)
        consumeOutput(bytes.count)
        return bytes
    }

    /// Takes all pending output and decodes it into frames (unmasking client frames).
    func takeOutputFrames() -> [WireFrame] {
        decodeFrames(takeOutput(), sentBy: configuration.role)
    }
}

/// Decodes a stream of whole frames sent by `role`; records an issue on malformed input.
func decodeFrames(_ bytes: [UInt8], sentBy role: Role) -> [WireFrame] {
    var bytes = bytes
    var frames: [WireFrame] = []
    bytes.withUnsafeMutableBytes { raw in
        var offset = 0
        while offset < raw.count {
            let rest = UnsafeRawBufferPointer(rebasing: raw[offset...])
            // Parse as the receiving side: a server receives client frames and vice versa.
            guard case .header(let header) = FrameHeaderParser.parse(rest, role: role == .client ? .server : .client,
                                                                       allowsRSV1: true),
                  offset + header.headerLength + header.payloadLength <= raw.count else {
                Issue.record("malformed output at offset \(offset)")
                return
            }
            let body = UnsafeMutableRawBufferPointer(rebasing: raw[(offset + header.headerLength)..<(offset + header.headerLength + header.payloadLength)])
            if let key = header.maskKey { Masking.applyReference(maskKey: key, to: body, payloadOffset: 0) }
            frames.append(WireFrame(opcode: header.opcode, isFinal: header.isFinal, rsv1: header.rsv1, payload: Array(body)))
            offset += header.headerLength + header.payloadLength
        }
    }
    return frames
}

/// One frame as a client (masked with `maskKey`) or server (`maskKey == nil`) sends it,
/// with full control over the header bits, for building valid and invalid input.
func frame(_ opcode: UInt8, _ payload: [UInt8], fin: Bool = true, rsv1: Bool = false,
           maskKey: UInt32? = 0x1234_5678) -> [UInt8] {
    var out: [UInt8] = []
    payload.withUnsafeBytes {
        FrameEncoder.encodeFrame(into: &out, isFinal: fin, rsv1: rsv1, opcode: Opcode(rawValue: opcode),
                                 payload: $0, maskKey: maskKey)
    }
    return out
}

/// A deterministic PRNG (SplitMix64) so property tests are reproducible from their seed.
struct SeededGenerator: RandomNumberGenerator {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

/// Moves each session's output into the other until both are quiet; returns the events seen.
func pump(_ client: Session, _ server: Session) -> (client: [RecordedEvent], server: [RecordedEvent]) {
    var clientEvents: [RecordedEvent] = []
    var serverEvents: [RecordedEvent] = []
    while client.pendingOutputCount > 0 || server.pendingOutputCount > 0 {
        let toServer = client.takeOutput()
        if !toServer.isEmpty { serverEvents += server.feed(toServer) }
        let toClient = server.takeOutput()
        if !toClient.isEmpty { clientEvents += client.feed(toClient) }
    }
    return (clientEvents, serverEvents)
}

func serverSession(_ configure: (inout SessionConfiguration) -> Void = { _ in }) -> Session {
    var configuration = SessionConfiguration(role: .server)
    configure(&configuration)
    return Session(configuration: configuration)
}

func clientSession(_ configure: (inout SessionConfiguration) -> Void = { _ in }) -> Session {
    var configuration = SessionConfiguration(role: .client)
    configure(&configuration)
    return Session(configuration: configuration)
}
