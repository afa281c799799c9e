// Support/: "://" found byte by byte, for the URL parsers of the core and the endpoints.

extension String {
    /// The range of the first "://" (where a URL's scheme ends), nil when there is none.
    ///
    /// Why not `firstRange(of: "://")` or `contains("://")`: on strings those two come from the
    /// `_StringProcessing` module, and one call to either links it and its regex parser (1.26 MB,
    /// a fifth of the stripped libswiftws.so) into the C library. `Tests/C/library_size.sh` checks
    /// that neither module is linked. A byte search of the UTF-8 view gives the same answer for an
    /// ASCII needle: ':' and '/' never occur inside a multi-byte UTF-8 sequence.
    package var schemeSeparatorRange: Range<String.Index>? {
        let bytes = utf8
        var index = bytes.startIndex
        while index != bytes.endIndex {
            if bytes[index] == UInt8(ascii: ":") {
                let first = bytes.index(after: index)
                if first != bytes.endIndex, bytes[first] == UInt8(ascii: "/") {
                    let second = bytes.index(after: first)
                    if second != bytes.endIndex, bytes[second] == UInt8(ascii: "/") {
                        return index..<bytes.index(after: second)
                    }
                }
            }
            index = bytes.index(after: index)
        }
        return nil
    }
}
