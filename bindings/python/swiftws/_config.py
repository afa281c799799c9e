"""Building the native config structs (``sws_server_config`` / ``sws_client_config`` and the
``sws_connection_config``, ``sws_session_config`` and ``sws_compression_config`` they point to)
from the keyword arguments of ``serve`` and ``connect``, through one description: ``OPTIONS``.

Defaults are the library's (each struct is filled by its ``_init`` function first); a keyword
given as ``None`` means what it means in ``websockets`` (no limit, or the timer off).
"""

from __future__ import annotations

import ctypes
from ctypes import byref, pointer
from typing import Any, Callable, Dict, List, NamedTuple, Optional, Sequence, Tuple

from . import _native as n
from .exceptions import check
from .sansio import compression_config

_UINT32_MAX = 0xFFFFFFFF


def milliseconds(seconds: Optional[float], none: int) -> int:
    """Seconds (float, None) as a uint32 millisecond count for a config; ``none`` for None."""
    if seconds is None:
        return none
    if seconds < 0:
        raise ValueError("timeouts and intervals must not be negative")
    return min(_UINT32_MAX, max(1, int(seconds * 1000 + 0.999))) if seconds > 0 else 0


def _timer(seconds: Optional[float]) -> int:
    """An optional timer: None or 0 switches it off."""
    return milliseconds(seconds, 0)


def _deadline(seconds: Optional[float]) -> int:
    """A timeout that always runs: None means "as long as a uint32 of milliseconds lasts"."""
    return milliseconds(seconds, _UINT32_MAX)


def _size(value: Optional[int]) -> int:
    """A size limit of at least 1; None: the largest the library accepts."""
    if value is None:
        return n.SWS_SESSION_LIMIT_MAX
    if int(value) < 1:
        raise ValueError("size limits must be at least 1 (None: no limit)")
    return min(int(value), n.SWS_SESSION_LIMIT_MAX)


def _optional_size(value: Optional[int]) -> int:
    """A size limit where None or 0 means "no limit"."""
    if value is None:
        return 0
    if int(value) < 0:
        raise ValueError("size limits must not be negative (None or 0: no limit)")
    return min(int(value), n.SWS_SESSION_LIMIT_MAX)


class Option(NamedTuple):
    """Where one keyword argument goes: the struct (``limits``, ``connection``, ``server``,
    ``client`` or ``endpoint`` for both), the field, and the conversion."""

    keyword: str
    struct: str
    field: str
    convert: Callable[[Any], Any]


#: Every keyword argument that maps onto a native config field, in one place. ``max_size``
#: bounds frames as well as messages (a frame may be as large as a message); ``open_timeout``
#: bounds the whole opening: the client's connect and handshake, the server's request head.
OPTIONS: Tuple[Option, ...] = (
    Option("max_size", "limits", "max_message_size", _size),
    Option("max_size", "limits", "max_frame_size", _size),
    Option("max_fragments", "limits", "max_fragments_per_message", _size),
    Option("inflate_budget", "limits", "inflate_budget", _size),
    Option("max_buffered", "connection", "max_buffered_amount", _optional_size),
    Option("close_on_backpressure", "connection", "backpressure_close", bool),
    Option("ping_interval", "connection", "ping_interval_ms", _timer),
    Option("ping_timeout", "connection", "pong_timeout_ms", _deadline),
    Option("idle_timeout", "connection", "idle_timeout_ms", _timer),
    Option("message_timeout", "connection", "message_timeout_ms", _timer),
    Option("close_timeout", "connection", "close_timeout_ms", _deadline),
    Option("open_timeout", "endpoint", "handshake_timeout_ms", _deadline),
    Option("open_timeout", "client", "connect_timeout_ms", _deadline),
    Option("max_head_size", "endpoint", "max_head_size", _size),
    Option("max_num_headers", "endpoint", "max_header_count", _size),
    Option("max_connections", "server", "max_connections", _optional_size),
    Option("memory_budget", "server", "memory_budget", _optional_size),
    Option("reuse_port", "server", "reuse_port", bool),
)

#: The keywords ``OPTIONS`` knows, for the front ends' argument checks.
KEYWORDS = frozenset(option.keyword for option in OPTIONS)


def compression_struct(compression: Optional[str]) -> n.CompressionConfig:
    """``compression="deflate"`` (permessage-deflate with the library's defaults) or None."""
    if compression not in ("deflate", None):
        raise ValueError(f"unsupported compression: {compression}")
    return compression_config(compression == "deflate")


def c_strings(values: Sequence[str]) -> Tuple[Any, int]:
    """A ``const char *const *`` array for a config, and its length (None, 0 when empty)."""
    if not values:
        return None, 0
    array = (ctypes.c_char_p * len(values))(*[value.encode("utf-8") for value in values])
    return ctypes.cast(array, ctypes.POINTER(ctypes.c_char_p)), len(values)


class NativeConfig:
    """A native server or client config with every struct and array it points to, kept alive
    together until the library has read them (``sws_server_new`` / ``sws_client_connect``)."""

    def __init__(self, role: str, compression: Optional[str], options: Dict[str, Any]) -> None:
        assert role in ("server", "client")
        self.role = role
        self.limits = n.SessionConfig()
        check(n.lib.sws_session_config_init(byref(self.limits)))
        self.compression = compression_struct(compression)
        self.connection = n.ConnectionConfig()
        check(n.lib.sws_connection_config_init(byref(self.connection)))
        self.endpoint: Any = n.ServerConfig() if role == "server" else n.ClientConfig()
        init = n.lib.sws_server_config_init if role == "server" else n.lib.sws_client_config_init
        check(init(byref(self.endpoint)))
        self._keep: List[Any] = []
        structs = {"limits": self.limits, "connection": self.connection, "endpoint": self.endpoint,
                   role: self.endpoint}
        for option in OPTIONS:
            if option.keyword in options and option.struct in structs:
                setattr(structs[option.struct], option.field, option.convert(options[option.keyword]))
        self.connection.limits = pointer(self.limits)
        self.connection.compression = pointer(self.compression)
        self.endpoint.connection = pointer(self.connection)

    def strings(self, count_field: str, array_field: str, values: Sequence[str]) -> None:
        """Sets a ``const char *const *`` field and its count from ``values``."""
        array, count = c_strings(list(values))
        self._keep.append(array)
        setattr(self.endpoint, array_field, array)
        setattr(self.endpoint, count_field, count)

    def text(self, field: str, value: Optional[str]) -> None:
        """Sets a ``const char *`` field (None: NULL)."""
        encoded = value.encode("utf-8") if value is not None else None
        self._keep.append(encoded)
        setattr(self.endpoint, field, encoded)

    def mask_keys(self, keys: bytes) -> None:
        """Fixed client masking keys (4 bytes each, used in turn; tests only: see the README)."""
        keys = bytes(keys)
        if not keys or len(keys) % 4:
            raise ValueError("mask_keys must be a non-empty multiple of 4 bytes")
        buffer = ctypes.create_string_buffer(keys, len(keys))
        self._keep.append(buffer)
        self.limits.mask_keys = ctypes.cast(buffer, ctypes.c_void_p)
        self.limits.mask_key_count = len(keys) // 4

    def keep(self, *objects: Any) -> None:
        """Keeps `objects` (a struct a field points at, its strings) alive as long as the config."""
        self._keep.extend(objects)

    def pointer(self) -> Any:
        """What ``sws_server_new`` / ``sws_client_connect`` take."""
        return byref(self.endpoint)
