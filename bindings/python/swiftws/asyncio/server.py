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
import logging
import os
import socket
import sys
from ctypes import byref, c_size_t as ctypes_size_t, c_void_p, pointer as ctypes_pointer
from typing import (Any, Awaitable, Callable, Dict, Generator, Iterable, List, Optional, Sequence,
                    Set, Tuple, Union)  # noqa: F401

from .. import _native as n
from .._config import KEYWORDS, NativeConfig, milliseconds
from .._driver import NativeLoop, _send_batch, logger, new_key
from .._log import native_log
from ..auth import basic_auth
from ..datastructures import Headers
from ..exceptions import ConcurrencyError, ConnectionClosed, ExceptionGroup, check
from ..http11 import Request, Response
from ..tls import needs_asyncio_tls, tls_struct
from .connection import _BINARY, _TEXT, Connection, Data, State

_OPEN = State.OPEN  # a module global: no enum attribute lookup per send
from ._loops import LoopBridge, _OtherLoop
from ._tls_relay import TLSRelay
from .handshake import Handshake, no_request_log, plain_response, read_request

__all__ = ["serve", "Server", "ServerConnection", "Request", "Response", "Headers", "broadcast", "unix_serve",
           "Listener", "serve_listener", "basic_auth"]

#: websockets' default Server header, with this package's name.
SERVER_HEADER = f"Python/{sys.version_info.major}.{sys.version_info.minor} swiftws/0.1.0"


