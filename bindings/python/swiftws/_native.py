"""Loading ``libswiftws.so`` and the ``ctypes`` mirror of ``include/swiftws.h``.

Everything in this module follows the header one to one: struct fields in header order, enum
values, callback signatures and function prototypes. ``tests/test_layout.py`` compiles a C
program against the header and compares every struct's size and field offsets with these, so
they cannot drift.

The library is found, in order: ``$SWIFTWS_LIBRARY`` (a development build), the copy installed
inside this package by ``pip install``, then the system's (``ctypes.util.find_library``).
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
from ctypes import (
    CFUNCTYPE,
    POINTER,
    Structure,
    c_bool,
    c_char_p,
    c_double,
    c_int,
    c_size_t,
    c_uint16,
    c_uint32,
    c_uint64,
    c_void_p,
)
from typing import Any, List, Optional, Tuple

#: The ABI version this package was written for (SWS_ABI_VERSION in swiftws.h).
ABI_VERSION = 2

_HERE = os.path.dirname(os.path.abspath(__file__))


def _candidates() -> List[Tuple[str, str]]:
    """Where to look for the library, as (path, how it was found) pairs, in order."""
    found: List[Tuple[str, str]] = []
    override = os.environ.get("SWIFTWS_LIBRARY")
    if override:
        # An explicit override is the only candidate: silently falling back would hide a typo.
        return [(override, "SWIFTWS_LIBRARY")]
    for bundled in (os.path.join(_HERE, "lib", "libswiftws.so"), os.path.join(_HERE, "libswiftws.so")):
        if os.path.exists(bundled):
            found.append((bundled, "the copy inside the package"))
    system = ctypes.util.find_library("swiftws")
    if system:
        found.append((system, "the system library"))
    return found


_HOW_TO_FIX = (
    "Install the package with `pip install ./bindings/python` (it builds libswiftws.so and ships it "
    "inside the package), or point SWIFTWS_LIBRARY at a built library, e.g. "
    "`cmake -S . -B build && cmake --build build --target swiftws_swiftpm` then "
    "`export SWIFTWS_LIBRARY=$PWD/build/lib/libswiftws.so`."
)


def _load() -> Tuple[ctypes.CDLL, str]:
    candidates = _candidates()
    if not candidates:
        raise ImportError(f"swiftws: libswiftws.so was not found. {_HOW_TO_FIX}")
    errors = []
    for path, how in candidates:
        try:
            library = ctypes.CDLL(path)
        except OSError as error:
            errors.append(f"{path} ({how}): {error}")
            continue
        try:
            abi = library.sws_abi_version
        except AttributeError:
            errors.append(f"{path} ({how}): not a SwiftWS library (no sws_abi_version)")
            continue
        abi.restype = c_int
        abi.argtypes = []
        version = abi()
        if version != ABI_VERSION:
            raise ImportError(
                f"swiftws: {path} ({how}) has ABI version {version}, but this package needs "
                f"{ABI_VERSION}. Rebuild the library from the same source tree as the package, "
                f"or reinstall the package. {_HOW_TO_FIX}"
            )
        return library, path
    raise ImportError("swiftws: libswiftws.so could not be loaded: " + "; ".join(errors) + ". " + _HOW_TO_FIX)


lib, LIBRARY_PATH = _load()

# ---- Status codes, enums, constants -------------------------------------------------------

SWS_OK = 0
SWS_ERR_INVALID_ARGUMENT = -1
SWS_ERR_NO_MEMORY = -2
SWS_ERR_CLOSED = -3
SWS_ERR_PROTOCOL = -4
SWS_ERR_HANDSHAKE = -5
SWS_ERR_TOO_BIG = -6
SWS_ERR_IO = -7
SWS_ERR_TIMEOUT = -8
SWS_ERR_WRONG_THREAD = -9
SWS_ERR_TLS = -10
SWS_ERR_RESOLVE = -11
SWS_ERR_UNSUPPORTED = -12
SWS_ERR_PROXY = -13

SWS_ROLE_CLIENT = 0
SWS_ROLE_SERVER = 1
SWS_MESSAGE_TEXT = 1
SWS_MESSAGE_BINARY = 2
SWS_CLOSE_NO_STATUS = 1005
SWS_CLOSE_ABNORMAL = 1006
SWS_SESSION_OPEN = 0
SWS_SESSION_CLOSING = 1
SWS_SESSION_CLOSED = 2
SWS_SESSION_LIMIT_MAX = 1 << 48
SWS_SEND_SENT = 0
SWS_SEND_BUFFERED = 1
SWS_SEND_DROPPED = 2
SWS_LOG_DEBUG = 0
SWS_LOG_INFO = 1
SWS_LOG_WARNING = 2
SWS_LOG_ERROR = 3

# sws_no_request_reason
SWS_NO_REQUEST_CLOSED = 0
SWS_NO_REQUEST_TIMEOUT = 1
SWS_NO_REQUEST_BAD_REQUEST_LINE = 2
SWS_NO_REQUEST_MALFORMED = 3

sws_status = c_int  # a C enum is an int on every ABI we target
_enum = c_int

# ---- Callback types -------------------------------------------------------------------------
# Data pointers are declared c_void_p, never c_char_p: ctypes would read a c_char_p up to a NUL,
# and payloads are (pointer, length) pairs that may contain NULs.

SESSION_ON_DATA = CFUNCTYPE(None, c_void_p, c_void_p, c_void_p, c_size_t)
SESSION_ON_FRAGMENT = CFUNCTYPE(None, c_void_p, c_void_p, _enum, c_void_p, c_size_t, c_bool, c_bool)
SESSION_ON_CLOSE = CFUNCTYPE(None, c_void_p, c_void_p, c_uint16, c_void_p, c_size_t)

LOOP_WORK = CFUNCTYPE(None, c_void_p, c_void_p)
#: sws_conn_work_fn(conn or NULL, user_data) and sws_request_work_fn(request, user_data).
CONN_WORK = CFUNCTYPE(None, c_void_p, c_void_p)
REQUEST_WORK = CFUNCTYPE(None, c_void_p, c_void_p)
CONN_ON_OPEN = CFUNCTYPE(None, c_void_p, c_void_p)
#: POINTER(c_char) rather than c_void_p for message data: slicing it (``data[:length]``) copies
#: the bytes about five times faster than ctypes.string_at on the per-message path.
CHAR_POINTER = POINTER(ctypes.c_char)
CONN_ON_MESSAGE = CFUNCTYPE(None, c_void_p, c_void_p, _enum, CHAR_POINTER, c_size_t)
CONN_ON_FRAGMENT = CFUNCTYPE(None, c_void_p, c_void_p, _enum, c_void_p, c_size_t, c_bool, c_bool)
CONN_ON_DATA = CFUNCTYPE(None, c_void_p, c_void_p, c_void_p, c_size_t)
CONN_ON_DRAIN = CFUNCTYPE(None, c_void_p, c_void_p)
CLIENT_ON_REDIRECT = CFUNCTYPE(c_bool, c_void_p, c_int, c_char_p)
RECONNECT_ON_RETRY = CFUNCTYPE(None, c_void_p, c_uint32, c_uint32, sws_status, c_int, c_char_p)
RECONNECT_SHOULD_RETRY = CFUNCTYPE(c_bool, c_void_p, sws_status, c_int)
CONN_ON_CLOSE = CFUNCTYPE(None, c_void_p, c_void_p, c_uint16, c_void_p, c_size_t)
#: on_messages(messages, count, payloads, payloads_len, user_data): one call per loop iteration
#: for all its whole messages (the per-message path reads the entries with ``struct``).
CONN_ON_MESSAGES = CFUNCTYPE(None, c_void_p, c_size_t, c_void_p, c_size_t, c_void_p)
CONN_ON_CONNECT_ERROR = CFUNCTYPE(None, c_void_p, sws_status, c_int, c_void_p)
SERVER_ON_REQUEST = CFUNCTYPE(None, c_void_p, c_void_p, c_void_p)
SERVER_SHUTDOWN_DONE = CFUNCTYPE(None, c_void_p, c_void_p)
#: sws_log_fn(log_user_data, level, message, len)
LOG_FN = CFUNCTYPE(None, c_void_p, _enum, c_char_p, c_size_t)
#: sws_no_request_fn(user_data, reason, message, received, received_len)
NO_REQUEST_FN = CFUNCTYPE(None, c_void_p, _enum, c_char_p, c_void_p, c_size_t)

# ---- Structs (field order and types exactly as in swiftws.h) --------------------------------


class SessionConfig(Structure):
    """``sws_session_config``."""

    _fields_ = [
        ("size", c_size_t),
        ("max_message_size", c_size_t),
        ("max_frame_size", c_size_t),
        ("max_fragments_per_message", c_size_t),
        ("streaming_threshold", c_size_t),
        ("auto_pong", c_bool),
        ("inflate_budget", c_size_t),
        ("mask_keys", c_void_p),
        ("mask_key_count", c_size_t),
    ]


class SessionCallbacks(Structure):
    """``sws_session_callbacks``."""

    _fields_ = [
        ("size", c_size_t),
        ("on_text", SESSION_ON_DATA),
        ("on_binary", SESSION_ON_DATA),
        ("on_fragment", SESSION_ON_FRAGMENT),
        ("on_ping", SESSION_ON_DATA),
        ("on_pong", SESSION_ON_DATA),
        ("on_close", SESSION_ON_CLOSE),
        ("on_error", SESSION_ON_CLOSE),
    ]


class CompressionConfig(Structure):
    """``sws_compression_config``."""

    _fields_ = [
        ("size", c_size_t),
        ("enabled", c_bool),
        ("local_max_window_bits", c_int),
        ("remote_max_window_bits", c_int),
        ("local_no_context_takeover", c_bool),
        ("remote_no_context_takeover", c_bool),
        ("memory_level", c_int),
        ("compression_level", c_int),
        ("threshold", c_size_t),
        ("announce_local_max_window_bits", c_bool),
    ]


class ClientHandshakeConfig(Structure):
    """``sws_client_handshake_config``."""

    _fields_ = [
        ("size", c_size_t),
        ("host", c_char_p),
        ("port", c_uint16),
        ("secure", c_bool),
        ("path", c_char_p),
        ("origin", c_char_p),
        ("subprotocols", POINTER(c_char_p)),
        ("subprotocol_count", c_size_t),
        ("header_names", POINTER(c_char_p)),
        ("header_values", POINTER(c_char_p)),
        ("header_count", c_size_t),
        ("compression", POINTER(CompressionConfig)),
    ]


class ConnHandlers(Structure):
    """``sws_conn_handlers``."""

    _fields_ = [
        ("size", c_size_t),
        ("on_open", CONN_ON_OPEN),
        ("on_message", CONN_ON_MESSAGE),
        ("on_fragment", CONN_ON_FRAGMENT),
        ("on_ping", CONN_ON_DATA),
        ("on_pong", CONN_ON_DATA),
        ("on_drain", CONN_ON_DRAIN),
        ("on_close", CONN_ON_CLOSE),
        ("on_connect_error", CONN_ON_CONNECT_ERROR),
        ("on_upgrade", SERVER_ON_REQUEST),
        ("on_http_request", SERVER_ON_REQUEST),
        ("on_messages", CONN_ON_MESSAGES),
    ]


class MessageEntry(Structure):
    """``sws_message_entry`` (read in bulk through ``MESSAGE_ENTRY_FORMAT`` on the hot path)."""

    _fields_ = [
        ("conn", c_void_p),
        ("user_data", c_void_p),
        ("data", c_void_p),
        ("len", c_size_t),
        ("kind", _enum),
    ]


#: ``struct`` format of one ``sws_message_entry``: conn, user_data, data, len, kind (native
#: alignment pads it to ``sizeof(MessageEntry)``; checked by the layout test).
MESSAGE_ENTRY_FORMAT = "PPPNi4x"
#: The same entry read for conn, len and kind only (user_data and data skipped).
MESSAGE_ENTRY_READ_FORMAT = f"P{2 * ctypes.sizeof(c_void_p)}xNi4x"


class SendEntry(Structure):
    """``sws_send_entry`` (written in bulk through ``SEND_ENTRY_FORMAT`` on the hot path)."""

    _fields_ = [
        ("conn", c_void_p),
        ("len", c_size_t),
        ("kind", _enum),
        ("status", sws_status),
        ("result", _enum),
    ]


#: ``struct`` format of one ``sws_send_entry``: conn, len, kind, then status and result (zeroed
#: by the pad bytes) and the tail padding, so that it repeats without gaps (layout test).
SEND_ENTRY_FORMAT = f"PNi{ctypes.sizeof(SendEntry) - SendEntry.status.offset}x"
#: One ``sws_send_entry`` read back for its status and result only.
SEND_RESULT_FORMAT = f"{SendEntry.status.offset}xii{ctypes.sizeof(SendEntry) - SendEntry.result.offset - 4}x"


SWS_TLS_1_2 = 0x0303
SWS_TLS_1_3 = 0x0304


class TLSConfig(Structure):
    """``sws_tls_config``."""

    _fields_ = [
        ("size", c_size_t),
        ("certificate_chain_file", c_char_p),
        ("private_key_file", c_char_p),
        ("certificate_chain_pem", c_char_p),
        ("private_key_pem", c_char_p),
        ("ca_file", c_char_p),
        ("ca_directory", c_char_p),
        ("ca_pem", c_char_p),
        ("use_system_trust_store", c_bool),
        ("insecure_skip_verification", c_bool),
        ("verify_client_certificates", c_bool),
        ("session_tickets", c_bool),
        ("server_name", c_char_p),
        ("min_version", c_uint16),
        ("max_version", c_uint16),
        ("sni_certificate_chain_files", POINTER(c_char_p)),
        ("sni_private_key_files", POINTER(c_char_p)),
        ("sni_certificate_count", c_size_t),
        ("private_key_password", c_char_p),
    ]


class ConnCounters(Structure):
    """``sws_conn_counters``."""

    _fields_ = [
        ("size", c_size_t),
        ("messages_received", c_uint64),
        ("bytes_received", c_uint64),
        ("messages_sent", c_uint64),
        ("bytes_sent", c_uint64),
    ]


class ConnectionConfig(Structure):
    """``sws_connection_config``: a connection's settings, either role."""

    _fields_ = [
        ("size", c_size_t),
        ("limits", POINTER(SessionConfig)),
        ("compression", POINTER(CompressionConfig)),
        ("max_buffered_amount", c_size_t),
        ("backpressure_close", c_bool),
        ("ping_interval_ms", c_uint32),
        ("pong_timeout_ms", c_uint32),
        ("idle_timeout_ms", c_uint32),
        ("message_timeout_ms", c_uint32),
        ("close_timeout_ms", c_uint32),
    ]


