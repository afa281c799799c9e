"""The asyncio client: ``connect(uri, ...)``, shaped like ``websockets.asyncio.client``.

    async with connect("ws://localhost:8765") as websocket:
        await websocket.send("Hello world!")
        message = await websocket.recv()

Errors while opening: ``InvalidURI`` (not a ``ws://`` URI), ``OSError`` (name resolution,
refused or unreachable: ``ConnectionRefusedError`` when refused), ``TimeoutError``
(``open_timeout``), ``InvalidStatus`` (the server answered with another status than 101; see
``exc.response.status_code``), ``InvalidHandshake`` (an invalid response), ``ProxyError`` /
``InvalidProxyStatus`` (the proxy refused).

``async for websocket in connect(uri)`` reconnects with websockets' backoff (see
``swiftws.asyncio._reconnect``); ``unix_connect(path, uri)`` connects over a Unix socket.
"""

from __future__ import annotations

import asyncio
import errno
import http
import logging
import os
import socket
import sys
import urllib.parse
import ctypes
from ctypes import byref, c_size_t, c_void_p, pointer
from typing import Any, AsyncIterator, Callable, Generator, List, Optional, Sequence, Tuple, Union

from .. import _native as n
from .._config import KEYWORDS, NativeConfig
from .._driver import NativeLoop, new_key
from .._log import native_log
from ..auth import build_authorization_basic
from ..datastructures import Headers
from ..exceptions import (InvalidHandshake, InvalidHeader, InvalidHeaderValue, InvalidMessage, InvalidProxy,
                          InvalidProxyStatus, InvalidStatus, InvalidUpgrade, InvalidURI, ProxyError, SecurityError,
                          SwiftWSError)
from ..http11 import Request, Response
from ..tls import needs_asyncio_tls, tls_error, tls_struct
from ..uri import parse_uri
from ._reconnect import backoff, process_exception as default_process_exception
from ._reconnect import reconnecting
from ._tls_relay import connect_tls
from .connection import Connection
from .server import queue_limits

#: websockets' default User-Agent, with this package's name.
USER_AGENT = f"Python/{sys.version_info.major}.{sys.version_info.minor} swiftws/0.1.0"

__all__ = ["connect", "unix_connect", "ClientConnection"]

HeadersLike = Union[Sequence[Tuple[str, str]], "dict[str, str]", Any]


class ClientConnection(Connection):
    """A client connection, returned by ``connect``. ``request`` is the opening request as
    far as Python knows it (path, the headers it asked for; the library adds Host, Upgrade,
    Connection, Sec-WebSocket-Key/-Version and the offers); ``response`` the 101 as far as the
    library reports it (status, Sec-WebSocket-Protocol)."""

    def _connection_lost(self) -> None:
        native = self._native
        if native is not None:
            native.release()


def _without_user_info(uri: str) -> str:
    """``uri`` without its user information: the library connects to the authority's host and
    port, and the credentials travel in an ``Authorization`` header (websockets' rule)."""
    parsed = urllib.parse.urlsplit(uri)
    if "@" not in parsed.netloc:
        return uri
    return urllib.parse.urlunsplit(parsed._replace(netloc=parsed.netloc.rpartition("@")[2]))


#: ``ssl`` / ``proxy_ssl`` not given: a default context where TLS is used (websockets'
#: ``ssl=True``), none elsewhere; an explicit None where TLS is needed is an error.
DEFAULT_SSL: Any = type("DefaultSSL", (), {"__repr__": lambda self: "DEFAULT_SSL"})()


def _check_proxy_tls(proxy: Any, proxy_ssl: Any, proxy_server_hostname: Optional[str]) -> None:
    """websockets' checks of ``proxy_ssl`` and ``proxy_server_hostname`` against the proxy's
    scheme (only https:// proxies take them; the library does not support those yet, which the
    connection attempt reports as an ``InvalidProxy``)."""
    if not isinstance(proxy, str):
        return
    if urllib.parse.urlsplit(proxy).scheme == "https":
        if proxy_ssl is None:
            raise ValueError("proxy_ssl=None is incompatible with an https:// proxy")
    elif proxy_ssl is not DEFAULT_SSL and proxy_ssl is not None:
        raise ValueError("proxy_ssl argument is incompatible with an http:// proxy")
    elif proxy_server_hostname is not None:
        raise ValueError("proxy_server_hostname argument is incompatible with an http:// proxy")


