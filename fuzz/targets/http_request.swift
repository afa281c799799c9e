// Fuzz target: the plain-HTTP request path of a server (issue 9). The request-head parser is fed
// the input whole, one byte at a time, and in three pieces cut where the input's last two bytes
// say; the outcomes must agree. A complete head then goes where the server sends it
// (`ServerHandshake.classify`: the RFC 9110/9112 rules on version, Host, Content-Length and
// Transfer-Encoding, upgrade or plain, the method), and every answer is built with
// HTTPResponseWriter and read back.
//
// Invariants (the target traps otherwise):
// - a rejection has a 4xx/5xx status and its response reads back with that status, a
//   Content-Length equal to its body and `Connection: close`;
// - a plain request satisfies what the rules promise: HTTP/1.x, a recognised method, at most one
//   Host (exactly one on HTTP/1.1), no upgrade headers, and a body framing that matches its
//   Content-Length / Transfer-Encoding fields;
// - an upgrade request is a GET with no body;
// - echoing a plain request's fields and target into a 200 never fails, never splits the
//   response, and reads back to the same fields.

private enum HTTPRequestFuzzOutcome: Equatable {
    case needMoreBytes
    case parsed(HTTPRequestHead, headLength: Int)
    case failed(HandshakeError)
}

/// Parses `input` in pieces ending at `cuts` (then at the end).
private func parseHead(_ input: UnsafeRawBufferPointer, cuts: [Int]) -> HTTPRequestFuzzOutcome {
    var parser = HTTPRequestParser()
    var start = 0
    for end in cuts.filter({ $0 > 0 && $0 < input.count }) + [input.count] where end > start || input.isEmpty {
        let piece = UnsafeRawBufferPointer(rebasing: input[start..<end])
        do {
            if case .complete(let head, let consumed) = try parser.parse(piece) {
                guard (0...piece.count).contains(consumed) else { fatalError("consumed \(consumed) of \(piece.count)") }
                return .parsed(head, headLength: start + consumed)
            }
        } catch {
            return .failed(error)
        }
        start = end
    }
    return .needMoreBytes
}

/// Reads back a response this module wrote: it must be one complete head and exactly its body.
private func readBack(_ bytes: [UInt8], status: Int) -> HTTPResponseHead {
    var parser = HTTPResponseParser(limits: HTTPHeadLimits(maxHeadBytes: 1 << 20, maxHeaderCount: 1 << 16))
    let outcome = bytes.withUnsafeBytes { buffer in Result { () throws(HandshakeError) in try parser.parse(buffer) } }
    guard case .success(.complete(let head, let consumed)) = outcome else {
        fatalError("written response does not read back: \(outcome)\n\(String(decoding: bytes, as: UTF8.self))")
    }
    guard head.status == status, head.version == .http11,
          head.headers.values("Content-Length") == [String(bytes.count - consumed)],
          head.headers.values("Connection") == ["close"] else {
        fatalError("written response is not a \(status) with its length and Connection: close: \(head)")
    }
    return head
}

/// What `validateMessage` promised about a plain request, checked independently of its code.
private func checkPlain(_ head: HTTPRequestHead, body: HTTPRequestBody) {
    let headers = head.headers
    let hosts = headers.values("Host").count
    guard head.version.major == 1, HTTPRequestHead.recognizedMethods.contains(head.method),
          hosts <= 1, hosts == 1 || head.version.minor == 0,
          !headers.contains("Upgrade"), !headers.contains("Sec-WebSocket-Key") else {
        fatalError("plain request breaks a request rule: \(head)")
    }
    let lengths = headers.values("Content-Length").flatMap { $0.split(separator: ",") }
    let codings = headers.values("Transfer-Encoding")
    let framingHolds: Bool
    switch body {
    case .none:
        framingHolds = lengths.isEmpty && codings.isEmpty
    case .contentLength(let length):
        framingHolds = length >= 0 && codings.isEmpty && !lengths.isEmpty
            && lengths.allSatisfy { Int(String($0.filter { $0 != " " && $0 != "\t" })) == length }
    case .chunked:
        framingHolds = lengths.isEmpty && head.version.minor > 0
            && codings.last.map { HTTPHeaders.listElements($0).last?.lowercased() == "chunked" } == true
    }
    guard framingHolds else { fatalError("body framing \(body) does not match the fields: \(head)") }
}

/// Echoes a plain request into a 200 as an application could: its fields as headers (they were
/// read as field values, so they can be written), its target as the body.
private func answer(_ head: HTTPRequestHead) {
    let body = Array(head.target.utf8)
    let response: [UInt8]
    do {
        response = try HTTPResponseWriter.response(status: 200, headers: head.headers, body: body)
    } catch {
        fatalError("fields read from a request cannot be written back: \(error)")
    }
    let written = readBack(response, status: 200)
    guard Array(response.suffix(body.count)) == body else { fatalError("response body is not the target") }
    let generated = ["Content-Length", "Connection", "Content-Type"]
    let kept = { (headers: HTTPHeaders) in
        headers.fields.filter { field in !generated.contains { HTTPHeaders.namesMatch($0, field.name) } }
    }
    guard kept(written.headers) == kept(head.headers) else {
        fatalError("echoed fields changed on the way:\n\(kept(head.headers))\n\(kept(written.headers))")
    }
}

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzHTTPRequest(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let input = UnsafeRawBufferPointer(start: data, count: size)
    let whole = parseHead(input, cuts: [])
    let bytewise = parseHead(input, cuts: Array(0..<size))
    let first = size > 1 ? Int(input[size - 1]) % size : 0
    let second = size > 2 ? first + Int(input[size - 2]) * 7 % size : 0
    let pieces = parseHead(input, cuts: [first, second])
    guard whole == bytewise, whole == pieces else {
        fatalError("chunking changed the outcome:\n whole \(whole)\n bytewise \(bytewise)\n pieces \(pieces)")
    }
    let head: HTTPRequestHead
    switch whole {
    case .needMoreBytes:
        return 0
    case .failed(let error):
        guard let status = error.status, status == 431 || status == 400 else {
            fatalError("a head the parser refuses must be 400 or 431: \(error)")
        }
        _ = readBack(error.responseBytes(), status: status)
        return 0
    case .parsed(let parsed, _):
        head = parsed
    }
    do throws(HandshakeError) {
        switch try ServerHandshake.classify(head) {
        case .upgrade(let request):
            guard request.head.method == "GET", (try? head.validateMessage())?.isEmpty == true else {
                fatalError("upgrade accepted with another method or a body: \(head)")
            }
        case .plain(let plain, let body):
            guard plain == head else { fatalError("classify changed the head") }
            checkPlain(head, body: body)
            answer(head)
        }
    } catch {
        guard let status = error.status, (400...505).contains(status), status != 500 else {
            fatalError("a request refused without a 4xx/505 status: \(error)")
        }
        _ = readBack(error.responseBytes(), status: status)
    }
    return 0
}
