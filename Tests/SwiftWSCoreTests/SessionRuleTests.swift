import Testing
@testable import SwiftWSCore

/// Each rejection: the exact close code in the `.failed` event, in `closeStatus`, and in the one
/// close frame queued; the session is closed and ignores later input.
func expectFailure(_ session: Session, after input: [UInt8], code: UInt16, sourceLocation: SourceLocation = #_sourceLocation) {
    let events = session.feed(input)
    #expect(events.last?.failureCode == code, "events: \(events)", sourceLocation: sourceLocation)
    #expect(events.filter { $0.failureCode != nil }.count == 1, sourceLocation: sourceLocation)
    #expect(session.closeStatus?.code.rawValue == code, sourceLocation: sourceLocation)
    #expect(session.state == .closed && session.shouldCloseTransport && session.closesTransportFirst, sourceLocation: sourceLocation)
    let frames = session.takeOutputFrames().filter { $0.opcode == .close }
    #expect(frames.count == 1, sourceLocation: sourceLocation)
    #expect(frames.first?.closeCode == code, sourceLocation: sourceLocation)
    // Later input is ignored, and no second close frame is sent.
    #expect(session.feed(frame(0x1, hello, maskKey: session.configuration.role == .server ? 1 : nil)).isEmpty, sourceLocation: sourceLocation)
    #expect(session.pendingOutputCount == 0, sourceLocation: sourceLocation)
    #expect(throws: SessionError.closed, sourceLocation: sourceLocation) { try hello.withUnsafeBytes { try session.send(binary: $0) } }
}

@Suite("Session: framing rules (RFC 6455 5.1, 5.2, 5.4, 5.5)")
struct SessionFramingRuleTests {
    @Test func serverFailsUnmaskedClientFrame() {
        expectFailure(serverSession(), after: frame(0x1, hello, maskKey: nil), code: 1002)
    }

    @Test func clientFailsMaskedServerFrame() {
        expectFailure(clientSession(), after: frame(0x1, hello, maskKey: 7), code: 1002)
    }

    @Test(arguments: [0x40, 0x20, 0x10] as [UInt8])
    func reservedBitsWithoutExtensionFail(bit: UInt8) {
        var bytes = frame(0x1, hello)
        bytes[0] |= bit
        expectFailure(serverSession(), after: bytes, code: 1002)
    }

    @Test func rsv1IsAcceptedOnAFirstDataFrameWhenAllowed() {
        let session = serverSession { $0.allowsRSV1 = true }
        #expect(session.feed(frame(0x2, hello, rsv1: true)) == [.binary(hello)])
    }

    @Test func rsv1OnContinuationOrControlFailsEvenWhenAllowed() {
        expectFailure(serverSession { $0.allowsRSV1 = true },
                      after: frame(0x2, hello, fin: false, rsv1: true) + frame(0x0, hello, rsv1: true), code: 1002)
        expectFailure(serverSession { $0.allowsRSV1 = true }, after: frame(0x9, hello, rsv1: true), code: 1002)
    }

    @Test(arguments: [0x3, 0x4, 0x5, 0x6, 0x7, 0xB, 0xC, 0xD, 0xE, 0xF] as [UInt8])
    func reservedOpcodesFail(opcode: UInt8) {
        expectFailure(serverSession(), after: frame(opcode, hello), code: 1002)
    }

    @Test func controlFrameLongerThan125Fails() {
        expectFailure(serverSession(), after: frame(0x9, [UInt8](repeating: 1, count: 126)), code: 1002)
        expectFailure(serverSession(), after: frame(0xA, [UInt8](repeating: 1, count: 126)), code: 1002)
        expectFailure(serverSession(), after: frame(0x8, [3, 232] + [UInt8](repeating: 65, count: 124)), code: 1002)
    }

    @Test func controlFrameOf125BytesIsFine() {
        let payload = [UInt8](repeating: 1, count: 125)
        #expect(serverSession().feed(frame(0x9, payload)) == [.ping(payload)])
    }

    @Test func fragmentedControlFrameFails() {
        expectFailure(serverSession(), after: frame(0x9, hello, fin: false), code: 1002)
    }

