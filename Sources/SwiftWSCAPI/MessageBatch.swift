// C API: the batch of whole messages behind sws_conn_handlers.on_messages.
import CSwiftWS

/// Whole messages waiting for one `on_messages` call: the C entries, the boxes of their
/// connections (retained, so every `conn` in the batch stays valid until the call returns, even
/// if a callback triggered meanwhile closes it) and the payloads back to back. Cleared with its
/// capacity kept, so a steady load allocates nothing per message.
struct MessageBatch {
    private var entries: [sws_message_entry] = []
    private var boxes: [ConnectionBox] = []
    private var payloads: [UInt8] = []

    /// Whether no message waits.
    var isEmpty: Bool { entries.isEmpty }

    /// Copies a message into the batch. `data` and `user_data` are filled in by `deliver`: the
    /// payload storage may still move, and the user data may still change.
    mutating func append(_ box: ConnectionBox, _ kind: sws_message_kind, _ bytes: UnsafeRawBufferPointer) {
        entries.append(sws_message_entry(conn: box.cPointer, user_data: nil, data: nil, len: bytes.count, kind: kind))
        boxes.append(box)
        payloads.append(contentsOf: bytes)
    }

    /// Calls `onMessages` with every entry (data pointers into the payload buffer, the current
    /// user data of each connection).
    mutating func deliver(_ onMessages: OnMessages, _ userData: UnsafeMutableRawPointer?) {
        let count = payloads.count
        // `payloads` is never NULL for C, even when every message is empty: one byte past the
        // end (not counted) gives the buffer an address.
        if count == 0 { payloads.append(0) }
        payloads.withUnsafeBufferPointer { payloadBuffer in
            guard let base = payloadBuffer.baseAddress else { return }
            var offset = 0
            for index in entries.indices {
                entries[index].data = base + offset
                entries[index].user_data = boxes[index].userData
                offset += entries[index].len
            }
            entries.withUnsafeBufferPointer { onMessages($0.baseAddress, $0.count, base, count, userData) }
        }
    }

    /// Forgets every message, keeping the storage for the next batch.
    mutating func removeAll() {
        entries.removeAll(keepingCapacity: true)
        boxes.removeAll(keepingCapacity: true)
        payloads.removeAll(keepingCapacity: true)
    }

    /// The C type of sws_conn_handlers.on_messages.
    typealias OnMessages = @convention(c) (UnsafePointer<sws_message_entry>?, Int, UnsafePointer<UInt8>?, Int,
                                           UnsafeMutableRawPointer?) -> Void
}
