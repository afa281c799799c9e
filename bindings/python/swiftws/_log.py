"""The native library's log lines (``sws_log_fn``) sent to a Python ``logging`` logger."""

from __future__ import annotations

import logging
from typing import Any

from . import _native as n

__all__ = ["native_log"]

#: sws_log_level -> logging level. The library's warnings (a connection closed with an error
#: code, a failed client handshake) are INFO here: the program already gets them as exceptions,
#: and websockets prints nothing for them when logging is not configured (Python's last-resort
#: handler would print every WARNING to stderr).
_LEVELS = {n.SWS_LOG_DEBUG: logging.DEBUG, n.SWS_LOG_INFO: logging.INFO,
           n.SWS_LOG_WARNING: logging.INFO, n.SWS_LOG_ERROR: logging.ERROR}


def _native_level(logger: Any) -> int:
    """The least sws_log_level whose lines ``logger`` would emit (lines below it are not even
    formatted by the library)."""
    level = logger.getEffectiveLevel() if hasattr(logger, "getEffectiveLevel") else logging.DEBUG
    for native in sorted(_LEVELS):
        if _LEVELS[native] >= level:
            return native
    return n.SWS_LOG_ERROR


def native_log(config: Any, logger: Any) -> Any:
    """Points ``config``'s ``log`` at ``logger`` (a ``logging.Logger`` or ``LoggerAdapter``);
    returns the ctypes callback, which the caller keeps alive as long as the native server or
    connection may log."""

    def write(_user_data: Any, level: int, message: bytes, _length: int) -> None:
        try:
            logger.log(_LEVELS.get(level, logging.ERROR), message.decode("utf-8", "replace"))
        except Exception:  # pragma: no cover - a broken handler must not reach native code
            pass

    callback = n.LOG_FN(write)
    config.endpoint.log = callback
    config.endpoint.log_level = _native_level(logger)
    return callback
