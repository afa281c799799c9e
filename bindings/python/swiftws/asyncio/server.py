"""The asyncio server: ``serve(handler, host, port, ...)``, shaped like ``websockets.asyncio.server``.

    async def echo(websocket):
        async for message in websocket:
            await websocket.send(message)

    async with serve(echo, "localhost", 8765) as server:
        await server.serve_forever()

Each accepted connection runs ``handler(connection)`` as an asyncio task; when the handler
returns, the connection is closed with 1000; when it raises, the error is logged and the
connection is closed with 1011, and the server keeps serving.
"""

from __future__ import annotations

import asyncio
import functools
import http
import ipaddress
import os
import socket
from ctypes import byref, c_char_p, c_size_t as ctypes_size_t, c_void_p, pointer as ctypes_pointer
from typing import (Any, Awaitable, Callable, Dict, Generator, Iterable, List, Optional, Sequence,
                    Set, Tuple, Union)

from .. import _native as n
from .._config import KEYWORDS, NativeConfig, milliseconds
from .._driver import NativeLoop, logger, new_key
from ..exceptions import ConnectionClosed, Response, check
from ..tls import tls_struct
from .connection import Connection, Data, State

__all__ = ["serve", "Server", "ServerConnection", "Request", "Headers", "broadcast", "unix_serve",
           "Listener", "serve_listener"]


class Headers:
    """Request headers, looked up by name (case-insensitive) while ``process_request`` runs.

    The C API gives headers by name only (no enumeration), and only during the upgrade callback,
    so this is a lookup object rather than a full mapping.
    """

    def __init__(self, request: int) -> None:
        self._request: Optional[int] = request
        self._cache: Dict[str, Optional[str]] = {}

    def get(self, name: str, default: Optional[str] = None) -> Optional[str]:
        """The first header called ``name``, or ``default``."""
        key = name.lower()
        if key not in self._cache:
            if self._request is None:
                raise RuntimeError("request headers can only be read while process_request runs")
            value = c_char_p()
            check(n.lib.sws_request_header(self._request, name.encode("latin-1"), byref(value)))
            self._cache[key] = value.value.decode("latin-1") if value.value is not None else None
        result = self._cache[key]
        return default if result is None else result

    def __getitem__(self, name: str) -> str:
        value = self.get(name)
        if value is None:
            raise KeyError(name)
        return value

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and self.get(name) is not None

    def get_all(self, name: str) -> List[str]:
        """The values of ``name`` (the first one only: the C API gives one per name)."""
        value = self.get(name)
        return [] if value is None else [value]


class Request:
    """The opening handshake's request: ``path`` (with the query, as in websockets), ``headers``
    (during ``process_request`` only), the ``subprotocols`` the client offered, and
    ``peer_certificate_subject``: the subject of the client's TLS certificate ("CN=client") when
    the server verifies client certificates (``verify_mode=ssl.CERT_REQUIRED``), else None (a
    SwiftWS addition: websockets users read ``transport.get_extra_info("peercert")``)."""

    def __init__(self, request: int) -> None:
        target = c_char_p()
        check(n.lib.sws_request_target(request, byref(target), None))
        self.path: str = (target.value or b"/").decode("utf-8", "replace")
        self.headers = Headers(request)
        self.subprotocols: List[str] = []
        for index in range(n.lib.sws_request_subprotocol_count(request)):
            name = c_char_p()
            if n.lib.sws_request_subprotocol(request, index, byref(name)) == n.SWS_OK and name.value:
                self.subprotocols.append(name.value.decode())
        subject = c_char_p()
        check(n.lib.sws_request_peer_certificate_subject(request, byref(subject)))
        self.peer_certificate_subject: Optional[str] = subject.value.decode("utf-8", "replace") if subject.value else None

    def _expire(self) -> None:
        self.headers._request = None


class _UpgradeConnection:
    """What ``process_request(connection, request)`` gets as ``connection``: ``respond()``
    builds the HTTP response that refuses the upgrade (or answers a plain HTTP request)."""

    def __init__(self, server: "Server", request: Request) -> None:
        self.server = server
        self.request = request

    def respond(self, status: Union[int, http.HTTPStatus], text: str) -> Response:
        """A text/plain response with ``status``, as websockets' ``ServerConnection.respond``."""
        status = http.HTTPStatus(status)
        return Response(status.value, status.phrase, text.encode("utf-8"))


