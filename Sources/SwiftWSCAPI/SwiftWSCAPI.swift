// SwiftWSCAPI (layer 4, beside SwiftWS): the C API — thin @_cdecl exports behind
// include/swiftws.h, one file per header section, over SwiftWSEndpoints and SwiftWSCore (never
// over the async SwiftWS module). Built by SwiftPM as the dynamic product `swiftws`:
// libswiftws.so. HeaderConformance.swift checks every export against the header's declaration.
