"""Blocking client: ``connect(uri, ...)``, shaped like ``websockets.sync.client``.

    with connect("ws://localhost:8765") as websocket:
        websocket.send("Hello world!")
        message = websocket.recv(timeout=10)

    for websocket in reconnect("ws://localhost:8765"):   # or connect(..., legacy=False)
        try:
            ...
        except ConnectionClosed:
            continue

The options (``proxy``, ``sock``, ``process_exception``, ``reconnect_delays``, ...) and errors
are ``swiftws.asyncio.client.connect``'s: this module runs that code in the background thread
(see ``_background``), so each rule has one owner.
"""

from __future__ import annotations

import time
import warnings
from typing import Any, Callable, Iterator, Optional

from ..asyncio import client as async_client
from ..asyncio._reconnect import Retry
from . import _background
from .connection import Connection

__all__ = ["connect", "unix_connect", "reconnect", "unix_reconnect", "ClientConnection"]


class ClientConnection(Connection):
    """A blocking client connection."""


def _ssl_context_alias(options: dict) -> None:
    """websockets' sync API called ``ssl`` ``ssl_context`` before 13.0 and still accepts it."""
    if "ssl_context" in options:
        warnings.warn("ssl_context was renamed to ssl", DeprecationWarning, stacklevel=3)
        if "ssl" in options:
            raise TypeError("ssl_context is a deprecated alias of ssl: give only ssl")
        options["ssl"] = options.pop("ssl_context")


class reconnect:
    """Connects to ``uri``, as ``connect``, with automatic reconnection when iterated
    (websockets' ``reconnect``): ``for websocket in reconnect(uri)`` yields a new connection each
    time the previous one is done with; a failed attempt is retried after ``reconnect_delays()``
    when ``process_exception(exc)`` returns None, raised otherwise (the rule of
    ``swiftws.asyncio._reconnect.Retry``, shared with ``async for``). Each connection is closed
    when its iteration ends. ``with reconnect(uri) as websocket`` connects once."""

    def __init__(self, uri: str, *, create_connection: Optional[Callable[..., ClientConnection]] = None,
                 **options: Any) -> None:
        _ssl_context_alias(options)
        # Validates the URI and options in the caller's thread, once for every attempt.
        self._opener = async_client.connect(uri, **options)
        self._factory = create_connection or ClientConnection
        self.connection: Optional[ClientConnection] = None

    @property
    def process_exception(self) -> Callable[[Exception], Optional[Exception]]:
        return self._opener.process_exception

    @property
    def reconnect_delays(self) -> Any:
        return self._opener.reconnect_delays

    @property
    def logger(self) -> Any:
        return self._opener.logger

    def connect(self) -> ClientConnection:
        """Opens one connection and returns it once open."""
        self._opener._connection = None  # each attempt is a new connection
        try:
            connection = _background.run(self._opener._create())
        except TimeoutError:
            raise TimeoutError("timed out while waiting for handshake response") from None
        return self._factory(connection)

    def __enter__(self) -> ClientConnection:
        if self.connection is not None:
            raise RuntimeError("connect() isn't reentrant")
        self.connection = self.connect()
        return self.connection

    def __exit__(self, *exc: Any) -> None:
        connection, self.connection = self.connection, None
        if connection is not None:
            connection.close()

    def __iter__(self) -> Iterator[ClientConnection]:
        retry = Retry(self)
        while True:
            try:
                with self as connection:
                    yield connection
            except Exception as exc:
                time.sleep(retry.delay_after(exc))
            else:
                retry.succeeded()


def connect(uri: str, *, legacy: Optional[bool] = None, **options: Any) -> Any:
    """Opens a connection and returns it once open; options and errors as
    ``swiftws.asyncio.client.connect``; ``create_connection`` is a ``ClientConnection``
    subclass (or factory taking the asyncio connection). Usable as a context manager.
    ``legacy=False`` returns a ``reconnect`` instead (websockets' forward-compatible form:
    ``for websocket in connect(uri, legacy=False)`` reconnects)."""
    connector = reconnect(uri, **options)
    return connector if legacy is False else connector.connect()


def unix_reconnect(path: Optional[str] = None, uri: Optional[str] = None, **options: Any) -> reconnect:
    """``reconnect`` over the Unix socket ``path`` ("@name": the abstract namespace); ``uri``
    (default ``ws://localhost/``, ``wss://localhost/`` with ``ssl``) gives the Host header and
    the path. A connected Unix socket may be given as ``sock`` instead of ``path``."""
    # websockets' sync words (its asyncio API lets asyncio word them differently).
    if path is None and options.get("sock") is None:
        raise ValueError("missing path argument")
    if path is not None and options.get("sock") is not None:
        raise ValueError("path is incompatible with sock")
    if uri is None:
        secure = options.get("ssl") is not None or options.get("ssl_context") is not None
        uri = "wss://localhost/" if secure else "ws://localhost/"
    return reconnect(uri, unix=True, path=path, **options)


def unix_connect(path: Optional[str] = None, uri: Optional[str] = None, *, legacy: Optional[bool] = None,
                 **options: Any) -> Any:
    """``connect`` over the Unix socket ``path`` (see ``unix_reconnect``)."""
    connector = unix_reconnect(path, uri, **options)
    return connector if legacy is False else connector.connect()
