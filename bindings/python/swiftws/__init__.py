"""swiftws — Python bindings of SwiftWS, an embeddable WebSocket library (RFC 6455, RFC 7692).

Pure Python over ``ctypes`` and ``libswiftws.so``. Three layers:

- ``swiftws.asyncio.server.serve`` / ``swiftws.asyncio.client.connect`` (also here as
  ``swiftws.serve`` / ``swiftws.connect``): the asyncio API, shaped like ``websockets``;
  ``swiftws.asyncio.router.route`` (also ``swiftws.route``) dispatches by URL path with werkzeug;
- ``swiftws.sync.server.serve`` / ``swiftws.sync.client.connect``: the blocking API, for
  scripts and threads;
- ``swiftws.sansio``: the sans-I/O session and opening handshakes, for your own transport.

``import swiftws`` raises ImportError, saying what to do, when the native library cannot be
loaded or its ABI version differs from the package's (set ``SWIFTWS_LIBRARY`` to use a
development build).
"""

from __future__ import annotations

from . import _native
from .asyncio.client import ClientConnection, connect
from .asyncio.connection import Connection, State
from .asyncio.server import Server, ServerConnection, basic_auth, broadcast, serve
from .datastructures import Headers
from .exceptions import (ConcurrencyError, ConnectionClosed, ConnectionClosedError, ConnectionClosedOK,
                         InvalidHandshake, InvalidHeader, InvalidMessage, InvalidStatus, InvalidURI,
                         NegotiationError, PayloadTooBig, ProtocolError, SecurityError, SwiftWSError,
                         WebSocketException)
from .http11 import Request, Response

__version__ = "0.1.0"

#: The version of the loaded native library ("MAJOR.MINOR.PATCH").
library_version: str = _native.version()
#: The file the native library was loaded from.
library_path: str = _native.LIBRARY_PATH

__all__ = [
    "serve", "connect", "broadcast", "basic_auth", "Server", "ServerConnection", "ClientConnection",
    "Connection", "Request", "Response", "Headers", "State", "ConnectionClosed", "ConnectionClosedOK",
    "ConnectionClosedError", "ConcurrencyError", "InvalidURI", "InvalidHandshake", "InvalidHeader",
    "InvalidMessage", "InvalidStatus", "NegotiationError", "PayloadTooBig", "ProtocolError",
    "SecurityError", "SwiftWSError", "WebSocketException", "library_version", "library_path",
    "route", "unix_route", "Router",
]

#: Names imported on first use, as websockets does for these: the router module imports werkzeug
#: (optional), which ``import swiftws`` must not pay for.
_LAZY = {"route": ".asyncio.router", "unix_route": ".asyncio.router", "Router": ".asyncio.router"}


def __getattr__(name: str) -> object:
    """``swiftws.route`` / ``unix_route`` / ``Router``: imported from their module on first use."""
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    import importlib
    value = getattr(importlib.import_module(module, __name__), name)
    globals()[name] = value
    return value
