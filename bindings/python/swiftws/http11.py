"""``Request`` and ``Response`` of the opening handshake, shaped like ``websockets.http11``:
what ``process_request`` / ``process_response`` receive, what ``connection.request`` and
``connection.response`` hold, what ``InvalidStatus.response`` carries."""

from __future__ import annotations

import dataclasses
from typing import Optional

from .datastructures import Headers

__all__ = ["Request", "Response"]


@dataclasses.dataclass
class Request:
    """An HTTP request: ``path`` (with the query) and ``headers``."""

    path: str
    headers: Headers
    _exception: Optional[Exception] = None


@dataclasses.dataclass
class Response:
    """An HTTP response: ``status_code``, ``reason_phrase``, ``headers``, ``body``."""

    status_code: int
    reason_phrase: str = ""
    headers: Headers = dataclasses.field(default_factory=Headers)
    body: bytes = b""
    _exception: Optional[Exception] = None
