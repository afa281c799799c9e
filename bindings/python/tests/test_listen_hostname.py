"""The asyncio server listens on "localhost" (issue 13). (It resolves listen names itself, to
listen on every address as asyncio does; the C face resolves in the library's transport.)"""

from __future__ import annotations

from websockets.asyncio.client import connect as ws_connect

from swiftws.asyncio.server import serve

from helpers import echo, run_async


@run_async()
async def test_asyncio_server_listens_on_localhost():
    async with serve(echo, "localhost", 0) as server:
        async with ws_connect(f"ws://localhost:{server.port}/") as ws:
            await ws.send("over localhost")
            assert await ws.recv() == "over localhost"