class ServerConnection(Connection):
    """A connection accepted by a server; ``request.path`` is the requested path."""

    def __init__(self, native: NativeLoop, conn: int, server: "Server") -> None:
        super().__init__(native, conn)
        self.server = server
        self.request = _RequestInfo(self.path + (f"?{self.query}" if self.query is not None else ""))

    def _connection_lost(self) -> None:
        self.server._connections.discard(self)


class Listener:
    """Callbacks of one connection for ``serve_listener`` (the shape of picows' ``WSListener``):
    no task per connection and no ``await``; messages arrive in ``on_message`` straight from the
    native loop, and ``connection.send_nowait()`` answers at once (writes made while the native
    loop runs are batched into one system call per connection per iteration).

    An exception raised in a callback is logged and closes that connection with 1011."""

    def on_open(self, connection: "ListenerConnection") -> None:
        """The connection is open."""

    def on_message(self, connection: "ListenerConnection", message: Data) -> None:
        """A whole message: ``str`` for text, ``bytes`` for binary."""

    def on_close(self, connection: "ListenerConnection", code: int, reason: str) -> None:
        """The connection closed with ``code`` and ``reason``."""


class ListenerConnection(ServerConnection):
    """A server connection whose events go to a ``Listener`` instead of ``recv``."""

    def __init__(self, native: NativeLoop, conn: int, server: "Server", listener: Listener) -> None:
        super().__init__(native, conn, server)
        self.listener = listener
        # Bound once (a C-level partial): the native callback calls the listener directly.
        self._message_sink = functools.partial(listener.on_message, self)

    def _connection_lost(self) -> None:
        super()._connection_lost()
        try:
            self.listener.on_close(self, self.close_code or n.SWS_CLOSE_ABNORMAL, self.close_reason or "")
        except Exception:
            logger.exception("swiftws: exception in Listener.on_close")


class _RequestInfo:
    """The part of the request kept for the connection's life (headers are not kept)."""

    def __init__(self, path: str) -> None:
        self.path = path


class _SocketName:
    """Stands for a listening socket in ``Server.sockets`` (only ``getsockname()``): (host, port),
    or a Unix socket's path."""

    def __init__(self, host: str, port: Optional[int] = None) -> None:
        self._name: Any = (host, port) if port is not None else host

    def getsockname(self) -> Any:
        return self._name


def _addresses(host: Optional[str]) -> List[str]:
    """Numeric addresses to listen on for ``host`` (a name is resolved, as asyncio does)."""
    if host is None or host == "":
        return ["::"] if socket.has_ipv6 else ["0.0.0.0"]
    try:
        ipaddress.ip_address(host)
        return [host]
    except ValueError:
        pass
    result: List[str] = []
    for family, _, _, _, sockaddr in socket.getaddrinfo(host, None, type=socket.SOCK_STREAM):
        if family in (socket.AF_INET, socket.AF_INET6) and sockaddr[0] not in result:
            result.append(sockaddr[0])
    return result