class ServerConfig(Structure):
    """``sws_server_config``."""

    _fields_ = [
        ("size", c_size_t),
        ("connection", POINTER(ConnectionConfig)),
        ("handshake_timeout_ms", c_uint32),
        ("max_connections", c_size_t),
        ("memory_budget", c_size_t),
        ("max_head_size", c_size_t),
        ("max_header_count", c_size_t),
        ("allowed_origins", POINTER(c_char_p)),
        ("allowed_origin_count", c_size_t),
        ("require_origin", c_bool),
        ("subprotocols", POINTER(c_char_p)),
        ("subprotocol_count", c_size_t),
        ("reuse_port", c_bool),
        ("tls", POINTER(TLSConfig)),
        ("log", LOG_FN),
        ("log_user_data", c_void_p),
        ("log_level", _enum),
        ("loops", c_uint32),
        ("redis_url", c_char_p),
        ("answer_bad_requests", c_bool),
        ("on_no_request", NO_REQUEST_FN),
        ("on_no_request_user_data", c_void_p),
    ]


class ClientConfig(Structure):
    """``sws_client_config``."""

    _fields_ = [
        ("size", c_size_t),
        ("connection", POINTER(ConnectionConfig)),
        ("connect_timeout_ms", c_uint32),
        ("handshake_timeout_ms", c_uint32),
        ("max_head_size", c_size_t),
        ("max_header_count", c_size_t),
        ("origin", c_char_p),
        ("subprotocols", POINTER(c_char_p)),
        ("subprotocol_count", c_size_t),
        ("header_names", POINTER(c_char_p)),
        ("header_values", POINTER(c_char_p)),
        ("header_count", c_size_t),
        ("tls", POINTER(TLSConfig)),
        ("log", LOG_FN),
        ("log_user_data", c_void_p),
        ("log_level", _enum),
        ("proxy", c_char_p),
        ("proxy_from_environment", c_bool),
        ("max_redirects", c_uint32),
        ("on_redirect", CLIENT_ON_REDIRECT),
        ("unix_path", c_char_p),
    ]


