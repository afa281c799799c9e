/// A strict, incremental UTF-8 validator (RFC 3629 section 4; Unicode 15 table 3-7) for text
/// messages and close reasons (RFC 6455 sections 5.6, 8.1).
///
/// Feed it a message piece by piece (frames, reads); it keeps the state of an unfinished
/// sequence between pieces and fails *as soon as* the bytes seen can no longer begin valid UTF-8,
/// as RFC 6455 section 8.1 wants ("fail fast"): `F4 90` fails at the `90` (above U+10FFFF), `ED A0`
/// at the `A0` (a UTF-16 surrogate), `E0 80` at the `80` (overlong), and `C0`, `C1`, `F5`–`FF` at
/// once (they never start a valid sequence). A sequence still open at the end of a message is
/// caught by checking `isAtBoundary`.
///
/// The state is three bytes: how many continuation bytes are still expected, and the range the
/// next one must fall in (only the second byte of a sequence has a range narrower than 80–BF:
/// that is where overlongs, surrogates and values above U+10FFFF are excluded).
/// ASCII, the common case, is checked 64 bytes at a time (16-byte vectors), then 8 at a time.
public struct UTF8Validator: Hashable, Sendable {
    @usableFromInline var pending: UInt8 = 0
    @usableFromInline var lower: UInt8 = 0x80
    @usableFromInline var upper: UInt8 = 0xBF
    @usableFromInline var failed = false

    /// A validator at the start of a text.
    @inlinable public init() {}

    /// True when the bytes so far are valid and complete (no sequence left open).
    @inlinable public var isAtBoundary: Bool { pending == 0 && !failed }

    /// True once invalid input was seen; it stays failed until `reset()`.
    @inlinable public var hasFailed: Bool { failed }

    /// Starts over for a new text.
    @inlinable public mutating func reset() { self = UTF8Validator() }

    /// Validates the next piece of the text.
    /// - Returns: `nil` when the text seen so far can still be valid, otherwise the offset in
    ///   `bytes` of the first byte that made it invalid (0 if the validator had already failed).
    @inlinable
    public mutating func validate(_ bytes: UnsafeRawBufferPointer) -> Int? {
        if failed { return 0 }
        guard let base = bytes.baseAddress else { return nil }
        let count = bytes.count
        var pending = self.pending
        var lower = self.lower
        var upper = self.upper
        var index = 0
        let highBits: UInt64 = 0x8080_8080_8080_8080
        while index < count {
            if pending == 0 {
                // ASCII fast path.
                let highVector = SIMD2<UInt64>(repeating: highBits)
                while index &+ 64 <= count {
                    let p = base + index
                    let any = (p.loadUnaligned(as: SIMD2<UInt64>.self) | p.loadUnaligned(fromByteOffset: 16, as: SIMD2<UInt64>.self)
                        | p.loadUnaligned(fromByteOffset: 32, as: SIMD2<UInt64>.self)
                        | p.loadUnaligned(fromByteOffset: 48, as: SIMD2<UInt64>.self)) & highVector
                    if any[0] | any[1] != 0 { break }
                    index &+= 64
                }
                while index &+ 8 <= count {
                    if base.loadUnaligned(fromByteOffset: index, as: UInt64.self) & highBits != 0 { break }
                    index &+= 8
                }
                if index >= count { break }
                let byte = base.load(fromByteOffset: index, as: UInt8.self)
                switch byte {
                case 0x00...0x7F:
                    break
                case 0xC2...0xDF:                 // U+0080–U+07FF (C0, C1 would be overlong)
                    pending = 1; lower = 0x80; upper = 0xBF
                case 0xE0:                        // U+0800–U+0FFF: A0–BF, else overlong
                    pending = 2; lower = 0xA0; upper = 0xBF
                case 0xE1...0xEC, 0xEE...0xEF:
                    pending = 2; lower = 0x80; upper = 0xBF
                case 0xED:                        // U+D000–U+D7FF: 80–9F, else a surrogate
                    pending = 2; lower = 0x80; upper = 0x9F
                case 0xF0:                        // U+10000–U+3FFFF: 90–BF, else overlong
                    pending = 3; lower = 0x90; upper = 0xBF
                case 0xF1...0xF3:
                    pending = 3; lower = 0x80; upper = 0xBF
                case 0xF4:                        // U+100000–U+10FFFF: 80–8F, else too large
                    pending = 3; lower = 0x80; upper = 0x8F
                default:                          // 80–BF stray continuation, C0, C1, F5–FF
                    self.failed = true
                    return index
                }
                index &+= 1
            } else {
                let byte = base.load(fromByteOffset: index, as: UInt8.self)
                if byte < lower || byte > upper {
                    self.failed = true
                    return index
                }
                pending &-= 1
                lower = 0x80
                upper = 0xBF
                index &+= 1
            }
        }
        self.pending = pending
        self.lower = lower
        self.upper = upper
        return nil
    }

    /// Whether `bytes` is, on its own, complete valid UTF-8.
    @inlinable
    public static func isValid(_ bytes: UnsafeRawBufferPointer) -> Bool {
        var validator = UTF8Validator()
        return validator.validate(bytes) == nil && validator.isAtBoundary
    }
}
