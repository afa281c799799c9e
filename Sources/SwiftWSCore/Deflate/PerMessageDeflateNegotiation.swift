/// permessage-deflate negotiation (RFC 7692 sections 5 and 7.1) for both roles, on the
/// `Sec-WebSocket-Extensions` elements the handshake parsed.
///
/// Rule of thumb from section 7.1.2: a window value in a response is always what the sender of
/// that direction will use at most, so we only ever announce the window our compressor really
/// uses (DESIGN.md: "never announce a window size we do not use").
public enum PerMessageDeflateNegotiation {
    /// A server's decision: the element for its `Sec-WebSocket-Extensions` response header and
    /// the parameters both sides now use.
    public struct Agreement: Hashable, Sendable {
        /// The response element, e.g. `permessage-deflate; server_max_window_bits=12; client_max_window_bits=12`.
        public var response: ExtensionOffer
        /// The agreed parameters.
        public var parameters: PerMessageDeflateParameters
        /// Index, in the offers passed in, of the element that was accepted.
        public var acceptedOfferIndex: Int
    }

    // MARK: Server

    /// Picks the first acceptable permessage-deflate offer (section 5: a client lists offers by
    /// preference, later ones being fallbacks) and builds the response, or returns nil to decline.
    ///
    /// An offer with an unknown, duplicated or invalid parameter is declined and the next one
    /// considered (section 7: "the server MUST decline"); the connection is not failed. Non
    /// permessage-deflate elements are ignored (another extension's business).
    ///
    /// Policy applied to a valid offer (`configuration` is the server's: local = server_*):
    /// - `server_no_context_takeover`: granted when asked (we can always comply), or imposed when
    ///   `localNoContextTakeover`.
    /// - `client_no_context_takeover`: echoed when the client offered it (it promised not to keep
    ///   context, and saying so lets us free our inflater between messages) or imposed when
    ///   `remoteNoContextTakeover`.
    /// - `server_max_window_bits`: we use min(our limit, the client's); announced when the client
    ///   asked for a limit (section 7.1.2.1 requires it then) or when ours is below 15.
    /// - `client_max_window_bits`: only allowed in the response when offered (section 7.1.2.2).
    ///   Offered with a value N: we answer min(N, our limit). Without a value: we answer our
    ///   limit, or leave it out when we have none. Not offered: the client may use 15 and we
    ///   inflate with 15 (as Python `websockets` does by default).
    public static func serverAccept(
        offers: [ExtensionOffer], configuration: PerMessageDeflateConfiguration
    ) -> Agreement? {
        guard configuration.isEnabled, configuration.acceptsOffers else { return nil }
        for (index, offer) in offers.enumerated() where offer.isPermessageDeflate {
            guard let request = try? PerMessageDeflateRequest(parsing: offer.parameters, isOffer: true) else {
                continue  // declined; try the next (fallback) offer
            }
            var parameters = PerMessageDeflateParameters()
            var response = PerMessageDeflateRequest()

            parameters.serverNoContextTakeover = request.serverNoContextTakeover || configuration.localNoContextTakeover
            response.serverNoContextTakeover = parameters.serverNoContextTakeover
            parameters.clientNoContextTakeover = request.clientNoContextTakeover || configuration.remoteNoContextTakeover
            response.clientNoContextTakeover = parameters.clientNoContextTakeover

            let serverBits = min(configuration.clampedLocalMaxWindowBits, request.serverMaxWindowBits ?? 15)
            parameters.serverMaxWindowBits = serverBits
            if request.serverMaxWindowBits != nil || serverBits < 15 {
                response.serverMaxWindowBits = serverBits
            }

            switch request.clientMaxWindowBits {
            case .absent:
                parameters.clientMaxWindowBits = 15
            case .withoutValue:
                if let limit = configuration.clampedRemoteMaxWindowBits {
                    parameters.clientMaxWindowBits = limit
                    response.clientMaxWindowBits = .bits(limit)
                } else {
                    parameters.clientMaxWindowBits = 15
                }
            case .bits(let offered):
                let bits = min(offered, configuration.clampedRemoteMaxWindowBits ?? 15)
                parameters.clientMaxWindowBits = bits
                response.clientMaxWindowBits = .bits(bits)
            }
            return Agreement(response: response.offer, parameters: parameters, acceptedOfferIndex: index)
        }
        return nil
    }

    // MARK: Client

    /// The elements a client puts in its `Sec-WebSocket-Extensions` request header, most
    /// preferred first (empty when compression is disabled).
    ///
    /// The first asks for everything `configuration` wants (local = client_*). When it asks the
    /// server for a window limit, a second element without `server_max_window_bits` follows:
    /// section 7.1.2.1 lets a server that cannot limit its window decline an offer containing it,
    /// and compression with a 32 KiB inflate window beats no compression.
    /// `client_max_window_bits` is always offered (section 7.1.2.2: the server may only limit us
    /// if we do), without a value (the interoperable offer: the server may answer up to 15, and
    /// we compress with min(its answer, our limit)), or with our own limit as its value when
    /// `announcesLocalMaxWindowBits` and below 15 — a promise we keep.
    public static func clientOffers(configuration: PerMessageDeflateConfiguration) -> [ExtensionOffer] {
        clientRequests(configuration).map(\.offer)
    }

