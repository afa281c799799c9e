import Testing
@testable import SwiftWSCore

private typealias T = DeflateTestSupport
private typealias Negotiation = PerMessageDeflateNegotiation

/// RFC 7692 sections 5 and 7.1: negotiation in both roles.
@Suite("permessage-deflate negotiation (RFC 7692 5, 7.1)")
struct PerMessageDeflateNegotiationTests {
    // MARK: Server: offers -> response

    /// (offer header, expected response element or nil when declined, index of accepted element)
    static let serverCases: [(String, String?, Int)] = [
        ("permessage-deflate", "permessage-deflate; server_max_window_bits=12", 0),
        ("permessage-deflate; client_max_window_bits", "permessage-deflate; server_max_window_bits=12; client_max_window_bits=12", 0),
        ("permessage-deflate; client_max_window_bits=10", "permessage-deflate; server_max_window_bits=12; client_max_window_bits=10", 0),
        ("permessage-deflate; client_max_window_bits=15", "permessage-deflate; server_max_window_bits=12; client_max_window_bits=12", 0),
        ("permessage-deflate; server_max_window_bits=10", "permessage-deflate; server_max_window_bits=10", 0),
        ("permessage-deflate; server_max_window_bits=8", "permessage-deflate; server_max_window_bits=8", 0),
        ("permessage-deflate; server_max_window_bits=15", "permessage-deflate; server_max_window_bits=12", 0),
        ("permessage-deflate; server_no_context_takeover", "permessage-deflate; server_no_context_takeover; server_max_window_bits=12", 0),
        ("permessage-deflate; client_no_context_takeover", "permessage-deflate; client_no_context_takeover; server_max_window_bits=12", 0),
        ("permessage-deflate; server_no_context_takeover; client_no_context_takeover; server_max_window_bits=9; client_max_window_bits=8",
         "permessage-deflate; server_no_context_takeover; client_no_context_takeover; server_max_window_bits=9; client_max_window_bits=8", 0),
        ("PerMessage-Deflate; Client_Max_Window_Bits", "permessage-deflate; server_max_window_bits=12; client_max_window_bits=12", 0),
        // Declined offers (section 7: unknown, duplicated or invalid parameters).
        ("permessage-deflate; x-foo", nil, 0),
        ("permessage-deflate; server_max_window_bits=10; server_max_window_bits=10", nil, 0),
        ("permessage-deflate; client_max_window_bits; client_max_window_bits", nil, 0),
        ("permessage-deflate; server_no_context_takeover; server_no_context_takeover", nil, 0),
        ("permessage-deflate; server_max_window_bits=7", nil, 0),
        ("permessage-deflate; server_max_window_bits=16", nil, 0),
        ("permessage-deflate; client_max_window_bits=7", nil, 0),
        ("permessage-deflate; client_max_window_bits=16", nil, 0),
        ("permessage-deflate; server_max_window_bits=08", nil, 0),
        ("permessage-deflate; server_max_window_bits=+9", nil, 0),
        ("permessage-deflate; server_max_window_bits=abc", nil, 0),
        ("permessage-deflate; server_max_window_bits", nil, 0),
        ("permessage-deflate; server_no_context_takeover=1", nil, 0),
        ("permessage-deflate; client_no_context_takeover=true", nil, 0),
        ("x-webkit-deflate-frame", nil, 0),
        // Fallbacks: the first acceptable element wins; other extensions are skipped.
        ("permessage-deflate; x-foo, permessage-deflate; client_max_window_bits",
         "permessage-deflate; server_max_window_bits=12; client_max_window_bits=12", 1),
        ("x-webkit-deflate-frame, permessage-deflate", "permessage-deflate; server_max_window_bits=12", 1),
        ("permessage-deflate; server_max_window_bits=10, permessage-deflate", "permessage-deflate; server_max_window_bits=10", 0),
    ]

