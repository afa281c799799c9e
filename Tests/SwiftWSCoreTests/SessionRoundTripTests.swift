import Testing
@testable import SwiftWSCore

@Suite("Session: client ↔ server in memory")
struct SessionRoundTripTests {
    @Test func textBinaryFragmentsAndPings() throws {
        let client = clientSession()
        let server = serverSession()
        try client.send(text: "héllo")
        try ([1, 2, 3] as [UInt8]).withUnsafeBytes { try client.send(binary: $0) }
        try Array("frag".utf8).withUnsafeBytes { try client.sendFragment(.text, $0, isFinal: false) }
        try ([9] as [UInt8]).withUnsafeBytes { try client.ping($0) }
        try Array("mented".utf8).withUnsafeBytes { try client.sendFragment(.text, $0, isFinal: true) }
        try [UInt8](repeating: 5, count: 70000).withUnsafeBytes { try server.send(binary: $0) }
        let (clientEvents, serverEvents) = pump(client, server)
        #expect(serverEvents == [.text(Array("héllo".utf8)), .binary([1, 2, 3]), .ping([9]), .text(Array("fragmented".utf8))])
        #expect(clientEvents == [.binary([UInt8](repeating: 5, count: 70000)), .pong([9])])
    }

    @Test(arguments: [Role.client, Role.server])
    func closeHandshakeInitiatedByEitherSide(initiator: Role) throws {
        let client = clientSession()
        let server = serverSession()
        let (first, second) = initiator == .client ? (client, server) : (server, client)
        try first.close(code: CloseCode(4000), reason: "app done")
        #expect(first.state == .closing)
        let (clientEvents, serverEvents) = pump(client, server)
        let (firstEvents, secondEvents) = initiator == .client ? (clientEvents, serverEvents) : (serverEvents, clientEvents)
        #expect(secondEvents == [.closeReceived(code: 4000, reason: "app done")])
        #expect(firstEvents == [.closeReceived(code: 4000, reason: "")])
        for session in [client, server] {
            #expect(session.state == .closed && session.shouldCloseTransport)
            #expect(session.closeStatus?.code.rawValue == 4000)
        }
        #expect(second.closeStatus?.reason == "app done")
        #expect(server.closesTransportFirst && !client.closesTransportFirst)
    }

    @Test func sendRulesAreEnforced() throws {
        let client = clientSession()
        #expect(throws: SessionError.invalidUTF8) { try ([0xC0, 0x80] as [UInt8]).withUnsafeBytes { try client.send(text: $0) } }
        #expect(throws: SessionError.controlPayloadTooLong) { try [UInt8](repeating: 0, count: 126).withUnsafeBytes { try client.ping($0) } }
        try ([0xE2] as [UInt8]).withUnsafeBytes { try client.sendFragment(.text, $0, isFinal: false) }
        #expect(throws: SessionError.fragmentedMessageInProgress) { try ([1] as [UInt8]).withUnsafeBytes { try client.send(binary: $0) } }
        #expect(throws: SessionError.fragmentedMessageInProgress) { try ([1] as [UInt8]).withUnsafeBytes { try client.sendFragment(.binary, $0, isFinal: true) } }
        #expect(throws: SessionError.invalidUTF8) { try ([0x41] as [UInt8]).withUnsafeBytes { try client.sendFragment(.text, $0, isFinal: true) } }
        try ([0x82, 0xAC] as [UInt8]).withUnsafeBytes { try client.sendFragment(.text, $0, isFinal: true) }
        #expect(throws: SessionError.encodedFrameRequiresServerRole) { try ([0x81, 0] as [UInt8]).withUnsafeBytes { try client.sendEncodedFrame($0) } }
        let server = serverSession()
        #expect(server.feed(client.takeOutput()) == [.text([0xE2, 0x82, 0xAC])])
    }

