"""SwiftWS in the *client* role against a scripted server (scripted_peer.FuzzingServer), case by
case (cases.py), the way the Autobahn testsuite's fuzzingserver tests clients. The clients under
test are Autobahn-style echo clients: the C API's (Tests/C/conformance_echo_client.c, echoing
from on_message; when SWIFTWS_C_ECHO_CLIENT names it) and the Python binding's asyncio client
(echoing from a coroutine). Each case asserts what the client sent back: echoes, pongs, the close
code, and nothing after the close.

    SWIFTWS_LIBRARY=$PWD/build/lib/libswiftws.so SWIFTWS_C_ECHO_CLIENT=$PWD/build/Tests/C/conformance_echo_client \
        PYTHONPATH=$PWD/bindings/python .venv/bin/python -m pytest Tests/Conformance -q
"""

from __future__ import annotations

import asyncio
import os

import pytest

from cases import CASES, WINDOWS, cases_for
from scripted_peer import FuzzingServer
from swiftws.asyncio.client import connect

C_CLIENT = os.environ.get("SWIFTWS_C_ECHO_CLIENT")
CLIENTS = ["python"] + (["c"] if C_CLIENT else [])


async def python_echo_client(url: str) -> None:
    """Autobahn's echo client, written with SwiftWS: echo everything until the server closes."""
    try:
        async with connect(url, max_size=None, open_timeout=5) as websocket:
            async for message in websocket:
                await websocket.send(message)
    except Exception:  # the cases that fail the connection end here; the server judges them
        pass


async def c_echo_client(url: str) -> None:
    process = await asyncio.create_subprocess_exec(C_CLIENT, url)
    try:
        assert await asyncio.wait_for(process.wait(), 60) == 0, "the C echo client could not connect"
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()


async def run_case(name: str, client: str) -> None:
    server = FuzzingServer(cases_for(echo_is_a_coroutine=client == "python"), WINDOWS.get)
    port = await server.start()
    try:
        url = f"ws://127.0.0.1:{port}/runCase?case={name}&agent=swiftws-{client}"
        running = asyncio.ensure_future(python_echo_client(url) if client == "python" else c_echo_client(url))
        outcome = server.outcome(name)
        await asyncio.wait_for(outcome.done.wait(), 60)
        # The client notices the end of the connection and returns.
        await asyncio.wait_for(running, 10)
        if outcome.error is not None:
            raise outcome.error
    finally:
        await server.stop()


@pytest.mark.parametrize("client", CLIENTS)
@pytest.mark.parametrize("name", list(CASES))
def test_client_role(name, client):
    asyncio.run(run_case(name, client))
