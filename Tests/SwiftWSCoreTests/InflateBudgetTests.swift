import Testing
@testable import SwiftWSCore

/// A client sends compressed messages; the server session inflates them with a small budget per
/// call. The work one call may cost is bounded, and stopping never changes what is delivered.
@Suite("Inflate budget: bounded work per receive call, resumed later (decompression bombs)")
struct InflateBudgetTests {
    /// A compressing client and a server session with `budget` and `maxMessageSize`. The client
    /// compresses at level 9, as a peer making a bomb would (our default level 3 matches greedily
    /// and makes runs of zeros about 4 times larger).
    static func pair(budget: Int, maxMessageSize: Int = 16 << 20) -> (client: Session, server: Session) {
        let parameters = PerMessageDeflateParameters()
        var clientConfiguration = SessionConfiguration(role: .client)
        clientConfiguration.maxMessageSize = maxMessageSize
        var serverConfiguration = SessionConfiguration(role: .server)
        serverConfiguration.inflateBudget = budget
        serverConfiguration.maxMessageSize = maxMessageSize
        serverConfiguration.maxFrameSize = maxMessageSize
        let client = Session(configuration: clientConfiguration, perMessageDeflate: PerMessageDeflate(
            parameters: parameters, role: .client, configuration: .init(compressionLevel: 9, compressionThreshold: 0)))
        let server = Session(configuration: serverConfiguration, perMessageDeflate: PerMessageDeflate(
            parameters: parameters, role: .server, configuration: .init(compressionThreshold: 0)))
        return (client, server)
    }

    /// The wire bytes of `messages` sent by a compressing client.
    static func wire(_ messages: [[UInt8]], from client: Session) throws -> [UInt8] {
        for message in messages { try message.withUnsafeBytes { try client.send(binary: $0) } }
        return client.takeOutput()
    }

    @Test func aBombInflatesOneBudgetPerCallAndArrivesWholeAfterResumes() throws {
        let (client, server) = Self.pair(budget: 1 << 20)
        let message = [UInt8](repeating: 0, count: 8 << 20)  // 8 MiB of zeros: ~8 KiB compressed
        let bytes = try Self.wire([message], from: client)
        #expect(bytes.count < 16 << 10)
        var events: [RecordedEvent] = []
        server.receive(bytes) { events.append(RecordedEvent($0)) }
        #expect(events.isEmpty && server.hasDeferredWork)
        #expect(server.bufferedInputCount <= (1 << 20) + bytes.count)  // one slice inflated, the rest kept compressed
        var resumes = 0
        while server.hasDeferredWork {
            server.resume { events.append(RecordedEvent($0)) }
            resumes += 1
        }
        // 8 slices of 1 MiB: the first in receive, seven more; the message ends exactly on a
        // boundary, where zlib may still hold output, so one more call finds the end.
        #expect(resumes == 8)
        #expect(events == [.binary(message)])
    }

    @Test func aBombPastTheLimitFails1009AfterAtMostLimitBytesOfWork() throws {
        let (client, _) = Self.pair(budget: 1 << 20)
        let (_, server) = Self.pair(budget: 1 << 20, maxMessageSize: 3 << 20)
        let bytes = try Self.wire([[UInt8](repeating: 7, count: 16 << 20)], from: client)
        var events: [RecordedEvent] = []
        server.receive(bytes) { events.append(RecordedEvent($0)) }
        var resumes = 0
        while server.hasDeferredWork {
            server.resume { events.append(RecordedEvent($0)) }
            resumes += 1
        }
        #expect(events.map(\.failureCode) == [1009])
        #expect(resumes <= 3)
        #expect(server.takeOutputFrames().first?.closeCode == 1009)
    }

    @Test func inputBehindASuspendedMessageWaitsInOrder() throws {
        let (client, server) = Self.pair(budget: 64 << 10)
        let big = [UInt8](repeating: 1, count: 300 << 10)
        let bytes = try Self.wire([big, Array("after".utf8), big], from: client)
        var events: [RecordedEvent] = []
        // In two reads: the second arrives while the first is still suspended.
        let half = bytes.count / 2
        server.receive(Array(bytes[..<half])) { events.append(RecordedEvent($0)) }
        #expect(server.hasDeferredWork)
        server.receive(Array(bytes[half...])) { events.append(RecordedEvent($0)) }
        server.finishDeferredWork { events.append(RecordedEvent($0)) }
        #expect(events == [.binary(big), .binary(Array("after".utf8)), .binary(big)])
    }

    @Test func manySmallBombsInOneReadShareOneBudget() throws {
        let (client, server) = Self.pair(budget: 1 << 20)
        let message = [UInt8](repeating: 0, count: 512 << 10)
        let bytes = try Self.wire(Array(repeating: message, count: 6), from: client)
        var events: [RecordedEvent] = []
        server.receive(bytes) { events.append(RecordedEvent($0)) }
        #expect(events.count == 2 && server.hasDeferredWork)  // 1 MiB of work, then a stop
        server.finishDeferredWork { events.append(RecordedEvent($0)) }
        #expect(events == Array(repeating: .binary(message), count: 6))
    }

    @Test func theSplitIntoReadsNeverChangesTheEvents() throws {
        let messages: [[UInt8]] = [
            [UInt8](repeating: 3, count: 200 << 10), Array("small".utf8),
            (0..<(150 << 10)).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ $0 >> 7) },
        ]
        var reference: [RecordedEvent]?
        for cutCount in [0, 1, 7, 40] {
            let (client, server) = Self.pair(budget: 32 << 10)
            let bytes = try Self.wire(messages, from: client)
            let cuts = (0..<cutCount).map { bytes.count * ($0 + 1) / (cutCount + 1) }
            let events = server.feed(bytes, cutAt: cuts)
            if let reference { #expect(events == reference) } else { reference = events }
        }
        #expect(reference == messages.map { .binary($0) })
    }
}
