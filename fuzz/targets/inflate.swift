// Fuzz target: permessage-deflate inflate of arbitrary frames under a size limit never traps,
// never exceeds the limit, and our own compressor's output always inflates back to its input.
// The bytes after the first two are also fed, as WebSocket frames, to a client `Session` with a
// deflate codec, whole and split in two: same events both ways, failures only 1002/1007/1009.
//
// Input layout: byte 0 = window bits (8 + b % 8) and context takeover (bit 3); byte 1 = limit
// (1 KiB << b % 12); then frames, each a header byte (bit 7 = FIN, bits 0-6 = length) followed by
// that many payload bytes.
// A second codec inflates the same frames into a fresh buffer per message (no spare room, so
// always the general loop, never the one-frame fast path): same bytes, same close codes.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzInflate(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    guard size >= 2 else { return 0 }
    let windowBits = 8 + Int(data[0] % 8)
    let keepsContext = data[0] & 8 == 0
    let limit = 1024 << Int(data[1] % 12)
    let parameters = PerMessageDeflateParameters(
        serverNoContextTakeover: !keepsContext, clientNoContextTakeover: !keepsContext,
        serverMaxWindowBits: windowBits, clientMaxWindowBits: windowBits)
    let client = PerMessageDeflate(parameters: parameters, role: .client)
    let output = DeflateBuffer()
    let reference = PerMessageDeflate(parameters: parameters, role: .client)
    var referenceOutput = DeflateBuffer()
    var offset = 2
    while offset < size {
        let header = data[offset]
        offset += 1
        let length = min(Int(header & 0x7F), size - offset)
        let isFinal = header & 0x80 != 0
        let fragment = UnsafeRawBufferPointer(start: data + offset, count: length)
        offset += length
        var referenceError: ProtocolError?
        do {
            try reference.decompress(fragment: fragment, isFinal: isFinal, maximumMessageSize: limit, into: referenceOutput)
        } catch {
            referenceError = error
        }
        do {
            try client.decompress(fragment: fragment, isFinal: isFinal, maximumMessageSize: limit, into: output)
            if output.count > limit { fatalError("inflated \(output.count) bytes past the limit \(limit)") }
            if referenceError != nil || !output.bytes.elementsEqual(referenceOutput.bytes) {
                fatalError("fast path and general loop disagree: \(String(describing: referenceError))")
            }
        } catch {
            switch error.closeCode {
            case .protocolError, .messageTooBig: break
            default: fatalError("unexpected close code \(error)")
            }
            if referenceError?.closeCode != error.closeCode {
                fatalError("fast path and general loop disagree: \(error) vs \(String(describing: referenceError))")
            }
            if output.count > limit + 1 { fatalError("inflated \(output.count) bytes past the limit \(limit)") }
            // The failed message is abandoned (the codec restarts); so are its bytes.
            output.removeAll(retainingCapacityUpTo: 1 << 16)
            referenceOutput = DeflateBuffer()
            continue
        }
        if isFinal {
            output.removeAll(retainingCapacityUpTo: 1 << 16)
            referenceOutput = DeflateBuffer()
        }
    }

    // Round trip of the whole input through our compressor and decompressor.
    let configuration = PerMessageDeflateConfiguration(compressionThreshold: 0)
    let server = PerMessageDeflate(parameters: parameters, role: .server, configuration: configuration)
    let peer = PerMessageDeflate(parameters: parameters, role: .client)
    let compressed = DeflateBuffer()
    let inflated = DeflateBuffer()
    let input = UnsafeRawBufferPointer(start: data, count: size)
    do {
        try server.compress(message: input, into: compressed)
        try peer.decompress(fragment: compressed.bytes, isFinal: true, maximumMessageSize: size, into: inflated)
    } catch {
        fatalError("round trip failed: \(error)")
    }
    if !inflated.bytes.elementsEqual(input) { fatalError("round trip changed the data") }

    // The session's receive path with compression.
    let frames = Array(UnsafeBufferPointer(start: data + 2, count: size - 2))
    let whole = sessionEvents(frames, parameters: parameters, limit: limit, cut: nil)
    let split = sessionEvents(frames, parameters: parameters, limit: limit, cut: frames.count / 2)
    if whole != split { fatalError("whole and split input disagree: \(whole) vs \(split)") }
    return 0
}

/// Events (as text) of a client session with a deflate codec fed `input`, optionally in two reads.
private func sessionEvents(_ input: [UInt8], parameters: PerMessageDeflateParameters, limit: Int, cut: Int?) -> [String] {
    var configuration = SessionConfiguration(role: .client)
    configuration.maxMessageSize = limit
    if limit == 1024 { configuration.streamingThreshold = 16 }
    configuration.inflateBudget = 64
    let session = Session(configuration: configuration, perMessageDeflate: PerMessageDeflate(parameters: parameters, role: .client))
    var events: [String] = []
    let pieces = cut.map { [Array(input[..<$0]), Array(input[$0...])] } ?? [input]
    func record(_ event: SessionEvent) {
                switch event {
                case .text(let bytes): events.append("text \(Array(bytes))")
                case .binary(let bytes): events.append("binary \(Array(bytes))")
                case .fragment(let kind, let bytes, let first, let last): events.append("fragment \(kind) \(Array(bytes)) \(first) \(last)")
                case .ping(let bytes): events.append("ping \(Array(bytes))")
                case .pong(let bytes): events.append("pong \(Array(bytes))")
                case .closeReceived(let code, let reason): events.append("close \(String(describing: code)) \(reason)")
                case .failed(let error):
                    switch error.closeCode {
                    case .protocolError, .invalidPayloadData, .messageTooBig: break
                    default: fatalError("unexpected close code \(error)")
                    }
                    events.append("failed \(error.closeCode)")
                }
    }
    for var piece in pieces {
        piece.withUnsafeMutableBytes { raw in
            session.receive(raw, record)
            // Stops at the inflate budget (tiny here, so every message takes that path) must not
            // change the events, whatever the split.
            session.finishDeferredWork(record)
        }
    }
    return events
}
