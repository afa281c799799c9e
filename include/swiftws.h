/*
 * swiftws.h — the public C interface of SwiftWS, an embeddable WebSocket library
 * (RFC 6455 with permessage-deflate, RFC 7692), for servers and clients.
 *
 * This header is the contract: everything a C program needs is declared and documented here.
 * Link with -lswiftws (pkg-config: swiftws; CMake: find_package(SwiftWS), SwiftWS::swiftws).
 *
 * Sections:
 *   Versioning, Status codes, Common types
 *   Sans-I/O session       one connection's protocol without I/O, for programs with their own
 *                          sockets and loop (wslay-style): bytes in, events and bytes out
 *   permessage-deflate     compression settings shared by the sections below
 *   Opening handshake      the HTTP upgrade for sans-I/O users, server and client side
 *   Event loops            epoll loops that run servers, connections and client connects
 *   TLS                    certificates and verification for wss:// servers and clients
 *   Connections, Servers, Clients
 *
 * Conventions used throughout:
 *   - Every fallible function returns an sws_status: SWS_OK (0) or a negative error.
 *     sws_status_string() names a status; sws_last_error() gives the detail of the last failure
 *     on the calling thread. Nothing aborts the process on bad arguments or misuse that can be
 *     detected: NULL handles, sizes, closed objects, wrong threads all return a status.
 *   - Text is UTF-8 given as (pointer, length), except short NUL-terminated strings in config
 *     structs and getters (hosts, paths, header names); lengths are size_t; booleans are bool.
 *   - Handles are opaque pointers, created by ..._new and destroyed by ..._free. A second
 *     ..._free of the same handle is detected and returns SWS_ERR_INVALID_ARGUMENT; any other
 *     use of a freed handle is undefined.
 *   - Config and callback structs are filled by their ..._init() function, which sets every
 *     default and the `size` field; fields are only ever appended. A struct from an older
 *     program (smaller `size`) keeps the defaults of the fields it lacks; one from a newer
 *     program is accepted when the fields this library does not know are zero, and refused
 *     with SWS_ERR_UNSUPPORTED otherwise. Structs are copied: they may live on the stack.
 *   - Callbacks receive the handle, the user pointer, and BORROWED data, valid only until the
 *     callback returns. Sends copy. When a function that takes a callback returns an error,
 *     that callback is never called.
 *   - Threads: a loop and everything on it (servers, connections, connects) belong to the
 *     loop's thread; such functions are marked loop-thread-only and return SWS_ERR_WRONG_THREAD
 *     elsewhere. Functions marked THREAD-SAFE (sws_loop_stop, sws_loop_post, sws_conn_ref_*,
 *     sws_request_post) may be called from any thread at any time, also racing with a
 *     connection's close.
 *     Sessions and handshake objects have no thread of their own: one thread at a time.
 *   - TLS (wss://) goes through the system OpenSSL 3: see sws_tls_config.
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
#define SWS_ABI_VERSION 2

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
    SWS_ERR_UNSUPPORTED = -12,     /**< the feature is not available in this build */
    SWS_ERR_PROXY = -13            /**< a proxy refused or failed to open the tunnel (named in the message) */
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

/* ---- Common types ----------------------------------------------------------------------- */

/** Which end of a WebSocket connection an object plays (RFC 6455: a client masks its frames). */
typedef enum sws_role {
    SWS_ROLE_CLIENT = 0,
    SWS_ROLE_SERVER = 1
} sws_role;

/** The kind of a data message: text (UTF-8, opcode 0x1) or binary (opcode 0x2). */
typedef enum sws_message_kind {
    SWS_MESSAGE_TEXT = 1,
    SWS_MESSAGE_BINARY = 2
} sws_message_kind;

/** Close codes the library reports without a close frame carrying them (RFC 6455 section 7.4.1). */
#define SWS_CLOSE_NO_STATUS 1005 /**< the peer's close frame had no status code */
#define SWS_CLOSE_ABNORMAL 1006  /**< the transport ended without a close frame */

/* ---- Sans-I/O session ------------------------------------------------------------------- */
/*
 * A session is one WebSocket connection after the opening handshake, without any I/O (like
 * wslay's event API or Python websockets' sans-I/O protocol), for programs with their own event
 * loop or transport:
 *
 *   sws_session_config cfg;  sws_session_config_init(&cfg);
 *   sws_session_callbacks cb; sws_session_callbacks_init(&cb);  cb.on_text = my_on_text; ...
 *   sws_session_t *s;  sws_session_new(SWS_ROLE_SERVER, &cfg, &cb, my_data, &s);
 *   loop:
 *     n = read(fd, buf, sizeof buf);
 *     n > 0 ? sws_session_feed(s, buf, n) : sws_session_feed_eof(s);   -> callbacks run
 *     sws_session_send_text(s, "hi", 2);                                -> frames queued
 *     sws_session_pending_output(s, &out, &out_len);
 *     w = write(fd, out, out_len);  sws_session_consume_output(s, w);
 *     if (sws_session_should_close_transport(s) && nothing pending) close(fd);
 *   sws_session_free(s);
 *
 * The opening handshake is done before, with sws_server_handshake_t or sws_client_handshake_t;
 * bytes that arrived after the handshake's head are the session's first input.
 *
 * Threads: a session is not thread-safe. Use each session from one thread at a time (any
 * thread); callbacks run on the thread that called sws_session_feed()/sws_session_feed_eof().
 */

/** An opaque sans-I/O WebSocket session. */
typedef struct sws_session sws_session_t;

/**
 * Limits and behaviour of a session. Fill it with sws_session_config_init(), then change fields.
 * Limits count bytes; a peer exceeding one fails the connection with close code 1009.
 */
typedef struct sws_session_config {
    /** sizeof(sws_session_config) as the program was compiled; set by sws_session_config_init(). */
    size_t size;
    /** Largest message accepted (after decompression). Default 16 MiB. 1 .. SWS_SESSION_LIMIT_MAX. */
    size_t max_message_size;
    /** Largest frame payload accepted. Default 16 MiB. 1 .. SWS_SESSION_LIMIT_MAX. */
    size_t max_frame_size;
    /** Most frames in one data message. Default 131072. 1 .. SWS_SESSION_LIMIT_MAX. */
    size_t max_fragments_per_message;
    /**
     * 0 (default): every message is reassembled and delivered whole (on_text/on_binary).
     * N > 0: once a message's announced size exceeds N bytes, it is delivered frame by frame
     * through on_fragment instead. At most SWS_SESSION_LIMIT_MAX. Like max_frame_size, it counts
     * bytes on the wire (compressed, with permessage-deflate); max_message_size counts them
     * after decompression.
     */
    size_t streaming_threshold;
    /** Answer each ping with a pong automatically (RFC 6455 section 5.5.2). Default true. */
    bool auto_pong;
    /**
     * Most bytes one feed (or, in a server or client, one read) inflates. Default 256 KiB. A few
     * kilobytes of compressed data can inflate to max_message_size; a server's loop inflates
     * the rest of such a message over its next iterations, serving other connections in
     * between. sws_session_feed() always finishes the work before it returns. 1 ..
     * SWS_SESSION_LIMIT_MAX.
     */
    size_t inflate_budget;
    /**
     * Client role only: the masking keys of the frames sent, `mask_key_count` keys of 4 bytes
     * each in wire order (`mask_keys` holds 4 * mask_key_count bytes, copied), used in turn one
     * per frame and then again from the first -- for tests that compare a client's frames byte
     * for byte. NULL and 0 (default): unpredictable keys from the kernel's random source, as RFC
     * 6455 section 5.3 requires; never set it outside tests. Servers never mask. Appended in 0.2.
     */
    const uint8_t *mask_keys;
    size_t mask_key_count;
} sws_session_config;

/** Largest value accepted for a size limit in sws_session_config (2^48 bytes, 256 TiB). */
#define SWS_SESSION_LIMIT_MAX ((size_t)1 << 48)

/**
 * Events a session reports while it is fed. Fill the struct with sws_session_callbacks_init()
 * (all NULL), then set the callbacks you need; a NULL callback ignores its event.
 *
 * Every pointer a callback receives is BORROWED: valid only until the callback returns; copy
 * what you keep. `user_data` is the pointer given to sws_session_new().
 * Inside a callback you may send on the session (sws_session_send_*, sws_session_close, ...)
 * and read its state; sws_session_feed(), sws_session_feed_eof() and sws_session_free() on the
 * same session return SWS_ERR_INVALID_ARGUMENT there.
 */
typedef struct sws_session_callbacks {
    /** sizeof(sws_session_callbacks) as the program was compiled; set by sws_session_callbacks_init(). */
    size_t size;
    /** A whole text message: `len` bytes of valid UTF-8, not NUL-terminated. */
    void (*on_text)(sws_session_t *session, void *user_data, const char *data, size_t len);
    /** A whole binary message. `data` may be NULL when `len` is 0. */
    void (*on_binary)(sws_session_t *session, void *user_data, const uint8_t *data, size_t len);
    /**
     * One frame of a message delivered in streaming mode (streaming_threshold). For text, the
     * bytes so far are valid UTF-8 but a fragment may end inside a character; a bad ending
     * fails the connection (on_error, 1007) instead of a final fragment.
     */
    void (*on_fragment)(sws_session_t *session, void *user_data, sws_message_kind kind,
                        const uint8_t *data, size_t len, bool is_first, bool is_final);
    /** A ping (payload 0..125 bytes); with auto_pong the pong is already queued. */
    void (*on_ping)(sws_session_t *session, void *user_data, const uint8_t *data, size_t len);
    /** A pong, solicited or not. */
    void (*on_pong)(sws_session_t *session, void *user_data, const uint8_t *data, size_t len);
    /**
     * The peer sent a close frame: `code` is its status (SWS_CLOSE_NO_STATUS if it had none),
     * `reason` its UTF-8 reason. The answering close frame is queued; no more events follow.
     */
    void (*on_close)(sws_session_t *session, void *user_data, uint16_t code, const char *reason, size_t reason_len);
    /**
     * The connection failed: the peer broke the protocol (code 1002, 1007, 1009, ...) or the
     * transport ended without a close frame (SWS_CLOSE_ABNORMAL). Except for 1006, a close frame
     * with `code` and `reason` is queued. No more events follow.
     */
    void (*on_error)(sws_session_t *session, void *user_data, uint16_t code, const char *reason, size_t reason_len);
} sws_session_callbacks;

/** Where a session is in the connection's life (RFC 6455 section 7). */
typedef enum sws_session_state {
    SWS_SESSION_OPEN = 0,    /**< messages flow both ways */
    SWS_SESSION_CLOSING = 1, /**< we sent a close frame and wait for the peer's */
    SWS_SESSION_CLOSED = 2   /**< close frames exchanged, the connection failed, or the transport ended */
} sws_session_state;

/**
 * Sets every field of `config` to its default and `size` to sizeof(sws_session_config).
 * Returns SWS_ERR_INVALID_ARGUMENT if `config` is NULL. Thread-safe.
 */
sws_status sws_session_config_init(sws_session_config *config);

/**
 * Sets every callback of `callbacks` to NULL and `size` to sizeof(sws_session_callbacks).
 * Returns SWS_ERR_INVALID_ARGUMENT if `callbacks` is NULL. Thread-safe.
 */
sws_status sws_session_callbacks_init(sws_session_callbacks *callbacks);

/**
 * Creates a session for `role`, in the open state, and stores it in `*out`.
 *
 * `config` may be NULL (defaults); it and `callbacks` are copied, so they may live on the stack.
 * `callbacks` may be NULL (every event ignored). `user_data` is passed to every callback and is
 * never dereferenced by the library.
 *
 * Errors (`*out` is set to NULL, nothing is allocated):
 *   SWS_ERR_INVALID_ARGUMENT  `out` is NULL, `role` is unknown, a struct's `size` is smaller than
 *                             the first version of that struct, or a limit is 0 or above
 *                             SWS_SESSION_LIMIT_MAX (streaming_threshold may be 0);
 *   SWS_ERR_UNSUPPORTED       a struct is larger than this library knows and the unknown tail is
 *                             not all zero (a newer program asking for a newer feature).
 * Thread-safe.
 */
