// Fuzz target: the client half of the opening handshake (HTTP response head parser and the
// RFC 6455 section 4.1 checks of the server's answer).
//
// The client is fixed: the RFC's sample nonce (so the right Sec-WebSocket-Accept is
// s3pPLMBiTxaQ9kYGzzhZRbK+xOo=), subprotocols "chat" and "superchat", extension offers
// "permessage-deflate" and "x-foo". Each input is fed whole, one byte at a time, and in two pieces
// split at a point chosen by the input; the outcomes must agree or the target traps. An accepted
// answer must only hold what was offered.

private enum ClientFuzzOutcome: Equatable {
    case needMoreBytes
    case complete(ServerAnswer, headLength: Int)
    case failed(HandshakeError)
}

private func makeClient() -> ClientHandshake {
    do {
        return try ClientHandshake(
            host: "server.example.com", port: nil, secure: false, path: "/chat", query: nil, origin: nil,
            subprotocols: ["chat", "superchat"],
            extensions: [ExtensionOffer(name: "permessage-deflate"), ExtensionOffer(name: "x-foo")],
            headers: HTTPHeaders(), limits: HTTPHeadLimits(), keyBytes: Array("the sample nonce".utf8))
    } catch {
        fatalError("fixed client options refused: \(error)")
    }
}

private func clientOutcome(_ input: UnsafeRawBufferPointer, chunkSizes: (Int) -> Int) -> ClientFuzzOutcome {
    var handshake = makeClient()
    var offset = 0
    repeat {
        let end = min(offset + max(chunkSizes(offset), 1), input.count)
        do {
            let progress = try handshake.receive(UnsafeRawBufferPointer(rebasing: input[offset..<end]))
            if case .complete(let answer, let consumed) = progress {
                guard consumed >= 0, consumed <= end - offset else { fatalError("consumed \(consumed) out of chunk") }
                return .complete(answer, headLength: offset + consumed)
            }
        } catch {
            return .failed(error)
        }
        offset = end
    } while offset < input.count
    return .needMoreBytes
}

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzClientHandshake(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let input = UnsafeRawBufferPointer(start: data, count: size)
    let whole = clientOutcome(input) { _ in size }
    let bytewise = clientOutcome(input) { _ in 1 }
    let splitPoint = size > 0 ? Int(input[0]) * 37 % size + 1 : 1
    let split = clientOutcome(input) { offset in offset == 0 ? splitPoint : size }
    guard whole == bytewise, whole == split else {
        fatalError("chunking changed the outcome:\n whole \(whole)\n bytewise \(bytewise)\n split \(split)")
    }
    if case .complete(let answer, _) = whole {
        guard answer.head.status == 101,
              answer.subprotocol.map({ ["chat", "superchat"].contains($0) }) ?? true,
              answer.extensions.allSatisfy({ ["permessage-deflate", "x-foo"].contains($0.name.lowercased()) }) else {
            fatalError("accepted an answer with something not offered: \(answer)")
        }
    }
    return 0
}
