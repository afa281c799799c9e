"""Interop peer for SwiftWS tests, on Python `websockets` (latest from PyPI, in .venv).

  python_peer.py client URL SPEC [quick]   connect, send every size and kind (whole and
                                           fragmented), check each echo, close 1000 "bye",
                                           print "OK <messages> <extensions>" and exit 0
  python_peer.py server SPEC               echo server on 127.0.0.1, port 0; prints
                                           "listening on 127.0.0.1:PORT"; exits when stdin closes

SPEC is "plain" (no permessage-deflate), "deflate" (the library's default offer/acceptance), or
"deflate:" followed by comma-separated parameters: snct (server_no_context_takeover), cnct
(client_no_context_takeover), smwb=N (server_max_window_bits), cmwb=N (client_max_window_bits).
"quick" stops at 1 MiB instead of 16 MiB. Every run is bounded (30 s).

With SWIFTWS_PEER_TLS_DIR set to a directory made by make_test_certs.sh, the server speaks TLS
(chain.pem + server.key) and the client trusts ca.pem (give it a wss:// URL).
"""
import asyncio
import os
import ssl
import sys

from websockets.asyncio.client import connect
from websockets.asyncio.server import serve
from websockets.extensions.permessage_deflate import (
    ClientPerMessageDeflateFactory,
    ServerPerMessageDeflateFactory,
)


def payload(size):
    return (bytes(range(256)) * (size // 256 + 1))[:size]


def text(size):
    return ("é" * (size // 2 + 1))[: size // 2]


def parse_spec(spec):
    """(compression, extensions) keyword arguments for connect/serve."""
    if spec == "plain":
        return {"compression": None}
    if spec == "deflate":
        return {"compression": "deflate"}
    params = dict(item.partition("=")[::2] for item in spec.split(":", 1)[1].split(",") if item)
    return {"compression": None, "params": params}


def client_kwargs(spec):
    kw = parse_spec(spec)
    params = kw.pop("params", None)
    if params is not None:
        kw["extensions"] = [ClientPerMessageDeflateFactory(
            server_no_context_takeover="snct" in params,
            client_no_context_takeover="cnct" in params,
            server_max_window_bits=int(params["smwb"]) if "smwb" in params else None,
            client_max_window_bits=int(params["cmwb"]) if "cmwb" in params else True,
        )]
    return kw


def server_kwargs(spec):
    kw = parse_spec(spec)
    params = kw.pop("params", None)
    if params is not None:
        kw["extensions"] = [ServerPerMessageDeflateFactory(
            server_no_context_takeover="snct" in params,
            client_no_context_takeover="cnct" in params,
            server_max_window_bits=int(params["smwb"]) if "smwb" in params else None,
            client_max_window_bits=int(params["cmwb"]) if "cmwb" in params else None,
        )]
    return kw


def tls_context(side):
    """The ssl= argument: None without SWIFTWS_PEER_TLS_DIR."""
    directory = os.environ.get("SWIFTWS_PEER_TLS_DIR")
    if not directory:
        return None
    if side == "server":
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(os.path.join(directory, "chain.pem"), os.path.join(directory, "server.key"))
    else:
        context = ssl.create_default_context(cafile=os.path.join(directory, "ca.pem"))
    return context


async def run_client(url, spec, quick):
    sizes = [0, 1, 125, 126, 65535, 65536, 1 << 20] + ([] if quick else [16 << 20])
    count = 0
    tls = {"ssl": tls_context("client")} if url.startswith("wss:") else {}
    async with connect(url, max_size=None, open_timeout=10, **tls, **client_kwargs(spec)) as ws:
        extensions = ws.response.headers.get("Sec-WebSocket-Extensions", "-")
        for size in sizes:
            for message in (payload(size), text(size), ("price update ACME " * (size // 18 + 1))[:size]):
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
    print(f"OK {count} {extensions}", flush=True)


async def run_server(spec):
    async def echo(ws):
        async for message in ws:
            await ws.send(message)

    async with serve(echo, "127.0.0.1", 0, max_size=None, ssl=tls_context("server"), **server_kwargs(spec)) as server:
        port = server.sockets[0].getsockname()[1]
        print(f"listening on 127.0.0.1:{port}", flush=True)
        loop = asyncio.get_running_loop()
        await loop.run_in_executor(None, sys.stdin.read)


def main():
    mode = sys.argv[1]
    if mode == "client":
        work = run_client(sys.argv[2], sys.argv[3], len(sys.argv) > 4 and sys.argv[4] == "quick")
    else:
        work = run_server(sys.argv[2])
    asyncio.run(asyncio.wait_for(work, 30))


if __name__ == "__main__":
    main()
