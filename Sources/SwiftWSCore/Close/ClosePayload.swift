/// The payload of a close frame (RFC 6455 section 5.5.1): empty, or a 2-byte big-endian status
/// code followed by a UTF-8 reason.
public enum ClosePayload {
    /// A close frame's payload is a control frame payload: at most 125 bytes, so 123 for the reason.
    public static let maximumReasonLength = 123

    /// Parses a received close payload.
    /// - Returns: the code (`nil` when the payload is empty) and the reason, or the error to fail
    ///   the connection with: 1002 for a 1-byte payload or a code that may not appear on the wire
    ///   (section 7.4), 1007 for a reason that is not UTF-8 (section 5.5.1: "the data ... MUST be
    ///   UTF-8").
    public static func parse(_ payload: UnsafeRawBufferPointer) -> Result<(code: CloseCode?, reason: String), ProtocolError> {
        if payload.isEmpty { return .success((nil, "")) }
        guard payload.count >= 2 else {
            return .failure(.protocolViolation("close frame payload of 1 byte"))
        }
        let code = CloseCode(UInt16(payload[0]) << 8 | UInt16(payload[1]))
        guard code.isValidOnWire else {
            return .failure(.protocolViolation("invalid close code"))
        }
        let reasonBytes = UnsafeRawBufferPointer(rebasing: payload[2...])
        guard UTF8Validator.isValid(reasonBytes) else {
            return .failure(.invalidUTF8("invalid UTF-8 in close reason"))
        }
        return .success((code, String(decoding: reasonBytes, as: UTF8.self)))
    }

    /// `reason` cut to at most `maximumReasonLength` bytes without splitting a character's UTF-8
    /// sequence, for close frames we send on failure.
    public static func truncatedReason(_ reason: String) -> Substring.UTF8View {
        let utf8 = reason.utf8
        guard utf8.count > maximumReasonLength else { return reason[...].utf8 }
        var end = utf8.index(utf8.startIndex, offsetBy: maximumReasonLength)
        // Step back over continuation bytes (10xxxxxx) so the cut falls on a sequence boundary.
        while end > utf8.startIndex, utf8[end] & 0xC0 == 0x80 { end = utf8.index(before: end) }
        return reason.utf8[utf8.startIndex..<end]
    }
}