def _header_pairs(headers: Optional[HeadersLike]) -> List[Tuple[str, str]]:
    if headers is None:
        return []
    if hasattr(headers, "raw_items"):
        return list(headers.raw_items())
    if hasattr(headers, "items"):
        return list(headers.items())
    return list(headers)


class _PendingConnect:
    """The native connect in progress: resolves ``future`` with the connection or an error."""

    def __init__(self, native: NativeLoop, future: "asyncio.Future[ClientConnection]", uri: str,
                 write_limit: int, settings: "connect") -> None:
        self.native = native
        self.future = future
        self.uri = uri
        self.write_limit = write_limit
        self.settings = settings

    def _on_native_open(self, conn: int) -> ClientConnection:
        settings = self.settings
        connection = settings.create_connection(self.native)
        connection.logger = logging.LoggerAdapter(settings.logger, {"websocket": connection})
        connection.max_queue = settings.max_queue
        connection._close_timeout = settings.close_timeout
        connection._log_callback = settings._log_callback  # type: ignore[attr-defined]
        connection._attach(conn)
        # The request that opened it (redirects are followed by new openers: see connect._create).
        connection.request = settings.request
        head, length = c_void_p(), c_size_t()
        if n.lib.sws_conn_handshake_response(conn, byref(head), byref(length)) == n.SWS_OK:
            connection.response = parse_response(ctypes.string_at(head, length.value), b"")
        connection.write_limit = self.write_limit
        if not self.future.done():
            self.future.set_result(connection)
        else:  # the caller gave up (cancelled): nobody will use this connection
            n.lib.sws_conn_close(conn, 1001, None, 0)
        return connection

    def _refusal(self, http_status: int) -> Response:
        """The server's refusal as received (during on_connect_error), status, headers, body."""
        head, head_length, body, body_length = c_void_p(), c_size_t(), c_void_p(), c_size_t()
        if n.lib.sws_loop_connect_error_response(self.native.handle, byref(head), byref(head_length),
                                                 byref(body), byref(body_length)) != n.SWS_OK:
            phrase = http.HTTPStatus(http_status).phrase if http_status in http.HTTPStatus._value2member_map_ else ""
            return Response(http_status, phrase, Headers(), b"")
        return parse_response(n.borrowed(head.value, head_length.value), n.borrowed(body.value, body_length.value))

    def _received(self) -> bytes:
        """What arrived of the server's answer (during on_connect_error of a failed handshake)."""
        head, length = c_void_p(), c_size_t()
        if n.lib.sws_loop_connect_error_response(self.native.handle, byref(head), byref(length), None, None) != n.SWS_OK:
            return b""
        return n.borrowed(head.value, length.value)

    def _on_connect_error(self, status: int, http_status: int, message: str) -> None:
        if self.future.done():
            return
        error: BaseException
        if status == n.SWS_ERR_HANDSHAKE:
            if http_status:
                error = InvalidStatus(self._refusal(http_status))
            elif _is_invalid_http(message):
                error = InvalidMessage("did not receive a valid HTTP response")
                error.__cause__ = _invalid_http_cause(message, self._received())
            else:
                error = _handshake_error(message, self._received())
        elif status == n.SWS_ERR_PROXY:
            error = InvalidProxyStatus(Response(http_status), message) if http_status else ProxyError(message)
        elif status == n.SWS_ERR_TLS:
            error = tls_error(f"{message} ({self.uri})")
        elif status == n.SWS_ERR_TIMEOUT:
            error = TimeoutError("timed out during opening handshake")
        elif status == n.SWS_ERR_RESOLVE:
            error = socket.gaierror(socket.EAI_NONAME, f"{message} ({self.uri})")
        elif status == n.SWS_ERR_IO and "refused" in message.lower():
            error = ConnectionRefusedError(errno.ECONNREFUSED, f"{message} ({self.uri})")
        elif status == n.SWS_ERR_IO:
            error = OSError(f"{message} ({self.uri})")
        else:
            error = SwiftWSError(status, message)
        self.future.set_exception(error)


