import Testing
@testable import SwiftWSCore

private typealias T = DeflateTestSupport

/// permessage-deflate wired into the handshake and the session (RFC 7692 sections 6, 7.2).
@Suite("permessage-deflate in handshake and session (RFC 7692 6, 7)")
struct PerMessageDeflateSessionTests {
    /// A client and a server that went through our handshake with these configurations.
    /// Returns nil parameters when the server declined.
    static func connect(client clientConfiguration: PerMessageDeflateConfiguration,
                        server serverConfiguration: PerMessageDeflateConfiguration,
                        limits: (inout SessionConfiguration) -> Void = { _ in })
        throws -> (client: Session, server: Session, parameters: PerMessageDeflateParameters?) {
        var clientHandshake = try ClientHandshake(
            host: "127.0.0.1", port: 9001,
            extensions: PerMessageDeflateNegotiation.clientOffers(configuration: clientConfiguration))
        var serverHandshake = ServerHandshake()
        let request = try #require(feed(clientHandshake.requestBytes) { c throws(HandshakeError) in try serverHandshake.receive(c) }.value)
        let agreement = request.negotiatePerMessageDeflate(serverConfiguration)
        let response = try request.acceptResponse(extensions: agreement.map { [$0.response] } ?? [])
        let answer = try #require(feed(response) { c throws(HandshakeError) in try clientHandshake.receive(c) }.value)
        let parameters = try answer.perMessageDeflateParameters(offeredWith: clientConfiguration)
        #expect(parameters == agreement?.parameters)
        var clientSessionConfiguration = SessionConfiguration(role: .client)
        var serverSessionConfiguration = SessionConfiguration(role: .server)
        limits(&clientSessionConfiguration)
        limits(&serverSessionConfiguration)
        let client = Session(configuration: clientSessionConfiguration, perMessageDeflate: parameters.map {
            PerMessageDeflate(parameters: $0, role: .client, configuration: clientConfiguration)
        })
        let server = Session(configuration: serverSessionConfiguration, perMessageDeflate: agreement.map {
            PerMessageDeflate(parameters: $0.parameters, role: .server, configuration: serverConfiguration)
        })
        return (client, server, parameters)
    }

    /// A deflate session with the given parameters and role, threshold 0.
    static func session(_ role: Role, _ parameters: PerMessageDeflateParameters = .init(),
                        limits: (inout SessionConfiguration) -> Void = { _ in }) -> Session {
        var configuration = SessionConfiguration(role: role)
        limits(&configuration)
        return Session(configuration: configuration, perMessageDeflate: PerMessageDeflate(
            parameters: parameters, role: role, configuration: .init(compressionThreshold: 0)))
    }

    static let hello = Array("Hello".utf8)

    // MARK: RFC 7692 7.2.3 frames through a session

    @Test("7.2.3.1 and 7.2.3.2 frames as a client receives them")
    func rfcFrames() {
        let client = Self.session(.client)
        #expect(client.feed(T.hex("c1 07 f2 48 cd c9 c9 07 00")) == [.text(Self.hello)])
        #expect(client.feed(T.hex("c1 05 f2 00 11 00 00")) == [.text(Self.hello)])  // shared window
        #expect(client.feed(T.hex("41 03 f2 48 cd 80 04 c9 c9 07 00")) == [.text(Self.hello)])  // fragmented
        #expect(client.feedByteByByte(T.hex("c1 0b 00 05 00 fa ff 48 65 6c 6c 6f 00")) == [.text(Self.hello)])  // stored
        #expect(client.feed(T.hex("c1 08 f3 48 cd c9 c9 07 00 00")) == [.text(Self.hello)])  // BFINAL
        #expect(client.feed(T.hex("81 05 48 65 6c 6c 6f")) == [.text(Self.hello)])  // RSV1 clear: not compressed
    }

    @Test("a control frame between the compressed fragments of a message")
    func controlBetweenFragments() {
        let client = Self.session(.client)
        let events = client.feed(T.hex("41 03 f2 48 cd") + T.hex("89 02 68 69") + T.hex("80 04 c9 c9 07 00"))
        #expect(events == [.ping(Array("hi".utf8)), .text(Self.hello)])
    }