class ReconnectConfig(Structure):
    """``sws_reconnect_config``."""

    _fields_ = [
        ("size", c_size_t),
        ("initial_delay_ms", c_uint32),
        ("min_delay_ms", c_uint32),
        ("max_delay_ms", c_uint32),
        ("factor", c_double),
        ("max_failures", c_uint32),
        ("on_retry", RECONNECT_ON_RETRY),
        ("should_retry", RECONNECT_SHOULD_RETRY),
    ]


#: Every mirrored struct with its C name, for the layout test.
STRUCTS = {
    "sws_session_config": SessionConfig,
    "sws_session_callbacks": SessionCallbacks,
    "sws_compression_config": CompressionConfig,
    "sws_client_handshake_config": ClientHandshakeConfig,
    "sws_conn_handlers": ConnHandlers,
    "sws_message_entry": MessageEntry,
    "sws_send_entry": SendEntry,
    "sws_conn_counters": ConnCounters,
    "sws_connection_config": ConnectionConfig,
    "sws_server_config": ServerConfig,
    "sws_client_config": ClientConfig,
    "sws_tls_config": TLSConfig,
    "sws_reconnect_config": ReconnectConfig,
}

# ---- Functions ------------------------------------------------------------------------------

_P = c_void_p
_PP = POINTER(c_void_p)
_PSIZE = POINTER(c_size_t)
_PBOOL = POINTER(c_bool)