    /// An echo server sends from inside the event callback, for messages delivered from the
    /// input buffer, from the reassembly buffer and from the control-frame buffer; exclusivity
    /// checks (debug builds) would trap on an overlapping access.
    @Test func sendingFromInsideTheCallbackIsAllowed() {
        let server = serverSession()
        let input = frame(0x1, hello) + frame(0x2, [1, 2], fin: false) + frame(0x0, [3]) + frame(0x9, [4])
            + frame(0x8, [0x03, 0xE8])
        var seen: [RecordedEvent] = []
        var cuts = Array(0..<input.count)  // byte by byte: every payload goes through a session buffer
        cuts.removeFirst()
        for (start, end) in zip([0] + cuts, cuts + [input.count]) {
            server.receive(Array(input[start..<end])) { event in
                seen.append(RecordedEvent(event))
                switch event {
                case .text(let bytes): try? server.send(text: bytes)
                case .binary(let bytes): try? server.send(binary: bytes)
                case .ping(let bytes): try? server.ping(bytes)
                case .closeReceived: try? server.close()  // already answered: must throw, not trap
                default: break
                }
            }
        }
        #expect(seen == [.text(hello), .binary([1, 2, 3]), .ping([4]), .closeReceived(code: 1000, reason: "")])
        let frames = server.takeOutputFrames()
        #expect(frames.map(\.opcode) == [.text, .binary, .pong, .ping, .close])
        #expect(frames.map(\.payload) == [hello, [1, 2, 3], [4], [4], [0x03, 0xE8]])
    }

    @Test func broadcastFrameIsBuiltOnceAndQueuedOnManySessions() throws {
        let built = Array("news".utf8).withUnsafeBytes { FrameEncoder.serverFrame(opcode: .text, payload: $0) }
        let servers = (0..<3).map { _ in serverSession() }
        for server in servers {
            try built.withUnsafeBytes { try server.sendEncodedFrame($0) }
            #expect(clientSession().feed(server.takeOutput()) == [.text(Array("news".utf8))])
        }
    }

    @Test func outputIsConsumedPartially() throws {
        let server = serverSession()
        try server.send(text: "abc")
        try server.send(text: "def")
        let all = Array(server.pendingOutput)
        server.consumeOutput(3)
        #expect(Array(server.pendingOutput) == Array(all[3...]))
        try server.send(text: "ghi")
        #expect(clientSession().feed(Array(all[..<3]) + server.takeOutput()) == [.text(Array("abc".utf8)), .text(Array("def".utf8)), .text(Array("ghi".utf8))])
    }
}

@Suite("Session: split input gives the same events (property)")
struct SessionSplitPropertyTests {
    /// A random valid client→server stream: messages of both kinds, fragmented or not, with
    /// pings and pongs between fragments, ending (sometimes) with a close; and the events expected.
    static func randomStream(seed: UInt64, streaming: Bool) -> (bytes: [UInt8], expected: [RecordedEvent]) {
        var rng = SeededGenerator(seed: seed)
        var bytes: [UInt8] = []
        var expected: [RecordedEvent] = []
        let alphabet = ["a", "é", "€", "𝄞", " ", "Z"].map { Array($0.utf8) }
        for _ in 0..<Int.random(in: 1...12, using: &rng) {
            let isText = Bool.random(using: &rng)
            var payload: [UInt8] = []
            let size = [0, 3, 40, 130, 300, 3000, 70000][Int.random(in: 0...6, using: &rng)]
            while payload.count < size {
                payload += isText ? alphabet[Int.random(in: 0..<alphabet.count, using: &rng)] : [UInt8.random(in: 0...255, using: &rng)]
            }
            // Cut into fragments at random byte positions (text may be split inside a character).
            var cuts = (0..<Int.random(in: 0...4, using: &rng)).map { _ in Int.random(in: 0...payload.count, using: &rng) }.sorted()
            cuts.append(payload.count)
            var start = 0
            // Streaming with threshold 0: a message streams from its first non-empty frame on
            // (size > threshold); the empty frames before it are gathered (nothing to hand over).
            var isStreamingYet = false
            for (index, cut) in cuts.enumerated() {
                let isLast = index == cuts.count - 1
                let key = UInt32.random(in: 0...UInt32.max, using: &rng)
                bytes += frame(index == 0 ? (isText ? 0x1 : 0x2) : 0x0, Array(payload[start..<cut]), fin: isLast, maskKey: key)
                if streaming && (isStreamingYet || cut > start) {
                    expected.append(.fragment(isText ? .text : .binary, Array(payload[start..<cut]), isFirst: !isStreamingYet, isFinal: isLast))
                    isStreamingYet = true
                }
                start = cut
                if !isLast && Bool.random(using: &rng) {
                    let control = (0..<Int.random(in: 0...125, using: &rng)).map { _ in UInt8.random(in: 0...255, using: &rng) }
                    let isPing = Bool.random(using: &rng)
                    bytes += frame(isPing ? 0x9 : 0xA, control, maskKey: key &+ 1)
                    expected.append(isPing ? .ping(control) : .pong(control))
                }
            }
            if !isStreamingYet { expected.append(isText ? .text(payload) : .binary(payload)) }
        }
        if Bool.random(using: &rng) {
            bytes += frame(0x8, [0x03, 0xE8] + Array("end".utf8))
            expected.append(.closeReceived(code: 1000, reason: "end"))
        }
        return (bytes, expected)
    }