sws_status sws_session_new(sws_role role, const sws_session_config *config,
                           const sws_session_callbacks *callbacks, void *user_data, sws_session_t **out);

/**
 * Destroys a session and everything it owns; pending output not yet consumed is discarded.
 * Pointers obtained from the session become invalid.
 * Returns SWS_OK; SWS_ERR_INVALID_ARGUMENT if `session` is NULL, is not a live session (freed
 * already: a double free is detected and refused), or the call is made from one of its callbacks.
 */
sws_status sws_session_free(sws_session_t *session);

/**
 * Feeds `len` bytes read from the transport; callbacks run, in order, before this returns.
 *
 * `data` is MODIFIED IN PLACE: payloads are unmasked where they lie, so that a message whole in
 * the buffer reaches its callback without being copied. Its contents are unspecified afterwards.
 * The library keeps no pointer into `data` after the call. `len` may be 0 (`data` may then be NULL).
 *
 * A peer breaking the protocol is not an error of this call: it is reported through on_error,
 * and the session queues the close frame and moves to SWS_SESSION_CLOSED.
 * Errors: SWS_ERR_INVALID_ARGUMENT (`session` NULL, `data` NULL with `len` > 0, called from a
 * callback of this session); SWS_ERR_CLOSED (the session no longer takes input: a close frame
 * was received, the connection failed, or the end of the stream was fed; the bytes are ignored).
 */
sws_status sws_session_feed(sws_session_t *session, void *data, size_t len);

/**
 * Tells the session the transport reached its end (read returned 0). Before a completed close
 * handshake this is an abnormal closure: on_error runs with SWS_CLOSE_ABNORMAL.
 * Errors: SWS_ERR_INVALID_ARGUMENT (`session` NULL, called from one of its callbacks);
 * SWS_ERR_CLOSED (end of stream was already fed).
 */
sws_status sws_session_feed_eof(sws_session_t *session);

/**
 * Queues a text message: `len` bytes of UTF-8 (`data` may be NULL when `len` is 0); copied.
 * Errors: SWS_ERR_INVALID_ARGUMENT (`session` NULL, `data` NULL with `len` > 0, not valid UTF-8,
 * or a fragmented message started with sws_session_send_fragment() is unfinished);
 * SWS_ERR_CLOSED (a close frame was already sent or the connection ended). Nothing is queued
 * on error.
 */
sws_status sws_session_send_text(sws_session_t *session, const char *data, size_t len);

/** Queues a binary message of `len` bytes, copied. Errors as sws_session_send_text() (no UTF-8 rule). */
sws_status sws_session_send_binary(sws_session_t *session, const void *data, size_t len);

/**
 * Queues one frame of a fragmented message (RFC 6455 section 5.4): the first call starts a
 * message of `kind`, the following ones must give the same kind, the one with `is_final` ends
 * it. Control frames (ping, pong, close) may be sent in between. Text fragments may split a
 * character, but the text as a whole must be UTF-8. Copied.
 * Errors: SWS_ERR_INVALID_ARGUMENT (NULL arguments as above, unknown `kind`, a kind different
 * from the unfinished message's, invalid UTF-8); SWS_ERR_CLOSED.
 */
sws_status sws_session_send_fragment(sws_session_t *session, sws_message_kind kind, const void *data, size_t len,
                                     bool is_final);

/**
 * Queues a ping with a payload of 0..125 bytes (copied).
 * Errors: SWS_ERR_INVALID_ARGUMENT (NULL arguments), SWS_ERR_TOO_BIG (`len` > 125), SWS_ERR_CLOSED.
 */
sws_status sws_session_send_ping(sws_session_t *session, const void *data, size_t len);

/** Queues an unsolicited pong (a heartbeat, section 5.5.3). Errors as sws_session_send_ping(). */
sws_status sws_session_send_pong(sws_session_t *session, const void *data, size_t len);

/**
 * Starts the close handshake (RFC 6455 section 7.1.2): queues a close frame with `code` and a
 * UTF-8 `reason` of at most 123 bytes (`reason` may be NULL when `reason_len` is 0), and moves to
 * SWS_SESSION_CLOSING; messages still arrive until the peer's close frame.
 * Errors: SWS_ERR_INVALID_ARGUMENT (`session` NULL, `reason` NULL with `reason_len` > 0, a code
 * that may not be sent -- only 1000-1003, 1007-1014 and 3000-4999 may -- or a reason that is not
 * UTF-8); SWS_ERR_TOO_BIG (reason over 123 bytes); SWS_ERR_CLOSED (a close frame was already
 * sent: a second close is refused).
 */
sws_status sws_session_close(sws_session_t *session, uint16_t code, const char *reason, size_t reason_len);

/**
 * Gives the bytes waiting to be written to the transport, in order: `*data` and `*len`
 * (`*data` may be NULL when `*len` is 0). The bytes stay owned by the session and valid until the
 * next call that changes it (feed, send, close, consume, free).
 * Errors: SWS_ERR_INVALID_ARGUMENT (any argument NULL).
 */
sws_status sws_session_pending_output(sws_session_t *session, const uint8_t **data, size_t *len);

/**
 * Drops the first `count` pending bytes once the transport has written them.
 * Errors: SWS_ERR_INVALID_ARGUMENT (`session` NULL, `count` larger than what is pending).
 */
sws_status sws_session_consume_output(sws_session_t *session, size_t count);

/**
 * True once the transport should be closed (after writing the pending output): the close
 * handshake completed, the connection failed, or the stream ended. False for NULL.
 */
bool sws_session_should_close_transport(const sws_session_t *session);

/**
 * True when this side closes the TCP connection as soon as sws_session_should_close_transport()
 * is true: a server, or either side after a failure or end of stream. A client after a clean
 * close waits for the server's end of stream, with a timeout of its own (RFC 6455 section
 * 7.1.1). False for NULL.
 */
bool sws_session_closes_transport_first(const sws_session_t *session);

/** The session's state; SWS_SESSION_CLOSED for NULL. */
sws_session_state sws_session_get_state(const sws_session_t *session);

/**
 * How the connection ended: the peer's close code (SWS_CLOSE_NO_STATUS for a close frame without
 * one), the code we failed with, or SWS_CLOSE_ABNORMAL; and the reason (UTF-8, not
 * NUL-terminated, owned by the session, valid until it is freed). While the connection has not
 * ended, `*code` is 0 and the reason empty. `reason` and `reason_len` may be NULL.
 * Errors: SWS_ERR_INVALID_ARGUMENT (`session` or `code` NULL).
 */
sws_status sws_session_close_status(const sws_session_t *session, uint16_t *code, const char **reason,
                                    size_t *reason_len);

/* ---- permessage-deflate (RFC 7692) ----------------------------------------------------- */

/**
 * What an endpoint wants from permessage-deflate. Fill with sws_compression_config_init(): on,
 * with 12-bit windows both ways and zlib memLevel 5 (about 64 KiB per connection instead of
 * zlib's 300 KiB, for ratios a few percent worse on small messages), level 3 (about 15 % more
 * bytes than zlib's default 6 on small JSON messages, for 30-85 % less zlib work), context takeover,
 * and messages under 64 bytes sent uncompressed. "Local" is the direction we compress, "remote"
 * the one we decompress.
 */
typedef struct sws_compression_config {
    /** sizeof(sws_compression_config) as compiled; set by sws_compression_config_init(). */
    size_t size;
    /** Offer (client) or accept (server) permessage-deflate at all. Default true. */
    bool enabled;
    /** Largest LZ77 window our compressor uses, 8..15. Default 12. */
    int local_max_window_bits;
    /** Largest window we ask the peer to use, 8..15, or 0 not to ask (the peer may use 15). Default 12. */
    int remote_max_window_bits;
    /** Reset our compressor after each message (less memory, worse ratio). Default false. */
    bool local_no_context_takeover;
    /** Ask the peer to reset its compressor after each message. Default false. */
    bool remote_no_context_takeover;
    /** zlib memLevel 1..9. Default 5. */
    int memory_level;
    /** zlib level 0..9, or -1 for zlib's default (6). Default 3 (6 before 0.2: set 6 for its ratio). */
    int compression_level;
    /** Messages with fewer bytes are sent uncompressed. Default 64. At most SWS_SESSION_LIMIT_MAX. */
    size_t threshold;
    /**
     * A client: offer client_max_window_bits=local_max_window_bits, a promise the server's answer
     * must respect (a larger one fails the connection, RFC 7692 7.1.2.2). Default false: the
     * value-less client_max_window_bits browsers send, so the server may answer any window up to
     * 15; the client still compresses with at most local_max_window_bits. Ignored by servers.
     */
    bool announce_local_max_window_bits;
} sws_compression_config;

/** Sets every field of `config` to its default and `size`. Errors: SWS_ERR_INVALID_ARGUMENT (NULL). Thread-safe. */
sws_status sws_compression_config_init(sws_compression_config *config);

/* ---- Opening handshake helpers (for sans-I/O sessions) ---------------------------------- */
/*
 * The HTTP/1.1 upgrade that precedes a session (RFC 6455 section 4), without I/O.
 *
 * Server: feed the bytes read from a new connection to sws_server_handshake_feed() until it says
 * `complete`; look at the request (path, headers, offered subprotocols, Origin); then call
 * sws_server_handshake_accept() or sws_server_handshake_reject() and write the bytes of
 * sws_server_handshake_response(). Bytes of the last chunk after `*consumed` are the session's
 * first input. A malformed request makes feed return SWS_ERR_HANDSHAKE, with the rejection
 * (400, 405, 426 or 431) ready in sws_server_handshake_response(): write it, then close.
 *
 * Client: create the handshake from a config, write sws_client_handshake_request(), feed the
 * response to sws_client_handshake_feed() until `complete`; bytes after `*consumed` are the
 * session's first input.
 *
 * Strings in these structs and getters are UTF-8. Config strings are NUL-terminated (they are
 * short and usually literals); strings returned have a length and are also NUL-terminated.
 * Handshake objects are not thread-safe: use each from one thread at a time.
 */

/** An opaque server-side opening handshake. */
typedef struct sws_server_handshake sws_server_handshake_t;

/**
 * Creates a server handshake reading a request of at most 8 KiB and 64 header lines (more is
 * answered 431), and stores it in `*out`. `compression` (copied; NULL: the defaults, on) says
 * whether and how a client's permessage-deflate offer is accepted by sws_server_handshake_accept().
 * Errors: SWS_ERR_INVALID_ARGUMENT (`out` NULL, a compression value out of range or a bad
 * `size`); SWS_ERR_UNSUPPORTED (unknown non-zero fields). Thread-safe.
 */
sws_status sws_server_handshake_new(const sws_compression_config *compression, sws_server_handshake_t **out);

/**
 * Destroys a handshake; strings and bytes obtained from it become invalid.
 * Errors: SWS_ERR_INVALID_ARGUMENT (NULL, or not a live handshake: a double free is refused).
 */
sws_status sws_server_handshake_free(sws_server_handshake_t *handshake);

/**
 * Feeds bytes of the client's request (`data` may be NULL when `len` is 0; not kept).
 * `*complete` becomes true once the whole head was read and is a valid upgrade request;
 * `*consumed` is then the number of bytes of this chunk that belonged to the head (all of `len`
 * while incomplete).
 * Errors: SWS_ERR_INVALID_ARGUMENT (NULL arguments, or feeding after completion or failure);
 * SWS_ERR_HANDSHAKE (the request is not a valid WebSocket upgrade: the rejection to send is in
 * sws_server_handshake_response(), the reason in sws_last_error()).
 */
sws_status sws_server_handshake_feed(sws_server_handshake_t *handshake, const void *data, size_t len,
                                     size_t *consumed, bool *complete);

