/// The header fields of an HTTP head, in the order they were received or will be written, with
/// ASCII case-insensitive lookup (RFC 7230 section 3.2: "field names are case-insensitive").
///
/// Repeated fields are kept as separate entries; `combinedValue(_:)` joins them with ", " as
/// RFC 7230 section 3.2.2 allows for list-valued fields, and `containsToken(_:in:)` matches one
/// element of such a list (`Connection: keep-alive, Upgrade` contains `upgrade`).
public struct HTTPHeaders: Hashable, Sendable, Sequence {
    /// One header field as written: its name keeps the sender's case.
    public struct Field: Hashable, Sendable {
        /// The field name, a token.
        public var name: String
        /// The field value without leading or trailing whitespace.
        public var value: String

        /// A field.
        public init(name: String, value: String) {
            self.name = name
            self.value = value
        }
    }

    /// All fields, in order.
    public private(set) var fields: [Field] = []

    /// No fields.
    public init() {}

    /// The given fields, in order.
    public init(_ pairs: [(String, String)]) {
        fields = pairs.map { Field(name: $0.0, value: $0.1) }
    }

    /// Number of fields (repeated names count once per occurrence).
    public var count: Int { fields.count }

    /// Makes room for `count` fields without reallocating.
    public mutating func reserveCapacity(_ count: Int) {
        fields.reserveCapacity(count)
    }

    /// Adds a field at the end.
    public mutating func append(name: String, value: String) {
        fields.append(Field(name: name, value: value))
    }

    /// Removes every field called `name` (any case).
    public mutating func remove(name: String) {
        fields.removeAll { HTTPHeaders.namesMatch($0.name, name) }
    }

    /// The values of every field called `name` (any case), in order.
    public func values(_ name: String) -> [String] {
        fields.compactMap { HTTPHeaders.namesMatch($0.name, name) ? $0.value : nil }
    }

    /// The value of the first field called `name`, or nil.
    public func first(_ name: String) -> String? {
        fields.first { HTTPHeaders.namesMatch($0.name, name) }?.value
    }

    /// Whether a field called `name` is present.
    public func contains(_ name: String) -> Bool {
        fields.contains { HTTPHeaders.namesMatch($0.name, name) }
    }

    /// All values of `name` joined with ", " (RFC 7230 section 3.2.2), or nil if absent.
    public func combinedValue(_ name: String) -> String? {
        let all = values(name)
        return all.isEmpty ? nil : all.joined(separator: ", ")
    }

    /// Whether any field called `name` holds `token` as one element of its comma-separated list,
    /// compared ASCII case-insensitively: `containsToken("upgrade", in: "Connection")` is true for
    /// `Connection: keep-alive, Upgrade`.
    public func containsToken(_ token: String, in name: String) -> Bool {
        for value in values(name) {
            for element in HTTPHeaders.listElements(value) where HTTPHeaders.namesMatch(element, token) {
                return true
            }
        }
        return false
    }

    /// The non-empty elements of a comma-separated list value (RFC 7230 section 7), trimmed of
    /// optional whitespace. Empty elements (`a, , b`) are skipped, as that section requires.
    /// Quoted strings are not special here; use this only for lists of tokens.
    public static func listElements(_ value: String) -> [String] {
        var elements: [String] = []
        for piece in value.utf8.split(separator: UInt8(ascii: ","), omittingEmptySubsequences: false) {
            let trimmed = trimmingWhitespace(piece)
            if !trimmed.isEmpty { elements.append(String(decoding: trimmed, as: UTF8.self)) }
        }
        return elements
    }

    /// Whether two names (or tokens) are equal ignoring ASCII case.
    public static func namesMatch(_ lhs: String, _ rhs: String) -> Bool {
        guard lhs.utf8.count == rhs.utf8.count else { return false }
        // Compare the contiguous UTF-8 storage directly (native strings always have it): iterating
        // two UTF8Views in step was the largest cost of header lookups.
        var left = lhs
        var right = rhs
        return left.withUTF8 { a in
            right.withUTF8 { b in
                for index in 0..<a.count where asciiLowercase(a[index]) != asciiLowercase(b[index]) {
                    return false
                }
                return true
            }
        }
    }

    @inline(__always) static func asciiLowercase(_ byte: UInt8) -> UInt8 {
        (byte >= UInt8(ascii: "A") && byte <= UInt8(ascii: "Z")) ? byte | 0x20 : byte
    }

    static func trimmingWhitespace<C: BidirectionalCollection>(_ bytes: C) -> C.SubSequence where C.Element == UInt8 {
        var start = bytes.startIndex
        var end = bytes.endIndex
        while start < end && isWhitespace(bytes[start]) { start = bytes.index(after: start) }
        while start < end && isWhitespace(bytes[bytes.index(before: end)]) { end = bytes.index(before: end) }
        return bytes[start..<end]
    }

    /// OWS = *( SP / HTAB ) (RFC 7230 section 3.2.3).
    @inline(__always) static func isWhitespace(_ byte: UInt8) -> Bool {
        byte == UInt8(ascii: " ") || byte == UInt8(ascii: "\t")
    }

    /// Iterates over the fields in order.
    public func makeIterator() -> IndexingIterator<[Field]> { fields.makeIterator() }
}
