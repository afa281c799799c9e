import Testing
@testable import SwiftWSCore

@Suite("Base64 (RFC 4648)")
struct Base64Tests {
    /// RFC 4648 section 10.
    @Test(arguments: [("", ""), ("f", "Zg=="), ("fo", "Zm8="), ("foo", "Zm9v"), ("foob", "Zm9vYg=="),
                      ("fooba", "Zm9vYmE="), ("foobar", "Zm9vYmFy")])
    func rfcVectors(plain: String, encoded: String) {
        #expect(Base64.encode(plain.utf8) == encoded)
        #expect(Base64.decode(encoded) == Array(plain.utf8))
    }

    @Test func padBitsCanBeIgnoredOnRequest() {
        #expect(Base64.decode("Zh==", allowNonZeroPadBits: true) == Array("f".utf8))
        #expect(Base64.decode("Zm9=", allowNonZeroPadBits: true) == Array("fo".utf8))
        #expect(Base64.decode("Zm9", allowNonZeroPadBits: true) == nil)
    }

    @Test func allByteValuesRoundTrip() {
        let bytes = (0...255).map { UInt8($0) }
        for count in 0...bytes.count {
            let encoded = Base64.encode(bytes[..<count])
            #expect(Base64.decode(encoded) == Array(bytes[..<count]), "count \(count)")
        }
        #expect(Base64.encode([0xFB, 0xFF]) == "+/8=")
    }

    /// Strict decoding: RFC 4648 sections 3.1-3.5.
    @Test(arguments: [
        "Zg=",          // length not a multiple of 4
        "Zg",           // padding missing
        "Zh==",         // non-zero pad bits (3.5)
        "Zm9=",         // non-zero pad bits with one "="
        "Zm9v\n",       // line break (3.1)
        "Zm 9v",        // whitespace (3.3)
        " Zm9v",
        "Zg==Zg==",     // padding inside the data
        "=Zg=",
        "Z===",
        "Zm=v",
        "Zm9-",         // URL-safe alphabet is not the standard one
        "Zm9_",
        "Zm9\u{e9}",    // non-ASCII
        "====",
    ])
    func rejectsNonCanonical(text: String) {
        #expect(Base64.decode(text) == nil)
    }
}
