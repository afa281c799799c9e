// UTF8/: the vector pass of UTF-8 validation: 64 bytes at a time in 16-byte SIMD vectors.
//
// The algorithm is Keiser and Lemire's ("Validating UTF-8 in less than one instruction per byte",
// Software: Practice and Experience 51(5), 2021; simdutf): every byte is checked against the one to
// three bytes before it, all lanes in parallel, and errors are OR-ed together and tested once per
// 64 bytes. The bytes before each lane are read with unaligned loads 1, 2 and 3 bytes back (cheaper
// than shifting vectors together on SSE2, which has no `palignr`).
//
// One difference from simdutf: simdutf classifies byte pairs with three 16-entry table lookups
// (`pshufb`), which baseline x86-64 (SSE2, what Swift compiles for unless told otherwise) lacks —
// Swift's `SIMD16[SIMD16]` swizzle is scalarised there. The same rules are written here with
// saturating subtractions and comparisons, which SSE2 (and NEON) have: the common rule
// (continuation bytes exactly where a lead byte wants them) on every vector, the rare ones (the
// leads C0, C1, E0, ED, F0-FF: never valid, or a narrower range for the second byte) only when such
// a lead occurs in the 64 bytes, behind a branch per group (F0-FF; C0, C1, E0, ED). Polish, Russian
// and Chinese text takes neither; text with emoji only the first.
//
// The pass only says how far the text is certainly valid: it returns a character boundary, and the
// byte-at-a-time validator (UTF8Validator.validate) continues from there. That code therefore
// decides the exact position of an error and keeps the state of a sequence cut at the end of a
// piece, so the vector pass needs no state of its own and cannot change either.

#if arch(x86_64)
import CSwiftWSSystem
#endif

@usableFromInline typealias UTF8Vector = SIMD16<UInt8>
@usableFromInline typealias UTF8VectorMask = SIMDMask<SIMD16<Int8>>

extension UTF8Validator {
    /// Below this many bytes, `validate` skips the vector pass (one 64-byte block): small chat
    /// messages keep the scalar path they had.
    @inlinable static var vectorBlockSize: Int { 64 }

    /// How many bytes before its start the vector pass reads: the caller starts it at or after
    /// this offset of the piece.
    @inlinable static var vectorLookBehind: Int { 3 }

    /// The end of the longest prefix of `base[start..<count]` the vector pass proves valid: a
    /// character boundary `b` (start ≤ b ≤ count) such that `base[start..<b]` is complete, valid
    /// UTF-8. `start` must be a character boundary with `start >= vectorLookBehind` (the three bytes
    /// before it are read: they end a complete character, so they ask for no continuation). It
    /// stops at the first 64-byte block containing an error, or when fewer than 64 bytes remain;
    /// the caller validates from `b` on.
    ///
    /// Where the CPU has AVX2 (and `avx2` is true), the block scan is the C form of the lookup
    /// algorithm (Sources/CSwiftWSSystem/utf8_lookup.h, simdutf's tables read by `vpshufb`),
    /// with the same contract.
    @usableFromInline
    static func vectorValidPrefix(_ base: UnsafeRawPointer, from start: Int, count: Int, avx2: Bool = true) -> Int {
        #if arch(x86_64)
        if avx2 && CPUFeatures.hasAVX2 {
            let end = swiftws_utf8_avx2_scan(base.assumingMemoryBound(to: UInt8.self), start, count)
            return lastBoundary(base, before: end, notBefore: start)
        }
        #endif
        var index = start
        // Whether the bytes before `index` end inside a multi-byte character (then the next bytes
        // must be continuations even if they are all ASCII: the all-ASCII shortcut does not apply).
        var previousIsIncomplete = false
        while index &+ vectorBlockSize <= count {
            let block = base + index
            let all = block.loadUnaligned(as: UTF8Vector.self) | block.loadUnaligned(fromByteOffset: 16, as: UTF8Vector.self)
                | block.loadUnaligned(fromByteOffset: 32, as: UTF8Vector.self)
                | block.loadUnaligned(fromByteOffset: 48, as: UTF8Vector.self)
            if previousIsIncomplete || !highBitsClear(all) {
                if blockHasErrors(block) { break }
                previousIsIncomplete = endsIncomplete(block.loadUnaligned(fromByteOffset: 48, as: UTF8Vector.self))
            }
            index &+= vectorBlockSize
        }
        return lastBoundary(base, before: index, notBefore: start)
    }

