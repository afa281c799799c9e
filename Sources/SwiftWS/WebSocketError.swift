import SwiftWSCore
import SwiftWSEndpoints

/// The one error type of the async API: every `throws(WebSocketError)` says which of these cases
/// it can produce. The underlying reasons are the lower layers' own values (`CloseStatus`,
/// `SessionError`, `ClientError`, `NetworkError`), not new copies of them.
public enum WebSocketError: Error, Sendable, Hashable, CustomStringConvertible {
    /// The connection is closed or closing, so nothing more can be sent or received. `status` is
    /// how it closed (the peer's code and reason, the code we failed with, 1005 or 1006); while the
    /// close handshake is still under way it is the close we asked for, or 1006 "closing" when the
    /// peer started it. A `for try await` loop over `messages` ends without this error when the
    /// status is 1000 or 1001.
    case closed(CloseStatus)
    /// The frame or message was invalid and nothing was sent: a ping payload over 125 bytes, a
    /// whole message while a fragmented one is unfinished, text fragments that are not UTF-8.
    case invalid(SessionError)
    /// The connection's `maxBufferedAmount` applied (`ConnectionOptions.backpressurePolicy`):
    /// the message was not sent. `send` suspends at the high-water mark first, so this happens
    /// only when several tasks send at once past the limit.
    case dropped
    /// A client could not open its connection: bad URL, name resolution, TCP, TLS or handshake.
    case connectFailed(ClientError)
    /// A server could not start: the host did not resolve, bind or listen failed, or its TLS
    /// configuration cannot be used.
    case listenFailed(NetworkError)
    /// The `EventLoopThread` the call needs has stopped.
    case loopStopped
    /// The task waiting in `receive`, `messages` or `ping` was cancelled.
    case cancelled

    /// Whether this is the end of a connection closed normally (1000 or 1001), the way Python
    /// `websockets` tells `ConnectionClosedOK` from `ConnectionClosedError`.
    public var isNormalClosure: Bool {
        guard case .closed(let status) = self else { return false }
        return status.isNormalClosure
    }

    /// A sentence for logs and people.
    public var description: String {
        switch self {
        case .closed(let status): return "connection closed: \(status.code.rawValue) \(status.reason)"
        case .invalid(let error): return "invalid frame or message: \(error)"
        case .dropped: return "message dropped: the connection's buffered output is over its limit"
        case .connectFailed(let error): return "connect failed: \(error)"
        case .listenFailed(let error): return "cannot start the server: \(error)"
        case .loopStopped: return "the event loop thread has stopped"
        case .cancelled: return "cancelled"
        }
    }
}

extension CloseStatus {
    /// Whether the connection closed normally: 1000 (normal closure) or 1001 (going away).
    public var isNormalClosure: Bool { code == .normalClosure || code == .goingAway }
}