class Server:
    """A running WebSocket server (one native server per listening address)."""

    def __init__(self, handler: Optional[Callable[[ServerConnection], Awaitable[None]]], *,
                 process_request: Optional[Callable[..., Any]], write_limit: int,
                 close_timeout: Optional[float],
                 listener_factory: Optional[Callable[[], "Listener"]] = None) -> None:
        self.handler = handler
        self.listener_factory = listener_factory
        self.process_request = process_request
        self.write_limit = write_limit
        self.close_timeout = close_timeout
        self._native: Optional[NativeLoop] = None
        self._servers: List[int] = []
        self._names: List[_SocketName] = []
        self._key = new_key()
        self._connections: Set[ServerConnection] = set()
        self._tasks: Set[asyncio.Task] = set()
        self._closing = False
        self._closed: Optional[asyncio.Future] = None
        self._done_callbacks: List[Any] = []

    async def _start(self, host: Optional[str], port: int, config: NativeConfig,
                     path: Optional[str] = None, sock: Optional[socket.socket] = None) -> None:
        native = self._native = NativeLoop.acquire()
        self._closed = native.aloop.create_future()
        native.targets[self._key] = self
        try:
            if path is not None or sock is not None:
                self._start_on_socket(native, config, path, sock)
                return
            for address in _addresses(host):
                out = c_void_p()
                status = n.lib.sws_server_new(native.handle, address.encode(), port, config.pointer(),
                                              byref(native.handlers), self._key, byref(out))
                if status != n.SWS_OK:
                    detail = n.last_error()
                    raise OSError(f"[swiftws] could not listen on {address}:{port}: {detail}")
                self._servers.append(out.value)  # type: ignore[arg-type]
                port = port or int(n.lib.sws_server_port(out.value))
                self._names.append(_SocketName(address, port))
        except BaseException:
            self._free_servers()
            native.targets.pop(self._key, None)
            native.release()
            self._native = None
            raise

    def _start_on_socket(self, native: NativeLoop, config: NativeConfig, path: Optional[str],
                         sock: Optional[socket.socket]) -> None:
        """One native server on the Unix socket ``path`` or on the listening socket ``sock`` (a
        duplicate of its descriptor: the caller's socket object stays its own)."""
        out = c_void_p()
        if path is not None:
            status = n.lib.sws_server_new_unix(native.handle, path.encode("utf-8"), config.pointer(),
                                               byref(native.handlers), self._key, byref(out))
            where = path
        else:
            assert sock is not None
            descriptor = os.dup(sock.fileno())
            status = n.lib.sws_server_new_from_socket(native.handle, descriptor, config.pointer(),
                                                      byref(native.handlers), self._key, byref(out))
            if status != n.SWS_OK:
                os.close(descriptor)
            where = f"socket {sock.fileno()}"
        if status != n.SWS_OK:
            raise OSError(f"[swiftws] could not listen on {where}: {n.last_error()}")
        self._servers.append(out.value)  # type: ignore[arg-type]
        if path is not None:
            self._names.append(_SocketName(path))
        else:
            name = sock.getsockname()  # type: ignore[union-attr]
            self._names.append(_SocketName(*name[:2]) if isinstance(name, tuple) else _SocketName(name))

    # -- native events -------------------------------------------------------------------------

    def _on_upgrade(self, request_handle: int, upgrade: bool) -> None:
        request = Request(request_handle)
        try:
            if self._closing:
                n.lib.sws_request_respond(request_handle, 503, b"Service Unavailable\n", 20)
                return
            response = None
            if self.process_request is not None:
                response = self.process_request(_UpgradeConnection(self, request), request)
                if asyncio.iscoroutine(response):
                    response.close()
                    raise TypeError("process_request must be a plain function here: the upgrade is "
                                    "decided inside the native callback (see the package README)")
            if response is None:
                if not upgrade:
                    body = b"Failed to open a WebSocket connection: not a WebSocket upgrade request.\n"
                    n.lib.sws_request_respond(request_handle, 426, body, len(body))
                return  # accepted (with the first configured subprotocol the client offered)
            if isinstance(response, tuple):  # legacy (status, headers, body)
                status, _headers, body = response
                response = Response(int(status), "", body if isinstance(body, bytes) else str(body).encode())
            if not isinstance(response, Response):
                raise TypeError(f"process_request returned {type(response).__name__}, not a Response or None")
            check(n.lib.sws_request_respond(request_handle, response.status_code, response.body or None,
                                            len(response.body)), "sws_request_respond")
        finally:
            request._expire()

    def _on_native_open(self, conn: int) -> ServerConnection:
        assert self._native is not None
        if self.listener_factory is not None:
            listener = self.listener_factory()
            listening = ListenerConnection(self._native, conn, self, listener)
            listening.write_limit = self.write_limit
            self._connections.add(listening)
            listener.on_open(listening)  # an exception here is logged and closes with 1011
            return listening
        connection = ServerConnection(self._native, conn, self)
        connection.write_limit = self.write_limit
        self._connections.add(connection)
        task = self._native.aloop.create_task(self._run_handler(connection))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return connection

    async def _run_handler(self, connection: ServerConnection) -> None:
        try:
            await self.handler(connection)
        except ConnectionClosed:
            pass  # the peer left while the handler was sending or receiving
        except Exception:
            logger.error("connection handler failed", exc_info=True)
            await _close_quietly(connection, 1011, "internal error")
            return
        await _close_quietly(connection, 1000, "")

    # -- websockets' Server API ------------------------------------------------------------------

    @property
    def connections(self) -> Set[ServerConnection]:
        """The open connections."""
        return set(self._connections)

    @property
    def sockets(self) -> List[_SocketName]:
        """One object per listening address, with ``getsockname()`` → (host, port)."""
        return list(self._names)

    @property
    def port(self) -> int:
        """The port the server listens on."""
        return self._names[0].getsockname()[1] if self._names else 0

    def is_serving(self) -> bool:
        """Whether the server accepts connections."""
        return bool(self._servers) and not self._closing

    def close(self, close_connections: bool = True) -> None:
        """Stops listening and (by default) closes every connection with 1001; see ``wait_closed``."""
        if self._closing or self._native is None:
            return
        self._closing = True
        native = self._native
        if not close_connections:
            self._free_servers()
            self._finish_when_handlers_done()
            return
        remaining = [len(self._servers)]
        timeout_ms = milliseconds(self.close_timeout, 10_000) or 1

        def done(server: int, _user_data: int) -> None:
            n.lib.sws_server_free(server)
            if server in self._servers:
                self._servers.remove(server)
            remaining[0] -= 1
            if remaining[0] == 0:
                native.aloop.call_soon(self._finish_when_handlers_done)

        callback = n.SERVER_SHUTDOWN_DONE(done)
        self._done_callbacks.append(callback)
        for server in list(self._servers):
            if n.lib.sws_server_shutdown(server, timeout_ms, callback, None) != n.SWS_OK:
                done(server, 0)
        native.kick()

    def _free_servers(self) -> None:
        for server in self._servers:
            n.lib.sws_server_free(server)
        self._servers.clear()

    def _finish_when_handlers_done(self) -> None:
        native = self._native
        if native is None:
            return

        async def finish() -> None:
            if self._tasks:
                await asyncio.gather(*list(self._tasks), return_exceptions=True)
            native.targets.pop(self._key, None)
            self._native = None
            native.release()
            if self._closed is not None and not self._closed.done():
                self._closed.set_result(None)

        native.aloop.create_task(finish())

    async def wait_closed(self) -> None:
        """Waits until the server is closed and every handler has returned."""
        if self._closed is not None:
            await asyncio.shield(self._closed)

    async def serve_forever(self) -> None:
        """Runs until cancelled (then closes the server) or until ``close()``."""
        try:
            await self.wait_closed()
        except asyncio.CancelledError:
            self.close()
            await self.wait_closed()
            raise

    async def start_serving(self) -> None:
        """Nothing to do: the server serves from its creation (asyncio.Server compatibility)."""

    async def __aenter__(self) -> "Server":
        return self

    async def __aexit__(self, *exc: Any) -> None:
        self.close()
        await self.wait_closed()

    def broadcast(self, message: Data, excluding: Optional[Connection] = None) -> int:
        """Sends ``message`` to every open connection of this server; the frame is built once
        (``sws_server_broadcast``). Returns how many connections took it."""
        kind = n.SWS_MESSAGE_TEXT if isinstance(message, str) else n.SWS_MESSAGE_BINARY
        data = message.encode("utf-8") if isinstance(message, str) else bytes(message)
        delivered = 0
        count = ctypes_size_t()
        skip = excluding._conn if excluding is not None else None
        for server in self._servers:
            check(n.lib.sws_server_broadcast(server, kind, data, len(data), skip, byref(count)))
            delivered += count.value
        if self._native is not None:
            self._native.kick()
        return delivered


