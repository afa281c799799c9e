"""Exceptions of the ``swiftws`` package: websockets' class tree and messages
(``websockets.exceptions``), plus ``SwiftWSError`` for a failed call into the native library.

    WebSocketException
    ├── ConnectionClosed (rcvd, sent, rcvd_then_sent; code, reason)
    │   ├── ConnectionClosedOK       1000, 1001 or 1005 received and sent
    │   └── ConnectionClosedError    anything else, 1006 included
    ├── InvalidURI
    ├── InvalidProxy
    ├── InvalidHandshake
    │   ├── SecurityError (RequestLineTooLong, StatusLineTooLong, HeaderLineTooLong, TooManyHeaders)
    │   ├── ProxyError (InvalidProxyMessage, InvalidProxyStatus)
    │   ├── InvalidMessage           the server's answer is not HTTP
    │   ├── InvalidMethod, InvalidProtocol
    │   ├── InvalidStatus            a status other than 101 (``response``: status, headers, body)
    │   ├── InvalidHeader (InvalidHeaderFormat, InvalidHeaderValue, InvalidOrigin, InvalidUpgrade)
    │   └── NegotiationError (DuplicateParameter, InvalidParameterName, InvalidParameterValue)
    ├── ProtocolError
    ├── PayloadTooBig
    ├── InvalidState (also an AssertionError)
    ├── ConcurrencyError (also a RuntimeError): two coroutines reading (or writing fragments) at once
    └── SwiftWSError                 a native call failed (``status``, ``detail``)
"""

from __future__ import annotations

import builtins
import sys
from typing import Optional

from . import _native
from .frames import OK_CLOSE_CODES, Close
from .http11 import Response

__all__ = [
    "WebSocketException", "ConnectionClosed", "ConnectionClosedOK", "ConnectionClosedError",
    "InvalidURI", "InvalidProxy", "InvalidHandshake", "SecurityError", "RequestLineTooLong",
    "StatusLineTooLong", "HeaderLineTooLong", "TooManyHeaders", "ProxyError", "InvalidProxyMessage",
    "InvalidProxyStatus", "InvalidMessage", "InvalidMethod", "InvalidProtocol", "InvalidStatus",
    "InvalidHeader", "InvalidHeaderFormat", "InvalidHeaderValue", "InvalidOrigin", "InvalidUpgrade",
    "NegotiationError", "DuplicateParameter", "InvalidParameterName", "InvalidParameterValue",
    "ProtocolError", "PayloadTooBig", "TooManyFragments", "InvalidState", "ConcurrencyError",
    "SwiftWSError", "Response", "OK_CLOSE_CODES",
]


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
    """The connection is closed. ``rcvd`` / ``sent``: the close frames received and sent
    (``frames.Close`` or None), ``rcvd_then_sent`` their order. ``code`` / ``reason``: the
    connection's close code and reason (1006 and "" without a close frame received)."""

    def __init__(self, rcvd: Optional[Close], sent: Optional[Close], rcvd_then_sent: Optional[bool] = None) -> None:
        self.rcvd = rcvd
        self.sent = sent
        self.rcvd_then_sent = rcvd_then_sent
        super().__init__(str(self))

    def __str__(self) -> str:
        if self.rcvd is None:
            return "no close frame received or sent" if self.sent is None else f"sent {self.sent}; no close frame received"
        if self.sent is None:
            return f"received {self.rcvd}; no close frame sent"
        if self.rcvd_then_sent:
            return f"received {self.rcvd}; then sent {self.sent}"
        return f"sent {self.sent}; then received {self.rcvd}"

    @property
    def code(self) -> int:
        return self.rcvd.code if self.rcvd is not None else 1006

    @property
    def reason(self) -> str:
        return self.rcvd.reason if self.rcvd is not None else ""


class ConnectionClosedOK(ConnectionClosed):
    """The connection closed normally (1000, 1001 or 1005 received and sent)."""


