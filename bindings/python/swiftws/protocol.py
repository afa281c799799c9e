"""``State`` and its members where websockets has them (``websockets.protocol``), so that
``from websockets.protocol import State`` and ``connection.state is State.OPEN`` (or ``is OPEN``)
work with only the import changed. swiftws has no Python protocol object: the protocol runs in
the native library, so websockets' ``Protocol``, ``Side`` and ``SEND_EOF`` have no counterpart."""

from __future__ import annotations

from .asyncio.connection import State

__all__ = ["State"]

CONNECTING = State.CONNECTING
OPEN = State.OPEN
CLOSING = State.CLOSING
CLOSED = State.CLOSED