    /// Whether the 64 bytes at `block` hold an error (the 3 bytes before `block` are read too).
    /// Out of line, so that the all-ASCII loop around it stays small.
    @inline(never)
    static func blockHasErrors(_ block: UnsafeRawPointer) -> Bool {
        var errors = commonErrors(block) .| commonErrors(block + 16) .| commonErrors(block + 32) .| commonErrors(block + 48)
        // Rare leads in two groups, so that text with emoji (F0) pays only for the 4-byte rules.
        let rareFour = fourByteLeads(block) .| fourByteLeads(block + 16) .| fourByteLeads(block + 32)
            .| fourByteLeads(block + 48)
        let rareOther = otherRareLeads(block) .| otherRareLeads(block + 16) .| otherRareLeads(block + 32)
            .| otherRareLeads(block + 48)
        if any(rareFour) {
            errors = errors .| fourByteErrors(block) .| fourByteErrors(block + 16) .| fourByteErrors(block + 32)
                .| fourByteErrors(block + 48)
        }
        if any(rareOther) {
            errors = errors .| otherRareErrors(block) .| otherRareErrors(block + 16) .| otherRareErrors(block + 32)
                .| otherRareErrors(block + 48)
        }
        return any(errors)
    }

    /// `value - subtrahend` per lane, 0 where it would go below 0 (one SSE2 `psubusb`).
    @inline(__always)
    static func subtractingSaturated(_ value: UTF8Vector, _ subtrahend: UInt8) -> UTF8Vector {
        let floor = UTF8Vector(repeating: subtrahend)
        return value.replacing(with: floor, where: value .< floor) &- floor
    }

    /// Lanes breaking the common rule: a continuation byte (80-BF) exactly where the lead byte
    /// one, two or three places before wants one (C0-FF, E0-FF, F0-FF respectively).
    @_transparent  // @inline(__always) leaves some of the four uses out of line
    static func commonErrors(_ lane: UnsafeRawPointer) -> UTF8VectorMask {
        let current = SIMD16<Int8>(truncatingIfNeeded: lane.loadUnaligned(as: UTF8Vector.self))
        let isContinuation = current .< SIMD16<Int8>(repeating: -0x40)  // 80-BF: -128...-65
        // A lead ≥ C0 one back, ≥ E0 two back, ≥ F0 three back leaves 80 or more after the
        // saturating subtraction of 40, 60, 70: a negative byte.
        let wants = subtractingSaturated(lane.loadUnaligned(fromByteOffset: -1, as: UTF8Vector.self), 0x40)
            | subtractingSaturated(lane.loadUnaligned(fromByteOffset: -2, as: UTF8Vector.self), 0x60)
            | subtractingSaturated(lane.loadUnaligned(fromByteOffset: -3, as: UTF8Vector.self), 0x70)
        let wantsContinuation = SIMD16<Int8>(truncatingIfNeeded: wants) .< SIMD16<Int8>(repeating: 0)
        return isContinuation .^ wantsContinuation
    }

    /// Lanes after a lead of F0-FF: F0 and F4 narrow the range of the next byte, F5-FF are never
    /// valid (F1-F3 come along: one comparison for the whole range).
    @inline(__always)
    static func fourByteLeads(_ lane: UnsafeRawPointer) -> UTF8VectorMask {
        lane.loadUnaligned(fromByteOffset: -1, as: UTF8Vector.self) .>= UTF8Vector(repeating: 0xF0)
    }

    /// Lanes after the other rare leads: C0, C1 (never valid), E0, ED (a narrower next byte).
    @inline(__always)
    static func otherRareLeads(_ lane: UnsafeRawPointer) -> UTF8VectorMask {
        let lead = lane.loadUnaligned(fromByteOffset: -1, as: UTF8Vector.self)
        return ((lead & UTF8Vector(repeating: 0xFE)) .== UTF8Vector(repeating: 0xC0))
            .| (lead .== UTF8Vector(repeating: 0xE0)) .| (lead .== UTF8Vector(repeating: 0xED))
    }

