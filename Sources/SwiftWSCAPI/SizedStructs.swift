// C API: reading the size-prefixed structs of include/swiftws.h (config and callback structs).
//
// Each such struct starts with `size_t size`, which the program sets to sizeof() as it was
// compiled. Fields are only ever appended, so:
// - a struct smaller than the first published version is a programming error (INVALID_ARGUMENT);
// - a struct from an older program (smaller than ours) is read as far as it goes, and the newer
//   fields keep their defaults;
// - a struct from a newer program (larger than ours) is accepted only if every byte we do not
//   know is zero -- the newer fields are at their "off" value -- else SWS_ERR_UNSUPPORTED: the
//   program asks for something this library cannot do. (Linux's openat2/clone3 rule.)
import CSwiftWS

/// Larger `size` values are treated as garbage rather than read (no struct will grow that much).
private let largestPlausibleStructSize = 4096

/// Copies the C struct at `source` into `value` (which holds the defaults) following the rules
/// above. `firstVersionSize` is sizeof() of the struct's first published version; it must stay
/// frozen when fields are appended.
func readSizedStruct<T>(_ source: UnsafeRawPointer, into value: inout T, firstVersionSize: Int,
                        name: String) -> sws_status {
    let declared = source.load(as: Int.self)
    guard declared >= firstVersionSize, declared <= largestPlausibleStructSize else {
        return fail(SWS_ERR_INVALID_ARGUMENT,
                    "\(name).size is \(declared); initialise the struct with its _init function")
    }
    let known = MemoryLayout<T>.stride
    if declared > known {
        for offset in known..<declared where source.load(fromByteOffset: offset, as: UInt8.self) != 0 {
            return fail(SWS_ERR_UNSUPPORTED,
                        "\(name) has fields this library version does not know (set by a newer program)")
        }
    }
    withUnsafeMutableBytes(of: &value) { target in
        target.baseAddress!.copyMemory(from: source, byteCount: Swift.min(declared, known))
    }
    return SWS_OK
}
