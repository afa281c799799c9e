// Fuzz target: the client reading a server's handshake response, beyond client_handshake (which
// fixes one client and checks chunking and that an accepted answer holds only offered names).
// Here the input's first two bytes choose the client: its permessage-deflate configuration (on or
// off, window limits, context takeover), its subprotocols, an extra extension and its nonce; the
// rest is the server's response. Checked for every input:
// - the request the client built is accepted by our server handshake, which sees the same key,
//   subprotocols and offers, and our server's answer to it (with a deflate configuration chosen
//   by the input) is accepted by the client with the same permessage-deflate parameters;
// - the fuzzed response gives the same outcome whole, byte by byte and cut in two;
// - an accepted response is a 101 from HTTP/1.1+, with Upgrade and Connection, exactly one
//   Sec-WebSocket-Accept equal to base64(SHA-1(key + GUID)); the same head with a wrong or a
//   repeated accept value is refused (.invalidAccept);
// - the extension negotiation of an accepted response (`perMessageDeflateParameters`) either
//   refuses it or yields parameters inside what was offered (RFC 7692 section 7.1), usable to
//   build the codec.

private struct FuzzClient {
    var configuration: PerMessageDeflateConfiguration
    var server: PerMessageDeflateConfiguration
    var handshake: ClientHandshake
}

private func makeFuzzClient(_ a: UInt8, _ b: UInt8) -> FuzzClient {
    let remoteBits = Int(a >> 4) & 7
    let configuration = PerMessageDeflateConfiguration(
        isEnabled: a & 1 == 1, localMaxWindowBits: 8 + Int(a >> 1) & 7,
        remoteMaxWindowBits: remoteBits == 0 ? nil : 8 + remoteBits,
        localNoContextTakeover: a & 0x80 != 0, remoteNoContextTakeover: b & 1 != 0,
        announcesLocalMaxWindowBits: (a ^ b) & 0x04 != 0)
    let server = PerMessageDeflateConfiguration(
        localMaxWindowBits: 8 + Int(b >> 5), remoteMaxWindowBits: b & 0x20 == 0 ? nil : 15 - Int(b >> 6),
        localNoContextTakeover: b & 0x40 != 0, remoteNoContextTakeover: b & 0x80 != 0)
    let subprotocols = [[], ["chat"], ["chat", "superchat"], ["v1.example"]][Int(b >> 1) & 3]
    var extensions = PerMessageDeflateNegotiation.clientOffers(configuration: configuration)
    if b & 8 != 0 { extensions.append(ExtensionOffer(name: "x-foo")) }
    let nonce = b & 0x10 == 0 ? "the sample nonce" : "another nonce!!!"
    do {
        let handshake = try ClientHandshake(
            host: "server.example.com", port: nil, secure: false, path: "/chat", query: nil, origin: nil,
            subprotocols: subprotocols, extensions: extensions, headers: HTTPHeaders(), limits: HTTPHeadLimits(),
            keyBytes: Array(nonce.utf8))
        return FuzzClient(configuration: configuration, server: server, handshake: handshake)
    } catch {
        fatalError("client options built here refused: \(error)")
    }
}

/// Our own server reads the client's request and answers it; the client must accept the answer and
/// agree on the permessage-deflate parameters.
private func checkRoundTrip(_ client: FuzzClient) {
    var server = ServerHandshake()
    var reader = client.handshake
    do {
        guard case .complete(let request, let consumed) = try server.receive(client.handshake.requestBytes),
              consumed == client.handshake.requestBytes.count else {
            fatalError("our server did not read the whole client request")
        }
        guard request.key == client.handshake.key, request.subprotocols == client.handshake.subprotocols,
              request.extensionOffers == client.handshake.extensionOffers else {
            fatalError("the client request does not read back: \(request)")
        }
        let agreement = request.negotiatePerMessageDeflate(client.server)
        let response = try request.acceptResponse(subprotocol: request.subprotocols.first,
                                                  extensions: agreement.map { [$0.response] } ?? [])
        guard case .complete(let answer, _) = try reader.receive(response) else {
            fatalError("our server's 101 is incomplete for the client")
        }
        let parameters = try answer.perMessageDeflateParameters(offeredWith: client.configuration)
        guard parameters == agreement?.parameters, answer.subprotocol == request.subprotocols.first else {
            fatalError("client and server disagree: \(String(describing: parameters)) vs \(String(describing: agreement))")
        }
    } catch {
        fatalError("our client and server cannot complete a handshake: \(error)")
    }
}

private enum ClientResponseOutcome: Equatable {
    case needMoreBytes
    case accepted(ServerAnswer, headLength: Int)
    case refused(HandshakeError)
}

