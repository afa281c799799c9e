import Testing
@testable import SwiftWSCore

/// Our client's request through our server's validation and back, in memory.
@Suite("Handshake round trip (client <-> server)")
struct HandshakeRoundTripTests {
    @Test func clientRequestIsAcceptedAndTheAnswerValidates() throws {
        let offers = [ExtensionOffer(name: "permessage-deflate", parameters: [.init("client_max_window_bits")]),
                      ExtensionOffer(name: "permessage-deflate")]
        var client = try ClientHandshake(host: "::1", port: 9001, path: "/feed", query: "topic=a", origin: "http://localhost",
                                         subprotocols: ["v2.feed", "v1.feed"], extensions: offers,
                                         headers: HTTPHeaders([("X-Token", "abc")]))
        // Server reads the request byte by byte, with the client's first frame right behind it.
        var server = ServerHandshake()
        let firstFrame: [UInt8] = [0x81, 0x80, 1, 2, 3, 4]
        let received = feed(client.requestBytes + firstFrame, chunkSize: 1) { chunk throws(HandshakeError) in try server.receive(chunk) }
        guard case .complete(let request, let headLength) = received else {
            Issue.record("server did not accept: \(received)")
            return
        }
        #expect(headLength == client.requestBytes.count)
        #expect(request.host == "[::1]:9001")
        #expect(request.path == "/feed")
        #expect(request.query == "topic=a")
        #expect(request.origin == "http://localhost")
        #expect(request.subprotocols == ["v2.feed", "v1.feed"])
        #expect(request.extensionOffers == offers)
        #expect(request.headers.first("x-token") == "abc")
        #expect(request.key == client.key)

        // The negotiator accepts the second offer and the server prefers v1.
        let response = try request.acceptResponse(subprotocol: "v1.feed", extensions: [offers[1]])
        let answered = feed(response) { chunk throws(HandshakeError) in try client.receive(chunk) }
        let answer = try #require(answered.value)
        #expect(answer.subprotocol == "v1.feed")
        #expect(answer.extensions == [offers[1]])
    }

    @Test func minimalRoundTripManyTimes() throws {
        for _ in 0..<50 {  // fresh random keys each time
            var client = try ClientHandshake(host: "127.0.0.1", port: 80)
            var server = ServerHandshake()
            let request = try #require(feed(client.requestBytes) { c throws(HandshakeError) in try server.receive(c) }.value)
            #expect(request.host == "127.0.0.1")
            let response = try request.acceptResponse()
            #expect(feed(response) { c throws(HandshakeError) in try client.receive(c) }.value?.subprotocol == nil)
        }
    }
}
