"""URL routing shared by ``swiftws.asyncio.router`` and ``swiftws.sync.router``: which handler a
request goes to, decided with a werkzeug ``Map`` while ``process_request`` runs (websockets'
``route()``). The two modules differ only in how the handler is called (a coroutine or a
blocking function).

werkzeug is optional, as in websockets: importing swiftws never needs it; calling ``route()``
without it raises ImportError.
"""

from __future__ import annotations

import http
import inspect
import urllib.parse
from typing import Any, Awaitable, Callable, Dict, Optional, Tuple

from .http11 import Request, Response

try:
    from werkzeug.exceptions import NotFound
    from werkzeug.routing import RequestRedirect
except ImportError:  # route() says so when called
    NotFound = RequestRedirect = None  # type: ignore[assignment,misc]


def require_werkzeug(function: str) -> None:
    """Raises websockets' ImportError ("route() requires werkzeug") when werkzeug is missing."""
    if NotFound is None:
        raise ImportError(f"{function}() requires werkzeug")


class RouterBase:
    """What both routers share: the URL map, matched against each opening request.

    ``route_request`` runs as (the end of) the server's ``process_request``: on a match it keeps
    the endpoint and the values the URL's converters captured on the connection
    (``connection.handler``, ``connection.handler_kwargs``) for the subclass's ``handler``; a
    ``RequestRedirect`` (``Rule(redirect_to=...)``, a missing trailing slash) is answered with a
    302 and a ``Location``; an unknown path with a 404. Override any of these methods in a
    subclass given as ``route(create_router=...)``.
    """

    def __init__(self, url_map: Any, server_name: Optional[str] = None, url_scheme: str = "ws") -> None:
        self.url_map = url_map
        self.server_name = server_name
        self.url_scheme = url_scheme
        # Every rule is a WebSocket rule: werkzeug then matches it only for ws:// and wss://
        # and builds ws:// / wss:// redirect URLs (users need not write websocket=True).
        for rule in url_map.iter_rules():
            rule.websocket = True

    def get_server_name(self, connection: Any, request: Request) -> str:
        """The host the URL map is bound to: ``server_name``, or else the request's Host header
        (what redirects point to)."""
        return request.headers["Host"] if self.server_name is None else self.server_name

    def redirect(self, connection: Any, url: str) -> Response:
        """The answer to a request werkzeug redirects: 302 Found with ``Location: url``."""
        response = connection.respond(http.HTTPStatus.FOUND, f"Found at {url}")
        response.headers["Location"] = url
        return response

    def not_found(self, connection: Any) -> Response:
        """The answer to a path no rule matches: 404 Not Found."""
        return connection.respond(http.HTTPStatus.NOT_FOUND, "Not Found")

    def route_request(self, connection: Any, request: Request) -> Optional[Response]:
        """Matches ``request.path`` (its query string is given to werkzeug, not matched): None
        when a rule matched (the handshake goes on), else the redirect or the 404."""
        adapter = self.url_map.bind(server_name=self.get_server_name(connection, request),
                                    url_scheme=self.url_scheme)
        target = urllib.parse.urlparse(request.path)
        try:
            endpoint, values = adapter.match(path_info=target.path, query_args=target.query)
        except RequestRedirect as redirect:
            return self.redirect(connection, redirect.new_url)
        except NotFound:
            return self.not_found(connection)
        connection.handler, connection.handler_kwargs = endpoint, values
        return None


def prepare(function: str, url_map: Any, server_name: Optional[str], ssl: Any,
            create_router: Optional[Callable[..., RouterBase]], default: Callable[..., RouterBase],
            options: Dict[str, Any]) -> Tuple[RouterBase, Callable[..., Any]]:
    """The router ``route()`` serves with and the ``process_request`` it gives ``serve`` (the
    user's, taken out of ``options``, then the router's). ``ssl=True`` only makes redirects
    wss:// (TLS ended by a proxy in front); a TLS context goes on to ``serve``."""
    require_werkzeug(function)
    if ssl is not None and ssl is not True:
        options["ssl"] = ssl
    router = (create_router or default)(url_map, server_name, "ws" if ssl is None else "wss")
    first = options.pop("process_request", None)
    return router, router.route_request if first is None else _before(first, router)


def _before(first: Callable[..., Any], router: RouterBase) -> Callable[..., Any]:
    """``process_request`` running the user's ``first``, then the router unless ``first``
    answered. It stays a plain function when ``first`` is one: the server then decides inside
    the native callback (a coroutine defers the request, which a plain HTTP request such as a
    health check cannot be, and costs a task); a coroutine ``first`` (``basic_auth``'s, in
    either API) gets a coroutine."""
    async def route_after(pending: Awaitable[Optional[Response]], connection: Any,
                          request: Request) -> Optional[Response]:
        response = await pending
        return router.route_request(connection, request) if response is None else response

    if inspect.iscoroutinefunction(first):
        async def process_request_async(connection: Any, request: Request) -> Optional[Response]:
            return await route_after(first(connection, request), connection, request)
        return process_request_async

    def process_request(connection: Any, request: Request) -> Any:
        response = first(connection, request)
        if inspect.isawaitable(response):  # a function returning an awaitable: websockets awaits it
            return route_after(response, connection, request)
        return router.route_request(connection, request) if response is None else response
    return process_request
