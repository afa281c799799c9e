import SwiftWSCore
import SwiftWSEndpoints
import SwiftWSTransport

/// The part of an `AsyncWebSocket` that lives on its loop thread: tasks waiting for the drain
/// (backpressure) and for pongs (`ping()`), and the server (for topics).
///
/// `@unchecked Sendable`: the `AsyncWebSocket` (Sendable) holds it so that work it posts to the
/// loop can reach it, but every method runs on the connection's loop thread only — inside
/// `ConnectionHandle.withConnection` work or the connection's handlers — so no two threads ever
/// touch its state.
final class SocketLoopSide: @unchecked Sendable {
    /// The server the connection belongs to (server side), for topics.
    weak var server: WebSocketServer?
    /// The connection, for calls made on its loop thread (`AsyncWebSocket.onConnection`).
    weak var connection: WebSocketConnection?
    private var drainWaiters: [(WebSocketError?) -> Void] = []
    private var pingWaiters: [(id: UInt64, sentAt: UInt64, resume: (Result<Duration, WebSocketError>) -> Void)] = []
    private var pingCounter: UInt64 = 0
    private var endedWith: WebSocketError?

    /// Runs `resume` (nil: drained) once the connection's buffered output has been written, or
    /// with the error once it closed.
    func waitForDrain(_ resume: @escaping (WebSocketError?) -> Void) {
        if let endedWith { return resume(endedWith) }
        drainWaiters.append(resume)
    }

    /// The connection wrote everything it held.
    func drained() {
        let waiters = drainWaiters
        drainWaiters.removeAll()
        for waiter in waiters { waiter(nil) }
    }

    /// A new ping payload: 8 bytes counting up, so each pong says which ping it answers.
    func nextPingPayload() -> [UInt8] {
        pingCounter &+= 1
        return withUnsafeBytes(of: pingCounter.bigEndian) { Array($0) }
    }

    /// Runs `resume` with the round-trip time once the pong for `payload` (or a later one) comes.
    func waitForPong(_ payload: [UInt8], _ resume: @escaping (Result<Duration, WebSocketError>) -> Void) {
        if let endedWith { return resume(.failure(endedWith)) }
        pingWaiters.append((id: Self.pingID(payload) ?? 0, sentAt: MonotonicClock.now(), resume: resume))
    }

    /// A pong arrived: it answers its ping and every earlier one. Pongs we did not ask for (a
    /// peer's heartbeat) match nothing.
    func pongReceived(_ payload: UnsafeRawBufferPointer) {
        guard let id = Self.pingID(Array(payload)), id <= pingCounter else { return }
        let now = MonotonicClock.now()
        let answered = pingWaiters.filter { $0.id <= id }
        pingWaiters.removeAll { $0.id <= id }
        for waiter in answered { waiter.resume(.success(.nanoseconds(Int64(now &- waiter.sentAt)))) }
    }

    /// The connection closed: every waiter gets `error`, and so does every later one.
    func closed(_ error: WebSocketError) {
        endedWith = error
        let drains = drainWaiters
        let pings = pingWaiters
        drainWaiters.removeAll()
        pingWaiters.removeAll()
        for waiter in drains { waiter(error) }
        for waiter in pings { waiter.resume(.failure(error)) }
    }

    private static func pingID(_ payload: [UInt8]) -> UInt64? {
        guard payload.count == 8 else { return nil }
        return payload.reduce(0) { $0 << 8 | UInt64($1) }
    }
}
