#!/usr/bin/env python
# From the websockets documentation (deployment, "health checks": answer plain HTTP on the same
# port through process_request); only the import line differs.

import asyncio
import http
from swiftws.asyncio.server import serve

def health_check(connection, request):
    if request.path == "/healthz":
        return connection.respond(http.HTTPStatus.OK, "OK\n")

async def echo(websocket):
    async for message in websocket:
        await websocket.send(message)

async def main():
    async with serve(echo, "localhost", 8080, process_request=health_check) as server:
        await server.serve_forever()

asyncio.run(main())
