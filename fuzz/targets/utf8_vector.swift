// Fuzz target: the vectorised UTF-8 validator agrees with the scalar one, byte for byte.
//
// The same text is fed, cut into pieces of one length, to a validator with the vector pass
// (`validate(_:vectorized: true)`, what `validate` does: its AVX2 form where the CPU has it), to
// one with the vector pass in its portable (SSE2) form (`avx2: false`), and to one without it
// (the scalar validator alone, the reference). After every piece both must return the same result (nil, or
// the same offset of the first invalid byte) and be in the same state (the open sequence and the
// range of its next byte, failed or not); they stop at the first failure. Every input is tried
// whole and in pieces of 1, 3, 17, 64, 67, 100 and 131 bytes, after 0, 1 or 2 ASCII bytes (so the
// vector loads fall at every alignment and a sequence is cut at every place).
//
// Input layout: byte 0 picks the text: bit 0 clear = the remaining bytes as they are; bit 0 set =
// mostly valid text built from them (2 bytes per character: ASCII, 2-, 3- and 4-byte characters,
// including the edge values next to overlongs, surrogates and U+10FFFF) with one byte replaced
// (position and value from the last 3 input bytes) when bit 1 is set. Bits 2-3: how many times the
// text is repeated (1, 2, 5, 17), so short inputs reach the 64-byte vector steps.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzUTF8Vector(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    guard size >= 1 else { return 0 }
    let control = data[0]
    let input = Array(UnsafeBufferPointer(start: data + 1, count: size - 1))
    var text = control & 1 == 0 ? input : mostlyValidText(from: input, corrupt: control & 2 != 0)
    let repeats = [1, 2, 5, 17][Int(control >> 2) & 3]
    text = Array([[UInt8]](repeating: text, count: repeats).joined())
    for prefix in 0...2 {
        let shifted = [UInt8](repeating: UInt8(ascii: "a"), count: prefix) + text
        for pieceLength in [Int.max, 1, 3, 17, 64, 67, 100, 131] {
            compare(shifted, pieceLength: pieceLength)
        }
    }
    return 0
}

/// Feeds `text` in pieces of `pieceLength` bytes to the validators and traps on any difference.
private func compare(_ text: [UInt8], pieceLength: Int) {
    var vectorized = UTF8Validator()
    var portable = UTF8Validator()
    var scalar = UTF8Validator()
    text.withUnsafeBytes { all in
        var start = 0
        repeat {
            let end = start + min(pieceLength, all.count - start)
            let piece = UnsafeRawBufferPointer(rebasing: all[start..<end])
            let vectorResult = vectorized.validate(piece, vectorized: true)
            let portableResult = portable.validate(piece, vectorized: true, avx2: false)
            let scalarResult = scalar.validate(piece, vectorized: false)
            for (name, result, state) in [("vector pass", vectorResult, vectorized),
                                          ("portable vector pass", portableResult, portable)]
            where result != scalarResult || state != scalar {
                fatalError("""
                    \(name) disagrees at piece \(start)..<\(end) of \(all.count) bytes: \
                    \(String(describing: result)) vs \(String(describing: scalarResult)), \
                    states \(state) vs \(scalar)
                    """)
            }
            if scalarResult != nil { return }
            start = end
        } while start < all.count
    }
}

/// Characters at the edges of the rules the vector pass checks (RFC 3629 section 4).
private let edgeScalars: [UInt32] = [
    0x7F, 0x80, 0x7FF, 0x800, 0xFFF, 0x1000, 0xD7FF, 0xE000, 0xFFFF, 0x10000, 0x3FFFF, 0x40000,
    0xFFFFF, 0x100000, 0x10FFFF,
]

/// Valid UTF-8 from `input`, 2 bytes per character; with `corrupt`, one byte overwritten.
private func mostlyValidText(from input: [UInt8], corrupt: Bool) -> [UInt8] {
    var text: [UInt8] = []
    var index = 0
    while index + 1 < input.count {
        let kind = input[index], value = UInt32(input[index + 1])
        index += 2
        var scalar: UInt32
        switch kind % 8 {
        case 0, 1: scalar = value & 0x7F                                           // ASCII
        case 2: scalar = 0x80 + (UInt32(kind) << 5 | value) % 0x780                 // 2 bytes
        case 3: scalar = 0x800 + (UInt32(kind) << 8 | value) * 37 % 0xF800          // 3 bytes
        case 4: scalar = 0x4E00 + (UInt32(kind) << 8 | value) % 0x5200              // CJK
        case 5: scalar = 0x10000 + (UInt32(kind) << 8 | value) * 4099 % 0x100000    // 4 bytes
        default: scalar = edgeScalars[Int(value) % edgeScalars.count]
        }
        if (0xD800...0xDFFF).contains(scalar) { scalar -= 0x800 }                   // no surrogates
        guard let character = Unicode.Scalar(scalar) else { continue }
        text.append(contentsOf: String(Character(character)).utf8)
    }
    if corrupt && input.count >= 3 && !text.isEmpty {
        let tail = input.suffix(3).map(Int.init)
        text[(tail[0] << 8 | tail[1]) % text.count] = UInt8(tail[2])
    }
    return text
}
