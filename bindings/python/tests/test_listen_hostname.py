"""Servers listen on host names (issue 13): "localhost" is resolved by the library's transport
(the one resolver every face uses), for the asyncio and the blocking server; an unknown name is a
resolution error, not "invalid address"."""

from __future__ import annotations

import pytest
from websockets.asyncio.client import connect as ws_connect

import swiftws
from swiftws.asyncio.server import serve

from helpers import echo, run_async


@run_async()
async def test_asyncio_server_listens_on_localhost():
    async with serve(echo, "localhost", 0) as server:
        async with ws_connect(f"ws://localhost:{server.port}/") as ws:
            await ws.send("over localhost")
            assert await ws.recv() == "over localhost"


@run_async()
async def test_an_unknown_listen_name_is_a_resolution_error():
    with pytest.raises(swiftws.SwiftWSError) as caught:
        async with serve(echo, "no-such-host.invalid", 0):
            pass
    assert "resol" in str(caught.value)
