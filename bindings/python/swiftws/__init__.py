"""swiftws — Python bindings of SwiftWS, an embeddable WebSocket library (RFC 6455, RFC 7692).

Pure Python over ``ctypes`` and ``libswiftws.so``. Three layers:

- ``swiftws.asyncio.server.serve`` / ``swiftws.asyncio.client.connect`` (also here as
  ``swiftws.serve`` / ``swiftws.connect``): the asyncio API, shaped like ``websockets``;
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
from .asyncio.server import Request, Server, ServerConnection, broadcast, serve
from .exceptions import (ConnectionClosed, ConnectionClosedError, ConnectionClosedOK, InvalidHandshake,
                         InvalidStatus, InvalidURI, PayloadTooBig, ProtocolError, Response, SwiftWSError,
                         WebSocketException)

__version__ = "0.1.0"

#: The version of the loaded native library ("MAJOR.MINOR.PATCH").
library_version: str = _native.version()
#: The file the native library was loaded from.
library_path: str = _native.LIBRARY_PATH

__all__ = [
    "serve", "connect", "broadcast", "Server", "ServerConnection", "ClientConnection", "Connection",
    "Request", "Response", "State", "ConnectionClosed", "ConnectionClosedOK", "ConnectionClosedError",
    "InvalidURI", "InvalidHandshake", "InvalidStatus", "PayloadTooBig", "ProtocolError", "SwiftWSError",
    "WebSocketException", "library_version", "library_path",
]
