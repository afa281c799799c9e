import SwiftWSCore

/// What a server makes the session of a connection without compression from: one per server,
/// so that an idle connection holds this pointer instead of its session until its first byte in
/// or out (issue 16; see `WebSocketConnection.madeSession`). A connection with compression gets
/// its session at once: its codec comes from its own handshake.
final class SessionRecipe {
    /// The sessions' limits and rules, role included.
    let configuration: SessionConfiguration
    private let reassemblyPool: ReassemblyPool?

    /// A recipe for sessions of `role` with `configuration`'s rules and no compression.
    init(role: Role, configuration: SessionConfiguration, reassemblyPool: ReassemblyPool?) {
        var configuration = configuration
        configuration.role = role
        self.configuration = configuration
        self.reassemblyPool = reassemblyPool
    }

    /// A new session in the `.open` state.
    func makeSession() -> Session {
        Session(configuration: configuration, reassemblyPool: reassemblyPool)
    }
}
