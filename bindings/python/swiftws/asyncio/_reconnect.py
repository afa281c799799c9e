"""Reconnection for ``async for websocket in connect(uri)``, with websockets' semantics and
defaults: a failed attempt is retried when ``process_exception`` says it is transient, after a
delay from ``backoff()`` (a random first delay up to 5 s, then 3.1 s growing by 1.618 up to 90 s;
RFC 6455 7.2.3), which starts over after each successful connection. The schedule is the
library's (``sws_reconnect_delay_ms``, the one the C and Swift reconnecting clients use); this
module adds websockets' names and its exception-based rule.

The defaults can be changed through the same environment variables as websockets'
(``WEBSOCKETS_BACKOFF_INITIAL_DELAY``, ``…_MIN_DELAY``, ``…_MAX_DELAY``, ``…_FACTOR``), which
is also how tests shorten them.
"""

from __future__ import annotations

import asyncio
import os
import random
import traceback
from ctypes import byref
from typing import TYPE_CHECKING, Any, AsyncIterator, Generator, Optional

from .. import _native as n
from ..exceptions import InvalidMessage, InvalidStatus, check

if TYPE_CHECKING:  # pragma: no cover
    from .client import ClientConnection, connect

__all__ = ["backoff", "process_exception", "reconnecting", "Retry"]

def policy(initial_delay: Optional[float] = None, min_delay: Optional[float] = None,
           max_delay: Optional[float] = None, factor: Optional[float] = None) -> n.ReconnectConfig:
    """An ``sws_reconnect_config``: the library's defaults (websockets' own), then websockets'
    ``WEBSOCKETS_BACKOFF_*`` environment variables, then the arguments (seconds)."""
    config = n.ReconnectConfig()
    check(n.lib.sws_reconnect_config_init(byref(config)))
    for name, field, value in (("INITIAL_DELAY", "initial_delay_ms", initial_delay),
                               ("MIN_DELAY", "min_delay_ms", min_delay), ("MAX_DELAY", "max_delay_ms", max_delay)):
        seconds = value if value is not None else os.environ.get(f"WEBSOCKETS_BACKOFF_{name}")
        if seconds is not None:
            setattr(config, field, max(0, round(float(seconds) * 1000)))
    growth = factor if factor is not None else os.environ.get("WEBSOCKETS_BACKOFF_FACTOR")
    if growth is not None:
        config.factor = float(growth)
    return config


def backoff(initial_delay: Optional[float] = None, min_delay: Optional[float] = None,
            max_delay: Optional[float] = None, factor: Optional[float] = None) -> Generator[float, None, None]:
    """The delays between attempts, in seconds (websockets' ``backoff``)."""
    config = policy(initial_delay, min_delay, max_delay, factor)
    failures = 0
    while True:
        failures += 1
        yield n.lib.sws_reconnect_delay_ms(byref(config), failures, random.random()) / 1000


def process_exception(exc: Exception) -> Optional[Exception]:
    """websockets' default: retry network errors (``OSError``, ``TimeoutError``, which include
    refused and reset connections and failures to reach a proxy), a connection closed before
    the server's answer (``InvalidMessage`` caused by ``EOFError``) and 500, 502, 503, 504
    answers; anything else is fatal (returned, then raised)."""
    if isinstance(exc, (OSError, asyncio.TimeoutError)):
        return None
    if isinstance(exc, InvalidMessage) and isinstance(exc.__cause__, EOFError):
        return None
    if isinstance(exc, InvalidStatus) and exc.response.status_code in (500, 502, 503, 504):
        return None
    return exc


class Retry:
    """The retry rule of one reconnecting iteration, shared by ``async for websocket in
    connect(uri)`` and the blocking ``for websocket in reconnect(uri)``: each asks it, after a
    failed attempt, how long to wait (or it raises what ``process_exception`` makes fatal), and
    tells it when an attempt succeeded (the backoff then starts over)."""

    def __init__(self, connector: Any) -> None:
        self.connector = connector
        self.delays: Optional[Generator[float, None, None]] = None

    def delay_after(self, exc: Exception) -> float:
        """The delay before the next attempt after ``exc``; raises ``exc`` (or the exception
        ``process_exception`` returned or raised, chained to ``exc``) when it is fatal."""
        try:
            replacement = self.connector.process_exception(exc)
        except Exception as raised:  # raising instead of returning: a frequent mistake websockets accepts
            replacement = raised
        if replacement is exc:
            raise exc
        if replacement is not None:
            raise replacement from exc
        if self.delays is None:
            self.delays = self.connector.reconnect_delays()
        delay = next(self.delays)
        self.connector.logger.info("connect failed; reconnecting in %.1f seconds: %s", delay,
                                   traceback.format_exception_only(type(exc), exc)[0].strip())
        return delay

    def succeeded(self) -> None:
        """An attempt opened a connection: the next failure starts the backoff over."""
        self.delays = None


async def reconnecting(connector: "connect") -> AsyncIterator["ClientConnection"]:
    """Yields a new connection each time the previous one is done with (the body of the
    ``async for`` ended, normally or by ``ConnectionClosed`` caught and ``continue``)."""
    retry = Retry(connector)
    while True:
        try:
            connection = await connector._create()
        except Exception as exc:
            await asyncio.sleep(retry.delay_after(exc))
            continue
        retry.succeeded()
        try:
            yield connection
        finally:
            await connection.close()
            connector._connection = None  # done with: the next attempt makes a new one