/**
 * The request target (`*target`: "/chat?room=1") and its path (`*path`: "/chat"), once complete.
 * Either output pair may be NULL. Strings are owned by the handshake, valid until it is freed.
 * Errors: SWS_ERR_INVALID_ARGUMENT (`handshake` NULL, or the request is not complete).
 */
sws_status sws_server_handshake_target(const sws_server_handshake_t *handshake, const char **target,
                                       size_t *target_len, const char **path, size_t *path_len);

/**
 * The value of the first request header called `name` (case-insensitive, NUL-terminated), once
 * complete; `*value` is NULL and `*value_len` 0 when there is none (not an error). The value is
 * owned by the handshake, valid until it is freed.
 * Errors: SWS_ERR_INVALID_ARGUMENT (NULL arguments, or the request is not complete).
 */
sws_status sws_server_handshake_header(const sws_server_handshake_t *handshake, const char *name,
                                       const char **value, size_t *value_len);

/** The number of subprotocols the client offered (Sec-WebSocket-Protocol); 0 if NULL or incomplete. */
size_t sws_server_handshake_subprotocol_count(const sws_server_handshake_t *handshake);

/**
 * The `index`-th subprotocol offered, in the client's order of preference. Owned by the
 * handshake, valid until it is freed.
 * Errors: SWS_ERR_INVALID_ARGUMENT (NULL arguments, incomplete, `index` out of range).
 */
sws_status sws_server_handshake_subprotocol(const sws_server_handshake_t *handshake, size_t index,
                                            const char **name, size_t *name_len);

/**
 * Accepts the upgrade: the 101 Switching Protocols response becomes
 * sws_server_handshake_response(). `subprotocol` (NUL-terminated) is NULL or one the client
 * offered. permessage-deflate is negotiated here from the client's offers and the handshake's
 * compression config (an offer we cannot honour is declined, never failed).
 * Errors: SWS_ERR_INVALID_ARGUMENT (`handshake` NULL, the request not complete, a response
 * already made, or a subprotocol the client did not offer).
 */
sws_status sws_server_handshake_accept(sws_server_handshake_t *handshake, const char *subprotocol);

/**
 * Refuses the upgrade with an HTTP response: `status` (200-599) and a text/plain `body` of
 * `body_len` bytes (`body` may be NULL when `body_len` is 0), with Content-Length and
 * Connection: close. It becomes sws_server_handshake_response(); close after writing it.
 * Errors: SWS_ERR_INVALID_ARGUMENT (`handshake` NULL, the request not complete, a response
 * already made, `status` out of range, `body` NULL with a length).
 */
sws_status sws_server_handshake_reject(sws_server_handshake_t *handshake, int status, const char *body,
                                       size_t body_len);

/** Whether sws_server_handshake_accept() agreed on permessage-deflate. False for NULL or before. */
bool sws_server_handshake_compression(const sws_server_handshake_t *handshake);

/**
 * Creates the session of an accepted connection: as sws_session_new() with the server role,
 * plus the permessage-deflate codec the handshake agreed on. May be called once per handshake;
 * the session is independent of it (free them in any order).
 * Errors: as sws_session_new(), and SWS_ERR_INVALID_ARGUMENT when the upgrade was not accepted
 * or a session was already made.
 */
sws_status sws_server_handshake_new_session(sws_server_handshake_t *handshake, const sws_session_config *config,
                                            const sws_session_callbacks *callbacks, void *user_data,
                                            sws_session_t **out);

/**
 * The response to write: after sws_server_handshake_accept() (101), sws_server_handshake_reject(),
 * or a feed that failed with SWS_ERR_HANDSHAKE (400/405/426/431). Owned by the handshake, valid
 * until it is freed.
 * Errors: SWS_ERR_INVALID_ARGUMENT (NULL arguments, or no response made yet).
 */
sws_status sws_server_handshake_response(const sws_server_handshake_t *handshake, const uint8_t **data,
                                         size_t *len);

/** An opaque client-side opening handshake. */
typedef struct sws_client_handshake sws_client_handshake_t;

/** What a client asks for. Fill it with sws_client_handshake_config_init(), then set `host`. */
typedef struct sws_client_handshake_config {
    /** sizeof(sws_client_handshake_config) as compiled; set by sws_client_handshake_config_init(). */
    size_t size;
    /** Server host name or IP address (IPv6 with or without brackets). Required. */
    const char *host;
    /** TCP port; 0 (default) means 80, or 443 when `secure`. Written in Host unless the default. */
    uint16_t port;
    /** wss: only decides the default port here (TLS is the transport's business). Default false. */
    bool secure;
    /** Request target: a path starting with '/', optionally with "?query". NULL (default) is "/". */
    const char *path;
    /** Sent as Origin if not NULL (default NULL). */
    const char *origin;
    /** Subprotocols to offer, in order of preference (tokens); `subprotocol_count` of them. */
    const char *const *subprotocols;
    size_t subprotocol_count;
    /** Extra request headers: `header_count` names and values. */
    const char *const *header_names;
    const char *const *header_values;
    size_t header_count;
    /** permessage-deflate to offer (read during sws_client_handshake_new()); NULL (default): the defaults, on. */
    const sws_compression_config *compression;
} sws_client_handshake_config;

/**
 * Sets every field of `config` to its default and `size`. Errors: SWS_ERR_INVALID_ARGUMENT
 * (`config` NULL). Thread-safe.
 */
sws_status sws_client_handshake_config_init(sws_client_handshake_config *config);

/**
 * Creates a client handshake (with a fresh random Sec-WebSocket-Key) and its request bytes.
 * Every string of `config` is read during the call only.
 * Errors (`*out` set to NULL): SWS_ERR_INVALID_ARGUMENT (`config` or `out` NULL, bad `size`,
 * `host` NULL or not a host name, a path, origin, subprotocol or header that cannot be written
 * into a valid request, a string that is not UTF-8, arrays NULL with a count);
 * SWS_ERR_UNSUPPORTED (a larger struct with unknown non-zero fields). Thread-safe.
 */
sws_status sws_client_handshake_new(const sws_client_handshake_config *config, sws_client_handshake_t **out);

/**
 * Destroys a handshake; pointers obtained from it become invalid.
 * Errors: SWS_ERR_INVALID_ARGUMENT (NULL, or not a live handshake: a double free is refused).
 */
sws_status sws_client_handshake_free(sws_client_handshake_t *handshake);

/**
 * The request to write. Owned by the handshake, valid until it is freed.
 * Errors: SWS_ERR_INVALID_ARGUMENT (NULL arguments).
 */
sws_status sws_client_handshake_request(const sws_client_handshake_t *handshake, const uint8_t **data,
                                        size_t *len);

/**
 * Feeds bytes of the server's response (`data` may be NULL when `len` is 0; not kept).
 * `*complete` becomes true once the whole head was read and validated (RFC 6455 section 4.1);
 * `*consumed` is the number of bytes of this chunk that belonged to the head.
 * Errors: SWS_ERR_INVALID_ARGUMENT (NULL arguments, feeding after completion or failure);
 * SWS_ERR_HANDSHAKE (the server refused -- any status but 101, see
 * sws_client_handshake_http_status() -- or its response breaks RFC 6455 section 4.1 or RFC 7692
 * section 7.1: wrong Sec-WebSocket-Accept, missing Upgrade, a subprotocol or extension not
 * offered, permessage-deflate parameters we cannot accept; detail in sws_last_error()).
 */
sws_status sws_client_handshake_feed(sws_client_handshake_t *handshake, const void *data, size_t len,
                                     size_t *consumed, bool *complete);

/** The HTTP status of the server's response once its head was read (101 on success); 0 before, or for NULL. */
int sws_client_handshake_http_status(const sws_client_handshake_t *handshake);

/** Whether the server accepted permessage-deflate (once complete). False for NULL or before. */
bool sws_client_handshake_compression(const sws_client_handshake_t *handshake);

/**
 * Creates the session of the upgraded connection: as sws_session_new() with the client role,
 * plus the permessage-deflate codec the server accepted. May be called once per handshake; the
 * session is independent of it. Errors: as sws_session_new(), and SWS_ERR_INVALID_ARGUMENT when
 * the handshake is not complete or a session was already made.
 */
sws_status sws_client_handshake_new_session(sws_client_handshake_t *handshake, const sws_session_config *config,
                                            const sws_session_callbacks *callbacks, void *user_data,
                                            sws_session_t **out);

/**
 * The subprotocol the server selected once complete: `*name` NULL and `*name_len` 0 if none.
 * Owned by the handshake, valid until it is freed.
 * Errors: SWS_ERR_INVALID_ARGUMENT (NULL arguments, or not complete).
 */
sws_status sws_client_handshake_subprotocol(const sws_client_handshake_t *handshake, const char **name,
                                            size_t *name_len);

/* ---- Event loops ------------------------------------------------------------------------ */
/*
 * A loop runs sockets, timers and posted work on one thread: the thread that last called
 * sws_loop_run() or sws_loop_run_once() (or created it, before that). Servers, connections and
 * client connects belong to a loop, and every function on them is LOOP-THREAD-ONLY: called from
 * another thread it returns SWS_ERR_WRONG_THREAD and does nothing. From other threads, use the
 * THREAD-SAFE functions: sws_loop_stop(), sws_loop_post(), sws_loop_fd(), the sws_conn_ref_*
 * family (sws_conn_ref_post() runs any work on a connection's loop) and sws_request_post().
 * Callbacks always run on the loop thread.
 */

/** An opaque event loop (epoll). */
typedef struct sws_loop sws_loop_t;

/** Work posted to a loop with sws_loop_post(); runs on the loop thread. */
typedef void (*sws_loop_work_fn)(sws_loop_t *loop, void *user_data);

/**
 * Creates a loop owned by the calling thread and stores it in `*out`.
 * Errors: SWS_ERR_INVALID_ARGUMENT (`out` NULL); SWS_ERR_IO (epoll/eventfd could not be created).
 */
sws_status sws_loop_new(sws_loop_t **out);

/**
 * Closes every server, connection and pending connect of the loop (their on_close callbacks run
 * during this call, with SWS_CLOSE_ABNORMAL), drops posted work that has not run (it is never
 * called), and frees the loop. Handles of its servers must still be freed with
 * sws_server_free(); connections are gone. Loop-thread-only; not from inside a callback.
 * Errors: SWS_ERR_INVALID_ARGUMENT (NULL, not a live loop -- a double free is refused -- or
 * called from a callback); SWS_ERR_WRONG_THREAD.
 */
sws_status sws_loop_free(sws_loop_t *loop);

/**
 * Runs the loop on the calling thread (which becomes its thread) until sws_loop_stop().
 * Errors: SWS_ERR_INVALID_ARGUMENT (NULL, or called from one of the loop's callbacks).
 */
sws_status sws_loop_run(sws_loop_t *loop);

/**
 * Runs one iteration on the calling thread: waits up to `timeout_ms` milliseconds (-1: until
 * something happens; 0: not at all) for events, then handles them, runs due timers and posted
 * work, and flushes writes. For programs with their own loop: watch sws_loop_fd().
 * Errors: SWS_ERR_INVALID_ARGUMENT (NULL, `timeout_ms` < -1, or called from a callback).
 */
sws_status sws_loop_run_once(sws_loop_t *loop, int timeout_ms);

/**
 * Makes sws_loop_run() return after the current iteration (or the next run return after one
 * iteration, if the loop is not running). THREAD-SAFE.
 * Errors: SWS_ERR_INVALID_ARGUMENT (NULL).
 */
sws_status sws_loop_stop(sws_loop_t *loop);

/**
 * Runs `fn(loop, user_data)` on the loop thread during its next iteration, waking it if it
 * sleeps. THREAD-SAFE. If the loop is freed before the work runs, `fn` is never called.
 * Errors (then `fn` is never called): SWS_ERR_INVALID_ARGUMENT (`loop` or `fn` NULL);
 * SWS_ERR_CLOSED (the loop is closing).
 */
sws_status sws_loop_post(sws_loop_t *loop, sws_loop_work_fn fn, void *user_data);

