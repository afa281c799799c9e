"""Exceptions of the ``swiftws`` package, named and shaped like those of ``websockets``.

``ConnectionClosed`` carries the close ``code`` and ``reason``; ``ConnectionClosedOK`` is raised
for a normal closure (1000 going normally, 1001 going away, or 1005 a close frame without a
code), ``ConnectionClosedError`` for everything else (a protocol error, a message too big, a
dropped TCP connection: 1006).
"""

from __future__ import annotations

from typing import Optional

from . import _native

__all__ = [
    "WebSocketException",
    "SwiftWSError",
    "ConnectionClosed",
    "ConnectionClosedOK",
    "ConnectionClosedError",
    "InvalidURI",
    "InvalidHandshake",
    "InvalidStatus",
    "ProxyError",
    "InvalidProxyStatus",
    "PayloadTooBig",
    "ProtocolError",
]

#: Close codes of a normal closure (websockets' OK_CLOSE_CODES).
OK_CLOSE_CODES = frozenset({1000, 1001, 1005})


class WebSocketException(Exception):
    """Base class of every exception this package raises on purpose."""


class SwiftWSError(WebSocketException):
    """A call into the native library failed: ``status`` is the ``sws_status``, ``detail``
    the library's ``sws_last_error()`` text."""

    def __init__(self, status: int, detail: str = "") -> None:
        self.status = status
        self.detail = detail
        name = _native.status_name(status)
        super().__init__(f"{name}: {detail}" if detail else name)


class ConnectionClosed(WebSocketException):
    """The connection is closed: ``code`` and ``reason`` say how (see the module docstring)."""

    def __init__(self, code: int, reason: str = "") -> None:
        self.code = code
        self.reason = reason
        super().__init__(f"connection closed: {code} {reason}".rstrip())


class ConnectionClosedOK(ConnectionClosed):
    """The connection closed normally (1000, 1001 or 1005)."""


class ConnectionClosedError(ConnectionClosed):
    """The connection closed with an error (a protocol error, a message too big, 1006, ...)."""


def connection_closed(code: int, reason: str) -> ConnectionClosed:
    """The right ``ConnectionClosed`` subclass for a close ``code``."""
    cls = ConnectionClosedOK if code in OK_CLOSE_CODES else ConnectionClosedError
    return cls(code, reason)


class InvalidURI(WebSocketException):
    """The URI given to ``connect`` is not a ``ws://`` URI this library can open."""

    def __init__(self, uri: str, msg: str) -> None:
        self.uri = uri
        self.msg = msg
        super().__init__(f"{uri} isn't a valid URI: {msg}")


class InvalidHandshake(WebSocketException):
    """The opening handshake failed."""


class Response:
    """An HTTP response: what a server rejected an upgrade with (``status_code``, ``body``)."""

    def __init__(self, status_code: int, reason_phrase: str = "", body: bytes = b"") -> None:
        self.status_code = status_code
        self.reason_phrase = reason_phrase
        self.body = body

    def __repr__(self) -> str:
        return f"Response(status_code={self.status_code}, body={self.body!r})"


class InvalidStatus(InvalidHandshake):
    """The server answered the upgrade with a status other than 101: see ``response.status_code``."""

    def __init__(self, response: Response, detail: str = "") -> None:
        self.response = response
        super().__init__(f"server rejected WebSocket connection: HTTP {response.status_code}"
                         + (f" ({detail})" if detail else ""))


class ProxyError(InvalidHandshake):
    """The proxy refused or failed to open the tunnel (websockets' ``ProxyError``); the message
    names the proxy."""


class InvalidProxyStatus(ProxyError):
    """An HTTP proxy answered CONNECT with a status other than 2xx: see ``response.status_code``
    (407: authentication required or refused)."""

    def __init__(self, response: Response, detail: str = "") -> None:
        self.response = response
        super().__init__(detail or f"proxy rejected connection: HTTP {response.status_code}")


class PayloadTooBig(WebSocketException):
    """A message exceeded ``max_size``."""


class ProtocolError(WebSocketException):
    """The peer broke RFC 6455."""


def check(status: int, what: str = "") -> None:
    """Raises ``SwiftWSError`` with the library's detail unless ``status`` is SWS_OK."""
    if status != _native.SWS_OK:
        detail = _native.last_error()
        raise SwiftWSError(status, f"{what}: {detail}" if what and detail else (detail or what))


__all__ += ["Response", "OK_CLOSE_CODES"]
