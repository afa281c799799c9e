"""Echo server on swiftws' callback API (``serve_listener``: no task per connection, like picows'
WSListener), a peer for bench/python/run.sh.

No permessage-deflate, a message limit large enough for any size the load generator sends.

    python swiftws_listener_echo.py --port PORT [--host 127.0.0.1]

Prints `listening on HOST:PORT` once the socket accepts connections; stops on SIGTERM/SIGINT.
"""

import argparse
import asyncio
import os
import signal
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "bindings", "python"))

from swiftws.asyncio.server import Listener, serve_listener  # noqa: E402


class Echo(Listener):
    """Sends every message back on the connection it came from."""

    def on_message(self, connection, message):
        connection.send_nowait(message)


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args()

    stop = asyncio.get_running_loop().create_future()
    for signum in (signal.SIGTERM, signal.SIGINT):
        asyncio.get_running_loop().add_signal_handler(signum, stop.cancel)

    async with serve_listener(Echo, args.host, args.port, compression=None, max_size=64 * 1024 * 1024):
        print(f"listening on {args.host}:{args.port}", flush=True)
        try:
            await stop
        except asyncio.CancelledError:
            pass


if __name__ == "__main__":
    asyncio.run(main())
