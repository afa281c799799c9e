"""Building the native config structs from the keyword arguments of ``serve`` and ``connect``."""

from __future__ import annotations

import ctypes
from ctypes import byref
from typing import Any, Optional, Sequence, Tuple

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


def c_strings(values: Sequence[str]) -> Tuple[Any, int]:
    """A ``const char *const *`` array for a config, and its length (None, 0 when empty)."""
    if not values:
        return None, 0
    array = (ctypes.c_char_p * len(values))(*[value.encode("utf-8") for value in values])
    return ctypes.cast(array, ctypes.POINTER(ctypes.c_char_p)), len(values)


def compression_struct(compression: Optional[str]) -> n.CompressionConfig:
    """``compression="deflate"`` (permessage-deflate with the library's defaults) or None."""
    if compression not in ("deflate", None):
        raise ValueError(f"unsupported compression: {compression!r} (use 'deflate' or None)")
    return compression_config(compression == "deflate")


def fill_common(config: Any, *, max_size: Optional[int], ping_interval: Optional[float],
                ping_timeout: Optional[float], close_timeout: Optional[float]) -> None:
    """The fields ``sws_server_config`` and ``sws_client_config`` share."""
    limit = n.SWS_SESSION_LIMIT_MAX if max_size is None else int(max_size)
    if limit < 1:
        raise ValueError("max_size must be at least 1")
    config.max_message_size = min(limit, n.SWS_SESSION_LIMIT_MAX)
    # A frame may be as large as a message (the default frame limit would cut messages above it).
    config.max_frame_size = config.max_message_size
    # No native limit on buffered output: Connection.send waits for the drain instead, as in websockets.
    config.max_buffered_amount = 0
    config.ping_interval_ms = milliseconds(ping_interval, 0)
    config.pong_timeout_ms = milliseconds(ping_timeout, _UINT32_MAX)
    config.close_timeout_ms = milliseconds(close_timeout, _UINT32_MAX)


def server_config(**options: Any) -> n.ServerConfig:
    """An initialised ``sws_server_config`` (the defaults), for ``fill_common`` and friends."""
    config = n.ServerConfig()
    check(n.lib.sws_server_config_init(byref(config)))
    return config


def client_config() -> n.ClientConfig:
    """An initialised ``sws_client_config``."""
    config = n.ClientConfig()
    check(n.lib.sws_client_config_init(byref(config)))
    return config
