/// An immutable value held once and referenced by many: the constants every connection of a
/// server consults (its session limits, its timeouts) cost each idle connection one pointer
/// instead of a copy of the whole struct (issue 16: 64 and 72 bytes per connection before).
public final class Shared<Value: Sendable & Hashable>: Sendable, Hashable {
    /// The value; never changes.
    public let value: Value

    /// Holds `value`.
    public init(_ value: Value) {
        self.value = value
    }

    /// Equal when the values are: sharing is an optimisation, not an identity.
    public static func == (lhs: Shared, rhs: Shared) -> Bool {
        lhs === rhs || lhs.value == rhs.value
    }

    /// Hashes the value (consistent with `==`).
    public func hash(into hasher: inout Hasher) {
        hasher.combine(value)
    }
}
