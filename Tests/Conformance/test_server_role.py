"""SwiftWS in the *server* role against a scripted client (scripted_peer.open_client), case by
case (cases.py), the way the Autobahn testsuite's fuzzingclient tests servers. The servers under
test echo every message: swiftws-echo (the Swift callback API; SWIFTWS_ECHO), the C API's echo
example (SWIFTWS_C_ECHO_SERVER) and the Python binding's asyncio `serve` (echoing from a
coroutine). Each case asserts what the server sent back: echoes, pongs, the close code, and
nothing after the close.

    SWIFTWS_ECHO=$PWD/.build/debug/swiftws-echo SWIFTWS_C_ECHO_SERVER=$PWD/build/examples/c/sws-echo-server \
        SWIFTWS_LIBRARY=$PWD/build/lib/libswiftws.so PYTHONPATH=$PWD/bindings/python \
        .venv/bin/python -m pytest Tests/Conformance -q
"""

from __future__ import annotations

import asyncio
import os
import re
import subprocess

import pytest

from cases import CASES, WINDOWS, cases_for
from scripted_peer import open_client
from swiftws.asyncio.server import serve

PROGRAMS = {"swift": os.environ.get("SWIFTWS_ECHO"), "c": os.environ.get("SWIFTWS_C_ECHO_SERVER")}
SERVERS = ["python"] + [name for name, path in PROGRAMS.items() if path]


@pytest.fixture(scope="module", params=SERVERS)
def echo_server(request):
    """(name, port) of an echo server that stays up for the module's cases."""
    if request.param == "python":
        yield from python_server()
        return
    process = subprocess.Popen([PROGRAMS[request.param], "--port", "0"], stdout=subprocess.PIPE, text=True)
    try:
        line = process.stdout.readline()
        match = re.search(r"listening on (?:\S+:)?(\d+)", line)
        assert match, f"unexpected first line {line!r}"
        yield request.param, int(match.group(1))
    finally:
        process.terminate()
        process.wait(timeout=10)


def python_server():
    """The Python binding's server on a thread with its own event loop."""
    import threading
    ready, stop = threading.Event(), None
    port = []

    async def echo(websocket):
        try:
            async for message in websocket:
                await websocket.send(message)
        except Exception:
            pass

    async def main():
        nonlocal stop
        stop = asyncio.get_running_loop().create_future()
        async with serve(echo, "127.0.0.1", 0, max_size=None) as server:
            port.append(server.sockets[0].getsockname()[1])
            ready.set()
            await stop

    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_until_complete, args=(main(),), daemon=True)
    thread.start()
    assert ready.wait(15), "the Python server did not start"
    try:
        yield "python", port[0]
    finally:
        loop.call_soon_threadsafe(stop.set_result, None)
        thread.join(15)


async def run_case(name: str, server: str, port: int) -> None:
    script = cases_for(echo_is_a_coroutine=server == "python")[name]
    peer = await open_client(port, WINDOWS.get(name), path=f"/runCase?case={name}")
    try:
        await asyncio.wait_for(script(peer), 60)
    finally:
        peer.writer.close()


@pytest.mark.parametrize("name", list(CASES))
def test_server_role(name, echo_server):
    server, port = echo_server
    asyncio.run(run_case(name, server, port))
