#!/usr/bin/env python
# From the websockets documentation (quick start, "echo server"); only the import line differs.

import asyncio
from swiftws.asyncio.server import serve

async def echo(websocket):
    async for message in websocket:
        await websocket.send(message)

async def main():
    async with serve(echo, "localhost", 8765) as server:
        await server.serve_forever()

asyncio.run(main())
