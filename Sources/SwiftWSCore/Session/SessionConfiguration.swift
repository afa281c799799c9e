/// The settings of one `Session`: its role and the limits it enforces on what the peer sends.
///
/// The defaults carry everything Autobahn|Testsuite sends, including its performance cases
/// (9.*: 16 MiB messages, a 4 MiB message cut into 64-byte fragments = 65,536 fragments).
public struct SessionConfiguration: Sendable, Hashable {
    /// Which end of the connection the session is (masking rules, who closes TCP first).
    public var role: Role
    /// Largest message accepted, in bytes, after decompression. Exceeding it fails the
    /// connection with 1009 as soon as the announced frame lengths add up past it, before the
    /// payload is buffered.
    public var maxMessageSize: Int = 16 << 20
    /// Largest frame payload accepted, in bytes (1009 beyond).
    public var maxFrameSize: Int = 16 << 20
    /// Most frames one data message may have (1009 beyond).
    public var maxFragmentsPerMessage: Int = 1 << 17
    /// When set, a message is delivered as `.fragment` events, one per frame, as soon as its
    /// size (the frames announced so far) exceeds this many bytes, instead of being reassembled.
    /// `nil`: every message is reassembled and delivered whole.
    public var streamingThreshold: Int? = nil
    /// Answer each ping with a pong carrying the same payload (RFC 6455 section 5.5.2). The ping
    /// is reported as an event either way.
    public var autoPong: Bool = true
    /// Set when permessage-deflate was negotiated: RSV1 may then be set on the first frame of a
    /// data message (RFC 7692 section 6). Otherwise RSV1 fails the connection with 1002.
    public var allowsRSV1: Bool = false
    /// Most bytes one `Session.receive` (or `resume`) call inflates before it stops and leaves
    /// the rest for `resume` (about 2 ms of zlib work per MiB). A few kilobytes of compressed
    /// data can inflate to `maxMessageSize`; this keeps the work one connection costs per loop
    /// iteration bounded, so the others are served in between (no decompression bomb stalls a
    /// loop). Default 256 KiB (about 0.5 ms): measured against four looping bombs beside ten echo
    /// clients (Tests/Hostile), 1 MiB let their median latency rise from 1 ms to 8-14 ms.
    public var inflateBudget: Int = 256 << 10

    /// Where a client takes its masking keys (RFC 6455 section 5.3): `.secureRandom` (the default),
    /// or `.fixed(keys)` for tests that assert the exact bytes a client sends. Servers ignore it.
    public var maskKeys: MaskKeySource = .secureRandom

    /// A configuration with the default limits.
    public init(role: Role) {
        self.role = role
    }
}
