// Fuzz target: the server half of the opening handshake (HTTP request head parser, RFC 6455
// section 4.2.1 validation, Sec-WebSocket-Extensions parser, 101 response writer).
//
// Each input is fed whole, one byte at a time, and in two pieces split at a point chosen by the
// input; the three outcomes must agree (same request or same error, same head length), or the
// target traps. An accepted request must also be answerable (acceptResponse with every offered
// extension and the first subprotocol never throws) and its offers must survive a
// write-then-parse round trip. Never trapping otherwise is the main property.

private enum ServerFuzzOutcome: Equatable {
    case needMoreBytes
    case complete(UpgradeRequest, headLength: Int)
    case failed(HandshakeError)
}

private func serverOutcome(_ input: UnsafeRawBufferPointer, chunkSizes: (Int) -> Int) -> ServerFuzzOutcome {
    var handshake = ServerHandshake()
    var offset = 0
    repeat {
        let end = min(offset + max(chunkSizes(offset), 1), input.count)
        do {
            let progress = try handshake.receive(UnsafeRawBufferPointer(rebasing: input[offset..<end]))
            if case .complete(let request, let consumed) = progress {
                guard consumed >= 0, consumed <= end - offset else { fatalError("consumed \(consumed) out of chunk") }
                return .complete(request, headLength: offset + consumed)
            }
        } catch {
            if error.status == nil { fatalError("server-side failure without HTTP status: \(error)") }
            _ = error.responseBytes()
            return .failed(error)
        }
        offset = end
    } while offset < input.count
    return .needMoreBytes
}

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzServerHandshake(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let input = UnsafeRawBufferPointer(start: data, count: size)
    let whole = serverOutcome(input) { _ in size }
    let bytewise = serverOutcome(input) { _ in 1 }
    let splitPoint = size > 0 ? Int(input[0]) * 37 % size + 1 : 1
    let split = serverOutcome(input) { offset in offset == 0 ? splitPoint : size }
    guard whole == bytewise, whole == split else {
        fatalError("chunking changed the outcome:\n whole \(whole)\n bytewise \(bytewise)\n split \(split)")
    }
    if case .complete(let request, _) = whole {
        do {
            _ = try request.acceptResponse(subprotocol: request.subprotocols.first, extensions: request.extensionOffers)
        } catch {
            fatalError("valid request cannot be answered: \(error)")
        }
        if !request.extensionOffers.isEmpty {
            let written = request.extensionOffers.map(\.description).joined(separator: ", ")
            guard (try? ExtensionOffer.parseHeaderValue(written)) == request.extensionOffers else {
                fatalError("extension offers do not round-trip: \(written)")
            }
        }
        _ = (request.path, request.query, request.acceptValue)
    }
    return 0
}