/**
 * For programs that compute their own sleep: milliseconds until the loop next has something to
 * do without a socket event (0: work is waiting now; rounded up), or -1 when nothing is
 * scheduled (sleep until sws_loop_fd() is readable). -1 for NULL. Loop-thread-only (-1 elsewhere).
 */
int sws_loop_next_timeout_ms(const sws_loop_t *loop);

/**
 * A file descriptor that becomes readable whenever the loop has something to do (socket
 * events, due timers, posted work): watch it with poll/select/another loop and call
 * sws_loop_run_once(loop, 0). Owned by the loop: do not close it. -1 for NULL. THREAD-SAFE.
 */
int sws_loop_fd(const sws_loop_t *loop);

/* ---- Connections ------------------------------------------------------------------------ */

/**
 * An open WebSocket connection (server or client side). The pointer is valid from on_open until
 * on_close returns; every function on it is loop-thread-only. To send or close from another
 * thread, or to keep a reference past on_close, take a sws_conn_ref_t with sws_conn_ref_new().
 */
typedef struct sws_conn sws_conn_t;

/** A thread-safe, counted reference to a connection; it may outlive the connection. */
typedef struct sws_conn_ref sws_conn_ref_t;

/** A server (see "Servers"). */
typedef struct sws_server sws_server_t;

/** An HTTP request a server is answering in on_upgrade or on_http_request (see "Servers"). */
typedef struct sws_request sws_request_t;

/** What happened to a message given to a send function. */
typedef enum sws_send_result {
    SWS_SEND_SENT = 0,     /**< handed to the kernel (this loop iteration's flush) */
    SWS_SEND_BUFFERED = 1, /**< accepted, waiting behind bytes the peer has not read: see on_drain */
    SWS_SEND_DROPPED = 2   /**< not sent: the buffered-amount limit applied (see backpressure_close) */
} sws_send_result;

/**
 * One whole message of a batch given to sws_conn_handlers.on_messages. The pointers are
 * BORROWED: valid until on_messages returns.
 */
typedef struct sws_message_entry {
    /** The connection the message came from (alive during the callback; sends are allowed). */
    sws_conn_t *conn;
    /** The connection's user data when the batch was delivered. */
    void *user_data;
    /** The payload, inside the batch's payload buffer; text is valid UTF-8 (not NUL-terminated). */
    const uint8_t *data;
    /** The payload's length in bytes. */
    size_t len;
    /** Text or binary. */
    sws_message_kind kind;
} sws_message_entry;

/**
 * Callbacks of connections: those of a server's connections, or of one client connection.
 * Fill with sws_conn_handlers_init() (all NULL); a NULL callback ignores its event. All run on
 * the loop thread. Pointers passed in are BORROWED (valid until the callback returns).
 * `user_data` is the connection's user data (sws_conn_set_user_data()), which starts as the
 * pointer given to sws_server_new()/sws_client_connect() or chosen by sws_request_accept().
 */
typedef struct sws_conn_handlers {
    /** sizeof(sws_conn_handlers) as compiled; set by sws_conn_handlers_init(). */
    size_t size;
    /** The connection is open (handshake done), before any message. */
    void (*on_open)(sws_conn_t *conn, void *user_data);
    /** A whole message; text is valid UTF-8 (not NUL-terminated). */
    void (*on_message)(sws_conn_t *conn, void *user_data, sws_message_kind kind, const uint8_t *data, size_t len);
    /**
     * One frame of a message delivered frame by frame: one larger than streaming_threshold, or a
     * fragmented one after sws_conn_set_stream_fragmented(); see sws_session_callbacks.
     */
    void (*on_fragment)(sws_conn_t *conn, void *user_data, sws_message_kind kind, const uint8_t *data, size_t len,
                        bool is_first, bool is_final);
    /** A ping arrived (the pong is sent automatically unless auto_pong is off). */
    void (*on_ping)(sws_conn_t *conn, void *user_data, const uint8_t *data, size_t len);
    /** A pong arrived. */
    void (*on_pong)(sws_conn_t *conn, void *user_data, const uint8_t *data, size_t len);
    /** Everything buffered was written after a send returned SWS_SEND_BUFFERED. */
    void (*on_drain)(sws_conn_t *conn, void *user_data);
    /**
     * The connection closed; called exactly once per opened connection, with the peer's close
     * code and reason, the code we failed with, SWS_CLOSE_NO_STATUS or SWS_CLOSE_ABNORMAL.
     * `conn` is invalid after this returns.
     */
    void (*on_close)(sws_conn_t *conn, void *user_data, uint16_t code, const char *reason, size_t reason_len);
    /**
     * Client connects only: the connection could not be opened (instead of on_open/on_close).
     * `status`: SWS_ERR_RESOLVE, SWS_ERR_IO (refused, unreachable), SWS_ERR_TIMEOUT,
     * SWS_ERR_HANDSHAKE (then `http_status` is the server's status if it answered, else 0).
     */
    void (*on_connect_error)(void *user_data, sws_status status, int http_status, const char *message);
    /**
     * Servers only: decides a valid upgrade request (after the Origin check) by calling
     * sws_request_accept() or sws_request_respond() on `request` (valid during the call only),
     * or sws_request_defer() to decide later. Deciding neither accepts with the first of the
     * config's subprotocols the client offered.
     */
    void (*on_upgrade)(sws_server_t *server, void *user_data, sws_request_t *request);
    /**
     * Servers only: answers a plain HTTP request on the same port (one without an Upgrade
     * header: a health check, a page) by calling sws_request_respond(); the connection closes
     * after the response. Not answering, or no callback, gives 404 Not Found.
     */
    void (*on_http_request)(sws_server_t *server, void *user_data, sws_request_t *request);
    /**
     * Whole messages in batches (appended in 0.1; a struct sized before it leaves it NULL).
     * When set, whole messages go here INSTEAD of on_message: they are copied into a batch that
     * is delivered once per loop iteration (at its end, before the iteration's writes are
     * flushed, so sends made here are corked as in on_message), and before any other
     * connection callback of these handlers (on_open, on_fragment, on_ping, on_pong, on_drain,
     * on_close), so every connection's events keep their order: a message is delivered before
     * anything that connection did after it, and its `conn` is valid during the call.
     * `messages` holds `count` entries in arrival order; their payloads lie back to back in
     * [payloads, payloads + payloads_len) (`payloads` is never NULL). `user_data` is the
     * pointer given to sws_server_new()/sws_client_connect(). A binding pays one call per
     * iteration instead of one per message (the point of this callback: a Python ctypes
     * callback costs about a microsecond). Messages are copied once more than with on_message,
     * so prefer on_message for large messages in C. Unlike on_message, a batch is delivered after
     * the rest of what was read with its messages was processed: if that included the peer's
     * close frame, the connection is already closing and sends return SWS_ERR_CLOSED.
     */
    void (*on_messages)(const sws_message_entry *messages, size_t count, const uint8_t *payloads,
                        size_t payloads_len, void *user_data);
} sws_conn_handlers;

/** Sets every callback to NULL and `size`. Errors: SWS_ERR_INVALID_ARGUMENT (NULL). Thread-safe. */
sws_status sws_conn_handlers_init(sws_conn_handlers *handlers);

/**
 * Sends a text message (`len` bytes of UTF-8, copied; `data` may be NULL when `len` is 0).
 * `*result` (may be NULL) says whether it was sent, buffered or dropped by the buffered-amount
 * limit. Loop-thread-only.
 * Errors (`*result` = SWS_SEND_DROPPED): SWS_ERR_INVALID_ARGUMENT (`conn` NULL, `data` NULL with
 * a length, not UTF-8, a fragmented message unfinished); SWS_ERR_WRONG_THREAD; SWS_ERR_CLOSED
 * (the close handshake has begun or the connection closed).
 */
sws_status sws_conn_send_text(sws_conn_t *conn, const char *data, size_t len, sws_send_result *result);

/** Sends a binary message (copied). As sws_conn_send_text() without the UTF-8 rule. */
sws_status sws_conn_send_binary(sws_conn_t *conn, const void *data, size_t len, sws_send_result *result);

/**
 * One whole message for sws_conn_send_batch(): `conn`, `len` and `kind` are read, `status` and
 * `result` written (what sws_conn_send_text()/sws_conn_send_binary() would return and store).
 */
typedef struct sws_send_entry {
    /** The connection to send on. */
    sws_conn_t *conn;
    /** The payload's length; the payloads of a batch lie back to back in its `payloads` buffer. */
    size_t len;
    /** SWS_MESSAGE_TEXT (the payload must be UTF-8) or SWS_MESSAGE_BINARY. */
    sws_message_kind kind;
    /** Out: the send's status (SWS_ERR_INVALID_ARGUMENT for an unknown `kind`). */
    sws_status status;
    /** Out: the send's result (SWS_SEND_DROPPED when `status` is not SWS_OK). */
    sws_send_result result;
} sws_send_entry;

/**
 * Sends `count` whole messages, possibly on different connections, in one call: entry i's
 * payload is the `entries[i].len` bytes following the previous entry's in `payloads` (copied).
 * Each entry is sent as sws_conn_send_text()/sws_conn_send_binary() would send it, in order, and
 * gets that call's status and result; an entry's failure does not stop the others. For bindings
 * whose calls into C cost more than a send (Python's ctypes: one call per batch of replies
 * instead of one per reply). Loop-thread-only: each entry's connection is checked as the send
 * functions check it, so an entry whose `conn` is NULL gets SWS_ERR_INVALID_ARGUMENT, one whose
 * connection is closing or closed (its close handshake began, or inside its on_close)
 * SWS_ERR_CLOSED, one called from another thread than its connection's loop SWS_ERR_WRONG_THREAD.
 * Returns how many entries were not sent at once (status not SWS_OK or result not
 * SWS_SEND_SENT): 0 when every message was handed to this iteration's flush. `entries` and
 * `payloads` may be NULL only when `count` is 0; `entries` NULL with a `count` refuses the whole
 * call (returns `count`, writes nothing; sws_last_error() says why).
 */
size_t sws_conn_send_batch(sws_send_entry *entries, size_t count, const void *payloads);

/**
 * Sends one frame of a fragmented message, as sws_session_send_fragment() (same rules, copied).
 * Errors as sws_conn_send_text(), plus SWS_ERR_INVALID_ARGUMENT for an unknown `kind`.
 */
sws_status sws_conn_send_fragment(sws_conn_t *conn, sws_message_kind kind, const void *data, size_t len,
                                  bool is_final, sws_send_result *result);

/**
 * Sends a ping (0..125 bytes, copied). Loop-thread-only.
 * Errors: SWS_ERR_INVALID_ARGUMENT, SWS_ERR_TOO_BIG (`len` > 125), SWS_ERR_WRONG_THREAD, SWS_ERR_CLOSED.
 */
sws_status sws_conn_send_ping(sws_conn_t *conn, const void *data, size_t len);

/**
 * Sends an unsolicited pong, a one-way heartbeat (RFC 6455 section 5.5.3; 0..125 bytes, copied).
 * Loop-thread-only. Errors as sws_conn_send_ping().
 */
sws_status sws_conn_send_pong(sws_conn_t *conn, const void *data, size_t len);

/**
 * Where the connection is: SWS_SESSION_OPEN while messages flow both ways; SWS_SESSION_CLOSING
 * once the close handshake began (either side) or a timeout or limit is ending the connection
 * (sends return SWS_ERR_CLOSED from then on); SWS_SESSION_CLOSED inside on_close. Loop-thread-only.
 * Errors: SWS_ERR_INVALID_ARGUMENT (NULL), SWS_ERR_WRONG_THREAD.
 */
sws_status sws_conn_get_state(sws_conn_t *conn, sws_session_state *state);

/**
 * Stops reading from the peer: its messages wait in the kernel and then in the peer (TCP flow
 * control), so a consumer that falls behind costs no memory here. Timers keep running (a long
 * pause can trip idle_timeout_ms). Loop-thread-only.
 * Errors: SWS_ERR_INVALID_ARGUMENT (NULL), SWS_ERR_WRONG_THREAD.
 */
