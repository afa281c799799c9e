import SwiftWSEndpoints

extension AsyncWebSocket {
    /// Connections to `url`, one after the other, as Python websockets' `async for websocket in
    /// connect(url)`: each iteration returns a new open connection once the previous one is done
    /// with (it is closed with 1000 if still open). A failed attempt is retried after `policy`'s
    /// delay when `shouldRetry` says the error is transient (default `ReconnectPolicy.isTransient`:
    /// refused, unreachable, timeouts, proxy failures, 500/502/503/504), else it is thrown; an
    /// attempt that opens resets the delays.
    ///
    /// ```swift
    /// for try await socket in AsyncWebSocket.connections(to: "ws://localhost:8765/") {
    ///     do { for try await message in socket.messages { … } } catch { continue }
    /// }
    /// ```
    public static func connections(to url: String, options: ClientOptions = ClientOptions(),
                                   policy: ReconnectPolicy = ReconnectPolicy(),
                                   shouldRetry: @escaping @Sendable (ClientError) -> Bool = ReconnectPolicy.isTransient,
                                   socketOptions: AsyncSocketOptions = AsyncSocketOptions(),
                                   on thread: EventLoopThread? = nil) -> ReconnectingConnections {
        ReconnectingConnections(url: url, options: options, policy: policy, shouldRetry: shouldRetry,
                                socketOptions: socketOptions, thread: thread)
    }
}

/// The endless sequence of `AsyncWebSocket.connections(to:)`.
public struct ReconnectingConnections: AsyncSequence, Sendable {
    public typealias Element = AsyncWebSocket

    let url: String
    let options: ClientOptions
    let policy: ReconnectPolicy
    let shouldRetry: @Sendable (ClientError) -> Bool
    let socketOptions: AsyncSocketOptions
    let thread: EventLoopThread?

    /// Starts the sequence.
    public func makeAsyncIterator() -> Iterator { Iterator(sequence: self) }

    /// Connects on each `next()`.
    public struct Iterator: AsyncIteratorProtocol {
        let sequence: ReconnectingConnections
        var previous: AsyncWebSocket?
        /// Failed attempts in a row, for the delay.
        public private(set) var failures = 0

        /// The next open connection; throws the error that is not retried
        /// (`WebSocketError.connectFailed`, or `.loopStopped`). Never ends on its own.
        public mutating func next() async throws -> AsyncWebSocket? {
            if let previous, previous.closeStatus == nil { _ = await previous.close() }
            previous = nil
            while true {
                do throws(WebSocketError) {
                    let socket = try await AsyncWebSocket.connect(sequence.url, options: sequence.options,
                                                                  socketOptions: sequence.socketOptions, on: sequence.thread)
                    failures = 0
                    previous = socket
                    return socket
                } catch {
                    guard case .connectFailed(let failure) = error, sequence.shouldRetry(failure) else { throw error }
                    failures += 1
                    if let limit = sequence.policy.maxFailures, failures >= limit { throw error }
                    try await Task.sleep(for: sequence.policy.delay(afterFailures: failures, random: Double.random(in: 0..<1)))
                }
            }
        }
    }
}
