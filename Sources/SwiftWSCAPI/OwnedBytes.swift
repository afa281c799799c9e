// C API: bytes and strings a handle owns and hands out as borrowed C pointers.

/// A NUL-terminated copy of some bytes (a string, a response), allocated once, never moved,
/// freed with the object that holds it: the pointer given to C stays valid as documented
/// ("until the handle is freed") without depending on Swift array storage staying put.
final class OwnedBytes {
    /// The bytes, followed by a NUL that `count` does not include.
    let pointer: UnsafeMutablePointer<UInt8>
    /// The number of bytes, without the NUL.
    let count: Int

    init<Bytes: Collection>(_ bytes: Bytes) where Bytes.Element == UInt8 {
        count = bytes.count
        pointer = .allocate(capacity: count + 1)
        var index = 0
        for byte in bytes {
            pointer[index] = byte
            index += 1
        }
        pointer[count] = 0
    }

    convenience init(_ string: String) {
        self.init(string.utf8)
    }

    deinit { pointer.deallocate() }

    /// The bytes as a C string (text is UTF-8).
    var cString: UnsafePointer<CChar> { UnsafeRawPointer(pointer).assumingMemoryBound(to: CChar.self) }

    /// The bytes as a C byte pointer.
    var bytes: UnsafePointer<UInt8> { UnsafePointer(pointer) }
}

/// Stores `owned` (or NULL/0 for nil) in optional C string outputs.
func store(_ owned: OwnedBytes?, _ text: UnsafeMutablePointer<UnsafePointer<CChar>?>?, _ length: UnsafeMutablePointer<Int>?) {
    text?.pointee = owned?.cString
    length?.pointee = owned?.count ?? 0
}

/// A NUL-terminated C string as a Swift string; nil when NULL or not valid UTF-8.
func string(fromCString pointer: UnsafePointer<CChar>?) -> String? {
    guard let pointer else { return nil }
    return String(validatingCString: pointer)
}
