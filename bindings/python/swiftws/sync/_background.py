"""The background thread that runs the blocking API's connections.

The blocking API is the asyncio API run in one daemon thread ("swiftws-sync"), with its own
asyncio loop driving its own native loop. Blocking calls hand coroutines to that loop with
``asyncio.run_coroutine_threadsafe`` and wait for the result, so every object of the blocking
API may be used from any thread: the loop thread serialises the calls, as the native library's
loop-thread rule requires.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import threading
from typing import Any, Awaitable, Optional, TypeVar

T = TypeVar("T")

_lock = threading.Lock()
_loop: Optional[asyncio.AbstractEventLoop] = None


def loop() -> asyncio.AbstractEventLoop:
    """The background asyncio loop (started on first use)."""
    global _loop
    with _lock:
        if _loop is None:
            ready = threading.Event()
            new_loop = asyncio.new_event_loop()

            def run() -> None:
                asyncio.set_event_loop(new_loop)
                new_loop.call_soon(ready.set)
                new_loop.run_forever()

            threading.Thread(target=run, name="swiftws-sync", daemon=True).start()
            ready.wait()
            _loop = new_loop
        return _loop


def in_loop_thread() -> bool:
    """Whether the caller is the background loop's thread (blocking there would deadlock)."""
    return _loop is not None and threading.current_thread().name == "swiftws-sync"


def run(coroutine: Awaitable[T], timeout: Optional[float] = None) -> T:
    """Runs ``coroutine`` on the background loop and waits for it (at most ``timeout`` seconds:
    then it is cancelled and ``TimeoutError`` raised)."""
    if in_loop_thread():
        raise RuntimeError("blocking swiftws calls cannot be made from the swiftws-sync thread")
    future: concurrent.futures.Future = asyncio.run_coroutine_threadsafe(coroutine, loop())  # type: ignore[arg-type]
    try:
        return future.result(timeout)
    except concurrent.futures.TimeoutError:
        future.cancel()
        try:
            # The cancellation may lose the race against a result: take it if it came.
            return future.result(1.0)
        except (concurrent.futures.CancelledError, concurrent.futures.TimeoutError):
            raise TimeoutError("timed out") from None


def call(function: Any, *args: Any) -> Any:
    """Runs a plain function on the background loop and returns its result."""
    async def wrapper() -> Any:
        return function(*args)
    return run(wrapper())
