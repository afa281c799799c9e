/// A server-wide count of the bytes its connections hold for peers (unfinished input, unsent
/// output) against a limit. Loop-thread only: one server, one loop.
final class MemoryBudget {
    /// The most bytes all connections together may hold.
    let limit: Int
    /// What the connections hold now, as each last counted it.
    var used = 0

    init(limit: Int) {
        self.limit = limit
    }
}
