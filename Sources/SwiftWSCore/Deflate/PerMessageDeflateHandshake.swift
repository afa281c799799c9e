/// permessage-deflate in the opening handshake: glue between `PerMessageDeflateNegotiation` and
/// the handshake types, which leave extension negotiation to their caller.
///
/// Server:
/// ```swift
/// let agreement = request.negotiatePerMessageDeflate(configuration)
/// let response = try request.acceptResponse(extensions: agreement.map { [$0.response] } ?? [])
/// let session = Session(configuration: sessionConfiguration,
///                       perMessageDeflate: agreement.map { PerMessageDeflate(parameters: $0.parameters, role: .server,
///                                                                             configuration: configuration) })
/// ```
/// Client:
/// ```swift
/// var handshake = try ClientHandshake(host: ..., extensions: PerMessageDeflateNegotiation.clientOffers(configuration: configuration))
/// // ... .complete(answer, consumed:)
/// let parameters = try answer.perMessageDeflateParameters(offeredWith: configuration)  // throws: fail the connection
/// ```
extension UpgradeRequest {
    /// The permessage-deflate element to accept from this request's offers under `configuration`
    /// (pass `response` to `acceptResponse(extensions:)`) and the agreed parameters, or nil when
    /// the client offered none we accept (then the connection goes on uncompressed).
    public func negotiatePerMessageDeflate(
        _ configuration: PerMessageDeflateConfiguration
    ) -> PerMessageDeflateNegotiation.Agreement? {
        PerMessageDeflateNegotiation.serverAccept(offers: extensionOffers, configuration: configuration)
    }
}

extension ServerAnswer {
    /// The permessage-deflate parameters the server accepted, nil if it declined, or
    /// `.invalidExtensionResponse` when its answer is not acceptable for the offers
    /// `PerMessageDeflateNegotiation.clientOffers(configuration:)` made (RFC 7692 section 7.1:
    /// the client must then fail the WebSocket connection).
    public func perMessageDeflateParameters(
        offeredWith configuration: PerMessageDeflateConfiguration
    ) throws(HandshakeError) -> PerMessageDeflateParameters? {
        do throws(PerMessageDeflateNegotiationError) {
            return try PerMessageDeflateNegotiation.clientAccept(response: extensions, configuration: configuration)
        } catch {
            // Only our own words and the RFC's parameter names: the reason must hold no peer bytes.
            let known = ["server_no_context_takeover", "client_no_context_takeover",
                         "server_max_window_bits", "client_max_window_bits"]
            let parameter = error.parameter.flatMap { known.contains($0) ? " (\($0))" : nil } ?? ""
            throw HandshakeError(.invalidExtensionResponse, "permessage-deflate response refused: \(error.kind)\(parameter)")
        }
    }
}

/// A server's acceptance of an upgrade request: the 101 response, the subprotocol it announces
/// and the permessage-deflate agreement, made by `UpgradeRequest.accept(subprotocol:deflate:headers:)`.
public struct UpgradeAcceptanceAnswer: Sendable {
    /// The complete `101 Switching Protocols` response to write.
    public let response: [UInt8]
    /// The subprotocol announced, if any.
    public let subprotocol: String?
    /// The permessage-deflate agreement (parameters and the response element), nil when the
    /// connection goes on uncompressed.
    public let deflate: PerMessageDeflateNegotiation.Agreement?
}

extension UpgradeRequest {
    /// The server's default subprotocol choice (RFC 6455 section 4.2.2): the first of `supported`
    /// (most preferred first) that the client offered, or nil.
    public func preferredSubprotocol(from supported: [String]) -> String? {
        supported.first { subprotocols.contains($0) }
    }

    /// Accepts this request: the one place the upgrade policy lives for every server (the
    /// endpoints' WebSocketServer, the C sans-I/O handshake, Python through both). The
    /// subprotocol must be one the client offered; permessage-deflate takes the first acceptable
    /// offer when `deflate` is enabled and declines the rest (RFC 7692 section 5: an offer we
    /// cannot honour is declined, never failed); `headers` are added to the 101.
    public func accept(subprotocol: String?, deflate: PerMessageDeflateConfiguration,
                       headers: HTTPHeaders = HTTPHeaders()) throws(HandshakeError) -> UpgradeAcceptanceAnswer {
        let agreement = deflate.isEnabled ? negotiatePerMessageDeflate(deflate) : nil
        let response = try acceptResponse(subprotocol: subprotocol, extensions: agreement.map { [$0.response] } ?? [],
                                          headers: headers)
        return UpgradeAcceptanceAnswer(response: response, subprotocol: subprotocol, deflate: agreement)
    }
}