class ConnectionClosedError(ConnectionClosed):
    """The connection closed with an error (a protocol error, a message too big, 1006, ...)."""


def connection_closed(code: int, reason: str, sent: Optional[Close] = None) -> ConnectionClosed:
    """The ``ConnectionClosed`` for a connection that ended with ``code`` and ``reason`` (the
    native library's close status): ``sent`` is the close frame this side began with, if it
    began; otherwise the peer's frame was received and echoed. 1006: no frame either way."""
    if code == 1006:
        return ConnectionClosedError(None, sent)
    rcvd = Close(code, reason)
    if sent is None:
        sent, order = Close(code, reason), True
    else:
        order = False
    ok = rcvd.code in OK_CLOSE_CODES and sent.code in OK_CLOSE_CODES
    return (ConnectionClosedOK if ok else ConnectionClosedError)(rcvd, sent, order)


class InvalidURI(WebSocketException):
    """The URI given to ``connect`` is not a ``ws://`` or ``wss://`` URI."""

    def __init__(self, uri: str, msg: str) -> None:
        self.uri = uri
        self.msg = msg
        super().__init__(uri, msg)

    def __str__(self) -> str:
        return f"{self.uri} isn't a valid URI: {self.msg}"


class InvalidProxy(WebSocketException):
    """A proxy address that cannot be used."""

    def __init__(self, proxy: str, msg: str) -> None:
        self.proxy = proxy
        self.msg = msg
        super().__init__(proxy, msg)

    def __str__(self) -> str:
        return f"{self.proxy} isn't a valid proxy: {self.msg}"


class InvalidHandshake(WebSocketException):
    """The opening handshake failed."""


class SecurityError(InvalidHandshake):
    """The peer's handshake passed a security limit."""


class RequestLineTooLong(SecurityError):
    """A request line too long."""


class StatusLineTooLong(SecurityError):
    """A status line too long."""


class HeaderLineTooLong(SecurityError):
    """A header line too long."""


class TooManyHeaders(SecurityError):
    """Too many header lines."""


class ProxyError(InvalidHandshake):
    """The proxy refused or failed to open the tunnel (websockets' ``ProxyError``); the message
    names the proxy."""


class InvalidProxyMessage(ProxyError):
    """The proxy's answer is not HTTP."""


class InvalidProxyStatus(ProxyError):
    """An HTTP proxy answered CONNECT with a status other than 2xx: see ``response.status_code``
    (407: authentication required or refused); ``detail`` names the proxy."""

    def __init__(self, response: Response, detail: str = "") -> None:
        self.response = response
        self.detail = detail
        super().__init__(response)

    def __str__(self) -> str:
        return self.detail or f"proxy rejected connection: HTTP {self.response.status_code:d}"


class InvalidMessage(InvalidHandshake):
    """The peer's handshake is not valid HTTP (a junk response, a connection closed early)."""


class InvalidMethod(InvalidHandshake):
    """The request's method is not GET."""

    def __init__(self, method: str) -> None:
        self.method = method
        super().__init__(method)

    def __str__(self) -> str:
        return f"invalid HTTP method; expected GET; got {self.method}"


class InvalidProtocol(InvalidHandshake):
    """The request's protocol is not HTTP/1.1."""

    def __init__(self, protocol: str) -> None:
        self.protocol = protocol
        super().__init__(protocol)

    def __str__(self) -> str:
        return f"invalid HTTP protocol; expected HTTP/1.1; got {self.protocol}"


class InvalidStatus(InvalidHandshake):
    """The server answered the upgrade with a status other than 101: ``response`` holds its
    status, headers and body."""

    def __init__(self, response: Response) -> None:
        self.response = response
        super().__init__(response)

    def __str__(self) -> str:
        return f"server rejected WebSocket connection: HTTP {self.response.status_code:d}"


