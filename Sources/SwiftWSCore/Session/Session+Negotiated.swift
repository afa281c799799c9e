extension Session {
    /// The session of a connection in `role` whose opening handshake agreed on permessage-deflate
    /// with `deflate` (nil: no compression): the one place servers, clients and the C sans-I/O
    /// API assemble the protocol state and its codec.
    ///
    /// - Parameters:
    ///   - configuration: limits and behaviour; its `role` is set to `role`.
    ///   - deflateConfiguration: this side's compression settings (level, memory, threshold).
    ///   - sharedCompressor: a compressor shared by one loop's connections (servers), used when
    ///     the agreement lets this side drop its context between messages.
    ///   - reassemblyPool: see `init(configuration:perMessageDeflate:reassemblyPool:)`.
    public convenience init(role: Role, configuration: SessionConfiguration, deflate: PerMessageDeflateParameters?,
                            deflateConfiguration: PerMessageDeflateConfiguration,
                            sharedCompressor: DeflateCompressor? = nil, reassemblyPool: ReassemblyPool? = nil) {
        var configuration = configuration
        configuration.role = role
        let codec = deflate.map {
            PerMessageDeflate(parameters: $0, role: role, configuration: deflateConfiguration, sharedCompressor: sharedCompressor)
        }
        self.init(configuration: configuration, perMessageDeflate: codec, reassemblyPool: reassemblyPool)
    }
}
