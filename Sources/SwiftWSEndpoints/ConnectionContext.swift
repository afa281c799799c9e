import SwiftWSCore

/// What the connections of one server share: the callbacks, the server, the send limits, the
/// memory budget, the timeout durations and the recipe of their sessions, held once and
/// referenced by each connection (one pointer instead of 56 bytes of copies per idle connection,
/// issue 16). A client connection has its own.
final class ConnectionContext {
    /// The callbacks.
    let handlers: ConnectionHandlers
    /// The server the connections belong to (nil for a client's).
    weak var server: WebSocketServer?
    private let clientLog: LogSink?
    /// The server-wide budget the connections' held bytes count against (nil: none).
    let memoryBudget: MemoryBudget?
    /// `ConnectionOptions.maxBufferedAmount` and `backpressurePolicy`: the send limits a
    /// connection consults after it opened (its time limits are `timeouts`, its protocol
    /// limits its session's).
    let maxBufferedAmount: Int?
    let backpressurePolicy: BackpressurePolicy
    /// The timeout durations.
    let timeouts: Shared<ConnectionTimeouts.Configuration>
    /// What a connection without compression makes its session from on first use (nil: each
    /// connection is given its session).
    let sessionRecipe: SessionRecipe?

    /// The context of a server's connections: they log through the server's `log`, as it is
    /// when they log.
    convenience init(server: WebSocketServer, options: ConnectionOptions, handlers: ConnectionHandlers,
         memoryBudget: MemoryBudget?, timeouts: Shared<ConnectionTimeouts.Configuration>, sessionRecipe: SessionRecipe) {
        self.init(options: options, handlers: handlers, log: nil, memoryBudget: memoryBudget, timeouts: timeouts,
                  sessionRecipe: sessionRecipe)
        self.server = server
    }

    /// The context of one client connection, logging to `log`.
    convenience init(clientOptions options: ConnectionOptions, handlers: ConnectionHandlers, log: LogSink?) {
        self.init(options: options, handlers: handlers, log: log, memoryBudget: nil,
                  timeouts: Shared(options.timeoutConfiguration), sessionRecipe: nil)
    }

    private init(options: ConnectionOptions, handlers: ConnectionHandlers, log: LogSink?, memoryBudget: MemoryBudget?,
                 timeouts: Shared<ConnectionTimeouts.Configuration>, sessionRecipe: SessionRecipe?) {
        self.handlers = handlers
        self.clientLog = log
        self.memoryBudget = memoryBudget
        self.maxBufferedAmount = options.maxBufferedAmount
        self.backpressurePolicy = options.backpressurePolicy
        self.timeouts = timeouts
        self.sessionRecipe = sessionRecipe
    }

    /// Where a connection logs: its server's sink, or its client's.
    var log: LogSink? { server?.log ?? clientLog }

    /// The handshake paths of the connections, each once, in the order first seen (at most
    /// `maxSharedPaths`): a connection keeps its path's index here (one byte) instead of the
    /// path (16 bytes per idle connection, issue 16), since a server's connections share few
    /// paths. Loop-thread only, like the server. Never shrinks, so an index stays valid.
    private var sharedPaths: [String] = []
    /// How many distinct paths `sharedPaths` keeps; a connection with a path beyond them keeps
    /// its own copy, so that clients cannot grow the table without bound.
    static let maxSharedPaths = 64

    /// The index of `path` in the shared paths, added if there is room; nil when there is not.
    func sharedPathIndex(_ path: String) -> UInt8? {
        if let index = sharedPaths.firstIndex(of: path) { return UInt8(index) }
        guard sharedPaths.count < ConnectionContext.maxSharedPaths else { return nil }
        sharedPaths.append(path)
        return UInt8(sharedPaths.count - 1)
    }

    /// The shared path at `index` (from `sharedPathIndex`).
    func sharedPath(_ index: UInt8) -> String { sharedPaths[Int(index)] }
}
