/*
 * CSwiftWS carries the public C header include/swiftws.h into Swift, so that the Swift
 * exports (Sources/SwiftWSCAPI) and C programs see the very same declarations and struct
 * layouts cannot drift. SwiftPM needs one source file per C target: this is it.
 */
#include "swiftws.h"
