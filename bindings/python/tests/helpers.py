"""Helpers shared by the network tests: run a coroutine with a deadline, echo handlers, a blocking
fragmented send held in the middle."""

from __future__ import annotations

import asyncio
import functools
import resource
import subprocess
import threading
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


async def wait_until(condition: Callable[[], Any], timeout: float = 5, what: str = "condition") -> None:
    """Waits, yielding to the event loop, until ``condition()`` is true; fails after ``timeout``
    seconds. For waiting on an outcome that has no awaitable of its own, instead of a fixed sleep
    that is too short under load and too long otherwise."""
    deadline = asyncio.get_running_loop().time() + timeout
    while not condition():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        await asyncio.sleep(0.005)


async def echo(websocket: Any) -> None:
    """Echoes every message (works with swiftws and websockets connections alike)."""
    async for message in websocket:
        await websocket.send(message)


class FragmentedSendInThread:
    """A blocking connection's ``send`` of a two-fragment message on a thread of its own, held
    after the first fragment: ``with FragmentedSendInThread(websocket) as sending:`` returns once
    the first fragment went out, the block runs while the send waits in the middle of its
    message, and leaving the block lets the send finish (its exception, if any, in
    ``sending.error``). For tests of what the connection does meanwhile (another send, a close)."""

    def __init__(self, websocket: Any, first: Any = "a", last: Any = "b", timeout: float = 5) -> None:
        self.error: Any = None
        self._timeout = timeout
        self._started = threading.Event()
        self._release = threading.Event()

        def fragments() -> Any:
            yield first
            self._started.set()
            self._release.wait(timeout)
            yield last

        def send() -> None:
            try:
                websocket.send(fragments())
            except Exception as error:  # the test reads it after the block
                self.error = error

        self._thread = threading.Thread(target=send)

    def __enter__(self) -> "FragmentedSendInThread":
        self._thread.start()
        assert self._started.wait(self._timeout), "the first fragment was not sent"
        return self

    def __exit__(self, *exc_info: Any) -> None:
        self._release.set()
        self._thread.join(self._timeout)
        assert not self._thread.is_alive(), "the fragmented send did not finish"


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


def run_c_program(lines: list[str], directory: Any, include: str) -> str:
    """Compiles ``lines`` (a C11 program that includes swiftws.h from ``include``) in
    ``directory`` with -Wall -Werror, runs it and returns what it printed."""
    source = directory / "program.c"
    source.write_text("\n".join(lines) + "\n")
    program = directory / "program"
    subprocess.run(["cc", "-std=c11", "-Wall", "-Werror", f"-I{include}", "-o", str(program), str(source)],
                   check=True)
    return subprocess.run([str(program)], check=True, capture_output=True, text=True).stdout
