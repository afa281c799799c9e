import Synchronization

/// What a server's broadcasts and topic publishes put on the wire, on every loop of the server:
/// payload bytes handed to receivers, and the bytes of the frames that carried them (compressed
/// or not, headers included). `payloadBytes / frameBytes` is the compression ratio a monitoring
/// page can show. Thread-safe; updated once per broadcast or publish per loop, not per receiver.
public final class BroadcastStatistics: Sendable {
    private let payload = Atomic<Int>(0)
    private let frames = Atomic<Int>(0)
    private let receivers = Atomic<Int>(0)

    init() {}

    /// Payload bytes delivered (a 100-byte message to 10 receivers counts 1,000).
    public var payloadBytes: Int { payload.load(ordering: .relaxed) }
    /// Frame bytes written for those deliveries (headers included, after compression).
    public var frameBytes: Int { frames.load(ordering: .relaxed) }
    /// Deliveries (receivers that took a message).
    public var deliveries: Int { receivers.load(ordering: .relaxed) }

    func record(payloadBytes: Int, frameBytes: Int, deliveries: Int) {
        guard deliveries > 0 else { return }
        payload.wrappingAdd(payloadBytes, ordering: .relaxed)
        frames.wrappingAdd(frameBytes, ordering: .relaxed)
        receivers.wrappingAdd(deliveries, ordering: .relaxed)
    }
}
