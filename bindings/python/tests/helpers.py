"""Helpers shared by the network tests: run a coroutine with a deadline, and echo handlers."""

from __future__ import annotations

import asyncio
import functools
import resource
from typing import Any, Awaitable, Callable


def run_async(timeout: float = 60) -> Callable[[Callable[..., Awaitable[Any]]], Callable[..., Any]]:
    """Makes an ``async def`` test a plain test that runs under ``asyncio.run`` with a deadline."""
    def decorate(function: Callable[..., Awaitable[Any]]) -> Callable[..., Any]:
        @functools.wraps(function)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            async def bounded() -> Any:
                return await asyncio.wait_for(function(*args, **kwargs), timeout)
            return asyncio.run(bounded())
        return wrapper
    return decorate


async def echo(websocket: Any) -> None:
    """Echoes every message (works with swiftws and websockets connections alike)."""
    async for message in websocket:
        await websocket.send(message)


def raise_fd_limit(needed: int) -> None:
    """Raises the soft open-files limit to ``needed`` if the hard limit allows."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < needed:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(needed, hard), hard))


def payload(size: int, text: bool) -> Any:
    """A message of ``size`` bytes whose content depends on its position (catches reordering)."""
    if text:
        unit = "0123456789abcdefghijklmnopqrstuvwxyzé"  # 'é' is two bytes: multi-byte UTF-8 too
        data = (unit * (size // len(unit.encode()) + 1)).encode()[:size]
        # Cut at a character boundary, then pad with ASCII to the exact size.
        text_value = data.decode("utf-8", "ignore")
        return text_value + "x" * (size - len(text_value.encode()))
    return bytes((index * 7 + (index >> 8)) & 0xFF for index in range(min(size, 65536))) * (size // 65536) + \
        bytes((index * 7 + (index >> 8)) & 0xFF for index in range(size % 65536)) if size >= 65536 else \
        bytes((index * 7) & 0xFF for index in range(size))