async def _close_quietly(connection: Connection, code: int, reason: str) -> None:
    try:
        await connection.close(code, reason)
    except Exception:
        logger.debug("closing a connection failed", exc_info=True)


class serve:
    """Starts a WebSocket server on ``host``:``port``: ``await serve(...)`` or ``async with serve(...)``.

    Options (websockets' names): ``process_request(connection, request)`` — return None to
    accept, or ``connection.respond(status, text)`` to refuse (a plain function: it runs inside
    the native upgrade callback); ``subprotocols``; ``origins`` (None in the list allows requests
    without Origin); ``compression`` ("deflate" or None); ``max_size`` (bytes, None: no limit);
    ``ping_interval`` / ``ping_timeout`` / ``close_timeout`` / ``open_timeout`` (seconds, None:
    off); ``write_limit`` (bytes buffered before ``send`` waits); ``reuse_port``;
    ``max_connections`` (more get 503); ``ssl`` (a ``swiftws.tls.SSLContext`` with
    ``load_cert_chain(certfile, keyfile)``: serves wss://; see ``swiftws.tls``); ``sock`` (a
    listening socket to serve on, e.g. from socket activation: the server takes a duplicate of
    its descriptor); ``unix``/``path`` (see ``unix_serve``).
    """

    def __init__(self, handler: Callable[[ServerConnection], Awaitable[None]], host: Optional[str] = None,
                 port: Optional[int] = None, *, process_request: Optional[Callable[..., Any]] = None,
                 subprotocols: Optional[Sequence[str]] = None, origins: Optional[Sequence[Optional[str]]] = None,
                 compression: Optional[str] = "deflate", max_size: Optional[int] = 2 ** 20,
                 ping_interval: Optional[float] = 20, ping_timeout: Optional[float] = 20,
                 close_timeout: Optional[float] = 10, open_timeout: Optional[float] = 10,
                 write_limit: int = 32 * 1024, reuse_port: bool = False, max_connections: int = 0,
                 ssl: Any = None, sock: Optional[socket.socket] = None, unix: bool = False,
                 path: Optional[str] = None,
                 max_queue: Any = None, logger: Any = None, server_header: Any = None,
                 _listener_factory: Optional[Callable[[], Listener]] = None, **options: Any) -> None:
        # SwiftWS's own limits (idle_timeout, message_timeout, memory_budget, max_buffered, …;
        # see swiftws._config.OPTIONS) come as further keywords; anything else is an error.
        unsupported = set(options) - KEYWORDS
        if unsupported:
            raise TypeError(f"serve() got unsupported arguments: {', '.join(sorted(unsupported))}")
        self._handler = handler
        self._host = host
        self._port = int(port or 0)
        if unix and path is None:
            raise ValueError("unix_serve() needs a path")
        self._path = path if unix else None
        self._sock = sock
        self._server = Server(handler, process_request=process_request, write_limit=write_limit,
                              close_timeout=close_timeout, listener_factory=_listener_factory)
        # No native limit on buffered output unless asked: Connection.send waits for the drain
        # instead, as in websockets.
        options.setdefault("max_buffered", None)
        config = NativeConfig("server", compression, dict(
            options, max_size=max_size, ping_interval=ping_interval, ping_timeout=ping_timeout,
            close_timeout=close_timeout, open_timeout=open_timeout, max_connections=max_connections,
            reuse_port=reuse_port))
        if subprotocols:
            config.strings("subprotocol_count", "subprotocols", list(subprotocols))
        if origins is not None:
            allowed = [origin for origin in origins if origin]
            if not allowed:  # only None: any Origin header is refused
                raise ValueError("origins must contain at least one origin string")
            config.strings("allowed_origin_count", "allowed_origins", allowed)
            config.endpoint.require_origin = None not in origins
        if ssl is not None:
            tls_config, keep = tls_struct(ssl, server=True)
            config.keep(tls_config, keep)
            config.endpoint.tls = ctypes_pointer(tls_config)
        self._config: Optional[NativeConfig] = config

    async def _create(self) -> Server:
        assert self._config is not None, "serve() objects are awaited once"
        await self._server._start(self._host, self._port, self._config, path=self._path, sock=self._sock)
        self._config = None  # the library has copied what it needs
        return self._server

    def __await__(self) -> Generator[Any, None, Server]:
        return self._create().__await__()

    async def __aenter__(self) -> Server:
        return await self._create()

    async def __aexit__(self, *exc: Any) -> None:
        self._server.close()
        await self._server.wait_closed()


