/* hiredis (Debian: libhiredis-dev), seen by Swift as the module CHiredis: its declarations only.
 * Deliberately no `link "hiredis"`: libswiftws.so does not need libhiredis at run time unless a
 * server is joined to Redis; then Sources/SwiftWSTransport/Redis/Hiredis.swift loads
 * libhiredis.so.<HIREDIS_SONAME> (the version these headers describe) with dlopen. */
#ifndef SWIFTWS_CHIREDIS_SHIM_H
#define SWIFTWS_CHIREDIS_SHIM_H
#include <hiredis/hiredis.h>

#define SWIFTWS_HIREDIS_STRINGIFY2(x) #x
#define SWIFTWS_HIREDIS_STRINGIFY(x) SWIFTWS_HIREDIS_STRINGIFY2(x)
/* The file name dlopen looks for: "libhiredis.so.0.14" with Debian 12's headers. */
static const char *const swiftws_hiredis_library = "libhiredis.so." SWIFTWS_HIREDIS_STRINGIFY(HIREDIS_SONAME);
#endif
