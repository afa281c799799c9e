import Testing
@testable import SwiftWSCore

@Suite("HTTP headers: case-insensitive lookup and comma lists (RFC 7230 3.2)")
struct HTTPHeadersTests {
    let headers = HTTPHeaders([
        ("Connection", "keep-alive, Upgrade"),
        ("X-Multi", "a"),
        ("x-multi", "b,  c"),
        ("Upgrade", "WebSocket"),
        ("Empty", ""),
    ])

    @Test func caseInsensitiveLookupKeepsOrderAndCase() {
        #expect(headers.values("X-MULTI") == ["a", "b,  c"])
        #expect(headers.first("x-multi") == "a")
        #expect(headers.first("missing") == nil)
        #expect(headers.contains("EMPTY"))
        #expect(headers.fields.map(\.name) == ["Connection", "X-Multi", "x-multi", "Upgrade", "Empty"])
    }

    @Test func combinedValues() {
        #expect(headers.combinedValue("x-Multi") == "a, b,  c")
        #expect(headers.combinedValue("missing") == nil)
    }

    @Test func commaListTokenMatching() {
        #expect(headers.containsToken("upgrade", in: "connection"))
        #expect(headers.containsToken("KEEP-ALIVE", in: "Connection"))
        #expect(headers.containsToken("websocket", in: "upgrade"))
        #expect(headers.containsToken("c", in: "X-Multi"))
        #expect(!headers.containsToken("upgrad", in: "Connection"))
        #expect(!headers.containsToken("keep-alive, upgrade", in: "Connection"))
        #expect(!headers.containsToken("", in: "Empty"))
    }

    @Test func listElementsSkipEmptyElements() {
        #expect(HTTPHeaders.listElements(" a ,, b\t,") == ["a", "b"])
        #expect(HTTPHeaders.listElements(" , ") == [])
    }

    @Test func removeDropsEveryCase() {
        var copy = headers
        copy.remove(name: "X-MULTI")
        #expect(!copy.contains("x-multi"))
        #expect(copy.count == 3)
    }
}