    // MARK: Rejections, exact close codes

    @Test("RSV1 when permessage-deflate was not negotiated: 1002")
    func rsv1WithoutNegotiation() {
        let client = clientSession()
        #expect(client.feed(T.hex("c1 07 f2 48 cd c9 c9 07 00")).last?.failureCode == 1002)
        #expect(client.takeOutputFrames().last?.closeCode == 1002)
    }

    @Test("RSV1 on a continuation or a control frame: 1002", arguments: [
        "41 03 f2 48 cd c0 04 c9 c9 07 00",  // RSV1 on the continuation
        "c9 02 68 69",                       // RSV1 on a ping
        "01 03 48 65 6c c0 02 6c 6f",         // RSV1 first seen on a continuation
    ])
    func rsv1Misplaced(hex: String) {
        let client = Self.session(.client)
        #expect(client.feed(T.hex(hex)).last?.failureCode == 1002)
    }

    @Test("UTF-8 is checked after inflating: invalid inflated text is 1007, valid text from non-UTF-8 compressed bytes passes")
    func utf8AfterInflating() throws {
        let server = PerMessageDeflate(parameters: .init(), role: .server, configuration: .init(compressionThreshold: 0))
        // f2 48 cd ... is not valid UTF-8 itself (0xf2 0x48): the message is "Hello" once inflated.
        let client = Self.session(.client)
        #expect(client.feed(T.hex("c1 07 f2 48 cd c9 c9 07 00")) == [.text(Self.hello)])
        // Invalid UTF-8 after inflating, whole and fragmented.
        let invalid: [UInt8] = Array("caf".utf8) + [0xC3, 0x28] + Array("é".utf8)
        let payload = try T.compress(server, invalid)
        var frameBytes: [UInt8] = []
        payload.withUnsafeBytes { FrameEncoder.encodeFrame(into: &frameBytes, rsv1: true, opcode: .text, payload: $0, maskKey: nil) }
        let fresh = Self.session(.client)
        #expect(fresh.feed(frameBytes).last?.failureCode == 1007)
        #expect(fresh.takeOutputFrames().last?.closeCode == 1007)
        // A text message whose inflated bytes end inside a character.
        let server2 = PerMessageDeflate(parameters: .init(), role: .server, configuration: .init(compressionThreshold: 0))
        let cut = try T.compress(server2, Array("caf".utf8) + [0xC3])
        var cutFrame: [UInt8] = []
        cut.withUnsafeBytes { FrameEncoder.encodeFrame(into: &cutFrame, rsv1: true, opcode: .text, payload: $0, maskKey: nil) }
        #expect(Self.session(.client).feed(cutFrame).last?.failureCode == 1007)
    }

    @Test("invalid UTF-8 inflated before a corruption is reported as 1007 however the input is split (fuzz-found)")
    func utf8BeforeCorruption() {
        let wire = T.hex("c1 07 f2 48 c9 07 c1 c9 05 9a f2 00 00 11 00 00")
        #expect(Self.session(.client).feed(wire).last?.failureCode == 1007)
        #expect(Self.session(.client).feed(wire, cutAt: [8]).last?.failureCode == 1007)
        #expect(Self.session(.client).feedByteByByte(wire).last?.failureCode == 1007)
    }

