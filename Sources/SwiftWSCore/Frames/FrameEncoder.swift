/// Writes frame headers and whole frames (RFC 6455 section 5.2), always with the minimal length
/// encoding the RFC requires of senders.
///
/// Sessions use it for every frame they send. Servers also use `serverFrame` to build one
/// unmasked frame once and hand the same bytes to many connections (broadcast, pub/sub) through
/// `Session.sendEncodedFrame`.
public enum FrameEncoder {
    /// The largest header: 2 + 8 (64-bit length) + 4 (masking key).
    public static let maximumHeaderLength = 14

    /// Bytes the header of a frame with this payload length takes: 2, 4 or 10, plus 4 if masked.
    @inlinable
    public static func headerLength(payloadLength: Int, masked: Bool) -> Int {
        let base = payloadLength <= 125 ? 2 : (payloadLength <= 0xFFFF ? 4 : 10)
        return masked ? base + 4 : base
    }

    /// Writes a header at `destination`, which must have room for
    /// `headerLength(payloadLength:masked:)` bytes, and returns the number of bytes written.
    /// - Parameter maskKey: the key as `FrameHeader.maskKey` holds it (wire bytes little-endian);
    ///   `nil` writes an unmasked header. The payload itself is not touched.
    @inlinable @discardableResult
    public static func writeHeader(to destination: UnsafeMutableRawPointer, isFinal: Bool = true,
                                   rsv1: Bool = false, opcode: Opcode, payloadLength: Int,
                                   maskKey: UInt32?) -> Int {
        precondition(payloadLength >= 0, "negative payload length")
        destination.storeBytes(of: (isFinal ? 0x80 : 0) | (rsv1 ? 0x40 : 0) | opcode.rawValue, as: UInt8.self)
        let maskBit: UInt8 = maskKey == nil ? 0 : 0x80
        var length: Int
        if payloadLength <= 125 {
            destination.storeBytes(of: maskBit | UInt8(payloadLength), toByteOffset: 1, as: UInt8.self)
            length = 2
        } else if payloadLength <= 0xFFFF {
            destination.storeBytes(of: maskBit | 126, toByteOffset: 1, as: UInt8.self)
            destination.storeBytes(of: UInt16(payloadLength).bigEndian, toByteOffset: 2, as: UInt16.self)
            length = 4
        } else {
            destination.storeBytes(of: maskBit | 127, toByteOffset: 1, as: UInt8.self)
            destination.storeBytes(of: UInt64(payloadLength).bigEndian, toByteOffset: 2, as: UInt64.self)
            length = 10
        }
        if let maskKey {
            destination.storeBytes(of: maskKey.littleEndian, toByteOffset: length, as: UInt32.self)
            length += 4
        }
        return length
    }

    /// Appends one complete frame to `output`, masking a copy of the payload when `maskKey` is set.
    public static func encodeFrame(into output: inout [UInt8], isFinal: Bool = true, rsv1: Bool = false,
                                   opcode: Opcode, payload: UnsafeRawBufferPointer, maskKey: UInt32?) {
        let headerCount = headerLength(payloadLength: payload.count, masked: maskKey != nil)
        let start = output.count
        output.append(contentsOf: repeatElement(0, count: headerCount + payload.count))
        output.withUnsafeMutableBytes { raw in
            let frame = UnsafeMutableRawBufferPointer(rebasing: raw[start...])
            writeHeader(to: frame.baseAddress!, isFinal: isFinal, rsv1: rsv1, opcode: opcode,
                        payloadLength: payload.count, maskKey: maskKey)
            let body = UnsafeMutableRawBufferPointer(rebasing: frame[headerCount...])
            if let source = payload.baseAddress, payload.count > 0 {
                body.baseAddress!.copyMemory(from: source, byteCount: payload.count)
            }
            if let maskKey { Masking.apply(maskKey: maskKey, to: body, payloadOffset: 0) }
        }
    }

    /// One complete unmasked frame as a server sends it, built once so the same bytes can be
    /// queued on many server sessions (`Session.sendEncodedFrame`) without re-encoding.
    public static func serverFrame(opcode: Opcode, payload: UnsafeRawBufferPointer, isFinal: Bool = true) -> [UInt8] {
        var frame: [UInt8] = []
        frame.reserveCapacity(headerLength(payloadLength: payload.count, masked: false) + payload.count)
        encodeFrame(into: &frame, isFinal: isFinal, opcode: opcode, payload: payload, maskKey: nil)
        return frame
    }
}
