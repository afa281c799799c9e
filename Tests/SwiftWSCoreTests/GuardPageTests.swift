import Glibc
import Testing
@testable import SwiftWSCore

/// Three pages: PROT_NONE, readable and writable, PROT_NONE. Input placed to end exactly at the
/// trailing guard (or to start right after the leading one) makes any over-read or under-read
/// crash the test at once (picohttpparser's test.c does the same for its parser).
private final class GuardPages {
    let page = Int(sysconf(Int32(_SC_PAGESIZE)))
    private let mapping: UnsafeMutableRawPointer

    init() {
        guard let raw = mmap(nil, 3 * page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0),
              raw != MAP_FAILED else { fatalError("mmap failed") }
        mapping = raw
        precondition(mprotect(mapping, page, PROT_NONE) == 0)
        precondition(mprotect(mapping + 2 * page, page, PROT_NONE) == 0)
    }

    deinit { munmap(mapping, 3 * page) }

    /// `bytes` copied so that they end at the trailing guard page.
    func atEnd(_ bytes: [UInt8]) -> UnsafeMutableRawBufferPointer {
        place(bytes, at: mapping + 2 * page - bytes.count)
    }

    /// `bytes` copied so that they start right after the leading guard page.
    func atStart(_ bytes: [UInt8]) -> UnsafeMutableRawBufferPointer {
        place(bytes, at: mapping + page)
    }

    private func place(_ bytes: [UInt8], at start: UnsafeMutableRawPointer) -> UnsafeMutableRawBufferPointer {
        bytes.withUnsafeBytes { if let base = $0.baseAddress { start.copyMemory(from: base, byteCount: bytes.count) } }
        return UnsafeMutableRawBufferPointer(start: start, count: bytes.count)
    }
}

/// Inputs of `length` bytes that drive every path of the validator and the masking loops: all
/// ASCII, multi-byte text, a sequence cut by the end of the input, an invalid last byte.
private func utf8Inputs(length: Int) -> [[UInt8]] {
    let ascii = (0..<length).map { UInt8(0x20 + $0 % 90) }
    let mixed = Array(String(repeating: "aé€😀", count: length / 10 + 1).utf8.prefix(length))
    var cutAtTheEnd = ascii
    if length >= 2 { cutAtTheEnd.replaceSubrange((length - 2)..., with: [0xF0, 0x9F]) }  // "😀" cut short
    var invalidLast = ascii
    if length >= 1 { invalidLast[length - 1] = 0xFF }
    return [ascii, mixed, cutAtTheEnd, invalidLast]
}

@Suite("Guard page: masking and UTF-8 never read outside their input (lengths 0 ... 200)")
struct GuardPageTests {
    @Test("masking, with and without the ASCII prefix, at every length and key rotation")
    func maskingStaysInside() {
        let pages = GuardPages()
        let key: UInt32 = 0x3d21_fa37
        for length in 0...200 {
            for input in utf8Inputs(length: length) {
                for offset in 0..<4 {
                    var expected = input
                    expected.withUnsafeMutableBytes { Masking.applyReference(maskKey: key, to: $0, payloadOffset: offset) }
                    for placed in [pages.atEnd(input), pages.atStart(input)] {
                        Masking.apply(maskKey: key, to: placed, payloadOffset: offset)
                        #expect(Array(placed) == expected, "apply, length \(length), offset \(offset)")
                        let prefix = Masking.applyReturningASCIIPrefix(maskKey: key, to: placed, payloadOffset: offset)
                        #expect(Array(placed) == input, "applyReturningASCIIPrefix, length \(length), offset \(offset)")
                        let firstNonASCII = input.firstIndex { $0 >= 0x80 } ?? input.count
                        #expect(prefix <= firstNonASCII && (firstNonASCII < input.count || prefix == input.count))
                    }
                }
            }
        }
    }

    @Test("UTF-8 validation, whole and in two pieces, at every length, agrees with the standard library")
    func validationStaysInside() {
        let pages = GuardPages()
        for length in 0...200 {
            for input in utf8Inputs(length: length) {
                let valid = String(validating: input, as: UTF8.self) != nil
                for placed in [pages.atEnd(input), pages.atStart(input)] {
                    let bytes = UnsafeRawBufferPointer(placed)
                    #expect(UTF8Validator.isValid(bytes) == valid, "length \(length): \(input.suffix(4))")
                    // In two pieces at several cuts (the second piece ends at the guard).
                    for cut in stride(from: 0, through: length, by: max(1, length / 7)) {
                        var validator = UTF8Validator()
                        let first = validator.validate(UnsafeRawBufferPointer(rebasing: bytes[..<cut]))
                        let second = first == nil ? validator.validate(UnsafeRawBufferPointer(rebasing: bytes[cut...])) : 0
                        #expect((first == nil && second == nil && validator.isAtBoundary) == valid,
                                "length \(length), cut at \(cut)")
                    }
                }
            }
        }
    }
}