    @Test("a frame referring back past the negotiated window: same outcome whole, split or byte by byte (fuzz-found)")
    func windowOverrunDoesNotDependOnReads() throws {
        // The peer compresses with a 1 KiB window although we allowed 256 bytes: the second
        // copy of a 300-byte block is a back-reference beyond our window, inside one frame.
        // zlib only checks such references across inflate() calls, so the session inflates a
        // frame whole and the outcome depends on the peer's bytes alone, not on TCP's splits.
        let block = T.randomBytes(300, seed: 7)
        let wide = PerMessageDeflate(parameters: .init(serverMaxWindowBits: 10), role: .server,
                                     configuration: .init(compressionThreshold: 0))
        let payload = try T.compress(wide, block + block)
        var wire: [UInt8] = []
        payload.withUnsafeBytes { FrameEncoder.encodeFrame(into: &wire, rsv1: true, opcode: .binary, payload: $0, maskKey: nil) }
        let narrow = PerMessageDeflateParameters(serverMaxWindowBits: 8)
        let whole = Self.session(.client, narrow).feed(wire)
        #expect(whole == [.binary(block + block)])  // within one frame, zlib is lenient
        #expect(Self.session(.client, narrow).feed(wire, cutAt: [wire.count / 2]) == whole)
        #expect(Self.session(.client, narrow).feedByteByByte(wire) == whole)
    }

    @Test("a message inflating past maxMessageSize fails with 1009, whatever its size on the wire")
    func bombInSession() throws {
        // Level 9, as an attacker would compress it (our default level 3 matches greedily: 18 KiB).
        let server = PerMessageDeflate(parameters: .init(), role: .server, configuration: .init(compressionLevel: 9, compressionThreshold: 0))
        let payload = try T.compress(server, [UInt8](repeating: 0x41, count: 4 << 20))
        #expect(payload.count < 8 << 10)
        var frameBytes: [UInt8] = []
        payload.withUnsafeBytes { FrameEncoder.encodeFrame(into: &frameBytes, rsv1: true, opcode: .text, payload: $0, maskKey: nil) }
        let client = Self.session(.client) { $0.maxMessageSize = 1 << 20 }
        #expect(client.feed(frameBytes).last?.failureCode == 1009)
        #expect(client.takeOutputFrames().last?.closeCode == 1009)
        // Exactly at the limit passes.
        let exact = Self.session(.client) { $0.maxMessageSize = 4 << 20 }
        #expect(exact.feed(frameBytes).count == 1)
        #expect(exact.state == .open)
    }

    @Test("corrupt compressed data fails with 1002")
    func corruptInSession() {
        let client = Self.session(.client)
        #expect(client.feed(T.hex("c2 03 ff ff ff")).last?.failureCode == 1002)
        #expect(client.takeOutputFrames().last?.closeCode == 1002)
    }

    // MARK: Sending