    /// Lanes after a 4-byte lead that break its rule (RFC 3629 section 4): F5-FF are errors
    /// themselves; after F0 the byte must be 90-BF (else overlong), after F4 80-8F (else above
    /// U+10FFFF). That it is a continuation byte at all is `commonErrors`' job.
    @inline(__always)
    static func fourByteErrors(_ lane: UnsafeRawPointer) -> UTF8VectorMask {
        let lead = lane.loadUnaligned(fromByteOffset: -1, as: UTF8Vector.self)
        return (lead .>= UTF8Vector(repeating: 0xF5))
            .| secondByteErrors(lane, lead: lead, after: 0xF0, below: 0x90, after: 0xF4, above: 0x8F)
    }

    /// Lanes after another rare lead that break its rule: C0 and C1 are errors themselves (they
    /// could only start overlong forms); after E0 the byte must be A0-BF (else overlong), after
    /// ED 80-9F (else a UTF-16 surrogate).
    @inline(__always)
    static func otherRareErrors(_ lane: UnsafeRawPointer) -> UTF8VectorMask {
        let lead = lane.loadUnaligned(fromByteOffset: -1, as: UTF8Vector.self)
        return ((lead & UTF8Vector(repeating: 0xFE)) .== UTF8Vector(repeating: 0xC0))
            .| secondByteErrors(lane, lead: lead, after: 0xE0, below: 0xA0, after: 0xED, above: 0x9F)
    }

    /// Lanes whose byte is below `low` after the lead `lowLead`, or above `high` after `highLead`
    /// (`lead`: the bytes one place before the lanes at `lane`).
    @inline(__always)
    static func secondByteErrors(_ lane: UnsafeRawPointer, lead: UTF8Vector, after lowLead: UInt8, below low: UInt8,
                                 after highLead: UInt8, above high: UInt8) -> UTF8VectorMask {
        let current = lane.loadUnaligned(as: UTF8Vector.self)
        let tooLow = (lead .== UTF8Vector(repeating: lowLead)) .& (current .< UTF8Vector(repeating: low))
        let tooHigh = (lead .== UTF8Vector(repeating: highLead)) .& (current .> UTF8Vector(repeating: high))
        return tooLow .| tooHigh
    }

    /// True when no lane of `vector` has its high bit set.
    @inline(__always)
    static func highBitsClear(_ vector: UTF8Vector) -> Bool {
        let words = unsafeBitCast(vector, to: SIMD2<UInt64>.self)  // the same 16 bytes as 2 words
        return (words[0] | words[1]) & 0x8080_8080_8080_8080 == 0
    }

    /// True when any lane of `mask` is set. (`Swift.any` calls a generic reduction out of line.)
    @inline(__always)
    static func any(_ mask: UTF8VectorMask) -> Bool {
        let words = unsafeBitCast(mask, to: SIMD2<UInt64>.self)  // a mask is 16 bytes of 00 or FF
        return words[0] | words[1] != 0
    }

    /// Whether `vector` ends inside a character: its last byte is a lead, or its second-to-last a
    /// lead of 3 or 4 bytes, or its third-to-last a lead of 4.
    @inline(__always)
    static func endsIncomplete(_ vector: UTF8Vector) -> Bool {
        // Lanes 13, 14, 15 compared with F0, E0, C0; no byte exceeds FF in the other lanes.
        let limits = UTF8Vector(0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF,
                                0xEF, 0xDF, 0xBF)
        return any(vector .> limits)
    }

    /// The start of the character that `index` falls in (or `index` itself at a boundary), given
    /// that the bytes before it passed the vector checks (at most three continuation bytes back).
    @inline(__always)
    static func lastBoundary(_ base: UnsafeRawPointer, before index: Int, notBefore start: Int) -> Int {
        var back = 1
        while back <= 3 && index &- back >= start {
            let byte = base.load(fromByteOffset: index &- back, as: UInt8.self)
            if byte < 0x80 { break }                    // ASCII: `index` is a boundary
            if byte >= 0xC0 {                           // a lead (or a byte that never is valid)
                let length = byte >= 0xF0 ? 4 : byte >= 0xE0 ? 3 : 2
                // Still open at `index`, or C0, C1, F5-FF (checked only as the byte before another):
                // the scalar validator starts at it.
                return length > back || byte >= 0xF5 || byte <= 0xC1 ? index &- back : index
            }
            back &+= 1
        }
        return index
    }
}