_PROTOTYPES: List[Tuple[str, Any, List[Any]]] = [
    ("sws_version", c_char_p, []),
    ("sws_abi_version", c_int, []),
    ("sws_status_string", c_char_p, [sws_status]),
    ("sws_last_error", c_char_p, []),
    # sans-I/O session
    ("sws_session_config_init", sws_status, [POINTER(SessionConfig)]),
    ("sws_session_callbacks_init", sws_status, [POINTER(SessionCallbacks)]),
    ("sws_session_new", sws_status, [_enum, POINTER(SessionConfig), POINTER(SessionCallbacks), _P, _PP]),
    ("sws_session_free", sws_status, [_P]),
    ("sws_session_feed", sws_status, [_P, _P, c_size_t]),
    ("sws_session_feed_eof", sws_status, [_P]),
    ("sws_session_send_text", sws_status, [_P, _P, c_size_t]),
    ("sws_session_send_binary", sws_status, [_P, _P, c_size_t]),
    ("sws_session_send_fragment", sws_status, [_P, _enum, _P, c_size_t, c_bool]),
    ("sws_session_send_ping", sws_status, [_P, _P, c_size_t]),
    ("sws_session_send_pong", sws_status, [_P, _P, c_size_t]),
    ("sws_session_close", sws_status, [_P, c_uint16, _P, c_size_t]),
    ("sws_session_pending_output", sws_status, [_P, _PP, _PSIZE]),
    ("sws_session_consume_output", sws_status, [_P, c_size_t]),
    ("sws_session_should_close_transport", c_bool, [_P]),
    ("sws_session_closes_transport_first", c_bool, [_P]),
    ("sws_session_get_state", _enum, [_P]),
    ("sws_session_close_status", sws_status, [_P, POINTER(c_uint16), _PP, _PSIZE]),
    ("sws_compression_config_init", sws_status, [POINTER(CompressionConfig)]),
    ("sws_tls_config_init", sws_status, [POINTER(TLSConfig)]),
    ("sws_server_reload_tls", sws_status, [_P, POINTER(TLSConfig)]),
    ("sws_request_peer_certificate_subject", sws_status, [_P, POINTER(c_char_p)]),
    # handshakes
    ("sws_server_handshake_new", sws_status, [POINTER(CompressionConfig), _PP]),
    ("sws_server_handshake_free", sws_status, [_P]),
    ("sws_server_handshake_feed", sws_status, [_P, _P, c_size_t, _PSIZE, _PBOOL]),
    ("sws_server_handshake_target", sws_status, [_P, _PP, _PSIZE, _PP, _PSIZE]),
    ("sws_server_handshake_header", sws_status, [_P, c_char_p, _PP, _PSIZE]),
    ("sws_server_handshake_subprotocol_count", c_size_t, [_P]),
    ("sws_server_handshake_subprotocol", sws_status, [_P, c_size_t, _PP, _PSIZE]),
    ("sws_server_handshake_accept", sws_status, [_P, c_char_p]),
    ("sws_server_handshake_reject", sws_status, [_P, c_int, _P, c_size_t]),
    ("sws_server_handshake_compression", c_bool, [_P]),
    ("sws_server_handshake_new_session", sws_status,
     [_P, POINTER(SessionConfig), POINTER(SessionCallbacks), _P, _PP]),
    ("sws_server_handshake_response", sws_status, [_P, _PP, _PSIZE]),
    ("sws_client_handshake_config_init", sws_status, [POINTER(ClientHandshakeConfig)]),
    ("sws_client_handshake_new", sws_status, [POINTER(ClientHandshakeConfig), _PP]),
    ("sws_client_handshake_free", sws_status, [_P]),
    ("sws_client_handshake_request", sws_status, [_P, _PP, _PSIZE]),
    ("sws_client_handshake_feed", sws_status, [_P, _P, c_size_t, _PSIZE, _PBOOL]),
    ("sws_client_handshake_http_status", c_int, [_P]),
    ("sws_client_handshake_compression", c_bool, [_P]),
    ("sws_client_handshake_new_session", sws_status,
     [_P, POINTER(SessionConfig), POINTER(SessionCallbacks), _P, _PP]),
    ("sws_client_handshake_subprotocol", sws_status, [_P, _PP, _PSIZE]),
    # loops
    ("sws_loop_new", sws_status, [_PP]),
    ("sws_loop_free", sws_status, [_P]),
    ("sws_loop_run", sws_status, [_P]),
    ("sws_loop_run_once", sws_status, [_P, c_int]),
    ("sws_loop_stop", sws_status, [_P]),
    ("sws_loop_post", sws_status, [_P, LOOP_WORK, _P]),
    ("sws_loop_next_timeout_ms", c_int, [_P]),
    ("sws_loop_fd", c_int, [_P]),
    # connections
    ("sws_conn_handlers_init", sws_status, [POINTER(ConnHandlers)]),
    ("sws_conn_send_text", sws_status, [_P, _P, c_size_t, POINTER(_enum)]),
    ("sws_conn_send_binary", sws_status, [_P, _P, c_size_t, POINTER(_enum)]),
    ("sws_conn_send_fragment", sws_status, [_P, _enum, _P, c_size_t, c_bool, POINTER(_enum)]),
    ("sws_conn_send_batch", c_size_t, [POINTER(SendEntry), c_size_t, _P]),
    ("sws_conn_send_pong", sws_status, [_P, _P, c_size_t]),
    ("sws_conn_get_state", sws_status, [_P, POINTER(_enum)]),
    ("sws_conn_pause_reading", sws_status, [_P]),
    ("sws_conn_get_counters", sws_status, [_P, POINTER(ConnCounters)]),
    ("sws_conn_resume_reading", sws_status, [_P]),
    ("sws_conn_send_ping", sws_status, [_P, _P, c_size_t]),
    ("sws_conn_close", sws_status, [_P, c_uint16, _P, c_size_t]),
    ("sws_conn_abort", sws_status, [_P]),
    ("sws_conn_fail", sws_status, [_P, c_uint16, _P, c_size_t]),
    ("sws_conn_buffered_amount", c_size_t, [_P]),
    ("sws_conn_is_open", c_bool, [_P]),
    ("sws_conn_remote_address", sws_status, [_P, c_char_p, c_size_t]),
    ("sws_conn_local_address", sws_status, [_P, c_char_p, c_size_t]),
    ("sws_conn_close_initiated_locally", c_bool, [_P]),
    ("sws_conn_close_timed_out", c_bool, [_P]),
    ("sws_conn_set_close_timeout", sws_status, [_P, c_uint32]),
    ("sws_conn_set_stream_fragmented", sws_status, [_P, c_bool]),
    ("sws_conn_handshake_response", sws_status, [_P, _PP, _PSIZE]),
    ("sws_conn_is_compressed", c_bool, [_P]),
    ("sws_conn_set_user_data", sws_status, [_P, _P]),
    ("sws_conn_get_user_data", _P, [_P]),
    ("sws_conn_info", sws_status, [_P, POINTER(c_char_p), POINTER(c_char_p), POINTER(c_char_p)]),
    ("sws_conn_subscribe", sws_status, [_P, c_char_p]),
    ("sws_conn_unsubscribe", sws_status, [_P, c_char_p]),
    ("sws_conn_ref_new", sws_status, [_P, _PP]),
    ("sws_conn_ref_send_text", sws_status, [_P, _P, c_size_t]),
    ("sws_conn_ref_send_binary", sws_status, [_P, _P, c_size_t]),
    ("sws_conn_ref_close", sws_status, [_P, c_uint16, _P, c_size_t]),
    ("sws_conn_ref_is_closed", c_bool, [_P]),
    ("sws_conn_ref_free", sws_status, [_P]),
    ("sws_conn_ref_post", sws_status, [_P, CONN_WORK, _P]),
    # servers
    ("sws_connection_config_init", sws_status, [POINTER(ConnectionConfig)]),
    ("sws_server_config_init", sws_status, [POINTER(ServerConfig)]),
    ("sws_server_new", sws_status,
     [_P, c_char_p, c_uint16, POINTER(ServerConfig), POINTER(ConnHandlers), _P, _PP]),
    ("sws_server_new_unix", sws_status, [_P, c_char_p, POINTER(ServerConfig), POINTER(ConnHandlers), _P, _PP]),
    ("sws_server_new_from_socket", sws_status, [_P, c_int, POINTER(ServerConfig), POINTER(ConnHandlers), _P, _PP]),
    ("sws_server_adopt_connection", sws_status, [_P, c_int]),
    ("sws_server_port", c_uint16, [_P]),
    ("sws_server_connection_count", c_size_t, [_P]),
    ("sws_server_fd", c_int, [_P]),
    ("sws_server_broadcast", sws_status, [_P, _enum, _P, c_size_t, _P, _PSIZE]),
    ("sws_server_publish", sws_status, [_P, c_char_p, _enum, _P, c_size_t, _P, _PSIZE]),
    ("sws_server_subscriber_count", c_size_t, [_P, c_char_p]),
    ("sws_server_shutdown", sws_status, [_P, c_uint32, SERVER_SHUTDOWN_DONE, _P]),
    ("sws_server_free", sws_status, [_P]),
    ("sws_request_target", sws_status, [_P, POINTER(c_char_p), POINTER(c_char_p)]),
    ("sws_request_header", sws_status, [_P, c_char_p, POINTER(c_char_p)]),
    ("sws_request_header_count", c_size_t, [_P]),
    ("sws_request_header_at", sws_status, [_P, c_size_t, POINTER(c_char_p), POINTER(c_char_p)]),
    ("sws_request_defer", sws_status, [_P]),
    ("sws_request_drop", sws_status, [_P]),
    ("sws_request_is_pending", c_bool, [_P]),
    ("sws_request_post", sws_status, [_P, REQUEST_WORK, _P]),
    ("sws_request_subprotocol_count", c_size_t, [_P]),
    ("sws_request_subprotocol", sws_status, [_P, c_size_t, POINTER(c_char_p)]),
    ("sws_request_accept", sws_status, [_P, c_char_p, _P]),
    ("sws_request_respond", sws_status, [_P, c_int, _P, c_size_t]),
    ("sws_request_add_response_header", sws_status, [_P, c_char_p, c_char_p]),
    # clients
    ("sws_client_config_init", sws_status, [POINTER(ClientConfig)]),
    ("sws_client_connect", sws_status, [_P, c_char_p, POINTER(ClientConfig), POINTER(ConnHandlers), _P]),
    ("sws_loop_connect_error_response", sws_status, [_P, _PP, _PSIZE, _PP, _PSIZE]),
    ("sws_client_connect_socket", sws_status,
     [_P, c_char_p, c_int, POINTER(ClientConfig), POINTER(ConnHandlers), _P]),
    # reconnecting clients
    ("sws_reconnect_config_init", sws_status, [POINTER(ReconnectConfig)]),
    ("sws_reconnect_delay_ms", c_uint32, [POINTER(ReconnectConfig), c_uint32, c_double]),
    ("sws_reconnector_new", sws_status,
     [_P, c_char_p, POINTER(ClientConfig), POINTER(ReconnectConfig), POINTER(ConnHandlers), _P, _PP]),
    ("sws_reconnector_free", sws_status, [_P]),
]

