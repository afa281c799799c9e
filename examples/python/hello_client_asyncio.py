#!/usr/bin/env python
# From the websockets documentation (quick start, client with the asyncio API); only the import
# line differs.

import asyncio
from swiftws.asyncio.client import connect

async def hello():
    async with connect("ws://localhost:8765") as websocket:
        await websocket.send("Hello world!")
        message = await websocket.recv()
        print(message)

asyncio.run(hello())
