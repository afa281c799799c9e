import Testing
@testable import SwiftWSCore

@Suite("UTF-8 validation (RFC 3629; RFC 6455 8.1; Autobahn 6.x)")
struct UTF8ValidatorTests {
    /// Validates `bytes` whole and byte by byte; both must agree on the failing position.
    private func failurePosition(_ bytes: [UInt8]) -> Int? {
        var whole = UTF8Validator()
        let wholeResult = bytes.withUnsafeBytes { whole.validate($0) }
        var single = UTF8Validator()
        var singleResult: Int? = nil
        for (index, byte) in bytes.enumerated() {
            if [byte].withUnsafeBytes({ single.validate($0) }) != nil { singleResult = index; break }
        }
        #expect(wholeResult == singleResult, "whole and byte-by-byte disagree on \(bytes)")
        return wholeResult
    }

    private func isCompleteAndValid(_ bytes: [UInt8]) -> Bool {
        bytes.withUnsafeBytes { UTF8Validator.isValid($0) }
    }

    @Test(arguments: [
        Array("κόσμε".utf8),                              // Kuhn 1: Greek
        [0x00], [0x7F],                                    // boundaries of 1-byte sequences
        [0xC2, 0x80], [0xDF, 0xBF],                        // 2-byte boundaries
        [0xE0, 0xA0, 0x80], [0xEF, 0xBF, 0xBF],            // 3-byte boundaries
        [0xED, 0x9F, 0xBF], [0xEE, 0x80, 0x80],            // around the surrogates
        [0xEF, 0xBF, 0xBE],                                // U+FFFE: a noncharacter, still valid
        [0xF0, 0x90, 0x80, 0x80], [0xF4, 0x8F, 0xBF, 0xBF],// 4-byte boundaries, U+10FFFF
        Array("Hello-µ@ßöäüàá-UTF-8!!".utf8),              // Autobahn 6.2
        Array(String(repeating: "ascii only, long enough for the word path. ", count: 10).utf8),
        [],
    ] as [[UInt8]])
    func validSequences(bytes: [UInt8]) {
        #expect(failurePosition(bytes) == nil)
        #expect(isCompleteAndValid(bytes))
    }

    /// (input, index of the first byte at which it can no longer be valid)
    @Test(arguments: [
        ([0xC0], 0), ([0xC1], 0), ([0xF5], 0), ([0xFF], 0), ([0xFE], 0),   // never valid lead bytes
        ([0x80], 0), ([0xBF], 0),                                           // lone continuation
        ([0xC0, 0xAF], 0), ([0xE0, 0x80, 0xAF], 1), ([0xF0, 0x80, 0x80, 0xAF], 1), // overlong "/"
        ([0xE0, 0x9F, 0xBF], 1), ([0xF0, 0x8F, 0xBF, 0xBF], 1),            // overlong maxima
        ([0xED, 0xA0, 0x80], 1), ([0xED, 0xBF, 0xBF], 1),                  // surrogates D800, DFFF
        ([0xED, 0xA0, 0x80, 0xED, 0xB0, 0x80], 1),                         // surrogate pair
        ([0xF4, 0x90, 0x80, 0x80], 1), ([0xF7, 0xBF, 0xBF, 0xBF], 0),      // above U+10FFFF
        ([0xC2, 0x41], 1), ([0xE1, 0x80, 0x41], 2), ([0xF1, 0x80, 0x80, 0x41], 3), // cut by ASCII
        (Array("κόσμε".utf8) + [0xED, 0xA0, 0x80, 0x65, 0x64, 0x69, 0x74, 0x65, 0x64], 11), // Autobahn 6.3: "κόσμε" is 10 bytes
        (Array("0123456789abcdefghijklmnopqrstuvwxyz".utf8) + [0xF8], 36),  // after the 8-byte path
        ([UInt8](repeating: 0x41, count: 100) + [0xF8], 100),              // after the 64-byte path
        ([UInt8](repeating: 0x41, count: 70) + [0xED, 0xA0, 0x80], 71),
    ] as [([UInt8], Int)])
    func invalidSequencesFailAtTheFirstImpossibleByte(bytes: [UInt8], position: Int) {
        #expect(failurePosition(bytes) == position)
        #expect(!isCompleteAndValid(bytes))
    }

