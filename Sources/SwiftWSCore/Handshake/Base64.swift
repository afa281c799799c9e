/// Base64 with the standard alphabet and padding (RFC 4648 section 4), for `Sec-WebSocket-Key`
/// and `Sec-WebSocket-Accept` (RFC 6455 section 4.1 and 4.2.2).
///
/// Decoding is strict, as RFC 4648 section 3 allows and as a handshake wants: no whitespace or line
/// breaks (3.1, 3.3), padding required so the length is a multiple of 4 (3.2), no characters outside
/// the alphabet, and by default the unused bits before the padding must be zero (3.5) so that
/// every byte string has exactly one encoding.
public enum Base64 {
    private static let alphabet: [UInt8] = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/".utf8)

    /// `bytes` encoded with padding.
    public static func encode(_ bytes: some Collection<UInt8>) -> String {
        let input = Array(bytes)
        var output = [UInt8]()
        output.reserveCapacity((input.count + 2) / 3 * 4)
        var index = 0
        while index + 3 <= input.count {
            let group = UInt32(input[index]) << 16 | UInt32(input[index + 1]) << 8 | UInt32(input[index + 2])
            output.append(alphabet[Int(group >> 18 & 0x3F)])
            output.append(alphabet[Int(group >> 12 & 0x3F)])
            output.append(alphabet[Int(group >> 6 & 0x3F)])
            output.append(alphabet[Int(group & 0x3F)])
            index += 3
        }
        switch input.count - index {
        case 1:
            let group = UInt32(input[index]) << 16
            output.append(alphabet[Int(group >> 18 & 0x3F)])
            output.append(alphabet[Int(group >> 12 & 0x3F)])
            output.append(UInt8(ascii: "="))
            output.append(UInt8(ascii: "="))
        case 2:
            let group = UInt32(input[index]) << 16 | UInt32(input[index + 1]) << 8
            output.append(alphabet[Int(group >> 18 & 0x3F)])
            output.append(alphabet[Int(group >> 12 & 0x3F)])
            output.append(alphabet[Int(group >> 6 & 0x3F)])
            output.append(UInt8(ascii: "="))
        default:
            break
        }
        return String(decoding: output, as: UTF8.self)
    }

    /// The bytes `text` encodes, or nil if it is not strict padded Base64 (see the type's notes).
    /// With `allowNonZeroPadBits`, the unused bits before "=" are ignored instead of refused
    /// (RFC 4648 section 3.5 allows either).
    public static func decode(_ text: String, allowNonZeroPadBits: Bool = false) -> [UInt8]? {
        let input = Array(text.utf8)
        guard input.count % 4 == 0 else { return nil }
        var output = [UInt8]()
        output.reserveCapacity(input.count / 4 * 3)
        var index = 0
        while index < input.count {
            let isLastGroup = index + 4 == input.count
            // Padding may only appear in the last group, as "xx==" or "xxx=".
            let padding: Int
            if isLastGroup && input[index + 2] == UInt8(ascii: "=") && input[index + 3] == UInt8(ascii: "=") {
                padding = 2
            } else if isLastGroup && input[index + 3] == UInt8(ascii: "=") {
                padding = 1
            } else {
                padding = 0
            }
            var group: UInt32 = 0
            for offset in 0..<(4 - padding) {
                guard let sextet = value(of: input[index + offset]) else { return nil }
                group = group << 6 | UInt32(sextet)
            }
            group <<= UInt32(6 * padding)
            switch padding {
            case 0:
                output.append(UInt8(truncatingIfNeeded: group >> 16))
                output.append(UInt8(truncatingIfNeeded: group >> 8))
                output.append(UInt8(truncatingIfNeeded: group))
            case 1:
                guard allowNonZeroPadBits || group & 0xFF == 0 else { return nil }  // non-canonical
                output.append(UInt8(truncatingIfNeeded: group >> 16))
                output.append(UInt8(truncatingIfNeeded: group >> 8))
            default:
                guard allowNonZeroPadBits || group & 0xFFFF == 0 else { return nil }
                output.append(UInt8(truncatingIfNeeded: group >> 16))
            }
            index += 4
        }
        return output
    }

    /// The 6-bit value of an alphabet character, nil for anything else (including "=").
    private static func value(of character: UInt8) -> UInt8? {
        switch character {
        case UInt8(ascii: "A")...UInt8(ascii: "Z"): return character - UInt8(ascii: "A")
        case UInt8(ascii: "a")...UInt8(ascii: "z"): return character - UInt8(ascii: "a") + 26
        case UInt8(ascii: "0")...UInt8(ascii: "9"): return character - UInt8(ascii: "0") + 52
        case UInt8(ascii: "+"): return 62
        case UInt8(ascii: "/"): return 63
        default: return nil
        }
    }
}