#: Functions of the header this library does not export (an older build): calling one raises.
MISSING: List[str] = []


def _declare() -> None:
    for name, restype, argtypes in _PROTOTYPES:
        try:
            function = getattr(lib, name)
        except AttributeError:
            MISSING.append(name)
            continue
        function.restype = restype
        function.argtypes = argtypes


_declare()

#: The same library loaded through ``ctypes.PyDLL``: its functions keep the GIL during the call.
#: Used for the short, never-blocking calls of the per-message path (run_once with timeout 0,
#: sends): a CDLL call releases the GIL and every callback it triggers must take it back, one
#: acquire/release pair per message; with the GIL kept, callbacks find it already held.
#: Never use it for a call that may block (sws_loop_run, run_once with a timeout).
fast = ctypes.PyDLL(LIBRARY_PATH)
_FAST = ("sws_loop_run_once", "sws_loop_next_timeout_ms", "sws_conn_send_text", "sws_conn_send_binary",
         "sws_conn_send_fragment", "sws_conn_buffered_amount", "sws_conn_send_batch")
for _name, _restype, _argtypes in _PROTOTYPES:
    if _name in _FAST and _name not in MISSING:
        _function = getattr(fast, _name)
        _function.restype = _restype
        # The sends' `sws_send_result *result` is declared c_void_p here and given as an int
        # address (ctypes.addressof of a kept c_int): converting a byref() object for a
        # POINTER(c_int) parameter costs about 250 ns per call, a few percent of an echo.
        # The same for sws_conn_send_batch's entries (a buffer filled by struct.pack_into).
        _function.argtypes = [_P if _type in (POINTER(_enum), POINTER(SendEntry)) else _type for _type in _argtypes]


