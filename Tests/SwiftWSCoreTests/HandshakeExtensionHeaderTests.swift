import Testing
@testable import SwiftWSCore

/// `Sec-WebSocket-Extensions` grammar, RFC 6455 section 9.1 (with RFC 7692's examples).
@Suite("Handshake: Sec-WebSocket-Extensions (RFC 6455 9.1)")
struct HandshakeExtensionHeaderTests {
    typealias P = ExtensionParameter

    @Test func severalOffersWithParametersAndQuotedValues() throws {
        let offers = try ExtensionOffer.parseHeaderValue(
            "permessage-deflate; client_max_window_bits; server_max_window_bits=10, permessage-deflate;client_max_window_bits=\"15\" , x-foo")
        #expect(offers == [
            ExtensionOffer(name: "permessage-deflate", parameters: [P("client_max_window_bits"), P("server_max_window_bits", "10")]),
            ExtensionOffer(name: "permessage-deflate", parameters: [P("client_max_window_bits", "15")]),
            ExtensionOffer(name: "x-foo"),
        ])
    }

    @Test func whitespaceEscapesAndEmptyElements() throws {
        #expect(try ExtensionOffer.parseHeaderValue(" ,a\t;\tb = \"c\\d\" ,, e ,") ==
                [ExtensionOffer(name: "a", parameters: [P("b", "cd")]), ExtensionOffer(name: "e")])
        #expect(try ExtensionOffer.parseHeaderValues(["a", "b; c"]) ==
                [ExtensionOffer(name: "a"), ExtensionOffer(name: "b", parameters: [P("c")])])
        #expect(try ExtensionOffer.parseHeaderValues([]) == [])
    }

    @Test func descriptionRoundTrips() throws {
        let offers = [ExtensionOffer(name: "permessage-deflate", parameters: [P("client_max_window_bits"), P("server_max_window_bits", "12")]),
                      ExtensionOffer(name: "x")]
        let text = offers.map(\.description).joined(separator: ", ")
        #expect(text == "permessage-deflate; client_max_window_bits; server_max_window_bits=12, x")
        #expect(try ExtensionOffer.parseHeaderValue(text) == offers)
    }

    @Test(arguments: [
        "",                                   // 1#extension: at least one
        " , ,",
        "permessage-deflate;",                // parameter name missing
        "permessage-deflate; ;a",
        ";a",                                 // extension name missing
        "a=b",                                // value on the extension name
        "a b",                                // two tokens without separator
        "a; b=",                              // value missing
        "a; b=\"\"",                          // empty quoted value is not a token
        "a; b=\"1 0\"",                       // quoted value must be a token once unquoted
        "a; b=\"10",                          // unterminated quoted-string
        "a; b=\"10\\",                        // escape at the very end
        "a; b=\"10\"x",                       // junk after the quoted-string
        "a; b=c=d",
        "a; b=c d",
        "\"a\"",                              // quoted extension name
        "a, b(c)",
        "a;b=1;c\u{e9}",
    ])
    func malformedHeadersAreRejected(value: String) {
        do {
            let offers = try ExtensionOffer.parseHeaderValue(value)
            Issue.record("accepted \(value.debugDescription) as \(offers)")
        } catch {
            #expect(error.failure == .invalidExtensionHeader)
            #expect(error.status == 400)
        }
    }
}
