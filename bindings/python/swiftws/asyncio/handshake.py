"""The server's opening handshake as websockets users program it: ``process_request``,
``select_subprotocol``, ``process_response`` (each a function or a coroutine), ``server_header``.

The native library calls ``on_upgrade`` with a request valid during the call. ``Handshake.run``
reads it into a websockets-shaped ``Request`` (every header), then runs the user's hooks. As long
as they answer at once, the decision is made inside the callback. When one returns an awaitable,
the request is deferred (``sws_request_defer``) and the rest runs as an asyncio task, answering
later with ``sws_request_accept`` / ``sws_request_respond``; the client waits, and the native
handshake timeout (``open_timeout``) still bounds the wait (then 503). The ``connection`` the
hooks receive is the one the handler gets (CONNECTING until it opens), so attributes set on it
(``connection.username`` by ``basic_auth``) are there for the handler. While the hooks run, its
``transport`` is a ``HandshakeTransport``: closing it drops the client without an answer
(``sws_request_drop``), as closing websockets' transport does.
"""

from __future__ import annotations

import asyncio
import base64
import ctypes
import hashlib
import http
import inspect
import logging
from ctypes import byref, c_char_p
from typing import TYPE_CHECKING, Any, Awaitable, List, Optional, Union

from .. import _native as n
from .._driver import new_key
from ..datastructures import Headers
from ..exceptions import InvalidHandshake, NegotiationError, check
from ..http11 import Request, Response

if TYPE_CHECKING:  # pragma: no cover
    from .server import Server, ServerConnection

__all__ = ["Handshake", "HandshakeTransport", "no_request_log", "read_request"]

_GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
#: Headers of a 101 or of an HTTP answer that the library writes itself.
_LIBRARY_HEADERS = frozenset({"upgrade", "connection", "sec-websocket-accept", "sec-websocket-protocol",
                              "sec-websocket-extensions", "content-length"})


def _text(value: Optional[bytes]) -> str:
    return value.decode("latin-1") if value is not None else ""


def read_request(handle: int) -> Request:
    """The native request as a ``Request`` (path with query, every header line in order),
    with ``subprotocols`` (offered, in order) and ``peer_certificate_subject`` (mutual TLS)."""
    target = c_char_p()
    check(n.lib.sws_request_target(handle, byref(target), None))
    headers = Headers()
    name, value = c_char_p(), c_char_p()
    for index in range(n.lib.sws_request_header_count(handle)):
        check(n.lib.sws_request_header_at(handle, index, byref(name), byref(value)))
        headers[_text(name.value)] = _text(value.value)
    request = Request((target.value or b"/").decode("utf-8", "replace"), headers)
    offered: List[str] = []
    for index in range(n.lib.sws_request_subprotocol_count(handle)):
        if n.lib.sws_request_subprotocol(handle, index, byref(name)) == n.SWS_OK and name.value:
            offered.append(name.value.decode())
    request.subprotocols = offered  # type: ignore[attr-defined]
    subject = c_char_p()
    check(n.lib.sws_request_peer_certificate_subject(handle, byref(subject)))
    request.peer_certificate_subject = (  # type: ignore[attr-defined]
        subject.value.decode("utf-8", "replace") if subject.value else None)
    return request


def no_request_log(config: Any, logger: Any) -> Any:
    """Makes a server's ``config`` treat a connection that sent no valid request as websockets
    does: closed without an answer (``answer_bad_requests`` off: no 400/408) and logged at DEBUG
    as "! no valid HTTP request", with the exception websockets' parser raises as ``exc_info``.
    Returns the ctypes callback, which the caller keeps alive as long as the server runs."""
    config.endpoint.answer_bad_requests = False

    def told(_user_data: Any, reason: int, message: Optional[bytes], received: Optional[int], length: int) -> None:
        try:
            if logger.isEnabledFor(logging.DEBUG):
                error = _no_request_error(reason, (message or b"").decode("utf-8", "replace"),
                                          ctypes.string_at(received, length) if received and length else b"")
                logger.debug("! no valid HTTP request", exc_info=error)
        except Exception:  # pragma: no cover - a broken handler must not reach native code
            pass

    callback = n.NO_REQUEST_FN(told)
    config.endpoint.on_no_request = callback
    return callback