class ServerConnection(Connection):
    """A connection accepted by a server. Made when the request arrives (CONNECTING), so that
    ``process_request`` and the handler get the same object; ``request`` is the opening
    request (path with query, every header), ``response`` the answer."""

    def __init__(self, native: NativeLoop, server: "Server", request: Request) -> None:
        super().__init__(native)
        self.server = server
        self.request = request
        self.logger = logging.LoggerAdapter(server.logger, {"websocket": self})
        self.max_queue = server.max_queue
        self._close_timeout = server.close_timeout
        self.username: Optional[str] = None

    def respond(self, status: Union[int, http.HTTPStatus], text: str) -> Response:
        """A text/plain response with ``status``, for ``process_request`` to return."""
        return plain_response(status, text)

    def _connection_lost(self) -> None:
        self.server._connections.discard(self)

    def subscribe(self, topic: str) -> None:
        """Subscribes this connection to ``topic`` (``Server.publish``); with ``redis=`` on the
        server, topics span every server joined to that Redis."""
        if self._conn is not None:
            check(n.lib.sws_conn_subscribe(self._conn, topic.encode("utf-8")), "sws_conn_subscribe")

    def unsubscribe(self, topic: str) -> None:
        """Unsubscribes this connection from ``topic``."""
        if self._conn is not None:
            check(n.lib.sws_conn_unsubscribe(self._conn, topic.encode("utf-8")), "sws_conn_unsubscribe")


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

    def __init__(self, native: NativeLoop, server: "Server", request: Request, listener: Listener) -> None:
        super().__init__(native, server, request)
        self.listener = listener
        #: Whether send_nowait may collect bytes/str sends made while on_messages runs (see
        #: send_nowait): not when a native limit (max_buffered, memory_budget) may drop one.
        self._collects_sends = server._collect_sends and _send_batch is not None
        # Bound once (a C-level partial): the native callback calls the listener directly.
        self._message_sink = functools.partial(listener.on_message, self)

    def send_nowait(self, message: Data) -> bool:
        """As ``Connection.send_nowait``. While the native loop hands over a batch of messages
        (inside ``on_message``), a ``bytes`` or ``str`` message on an open connection with
        nothing buffered for its peer is collected instead of written at once: every reply
        collected during the batch goes out in one native call when the batch has been handled
        (and before anything else this program writes to or closes a connection meanwhile), in
        the same loop iteration's flush as a direct send would. It returns True (corked for
        this iteration's flush), as a direct send would, except in two cases the binding cannot
        see from Python, where the reply is dropped or buffered after True was returned: the
        peer's close frame came in the same read as the message (a direct send would raise
        ``ConnectionClosed``, which on_message's caller ignores), or the kernel refused bytes
        of this connection's earlier replies during this iteration (a direct send would return
        False; the connection's later sends go one by one until on_drain)."""
        native = self._native
        fields = native.pending_sends
        if fields is not None and self._collects_sends and self._state is _OPEN and not self._backlogged \
                and self._fragmenting is None:
            kind = type(message)
            if kind is bytes:
                fields += (self._conn, len(message), _BINARY)
                native.pending_payloads.append(message)
                return True
            if kind is str:
                data = message.encode("utf-8")  # type: ignore[union-attr]
                fields += (self._conn, len(data), _TEXT)
                native.pending_payloads.append(data)
                return True
        if fields:
            native.flush_sends()  # what was collected goes first: the frames keep their order
        return super().send_nowait(message)

    def _connection_lost(self) -> None:
        super()._connection_lost()
        try:
            self.listener.on_close(self, self.close_code or n.SWS_CLOSE_ABNORMAL, self.close_reason or "")
        except Exception:
            logger.exception("swiftws: exception in Listener.on_close")


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
                 process_request: Optional[Callable[..., Any]] = None,
                 process_response: Optional[Callable[..., Any]] = None,
                 select_subprotocol: Optional[Callable[..., Any]] = None,
                 subprotocols: Optional[Sequence[str]] = None, server_header: Optional[str] = SERVER_HEADER,
                 write_limit: int = 32 * 1024, close_timeout: Optional[float] = 10,
                 logger: Any = None, create_connection: Optional[Callable[..., ServerConnection]] = None,
                 listener_factory: Optional[Callable[[], "Listener"]] = None) -> None:
        self.handler = handler
        self.listener_factory = listener_factory
        #: Whether listener connections may collect their sends (ListenerConnection.send_nowait).
        self._collect_sends = True
        self.process_request = process_request
        self.process_response = process_response
        self.select_subprotocol = select_subprotocol
        self.subprotocols = list(subprotocols or [])
        self.server_header = server_header
        self.write_limit = write_limit
        self.close_timeout = close_timeout
        #: Where the server and its connections log (websockets' default: "websockets.server").
        self.logger: Any = logging.getLogger("websockets.server") if logger is None else logger
        self.create_connection = create_connection or ServerConnection
        self._native: Optional[NativeLoop] = None
        self._servers: List[int] = []
        self._sockets: List[socket.socket] = []
        #: Whether the server was started with redis= (see publish).
        self._redis = False
        #: Native loops (serve(loops=N)); with more than one, a LoopBridge serves the others.
        self._loops = 1
        self._bridge: Optional[LoopBridge] = None
        self._key = new_key()
        self._connections: Set[ServerConnection] = set()
        self._tasks: Set[asyncio.Task] = set()
        #: Deferred opening handshakes (an async process_request or process_response running).
        self._handshakes: Set[Handshake] = set()
        self._closing = False
        self._closed: Optional[asyncio.Future] = None
        self._done_callbacks: List[Any] = []
        #: (host, port, config, Unix path, socket) of a server made with start_serving=False,
        #: until it starts.
        self._pending_start: Optional[Tuple[Optional[str], int, NativeConfig, Optional[str],
                                            Optional[socket.socket]]] = None
        #: The task running serve_forever(), which close() cancels.
        self._serve_forever: Optional["asyncio.Task[None]"] = None
        #: With serve(ssl=<an ssl.SSLContext>): asyncio's TLS listener feeding the library.
        self._tls_relay: Optional[TLSRelay] = None
        #: The native log callback (kept alive while the server and its connections may log).
        self._log_callback: Any = None
        #: Received messages a connection holds before it pauses reading (high, low).
        self.max_queue: Tuple[Optional[int], Optional[int]] = (16, 4)

    async def _start(self, host: Optional[str], port: int, config: NativeConfig,
                     path: Optional[str] = None, sock: Optional[socket.socket] = None) -> None:
        native = self._native = NativeLoop.acquire()
        self._closed = native.aloop.create_future()
        native.targets[self._key] = self
        # loops=1 keeps the driver's handlers (no thread check on any callback).
        handlers = native.handlers
        if self._loops > 1:
            self._bridge = LoopBridge(native, self)
            handlers = self._bridge.handlers
        try:
            if self._tls_relay is not None:
                server, sockets = await self._tls_relay.start(native, config, self._key, host, port, path, sock)
                self._servers.append(server)
                self._sockets.extend(sockets)
            elif path is not None or sock is not None:
                self._start_on_socket(native, config, path, sock, handlers)
            for address in _addresses(host) if path is None and sock is None and self._tls_relay is None else []:
                out = c_void_p()
                status = n.lib.sws_server_new(native.handle, address.encode(), port, config.pointer(),
                                              byref(handlers), self._key, byref(out))
                if status != n.SWS_OK:
                    detail = n.last_error()
                    raise OSError(f"[swiftws] could not listen on {address}:{port}: {detail}")
                self._servers.append(out.value)  # type: ignore[arg-type]
                port = port or int(n.lib.sws_server_port(out.value))
                # A real socket object (a duplicate of the listening descriptor, closed with the
                # server): family, getsockname(), fileno() as asyncio's server.sockets give them.
                self._sockets.append(socket.socket(fileno=os.dup(n.lib.sws_server_fd(out.value))))
            for sock in self._sockets:
                self.logger.info("server listening on %s", _format_address(sock.getsockname()))
        except BaseException:
            self._free_servers()
            native.targets.pop(self._key, None)
            native.release()
            self._native = None
            raise

    def _start_on_socket(self, native: NativeLoop, config: NativeConfig, path: Optional[str],
                         sock: Optional[socket.socket], handlers: n.ConnHandlers) -> None:
        """One native server on the Unix socket ``path`` or on the listening socket ``sock`` (a
        duplicate of its descriptor: the caller's socket object stays its own)."""
        out = c_void_p()
        if path is not None:
            status = n.lib.sws_server_new_unix(native.handle, path.encode("utf-8"), config.pointer(),
                                               byref(handlers), self._key, byref(out))
            where = path
        else:
            assert sock is not None
            descriptor = os.dup(sock.fileno())
            status = n.lib.sws_server_new_from_socket(native.handle, descriptor, config.pointer(),
                                                      byref(handlers), self._key, byref(out))
            if status != n.SWS_OK:
                os.close(descriptor)
            where = f"socket {sock.fileno()}"
        if status != n.SWS_OK:
            raise OSError(f"[swiftws] could not listen on {where}: {n.last_error()}")
        self._servers.append(out.value)  # type: ignore[arg-type]
        self._sockets.append(socket.socket(fileno=os.dup(n.lib.sws_server_fd(out.value))))

    # -- native events -------------------------------------------------------------------------

    def _on_upgrade(self, request_handle: int, upgrade: bool) -> None:
        """A request arrived (native on_upgrade / on_http_request): decide it (see handshake)."""
        assert self._native is not None
        request = read_request(request_handle)
        if self.listener_factory is not None:
            connection: ServerConnection = ListenerConnection(self._native, self, request, self.listener_factory())
        else:
            connection = self.create_connection(self._native, self, request)
        Handshake(self, request_handle, connection, upgrade).run()

    def _opened(self, connection: ServerConnection, conn: int) -> ServerConnection:
        """The native connection of an accepted upgrade opened: ``connection`` takes it."""
        assert self._native is not None
        connection._attach(conn)
        if self._tls_relay is not None:
            self._tls_relay.opened(connection)
        connection.write_limit = self.write_limit
        self._connections.add(connection)
        if isinstance(connection, ListenerConnection):
            connection.listener.on_open(connection)  # an exception here is logged and closes with 1011
            return connection
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
            self.logger.error("connection handler failed", exc_info=True)
            await _close_quietly(connection, 1011, "")
            return
        await _close_quietly(connection, 1000, "")

    # -- websockets' Server API ------------------------------------------------------------------

    @property
    def connections(self) -> Set[ServerConnection]:
        """The open connections."""
        return set(self._connections)

    @property
    def sockets(self) -> List[socket.socket]:
        """The listening sockets, one per address (real sockets: ``family``, ``getsockname()``,
        ``fileno()``); empty once closed."""
        return list(self._sockets)

    @property
    def port(self) -> int:
        """The port the server listens on."""
        return self._sockets[0].getsockname()[1] if self._sockets else 0

    def get_loop(self) -> asyncio.AbstractEventLoop:
        """The asyncio loop the server runs on."""
        return self._native.aloop if self._native is not None else asyncio.get_running_loop()

    def is_serving(self) -> bool:
        """Whether the server accepts connections."""
        return bool(self._servers) and not self._closing

    def close(self, close_connections: bool = True, code: int = 1001, reason: str = "") -> None:
        """Stops listening and (by default) closes every connection with ``code`` and ``reason``
        (1001, going away); see ``wait_closed``. A running ``serve_forever`` is cancelled."""
        if self._serve_forever is not None and self._serve_forever is not asyncio.current_task():
            self._serve_forever.cancel()
        if self._closing or self._native is None:
            return
        self._closing = True
        native = self._native
        native.flush_sends()  # replies collected before this close go out before its close frames
        for handshake in list(self._handshakes):
            handshake.refuse_now()
        if close_connections:
            for connection in list(self._connections):
                connection._fail(code, reason)
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
        self._close_sockets()  # our duplicates: the port is released when the servers stop
        for server in list(self._servers):
            if n.lib.sws_server_shutdown(server, timeout_ms, callback, None) != n.SWS_OK:
                done(server, 0)
        native.kick()

    def _free_servers(self) -> None:
        for server in self._servers:
            n.lib.sws_server_free(server)
        self._servers.clear()
        self._close_sockets()

    def _close_sockets(self) -> None:
        if self._tls_relay is not None:
            self._tls_relay.close()
        for sock in self._sockets:
            sock.close()
        self._sockets.clear()

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
        """Runs until cancelled or until ``close()`` (both end it with CancelledError, as
        asyncio's ``Server.serve_forever``); closes the server when cancelled."""
        if self._serve_forever is not None:
            raise RuntimeError(f"server {self!r} is already being awaited on serve_forever()")
        if self._closing:
            raise RuntimeError(f"server {self!r} is closed")
        await self.start_serving()
        self._serve_forever = asyncio.current_task()
        try:
            await self.wait_closed()
            raise asyncio.CancelledError()
        except asyncio.CancelledError:
            self.close()
            await self.wait_closed()
            raise
        finally:
            self._serve_forever = None

    async def start_serving(self) -> None:
        """Starts listening, for a server made with ``start_serving=False`` (else nothing to do)."""
        pending, self._pending_start = self._pending_start, None
        if pending is not None:
            await self._start(*pending)

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
        if self._native is not None:
            self._native.flush_sends()  # each connection's frames in the order they were made
        if isinstance(excluding, _OtherLoop):
            # Its native pointer is valid on its own loop only: the broadcast starts there.
            return excluding._broadcast_from_own_loop(self._servers, None, kind, data)
        skip = excluding._conn if excluding is not None else None
        for server in self._servers:
            check(n.lib.sws_server_broadcast(server, kind, data, len(data), skip, byref(count)))
            delivered += count.value
        if self._native is not None:
            self._native.kick()
        return delivered

    def publish(self, topic: str, message: Data, excluding: Optional[Connection] = None) -> int:
        """Sends ``message`` to the subscribers of ``topic`` (``ServerConnection.subscribe``); the
        frame is built once (``sws_server_publish``); with ``redis=`` also, once, to every other
        server joined to that Redis (at-most-once: see the README). Returns how many of this
        server's connections took it."""
        kind = n.SWS_MESSAGE_TEXT if isinstance(message, str) else n.SWS_MESSAGE_BINARY
        data = message.encode("utf-8") if isinstance(message, str) else bytes(message)
        delivered = 0
        count = ctypes_size_t()
        skip = excluding._conn if excluding is not None else None
        if self._native is not None:
            self._native.flush_sends()  # each connection's frames in the order they were made
        # Each listening address is a native server; joined through Redis they are nodes of their
        # own, so one publish (through the first) reaches the others' subscribers once, by Redis.
        servers = self._servers[:1] if self._redis else self._servers
        if isinstance(excluding, _OtherLoop):
            # Its native pointer is valid on its own loop only: the publish starts there.
            return excluding._broadcast_from_own_loop(servers, topic.encode("utf-8"), kind, data)
        for server in servers:
            check(n.lib.sws_server_publish(server, topic.encode("utf-8"), kind, data, len(data), skip, byref(count)))
            delivered += count.value
        if self._native is not None:
            self._native.kick()
        return delivered

    def subscriber_count(self, topic: str) -> int:
        """How many of this server's connections are subscribed to ``topic``."""
        return sum(int(n.lib.sws_server_subscriber_count(server, topic.encode("utf-8"))) for server in self._servers)