    @Test("server with default policy (12/12)", arguments: serverCases)
    func serverDefault(offer: String, expected: String?, index: Int) {
        let agreement = Negotiation.serverAccept(offers: T.elements(offer), configuration: .init())
        #expect(agreement?.response.description == expected)
        if expected != nil { #expect(agreement?.acceptedOfferIndex == index) }
    }

    @Test("server agreed parameters follow the response")
    func serverParameters() throws {
        let agreement = try #require(Negotiation.serverAccept(
            offers: T.elements("permessage-deflate; client_no_context_takeover; server_max_window_bits=10; client_max_window_bits"),
            configuration: .init()))
        #expect(agreement.parameters == PerMessageDeflateParameters(
            serverNoContextTakeover: false, clientNoContextTakeover: true, serverMaxWindowBits: 10, clientMaxWindowBits: 12))
        // The client did not offer client_max_window_bits: it may use 15, so we inflate with 15.
        let plain = try #require(Negotiation.serverAccept(offers: T.elements("permessage-deflate"), configuration: .init()))
        #expect(plain.parameters.clientMaxWindowBits == 15)
    }

    @Test("server policies: disabled, not accepting, 15-bit (nothing announced), imposed no context takeover")
    func serverPolicies() {
        let offers = T.elements("permessage-deflate; client_max_window_bits")
        #expect(Negotiation.serverAccept(offers: offers, configuration: .disabled) == nil)
        #expect(Negotiation.serverAccept(offers: offers, configuration: .init(acceptsOffers: false)) == nil)
        // We use 15 and impose no client limit: announce no window at all.
        #expect(Negotiation.serverAccept(offers: offers, configuration: .maximumCompression)?.response.description == "permessage-deflate")
        let strict = PerMessageDeflateConfiguration(localNoContextTakeover: true, remoteNoContextTakeover: true)
        #expect(Negotiation.serverAccept(offers: offers, configuration: strict)?.response.description
                == "permessage-deflate; server_no_context_takeover; client_no_context_takeover; server_max_window_bits=12; client_max_window_bits=12")
    }

    // MARK: Client: offers, then the server's answer

    @Test("client offers: preferred element, then a fallback without server_max_window_bits")
    func clientOffers() {
        // client_max_window_bits without a value, as browsers and websockets offer it.
        #expect(Negotiation.clientOffers(configuration: .init()).map(\.description) == [
            "permessage-deflate; server_max_window_bits=12; client_max_window_bits",
            "permessage-deflate; client_max_window_bits",
        ])
        // Announced: our limit becomes a value the server must not exceed.
        #expect(Negotiation.clientOffers(configuration: .init(announcesLocalMaxWindowBits: true)).map(\.description) == [
            "permessage-deflate; server_max_window_bits=12; client_max_window_bits=12",
            "permessage-deflate; client_max_window_bits=12",
        ])
        #expect(Negotiation.clientOffers(configuration: .maximumCompression).map(\.description) == [
            "permessage-deflate; client_max_window_bits",
        ])
        #expect(Negotiation.clientOffers(configuration: .init(
            localNoContextTakeover: true, remoteNoContextTakeover: true)).map(\.description) == [
            "permessage-deflate; server_no_context_takeover; client_no_context_takeover; server_max_window_bits=12; client_max_window_bits",
            "permessage-deflate; server_no_context_takeover; client_no_context_takeover; client_max_window_bits",
        ])
        #expect(Negotiation.clientOffers(configuration: .disabled).isEmpty)
    }

    typealias Expected = Result<PerMessageDeflateParameters?, PerMessageDeflateNegotiationError>
    static func agreed(_ server: Int, _ client: Int, serverReset: Bool = false, clientReset: Bool = false) -> Expected {
        .success(PerMessageDeflateParameters(serverNoContextTakeover: serverReset, clientNoContextTakeover: clientReset,
                                             serverMaxWindowBits: server, clientMaxWindowBits: client))
    }
    static func failed(_ kind: PerMessageDeflateNegotiationError.Kind) -> Expected {
        .failure(PerMessageDeflateNegotiationError(kind))
    }

    /// (response header, expected) for the default client configuration.
    static let clientCases: [(String, Expected)] = [
        ("", .success(nil)),
        ("x-other", .success(nil)),
        // The value-less client_max_window_bits lets the server grant any window: the agreement
        // records it (our compressor still keeps to 12, see PerMessageDeflate.init).
        ("permessage-deflate", agreed(15, 15)),  // the fallback was accepted
        ("permessage-deflate; server_max_window_bits=12; client_max_window_bits=12", agreed(12, 12)),
        ("permessage-deflate; server_max_window_bits=9", agreed(9, 15)),
        ("permessage-deflate; server_max_window_bits=13", agreed(13, 15)),  // fallback, server's own limit
        ("permessage-deflate; client_max_window_bits=8", agreed(15, 8)),
        ("permessage-deflate; server_no_context_takeover", agreed(15, 15, serverReset: true)),
        ("permessage-deflate; client_no_context_takeover", agreed(15, 15, clientReset: true)),
        ("permessage-deflate; client_max_window_bits=13", agreed(15, 13)),
        // Servers seen in the field answer 15 whatever the offer: accepted by default.
        ("permessage-deflate; server_max_window_bits=12; client_max_window_bits=15", agreed(12, 15)),
        ("permessage-deflate; client_max_window_bits", failed(.invalidValue)),
        ("permessage-deflate; server_max_window_bits=16", failed(.invalidValue)),
        ("permessage-deflate; server_max_window_bits", failed(.invalidValue)),
        ("permessage-deflate; server_no_context_takeover=1", failed(.invalidValue)),
        ("permessage-deflate; x-foo", failed(.unknownParameter)),
        ("permessage-deflate; server_max_window_bits=10; server_max_window_bits=10", failed(.duplicateParameter)),
        ("permessage-deflate, permessage-deflate", failed(.duplicateExtension)),
    ]

    @Test("client validates the server's answer (default configuration)", arguments: clientCases)
    func clientValidation(response: String, expected: Expected) {
        let elements = response.isEmpty ? [] : T.elements(response)
        let result = Result { () throws(PerMessageDeflateNegotiationError) in
            try Negotiation.clientAccept(response: elements, configuration: .init())
        }
        switch (result, expected) {
        case (.success(let got), .success(let want)):
            #expect(got == want, "\(response)")
        case (.failure(let got), .failure(let want)):
            #expect(got.kind == want.kind, "\(response): \(got)")
        default:
            Issue.record("\(response): got \(result), expected \(expected)")
        }
    }

    @Test("client: requested parameters the answer must honour")
    func clientRequirements() throws {
        // Asked for server_no_context_takeover in every offer: the answer must contain it.
        let strict = PerMessageDeflateConfiguration(remoteNoContextTakeover: true)
        #expect(throws: PerMessageDeflateNegotiationError(.missingParameter, parameter: "server_no_context_takeover")) {
            try Negotiation.clientAccept(response: T.elements("permessage-deflate"), configuration: strict)
        }
        // Asked for a server window without fallback... the fallback exists, so only a larger
        // value than any offer allows is refused: with remote 15 there is one offer only.
        let noFallback = PerMessageDeflateConfiguration(remoteMaxWindowBits: nil)
        #expect(try Negotiation.clientAccept(response: T.elements("permessage-deflate; server_max_window_bits=15"),
                                             configuration: noFallback)?.serverMaxWindowBits == 15)
        // Offered client_max_window_bits without a value (local 15): any value may come back.
        #expect(try Negotiation.clientAccept(response: T.elements("permessage-deflate; client_max_window_bits=9"),
                                             configuration: .maximumCompression)?.clientMaxWindowBits == 9)
        #expect(try Negotiation.clientAccept(response: T.elements("permessage-deflate"),
                                             configuration: .maximumCompression)?.clientMaxWindowBits == 15)
        // An announced client window is a limit the answer must respect (RFC 7692 7.1.2.2).
        let announced = PerMessageDeflateConfiguration(announcesLocalMaxWindowBits: true)
        #expect(throws: PerMessageDeflateNegotiationError(.windowTooLarge, parameter: "client_max_window_bits", value: "15")) {
            try Negotiation.clientAccept(response: T.elements("permessage-deflate; client_max_window_bits=15"), configuration: announced)
        }
        #expect(try Negotiation.clientAccept(response: T.elements("permessage-deflate; client_max_window_bits=10"),
                                             configuration: announced)?.clientMaxWindowBits == 10)
        // An answer although nothing was offered.
        #expect(throws: PerMessageDeflateNegotiationError(.notOffered)) {
            try Negotiation.clientAccept(response: T.elements("permessage-deflate"), configuration: .disabled)
        }
    }

    @Test("client rejects client_max_window_bits when it was not offered")
    func clientUnexpectedWindow() throws {
        let offer = PerMessageDeflateRequest()  // nothing offered for the client window
        var response = PerMessageDeflateRequest()
        response.clientMaxWindowBits = .bits(10)
        #expect(throws: PerMessageDeflateNegotiationError(.unexpectedParameter, parameter: "client_max_window_bits", value: "10")) {
            try Negotiation.agreement(offer: offer, response: response)
        }
    }

    // MARK: Matrix: every client configuration against every server policy

    static let configurations: [PerMessageDeflateConfiguration] = {
        var all: [PerMessageDeflateConfiguration] = []
        for local in [8, 12, 15] {
            for remote in [nil, 8, 11, 15] as [Int?] {
                for localReset in [false, true] {
                    for remoteReset in [false, true] {
                        for announces in [false, true] {
                            all.append(.init(localMaxWindowBits: local, remoteMaxWindowBits: remote,
                                             localNoContextTakeover: localReset, remoteNoContextTakeover: remoteReset,
                                             compressionThreshold: 0, announcesLocalMaxWindowBits: announces))
                        }
                    }
                }
            }
        }
        return all
    }()

    @Test("matrix: offers -> server response -> client validation agree, and messages round-trip", arguments: configurations)
    func matrix(client: PerMessageDeflateConfiguration) throws {
        // Two messages that refer back 3000 and 600 bytes into the previous message: a compressor
        // using a larger window than announced would make the peer's inflater fail.
        let blocks = [T.randomBytes(3000, seed: 1), T.randomBytes(600, seed: 2)]
        for server in Self.configurations {
            let offers = Negotiation.clientOffers(configuration: client)
            let agreement = try #require(Negotiation.serverAccept(offers: offers, configuration: server))
            let expected = PerMessageDeflateParameters(
                serverNoContextTakeover: client.remoteNoContextTakeover || server.localNoContextTakeover,
                clientNoContextTakeover: client.localNoContextTakeover || server.remoteNoContextTakeover,
                serverMaxWindowBits: min(server.localMaxWindowBits, client.remoteMaxWindowBits ?? 15),
                // Without an announced value the server picks the client's window (its own limit
                // or 15); the client compresses with min(that, its own limit) either way.
                clientMaxWindowBits: min(client.announcesLocalMaxWindowBits ? client.localMaxWindowBits : 15,
                                         server.remoteMaxWindowBits ?? 15))
            #expect(agreement.parameters == expected, "client \(client) server \(server)")
            let validated = try Negotiation.clientAccept(response: [agreement.response], configuration: client)
            #expect(validated == expected)
            // Never announce a window we do not use: the response names exactly the windows used.
            for parameter in agreement.response.parameters where parameter.name.hasSuffix("max_window_bits") {
                let used = parameter.name.hasPrefix("server") ? expected.serverMaxWindowBits : expected.clientMaxWindowBits
                #expect(parameter.value == String(used))
            }
            let serverCodec = PerMessageDeflate(parameters: agreement.parameters, role: .server, configuration: server)
            let clientCodec = PerMessageDeflate(parameters: agreement.parameters, role: .client, configuration: client)
            for block in blocks {
                for _ in 0..<2 {
                    let down = try T.decompress(clientCodec, [T.compress(serverCodec, block)]) == block
                    let up = try T.decompress(serverCodec, [T.compress(clientCodec, block)]) == block
                    #expect(down && up, "client \(client) server \(server)")
                }
            }
        }
    }
}
