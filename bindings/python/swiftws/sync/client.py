"""Blocking client: ``connect(uri, ...)``, shaped like ``websockets.sync.client``.

    with connect("ws://localhost:8765") as websocket:
        websocket.send("Hello world!")
        message = websocket.recv(timeout=10)
"""

from __future__ import annotations

from typing import Any, Callable, Optional

from ..asyncio import client as async_client
from . import _background
from .connection import Connection

__all__ = ["connect", "ClientConnection"]


class ClientConnection(Connection):
    """A blocking client connection."""


def connect(uri: str, *, create_connection: Optional[Callable[..., ClientConnection]] = None,
            **options: Any) -> ClientConnection:
    """Opens a connection and returns it once open; options and errors as
    ``swiftws.asyncio.client.connect``; ``create_connection`` is a ``ClientConnection``
    subclass (or factory taking the asyncio connection). Usable as a context manager."""
    opener = async_client.connect(uri, **options)  # validates the URI and options in the caller's thread

    async def open_connection() -> Any:
        return await opener

    try:
        connection = _background.run(open_connection())
    except TimeoutError:
        raise TimeoutError("timed out while waiting for handshake response") from None
    return (create_connection or ClientConnection)(connection)
