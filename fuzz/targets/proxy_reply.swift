// Fuzz target: the client reading a proxy's answers (ProxyHandshake: HTTP CONNECT, SOCKS5 with and
// without username/password, SOCKS4a). The input's first byte chooses the proxy kind and
// credentials; the rest is everything the proxy sends. Checked for every input:
// - the outcome (needs more, open with how many bytes consumed, or refused with which reason) is
//   the same whole, byte by byte and cut in two;
// - `consumed` never exceeds what was fed, and an open tunnel consumed at least a whole answer;
// - what the client has to send (taken or still pending) is the same, and stays bounded (never
//   more than its few fixed messages). A proxy that answers a request before it could have been
//   sent leaves output pending at the end: ProxyTunnel refuses such a tunnel.

private func makeHandshake(_ choice: UInt8) -> ProxyHandshake {
    let kinds: [ProxyConfiguration.Kind] = [.http, .socks5, .socks4a]
    let kind = kinds[Int(choice) % 3]
    let credentials = choice & 0x10 != 0
    let configuration = ProxyConfiguration(kind: kind, host: "127.0.0.1", port: 1080,
                                           username: credentials ? "user" : nil, password: credentials ? "pass" : nil)
    do {
        return try ProxyHandshake(configuration: configuration, host: choice & 0x20 != 0 ? "example.com" : "::1", port: 443,
                                  headLimits: HTTPHeadLimits(maxHeadBytes: 512, maxHeaderCount: 8))
    } catch {
        fatalError("a proxy handshake built here refused: \(error)")
    }
}

private enum ProxyOutcome: Equatable {
    case needMoreBytes(sent: Int)
    case open(fedBefore: Int, consumed: Int, sent: Int)
    case refused(ProxyError, sent: Int)
}

private func run(_ answers: UnsafeRawBufferPointer, _ start: ProxyHandshake, pieceLength: Int) -> ProxyOutcome {
    var handshake = start
    var sent = handshake.takeOutput().count
    var offset = 0
    while offset < answers.count {
        let end = min(offset + max(pieceLength, 1), answers.count)
        let piece = UnsafeRawBufferPointer(rebasing: answers[offset..<end])
        do throws(ProxyError) {
            let progress = try handshake.receive(piece)
            sent += handshake.takeOutput().count
            if sent > 1024 { fatalError("the client sent \(sent) bytes to a proxy") }
            if case .open(let consumed) = progress {
                guard (0...piece.count).contains(consumed) else { fatalError("consumed \(consumed) of \(piece.count)") }
                // Where the proxy's answer ended in the whole input, so chunkings compare.
                return .open(fedBefore: 0, consumed: offset + consumed, sent: sent)
            }
        } catch {
            return .refused(error, sent: sent + handshake.takeOutput().count)
        }
        offset = end
    }
    return .needMoreBytes(sent: sent)
}

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzProxyReply(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    guard size >= 1 else { return 0 }
    let input = UnsafeRawBufferPointer(start: data, count: size)
    let handshake = makeHandshake(input[0])
    let answers = UnsafeRawBufferPointer(rebasing: input[1...])
    let whole = run(answers, handshake, pieceLength: answers.count)
    let bytewise = run(answers, handshake, pieceLength: 1)
    let halves = run(answers, handshake, pieceLength: answers.count / 2 + 1)
    guard whole == bytewise, whole == halves else {
        fatalError("chunking changed the outcome:\n whole \(whole)\n bytewise \(bytewise)\n halves \(halves)")
    }
    return 0
}
