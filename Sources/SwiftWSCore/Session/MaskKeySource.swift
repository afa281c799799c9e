/// Where a client session takes the masking key of each frame it sends (RFC 6455 section 5.3).
///
/// The default, `.secureRandom`, is what the RFC requires: a fresh key per frame "derived from a
/// strong source of entropy" (`getrandom(2)` through a small pool). `.fixed` hands out given keys in
/// turn, so that tests can assert the exact bytes a client sends (the RFC 6455 section 5.7
/// examples), as Python `websockets` does by patching its random source. Never use `.fixed` on a
/// real connection: predictable keys let a hostile page poison proxy caches (RFC 6455 section 10.3).
/// Servers do not mask, so their sessions ignore this setting.
public struct MaskKeySource: Sendable, Hashable {
    /// The fixed keys in turn as `FrameHeader.maskKey` holds them (wire bytes little-endian);
    /// empty for the secure random source.
    let fixedKeys: [UInt32]

    /// Unpredictable keys from the kernel's random source (the default).
    public static let secureRandom = MaskKeySource(fixedKeys: [])

    /// The given keys, in wire order, used in turn one per frame and then again from the first.
    /// An empty list means `.secureRandom`.
    public static func fixed(_ keys: [(UInt8, UInt8, UInt8, UInt8)]) -> MaskKeySource {
        MaskKeySource(fixedKeys: keys.map { key in
            UInt32(key.0) | UInt32(key.1) << 8 | UInt32(key.2) << 16 | UInt32(key.3) << 24
        })
    }

    /// Whether the keys are unpredictable (the default).
    public var isSecureRandom: Bool { fixedKeys.isEmpty }
}

/// The keys of one client session, drawn from its `MaskKeySource`. The random pool is created on
/// first use: a server session never pays for it. A class, so that the session's lazy slot for
/// it costs a server session one pointer instead of 33 bytes (issue 16).
final class MaskKeyGenerator {
    private let fixedKeys: [UInt32]
    private var nextFixed = 0
    /// One getrandom call per 64 frames, 256 bytes per client session.
    private var random: SecureRandom? = nil

    init(_ source: MaskKeySource) {
        fixedKeys = source.fixedKeys
    }

    /// The next frame's key, as `FrameHeader.maskKey` holds it.
    func next() -> UInt32 {
        if fixedKeys.isEmpty {
            if random == nil { random = SecureRandom(poolSize: 256) }
            return random!.next32()
        }
        let key = fixedKeys[nextFixed]
        nextFixed = nextFixed &+ 1 == fixedKeys.count ? 0 : nextFixed &+ 1
        return key
    }
}
