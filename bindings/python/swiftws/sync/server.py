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
import threading
from typing import Any, Callable, Optional

from .._driver import logger
from ..asyncio import server as async_server
from ..exceptions import ConnectionClosed
from . import _background
from .connection import Connection

__all__ = ["serve", "Server", "ServerConnection"]


class ServerConnection(Connection):
    """A connection accepted by a blocking server; ``request.path`` is the requested path."""

    @property
    def request(self) -> Any:
        return self._connection.request  # type: ignore[attr-defined]


class Server:
    """A running blocking server."""

    def __init__(self, server: async_server.Server) -> None:
        self._server = server
        self._stopped = threading.Event()

    @property
    def port(self) -> int:
        """The port the server listens on."""
        return self._server.port

    @property
    def socket(self) -> Any:
        """Stands for the listening socket: ``getsockname()`` → (host, port)."""
        return self._server.sockets[0]

    def serve_forever(self) -> None:
        """Blocks until ``shutdown()`` is called (from another thread or a handler)."""
        self._stopped.wait()

    def shutdown(self) -> None:
        """Stops listening, closes every connection with 1001, waits for the handlers."""
        async def close() -> None:
            self._server.close()
            await self._server.wait_closed()
        if not self._stopped.is_set():
            _background.run(close())
            self._stopped.set()

    def __enter__(self) -> "Server":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.shutdown()


def serve(handler: Callable[[ServerConnection], None], host: Optional[str] = None, port: Optional[int] = None,
          **options: Any) -> Server:
    """Starts a server whose handler runs in a thread per connection; options as
    ``swiftws.asyncio.server.serve`` (``process_request`` gets the same arguments)."""

    async def bridge(connection: async_server.ServerConnection) -> None:
        done: asyncio.Future = asyncio.get_running_loop().create_future()
        loop = asyncio.get_running_loop()

        def run_handler() -> None:
            error: Optional[BaseException] = None
            try:
                handler(ServerConnection(connection))
            except ConnectionClosed:
                pass
            except BaseException as exception:  # logged and turned into 1011 by the async server
                error = exception
            loop.call_soon_threadsafe(_settle, done, error)

        threading.Thread(target=run_handler, name=f"swiftws-handler-{connection.id}", daemon=True).start()
        await done

    starter = async_server.serve(bridge, host, port, **options)

    async def start() -> Any:
        return await starter

    return Server(_background.run(start()))


def _settle(future: "asyncio.Future[None]", error: Optional[BaseException]) -> None:
    if future.done():
        return
    if error is None:
        future.set_result(None)
    else:
        future.set_exception(error)
