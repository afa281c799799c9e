// Fuzz target: close-code classification never traps (a smoke target until the parsers land).
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzCloseCode(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    guard size >= 2 else { return 0 }
    let code = CloseCode(UInt16(data[0]) << 8 | UInt16(data[1]))
    _ = code.isValidOnWire
    return 0
}
