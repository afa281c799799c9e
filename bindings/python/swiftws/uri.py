"""``WebSocketURI`` and ``parse_uri``, shaped like ``websockets.uri``: what a client connection's
``protocol.uri`` holds (the URI of the request that opened it, after any redirect)."""

from __future__ import annotations

import dataclasses
import urllib.parse
from typing import Optional, Tuple

from .exceptions import InvalidURI

__all__ = ["WebSocketURI", "parse_uri"]


@dataclasses.dataclass
class WebSocketURI:
    """A parsed ws:// or wss:// URI: ``host`` in lower case, ``port`` always set (80 or 443 when
    the URI has none), ``path`` and ``query`` possibly empty."""

    secure: bool
    host: str
    port: int
    path: str
    query: str
    username: Optional[str] = None
    password: Optional[str] = None

    @property
    def resource_name(self) -> str:
        """The request target: the path ("/" when empty) and the query."""
        return (self.path or "/") + (f"?{self.query}" if self.query else "")

    @property
    def user_info(self) -> Optional[Tuple[str, str]]:
        """(username, password) when the URI has user information."""
        if self.username is None:
            return None
        return (self.username, self.password or "")


def parse_uri(uri: str) -> WebSocketURI:
    """``uri`` as a ``WebSocketURI``; ``InvalidURI`` when it is not a ws:// or wss:// URI with a host."""
    parsed = urllib.parse.urlsplit(uri)
    if parsed.scheme not in ("ws", "wss"):
        raise InvalidURI(uri, "scheme isn't ws or wss")
    if not parsed.hostname:
        raise InvalidURI(uri, "hostname isn't provided")
    try:
        port = parsed.port
    except ValueError as error:
        raise InvalidURI(uri, str(error)) from None
    # urlsplit accepts a username without a password, which Basic credentials cannot carry.
    if parsed.username is not None and parsed.password is None:
        raise InvalidURI(uri, "username provided without password")
    secure = parsed.scheme == "wss"
    return WebSocketURI(secure, parsed.hostname, port or (443 if secure else 80), parsed.path, parsed.query,
                        parsed.username, parsed.password)
