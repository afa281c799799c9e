"""Echo server on the swiftws asyncio API (handler per connection, like websockets_echo.py), a
peer for bench/python/run.sh and bench/echo/run.sh-style loads.

Configured like the websockets peer: no permessage-deflate (compression=None) and a message limit
large enough for any size the load generator sends.

    python swiftws_echo.py --port PORT [--host 127.0.0.1]

Prints `listening on HOST:PORT` once the socket accepts connections; stops on SIGTERM/SIGINT.
"""

import argparse
import asyncio
import os
import signal
import sys

# Run from a source tree without installing: the package next door (SWIFTWS_LIBRARY names the library).
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "bindings", "python"))

from swiftws.asyncio.server import serve  # noqa: E402
from swiftws.exceptions import ConnectionClosed  # noqa: E402


async def echo(websocket):
    """Sends every message back on the connection it came from."""
    try:
        async for message in websocket:
            await websocket.send(message)
    except ConnectionClosed:
        pass


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args()

    stop = asyncio.get_running_loop().create_future()
    for signum in (signal.SIGTERM, signal.SIGINT):
        asyncio.get_running_loop().add_signal_handler(signum, stop.cancel)

    async with serve(echo, args.host, args.port, compression=None, max_size=64 * 1024 * 1024):
        print(f"listening on {args.host}:{args.port}", flush=True)
        try:
            await stop
        except asyncio.CancelledError:
            pass


if __name__ == "__main__":
    asyncio.run(main())