sws_status sws_conn_pause_reading(sws_conn_t *conn);

/** Resumes reading after sws_conn_pause_reading(). Loop-thread-only. Errors as sws_conn_pause_reading(). */
sws_status sws_conn_resume_reading(sws_conn_t *conn);

/**
 * What a connection carried each way: whole messages and payload bytes (application bytes, after
 * decompression on receipt and before compression on sending; a message received or sent in
 * fragments counts once, at its final fragment; dropped sends are not counted).
 */
typedef struct sws_conn_counters {
    /** Set to sizeof(sws_conn_counters) before calling sws_conn_get_counters(). */
    size_t size;
    uint64_t messages_received;
    uint64_t bytes_received;
    uint64_t messages_sent;
    uint64_t bytes_sent;
} sws_conn_counters;

/**
 * Fills `counters` (whose `size` the caller set) with the connection's counters so far.
 * Loop-thread-only. Errors: SWS_ERR_INVALID_ARGUMENT (NULL, or `size` smaller than the first
 * version of the struct), SWS_ERR_WRONG_THREAD.
 */
sws_status sws_conn_get_counters(sws_conn_t *conn, sws_conn_counters *counters);

/**
 * Starts the close handshake with `code` and a UTF-8 `reason` (at most 123 bytes). Messages
 * still arrive until the peer answers; on_close follows (at the latest after close_timeout_ms).
 * Loop-thread-only.
 * Errors: SWS_ERR_INVALID_ARGUMENT (NULL, a code that may not be sent, reason not UTF-8),
 * SWS_ERR_TOO_BIG (reason over 123 bytes), SWS_ERR_WRONG_THREAD, SWS_ERR_CLOSED (already closing:
 * a second close is refused).
 */
sws_status sws_conn_close(sws_conn_t *conn, uint16_t code, const char *reason, size_t reason_len);

/**
 * Fails the connection (RFC 6455 section 7.1.7): sends a close frame with `code` and a UTF-8
 * `reason` (at most 123 bytes), then closes TCP at once (a lingering close bounded by the close
 * timeout) without waiting for the peer's answer, which is discarded. on_close follows with
 * SWS_CLOSE_ABNORMAL (no close frame was received) and sws_conn_close_initiated_locally() true.
 * For a program that cannot go on, e.g. closing in the middle of sending a fragmented message
 * (websockets does this); sws_conn_close() is the orderly way. Loop-thread-only.
 * Errors (nothing is sent): SWS_ERR_INVALID_ARGUMENT (NULL, a code that may not be sent, reason
 * not UTF-8), SWS_ERR_TOO_BIG (reason over 123 bytes), SWS_ERR_WRONG_THREAD, SWS_ERR_CLOSED (the
 * closing handshake has begun -- sws_conn_close(), an earlier fail, a timeout, the peer's close
 * frame -- or inside on_close).
 */
sws_status sws_conn_fail(sws_conn_t *conn, uint16_t code, const char *reason, size_t reason_len);

/**
 * Drops the TCP connection at once, without a close handshake; on_close follows with
 * SWS_CLOSE_ABNORMAL. Loop-thread-only. Errors: SWS_ERR_INVALID_ARGUMENT, SWS_ERR_WRONG_THREAD,
 * SWS_ERR_CLOSED.
 */
sws_status sws_conn_abort(sws_conn_t *conn);

/** Bytes accepted by sends that the peer has not taken yet; 0 for NULL or from another thread. */
size_t sws_conn_buffered_amount(const sws_conn_t *conn);

/** Whether messages can still be sent (the close handshake has not begun). False for NULL. Loop-thread-only. */
bool sws_conn_is_open(const sws_conn_t *conn);

/**
 * Writes the peer's address ("127.0.0.1:51000", "[::1]:51000") into `buffer` of `size` bytes,
 * NUL-terminated. Loop-thread-only.
 * Errors: SWS_ERR_INVALID_ARGUMENT (NULL arguments), SWS_ERR_TOO_BIG (`size` too small; nothing
 * written), SWS_ERR_CLOSED (the address is no longer known), SWS_ERR_WRONG_THREAD.
 */
sws_status sws_conn_remote_address(const sws_conn_t *conn, char *buffer, size_t size);

/**
 * Client connections: the server's 101 response head as received (status line, header lines, the
 * empty line; `*len` bytes, not NUL-terminated), owned by the connection, valid until on_close
 * returns -- so that a program can read headers the server added. Loop-thread-only.
 * Errors: SWS_ERR_INVALID_ARGUMENT (NULL, a server-side connection), SWS_ERR_WRONG_THREAD.
 */
sws_status sws_conn_handshake_response(const sws_conn_t *conn, const uint8_t **head, size_t *len);

/**
 * Whether this side began the closing handshake (a close call, a timeout, a limit, or failing
 * the connection for the peer's protocol error); false when the peer's close frame came first,
 * while open, after a dropped TCP connection (1006), for NULL or from another thread. Useful in
 * on_close to tell "sent, then received" from "received, then sent". Loop-thread-only.
 */
bool sws_conn_close_initiated_locally(const sws_conn_t *conn);

/**
 * Sets the connection's close timeout (as sws_connection_config's close_timeout_ms, which it
 * replaces for this connection): how long a closing handshake may take before the TCP connection
 * is dropped. It applies to a closing handshake that begins after the call, not to one under way:
 * on a connection already closing, or inside on_close, it returns SWS_OK and the deadline already
 * set does not move. Loop-thread-only.
 * Errors: SWS_ERR_INVALID_ARGUMENT (NULL), SWS_ERR_WRONG_THREAD.
 */
sws_status sws_conn_set_close_timeout(sws_conn_t *conn, uint32_t close_timeout_ms);

/**
 * Turns frame-by-frame delivery of fragmented messages on or off for this connection (off by
 * default): while on, a message whose first frame is not final is delivered through on_fragment,
 * one call per frame as it arrives, whatever its size (as streaming_threshold does for large
 * messages); a single-frame message still comes whole through on_message. It applies from the
 * next message on, not to one being received. Limits (max_message_size, ...) apply unchanged.
 * On a closing connection it returns SWS_OK and applies to the messages that still arrive before
 * the peer's close frame; inside on_close it returns SWS_OK and has no effect.
 * Loop-thread-only. Errors: SWS_ERR_INVALID_ARGUMENT (NULL), SWS_ERR_WRONG_THREAD.
 */
sws_status sws_conn_set_stream_fragmented(sws_conn_t *conn, bool on);

/**
 * Whether the close timeout (close_timeout_ms) ended the connection: the closing handshake began
 * but the peer's close frame -- or, for a client, the server's closing of TCP -- did not come in
 * time, so the TCP connection was dropped. False otherwise: while open or closing (the timeout
 * has not fired), after any other ending, for NULL or from another thread. Useful in on_close
 * (where it is final) to report the timeout as the cause. Loop-thread-only.
 */
bool sws_conn_close_timed_out(const sws_conn_t *conn);

/** Our own address of the connection, as sws_conn_remote_address() (same errors). Loop-thread-only. */
sws_status sws_conn_local_address(const sws_conn_t *conn, char *buffer, size_t size);

/** Whether permessage-deflate was agreed for the connection. False for NULL or from another thread. */
bool sws_conn_is_compressed(const sws_conn_t *conn);

/** Sets the pointer passed to the connection's callbacks. Loop-thread-only. Errors: SWS_ERR_INVALID_ARGUMENT, SWS_ERR_WRONG_THREAD. */
sws_status sws_conn_set_user_data(sws_conn_t *conn, void *user_data);

/** The connection's user data; NULL for NULL. Loop-thread-only. */
void *sws_conn_get_user_data(const sws_conn_t *conn);

/**
 * The handshake's path ("/chat") and query (without '?'; NULL if none), and the agreed
 * subprotocol (NULL if none). Each output may be NULL. Strings are NUL-terminated, owned by the
 * connection, valid until on_close returns. Loop-thread-only.
 * Errors: SWS_ERR_INVALID_ARGUMENT (`conn` NULL), SWS_ERR_WRONG_THREAD.
 */
sws_status sws_conn_info(const sws_conn_t *conn, const char **path, const char **query, const char **subprotocol);

/**
 * Subscribes a server connection to `topic` (NUL-terminated UTF-8; idempotent), for
 * sws_server_publish(). Subscriptions end when the connection closes. Loop-thread-only.
 * Errors: SWS_ERR_INVALID_ARGUMENT (NULL, not UTF-8, a client connection), SWS_ERR_WRONG_THREAD,
 * SWS_ERR_CLOSED.
 */
sws_status sws_conn_subscribe(sws_conn_t *conn, const char *topic);

/** Unsubscribes from `topic` (no error if not subscribed). Loop-thread-only. Errors as sws_conn_subscribe(). */
sws_status sws_conn_unsubscribe(sws_conn_t *conn, const char *topic);

/**
 * Takes a thread-safe reference to `conn` and stores it in `*out`; release it with
 * sws_conn_ref_free(). Loop-thread-only (the reference itself is usable from any thread).
 * Errors: SWS_ERR_INVALID_ARGUMENT (NULL), SWS_ERR_WRONG_THREAD.
 */
sws_status sws_conn_ref_new(sws_conn_t *conn, sws_conn_ref_t **out);

/**
 * Queues a text message (copied now) to be sent on the connection's loop. THREAD-SAFE; never
 * touches a connection that has closed, however late the call comes.
 * Returns SWS_OK when queued (if the connection closes before the loop runs it, it is dropped);
 * SWS_ERR_CLOSED when the connection or its loop is closed; SWS_ERR_INVALID_ARGUMENT (NULL,
 * `data` NULL with a length, not UTF-8).
 */
sws_status sws_conn_ref_send_text(sws_conn_ref_t *ref, const char *data, size_t len);

/** Queues a binary message (copied now). THREAD-SAFE. As sws_conn_ref_send_text() without UTF-8. */
sws_status sws_conn_ref_send_binary(sws_conn_ref_t *ref, const void *data, size_t len);

/**
 * Queues the start of the close handshake. THREAD-SAFE. Returns SWS_OK when queued,
 * SWS_ERR_CLOSED when already closed, SWS_ERR_INVALID_ARGUMENT (NULL, a code that may not be
 * sent, reason not UTF-8), SWS_ERR_TOO_BIG (reason over 123 bytes).
 */
sws_status sws_conn_ref_close(sws_conn_ref_t *ref, uint16_t code, const char *reason, size_t reason_len);

/** Whether the connection has closed. True for NULL. THREAD-SAFE. */
bool sws_conn_ref_is_closed(const sws_conn_ref_t *ref);

/** Work posted with sws_conn_ref_post(); runs on the connection's loop thread. */
typedef void (*sws_conn_work_fn)(sws_conn_t *conn, void *user_data);

/**
 * Runs `fn(conn, user_data)` on the connection's loop thread during its next iteration, in call
 * order with the other sws_conn_ref_* calls on the same reference; there every loop-thread-only
 * function may be used on `conn` (send and read the send's result and sws_conn_buffered_amount(),
 * pause reading, ping, ...). This is how another thread reaches a connection of a server on
 * several loops (sws_server_config.loops), whose loops have no sws_loop_t of their own.
 * `conn` is NULL when the connection closed before the work ran: `fn` still runs then (also when
 * the loop is being freed), so it can always release `user_data`. THREAD-SAFE.
 * Errors (then `fn` is never called): SWS_ERR_INVALID_ARGUMENT (`ref` not a live reference,
 * `fn` NULL); SWS_ERR_CLOSED (the connection or its loop is already closed).
 */
sws_status sws_conn_ref_post(sws_conn_ref_t *ref, sws_conn_work_fn fn, void *user_data);

/**
 * Releases a reference. THREAD-SAFE, but like any handle a reference must not be freed while
 * another thread is still using it. Errors: SWS_ERR_INVALID_ARGUMENT (NULL, or not a live
 * reference: a double free is refused, and so are later calls on it that check the registry).
 */
sws_status sws_conn_ref_free(sws_conn_ref_t *ref);

