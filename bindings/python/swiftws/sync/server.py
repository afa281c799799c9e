"""Blocking server: ``serve(handler, host, port, ...)``, shaped like ``websockets.sync.server``.

    def echo(websocket):
        for message in websocket:
            websocket.send(message)

    with serve(echo, "localhost", 8765) as server:
        server.serve_forever()

Each connection runs ``handler(connection)`` in its own thread. When the handler returns, the
connection is closed with 1000; when it raises, the error is logged and it is closed with 1011.
"""

from __future__ import annotations

import asyncio
import http
import inspect
import os
import threading
import warnings
from typing import Any, Callable, List, Optional, Set, Union

from ..asyncio import server as async_server
from ..auth import basic_auth
from ..exceptions import ConnectionClosed
from ..http11 import Request, Response
from . import _background
from .client import _ssl_context_alias
from .connection import Connection, broadcast

__all__ = ["serve", "unix_serve", "Server", "ServerConnection", "basic_auth", "broadcast", "Request", "Response"]


class ServerConnection(Connection):
    """A connection accepted by a blocking server: ``request`` (path, headers), ``response``,
    and attributes set by ``process_request`` (``username`` with ``basic_auth``)."""

    def respond(self, status: Union[int, http.HTTPStatus], text: str) -> Response:
        """A text/plain response with ``status``, for ``process_request`` to return."""
        return self._connection.respond(status, text)  # type: ignore[attr-defined]


def _wrapper(connection: Any, factory: Callable[..., ServerConnection]) -> ServerConnection:
    """The one blocking wrapper of an asyncio server connection (hooks and handler share it)."""
    wrapper = connection.__dict__.get("_sync_wrapper")
    if wrapper is None:
        wrapper = connection._sync_wrapper = factory(connection)
    return wrapper


class Server:
    """A running blocking server."""

    def __init__(self, server: async_server.Server, factory: Callable[..., ServerConnection]) -> None:
        self._server = server
        self._factory = factory
        self._stopped = threading.Event()
        #: Set once the server stopped listening (websockets' ``Server.socket_closed``).
        self.socket_closed = threading.Event()

    @property
    def port(self) -> int:
        """The port the server listens on."""
        return self._server.port

    @property
    def socket(self) -> Any:
        """The listening socket (the first, with several addresses)."""
        return self._server.sockets[0]

    @property
    def logger(self) -> Any:
        return self._server.logger

    @property
    def connections(self) -> Set[ServerConnection]:
        """The open connections."""
        return {_wrapper(connection, self._factory)
                for connection in _background.call(lambda: self._server.connections)}

    def fileno(self) -> int:
        """The listening socket's descriptor."""
        return self.socket.fileno()

    def serve_forever(self) -> None:
        """Blocks until ``shutdown()`` is called (from another thread or a handler)."""
        self._stopped.wait()

    def shutdown(self, close_connections: bool = True, code: int = 1001, reason: str = "") -> None:
        """Stops listening; closes every connection with ``code`` and ``reason`` unless
        ``close_connections`` is False; then waits until every handler returned (with
        ``close_connections=False``: until the clients closed their connections)."""
        async def close() -> None:
            self._server.close(close_connections, code, reason)  # stops listening at once
            self.socket_closed.set()
            await self._server.wait_closed()
        if not self._stopped.is_set():
            _background.run(close())
            self._stopped.set()

    def __enter__(self) -> "Server":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.shutdown()