def _no_request_error(reason: int, message: str, received: bytes) -> Exception:
    """The library's reason (sws_no_request_reason) in websockets' words: EOFError for a close or
    a timeout (websockets' timeout closes the socket under its parser), naming the line being
    read; ValueError with the request line when the library refused that line."""
    line_ended = b"\r\n" in received
    if reason in (n.SWS_NO_REQUEST_CLOSED, n.SWS_NO_REQUEST_TIMEOUT):
        return EOFError("connection closed while reading HTTP headers" if line_ended
                        else "connection closed while reading HTTP request line")
    if reason == n.SWS_NO_REQUEST_BAD_REQUEST_LINE:
        line = received.split(b"\r\n", 1)[0]
        return ValueError(f"invalid HTTP request line: {line.decode('utf-8', 'backslashreplace')}")
    return ValueError(message)


def accept_key(key: str) -> str:
    """Sec-WebSocket-Accept for a Sec-WebSocket-Key (RFC 6455 section 4.2.2)."""
    return base64.b64encode(hashlib.sha1((key + _GUID).encode()).digest()).decode()


def plain_response(status: Union[int, http.HTTPStatus], text: str) -> Response:
    """A text/plain response, as websockets' ``connection.respond``."""
    status = http.HTTPStatus(status)
    body = text.encode("utf-8")
    headers = Headers([("Content-Type", "text/plain; charset=utf-8"), ("Content-Length", str(len(body)))])
    return Response(status.value, status.phrase, headers, body)


def _internal_error() -> Response:
    """websockets' answer when a hook raised."""
    return plain_response(500, "Failed to open a WebSocket connection.\nSee server log for more information.\n")


class _Suspend:
    """Awaited when a hook returned an awaitable during the native callback: yields once, so
    that ``Handshake.run`` can defer the request and hand the rest to an asyncio task."""

    def __await__(self) -> Any:
        yield


class HandshakeTransport:
    """``connection.transport`` while the server's hooks run (before the connection opens):
    websockets' hooks may close it to give up on a client without answering
    (``connection.transport.close()`` in ``process_request``; the blocking API's
    ``close_socket()``). Closing it drops the request (``sws_request_drop``); the hooks' answer,
    if any, is then not sent."""

    def __init__(self, handshake: "Handshake") -> None:
        self._handshake = handshake

    def close(self) -> None:
        """Drops the client without an answer (nothing once the request was answered)."""
        self._handshake.drop()

    abort = close

    def is_closing(self) -> bool:
        """Whether the request was answered or dropped."""
        return self._handshake.answered

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        """Nothing: the socket is the library's (``default``)."""
        return default