/// Feeds `response` to a copy of the client in pieces of `pieceLength` bytes.
private func read(_ response: UnsafeRawBufferPointer, by client: ClientHandshake, pieceLength: Int) -> ClientResponseOutcome {
    var handshake = client
    var start = 0
    while start < response.count || start == 0 {
        let end = min(start + max(pieceLength, 1), response.count)
        do {
            if case .complete(let answer, let consumed) = try handshake.receive(UnsafeRawBufferPointer(rebasing: response[start..<end])) {
                guard (0...(end - start)).contains(consumed) else { fatalError("consumed \(consumed) out of the piece") }
                guard handshake.response == answer.head else { fatalError("response head not kept") }
                return .accepted(answer, headLength: start + consumed)
            }
        } catch {
            guard error.failure == .malformedHead || error.failure == .headTooLarge
                    || error.failure == .tooManyHeaders || handshake.response != nil else {
                fatalError("refused after a complete head without keeping it: \(error)")
            }
            return .refused(error)
        }
        if end == response.count { break }
        start = end
    }
    return .needMoreBytes
}

/// What an accepted answer must hold, and the accept check it must not survive tampering with.
private func checkAccepted(_ answer: ServerAnswer, _ client: FuzzClient) {
    let handshake = client.handshake
    let head = answer.head
    let headers = head.headers
    let expected = Base64.encode(SHA1.hash(Array((handshake.key + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11").utf8)))
    guard head.status == 101, head.version >= .http11, headers.values("Sec-WebSocket-Accept") == [expected],
          headers.containsToken("websocket", in: "Upgrade"), headers.containsToken("upgrade", in: "Connection"),
          answer.subprotocol.map(handshake.subprotocols.contains) ?? true,
          answer.extensions.allSatisfy({ answered in
              handshake.extensionOffers.contains { HTTPHeaders.namesMatch($0.name, answered.name) } }) else {
        fatalError("accepted a response that breaks RFC 6455 section 4.1: \(answer)")
    }
    var wrong = HTTPHeaders()
    var repeated = HTTPHeaders()
    for field in headers {
        let isAccept = HTTPHeaders.namesMatch(field.name, "Sec-WebSocket-Accept")
        wrong.append(name: field.name, value: isAccept ? String(field.value.reversed()) + "x" : field.value)
        repeated.append(name: field.name, value: field.value)
        if isAccept { repeated.append(name: field.name, value: field.value) }
    }
    for tampered in [wrong, repeated] {
        let tamperedHead = HTTPResponseHead(version: head.version, status: 101, reasonPhrase: head.reasonPhrase, headers: tampered)
        do {
            _ = try handshake.validate(tamperedHead)
            fatalError("accepted a response with a wrong or repeated Sec-WebSocket-Accept: \(tampered)")
        } catch {
            guard error.failure == .invalidAccept else { fatalError("tampered accept refused for another reason: \(error)") }
        }
    }
    checkNegotiation(answer, client.configuration)
}

/// RFC 7692 section 7.1 bounds on what the client agrees to.
private func checkNegotiation(_ answer: ServerAnswer, _ configuration: PerMessageDeflateConfiguration) {
    let parameters: PerMessageDeflateParameters?
    do {
        parameters = try answer.perMessageDeflateParameters(offeredWith: configuration)
    } catch {
        guard error.failure == .invalidExtensionResponse, error.status == nil else {
            fatalError("negotiation refused with the wrong failure: \(error)")
        }
        return
    }
    guard let parameters else { return }
    let asked = configuration.remoteMaxWindowBits.map { min(max($0, 8), 15) } ?? 15
    // Only an announced client window is a limit on the answer; the value-less offer lets the
    // server grant up to 15 (the compressor keeps to its own limit regardless).
    let clientLimit = configuration.announcesLocalMaxWindowBits ? min(max(configuration.localMaxWindowBits, 8), 15) : 15
    guard configuration.isEnabled, (8...15).contains(parameters.serverMaxWindowBits),
          (8...15).contains(parameters.clientMaxWindowBits),
          parameters.clientMaxWindowBits <= clientLimit,
          parameters.serverMaxWindowBits <= 15, asked <= 15,
          !configuration.remoteNoContextTakeover || parameters.serverNoContextTakeover,
          !configuration.localNoContextTakeover || parameters.clientNoContextTakeover else {
        fatalError("agreed to parameters outside the offer: \(parameters) for \(configuration)")
    }
    _ = PerMessageDeflate(parameters: parameters, role: .client, configuration: configuration)
}

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzClientResponse(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    guard size >= 2 else { return 0 }
    let input = UnsafeRawBufferPointer(start: data, count: size)
    let client = makeFuzzClient(input[0], input[1])
    checkRoundTrip(client)
    let response = UnsafeRawBufferPointer(rebasing: input[2...])
    let whole = read(response, by: client.handshake, pieceLength: response.count)
    let bytewise = read(response, by: client.handshake, pieceLength: 1)
    let halves = read(response, by: client.handshake, pieceLength: response.count / 2 + 1)
    guard whole == bytewise, whole == halves else {
        fatalError("chunking changed the outcome:\n whole \(whole)\n bytewise \(bytewise)\n halves \(halves)")
    }
    if case .accepted(let answer, _) = whole { checkAccepted(answer, client) }
    return 0
}