    @Test(arguments: [[0xC2], [0xE0, 0xA0], [0xF0, 0x90, 0x80], [0xF4, 0x8F, 0xBF]] as [[UInt8]])
    func truncatedSequencesAreNotCompleteButNotYetInvalid(bytes: [UInt8]) {
        var validator = UTF8Validator()
        #expect(bytes.withUnsafeBytes { validator.validate($0) } == nil)
        #expect(!validator.isAtBoundary)
        #expect(!validator.hasFailed)
        #expect(!isCompleteAndValid(bytes))
    }

    @Test func stateCarriesAcrossPieces() {
        let text = Array("aé€𝄞 mixed ascii and multi-byte text 𝄞€éa".utf8)
        for cut in 0...text.count {
            var validator = UTF8Validator()
            #expect(text[..<cut].withUnsafeBytes { validator.validate($0) } == nil)
            #expect(text[cut...].withUnsafeBytes { validator.validate($0) } == nil)
            #expect(validator.isAtBoundary)
        }
    }

    @Test func failedValidatorStaysFailedUntilReset() {
        var validator = UTF8Validator()
        #expect([UInt8]([0xC0]).withUnsafeBytes { validator.validate($0) } == 0)
        #expect([UInt8]([0x41]).withUnsafeBytes { validator.validate($0) } == 0)
        validator.reset()
        #expect([UInt8]([0x41]).withUnsafeBytes { validator.validate($0) } == nil)
    }

    @Test func agreesWithTheStandardLibraryOnLongMostlyASCIIInput() {
        // Long ASCII runs (vector and word paths) with random bytes dropped in.
        var rng = SeededGenerator(seed: 5)
        for _ in 0..<2000 {
            var bytes = (0..<Int.random(in: 0...300, using: &rng)).map { _ in UInt8.random(in: 0...0x7F, using: &rng) }
            for _ in 0..<Int.random(in: 0...2, using: &rng) where !bytes.isEmpty {
                bytes[Int.random(in: 0..<bytes.count, using: &rng)] = UInt8.random(in: 0x80...0xFF, using: &rng)
            }
            if Bool.random(using: &rng) && !bytes.isEmpty {
                let at = Int.random(in: 0..<bytes.count, using: &rng)
                bytes.replaceSubrange(at..<at, with: Array("é€𝄞".utf8))
            }
            let expected = String(validating: bytes, as: UTF8.self) != nil
            #expect(isCompleteAndValid(bytes) == expected, "\(bytes)")
            // In two pieces, the verdict and the failing position are the same.
            let cut = Int.random(in: 0...bytes.count, using: &rng)
            var whole = UTF8Validator()
            let wholeFailure = bytes.withUnsafeBytes { whole.validate($0) }
            var pieces = UTF8Validator()
            var piecesFailure = bytes[..<cut].withUnsafeBytes { pieces.validate($0) }
            if piecesFailure == nil {
                piecesFailure = bytes[cut...].withUnsafeBytes { pieces.validate($0) }.map { $0 + cut }
            }
            #expect(piecesFailure == wholeFailure, "\(bytes) cut at \(cut)")
            #expect(pieces.isAtBoundary == whole.isAtBoundary)
        }
    }