#: How many redirects ``connect`` follows unless told (``max_redirects``): websockets' default
#: and environment variable.
MAX_REDIRECTS = int(os.environ.get("WEBSOCKETS_MAX_REDIRECTS", "10"))

#: The answers websockets follows when they carry a Location.
_REDIRECT_STATUSES = (300, 301, 302, 303, 307, 308)

#: Request headers that carry credentials, dropped when a redirect changes the origin.
_CREDENTIAL_HEADERS = ("authorization", "cookie", "proxy-authorization")


def parse_response(head: bytes, body: bytes) -> Response:
    """A ``Response`` from a response head as received (and the body bytes that came with it,
    cut at Content-Length when the server sent one)."""
    lines = head.decode("latin-1").split("\r\n")
    _version, _, rest = lines[0].partition(" ")
    code, _, phrase = rest.partition(" ")
    headers = Headers()
    for line in lines[1:]:
        if line:
            name, _, value = line.partition(":")
            headers[name.strip()] = value.strip()
    length = headers.get("Content-Length")
    if length is not None and length.isdigit():
        body = body[:int(length)]
    return Response(int(code) if code.isdigit() else 0, phrase, headers, body)


def _is_invalid_http(message: str) -> bool:
    """Whether a handshake failure means the server's answer was not a valid HTTP response
    (websockets raises InvalidMessage for those) rather than a wrong WebSocket answer."""
    # The library's HTTP parser refuses a response head with the status it would answer a bad
    # request with ("400 Bad Request: HTTP version is not 'HTTP/x.y'", "431 ..."); a connection
    # closed before any answer is no HTTP response either.
    return message[:3].isdigit() or "closed during the handshake" in message


#: The library's reasons for refusing a status line (HTTPHeadParser), in websockets' words.
_STATUS_LINE_ERRORS = {
    "HTTP version is not 'HTTP/x.y'": "unsupported protocol; expected HTTP/1.1",
    "status line has no status code": "invalid HTTP status line",
    "status code is not three digits": "invalid HTTP status line",
    "reason phrase holds control characters": "invalid HTTP status line",
}


#: The library's reasons for refusing a 101 (ClientHandshake), as websockets' exception for the
#: header at fault (its value read from the response as received).
_HEADER_ERRORS = {
    "response lacks 'Upgrade: websocket'": (InvalidUpgrade, "Upgrade"),
    "response Connection header does not include 'Upgrade'": (InvalidUpgrade, "Connection"),
    "response lacks Sec-WebSocket-Accept": (InvalidHeader, "Sec-WebSocket-Accept"),
    "Sec-WebSocket-Accept does not match the key sent": (InvalidHeaderValue, "Sec-WebSocket-Accept"),
}


def _handshake_error(message: str, received: bytes) -> InvalidHandshake:
    """A refused 101 as websockets reports it (``InvalidHeader("Sec-WebSocket-Accept")``:
    "missing Sec-WebSocket-Accept header", ...); other refusals keep the library's reason."""
    found = _HEADER_ERRORS.get(message.partition(": ")[2])
    if found is None:
        return InvalidHandshake(message)
    kind, name = found
    values = parse_response(received, b"").headers.get_all(name) if received else []
    if len(values) > 1:
        return InvalidHeader(name, "multiple values")
    return kind(name, values[0] if values else None)


def _invalid_http_cause(message: str, received: bytes) -> BaseException:
    """What websockets gives as the cause of InvalidMessage, from the library's reason and the
    bytes that arrived: EOFError naming the line being read when the connection closed first;
    ValueError with the status line when the library refused that line; else ValueError with
    the library's reason."""
    line_ended = b"\r\n" in received
    if "closed during the handshake" in message:
        return EOFError("connection closed while reading HTTP headers" if line_ended
                        else "connection closed while reading HTTP status line")
    reason = message.partition(": ")[2]
    if reason in _STATUS_LINE_ERRORS and line_ended:
        line = received.split(b"\r\n", 1)[0].decode("utf-8", "backslashreplace")
        return ValueError(f"{_STATUS_LINE_ERRORS[reason]}: {line}")
    return EOFError(message) if "closed" in message else ValueError(message)


