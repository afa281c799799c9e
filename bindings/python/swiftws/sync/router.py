"""``route(url_map, host, port, ...)``: a blocking server that sends each connection to the
handler its URL path names, shaped like ``websockets.sync.router`` (needs werkzeug: ``pip
install werkzeug``).

    from swiftws.sync.router import route
    from werkzeug.routing import Map, Rule

    def channel(websocket, channel_id):
        ...

    url_map = Map([Rule("/channel/<uuid:channel_id>", endpoint=channel)])

    with route(url_map, "localhost", 8765) as server:
        server.serve_forever()

Handlers run in a thread per connection, as with ``serve``, and get the connection and, as
keyword arguments, what the rule's converters captured. 404, redirects, ``server_name``,
``ssl=True`` and ``create_router`` as in ``swiftws.asyncio.router``.
"""

from __future__ import annotations

from typing import Any, Callable, Optional

from .. import _routing
from .server import Server, ServerConnection, serve

__all__ = ["route", "unix_route", "Router"]


class Router(_routing.RouterBase):
    """Dispatches the connections of ``route()`` (subclass it and pass ``create_router`` to
    change how requests are matched, redirected, refused or handled)."""

    def handler(self, connection: ServerConnection) -> None:
        """The server's handler: calls the matched endpoint with the captured values."""
        return connection.handler(connection, **connection.handler_kwargs)


def route(url_map: Any, *args: Any, server_name: Optional[str] = None, ssl: Any = None,
          create_router: Optional[Callable[..., Router]] = None, **kwargs: Any) -> Server:
    """Starts a blocking server whose connections go to the endpoint of the ``url_map`` (a
    ``werkzeug.routing.Map``) rule their path matches; other arguments as
    ``swiftws.sync.server.serve``. ``server_name``, ``ssl`` (a TLS context, or True for wss://
    redirects behind a proxy that ends TLS) and ``create_router`` as in
    ``swiftws.asyncio.router.route``; a ``process_request`` given (a function, or a coroutine such
    as ``basic_auth``'s) runs first, and a response it returns is sent instead of routing. Raises ImportError when werkzeug is not installed."""
    router, process_request = _routing.prepare("route", url_map, server_name, ssl, create_router, Router, kwargs)
    return serve(router.handler, *args, process_request=process_request, **kwargs)


def unix_route(url_map: Any, path: Optional[str] = None, **kwargs: Any) -> Server:
    """``route`` on the Unix socket ``path`` (as ``unix_serve``)."""
    _routing.require_werkzeug("unix_route")
    return route(url_map, unix=True, path=path, **kwargs)