    @Test func continuationWithoutMessageFails() {
        expectFailure(serverSession(), after: frame(0x0, hello), code: 1002)
        // Also right after a complete message.
        expectFailure(serverSession(), after: frame(0x1, hello) + frame(0x0, hello), code: 1002)
    }

    @Test func newDataFrameInsideFragmentedMessageFails() {
        expectFailure(serverSession(), after: frame(0x1, hello, fin: false) + frame(0x2, hello), code: 1002)
        expectFailure(serverSession(), after: frame(0x2, hello, fin: false) + frame(0x2, hello, fin: false), code: 1002)
    }

    @Test func sixtyFourBitLengthWithMSBSetFails() {
        expectFailure(serverSession(), after: [0x82, 0xFF, 0x80, 0, 0, 0, 0, 0, 0, 1, 1, 2, 3, 4], code: 1002)
    }

    @Test func controlFramesBetweenFragmentsAreDelivered() {
        let input = frame(0x1, Array("Hel".utf8), fin: false) + frame(0x9, [7]) + frame(0xA, [8])
            + frame(0x0, Array("lo".utf8))
        let session = serverSession()
        #expect(session.feed(input) == [.ping([7]), .pong([8]), .text(hello)])
        #expect(session.takeOutputFrames() == [WireFrame(opcode: .pong, isFinal: true, payload: [7])])
    }

    @Test func emptyMessagesAndEmptyFragments() {
        let input = frame(0x1, []) + frame(0x2, [], fin: false) + frame(0x0, [], fin: false) + frame(0x0, [])
        #expect(serverSession().feed(input) == [.text([]), .binary([])])
    }

    @Test func autoPongCanBeTurnedOff() {
        let session = serverSession { $0.autoPong = false }
        #expect(session.feed(frame(0x9, hello)) == [.ping(hello)])
        #expect(session.pendingOutputCount == 0)
    }
}

@Suite("Session: limits (1009) and UTF-8 (1007)")
struct SessionLimitTests {
    @Test func frameLargerThanMaxFrameSizeFailsAtTheHeader() {
        let session = serverSession { $0.maxFrameSize = 1000 }
        // Only the header of a 1001-byte frame: the failure comes before any payload.
        expectFailure(session, after: Array(frame(0x2, [UInt8](repeating: 0, count: 1001)).prefix(8)), code: 1009)
    }

    @Test func messageLargerThanMaxMessageSizeFailsBeforeBuffering() {
        let session = serverSession { $0.maxMessageSize = 100 }
        #expect(session.feed(frame(0x2, [UInt8](repeating: 0, count: 60), fin: false)).isEmpty)
        expectFailure(session, after: Array(frame(0x0, [UInt8](repeating: 0, count: 41)).prefix(6)), code: 1009)
    }

    @Test func messageOfExactlyMaxMessageSizeIsAccepted() {
        let session = serverSession { $0.maxMessageSize = 100 }
        let input = frame(0x2, [UInt8](repeating: 1, count: 60), fin: false) + frame(0x0, [UInt8](repeating: 1, count: 40))
        #expect(session.feed(input) == [.binary([UInt8](repeating: 1, count: 100))])
    }

    @Test func tooManyFragmentsFail() {
        let session = serverSession { $0.maxFragmentsPerMessage = 3 }
        let input = frame(0x2, [1], fin: false) + frame(0x0, [2], fin: false) + frame(0x0, [3], fin: false) + frame(0x0, [4])
        expectFailure(session, after: input, code: 1009)
    }