    static func clientRequests(_ configuration: PerMessageDeflateConfiguration) -> [PerMessageDeflateRequest] {
        guard configuration.isEnabled else { return [] }
        var request = PerMessageDeflateRequest()
        request.serverNoContextTakeover = configuration.remoteNoContextTakeover
        request.clientNoContextTakeover = configuration.localNoContextTakeover
        let localBits = configuration.clampedLocalMaxWindowBits
        request.clientMaxWindowBits = configuration.announcesLocalMaxWindowBits && localBits < 15 ? .bits(localBits) : .withoutValue
        guard let remoteBits = configuration.clampedRemoteMaxWindowBits, remoteBits < 15 else {
            return [request]
        }
        var limited = request
        limited.serverMaxWindowBits = remoteBits
        return [limited, request]
    }

    /// Validates the server's answer: the elements of its `Sec-WebSocket-Extensions` response
    /// header (other extensions are ignored here). Returns nil when the server declined
    /// compression, the agreed parameters when it accepted one of `clientOffers(configuration:)`,
    /// and throws when the answer is not a valid response to any of them — the client must then
    /// fail the connection (section 7.1).
    ///
    /// Rejected: unknown, duplicated or malformed parameters; `client_max_window_bits` when not
    /// offered or above what we offered; `server_max_window_bits` missing or above what we asked
    /// when every offer asked for it; `server_no_context_takeover` missing when we asked for it;
    /// two permessage-deflate elements; an answer when nothing was offered.
    public static func clientAccept(
        response elements: [ExtensionOffer], configuration: PerMessageDeflateConfiguration
    ) throws(PerMessageDeflateNegotiationError) -> PerMessageDeflateParameters? {
        let answers = elements.filter(\.isPermessageDeflate)
        guard let answer = answers.first else { return nil }
        guard answers.count == 1 else { throw .init(.duplicateExtension) }
        let offers = clientRequests(configuration)
        guard !offers.isEmpty else { throw .init(.notOffered) }
        let response = try PerMessageDeflateRequest(parsing: answer.parameters, isOffer: false)
        // The error reported is the last (most permissive) offer's: the others are stricter, so
        // its reason is the one that no fallback could cover.
        var lastError = PerMessageDeflateNegotiationError(.notOffered)
        for offer in offers {
            do throws(PerMessageDeflateNegotiationError) {
                return try agreement(offer: offer, response: response)
            } catch {
                lastError = error
            }
        }
        throw lastError
    }

    /// The parameters a valid `response` to `offer` implies, or why it is not valid.
    static func agreement(
        offer: PerMessageDeflateRequest, response: PerMessageDeflateRequest
    ) throws(PerMessageDeflateNegotiationError) -> PerMessageDeflateParameters {
        var parameters = PerMessageDeflateParameters()
        // 7.1.1.1: asked for server_no_context_takeover => the response must contain it.
        if offer.serverNoContextTakeover && !response.serverNoContextTakeover {
            throw .init(.missingParameter, parameter: "server_no_context_takeover")
        }
        parameters.serverNoContextTakeover = response.serverNoContextTakeover
        // 7.1.1.2: the server may impose it; if we offered it, we keep our word anyway.
        parameters.clientNoContextTakeover = response.clientNoContextTakeover || offer.clientNoContextTakeover
        // 7.1.2.1: asked for a limit => the response must carry one, not larger.
        if let asked = offer.serverMaxWindowBits {
            guard let granted = response.serverMaxWindowBits else {
                throw .init(.missingParameter, parameter: "server_max_window_bits")
            }
            guard granted <= asked else {
                throw .init(.windowTooLarge, parameter: "server_max_window_bits", value: String(granted))
            }
        }
        parameters.serverMaxWindowBits = response.serverMaxWindowBits ?? 15
        // 7.1.2.2: allowed in the response only if offered; not above an offered value.
        switch (offer.clientMaxWindowBits, response.clientMaxWindowBits) {
        case (.absent, .bits(let bits)):
            throw .init(.unexpectedParameter, parameter: "client_max_window_bits", value: String(bits))
        case (.absent, _):
            parameters.clientMaxWindowBits = 15
        case (.withoutValue, .bits(let bits)):
            parameters.clientMaxWindowBits = bits
        case (.withoutValue, _):
            parameters.clientMaxWindowBits = 15
        case (.bits(let limit), .bits(let bits)):
            guard bits <= limit else {
                throw .init(.windowTooLarge, parameter: "client_max_window_bits", value: String(bits))
            }
            parameters.clientMaxWindowBits = bits
        case (.bits(let limit), _):
            parameters.clientMaxWindowBits = limit  // our own promise still holds
        }
        return parameters
    }
}
