/// What one endpoint wants from permessage-deflate (RFC 7692), in either role.
///
/// "Local" is the direction we compress (our messages to the peer), "remote" the direction we
/// decompress (the peer's messages). For a server, local is `server_*` and remote `client_*`; for
/// a client the other way round.
///
/// Defaults (chosen to keep many connections cheap, after Python `websockets`):
/// - windows of 12 bits both ways and zlib memLevel 5: `websockets` measured 70 KiB per
///   connection against 322 KiB for zlib's 15/8, for a compressed size only ~4% larger on small
///   JSON messages (its docs, "Compression settings"). Its *server* announces 12/12 and memLevel 5
///   (`enable_server_permessage_deflate`); its *client* offers `client_max_window_bits` without a
///   value and no server limit, compressing with memLevel 5 and whatever window the server
///   grants (15 if none). We use 12/12 in both roles: a client also benefits from 4 KiB inflate
///   windows, and we add a fallback offer without `server_max_window_bits` for servers that
///   cannot limit their window (see `PerMessageDeflateNegotiation.clientOffers`). Our client's
///   offer carries `client_max_window_bits` without a value, as browsers and `websockets` send
///   (servers seen in the field answer 15 to any offer), and compresses with at most 12 bits
///   whatever the server grants; `announcesLocalMaxWindowBits` makes the 12 a promise instead.
/// - level 3 (since round 5 of issue 16; 6, zlib's default, before): zlib's levels 1-3 match
///   greedily (`deflate_fast`), 4-9 lazily (`deflate_slow`), which on the small messages
///   WebSockets carry costs 30-85 % more zlib work per message for about 15 % fewer bytes.
///   Measured with zlib 1.2.13, 12-bit window, memLevel 5, context takeover, 1 KiB messages each
///   flushed (what a connection does); zlib's instructions per message (deflate and inflate, under
///   valgrind, relative to level 3); `bench/zlib/levels.c`:
///
///   | level | chat/market JSON: compressed ÷ original | instructions | the echo benchmark's JSON | instructions |
///   |---|---:|---:|---:|---:|
///   | 1 | 0.285 | 0.99× | 0.0231 | 1.00× |
///   | 3 | 0.268 | 1.00× | 0.0231 | 1.00× |
///   | 4 | 0.247 | 1.17× | 0.0203 | 1.83× |
///   | 6 | 0.229 | 1.29× | 0.0201 | 1.84× |
///
///   The compressed echo benchmark's server CPU per message fell from 29.5 to 22.6 µs (level 6
///   → 3, one interleaved run), below libwebsockets' 26.2 µs (its default is level 1);
///   `compressionLevel: 6` restores zlib's ratio (`websockets` and `ws` keep 6), and
///   `maximumCompression` uses it.
/// - context takeover on: repeated structure across messages is where most of the gain is.
/// - messages under 64 bytes are sent uncompressed: below that the DEFLATE block overhead and the
///   zlib call cost outweigh the few bytes saved. (`ws` uses 1024 bytes, `websockets` 0.)
public struct PerMessageDeflateConfiguration: Hashable, Sendable {
    /// Whether permessage-deflate is offered (client) or accepted (server) at all.
    public var isEnabled: Bool
    /// The largest LZ77 window (8...15) our compressor uses: announced as
    /// `server_max_window_bits` by a server and offered as `client_max_window_bits` by a client
    /// (without a value when 15). A smaller value the peer asks for is honoured.
    public var localMaxWindowBits: Int
    /// The largest window (8...15) we ask the peer's compressor to use, or nil not to ask (then
    /// the peer may use 15 and our inflater needs a 32 KiB window). A server can only impose it
    /// when the client's offer has `client_max_window_bits`; a client asks with
    /// `server_max_window_bits` (and offers a fallback without it).
    public var remoteMaxWindowBits: Int?
    /// Whether we reset our compressor after each message (`server_no_context_takeover` from a
    /// server, `client_no_context_takeover` from a client). Saves the compressor's memory between
    /// messages (and allows a compressor shared by a whole event loop) at the cost of ratio.
    public var localNoContextTakeover: Bool
    /// Whether we ask the peer to reset its compressor after each message (then our inflater is
    /// freed between messages).
    public var remoteNoContextTakeover: Bool
    /// zlib memLevel (1...9) for our compressor: hash table size, not negotiated.
    public var memoryLevel: Int
    /// zlib compression level (1...9; 0 stores, -1 is zlib's default 6). Default 3: see the type.
    public var compressionLevel: Int
    /// Messages with fewer bytes than this are sent uncompressed (RSV1 clear).
    public var compressionThreshold: Int
    /// A server: whether client offers are accepted (false declines every offer even when
    /// `isEnabled`, e.g. to switch compression off for new connections at runtime).
    public var acceptsOffers: Bool
    /// A client: whether its offer carries `client_max_window_bits=<localMaxWindowBits>` (a
    /// promise: an answer with a larger value then fails the connection, RFC 7692 7.1.2.2)
    /// rather than the value-less `client_max_window_bits` browsers and `websockets` send, which
    /// lets the server answer any window up to 15. Either way our compressor uses at most
    /// `localMaxWindowBits` (a smaller window than granted is always valid to inflate).
    /// Default false. Ignored by a server.
    public var announcesLocalMaxWindowBits: Bool

    /// Compression on with the defaults described on the type.
    public init(
        isEnabled: Bool = true,
        localMaxWindowBits: Int = 12,
        remoteMaxWindowBits: Int? = 12,
        localNoContextTakeover: Bool = false,
        remoteNoContextTakeover: Bool = false,
        memoryLevel: Int = 5,
        compressionLevel: Int = 3,
        compressionThreshold: Int = 64,
        acceptsOffers: Bool = true,
        announcesLocalMaxWindowBits: Bool = false
    ) {
        self.isEnabled = isEnabled
        self.localMaxWindowBits = localMaxWindowBits
        self.remoteMaxWindowBits = remoteMaxWindowBits
        self.localNoContextTakeover = localNoContextTakeover
        self.remoteNoContextTakeover = remoteNoContextTakeover
        self.memoryLevel = memoryLevel
        self.compressionLevel = compressionLevel
        self.compressionThreshold = compressionThreshold
        self.acceptsOffers = acceptsOffers
        self.announcesLocalMaxWindowBits = announcesLocalMaxWindowBits
    }

    /// Compression switched off: nothing offered, every offer declined.
    public static let disabled = PerMessageDeflateConfiguration(isEnabled: false)

    /// zlib's own defaults (15-bit windows, memLevel 8, level 6): best ratio, ~5x the memory,
    /// about a third more CPU per message than the defaults.
    public static let maximumCompression = PerMessageDeflateConfiguration(
        localMaxWindowBits: 15, remoteMaxWindowBits: nil, memoryLevel: 8, compressionLevel: 6)

    /// `localMaxWindowBits` clamped to the RFC's 8...15.
    var clampedLocalMaxWindowBits: Int { min(max(localMaxWindowBits, 8), 15) }
    /// `remoteMaxWindowBits` clamped to the RFC's 8...15 (nil stays nil).
    var clampedRemoteMaxWindowBits: Int? { remoteMaxWindowBits.map { min(max($0, 8), 15) } }
}