    @Test func defaultsCarryAutobahn9LargeFragmentedMessage() {
        // 4 MiB in 64-byte fragments: 65,536 frames.
        let session = serverSession()
        var input: [UInt8] = []
        input.reserveCapacity(65536 * 74)
        let chunk = [UInt8](repeating: 0x61, count: 64)
        for index in 0..<65536 {
            input += frame(index == 0 ? 0x1 : 0x0, chunk, fin: index == 65535)
        }
        let events = session.feed(input)
        #expect(events.count == 1)
        if case .text(let bytes) = events.first { #expect(bytes.count == 4 << 20) } else { Issue.record("\(events)") }
    }

    @Test func invalidUTF8InTextFails() {
        expectFailure(serverSession(), after: frame(0x1, [0x48, 0xC0, 0x80]), code: 1007)
    }

    @Test func invalidUTF8FailsMidFragmentBeforeTheMessageEnds() {
        // The first fragment alone already cannot be valid: fail without waiting for the rest.
        expectFailure(serverSession(), after: frame(0x1, [0x48, 0xF4, 0x90], fin: false), code: 1007)
    }

    @Test func invalidUTF8FailsMidFrameBeforeTheFrameEnds() {
        let session = serverSession()
        let input = frame(0x1, [0x48, 0xED, 0xA0] + [UInt8](repeating: 0x41, count: 100))
        // Only the header and the first 3 payload bytes.
        expectFailure(session, after: Array(input.prefix(2 + 4 + 3)), code: 1007)
    }

    @Test func textEndingInsideASequenceFails() {
        expectFailure(serverSession(), after: frame(0x1, [0x48, 0xE2, 0x82]), code: 1007)
    }

    @Test func characterSplitAcrossFragmentsIsValid() {
        let euro: [UInt8] = [0xE2, 0x82, 0xAC]
        let input = frame(0x1, [euro[0]], fin: false) + frame(0x0, [euro[1]], fin: false) + frame(0x0, [euro[2]])
        #expect(serverSession().feed(input) == [.text(euro)])
    }

    @Test func binaryIsNotValidated() {
        #expect(serverSession().feed(frame(0x2, [0xC0, 0xFF])) == [.binary([0xC0, 0xFF])])
    }
}

@Suite("Session: streaming delivery")
struct SessionStreamingTests {
    @Test func largeMessagesAreDeliveredFrameByFrame() {
        let session = serverSession { $0.streamingThreshold = 10 }
        let input = frame(0x1, Array("abc".utf8), fin: false) + frame(0x0, Array("defghijkl".utf8), fin: false)
            + frame(0x9, [1]) + frame(0x0, Array("mn".utf8)) + frame(0x1, Array("small".utf8))
        let expected: [RecordedEvent] = [
            .fragment(.text, Array("abc".utf8), isFirst: true, isFinal: false),      // gathered before the threshold
            .fragment(.text, Array("defghijkl".utf8), isFirst: false, isFinal: false),
            .ping([1]),
            .fragment(.text, Array("mn".utf8), isFirst: false, isFinal: true),
            .text(Array("small".utf8)),
        ]
        #expect(session.feed(input) == expected)
        #expect(serverSession { $0.streamingThreshold = 10 }.feedByteByByte(input) == expected)
    }

    @Test func singleLargeFrameIsOneFirstAndFinalFragment() {
        let payload = [UInt8](repeating: 2, count: 50)
        #expect(serverSession { $0.streamingThreshold = 10 }.feed(frame(0x2, payload))
                == [.fragment(.binary, payload, isFirst: true, isFinal: true)])
    }

    @Test func fragmentedMessagesAreStreamedWhenAskedWhateverTheirSize() {
        // Off: reassembled. On: each frame of a fragmented message as it comes (a UTF-8
        // character split across frames included); a single-frame message still whole. The
        // switch applies from the next message on.
        let fragmented = frame(0x1, [0x61, 0xC3], fin: false) + frame(0x0, [0xA9])
        let session = serverSession()
        #expect(session.feed(fragmented) == [.text([0x61, 0xC3, 0xA9])])
        session.streamsFragmentedMessages = true
        let expected: [RecordedEvent] = [
            .fragment(.text, [0x61, 0xC3], isFirst: true, isFinal: false),
            .fragment(.text, [0xA9], isFirst: false, isFinal: true),
            .binary([1, 2]),
        ]
        #expect(session.feed(fragmented + frame(0x2, [1, 2])) == expected)
        let byteByByte = serverSession()
        byteByByte.streamsFragmentedMessages = true
        #expect(byteByByte.feedByteByByte(fragmented + frame(0x2, [1, 2])) == expected)
    }

    @Test func streamedTextIsStillValidatedIncrementally() {
        let session = serverSession { $0.streamingThreshold = 0 }
        let events = session.feed(frame(0x1, Array("ok".utf8), fin: false) + frame(0x0, [0xFF], fin: false))
        #expect(events == [.fragment(.text, Array("ok".utf8), isFirst: true, isFinal: false),
                           .failed(code: 1007, reason: "invalid UTF-8 in text")])
    }
}