class connect:
    """Opens a WebSocket connection to ``uri``: ``await connect(uri)`` or ``async with connect(uri)``.

    Options (websockets' names): ``additional_headers`` (pairs or a mapping), ``subprotocols``,
    ``origin``, ``compression`` ("deflate" or None), ``max_size`` (bytes; None: no limit),
    ``open_timeout``, ``ping_interval``, ``ping_timeout``, ``close_timeout`` (seconds; None: off),
    ``write_limit`` (bytes buffered before ``send`` waits), ``user_agent_header``; for wss://,
    ``ssl`` (an ``ssl.SSLContext``, a ``swiftws.tls.SSLContext`` or None/True: the system trust
    store; see ``swiftws.tls``) and ``server_hostname``. TLS failures raise ``ssl.SSLError``
    (``ssl.SSLCertVerificationError`` for an unknown CA, a wrong host name, an expired certificate).

    Reach (as websockets): ``proxy`` (True, the default: the proxy the environment names —
    ``https_proxy``, ``http_proxy``, ``socks_proxy``, ``all_proxy``, ``no_proxy``; a URL
    "http://user:pass@host:port", "socks5://…", "socks5h://…", "socks4a://…"; None: no proxy),
    ``max_redirects`` (10, or ``WEBSOCKETS_MAX_REDIRECTS``; followed with websockets' rules: no
    wss:// to ws://, credentials dropped for another origin, none over ``sock``, no other origin
    over a Unix socket or an explicit ``host``/``port``), ``sock`` (a connected socket to run the
    handshake over: the library takes a duplicate of its descriptor), ``host``/``port`` (where to
    connect instead of the URI's authority, which still gives the Host header and the TLS server
    name; no proxy then), ``unix``/``path`` (see ``unix_connect``);
    ``process_exception`` decides which errors ``async for`` retries, ``reconnect_delays`` (a
    function returning an iterator of seconds, default ``backoff``) how long it waits between
    attempts.
    """

    def __init__(self, uri: str, *, additional_headers: Optional[HeadersLike] = None,
                 subprotocols: Optional[Sequence[str]] = None, origin: Optional[str] = None,
                 compression: Optional[str] = "deflate", max_size: Optional[int] = 2 ** 20,
                 open_timeout: Optional[float] = 10, ping_interval: Optional[float] = 20,
                 ping_timeout: Optional[float] = 20, close_timeout: Optional[float] = 10,
                 write_limit: int = 32 * 1024, user_agent_header: Optional[str] = USER_AGENT,
                 ssl: Any = DEFAULT_SSL, server_hostname: Optional[str] = None,
                 max_queue: Union[int, Tuple[Optional[int], Optional[int]], None] = 16, logger: Any = None,
                 create_connection: Optional[Callable[..., ClientConnection]] = None,
                 mask_keys: Optional[bytes] = None,
                 proxy: Union[str, bool, None] = True, proxy_ssl: Any = DEFAULT_SSL,
                 proxy_server_hostname: Optional[str] = None, sock: Optional[socket.socket] = None,
                 unix: bool = False, path: Optional[str] = None,
                 process_exception: Callable[[Exception], Optional[Exception]] = default_process_exception,
                 reconnect_delays: Callable[[], Generator[float, None, None]] = backoff,
                 host: Optional[str] = None, port: Optional[int] = None,
                 **options: Any) -> None:
        # What a followed redirect is opened with again (see process_redirect).
        given = {name: value for name, value in locals().items() if name not in ("self", "uri", "options")}
        self._arguments = dict(given, **options)
        # SwiftWS's own limits (idle_timeout, message_timeout, max_buffered, …; see
        # swiftws._config.OPTIONS) come as further keywords; anything else is an error.
        unsupported = set(options) - KEYWORDS
        if unsupported:
            raise TypeError(f"connect() got unsupported arguments: {', '.join(sorted(unsupported))}")
        secure = uri.lower().startswith("wss:")
        if ssl is DEFAULT_SSL:
            ssl = True if secure else None
        elif secure and ssl is None:
            raise ValueError("ssl=None is incompatible with a wss:// URI")
        if not secure and (ssl is not None or server_hostname is not None):
            raise ValueError("ssl argument is incompatible with a ws:// URI" if ssl is not None
                             else "server_hostname argument is incompatible with a ws:// URI")
        _check_proxy_tls(proxy, proxy_ssl, proxy_server_hostname)
        user_info = parse_uri(uri).user_info  # also checks the URI (InvalidURI)
        if isinstance(subprotocols, str):
            raise TypeError("subprotocols must be a list, not a str")
        self.uri = uri
        self.write_limit = write_limit
        self.max_queue = queue_limits(max_queue)
        #: Where the connection logs (websockets' default: "websockets.client").
        self.logger: Any = logging.getLogger("websockets.client") if logger is None else logger
        self.create_connection = create_connection or ClientConnection
        # No native limit on buffered output unless asked: send waits for the drain instead.
        options.setdefault("max_buffered", None)
        #: A stdlib ssl.SSLContext: asyncio does TLS with it, the library WebSocket (_tls_relay).
        self._tls_context: Any = ssl if secure and needs_asyncio_tls(ssl, server=False) else None
        self._server_hostname = server_hostname
        self._open_timeout = open_timeout
        if self._tls_context is not None and isinstance(proxy, str):
            raise ValueError("proxy= with an ssl.SSLContext is not supported: pass a swiftws.tls.SSLContext "
                             "(same methods) to connect through a proxy")
        if sock is not None and (host is not None or port is not None):
            raise ValueError("host/port and sock can not be specified at the same time")
        #: Redirects are followed here, with websockets' rules (process_redirect), not by the
        #: library: Python may own the way to the server (a relayed TLS connection, ``sock``,
        #: ``host``/``port``), and the connection's ``request`` and ``protocol.uri`` must be the
        #: final request's.
        self._max_redirects = options.pop("max_redirects", MAX_REDIRECTS)
        options["max_redirects"] = 0
        self._host, self._port = host, port
        self.close_timeout = close_timeout
        config = NativeConfig("client", compression, dict(
            options, max_size=max_size, ping_interval=ping_interval, ping_timeout=ping_timeout,
            close_timeout=close_timeout, open_timeout=open_timeout))
        config.text("origin", origin)
        if subprotocols:
            config.strings("subprotocol_count", "subprotocols", list(subprotocols))
        if mask_keys is not None:
            config.mask_keys(mask_keys)
        headers = _header_pairs(additional_headers)
        if any(name.lower() == "user-agent" for name, _ in headers):
            user_agent_header = None  # additional_headers wins (websockets' legacy way)
        if user_agent_header is not None:
            headers.append(("User-Agent", user_agent_header))
        if user_info is not None:
            # ws://user:password@host: HTTP Basic credentials, as websockets sends them.
            headers.append(("Authorization", build_authorization_basic(*user_info)))
        #: The URI the library is given: without user information (sent as Authorization).
        self._native_uri = _without_user_info(uri)
        parsed = urllib.parse.urlsplit(self._native_uri)
        # The Host header the library writes: the URI's authority (also over a Unix socket).
        self.request = Request((parsed.path or "/") + (f"?{parsed.query}" if parsed.query else ""),
                               Headers([("Host", parsed.netloc)] + headers + ([("Origin", origin)] if origin else [])))
        if headers:
            config.strings("header_count", "header_names", [name for name, _ in headers])
            config.strings("header_count", "header_values", [str(value) for _, value in headers])
        if secure and self._tls_context is None:
            tls_config, keep = tls_struct(ssl, server=False, server_hostname=server_hostname)
            config.keep(tls_config, keep)
            config.endpoint.tls = pointer(tls_config)
        self._log_callback = native_log(config, self.logger)
        # A given socket, a Unix socket or an explicit host/port is the way to the server: no proxy then.
        direct = sock is not None or unix or host is not None or port is not None
        if not direct and proxy is not None and proxy is not False and self._tls_context is None:
            if proxy is True:
                config.endpoint.proxy_from_environment = True
            else:
                config.text("proxy", str(proxy))
        if unix:
            # asyncio's create_unix_connection() words, which websockets users see.
            if path is not None and sock is not None:
                raise ValueError("path and sock can not be specified at the same time")
            if path is None and sock is None:
                raise ValueError("no path and sock were specified")
            if path is not None and self._tls_context is None:
                config.text("unix_path", os.fspath(path))
        self._sock = sock
        self._unix_path = os.fspath(path) if unix and path is not None else None
        self._proxy = proxy
        self.process_exception = process_exception
        self.reconnect_delays = reconnect_delays
        self._config = config
        self._connection: Optional[ClientConnection] = None

    async def _create(self) -> ClientConnection:
        if self._connection is not None:
            raise RuntimeError("connect() isn't reentrant")
        opener, followed = self, 0
        while True:
            try:
                connection = await opener._open()
            except InvalidStatus as error:
                target = opener.process_redirect(error)
                if target is error:
                    raise
                if isinstance(target, Exception):  # a redirect websockets refuses to follow
                    raise target from error
                if self._max_redirects == 0:
                    raise
                if followed == self._max_redirects:
                    refusal = SecurityError(f"more than {self._max_redirects} redirects")
                    refusal.response = error.response  # type: ignore[attr-defined]
                    raise refusal from error
                followed += 1
                opener = opener._following(target)
                continue
            self._connection = connection
            return connection

    def process_redirect(self, exc: Exception) -> Union[Exception, str]:
        """websockets' hook for a refused opening handshake: the URI to follow when ``exc`` is a
        redirect (3xx with a Location) that may be followed; else an exception to raise —
        ``exc`` itself when it is no redirect, a ``ValueError`` or ``SecurityError`` where
        websockets refuses to follow (raised with ``exc`` as its cause). Override it in a
        subclass to follow fewer redirects or other ones."""
        response = getattr(exc, "response", None)
        if not isinstance(exc, InvalidStatus) or response.status_code not in _REDIRECT_STATUSES \
                or "Location" not in response.headers:
            return exc
        target = urllib.parse.urljoin(self.uri, response.headers["Location"])
        # http(s):// locations name the same servers (the library's rule for C and Swift too).
        for web, ws in (("http://", "ws://"), ("https://", "wss://")):
            if target.lower().startswith(web):
                target = ws + target[len(web):]
        if self._sock is not None:  # used by the first request; it cannot reach another
            return ValueError(f"cannot follow redirect to {target} with a preexisting socket")
        old, new = parse_uri(self.uri), parse_uri(target)
        if old.secure and not new.secure:
            return SecurityError(f"cannot follow redirect to non-secure URI {target}")
        if (old.secure, old.host, old.port) != (new.secure, new.host, new.port):
            if self._arguments["unix"]:
                return ValueError(f"cannot follow cross-origin redirect to {target} with a Unix socket")
            if self._host is not None or self._port is not None:
                return ValueError(f"cannot follow cross-origin redirect to {target} with an explicit host or port")
        return target

    def _following(self, target: str) -> "connect":
        """The opener of a redirect's ``target``: these arguments, without the credentials when
        the origin changes (they were given for one origin: websockets and browsers drop them)."""
        arguments = dict(self._arguments, max_redirects=0)
        old, new = parse_uri(self.uri), parse_uri(target)
        if (old.secure, old.host, old.port) != (new.secure, new.host, new.port):
            arguments["additional_headers"] = [
                (name, value) for name, value in _header_pairs(arguments["additional_headers"])
                if name.lower() not in _CREDENTIAL_HEADERS]
        return type(self)(target, **arguments)  # a subclass's process_redirect applies to every hop

    async def _open(self) -> ClientConnection:
        """One attempt: the connection to ``self.uri`` (no redirect followed)."""
        relay, descriptor = None, -1
        if self._tls_context is not None:
            relay, descriptor = await self._connect_tls()
        elif self._host is not None or self._port is not None:
            descriptor = await self._connect_tcp()
        native = NativeLoop.acquire()
        future: asyncio.Future = native.aloop.create_future()
        key = new_key()
        pending = _PendingConnect(native, future, self.uri, self.write_limit, self)
        native.targets[key] = pending
        if descriptor < 0 and self._sock is not None:
            # The library owns what it is given: a duplicate, so that the caller's socket object
            # stays valid (and closes its own descriptor) as asyncio's sock= leaves it.
            descriptor = os.dup(self._sock.fileno())
        if descriptor >= 0:
            # Over a relay the library speaks ws:// (asyncio runs TLS); over a socket connected
            # here to host/port, or the caller's, wss:// is the library's TLS.
            uri = "ws" + self._native_uri[3:] if relay is not None else self._native_uri
            status = n.lib.sws_client_connect_socket(native.handle, uri.encode("utf-8"), descriptor,
                                                     self._config.pointer(), byref(native.handlers), key)
            if status != n.SWS_OK:
                os.close(descriptor)
        else:
            status = n.lib.sws_client_connect(native.handle, self._native_uri.encode("utf-8"), self._config.pointer(),
                                              byref(native.handlers), key)
        if status != n.SWS_OK:
            native.targets.pop(key, None)
            native.release()
            detail = n.last_error()
            if status == n.SWS_ERR_INVALID_ARGUMENT and self._sock is not None and "adopt socket" in detail:
                raise ValueError(f"sock must be a connected stream socket: {detail}")
            if status == n.SWS_ERR_INVALID_ARGUMENT and isinstance(self._proxy, str) and "proxy" in detail:
                # The library's list of proxy schemes is the rule; websockets' words for it.
                scheme = urllib.parse.urlsplit(self._proxy).scheme
                raise InvalidProxy(self._proxy, f"scheme {scheme} isn't supported" if "is not an" in detail else detail)
            if status == n.SWS_ERR_INVALID_ARGUMENT:
                raise InvalidURI(self.uri, detail)
            raise SwiftWSError(status, detail)
        native.kick()
        try:
            connection = await future
        except BaseException:
            native.targets.pop(key, None)
            if future.done() and not future.cancelled() and future.exception() is None:
                future.result()._abort()  # opened just as we were cancelled; it releases the loop
            else:
                native.release()
            raise
        native.targets.pop(key, None)
        if relay is not None:
            relay.describe(connection)
        connection._uri = self.uri
        return connection

    async def _connect_tls(self) -> Tuple[Any, int]:
        """TLS by asyncio with the program's ssl.SSLContext, within ``open_timeout``."""
        parsed = urllib.parse.urlsplit(self.uri)
        hostname = self._server_hostname or parsed.hostname or ""
        try:
            descriptor, relay = await asyncio.wait_for(
                connect_tls(asyncio.get_running_loop(), self._tls_context, hostname, self._host or parsed.hostname,
                            self._port or parsed.port or 443, self._unix_path, self._sock), self._open_timeout)
        except asyncio.TimeoutError:
            raise TimeoutError("timed out during opening handshake") from None
        return relay, descriptor

    async def _connect_tcp(self) -> int:
        """A TCP connection to the explicit ``host``/``port`` (the URI's where one is not given),
        within ``open_timeout``: its descriptor, for ``sws_client_connect_socket``. The URI still
        gives the Host header and the TLS server name (websockets' rule)."""
        parsed = parse_uri(self.uri)
        loop = asyncio.get_running_loop()

        async def attempt() -> socket.socket:
            error: Optional[OSError] = None
            for family, kind, protocol, _, address in await loop.getaddrinfo(
                    self._host or parsed.host, self._port or parsed.port, type=socket.SOCK_STREAM):
                sock = socket.socket(family, kind, protocol)
                sock.setblocking(False)
                try:
                    await loop.sock_connect(sock, address)
                    return sock
                except OSError as failure:
                    sock.close()
                    error = failure
                except BaseException:
                    sock.close()
                    raise
            raise error or OSError(f"no address for {self._host}")

        try:
            sock = await asyncio.wait_for(attempt(), self._open_timeout)
        except asyncio.TimeoutError:
            raise TimeoutError("timed out during opening handshake") from None
        return sock.detach()

    def __await__(self) -> Generator[Any, None, ClientConnection]:
        return self._create().__await__()

    async def __aenter__(self) -> ClientConnection:
        return await self._create()

    async def __aexit__(self, *exc: Any) -> None:
        if self._connection is not None:
            await self._connection.close()

    def __aiter__(self) -> AsyncIterator[ClientConnection]:
        """Connects again and again (``async for websocket in connect(uri)``): a failed attempt
        is retried after websockets' backoff delays when ``process_exception`` returns None."""
        return reconnecting(self)


def unix_connect(path: Optional[str] = None, uri: Optional[str] = None, **kwargs: Any) -> connect:
    """Connects over the Unix socket ``path`` ("@name": the abstract namespace); ``uri`` (default
    ``ws://localhost/``, ``wss://localhost/`` with ``ssl``) gives the Host header and the path."""
    if uri is None:
        uri = "wss://localhost/" if kwargs.get("ssl") is not None else "ws://localhost/"
    return connect(uri, unix=True, path=path, **kwargs)