/* ---- TLS ------------------------------------------------------------------------------- */

/** TLS protocol versions, for sws_tls_config.min_version and max_version. */
#define SWS_TLS_1_2 0x0303
#define SWS_TLS_1_3 0x0304

/**
 * TLS settings of a wss:// server (sws_server_config.tls) or client (sws_client_config.tls).
 * Fill with sws_tls_config_init(). Every string is NUL-terminated and may be NULL (unset); the
 * struct and its strings are read during sws_server_new() / sws_client_connect() /
 * sws_server_reload_tls() (files are read then too) and need not outlive the call.
 *
 * A server needs a certificate chain and its private key, from files or PEM text. A client
 * needs nothing: by default it verifies the server's certificate against the system trust
 * store and the URL's host name (SNI is sent for names). Failures: SWS_ERR_TLS with the reason
 * in sws_last_error() (a file that cannot be read, a key that does not match), or, for a
 * handshake, in on_connect_error ("certificate verify failed: certificate has expired").
 */
typedef struct sws_tls_config {
    /** sizeof(sws_tls_config) as compiled; set by sws_tls_config_init(). */
    size_t size;
    /** PEM file: our certificate, then its intermediates (servers; clients for mutual TLS). */
    const char *certificate_chain_file;
    /** PEM file: the private key of that certificate. */
    const char *private_key_file;
    /** The chain as PEM text (instead of certificate_chain_file). */
    const char *certificate_chain_pem;
    /** The key as PEM text (instead of private_key_file). */
    const char *private_key_pem;
    /** CAs to trust: a PEM file, a hashed directory (`openssl rehash`), PEM text. */
    const char *ca_file;
    const char *ca_directory;
    const char *ca_pem;
    /** Whether the system trust store counts too. Default true. */
    bool use_system_trust_store;
    /** Clients: do not verify the server's certificate or host name. INSECURE: anyone on the path
     *  can read and change the traffic. For tests against self-signed servers. Default false. */
    bool insecure_skip_verification;
    /** Servers: require a client certificate that verifies against the CAs above (mutual TLS). Default false. */
    bool verify_client_certificates;
    /** Session tickets for resumption: servers issue them, clients keep the latest per host and
     *  port and offer it next time. Default true. */
    bool session_tickets;
    /** Clients: the name to send as SNI and verify, instead of the URL's host. */
    const char *server_name;
    /** Oldest and newest version: SWS_TLS_1_2 (default minimum) or SWS_TLS_1_3 (default maximum). */
    uint16_t min_version;
    uint16_t max_version;
    /** Servers: `sni_certificate_count` further certificates (PEM files, chain and key at the same
     *  index), chosen by the host name the client sends (SNI): the first whose certificate matches
     *  serves the connection; without SNI or a match, the main certificate does. */
    const char *const *sni_certificate_chain_files;
    const char *const *sni_private_key_files;
    size_t sni_certificate_count;
    /** The password of an encrypted private key (the main key and the SNI keys); NULL (default):
     *  none, and an encrypted key fails with SWS_ERR_TLS saying it needs its password. OpenSSL is
     *  never allowed to prompt on a terminal. */
    const char *private_key_password;
} sws_tls_config;

/** Sets every field of `config` to its default and `size`. Errors: SWS_ERR_INVALID_ARGUMENT (NULL). Thread-safe. */
sws_status sws_tls_config_init(sws_tls_config *config);

/* ---- Servers ---------------------------------------------------------------------------- */

/** How much a log line matters. */
typedef enum sws_log_level {
    SWS_LOG_DEBUG = 0,
    SWS_LOG_INFO = 1,    /**< connections opened, closed normally; requests refused (with the status) */
    SWS_LOG_WARNING = 2, /**< connections closed with an error code (a peer's protocol error, a timeout, a limit); client handshakes that failed */
    SWS_LOG_ERROR = 3
} sws_log_level;

/**
 * Receives the log lines of a server and its connections, or of a client connection
 * (sws_server_config.log, sws_client_config.log): `message` is `len` bytes of UTF-8,
 * NUL-terminated, BORROWED (valid during the call). Called on the loop thread, from inside the
 * library: it must not free the server or the connection it is about.
 */
typedef void (*sws_log_fn)(void *log_user_data, sws_log_level level, const char *message, size_t len);

/**
 * Settings of every connection, server or client side: limits on what the peer sends (a
 * sws_session_config), permessage-deflate (a sws_compression_config), output backpressure and
 * timers. Fill with sws_connection_config_init(); point sws_server_config.connection or
 * sws_client_config.connection at it. Times in ms; 0 switches an optional timer off.
 * The groups are separate sized structs so that each grows on its own.
 */
typedef struct sws_connection_config {
    /** sizeof(sws_connection_config) as compiled; set by sws_connection_config_init(). */
    size_t size;
    /** Message, frame and fragment limits, streaming, auto pong, inflate budget; NULL (default): the defaults. */
    const sws_session_config *limits;
    /** permessage-deflate to offer (client) or accept (server); NULL (default): the defaults, on. */
    const sws_compression_config *compression;
    /**
     * Most bytes a connection may hold for a peer that does not read (0: no limit). Default
     * 16 MiB. Pongs answering the peer's pings count too: a peer that pings without reading the
     * answers is disconnected (close status 1008).
     */
    size_t max_buffered_amount;
    /** Past max_buffered_amount: false (default) drops the message; true also closes the connection (1008). */
    bool backpressure_close;
    /**
     * Send a ping this often (0, default: never); close with 1011 after pong_timeout_ms without a
     * pong. A keepalive ping carries 8 bytes, the sending loop's CLOCK_MONOTONIC time in
     * nanoseconds, big-endian: on_pong can compute the round trip from its pong.
     */
    uint32_t ping_interval_ms;
    uint32_t pong_timeout_ms;          /**< default 20000 */
    /** Close with 1001 after this long without receiving anything (0, default: never). */
    uint32_t idle_timeout_ms;
    /** Close with 1008 when a message is still unfinished this long after its first frame (0, default: never). */
    uint32_t message_timeout_ms;
    /**
     * Drop the TCP connection if the close handshake has not finished this long after it began;
     * also bounds the lingering close after it (close frame, FIN, the peer's further bytes read and
     * discarded until its FIN). Default 10000.
     */
    uint32_t close_timeout_ms;
} sws_connection_config;

/** Sets every field of `config` to its default and `size`. Errors: SWS_ERR_INVALID_ARGUMENT (NULL). Thread-safe. */
sws_status sws_connection_config_init(sws_connection_config *config);

/** Why a connection ended before its request head was read (sws_server_config.on_no_request). */
typedef enum sws_no_request_reason {
    /** The client closed the connection (or it failed) first. */
    SWS_NO_REQUEST_CLOSED = 0,
    /** handshake_timeout_ms passed first. */
    SWS_NO_REQUEST_TIMEOUT = 1,
    /** The request line is not "METHOD target HTTP/x.y" (checked as soon as the line arrived). */
    SWS_NO_REQUEST_BAD_REQUEST_LINE = 2,
    /** Elsewhere, the bytes are not an HTTP head (line endings, a header line). */
    SWS_NO_REQUEST_MALFORMED = 3
} sws_no_request_reason;

/**
 * Told of a connection that ended before its request head was read whole (see
 * sws_server_config.on_no_request): `reason`; `message`, the library's words for it
 * ("connection closed", "request line is not 'METHOD target HTTP/x.y'", ...); `received`, the
 * `received_len` bytes of the head that had arrived (up to the offending byte). Everything is
 * valid during the call only. Runs on the loop thread of the connection.
 */
typedef void (*sws_no_request_fn)(void *user_data, sws_no_request_reason reason, const char *message,
                                  const uint8_t *received, size_t received_len);

/** Settings of a server. Fill with sws_server_config_init(). Times in ms. */
typedef struct sws_server_config {
    /** sizeof(sws_server_config) as compiled; set by sws_server_config_init(). */
    size_t size;
    /** Settings of every accepted connection (read during sws_server_new()); NULL (default): the defaults. */
    const sws_connection_config *connection;
    /** Time a client has to send its request head (then 408); also bounds the lingering close after any HTTP answer. Default 10000. */
    uint32_t handshake_timeout_ms;
    /** Most connections plus handshakes in progress (0, default: no limit); more get 503. */
    size_t max_connections;
    /**
     * Most bytes all connections together may hold (0, default: no limit): input of unfinished
     * messages plus output their peers have not taken. The connection whose growth passes it is
     * closed: 1013 when its input grew, 1008 (TCP dropped) when its output grew.
     */
    size_t memory_budget;
    /** Largest request head in bytes (then 431). Default 8192. 1 .. SWS_SESSION_LIMIT_MAX. */
    size_t max_head_size;
    /** Most header lines in a request head (then 431). Default 64. 1 .. SWS_SESSION_LIMIT_MAX. */
    size_t max_header_count;
    /** Accepted Origin values (exact, case-insensitive); `allowed_origin_count` of them; none: any. Others get 403. */
    const char *const *allowed_origins;
    size_t allowed_origin_count;
    /** With allowed origins: also refuse requests without an Origin header. Default false. */
    bool require_origin;
    /** Subprotocols spoken, most preferred first (used when on_upgrade does not choose). */
    const char *const *subprotocols;
    size_t subprotocol_count;
    /** SO_REUSEPORT, to spread one port over several loops. Default false. */
    bool reuse_port;
    /** TLS: serve wss:// with these settings (read during sws_server_new()); NULL (default): plain ws://. */
    const sws_tls_config *tls;
    /** Log lines of the server and its connections (see sws_log_fn; appended in 0.2). NULL (default): none. */
    sws_log_fn log;
    /** Passed to `log`. */
    void *log_user_data;
    /** The least level passed to `log`. Default SWS_LOG_INFO. */
    sws_log_level log_level;
    /**
     * Event loops the server runs on (1 .. 256). Default 1: the loop given to sws_server_new().
     * N > 1 starts N - 1 threads, each running a loop of its own, once `loop` first runs; one
     * acceptor on `loop` hands each new connection to the loop with the fewest. Callbacks then run
     * on several threads: each connection's on its own loop's thread (per-loop state such as
     * on_messages batches is kept per loop). sws_server_broadcast(), sws_server_publish(),
     * sws_server_subscriber_count() and sws_server_connection_count() become thread-safe and
     * reach every loop, each building the frame (and its compressed form) once; subscriber counts
     * are summed over the loops; sws_server_shutdown() stops every loop (`done` runs on `loop`'s
     * thread once all have closed). memory_budget is split evenly between the loops. With `tls`,
     * every loop serves wss:// from one TLS context, which sws_server_reload_tls() replaces for
     * all of them at once.
     */
    uint32_t loops;
    /**
     * Joins this server's topics to other processes through Redis pub/sub:
     * "redis://[:password@]host[:port]" (NULL, default: this process only). A publish reaches
     * local subscribers at once and Redis once; a node subscribes to channel "swiftws:TOPIC" while
     * it has subscribers to TOPIC and never delivers its own publish twice. Delivery is
     * at-most-once: while Redis is unreachable, publishes reach this process only and nothing is
     * queued; the bridge reconnects (100 ms doubling to 5 s) and resubscribes by itself. Needs
     * libhiredis.so.0.14 at run time (loaded on demand: SWS_ERR_UNSUPPORTED without it), never
     * at link time. Read during sws_server_new().
     */
    const char *redis_url;
    /**
     * Whether a request head that is not HTTP (a malformed request or header line, bad line
     * endings) is answered 400, and one that does not arrive within handshake_timeout_ms 408
     * (true, default). False closes those connections without an answer, as Python websockets
     * does (the peer is not known to speak HTTP). Heads over the limits (431) and requests that
     * break the WebSocket rules still get their answers. (Appended in 0.2.)
     */
    bool answer_bad_requests;
    /** Called for each connection that ended before its request head was read whole, answered
     *  or not (see sws_no_request_fn): for logs. NULL (default): none. (Appended in 0.2.) */
    sws_no_request_fn on_no_request;
    /** Passed to on_no_request. */
    void *on_no_request_user_data;
} sws_server_config;