    private func configure(_ streaming: Bool) -> (inout SessionConfiguration) -> Void {
        { if streaming { $0.streamingThreshold = 0 } }
    }

    @Test(arguments: [false, true])
    func wholeByteByByteAndRandomSplitsAgree(streaming: Bool) {
        for seed: UInt64 in 1...20 {
            let (bytes, expected) = Self.randomStream(seed: seed, streaming: streaming)
            let wholeSession = serverSession(configure(streaming))
            let whole = wholeSession.feed(bytes)
            #expect(whole == expected, "seed \(seed) whole")
            let wholeOutput = wholeSession.takeOutputFrames()
            var rng = SeededGenerator(seed: seed &* 977)
            for _ in 0..<4 {
                let cuts = (0..<Int.random(in: 1...40, using: &rng)).map { _ in Int.random(in: 0...bytes.count, using: &rng) }.sorted()
                let session = serverSession(configure(streaming))
                #expect(session.feed(bytes, cutAt: cuts) == expected, "seed \(seed) cuts \(cuts)")
                #expect(session.takeOutputFrames() == wholeOutput, "seed \(seed): pongs and close differ")
            }
            if bytes.count < 20000 {
                let session = serverSession(configure(streaming))
                #expect(session.feedByteByByte(bytes) == expected, "seed \(seed) byte by byte")
                #expect(session.takeOutputFrames() == wholeOutput)
            }
        }
    }

    /// Found by the fuzzer: corrupt compressed text whose first inflated bytes are already
    /// invalid UTF-8 failed with 1007 byte by byte but 1002 (corrupt data) whole.
    @Test func corruptCompressedTextFailsTheSameWholeOrSplit() {
        let input: [UInt8] = [0xc1, 0x9e, 0x37, 0xfa, 0x21, 0x3d, 0xc5, 0xb2, 0xec, 0xf4, 0xfe, 0x2d, 0x70, 0xcd, 0x80,
                              0x85, 0x37, 0xfa, 0x21, 0x10, 0xaa, 0x7e, 0x73, 0xd7, 0x0f, 0xf2, 0x18, 0x30, 0x68, 0x6c, 0x63,
                              0x0a, 0x81, 0xa3, 0x33, 0xfa, 0x81, 0x3d, 0x37, 0xfb, 0x23, 0x3e, 0x47, 0x96, 0x40, 0x54, 0x59]
        func session() -> Session {
            Session(configuration: SessionConfiguration(role: .server),
                    perMessageDeflate: PerMessageDeflate(parameters: PerMessageDeflateParameters(), role: .server))
        }
        let whole = session().feed(input)
        #expect(whole.map(\.failureCode) == [1007])
        #expect(session().feedByteByByte(input) == whole)
        #expect(session().feed(input, cutAt: [10, 20]) == whole)
    }

    @Test func invalidStreamsFailIdenticallyWhateverTheSplit() {
        // Random corruption of valid streams: whichever error is found, it is the same one at the
        // same place, whole or split.
        var rng = SeededGenerator(seed: 99)
        for seed: UInt64 in 1...40 {
            var (bytes, _) = Self.randomStream(seed: seed, streaming: false)
            guard !bytes.isEmpty else { continue }
            for _ in 0..<3 { bytes[Int.random(in: 0..<bytes.count, using: &rng)] = UInt8.random(in: 0...255, using: &rng) }
            let whole = serverSession().feed(bytes)
            let cuts = (0..<Int.random(in: 1...20, using: &rng)).map { _ in Int.random(in: 0...bytes.count, using: &rng) }.sorted()
            #expect(serverSession().feed(bytes, cutAt: cuts) == whole, "seed \(seed)")
        }
    }
}
