/*
 * swiftws.h — the public C interface of SwiftWS, an embeddable WebSocket library
 * (RFC 6455 with permessage-deflate, RFC 7692).
 *
 * This header is the contract: everything a C program needs is declared and documented here.
 * Link with -lswiftws (pkg-config: swiftws).
 *
 * Conventions used throughout:
 *   - Every fallible function returns an sws_status: SWS_OK (0) or a negative error.
 *     sws_status_string() names a status; sws_last_error() gives the detail of the last failure
 *     on the calling thread.
 *   - Text is UTF-8 given as (pointer, length); lengths are size_t; booleans are bool.
 *   - Handles are opaque pointers; no struct layout of the library's internals is exposed.
 *   - Config structs are filled by their ..._init() function, which sets every default and the
 *     `size` field, so new fields can be appended without breaking binaries built earlier.
 */
#ifndef SWIFTWS_H
#define SWIFTWS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ---- Versioning ------------------------------------------------------------------------- */

#define SWS_VERSION_MAJOR 0
#define SWS_VERSION_MINOR 1
#define SWS_VERSION_PATCH 0
/* Bumped whenever a change breaks binary compatibility; bindings compare it with sws_abi_version(). */
#define SWS_ABI_VERSION 1

/**
 * Returns the library version as "MAJOR.MINOR.PATCH".
 * The string is static: never free it. Thread-safe.
 */
const char *sws_version(void);

/**
 * Returns the ABI version the library was built with (SWS_ABI_VERSION at its build time).
 * A binding or program compares it with the SWS_ABI_VERSION it was written for. Thread-safe.
 */
int sws_abi_version(void);

/* ---- Status codes ----------------------------------------------------------------------- */

/** Result of every fallible call: SWS_OK or a negative error. */
typedef enum sws_status {
    SWS_OK = 0,
    SWS_ERR_INVALID_ARGUMENT = -1, /**< a NULL handle, a bad size, an out-of-range value */
    SWS_ERR_NO_MEMORY = -2,        /**< an allocation failed */
    SWS_ERR_CLOSED = -3,           /**< the connection or object is already closed */
    SWS_ERR_PROTOCOL = -4,         /**< the peer broke RFC 6455 / RFC 7692 */
    SWS_ERR_HANDSHAKE = -5,        /**< the opening handshake was rejected or malformed */
    SWS_ERR_TOO_BIG = -6,          /**< a message, frame or header exceeded a configured limit */
    SWS_ERR_IO = -7,               /**< a system call failed (errno in sws_last_error()) */
    SWS_ERR_TIMEOUT = -8,          /**< a connect, handshake, ping or close timer expired */
    SWS_ERR_WRONG_THREAD = -9,     /**< a loop-thread-only function was called from another thread */
    SWS_ERR_TLS = -10,             /**< the TLS layer failed */
    SWS_ERR_RESOLVE = -11,         /**< host name resolution failed */
    SWS_ERR_UNSUPPORTED = -12      /**< the feature is not available in this build */
} sws_status;

/**
 * Returns a static, human-readable name for a status ("ok", "invalid argument", ...).
 * Unknown values give "unknown status". Never returns NULL. Thread-safe.
 */
const char *sws_status_string(sws_status status);

/**
 * Returns the detail of the last error raised on the calling thread, or "" when there was none.
 * The string stays valid until the next SwiftWS call on the same thread. Never returns NULL.
 */
const char *sws_last_error(void);

#ifdef __cplusplus
}
#endif

#endif /* SWIFTWS_H */