/** Sets every field of `config` to its default and `size`. Errors: SWS_ERR_INVALID_ARGUMENT (NULL). Thread-safe. */
sws_status sws_server_config_init(sws_server_config *config);

/**
 * Starts a server on `loop`, listening on `host` ("127.0.0.1", "::", "0.0.0.0", or a name
 * such as "localhost", resolved here with getaddrinfo: this call then blocks while the name is
 * looked up, and the first address the resolver prefers is used) and `port` (0: any free port,
 * see sws_server_port()). `config` may be NULL
 * (defaults); it and `handlers` are copied, strings included. `user_data` is the initial user
 * data of every connection and is passed to on_upgrade. Loop-thread-only.
 * Errors (`*out` set to NULL; no callback is ever called): SWS_ERR_INVALID_ARGUMENT (`loop`,
 * `host`, `out` NULL, a bad config value or size); SWS_ERR_RESOLVE (`host` is neither an address
 * nor a name the resolver knows);
 * SWS_ERR_UNSUPPORTED (unknown non-zero config fields); SWS_ERR_WRONG_THREAD; SWS_ERR_IO (bind or
 * listen failed, e.g. the port is in use: errno text in sws_last_error()); SWS_ERR_TLS (config->tls
 * cannot be used: a certificate or key file that cannot be read, a key that does not match).
 */
sws_status sws_server_new(sws_loop_t *loop, const char *host, uint16_t port, const sws_server_config *config,
                          const sws_conn_handlers *handlers, void *user_data, sws_server_t **out);

/**
 * As sws_server_new(), listening on a Unix-domain socket: `path` (a stale socket file there is
 * replaced; the file is removed when the server is freed) or "@name" in Linux's abstract
 * namespace (no file). sws_server_port() is 0. Errors: as sws_server_new() (`path` NULL, empty,
 * or longer than 107 bytes: SWS_ERR_INVALID_ARGUMENT).
 */
sws_status sws_server_new_unix(sws_loop_t *loop, const char *path, const sws_server_config *config,
                               const sws_conn_handlers *handlers, void *user_data, sws_server_t **out);

/**
 * As sws_server_new(), on `fd`, a bound and listening stream socket opened by someone else
 * (systemd socket activation: SD_LISTEN_FDS_START; an inherited descriptor). The server owns
 * `fd` once this returns SWS_OK; on error the caller keeps it. Errors: as sws_server_new();
 * SWS_ERR_INVALID_ARGUMENT when `fd` is not a listening stream socket.
 */
sws_status sws_server_new_from_socket(sws_loop_t *loop, int fd, const sws_server_config *config,
                                      const sws_conn_handlers *handlers, void *user_data, sws_server_t **out);

/**
 * Serves `fd`, a connected stream socket the program accepted itself (its own HTTP stack
 * handing a connection over before reading from it): the opening handshake runs as for a
 * connection `server` accepted, limits and TLS included. The server owns `fd` once this returns
 * SWS_OK; on error the caller keeps it. Loop-thread-only. Errors: SWS_ERR_INVALID_ARGUMENT
 * (NULL, `fd` not a connected stream socket), SWS_ERR_WRONG_THREAD.
 */
sws_status sws_server_adopt_connection(sws_server_t *server, int fd);

/**
 * Replaces the TLS settings (certificates) for connections accepted from now on; open
 * connections keep theirs. On error the old settings stay. Loop-thread-only (the server's
 * `loop`); on several loops (sws_server_config.loops) a handshake that begins on any loop after
 * this returns uses the new settings.
 * Errors: SWS_ERR_INVALID_ARGUMENT (NULL, a bad size), SWS_ERR_WRONG_THREAD, SWS_ERR_TLS (the
 * server was started without TLS, or the new settings cannot be used: reason in sws_last_error()).
 */
sws_status sws_server_reload_tls(sws_server_t *server, const sws_tls_config *tls);

/** The port the server listens on (the kernel's choice for port 0); 0 for NULL. Loop-thread-only. */
uint16_t sws_server_port(const sws_server_t *server);

/**
 * The listening socket's descriptor (for getsockname(), socket options, a binding's socket
 * object); -1 for NULL or from another thread. Owned by the server: do not close it (dup() it to
 * keep a copy, which then keeps the port bound until closed too). Loop-thread-only.
 */
int sws_server_fd(const sws_server_t *server);

/** Open connections plus handshakes in progress; 0 for NULL. Loop-thread-only (any thread with config->loops > 1). */
size_t sws_server_connection_count(const sws_server_t *server);

/**
 * Sends a message to every open connection but `excluding` (may be NULL); the frame is built
 * once. `*delivered` (may be NULL) is how many connections took it (sent or buffered).
 * Loop-thread-only. With config->loops > 1: any thread; every loop gets it (the calling loop at
 * once, the others in their next iteration, in call order) and `*delivered` counts the calling
 * loop's connections only (0 from a thread that runs none of the server's loops).
 * Errors: SWS_ERR_INVALID_ARGUMENT (NULL arguments, unknown kind, text not UTF-8),
 * SWS_ERR_WRONG_THREAD.
 */
sws_status sws_server_broadcast(sws_server_t *server, sws_message_kind kind, const void *data, size_t len,
                                const sws_conn_t *excluding, size_t *delivered);

/**
 * Sends a message to the subscribers of `topic` (NUL-terminated) but `excluding`; the frame is
 * built once. As sws_server_broadcast(); with config->redis_url also to the other processes.
 */
sws_status sws_server_publish(sws_server_t *server, const char *topic, sws_message_kind kind, const void *data,
                              size_t len, const sws_conn_t *excluding, size_t *delivered);

/** The number of connections subscribed to `topic`; 0 for NULL. Loop-thread-only (any thread,
 *  summed over the loops, with config->loops > 1; subscribers of other processes are not counted). */
size_t sws_server_subscriber_count(const sws_server_t *server, const char *topic);

/**
 * Stops accepting, closes every connection with 1001 and calls `done(server, user_data)` (if
 * not NULL) on the loop thread once all are closed, or after `timeout_ms`, when the rest are
 * dropped. Messages arriving meanwhile are still delivered. A second call does nothing.
 * Loop-thread-only. Errors (then `done` is never called): SWS_ERR_INVALID_ARGUMENT,
 * SWS_ERR_WRONG_THREAD, SWS_ERR_CLOSED (shutdown already begun).
 */
sws_status sws_server_shutdown(sws_server_t *server, uint32_t timeout_ms,
                               void (*done)(sws_server_t *server, void *user_data), void *user_data);

/**
 * Frees a server: it stops listening at once; its open connections stay open (their callbacks
 * keep running) until they close. Call sws_server_shutdown() first to close them. A pending
 * shutdown `done` callback is not called after the free. Loop-thread-only; it may be called
 * from a callback (also from `done`), after which `server` must not be used.
 * Errors: SWS_ERR_INVALID_ARGUMENT (NULL, not a live server: a double free is refused),
 * SWS_ERR_WRONG_THREAD.
 */
sws_status sws_server_free(sws_server_t *server);

/*
 * Requests in on_upgrade and on_http_request. A sws_request_t is valid during that callback
 * only (a deferred one: until it is answered, see sws_request_defer()); used afterwards, every
 * function below returns SWS_ERR_INVALID_ARGUMENT. Strings are NUL-terminated, owned by the
 * request, valid while the request is.
 */

/**
 * The request target ("/chat?room=1") and its path ("/chat"). Each output may be NULL.
 * Errors: SWS_ERR_INVALID_ARGUMENT (`request` NULL or used outside its callback).
 */
sws_status sws_request_target(const sws_request_t *request, const char **target, const char **path);

/**
 * The first request header called `name` (case-insensitive): `*value`, or NULL if absent.
 * Errors: SWS_ERR_INVALID_ARGUMENT (NULL arguments, or outside the callback).
 */
sws_status sws_request_header(const sws_request_t *request, const char *name, const char **value);

/** The number of header lines of the request (repeated names count once per line); 0 for NULL or outside the callback. */
size_t sws_request_header_count(const sws_request_t *request);

/**
 * The `index`-th header line of the request, in the order received: `*name` as the client
 * spelled it and `*value` (either output may be NULL). With sws_request_header_count() this
 * enumerates every header, every value of a repeated name included.
 * Errors: SWS_ERR_INVALID_ARGUMENT (NULL `request`, outside the callback, index out of range).
 */
sws_status sws_request_header_at(const sws_request_t *request, size_t index, const char **name, const char **value);

/** The number of subprotocols an upgrade request offered; 0 for NULL, outside the callback, or plain HTTP. */
size_t sws_request_subprotocol_count(const sws_request_t *request);

/**
 * The `index`-th subprotocol offered, in the client's order of preference.
 * Errors: SWS_ERR_INVALID_ARGUMENT (NULL arguments, outside the callback, index out of range).
 */
sws_status sws_request_subprotocol(const sws_request_t *request, size_t index, const char **name);

/**
 * The subject of the client's TLS certificate ("CN=client,O=Example", RFC 2253) when the server
 * verifies client certificates (sws_tls_config.verify_client_certificates): `*subject`, or NULL
 * without one (plain ws://, no verification). Owned by the request, valid during the callback.
 * Errors: SWS_ERR_INVALID_ARGUMENT (NULL arguments, or outside the callback).
 */
sws_status sws_request_peer_certificate_subject(const sws_request_t *request, const char **subject);

/**
 * Accepts an upgrade request (on_upgrade only) with `subprotocol` (NULL or one the client
 * offered); the connection's user data starts as `conn_user_data`.
 * Errors: SWS_ERR_INVALID_ARGUMENT (NULL, outside on_upgrade, a plain HTTP request, already
 * answered, subprotocol not offered or not UTF-8).
 */
sws_status sws_request_accept(sws_request_t *request, const char *subprotocol, void *conn_user_data);

/**
 * Answers with an HTTP response: `status` (200-599) and a text/plain `body` of `body_len`
 * bytes (`body` may be NULL when `body_len` is 0), Content-Length and Connection: close. In
 * on_upgrade this refuses the upgrade; in on_http_request it is the answer.
 * Errors: SWS_ERR_INVALID_ARGUMENT (NULL, outside the callback, already answered, `status` out
 * of range, `body` NULL with a length).
 */
sws_status sws_request_respond(sws_request_t *request, int status, const char *body, size_t body_len);

/**
 * Closes an upgrade request's connection without any answer (on_upgrade, or a deferred request
 * from its loop thread): the client sees the connection end during the handshake. For a server
 * whose hooks may give up on a client silently (Python websockets' `connection.transport.close()`
 * in process_request). A deferred request is freed by it, as by any answer.
 * Errors: SWS_ERR_INVALID_ARGUMENT (NULL, outside the callback, a plain HTTP request, already
 * answered); SWS_ERR_CLOSED (deferred, and the client went away or the timeout answered first).
 */
sws_status sws_request_drop(sws_request_t *request);

/**
 * Adds a header to the answer of `request` (call it before sws_request_accept() or
 * sws_request_respond()): to the 101 of an accepted upgrade, or to an HTTP response — e.g.
 * `Content-Type: text/html; charset=utf-8` for a page (without one, a body is text/plain).
 * `name` and `value` are NUL-terminated UTF-8, copied.
 * Errors: SWS_ERR_INVALID_ARGUMENT (NULL, outside the callback, already answered, a name that is
 * not a token, a value with a line break, or a header the library writes itself such as
 * Content-Length or Connection).
 */
sws_status sws_request_add_response_header(sws_request_t *request, const char *name, const char *value);