def _format_address(address: Any) -> str:
    if not isinstance(address, tuple):  # a Unix socket's path
        return str(address)
    host, port = address[0], address[1]
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def _check_subprotocols(subprotocols: Any) -> None:
    """websockets' rule: a list of subprotocols, not a string (a common mistake)."""
    if isinstance(subprotocols, str):
        raise TypeError("subprotocols must be a list, not a str")


def queue_limits(max_queue: Union[int, Tuple[Optional[int], Optional[int]], None]) -> Tuple[Optional[int], Optional[int]]:
    """websockets' ``max_queue``: an int (low = high // 4), a (high, low) pair, or None (no limit)."""
    if max_queue is None:
        return None, None
    if isinstance(max_queue, tuple):
        high, low = max_queue
        if high is None:
            return None, None
        return high, (high // 4 if low is None else low)
    return max_queue, max_queue // 4


async def _close_quietly(connection: Connection, code: int, reason: str) -> None:
    try:
        await connection.close(code, reason)
    except Exception:
        logger.debug("closing a connection failed", exc_info=True)


class serve:
    """Starts a WebSocket server on ``host``:``port``: ``await serve(...)`` or ``async with serve(...)``.

    Options (websockets' names): ``process_request(connection, request)`` — return None to
    accept, or a ``Response`` (``connection.respond(status, text)``) to refuse; a function or a
    coroutine (the client waits for it, within ``open_timeout``); ``process_response(connection,
    request, response)`` — edit the response or return another; ``select_subprotocol(connection,
    subprotocols)``; ``subprotocols`` (without ``select_subprotocol``: the first the client offers,
    400 when none matches); ``server_header`` (None: no Server header); ``logger`` (a
    ``logging.Logger`` or adapter; default "websockets.server"); ``create_connection`` (a
    ``ServerConnection`` subclass or factory); ``start_serving`` (False: listen from
    ``start_serving()`` / ``serve_forever()``); ``max_queue`` (received messages held before
    reading pauses: an int, a (high, low) pair, or None); ``origins`` (None in the list allows requests
    without Origin); ``compression`` ("deflate" or None); ``max_size`` (bytes, None: no limit);
    ``ping_interval`` / ``ping_timeout`` / ``close_timeout`` / ``open_timeout`` (seconds, None:
    off); ``write_limit`` (bytes buffered before ``send`` waits); ``reuse_port``;
    ``max_connections`` (more get 503); ``ssl`` (a ``swiftws.tls.SSLContext`` with
    ``load_cert_chain(certfile, keyfile)``: serves wss://; see ``swiftws.tls``); ``sock`` (a
    listening socket to serve on, e.g. from socket activation: the server takes a duplicate of
    its descriptor); ``unix``/``path`` (see ``unix_serve``); ``loops`` (native event loops, 1 ..
    256: connections are spread over them, handlers still run on this asyncio loop; see
    ``swiftws.asyncio._loops``).
    """

    def __init__(self, handler: Callable[[ServerConnection], Awaitable[None]], host: Optional[str] = None,
                 port: Optional[int] = None, *, process_request: Optional[Callable[..., Any]] = None,
                 subprotocols: Optional[Sequence[str]] = None, origins: Optional[Sequence[Optional[str]]] = None,
                 compression: Optional[str] = "deflate", max_size: Optional[int] = 2 ** 20,
                 ping_interval: Optional[float] = 20, ping_timeout: Optional[float] = 20,
                 close_timeout: Optional[float] = 10, open_timeout: Optional[float] = 10,
                 write_limit: int = 32 * 1024, reuse_port: bool = False, max_connections: int = 0,
                 ssl: Any = None, process_response: Optional[Callable[..., Any]] = None,
                 select_subprotocol: Optional[Callable[..., Any]] = None,
                 server_header: Optional[str] = SERVER_HEADER, start_serving: bool = True,
                 create_connection: Optional[Callable[..., ServerConnection]] = None,
                 max_queue: Union[int, Tuple[Optional[int], Optional[int]], None] = 16, logger: Any = None,
                 sock: Optional[socket.socket] = None, unix: bool = False, path: Optional[str] = None,
                 _listener_factory: Optional[Callable[[], Listener]] = None, **options: Any) -> None:
        # SwiftWS's own limits (idle_timeout, message_timeout, memory_budget, max_buffered, …;
        # see swiftws._config.OPTIONS) come as further keywords; anything else is an error.
        unsupported = set(options) - KEYWORDS
        if unsupported:
            raise TypeError(f"serve() got unsupported arguments: {', '.join(sorted(unsupported))}")
        _check_subprotocols(subprotocols)
        if options.get("loops", 1) != 1 and needs_asyncio_tls(ssl, server=True):
            # The TLS relay feeds the library one socket at a time from asyncio; pass the
            # certificate as a swiftws.tls.SSLContext for native TLS on every loop.
            raise ValueError("loops > 1 needs ssl= as a swiftws.tls.SSLContext (native TLS), "
                             "not an ssl.SSLContext served through asyncio")
        self._handler = handler
        self._host = host
        self._port = int(port or 0)
        _check_listen_arguments(host, port, unix, path, sock)
        self._path = path if unix else None
        self._sock = sock
        self._start_serving = start_serving
        self._server = Server(handler, process_request=process_request, process_response=process_response,
                              select_subprotocol=select_subprotocol, subprotocols=subprotocols,
                              server_header=server_header, write_limit=write_limit, close_timeout=close_timeout,
                              logger=logger, create_connection=create_connection,
                              listener_factory=_listener_factory)
        self._server.max_queue = queue_limits(max_queue)
        self._server._redis = options.get("redis") is not None
        self._server._loops = options.get("loops", 1) or 1
        # No native limit on buffered output unless asked: Connection.send waits for the drain
        # instead, as in websockets.
        options.setdefault("max_buffered", None)
        # A send that a native limit may drop must not be collected (its False would be lost).
        self._server._collect_sends = options["max_buffered"] is None and options.get("memory_budget") is None
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
        if needs_asyncio_tls(ssl, server=True):
            # TLS in asyncio with the program's own context, WebSocket in the library.
            self._server._tls_relay = TLSRelay(ssl, open_timeout)
        elif ssl is not None:
            tls_config, keep = tls_struct(ssl, server=True)
            config.keep(tls_config, keep)
            config.endpoint.tls = ctypes_pointer(tls_config)
        # The library's log lines (refusals, openings, closings) go to the server's logger.
        self._server._log_callback = native_log(config, self._server.logger)
        # A client that sends no valid request: closed silently and logged, as by websockets.
        self._server._no_request_callback = no_request_log(config, self._server.logger)
        self._config: Optional[NativeConfig] = config

    async def _create(self) -> Server:
        assert self._config is not None, "serve() objects are awaited once"
        config, self._config = self._config, None  # the library copies what it needs
        if self._start_serving:
            await self._server._start(self._host, self._port, config, self._path, self._sock)
        else:
            self._server._pending_start = (self._host, self._port, config, self._path, self._sock)
        return self._server

    def __await__(self) -> Generator[Any, None, Server]:
        return self._create().__await__()

    async def __aenter__(self) -> Server:
        return await self._create()

    async def __aexit__(self, *exc: Any) -> None:
        self._server.close()
        await self._server.wait_closed()


def _check_listen_arguments(host: Optional[str], port: Optional[int], unix: bool, path: Optional[str],
                            sock: Optional[socket.socket]) -> None:
    """Where to listen is given one way only: asyncio's create_server()/create_unix_server()
    checks, with their words (what websockets users see)."""
    if unix:
        if path is not None and sock is not None:
            raise ValueError("path and sock can not be specified at the same time")
        if path is None and sock is None:
            raise ValueError("path was not specified, and no sock specified")
    elif sock is not None and (host is not None or port is not None):
        raise ValueError("host/port and sock can not be specified at the same time")


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


def broadcast(connections: Iterable[Connection], message: Data, *, text: Optional[bool] = None,
              raise_exceptions: bool = False) -> None:
    """Sends ``message`` to every connection that is open, without waiting (as websockets'
    ``broadcast``): ``str`` as text, bytes-like as binary, ``text`` forces one or the other. A
    connection that is closing is skipped; one sending a fragmented message is skipped with a
    warning (with ``raise_exceptions``: a ``ConcurrencyError``), as is one that has more than its
    ``write_limit`` buffered (a slow reader). A failed write is logged, or with
    ``raise_exceptions`` gathered as ``RuntimeError("failed to write message")``; the gathered
    errors are raised as ``ExceptionGroup("skipped broadcast", ...)``."""
    if isinstance(message, str):
        if text is False:
            message = message.encode("utf-8")
    elif isinstance(message, (bytes, bytearray, memoryview)):
        message = bytes(message)
        if text is True:
            message = message.decode("utf-8")
    else:
        raise TypeError("data must be str or bytes")
    errors: List[Exception] = []
    for connection in connections:
        if connection.state is not State.OPEN or connection._conn is None:
            continue
        if connection._fragmenting is not None:
            if raise_exceptions:
                errors.append(ConcurrencyError("sending a fragmented message"))
            else:
                connection.logger.warning("skipped broadcast: sending a fragmented message")
            continue
        if isinstance(connection, _OtherLoop):
            buffered = connection._in_flight + connection._buffered  # its last reports
        else:
            connection._native.flush_sends()  # counts the replies collected so far
            buffered = n.fast.sws_conn_buffered_amount(connection._conn)
        if buffered > connection.write_limit:
            logger.warning("skipped broadcast: connection %s is too slow", connection.id)
            continue
        try:
            connection.send_nowait(message)
        except Exception as error:
            if raise_exceptions:
                failure = RuntimeError("failed to write message")
                failure.__cause__ = error
                errors.append(failure)
            else:
                connection.logger.warning("skipped broadcast: failed to write message: %s",
                                          f"{type(error).__name__}: {error}")
    if errors:
        raise ExceptionGroup("skipped broadcast", errors)

