"""The per-message path of the asyncio API: a task waiting in ``recv`` is resumed right after the
native iteration that delivered its message (``NativeLoop.resolve``), with the same guarantees
as a wake-up through ``call_soon``: order, no lost message on cancellation, contexts."""

from __future__ import annotations

import asyncio
import contextvars

from websockets.asyncio.client import connect as ws_connect

from swiftws.asyncio.client import connect
from swiftws.asyncio.server import serve

from helpers import echo, run_async


@run_async()
async def test_messages_read_together_reach_the_handler_in_order():
    # 300 messages written without waiting arrive in a few reads: many whole messages per
    # native iteration, each resuming the handler in turn.
    async with serve(echo, "127.0.0.1", 0, compression=None) as server:
        async with ws_connect(f"ws://127.0.0.1:{server.port}/", compression=None) as ws:
            sent = [f"m{index}" if index % 2 else f"b{index}".encode() for index in range(300)]
            await asyncio.gather(*(ws.send(message) for message in sent))
            received = [await ws.recv() for _ in sent]
    assert received == sent


async def _in_loop_callback(function):
    """Runs ``function`` as a loop callback (where run_once runs: no task is current), returns
    its result."""
    loop = asyncio.get_running_loop()
    done = loop.create_future()

    def call():
        try:
            done.set_result(function())
        except BaseException as error:  # pragma: no cover - reported by the test
            done.set_exception(error)
    loop.call_soon(call)
    return await done


@run_async()
async def test_a_recv_cancelled_after_its_message_was_handed_over_loses_no_message():
    async with serve(echo, "127.0.0.1", 0) as server:
        async with connect(f"ws://127.0.0.1:{server.port}/") as ws:
            native = ws._native
            waiting = asyncio.ensure_future(ws.recv())
            await asyncio.sleep(0)  # now waiting for a message

            def deliver_then_cancel():
                # As inside run_once: the message resolves the waiter, the task is cancelled
                # before its wake-up runs, then the iteration's wake-ups run.
                native._running = True
                try:
                    ws._on_message("kept")
                finally:
                    native._running = False
                assert waiting.cancel()
                native._run_wakeups()
            await _in_loop_callback(deliver_then_cancel)
            try:
                await waiting
            except asyncio.CancelledError:
                pass
            else:  # pragma: no cover - the cancellation must win
                raise AssertionError("recv returned despite its cancellation")
            assert waiting.cancelled()
            assert await ws.recv() == "kept"


@run_async()
async def test_a_resumed_handler_runs_in_its_own_context():
    marker: contextvars.ContextVar[str] = contextvars.ContextVar("marker", default="unset")
    seen = []

    async def handler(websocket):
        marker.set(f"handler {websocket.id}")
        async for message in websocket:
            seen.append(marker.get() == f"handler {websocket.id}")
            await websocket.send(message)

    async with serve(handler, "127.0.0.1", 0) as server:
        async with connect(f"ws://127.0.0.1:{server.port}/") as first, \
                connect(f"ws://127.0.0.1:{server.port}/") as second:
            for index in range(20):
                await first.send(str(index))
                await second.send(str(index))
            for index in range(20):
                assert await first.recv() == str(index)
                assert await second.recv() == str(index)
    assert seen == [True] * 40