/**
 * Decides an upgrade request later (on_upgrade only): after on_upgrade returns, the request
 * stays valid, and the client waits (nothing more is read from it), until the program answers
 * it with sws_request_accept() or sws_request_respond() -- from the loop thread, e.g. in a
 * callback posted with sws_loop_post() once a database lookup finished. The handshake timeout
 * (sws_server_config.handshake_timeout_ms, counted from the accept) still applies: if it passes
 * first, or the client goes away, or the server is freed, the client gets 503 or nothing, and
 * the late answer returns SWS_ERR_CLOSED. Either way the program must answer a deferred request
 * exactly once: that answer frees it (a request never answered is a small leak, not a held
 * socket). Response headers may be added meanwhile.
 * Errors: SWS_ERR_INVALID_ARGUMENT (NULL, outside on_upgrade, a plain HTTP request, already
 * answered or deferred).
 */
sws_status sws_request_defer(sws_request_t *request);

/**
 * Whether a deferred request still waits for its answer (false once the handshake timeout
 * passed or the client went away: then answer it anyway, to free it). False for NULL.
 * Loop-thread-only.
 */
bool sws_request_is_pending(const sws_request_t *request);

/** Work posted with sws_request_post(); runs on the loop thread of a deferred request. */
typedef void (*sws_request_work_fn)(sws_request_t *request, void *user_data);

/**
 * Runs `fn(request, user_data)` on the loop thread of a deferred request (sws_request_defer())
 * during that loop's next iteration, where it may be answered: the way to answer from another
 * thread, and the only one for a request that arrived on another loop of a server on several
 * loops (sws_server_config.loops). THREAD-SAFE from the defer until the program answers the
 * request (the request must not be answered meanwhile on another thread). If the loop closes
 * before the work runs, `fn` still runs (answering then returns SWS_ERR_CLOSED and frees it).
 * Errors (then `fn` is never called): SWS_ERR_INVALID_ARGUMENT (NULL, not a deferred request);
 * SWS_ERR_CLOSED (its loop is closed: answer the request from its loop thread, if any).
 */
sws_status sws_request_post(sws_request_t *request, sws_request_work_fn fn, void *user_data);

/* ---- Clients ---------------------------------------------------------------------------- */

/** Settings of a client connection. Fill with sws_client_config_init(). Times in ms. */
typedef struct sws_client_config {
    /** sizeof(sws_client_config) as compiled; set by sws_client_config_init(). */
    size_t size;
    /** Settings of the connection (read during sws_client_connect()); NULL (default): the defaults. */
    const sws_connection_config *connection;
    /** Time allowed for name resolution and the TCP connection. Default 10000. */
    uint32_t connect_timeout_ms;
    /** Time allowed for the server's handshake response. Default 10000. */
    uint32_t handshake_timeout_ms;
    /** Largest response head in bytes. Default 8192. 1 .. SWS_SESSION_LIMIT_MAX. */
    size_t max_head_size;
    /** Most header lines in the response head. Default 64. 1 .. SWS_SESSION_LIMIT_MAX. */
    size_t max_header_count;
    /** Sent as Origin if not NULL. */
    const char *origin;
    /** Subprotocols to offer, most preferred first. */
    const char *const *subprotocols;
    size_t subprotocol_count;
    /** Extra request headers. */
    const char *const *header_names;
    const char *const *header_values;
    size_t header_count;
    /** TLS settings for wss:// URLs (read during sws_client_connect()); NULL (default): verify
     *  against the system trust store. Ignored for ws://. */
    const sws_tls_config *tls;
    /** Log lines of the connect and its connection (see sws_log_fn; appended in 0.2). NULL (default): none. */
    sws_log_fn log;
    /** Passed to `log`. */
    void *log_user_data;
    /** The least level passed to `log`. Default SWS_LOG_INFO. */
    sws_log_level log_level;
    /**
     * Proxy URL, copied: "http://[user:password@]host:port" (HTTP CONNECT, Basic authentication),
     * "socks5://…" or "socks5h://…" (SOCKS5, optional username/password; the proxy resolves the
     * target), "socks4a://[user@]host:port". The connection to the proxy is bounded by
     * connect_timeout_ms, the negotiation by its own handshake_timeout_ms (the error names it).
     * A refusal calls on_connect_error with SWS_ERR_PROXY and a message naming the proxy.
     * NULL (default): none, unless proxy_from_environment.
     */
    const char *proxy;
    /** With `proxy` NULL: use the proxy the environment names for the URL, as Python websockets
     *  does (ws_proxy/wss_proxy, socks_proxy, https_proxy, http_proxy for ws://, all_proxy;
     *  no_proxy exempts hosts). Default false. */
    bool proxy_from_environment;
    /** Most redirects (301, 302, 303, 307, 308) followed, each a new connection; 0: none (the 3xx
     *  is reported). wss:// to ws:// is never followed. Default 10. */
    uint32_t max_redirects;
    /**
     * Called on the loop thread before a redirect is followed, with the connect's `user_data`,
     * the status and the new URL (NUL-terminated, valid during the call); return false to refuse
     * (on_connect_error then reports the 3xx with SWS_ERR_HANDSHAKE). NULL (default): follow.
     */
    bool (*on_redirect)(void *user_data, int status, const char *url);
    /** Connect to this Unix-domain socket instead of the URL's host and port (which still give
     *  Host and the path): a path, or "@name" in the abstract namespace. Copied. NULL: TCP. */
    const char *unix_path;
} sws_client_config;

/** Sets every field of `config` to its default and `size`. Errors: SWS_ERR_INVALID_ARGUMENT (NULL). Thread-safe. */
sws_status sws_client_config_init(sws_client_config *config);

/**
 * Connects to `url` ("ws://" or "wss://host[:port]/path[?query]"; names are resolved off the loop thread)
 * and runs the opening handshake. Later, on the loop thread: on_open (then messages, then
 * on_close), or on_connect_error. `config` may be NULL; it and `handlers` are copied, strings
 * included. `user_data` is the connection's initial user data. Loop-thread-only.
 * Errors (then no callback is ever called): SWS_ERR_INVALID_ARGUMENT (`loop`, `url` NULL, not a
 * ws:// or wss:// URL, a config value, header or subprotocol that cannot be sent); SWS_ERR_UNSUPPORTED
 * (unknown non-zero config fields); SWS_ERR_WRONG_THREAD; SWS_ERR_TLS (config->tls cannot be used).
 * A failed TLS handshake (unknown CA, wrong host name, expired certificate, a plain server)
 * calls on_connect_error with SWS_ERR_TLS and the reason.
 */
sws_status sws_client_connect(sws_loop_t *loop, const char *url, const sws_client_config *config,
                              const sws_conn_handlers *handlers, void *user_data);

/**
 * During on_connect_error with an `http_status` (the server refused the upgrade): its response
 * as received -- the head (status line, header lines, the empty line) and the body bytes that
 * arrived with it (at most 64 KiB; the connection is not kept open for more). During
 * on_connect_error with SWS_ERR_HANDSHAKE and no `http_status` (an answer that is not a valid
 * handshake response, not HTTP at all, or a connection closed before the head ended): the bytes
 * that had arrived, in `head` (no empty line: all of them; possibly none) -- so that a program
 * can show what the server said. Owned by the loop, valid until on_connect_error returns;
 * outputs may be NULL. Loop-thread-only.
 * Errors: SWS_ERR_INVALID_ARGUMENT (NULL loop, or not inside such an on_connect_error),
 * SWS_ERR_WRONG_THREAD.
 */
sws_status sws_loop_connect_error_response(const sws_loop_t *loop, const uint8_t **head, size_t *head_len,
                                           const uint8_t **body, size_t *body_len);

/**
 * As sws_client_connect(), over `fd`, a connected stream socket (TCP or Unix) the caller opened;
 * the URL gives Host, the path and whether TLS runs. The library owns `fd` once this returns
 * SWS_OK (it is closed with the connection, or on failure); on an error return the caller keeps
 * it. config->proxy, unix_path and redirects do not apply (a 3xx fails). Loop-thread-only.
 * Errors: as sws_client_connect(); SWS_ERR_INVALID_ARGUMENT also when `fd` is not a connected
 * stream socket (negative, a file, a listening or unconnected socket).
 */
sws_status sws_client_connect_socket(sws_loop_t *loop, const char *url, int fd, const sws_client_config *config,
                                     const sws_conn_handlers *handlers, void *user_data);

/* ---- Reconnecting clients --------------------------------------------------------------- */

/** A reconnecting client (sws_reconnector_new()). */
typedef struct sws_reconnector sws_reconnector_t;

/**
 * When a reconnecting client tries again, with Python websockets' defaults (RFC 6455 7.2.3):
 * after the first failed attempt a random delay below initial_delay_ms, then min_delay_ms
 * growing by `factor` up to max_delay_ms; an attempt that opens resets the sequence, and a lost
 * connection is followed by an attempt at once. Fill with sws_reconnect_config_init().
 */
typedef struct sws_reconnect_config {
    /** sizeof(sws_reconnect_config) as compiled; set by sws_reconnect_config_init(). */
    size_t size;
    /** The first delay is random in [0, initial_delay_ms). Default 5000. */
    uint32_t initial_delay_ms;
    /** The second delay. Default 3100. */
    uint32_t min_delay_ms;
    /** The longest delay. Default 90000. At least min_delay_ms. */
    uint32_t max_delay_ms;
    /** Growth per failed attempt, at least 1. Default 1.618. */
    double factor;
    /** Failed attempts in a row before giving up; 0 (default): never. */
    uint32_t max_failures;
    /**
     * "Retrying in delay_ms": after a failed attempt that will be retried, with the number of
     * failures in a row, the failure (status, HTTP status or 0, message valid during the call)
     * and the connect's user_data. May be NULL.
     */
    void (*on_retry)(void *user_data, uint32_t failures, uint32_t delay_ms, sws_status status, int http_status,
                     const char *message);
    /**
     * Whether a failed attempt is retried (status and HTTP status as on_connect_error reports
     * them). NULL (default): network failures, timeouts, proxy failures and the answers 500, 502,
     * 503 and 504 are retried; the rest (other statuses, TLS, bad arguments) end the attempts.
     */
    bool (*should_retry)(void *user_data, sws_status status, int http_status);
} sws_reconnect_config;

/** Sets every field of `config` to its default and `size`. Errors: SWS_ERR_INVALID_ARGUMENT (NULL). Thread-safe. */
sws_status sws_reconnect_config_init(sws_reconnect_config *config);

/**
 * The delay in ms after `failures` failed attempts in a row (1: the first), `random` in [0, 1)
 * drawing the first one: the schedule of `config` (NULL: the defaults), for bindings that run
 * their own retry loop. Thread-safe.
 */
uint32_t sws_reconnect_delay_ms(const sws_reconnect_config *config, uint32_t failures, double random);

/**
 * Keeps a client connection to `url` open: connects now (as sws_client_connect() with `config`),
 * and again whenever the connection is lost or an attempt fails and `policy` retries it. The
 * callbacks say what happens: handlers->on_open "connected" (each connection), on_close "lost",
 * policy->on_retry "retrying in N ms", handlers->on_connect_error the failure that ended the
 * attempts (then the reconnector stays idle until freed). `user_data` is every connection's
 * initial user data and the callbacks' argument. `config`, `policy` and `handlers` are copied;
 * each may be NULL except handlers (NULL config/policy: the defaults). Loop-thread-only.
 * Errors (`*out` NULL, no callback called): as sws_client_connect(); SWS_ERR_INVALID_ARGUMENT
 * for a bad policy (max_delay_ms below min_delay_ms, factor below 1 or not finite).
 */
sws_status sws_reconnector_new(sws_loop_t *loop, const char *url, const sws_client_config *config,
                               const sws_reconnect_config *policy, const sws_conn_handlers *handlers, void *user_data,
                               sws_reconnector_t **out);

/**
 * Stops a reconnecting client and frees it: no more attempts; an open connection is closed with
 * 1001 (its on_close still follows, later). Loop-thread-only; may be called from its callbacks.
 * Errors: SWS_ERR_INVALID_ARGUMENT (NULL, not a live reconnector), SWS_ERR_WRONG_THREAD.
 */
sws_status sws_reconnector_free(sws_reconnector_t *reconnector);

#ifdef __cplusplus
}
#endif

#endif /* SWIFTWS_H */
