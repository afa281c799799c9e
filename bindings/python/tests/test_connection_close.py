"""Issue 12, round 6 (r6-pyconn): closing as websockets 17 does, against real websockets peers
on 127.0.0.1:

- after the close timeout fired, ``ConnectionClosed`` has a ``TimeoutError`` as its cause (the
  library says so: ``sws_conn_close_timed_out``); a close answered in time has no cause.
"""

from __future__ import annotations

import asyncio

import pytest
from websockets.asyncio.server import serve as ws_serve

from swiftws.asyncio.client import connect
from swiftws.exceptions import ConnectionClosedError, ConnectionClosedOK

from helpers import run_async
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
