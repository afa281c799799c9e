/// Collects the bytes of one HTTP head as they arrive, in chunks of any size down to one byte, and
/// finds where it ends (the empty line), enforcing the size and header-count limits on the way.
///
/// Line endings must be CR LF. RFC 7230 section 3.5 lets a recipient accept a bare LF, but we do
/// not: every WebSocket client and server sends CR LF, and peers that disagree on where a line
/// ends are how request smuggling happens behind proxies (Node's llhttp went strict for that
/// reason). A bare LF or a CR not followed by LF is a malformed head (400).
///
/// Each byte is looked at once, so feeding a head byte by byte costs the same as feeding it whole,
/// and both give the same outcome: every decision depends only on the bytes so far.
struct HTTPHeadScanner {
    let limits: HTTPHeadLimits
    /// Run on the start line (without its CR LF) at the byte that ends it, before any byte after
    /// it is looked at: a peer that does not speak HTTP is refused then, whatever the chunking.
    private let startLineCheck: ((ArraySlice<UInt8>) throws(HandshakeError) -> Void)?
    /// The head's bytes so far; complete (ending in CR LF CR LF) once `isComplete`.
    private(set) var head: [UInt8] = []
    private(set) var isComplete = false
    /// Whether the error thrown was `startLineCheck`'s.
    private(set) var failedAtStartLine = false
    /// Bytes on the current line before its CR.
    private var lineLength = 0
    /// The previous byte was a CR that still needs its LF.
    private var afterCR = false
    /// Lines ended so far (the start line included).
    private var lineCount = 0

    init(limits: HTTPHeadLimits, startLineCheck: ((ArraySlice<UInt8>) throws(HandshakeError) -> Void)? = nil) {
        self.limits = limits
        self.startLineCheck = startLineCheck
        head.reserveCapacity(min(max(limits.maxHeadBytes, 0), 1024))
    }

    /// Scans `chunk`. Returns how many of its bytes complete the head, or nil if the head is still
    /// incomplete (all bytes were kept).
    mutating func scan(_ chunk: UnsafeRawBufferPointer) throws(HandshakeError) -> Int? {
        var index = 0
        /// Bytes of `chunk` already in `head` (the start line's, for its check).
        var kept = 0
        defer { head.append(contentsOf: UnsafeRawBufferPointer(rebasing: chunk[kept..<index])) }
        while index < chunk.count {
            let byte = chunk[index]
            index += 1
            if head.count + index - kept > limits.maxHeadBytes {
                throw HandshakeError(.headTooLarge, "HTTP head longer than \(limits.maxHeadBytes) bytes")
            }
            if afterCR {
                guard byte == UInt8(ascii: "\n") else {
                    throw HandshakeError(.malformedHead, "CR not followed by LF in HTTP head")
                }
                afterCR = false
                if lineLength == 0 {
                    isComplete = true
                    return index
                }
                lineCount += 1
                if lineCount == 1, let startLineCheck {
                    head.append(contentsOf: UnsafeRawBufferPointer(rebasing: chunk[kept..<index]))
                    kept = index
                    do throws(HandshakeError) {
                        try startLineCheck(head[..<(head.count - 2)])
                    } catch {
                        failedAtStartLine = true
                        throw error
                    }
                }
                lineLength = 0
                // lineCount includes the start line; the limit is on header lines.
                if lineCount - 1 > limits.maxHeaderCount {
                    throw HandshakeError(.tooManyHeaders, "more than \(limits.maxHeaderCount) header fields")
                }
            } else if byte == UInt8(ascii: "\r") {
                afterCR = true
            } else if byte == UInt8(ascii: "\n") {
                throw HandshakeError(.malformedHead, "line ending without CR (bare LF) in HTTP head")
            } else {
                lineLength += 1
            }
        }
        return nil
    }
}
