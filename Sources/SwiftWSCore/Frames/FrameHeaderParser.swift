/// What `FrameHeaderParser.parse` found at the start of a buffer.
public enum FrameHeaderParseResult: Hashable, Sendable {
    /// The bytes so far are a valid beginning of a header, but it is not complete yet.
    case needMoreData
    /// A complete, valid header; its payload starts `header.headerLength` bytes into the buffer.
    case header(FrameHeader)
    /// The header breaks a rule of RFC 6455: fail the connection with this error's close code.
    case failure(ProtocolError)
}

/// Parses frame headers (RFC 6455 section 5.2) from a borrowed buffer, without copying.
///
/// It checks every rule that one header alone decides (section 5.2, 5.1, 5.5, RFC 7692 section 6):
/// masking direction, reserved bits, reserved opcodes, control frame length and fragmentation,
/// the most significant bit of a 64-bit length. Rules that need the connection's history (a
/// continuation without a message, limits) are the `Session`'s.
///
/// Checks run in wire order and each uses only bytes up to its position, so a header fed in any
/// number of pieces fails at the same check, with the same error, as when fed whole.
///
/// Non-minimal length encodings (e.g. a 5-byte payload announced with the 16-bit form) are
/// accepted: RFC 6455 section 5.2 says the minimal number of bytes "MUST be used" by the sender but
/// does not ask the receiver to fail the connection, and Autobahn does not test it. Accepting them
/// costs nothing and rejecting them would break lenient peers for no safety gain.
public enum FrameHeaderParser {
    /// Parses the header at the start of `bytes`.
    /// - Parameters:
    ///   - role: our role; a server requires masked frames and a client requires unmasked ones
    ///     (section 5.1).
    ///   - allowsRSV1: permessage-deflate was negotiated, so RSV1 may be set on the first frame of
    ///     a data message (RFC 7692 section 6). RSV1 on a control frame or a continuation frame is
    ///     always a protocol error.
    @inlinable
    public static func parse(_ bytes: UnsafeRawBufferPointer, role: Role, allowsRSV1: Bool) -> FrameHeaderParseResult {
        let available = bytes.count
        guard available >= 1, let base = bytes.baseAddress else { return .needMoreData }
        let byte0 = base.load(as: UInt8.self)
        let isFinal = byte0 & 0x80 != 0
        let rsv1 = byte0 & 0x40 != 0
        let rsv2 = byte0 & 0x20 != 0
        let rsv3 = byte0 & 0x10 != 0
        let opcode = Opcode(rawValue: byte0)

        // Section 5.2: "If a nonzero value is received and none of the negotiated extensions
        // defines the meaning of such a nonzero value, the receiving endpoint MUST _Fail the
        // WebSocket Connection_."
        if rsv2 || rsv3 {
            return .failure(.protocolViolation("reserved bits RSV2/RSV3 set"))
        }
        // Section 5.2: "If an unknown opcode is received, the receiving endpoint MUST _Fail the
        // WebSocket Connection_."
        if !opcode.isDefined {
            return .failure(.protocolViolation("reserved opcode"))
        }
        if rsv1 {
            // RFC 7692 section 6.1: RSV1 only on the first frame of a compressed data message;
            // control frames and continuation frames never carry it.
            if !allowsRSV1 {
                return .failure(.protocolViolation("reserved bit RSV1 set"))
            }
            if opcode.isControl || opcode == .continuation {
                return .failure(.protocolViolation("RSV1 set on a control or continuation frame"))
            }
        }
        // Section 5.5: "All control frames ... MUST NOT be fragmented."
        if opcode.isControl && !isFinal {
            return .failure(.protocolViolation("fragmented control frame"))
        }
        guard available >= 2 else { return .needMoreData }

        let byte1 = base.load(fromByteOffset: 1, as: UInt8.self)
        let masked = byte1 & 0x80 != 0
        // Section 5.1: "a server MUST close the connection upon receiving a frame that is not
        // masked" and "A client MUST close a connection if it detects a masked frame."
        switch role {
        case .server where !masked:
            return .failure(.protocolViolation("unmasked frame from a client"))
        case .client where masked:
            return .failure(.protocolViolation("masked frame from a server"))
        default:
            break
        }
        let length7 = Int(byte1 & 0x7F)
        // Section 5.5: "All control frames MUST have a payload length of 125 bytes or less."
        if opcode.isControl && length7 > 125 {
            return .failure(.protocolViolation("control frame payload longer than 125 bytes"))
        }

        var headerLength = 2
        let payloadLength: Int
        switch length7 {
        case 126:
            guard available >= 4 else { return .needMoreData }
            payloadLength = Int(UInt16(bigEndian: base.loadUnaligned(fromByteOffset: 2, as: UInt16.self)))
            headerLength = 4
        case 127:
            guard available >= 3 else { return .needMoreData }
            // Section 5.2: "the most significant bit MUST be 0". Checked on the first length
            // byte, as soon as it is here.
            if base.load(fromByteOffset: 2, as: UInt8.self) & 0x80 != 0 {
                return .failure(.protocolViolation("64-bit payload length with the most significant bit set"))
            }
            guard available >= 10 else { return .needMoreData }
            // The MSB is 0, so the value fits Int on 64-bit platforms.
            let wide = UInt64(bigEndian: base.loadUnaligned(fromByteOffset: 2, as: UInt64.self))
            guard let fitting = Int(exactly: wide) else {
                return .failure(.tooBig("payload length does not fit this platform"))
            }
            payloadLength = fitting
            headerLength = 10
        default:
            payloadLength = length7
        }

        var maskKey: UInt32? = nil
        if masked {
            guard available >= headerLength + 4 else { return .needMoreData }
            maskKey = UInt32(littleEndian: base.loadUnaligned(fromByteOffset: headerLength, as: UInt32.self))
            headerLength += 4
        }
        var header = FrameHeader(isFinal: isFinal, rsv1: rsv1, opcode: opcode, maskKey: maskKey,
                                 payloadLength: payloadLength)
        header.headerLength = headerLength  // the wire's encoding, possibly non-minimal
        return .header(header)
    }
}