class InvalidHeader(InvalidHandshake):
    """A header of the handshake is missing or wrong."""

    def __init__(self, name: str, value: Optional[str] = None) -> None:
        self.name = name
        self.value = value
        super().__init__(name, value)

    def __str__(self) -> str:
        if self.value is None:
            return f"missing {self.name} header"
        if self.value == "":
            return f"empty {self.name} header"
        return f"invalid {self.name} header: {self.value}"


class InvalidHeaderFormat(InvalidHeader):
    """A header that cannot be parsed."""

    def __init__(self, name: str, error: str, header: str, pos: int) -> None:
        super().__init__(name, f"{error} at {pos} in {header}")


class InvalidHeaderValue(InvalidHeader):
    """A header with a value that is not allowed."""


class InvalidOrigin(InvalidHeader):
    """An Origin header that is not allowed."""

    def __init__(self, origin: Optional[str]) -> None:
        super().__init__("Origin", origin)


class InvalidUpgrade(InvalidHeader):
    """An Upgrade or Connection header that is missing or wrong."""


class NegotiationError(InvalidHandshake):
    """Subprotocol or extension negotiation failed."""


class DuplicateParameter(NegotiationError):
    """An extension parameter given twice."""

    def __init__(self, name: str) -> None:
        self.name = name
        super().__init__(name)

    def __str__(self) -> str:
        return f"duplicate parameter: {self.name}"


class InvalidParameterName(NegotiationError):
    """An unknown extension parameter."""

    def __init__(self, name: str) -> None:
        self.name = name
        super().__init__(name)

    def __str__(self) -> str:
        return f"invalid parameter name: {self.name}"


class InvalidParameterValue(NegotiationError):
    """An extension parameter with a wrong value."""

    def __init__(self, name: str, value: Optional[str]) -> None:
        self.name = name
        self.value = value
        super().__init__(name, value)

    def __str__(self) -> str:
        if self.value is None:
            return f"missing value for parameter {self.name}"
        if self.value == "":
            return f"empty value for parameter {self.name}"
        return f"invalid value for parameter {self.name}: {self.value}"


class ProtocolError(WebSocketException):
    """The peer broke RFC 6455."""


class PayloadTooBig(WebSocketException):
    """A message exceeded ``max_size``."""


class InvalidState(WebSocketException, AssertionError):
    """An operation not allowed in the connection's state."""


class ConcurrencyError(WebSocketException, RuntimeError):
    """Two coroutines or threads read at the same time (or one writes fragments while another
    sends): websockets forbids it, and so does swiftws."""


def check(status: int, what: str = "") -> None:
    """Raises ``SwiftWSError`` with the library's detail unless ``status`` is SWS_OK."""
    if status != _native.SWS_OK:
        detail = _native.last_error()
        raise SwiftWSError(status, f"{what}: {detail}" if what and detail else (detail or what))


if sys.version_info >= (3, 11):
    ExceptionGroup = builtins.ExceptionGroup
else:
    class ExceptionGroup(Exception):  # noqa: N818 (the builtin's name)
        """Python 3.9/3.10 stand-in for the builtin (3.11+) that ``broadcast(...,
        raise_exceptions=True)`` raises, with its ``message`` and ``exceptions``."""

        def __init__(self, message: str, exceptions: "list[Exception]") -> None:
            super().__init__(message, list(exceptions))
            self.message = message
            self.exceptions = tuple(exceptions)

        def __str__(self) -> str:
            # The builtin's text: "skipped broadcast (2 sub-exceptions)".
            count = len(self.exceptions)
            return f"{self.message} ({count} sub-exception{'' if count == 1 else 's'})"


class TooManyFragments(WebSocketException):
    """A message cut into more fragments than ``max_fragments`` (websockets' class; here the
    library fails such a connection itself and the program sees ``ConnectionClosedError``)."""

    def __init__(self, max_fragments: int) -> None:
        super().__init__(f"fragmented message exceeds limit of {max_fragments} frames")
