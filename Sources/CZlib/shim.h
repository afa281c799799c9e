/* The system zlib (Debian: zlib1g-dev), seen by Swift as the module CZlib. */
#ifndef SWIFTWS_CZLIB_SHIM_H
#define SWIFTWS_CZLIB_SHIM_H
#include <zlib.h>
#endif