class Handshake:
    """One upgrade (or plain HTTP) request being decided for ``server``."""

    def __init__(self, server: "Server", handle: int, connection: "ServerConnection", upgrade: bool) -> None:
        self.server = server
        self.handle = handle
        self.connection = connection
        self.upgrade = upgrade
        self.deferred = False
        self.answered = False
        self.task: Optional["asyncio.Task[None]"] = None
        if upgrade and getattr(connection, "transport", None) is None:
            connection.transport = HandshakeTransport(self)  # type: ignore[attr-defined]

    def drop(self) -> None:
        """Closes the client's connection without an answer (see ``HandshakeTransport``)."""
        if self.answered:
            return
        self.answered = True
        n.lib.sws_request_drop(self.handle)  # SWS_ERR_CLOSED: the client left first, as good
        if self.server._native is not None:
            self.server._native.kick()

    def run(self) -> None:
        """Decides inside the native callback, or defers and finishes in a task (see above)."""
        coroutine = self._decide()
        try:
            coroutine.send(None)
        except StopIteration:
            return
        # Suspended at _Suspend: keep the request past the callback.
        status = n.lib.sws_request_defer(self.handle)
        if status != n.SWS_OK:  # a plain HTTP request cannot wait (the library answers now)
            coroutine.close()
            self.server.logger.error("process_request for a plain HTTP request must answer at once "
                                     "(a coroutine that awaits cannot); answering 500")
            n.lib.sws_request_respond(self.handle, 500, b"Internal Server Error\n", 22)
            return
        self.deferred = True
        task = self.server.get_loop().create_task(coroutine)  # resumes after the _Suspend
        self.task = task
        self.server._handshakes.add(self)
        task.add_done_callback(lambda _: self.server._handshakes.discard(self))

    def refuse_now(self) -> None:
        """The server is closing: 503 at once (before the native shutdown drops the socket),
        and the hooks still running are cancelled."""
        if not self.answered:
            self._respond(plain_response(503, "Service Unavailable\n"))
        if self.task is not None:
            self.task.cancel()

    async def _resolve(self, value: Any) -> Any:
        """``value``, awaited if it is an awaitable (deferring the request first)."""
        if inspect.isawaitable(value):
            if not self.deferred:
                await _Suspend()
            return await value
        return value

    async def _decide(self) -> None:
        server, connection = self.server, self.connection
        request = connection.request
        try:
            if server._closing:
                self._respond(plain_response(503, "Service Unavailable\n"))
                return
            response: Optional[Response] = None
            if server.process_request is not None:
                try:
                    response = await self._resolve(server.process_request(connection, request))
                except Exception:
                    if self.answered:  # dropped by the hook (transport closed), then it failed
                        return
                    server.logger.error("process_request failed", exc_info=True)
                    self._respond(_internal_error())
                    return
                if self.answered:  # the hook dropped the client
                    return
            if response is None and not self.upgrade:
                response = plain_response(426, "Failed to open a WebSocket connection: "
                                               "not a WebSocket upgrade request.\n")
                response.headers["Upgrade"] = "websocket"
            subprotocol: Optional[str] = None
            if response is None and self.upgrade and server._closing:
                response = plain_response(503, "Service Unavailable\n")
            if response is None and self.upgrade and "Sec-WebSocket-Key" not in request.headers:
                # process_request may edit the request; the upgrade needs its key (websockets).
                response = plain_response(400, "Failed to open a WebSocket connection: "
                                               "missing Sec-WebSocket-Key header.\n")
            if response is None:
                try:
                    subprotocol = self._select_subprotocol(request.subprotocols)  # type: ignore[union-attr]
                except NegotiationError as error:
                    response = plain_response(400, f"Failed to open a WebSocket connection: {error}.\n")
            if response is None:
                response = self._switching_protocols(request, subprotocol)
            if server.process_response is not None:
                try:
                    replaced = await self._resolve(server.process_response(connection, request, response))
                except Exception:
                    if self.answered:
                        return
                    server.logger.error("process_response failed", exc_info=True)
                    self._respond(_internal_error())
                    return
                if self.answered:  # the hook dropped the client
                    return
                if replaced is not None:
                    response = replaced
                if isinstance(response, Response) and response.status_code == 101 and self.upgrade:
                    self._check_library_headers(response, request, subprotocol)
            if not isinstance(response, Response):
                raise TypeError(f"expected a Response or None, got {type(response).__name__}")
            if server.server_header and "Server" not in response.headers:
                response.headers["Server"] = server.server_header
            connection.response = response
            if response.status_code == 101 and self.upgrade:
                self._accept(response, subprotocol)
            else:
                self._respond(response)
        except asyncio.CancelledError:
            if not self.answered:
                self._respond(plain_response(503, "Service Unavailable\n"))  # the server is closing
            raise
        except Exception:
            server.logger.error("opening handshake failed", exc_info=True)
            self._respond(_internal_error())

    def _select_subprotocol(self, offered: List[str]) -> Optional[str]:
        """websockets' rule: the user's ``select_subprotocol``, else the first of the server's
        ``subprotocols`` the client offered; none offered while the server has some, or none in
        common, is a NegotiationError (400)."""
        server = self.server
        if server.select_subprotocol is not None:
            chosen = server.select_subprotocol(self.connection, offered)
            if chosen is not None and chosen not in offered:
                raise InvalidHandshake(f"select_subprotocol returned {chosen!r}, which the client did not offer")
            return chosen
        if not server.subprotocols:
            return None
        if not offered:
            raise NegotiationError("missing subprotocol")
        for subprotocol in server.subprotocols:
            if subprotocol in offered:
                return subprotocol
        raise NegotiationError("invalid subprotocol; expected one of " + ", ".join(server.subprotocols))

    def _switching_protocols(self, request: Request, subprotocol: Optional[str]) -> Response:
        """The 101 response the library will send (what ``process_response`` sees and edits)."""
        headers = Headers()
        headers["Upgrade"] = "websocket"
        headers["Connection"] = "Upgrade"
        headers["Sec-WebSocket-Accept"] = accept_key(request.headers.get("Sec-WebSocket-Key", ""))
        if subprotocol is not None:
            headers["Sec-WebSocket-Protocol"] = subprotocol
        return Response(101, "Switching Protocols", headers, b"")

    def _check_library_headers(self, response: Response, request: Request, subprotocol: Optional[str]) -> None:
        """A 101's Upgrade, Connection, Sec-WebSocket-Accept and Sec-WebSocket-Protocol are the
        library's to write, and it sends only a valid handshake: a ``process_response`` that
        removed or changed one fails the handshake with a clear error (logged, then 500) rather
        than sending something other than what it asked for (websockets sends it as edited)."""
        expected = self._switching_protocols(request, subprotocol).headers
        for name in ("Upgrade", "Connection", "Sec-WebSocket-Accept", "Sec-WebSocket-Protocol"):
            if response.headers.get_all(name) != expected.get_all(name):
                raise InvalidHandshake(f"process_response removed or changed the {name} header of the 101 "
                                       "response: the library writes it and sends only a valid handshake")

    def _add_headers(self, response: Response) -> None:
        for name, value in response.headers.raw_items():
            if name.lower() in _LIBRARY_HEADERS:
                continue
            status = n.lib.sws_request_add_response_header(self.handle, name.encode("latin-1"), str(value).encode("latin-1"))
            if status != n.SWS_OK:
                self.server.logger.warning("response header %s not sent: %s", name, n.last_error())

    def _accept(self, response: Response, subprotocol: Optional[str]) -> None:
        self.answered = True
        if isinstance(getattr(self.connection, "transport", None), HandshakeTransport):
            del self.connection.transport  # type: ignore[attr-defined]  # only the hooks' (see there)
        self._add_headers(response)
        key = new_key()
        native = self.server._native
        assert native is not None
        native.targets[key] = _Opening(self.server, self.connection, key)
        status = n.lib.sws_request_accept(self.handle, subprotocol.encode() if subprotocol else None, key)
        if status != n.SWS_OK:
            native.targets.pop(key, None)
            if status != n.SWS_ERR_CLOSED:  # CLOSED: the client left, or the timeout answered 503
                raise InvalidHandshake(f"accepting the upgrade failed: {n.last_error()}")
        native.kick()

    def _respond(self, response: Response) -> None:
        self.answered = True
        self._add_headers(response)
        body = bytes(response.body or b"")
        n.lib.sws_request_respond(self.handle, response.status_code, body or None, len(body))
        if self.server._native is not None:
            self.server._native.kick()


class _Opening:
    """Where the native ``on_open`` of an accepted upgrade lands (by its user data key): the
    connection ``process_request`` saw becomes the open one."""

    def __init__(self, server: "Server", connection: "ServerConnection", key: int) -> None:
        self.server = server
        self.connection = connection
        self.key = key

    def _on_native_open(self, conn: int) -> "ServerConnection":
        native = self.server._native
        if native is not None:
            native.targets.pop(self.key, None)
        return self.server._opened(self.connection, conn)