def serve(handler: Callable[[ServerConnection], None], host: Optional[str] = None, port: Optional[int] = None,
          *, process_request: Optional[Callable[..., Any]] = None,
          process_response: Optional[Callable[..., Any]] = None,
          select_subprotocol: Optional[Callable[..., Any]] = None,
          create_connection: Optional[Callable[..., ServerConnection]] = None, **options: Any) -> Server:
    """Starts a server whose handler runs in a thread per connection; options as
    ``swiftws.asyncio.server.serve``. The hooks (``process_request``, ``process_response``,
    ``select_subprotocol``) get the same ``ServerConnection`` the handler gets, whose ``server``
    is this ``Server``; ``process_request`` and ``process_response`` run in a thread of their
    own (they may block, bounded by ``open_timeout``), ``select_subprotocol`` on the background
    loop's thread."""
    factory = create_connection or ServerConnection
    _ssl_context_alias(options)
    # websockets' sync words (its asyncio API lets asyncio word them differently).
    sock, unix = options.get("sock"), options.get("unix")
    if sock is not None and not unix:
        if host is not None:
            raise ValueError("host is incompatible with sock")
        if port is not None:
            raise ValueError("port is incompatible with sock")
    if unix and options.get("path") is None and sock is None:
        raise ValueError("missing path argument")
    if unix and options.get("path") is not None and sock is not None:
        raise ValueError("path is incompatible with sock")

    #: The blocking Server, once started: what the connections' ``server`` is (websockets').
    owner: List[Server] = []

    def wrap(connection: Any) -> ServerConnection:
        wrapper = _wrapper(connection, factory)
        if owner:
            wrapper.server = owner[0]
        return wrapper

    def hook(function: Optional[Callable[..., Any]]) -> Optional[Callable[..., Any]]:
        if function is None:
            return None
        return lambda connection, *args: function(wrap(connection), *args)

    def in_thread(function: Optional[Callable[..., Any]]) -> Optional[Callable[..., Any]]:
        """``function`` run in a thread of its own, as websockets' blocking server runs its hooks
        (in the connection's thread): one that blocks (on ``server.socket_closed``, a database)
        must not stall the background loop every connection shares."""
        if function is None or inspect.iscoroutinefunction(function):
            return hook(function)  # a coroutine (basic_auth's check) runs on the loop anyway

        async def run(connection: Any, *args: Any) -> Any:
            loop = asyncio.get_running_loop()
            done: asyncio.Future = loop.create_future()
            wrapper = wrap(connection)

            def call() -> None:
                result, error = None, None
                try:
                    result = function(wrapper, *args)
                except BaseException as exception:  # logged by the async server (then 500)
                    error = exception
                loop.call_soon_threadsafe(_settle, done, error, result)

            threading.Thread(target=call, name=f"swiftws-hook-{connection.id}", daemon=True).start()
            result = await done
            return await result if inspect.isawaitable(result) else result
        return run

    async def bridge(connection: async_server.ServerConnection) -> None:
        done: asyncio.Future = asyncio.get_running_loop().create_future()
        loop = asyncio.get_running_loop()
        wrapper = wrap(connection)

        def run_handler() -> None:
            error: Optional[BaseException] = None
            try:
                handler(wrapper)
            except ConnectionClosed:
                pass
            except BaseException as exception:  # logged and turned into 1011 by the async server
                error = exception
            loop.call_soon_threadsafe(_settle, done, error)

        threading.Thread(target=run_handler, name=f"swiftws-handler-{connection.id}", daemon=True).start()
        await done

    # select_subprotocol answers at once in websockets too (it cannot be a coroutine there).
    starter = async_server.serve(bridge, host, port, process_request=in_thread(process_request),
                                 process_response=in_thread(process_response),
                                 select_subprotocol=hook(select_subprotocol), **options)

    async def start() -> Any:
        return await starter

    owner.append(Server(_background.run(start()), factory))
    return owner[0]


def unix_serve(handler: Callable[[ServerConnection], None], path: Optional[str] = None, **options: Any) -> Server:
    """Starts a blocking server on the Unix socket ``path`` ("@name": Linux's abstract
    namespace); options as ``serve`` (a listening Unix socket may be given as ``sock``)."""
    return serve(handler, unix=True, path=path, **options)


def __getattr__(name: str) -> Any:
    # websockets' deprecated name of Server (websockets.sync.server.WebSocketServer).
    if name == "WebSocketServer":
        warnings.warn("WebSocketServer was renamed to Server", DeprecationWarning, stacklevel=2)
        return Server
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def _settle(future: "asyncio.Future[Any]", error: Optional[BaseException], result: Any = None) -> None:
    if future.done():
        return
    if error is None:
        future.set_result(result)
    else:
        future.set_exception(error)
