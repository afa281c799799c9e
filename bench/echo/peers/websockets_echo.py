"""Echo server on Python `websockets` (asyncio API), a peer for bench/echo/run.sh.

Every message received is sent back unchanged, with its type (text or binary). Configured for a
raw-frame benchmark: no permessage-deflate offer accepted (compression=None) and a message limit
large enough for any size the load generator sends; with --deflate, permessage-deflate is
accepted with the library's default settings (compression="deflate"). Everything else keeps the
library's defaults, since those are what its users get.

    python websockets_echo.py --port PORT [--host 127.0.0.1] [--deflate]

Prints `listening on HOST:PORT` once the socket accepts connections; stops on SIGTERM/SIGINT.
"""

import argparse
import asyncio
import signal

from websockets.asyncio.server import serve
from websockets.exceptions import ConnectionClosed


async def echo(websocket):
    """Sends every message back on the connection it came from."""
    try:
        async for message in websocket:
            await websocket.send(message)
    except ConnectionClosed:
        pass  # the client left with a message unanswered: nothing to report for a benchmark


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--deflate", action="store_true", help="accept permessage-deflate")
    args = parser.parse_args()

    stop = asyncio.get_running_loop().create_future()
    for signum in (signal.SIGTERM, signal.SIGINT):
        asyncio.get_running_loop().add_signal_handler(signum, stop.cancel)

    async with serve(echo, args.host, args.port, compression="deflate" if args.deflate else None, max_size=64 * 1024 * 1024):
        print(f"listening on {args.host}:{args.port}", flush=True)
        try:
            await stop
        except asyncio.CancelledError:
            pass


if __name__ == "__main__":
    asyncio.run(main())