    @Test("sending: RSV1 on compressed messages' first frame only; threshold; control frames never compressed")
    func sendingFrames() throws {
        let server = Session(configuration: SessionConfiguration(role: .server), perMessageDeflate: PerMessageDeflate(
            parameters: .init(), role: .server, configuration: .init(compressionThreshold: 64)))
        try server.send(text: "short")  // below the threshold
        let long = String(repeating: "compress me please ", count: 20)
        try server.send(text: long)
        try server.sendFragment(.binary, T.textBytes(1000, seed: 1), isFinal: false)
        try server.sendPing(Array("ping".utf8))
        try server.sendFragment(.binary, T.textBytes(1000, seed: 2), isFinal: false)
        try server.sendFragment(.binary, [], isFinal: true)
        let frames = server.takeOutputFrames()
        #expect(frames.map(\.opcode) == [.text, .text, .binary, .ping, .continuation, .continuation])
        #expect(frames.map(\.rsv1) == [false, true, true, false, false, false])
        #expect(frames[0].payload == Array("short".utf8))
        #expect(frames[1].payload.count < long.utf8.count / 4)
        #expect(frames[3].payload == Array("ping".utf8))
        // And a peer makes sense of all of it.
        let client = Self.session(.client)
        var bytes: [UInt8] = []
        for frame in frames {
            frame.payload.withUnsafeBytes {
                FrameEncoder.encodeFrame(into: &bytes, isFinal: frame.isFinal, rsv1: frame.rsv1, opcode: frame.opcode, payload: $0, maskKey: nil)
            }
        }
        #expect(client.feed(bytes) == [.text(Array("short".utf8)), .text(Array(long.utf8)), .ping(Array("ping".utf8)),
                                        .binary(T.textBytes(1000, seed: 1) + T.textBytes(1000, seed: 2))])
    }

    // MARK: Round trips through handshake and sessions, every parameter combination

    static let clientConfigurations: [PerMessageDeflateConfiguration] = {
        var all: [PerMessageDeflateConfiguration] = []
        for local in [8, 11, 15] {
            for remote in [nil, 9, 12] as [Int?] {
                for localReset in [false, true] {
                    for remoteReset in [false, true] {
                        all.append(.init(localMaxWindowBits: local, remoteMaxWindowBits: remote, localNoContextTakeover: localReset,
                                         remoteNoContextTakeover: remoteReset, compressionThreshold: 32))
                    }
                }
            }
        }
        return all
    }()

    static let serverConfigurations: [PerMessageDeflateConfiguration] = [
        .init(), .maximumCompression, .disabled,
        .init(localMaxWindowBits: 8, remoteMaxWindowBits: 8, compressionThreshold: 0),
        .init(localNoContextTakeover: true, remoteNoContextTakeover: true, compressionThreshold: 16),
        .init(localMaxWindowBits: 10, remoteMaxWindowBits: nil, localNoContextTakeover: true),
        .init(localMaxWindowBits: 15, remoteMaxWindowBits: 9, remoteNoContextTakeover: true, memoryLevel: 9, compressionLevel: 1),
    ]

    @Test("client session <-> server session with compression, every parameter combination", arguments: clientConfigurations)
    func sessionRoundTrip(clientConfiguration: PerMessageDeflateConfiguration) throws {
        // (bytes, is text): empty, below and above the threshold, random (incompressible), and
        // repeated 3000- and 600-byte blocks that refer back into the previous message.
        let messages: [([UInt8], Bool)] = [([], false), (Array("hi".utf8), true), (T.textBytes(100, seed: 1), true),
                                           (T.randomBytes(3000, seed: 2), false), (T.randomBytes(3000, seed: 2), false),
                                           (T.textBytes(3000, seed: 3), true), (T.textBytes(70_000, seed: 4), true),
                                           (T.randomBytes(600, seed: 5), false), (T.randomBytes(600, seed: 5), false)]
        for serverConfiguration in Self.serverConfigurations {
            let (client, server, parameters) = try Self.connect(client: clientConfiguration, server: serverConfiguration)
            #expect((parameters != nil) == serverConfiguration.isEnabled)
            for (index, (message, isText)) in messages.enumerated() {
                // Whole messages both ways.
                try client.sendMessage(isText ? .text : .binary, message)
                try server.sendMessage(isText ? .text : .binary, message)
                // The same message in three fragments from each side.
                let cut = [message.count / 3, 2 * message.count / 3]
                for sender in [client, server] {
                    try sender.sendFragment(isText ? .text : .binary, Array(message[..<cut[0]]), isFinal: false)
                    try sender.sendFragment(isText ? .text : .binary, Array(message[cut[0]..<cut[1]]), isFinal: false)
                    try sender.sendFragment(isText ? .text : .binary, Array(message[cut[1]...]), isFinal: true)
                }
                if parameters != nil && message.count == 70_000 {
                    // Compression really happened: both copies of 70 kB of text fit in less than one.
                    #expect(server.pendingOutputCount < message.count, "server \(serverConfiguration)")
                }
                let expected: RecordedEvent = isText ? .text(message) : .binary(message)
                let (clientEvents, serverEvents) = pump(client, server)
                let ok = clientEvents == [expected, expected] && serverEvents == [expected, expected]
                #expect(ok, "message \(index), client \(clientConfiguration), server \(serverConfiguration): \(clientEvents) / \(serverEvents)")
            }
            try client.close()
            let (clientEvents, serverEvents) = pump(client, server)
            #expect(serverEvents == [.closeReceived(code: 1000, reason: "")])
            #expect(clientEvents == [.closeReceived(code: 1000, reason: "")])
        }
    }

    @Test("compressed messages split at every byte and in streaming mode")
    func chunkedAndStreaming() throws {
        let message = T.textBytes(5000, seed: 11)
        let sender = Self.session(.server)
        try sender.sendFragment(.text, Array(message[..<2000]), isFinal: false)
        try sender.sendFragment(.text, Array(message[2000...]), isFinal: true)
        let wire = sender.takeOutput()
        #expect(Self.session(.client).feedByteByByte(wire) == [.text(message)])
        // Streaming: one event per frame with inflated bytes.
        let streaming = Self.session(.client) { $0.streamingThreshold = 10 }
        let events = streaming.feed(wire)
        let joined = events.flatMap { event -> [UInt8] in
            if case .fragment(_, let bytes, _, _) = event { return bytes }
            return []
        }
        #expect(joined == message)
        #expect(events.count == 2)
    }

    @Test("client refuses a server answer it cannot accept: invalidExtensionResponse")
    func clientRefusesAnswer() throws {
        // With the announced window 12, a server's 15 breaks the promise it was offered.
        let announced = PerMessageDeflateConfiguration(announcesLocalMaxWindowBits: true)
        var clientHandshake = try ClientHandshake(
            host: "127.0.0.1", extensions: PerMessageDeflateNegotiation.clientOffers(configuration: announced))
        var serverHandshake = ServerHandshake()
        let request = try #require(feed(clientHandshake.requestBytes) { c throws(HandshakeError) in try serverHandshake.receive(c) }.value)
        let bad = ExtensionOffer(name: "permessage-deflate", parameters: [.init("client_max_window_bits", "15")])
        let response = try request.acceptResponse(extensions: [bad])
        let answer = try #require(feed(response) { c throws(HandshakeError) in try clientHandshake.receive(c) }.value)
        #expect(throws: HandshakeError(.invalidExtensionResponse, "permessage-deflate response refused: windowTooLarge (client_max_window_bits)")) {
            try answer.perMessageDeflateParameters(offeredWith: announced)
        }
    }

    @Test("default client accepts a server that answers client_max_window_bits=15 and still compresses with 12")
    func clientAcceptsFieldAnswer() throws {
        var clientHandshake = try ClientHandshake(
            host: "127.0.0.1", extensions: PerMessageDeflateNegotiation.clientOffers(configuration: .init()))
        var serverHandshake = ServerHandshake()
        let request = try #require(feed(clientHandshake.requestBytes) { c throws(HandshakeError) in try serverHandshake.receive(c) }.value)
        #expect(request.headers.first("Sec-WebSocket-Extensions")?.contains("client_max_window_bits=") == false)
        let answerFromTheField = ExtensionOffer(name: "permessage-deflate", parameters: [.init("client_max_window_bits", "15")])
        let response = try request.acceptResponse(extensions: [answerFromTheField])
        let answer = try #require(feed(response) { c throws(HandshakeError) in try clientHandshake.receive(c) }.value)
        let parameters = try #require(try answer.perMessageDeflateParameters(offeredWith: .init()))
        #expect(parameters.clientMaxWindowBits == 15)
        let codec = PerMessageDeflate(parameters: parameters, role: .client, configuration: .init())
        #expect(codec.compressionWindowBits == 12)
    }
}

extension Session {
    /// Sends a whole message given as an array.
    func sendMessage(_ kind: MessageKind, _ bytes: [UInt8]) throws(SessionError) {
        let result = bytes.withUnsafeBytes { raw in
            Result { () throws(SessionError) in kind == .text ? try send(text: raw) : try send(binary: raw) }
        }
        try result.get()
    }

    /// Sends a ping given as an array.
    func sendPing(_ bytes: [UInt8]) throws(SessionError) {
        let result = bytes.withUnsafeBytes { raw in Result { () throws(SessionError) in try ping(raw) } }
        try result.get()
    }

    /// Sends a fragment given as an array.
    func sendFragment(_ kind: MessageKind, _ bytes: [UInt8], isFinal: Bool) throws(SessionError) {
        let result = bytes.withUnsafeBytes { raw in
            Result { () throws(SessionError) in try sendFragment(kind, raw, isFinal: isFinal) }
        }
        try result.get()
    }
}
