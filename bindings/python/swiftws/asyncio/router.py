"""``route(url_map, host, port, ...)``: a server that sends each connection to the handler its
URL path names, shaped like ``websockets.asyncio.router`` (needs werkzeug: ``pip install
werkzeug``).

    from swiftws.asyncio.router import route
    from werkzeug.routing import Map, Rule

    async def channel(websocket, channel_id):
        ...

    url_map = Map([Rule("/channel/<uuid:channel_id>", endpoint=channel)])

    async with route(url_map, "localhost", 8765) as server:
        await server.serve_forever()

Handlers get the connection and, as keyword arguments, what the rule's converters captured
(``Rule(defaults=...)`` too). An unknown path is refused with 404; a werkzeug redirect
(``Rule(redirect_to=...)``, a missing trailing slash) with a 302 whose ``Location`` is a ws://
URL (wss:// with ``ssl``). See ``swiftws._routing`` for the matching.
"""

from __future__ import annotations

from typing import Any, Callable, Optional

from .. import _routing
from .server import ServerConnection, serve

__all__ = ["route", "unix_route", "Router"]


class Router(_routing.RouterBase):
    """Dispatches the connections of ``route()`` (subclass it and pass ``create_router`` to
    change how requests are matched, redirected, refused or handled)."""

    async def handler(self, connection: ServerConnection) -> None:
        """The server's handler: awaits the matched endpoint with the captured values."""
        return await connection.handler(connection, **connection.handler_kwargs)


def route(url_map: Any, *args: Any, server_name: Optional[str] = None, ssl: Any = None,
          create_router: Optional[Callable[..., Router]] = None, **kwargs: Any) -> serve:
    """Starts a server (``await`` it or ``async with`` it, as ``serve``) whose connections go to the
    endpoint of the ``url_map`` (a ``werkzeug.routing.Map``) rule their path matches; other
    arguments as ``swiftws.asyncio.server.serve``.

    ``server_name``: the host redirects point to (default: the request's Host header; set it
    behind a proxy that rewrites Host). ``ssl``: a TLS context as for ``serve``, or True for
    wss:// redirects without TLS here (a proxy in front ends TLS). ``create_router``: a
    ``Router`` subclass or factory, called as ``(url_map, server_name, url_scheme)``. A
    ``process_request`` given (a function or a coroutine) runs first; a response it returns is
    sent instead of routing. Raises ImportError when werkzeug is not installed."""
    router, process_request = _routing.prepare("route", url_map, server_name, ssl, create_router, Router, kwargs)
    return serve(router.handler, *args, process_request=process_request, **kwargs)


def unix_route(url_map: Any, path: Optional[str] = None, **kwargs: Any) -> serve:
    """``route`` on the Unix socket ``path`` (as ``unix_serve``)."""
    _routing.require_werkzeug("unix_route")
    return route(url_map, unix=True, path=path, **kwargs)
