// C API: versioning (header section "Versioning").
import CSwiftWS

/// The version string, kept in static storage so the pointer handed to C never dangles.
private let versionCString: StaticString = "0.1.0"

@_cdecl("sws_version")
public func sws_version() -> UnsafePointer<CChar> {
    UnsafeRawPointer(versionCString.utf8Start).assumingMemoryBound(to: CChar.self)
}

@_cdecl("sws_abi_version")
public func sws_abi_version() -> Int32 {
    Int32(SWS_ABI_VERSION)
}
