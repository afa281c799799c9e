import Testing
@testable import SwiftWSCore

/// Sessions sharing a `ReassemblyPool` reuse the storage of large messages for the next ones,
/// deliver the same messages as without it, and the pool stays within its bounds.
@Suite("Session: the reassembly pool")
struct ReassemblyPoolTests {
    func payload(_ size: Int, _ seed: UInt8) -> [UInt8] {
        (0..<size).map { UInt8(truncatingIfNeeded: $0 &* 7 &+ Int(seed)) }
    }

    /// Feeds one binary message of `size` bytes as one frame cut into 64 KiB reads.
    func receive(_ session: Session, size: Int, seed: UInt8) {
        let message = payload(size, seed)
        let wire = frame(0x2, message)
        let events = session.feed(wire, cutAt: Array(stride(from: 65_536, to: wire.count, by: 65_536)))
        #expect(events == [.binary(message)], "the message arrives whole and unchanged")
    }

    func server(_ pool: ReassemblyPool?, maxMessageSize: Int = 16 << 20) -> Session {
        var configuration = SessionConfiguration(role: .server)
        configuration.maxMessageSize = maxMessageSize
        return Session(configuration: configuration, reassemblyPool: pool)
    }

    @Test func aLargeMessageReusesTheStorageOfTheLastOne() {
        let pool = ReassemblyPool()
        let first = server(pool), second = server(pool)
        receive(first, size: 1 << 20, seed: 1)
        let kept = pool.heldCapacity
        #expect(kept >= 1 << 20, "the message's storage is kept, not freed")
        #expect(first.heldCapacity <= Session.retainedReassemblyCapacity, "the session itself stays small")
        // The next large message takes it as soon as it outgrows the retained capacity…
        let message = payload(1 << 20, 2)
        let wire = frame(0x2, message)
        #expect(second.feed(Array(wire[..<(512 << 10)])) == [])
        #expect(pool.heldCapacity == 0, "taken by the message in progress")
        #expect(second.heldCapacity == kept)
        // …and gives it back when it ends.
        #expect(second.feed(Array(wire[(512 << 10)...])) == [.binary(message)])
        #expect(pool.heldCapacity == kept)
        receive(second, size: 100, seed: 3)  // small messages do not touch it
        #expect(pool.heldCapacity == kept)
    }

    /// Large messages in progress on several sessions at once: each finishes intact, each takes
    /// storage for its whole frame once (its first piece is never moved by a growth), gives it
    /// back when it ends, and the next large message takes one of those instead of new memory.
    @Test func messagesInProgressTogetherShareWhatIsGivenBack() {
        let pool = ReassemblyPool()
        let sessions = (0..<3).map { _ in server(pool) }
        let messages = (0..<3).map { payload(1 << 20, UInt8($0)) }
        let wires = messages.map { frame(0x2, $0) }
        for (session, wire) in zip(sessions, wires) {
            #expect(session.feed(Array(wire[..<(600 << 10)])) == [])
            #expect(session.heldCapacity >= 1 << 20, "storage for the whole frame, taken at its first piece")
        }
        let held = sessions.map(\.heldCapacity).reduce(0, +)
        for (index, session) in sessions.enumerated() {
            #expect(session.feed(Array(wires[index][(600 << 10)...])) == [.binary(messages[index])])
        }
        #expect(pool.heldCapacity == held, "every buffer given back")
        let next = server(pool)
        #expect(next.feed(Array(wires[0][..<(64 << 10)])) == [])
        #expect(pool.heldCapacity == held - next.heldCapacity, "the next large message took a kept buffer")
        #expect(next.heldCapacity >= 1 << 20)
    }

    @Test func thePoolStaysWithinItsBounds() {
        // A buffer over the per-buffer bound is freed.
        let pool = ReassemblyPool()
        receive(server(pool), size: ReassemblyPool.maximumBufferCapacity + 1, seed: 4)
        #expect(pool.heldCapacity == 0)
        // Many large messages at once: the pool keeps no more than its total bound.
        let sessions = (0..<20).map { _ in server(pool) }
        let message = payload(1 << 20, 5)
        let wire = frame(0x2, message)
        for session in sessions { #expect(session.feed(Array(wire[..<(600 << 10)])) == []) }
        for session in sessions { #expect(session.feed(Array(wire[(600 << 10)...])) == [.binary(message)]) }
        #expect(pool.heldCapacity > 0 && pool.heldCapacity <= ReassemblyPool.maximumHeldCapacity)
    }

    @Test func withoutAPoolStorageIsFreedAsBefore() {
        let session = server(nil)
        receive(session, size: 1 << 20, seed: 6)
        #expect(session.heldCapacity <= Session.retainedReassemblyCapacity)
    }
}