def serve_listener(listener_factory: Callable[[], Listener], host: Optional[str] = None,
                   port: Optional[int] = None, **options: Any) -> serve:
    """Starts a server whose connections report to ``listener_factory()`` objects (see
    ``Listener``) instead of running a handler coroutine: the fastest way to serve from Python.
    Options as ``serve``; use it the same way (``await`` or ``async with``)."""
    return serve(None, host, port, _listener_factory=listener_factory, **options)  # type: ignore[arg-type]


def unix_serve(handler: Callable[[ServerConnection], Awaitable[None]], path: Optional[str] = None,
               **kwargs: Any) -> serve:
    """Starts a WebSocket server on the Unix socket ``path`` (a stale socket file there is
    replaced and removed when the server closes; "@name": Linux's abstract namespace, no file).
    Options as ``serve``; use it the same way (``await`` or ``async with``)."""
    return serve(handler, unix=True, path=path, **kwargs)


def broadcast(connections: Iterable[Connection], message: Data, raise_exceptions: bool = False) -> None:
    """Sends ``message`` to every connection that is open, without waiting (as websockets'
    ``broadcast``): a connection that is closing, or that has more than its ``write_limit``
    buffered (a slow reader), is skipped (with a warning for the latter)."""
    if not isinstance(message, (str, bytes, bytearray, memoryview)):
        raise TypeError("data must be str or bytes")
    errors: List[Exception] = []
    for connection in connections:
        if connection.state is not State.OPEN or connection._conn is None:
            continue
        if n.fast.sws_conn_buffered_amount(connection._conn) > connection.write_limit:
            logger.warning("skipped broadcast: connection %s is too slow", connection.id)
            continue
        try:
            connection.send_nowait(message)
        except Exception as error:
            if raise_exceptions:
                errors.append(error)
            else:
                logger.warning("skipped broadcast: failed to write message: %s", error)
    if errors:
        if len(errors) == 1:
            raise errors[0]
        raise ExceptionGroup("skipped broadcast", errors)  # type: ignore[name-defined]  # noqa: F821

