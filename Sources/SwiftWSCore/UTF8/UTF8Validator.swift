// UTF8/: strict, incremental UTF-8 validation of text messages and close reasons (RFC 3629,
// RFC 6455 section 8.1): the state, the API and the scalar validator (a word at a time with an
// ASCII fast path), which hands long non-ASCII stretches to the vector pass (UTF8VectorScan.swift).

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
/// Where non-ASCII text starts with 64 bytes or more left in the piece, a vector pass
/// (Keiser–Lemire, 64 bytes per step, UTF8VectorScan.swift) proves as long a stretch valid as it
/// can, and the byte-at-a-time code goes on from where it stops: that code alone decides where an
/// error is and what state a piece ends in.
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
        validate(bytes, vectorized: true)
    }

    /// `validate(_:vectorized:avx2:)` for bench/core, which times the scalar validator
    /// ("before") next to the vector pass in its portable (SSE2) and AVX2 forms: an SPI, not
    /// part of the API.
    @_spi(Benchmarks) @inlinable
    public mutating func benchmarkValidate(_ bytes: UnsafeRawBufferPointer, vectorized: Bool, avx2: Bool = true) -> Int? {
        validate(bytes, vectorized: vectorized, avx2: avx2)
    }

    /// `validate`, with the vector pass (`vectorized`) or without it: the scalar validator alone is
    /// the reference the vector pass is fuzzed against (fuzz/targets/utf8_vector.swift). `avx2`
    /// false keeps the vector pass to its portable form where the CPU has AVX2 (for the fuzz
    /// target and the benchmark, which compare the two).
    @inlinable
    mutating func validate(_ bytes: UnsafeRawBufferPointer, vectorized: Bool, avx2: Bool = true) -> Int? {
        if failed { return 0 }
        guard let base = bytes.baseAddress else { return nil }
        let count = bytes.count
        var index = 0

        // Finish a sequence left open by the previous piece, one byte at a time.
        while pending != 0 && index < count {
            let byte = base.load(fromByteOffset: index, as: UInt8.self)
            if byte < lower || byte > upper {
                failed = true
                return index
            }
            pending &-= 1
            lower = 0x80
            upper = 0xBF
            index &+= 1
        }

        let highBits: UInt64 = 0x8080_8080_8080_8080
        let highVector = SIMD2<UInt64>(repeating: highBits)
        /// Skips a run of ASCII: 64 bytes at a time (16-byte vectors), then 8.
        @inline(__always) func skipASCII(_ index: inout Int) {
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
        }
        skipASCII(&index)
        var vectorPassDone = false
        while index < count {
            let lead = base.load(fromByteOffset: index, as: UInt8.self)
            if lead < 0x80 {
                index &+= 1
                // Look for a long ASCII run only when the next word is all ASCII, so text that
                // mixes short ASCII runs with other characters does not pay for 64-byte probes.
                if index &+ 8 <= count && base.loadUnaligned(fromByteOffset: index, as: UInt64.self) & highBits == 0 {
                    index &+= 8
                    skipASCII(&index)
                }
                continue
            }
            // Non-ASCII at a character boundary, with 64 bytes or more to go: let the vector pass
            // prove as much as it can (once per piece: where it stops, the text is invalid or
            // nearly done), then go on from the boundary it returns. It reads the 3 bytes before
            // `index`, so it waits until there are 3.
            if vectorized && !vectorPassDone && index >= UTF8Validator.vectorLookBehind
                && count &- index >= UTF8Validator.vectorBlockSize {
                vectorPassDone = true
                index = UTF8Validator.vectorValidPrefix(base, from: index, count: count, avx2: avx2)
                continue
            }
            // A multi-byte sequence: its length and the range of its second byte (RFC 3629
            // section 4; only the second byte has a narrower range than 80-BF: that is where
            // overlongs, surrogates and values above U+10FFFF are excluded).
            let length: Int
            let secondLower: UInt8
            let secondUpper: UInt8
            switch lead {
            case 0xC2...0xDF: length = 2; secondLower = 0x80; secondUpper = 0xBF  // C0, C1: overlong
            case 0xE0: length = 3; secondLower = 0xA0; secondUpper = 0xBF         // else overlong
            case 0xE1...0xEC, 0xEE...0xEF: length = 3; secondLower = 0x80; secondUpper = 0xBF
            case 0xED: length = 3; secondLower = 0x80; secondUpper = 0x9F         // else a surrogate
            case 0xF0: length = 4; secondLower = 0x90; secondUpper = 0xBF         // else overlong
            case 0xF1...0xF3: length = 4; secondLower = 0x80; secondUpper = 0xBF
            case 0xF4: length = 4; secondLower = 0x80; secondUpper = 0x8F         // else > U+10FFFF
            default:                                      // 80-BF stray continuation, C0, C1, F5-FF
                failed = true
                return index
            }
            if index &+ length <= count {
                // The whole sequence is here: check it at once.
                let second = base.load(fromByteOffset: index &+ 1, as: UInt8.self)
                if second < secondLower || second > secondUpper {
                    failed = true
                    return index &+ 1
                }
                if length >= 3 && base.load(fromByteOffset: index &+ 2, as: UInt8.self) & 0xC0 != 0x80 {
                    failed = true
                    return index &+ 2
                }
                if length == 4 && base.load(fromByteOffset: index &+ 3, as: UInt8.self) & 0xC0 != 0x80 {
                    failed = true
                    return index &+ 3
                }
                index &+= length
            } else {
                // The sequence continues in the next piece: check what is here, keep the rest.
                pending = UInt8(truncatingIfNeeded: length &- 1)
                lower = secondLower
                upper = secondUpper
                index &+= 1
                while index < count {
                    let byte = base.load(fromByteOffset: index, as: UInt8.self)
                    if byte < lower || byte > upper {
                        failed = true
                        return index
                    }
                    pending &-= 1
                    lower = 0x80
                    upper = 0xBF
                    index &+= 1
                }
            }
        }
        return nil
    }

    /// Whether `bytes` is, on its own, complete valid UTF-8.
    @inlinable
    public static func isValid(_ bytes: UnsafeRawBufferPointer) -> Bool {
        var validator = UTF8Validator()
        return validator.validate(bytes) == nil && validator.isAtBoundary
    }
}
