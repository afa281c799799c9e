import Testing
@testable import SwiftWSCore

@Suite("Close codes (RFC 6455 7.4)")
struct CloseCodeTests {
    @Test func validCodes() {
        for code: UInt16 in [1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 1012, 1013, 1014, 3000, 3999, 4000, 4999] {
            #expect(CloseCode(code).isValidOnWire, "\(code)")
        }
    }
    @Test func invalidCodes() {
        for code: UInt16 in [0, 999, 1004, 1005, 1006, 1015, 1016, 1100, 2000, 2999, 5000, 65535] {
            #expect(!CloseCode(code).isValidOnWire, "\(code)")
        }
    }
}
