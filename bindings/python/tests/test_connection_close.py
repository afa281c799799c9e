"""Issue 12, round 6 (r6-pyconn): closing as websockets 17 does, against real websockets peers
on 127.0.0.1:

- after the close timeout fired, ``ConnectionClosed`` has a ``TimeoutError`` as its cause (the
  library says so: ``sws_conn_close_timed_out``); a close answered in time has no cause;
- ``close_timeout`` changed on an open connection (asyncio and blocking) applies to the next
  close (``sws_conn_set_close_timeout``);
- ``close()`` during a fragmented send fails the connection with 1011 without waiting for the
  peer's answer ("no close frame received", ``sws_conn_fail``), asyncio and blocking.
"""

from __future__ import annotations

import asyncio
import time

import pytest
from websockets.asyncio.server import serve as ws_serve

from swiftws.asyncio.client import connect
from swiftws.sync.client import connect as sync_connect
from swiftws.exceptions import ConnectionClosedError, ConnectionClosedOK

from helpers import FragmentedSendInThread, run_async
from test_websockets_shape import _port


@run_async(30)
async def test_a_close_timeout_is_the_cause_of_connection_closed():
    deaf = asyncio.Event()

    async def handler(websocket) -> None:
        if websocket.request.path == "/deaf":
            websocket.transport.pause_reading()  # never reads our close frame
            deaf.set()
        await websocket.wait_closed()

    async with ws_serve(handler, "127.0.0.1", 0) as server:
        websocket = await connect(f"ws://127.0.0.1:{_port(server)}/deaf", close_timeout=0.3)
        await asyncio.wait_for(deaf.wait(), 5)
        await asyncio.wait_for(websocket.close(), 5)
        with pytest.raises(ConnectionClosedError) as raised:
            await websocket.recv()
        assert str(raised.value) == "sent 1000 (OK); no close frame received"
        assert isinstance(raised.value.__cause__, TimeoutError)

        websocket = await connect(f"ws://127.0.0.1:{_port(server)}/", close_timeout=5)
        await websocket.close()
        with pytest.raises(ConnectionClosedOK) as ok:
            await websocket.recv()
        assert ok.value.__cause__ is None


async def _slow_reader(websocket) -> None:
    """A websockets handler that reads nothing for 0.6 s (a close frame waits that long)."""
    websocket.transport.pause_reading()
    asyncio.get_running_loop().call_later(0.6, websocket.transport.resume_reading)
    await websocket.wait_closed()


@run_async(30)
async def test_close_timeout_set_on_an_open_connection():
    async with ws_serve(_slow_reader, "127.0.0.1", 0) as server:
        # Configured long, set short: the close times out at the new value.
        websocket = await connect(f"ws://127.0.0.1:{_port(server)}/", close_timeout=30)
        assert websocket.close_timeout == 30
        websocket.close_timeout = 0.2
        assert websocket.close_timeout == 0.2
        started = time.monotonic()
        await asyncio.wait_for(websocket.close(), 5)
        assert time.monotonic() - started < 0.55
        with pytest.raises(ConnectionClosedError) as raised:
            await websocket.recv()
        assert isinstance(raised.value.__cause__, TimeoutError)


def test_close_timeout_set_on_an_open_blocking_connection():
    async def main() -> None:
        async with ws_serve(_slow_reader, "127.0.0.1", 0) as server:
            port = _port(server)

            def client() -> None:
                # Configured short, set long: the slow peer's answer is waited for.
                with sync_connect(f"ws://127.0.0.1:{port}/", close_timeout=0.1) as websocket:
                    websocket.close_timeout = 5
                    assert websocket.close_timeout == 5
                websocket.close()
                with pytest.raises(ConnectionClosedOK) as ok:
                    websocket.recv()
                assert ok.value.__cause__ is None and websocket.close_code == 1000

            await asyncio.wait_for(asyncio.to_thread(client), 10)

    asyncio.run(main())


def _fragmented_send_peer():
    """A websockets server recording the close code each client sent (its ``rcvd``)."""
    codes: list = []
    closed = asyncio.Event()

    async def handler(websocket) -> None:
        try:
            async for _ in websocket:
                pass
        except Exception:
            pass
        rcvd = websocket.protocol.close_rcvd
        codes.append(rcvd.code if rcvd else None)
        closed.set()

    return handler, codes, closed


@run_async(30)
async def test_close_during_a_fragmented_send_fails_the_connection():
    handler, codes, closed = _fragmented_send_peer()
    async with ws_serve(handler, "127.0.0.1", 0) as server:
        websocket = await connect(f"ws://127.0.0.1:{_port(server)}/", close_timeout=30)
        first_sent = asyncio.Event()
        closing = asyncio.Event()

        async def fragments():
            yield "⏳"
            first_sent.set()
            await closing.wait()
            yield "⌛️"

        async def closer() -> None:
            await first_sent.wait()
            await websocket.close()
            closing.set()

        closer_task = asyncio.create_task(closer())
        started = time.monotonic()
        iterator = fragments()
        with pytest.raises(ConnectionClosedError) as raised:
            await websocket.send(iterator)
        await iterator.aclose()
        await asyncio.wait_for(closer_task, 5)
        assert time.monotonic() - started < 5  # not the 30 s close timeout
        assert str(raised.value) == ("sent 1011 (internal error) close during fragmented message; "
                                     "no close frame received")
        assert raised.value.__cause__ is None and websocket.close_code == 1006
        await asyncio.wait_for(closed.wait(), 5)
        assert codes == [1011]


def test_close_during_a_blocking_fragmented_send_fails_the_connection():
    async def main() -> None:
        handler, codes, closed = _fragmented_send_peer()
        async with ws_serve(handler, "127.0.0.1", 0) as server:
            port = _port(server)

            def client() -> None:
                websocket = sync_connect(f"ws://127.0.0.1:{port}/", close_timeout=30)
                with FragmentedSendInThread(websocket, "⏳", "⌛️") as sending:
                    websocket.close()
                assert isinstance(sending.error, ConnectionClosedError)
                assert str(sending.error) == ("sent 1011 (internal error) close during fragmented message; "
                                              "no close frame received")

            await asyncio.wait_for(asyncio.to_thread(client), 10)
            await asyncio.wait_for(closed.wait(), 5)
            assert codes == [1011]

    asyncio.run(main())