    @Test func agreesWithTheStandardLibraryOnRandomInput() {
        var rng = SeededGenerator(seed: 3)
        for _ in 0..<3000 {
            let length = Int.random(in: 0...12, using: &rng)
            let bytes: [UInt8] = (0..<length).map { _ in
                // Bias towards interesting lead and continuation bytes.
                [UInt8.random(in: 0...0x7F, using: &rng), UInt8.random(in: 0x80...0xBF, using: &rng),
                 UInt8.random(in: 0xC0...0xFF, using: &rng)][Int.random(in: 0...2, using: &rng)]
            }
            let expected = String(validating: bytes, as: UTF8.self) != nil
            #expect(isCompleteAndValid(bytes) == expected, "\(bytes)")
        }
    }

    /// Long non-ASCII texts (the vector pass's territory), each 300+ bytes.
    private static let longTexts: [[UInt8]] = [
        "Zażółć gęślą jaźń. Pchnąć w tę łódź jeża lub ośm skrzyń fig. ",
        "Съешь же ещё этих мягких французских булок, да выпей чаю. ",
        "我能吞下玻璃而不伤身体。天地玄黄，宇宙洪荒。日月盈昃，辰宿列张。",
        "price: 12€, naïve café, 𝄞 музыка; 😀 नमस्ते 한국어 ",
    ].map { Array(String(repeating: $0, count: 6).utf8) }

    @Test(arguments: longTexts)
    func longNonASCIITextIsValidWholeAndInAnyTwoPieces(text: [UInt8]) {
        #expect(isCompleteAndValid(text))
        for cut in stride(from: 0, through: text.count, by: 7) {
            var validator = UTF8Validator()
            #expect(text[..<cut].withUnsafeBytes { validator.validate($0) } == nil)
            #expect(text[cut...].withUnsafeBytes { validator.validate($0) } == nil)
            #expect(validator.isAtBoundary, "cut at \(cut)")
        }
    }

    /// Every byte of a long text replaced by bytes that break a rule in some place (a stray
    /// continuation, C0, F5, E0 and ED and F0 and F4 leads, ASCII inside a sequence): the validator
    /// with the vector pass reports the same position as the scalar one, whole and cut in two.
    @Test(arguments: longTexts)
    func vectorPassReportsEveryErrorWhereTheScalarValidatorDoes(text: [UInt8]) {
        // The first 150 bytes: the first vector steps and the two boundaries between them (this
        // runs unoptimised; fuzz/targets/utf8_vector.swift covers the rest).
        for position in 0..<150 {
            for replacement: UInt8 in [0x41, 0x80, 0xC0, 0xE0, 0xED, 0xF0, 0xF4, 0xF5] {
                var bytes = text
                bytes[position] = replacement
                var scalar = UTF8Validator()
                let expected = bytes.withUnsafeBytes { scalar.validate($0, vectorized: false) }
                #expect(expected == nil || expected! <= position + 3)
                var vectorized = UTF8Validator()
                #expect(bytes.withUnsafeBytes { vectorized.validate($0, vectorized: true) } == expected)
                #expect(vectorized == scalar)
                let cut = (position * 31) % bytes.count
                var pieces = UTF8Validator()
                var failure = bytes[..<cut].withUnsafeBytes { pieces.validate($0) }
                if failure == nil { failure = bytes[cut...].withUnsafeBytes { pieces.validate($0) }.map { $0 + cut } }
                #expect(failure == expected, "byte \(position) = \(replacement), cut at \(cut)")
            }
        }
    }

    @Test func vectorPassDecidesTheEndOfTheText() {
        // A sequence cut at the very end of a long piece, and an invalid lead as its last byte.
        let text = Array(String(repeating: "ąę", count: 40).utf8)
        for tail: [UInt8] in [[0xC4], [0xE6, 0x88], [0xF0, 0x9F, 0x98], [0xF5], [0xC1]] {
            var validator = UTF8Validator()
            let result = (text + tail).withUnsafeBytes { validator.validate($0) }
            if tail == [0xF5] || tail == [0xC1] {
                #expect(result == text.count)
            } else {
                #expect(result == nil)
                #expect(!validator.isAtBoundary)
            }
        }
    }
}