def conn_handlers(**callbacks: Any) -> ConnHandlers:
    """An ``sws_conn_handlers`` set to its defaults (``sws_conn_handlers_init``), then each keyword
    (a field name: ``on_open=``, ``on_messages=`` ...) set to its Python function wrapped in the
    field's C function type; the struct keeps the wrappers alive."""
    handlers = ConnHandlers()
    status = lib.sws_conn_handlers_init(ctypes.byref(handlers))
    if status != SWS_OK:
        raise RuntimeError(f"sws_conn_handlers_init: {status_name(status)}")
    types = dict(ConnHandlers._fields_)
    for name, function in callbacks.items():
        setattr(handlers, name, types[name](function))
    return handlers


def has_networking() -> bool:
    """Whether the loaded library exports the loop/server/client half of the C API."""
    return "sws_loop_new" not in MISSING and "sws_client_connect" not in MISSING


def status_name(status: int) -> str:
    """``sws_status_string(status)`` as a Python string."""
    return lib.sws_status_string(status).decode("utf-8", "replace")


def last_error() -> str:
    """``sws_last_error()`` of the calling thread as a Python string."""
    return lib.sws_last_error().decode("utf-8", "replace")


def borrowed(pointer: Optional[int], length: int) -> bytes:
    """Copies a borrowed (pointer, length) pair into bytes (b"" for an empty or NULL one)."""
    if not length:
        return b""
    return ctypes.string_at(pointer, length)


def version() -> str:
    """The native library's version, "MAJOR.MINOR.PATCH"."""
    return lib.sws_version().decode("ascii")
