"""Interop peer for SwiftWS tests, on Python `websockets` (latest from PyPI, in .venv).

  python_peer.py client URL deflate|plain   connect, send every size and kind (whole and
                                            fragmented), check each echo, close 1000 "bye",
                                            print "OK <messages>" and exit 0
  python_peer.py server deflate|plain       echo server on 127.0.0.1, port 0; prints
                                            "listening on 127.0.0.1:PORT"; exits when stdin closes
Every run is bounded (30 s) so a hung peer cannot stall the test suite.
"""
import asyncio
import sys

from websockets.asyncio.client import connect
from websockets.asyncio.server import serve

SIZES = [0, 1, 125, 126, 65535, 65536, 1 << 20, 16 << 20]


def payload(size):
    return (bytes(range(256)) * (size // 256 + 1))[:size]


def text(size):
    return ("é" * (size // 2 + 1))[: size // 2]


async def run_client(url, compression):
    count = 0
    async with connect(url, compression=compression, max_size=None, open_timeout=10) as ws:
        for size in SIZES:
            for message in (payload(size), text(size)):
                await ws.send(message)
                echo = await ws.recv()
                assert echo == message, f"echo mismatch at size {size} ({type(message).__name__})"
                count += 1
        for fragments in ([b"ab", b"", b"cd" * 1000], ["hé", "l", "lo" * 5000]):
            await ws.send(fragments)
            echo = await ws.recv()
            assert echo == fragments[0][:0].join(fragments), "fragmented echo mismatch"
            count += 1
        await ws.close(1000, "bye")
    print(f"OK {count}", flush=True)


async def run_server(compression):
    async def echo(ws):
        async for message in ws:
            await ws.send(message)

    async with serve(echo, "127.0.0.1", 0, compression=compression, max_size=None) as server:
        port = server.sockets[0].getsockname()[1]
        print(f"listening on 127.0.0.1:{port}", flush=True)
        loop = asyncio.get_running_loop()
        await loop.run_in_executor(None, sys.stdin.read)


def main():
    mode = sys.argv[1]
    compression = "deflate" if sys.argv[-1] == "deflate" else None
    work = run_client(sys.argv[2], compression) if mode == "client" else run_server(compression)
    asyncio.run(asyncio.wait_for(work, 30))


if __name__ == "__main__":
    main()
