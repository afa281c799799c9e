"""Issue 15 in the Python face: topics (``ServerConnection.subscribe``, ``Server.publish``) joined
across servers through Redis (``redis=``, with a redis-server this test starts on a free loopback
port), ``server_no_context_takeover`` imposed on browsers' default offer, and ``loops`` (1 only in
the asyncio front end, refused clearly otherwise)."""

from __future__ import annotations

import asyncio
import shutil
import socket
import subprocess

import pytest
from websockets.asyncio.client import connect as ws_connect

from swiftws.asyncio.server import serve

from helpers import echo, run_async, wait_until

REDIS = shutil.which("redis-server")


@pytest.fixture
def redis_port():
    if REDIS is None:
        pytest.fail("redis-server is not installed: run scripts/install-deps.sh")
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    process = subprocess.Popen([REDIS, "--bind", "127.0.0.1", "--port", str(port), "--save", "", "--appendonly", "no"],
                               stdout=subprocess.PIPE, text=True)
    try:
        for line in process.stdout:
            if "Ready to accept connections" in line:
                break
        yield port
    finally:
        process.kill()
        process.wait(timeout=10)


async def chat_room(websocket):
    """Subscribes to "room" and publishes each message to it (on every server of the Redis)."""
    websocket.subscribe("room")
    async for message in websocket:
        websocket.server.publish("room", message)


@run_async()
async def test_topics_cross_servers_through_redis_once(redis_port):
    url = f"redis://127.0.0.1:{redis_port}"
    async with serve(chat_room, "127.0.0.1", 0, redis=url) as first, \
            serve(chat_room, "127.0.0.1", 0, redis=url) as second:
        async with ws_connect(f"ws://127.0.0.1:{first.port}/") as alice, \
                ws_connect(f"ws://127.0.0.1:{second.port}/") as bob:
            await wait_until(lambda: first.subscriber_count("room") == 1 and second.subscriber_count("room") == 1)
            # Probes until the second server's Redis subscription is confirmed.
            for attempt in range(100):
                await alice.send(f"probe {attempt}")
                assert await asyncio.wait_for(alice.recv(), 5) == f"probe {attempt}"  # own server, at once
                try:
                    received = await asyncio.wait_for(bob.recv(), 0.2)
                    break
                except asyncio.TimeoutError:
                    continue
            else:
                raise AssertionError("nothing crossed through Redis")
            assert received.startswith("probe ")
            # Drain probes that may still be in flight, then exactly once each way.
            await bob.send("from bob")
            while (message := await asyncio.wait_for(bob.recv(), 5)) != "from bob":
                assert message.startswith("probe ")
            while (message := await asyncio.wait_for(alice.recv(), 5)) != "from bob":
                assert message.startswith("probe ")
            await alice.send("from alice")
            assert await asyncio.wait_for(alice.recv(), 5) == "from alice"
            assert await asyncio.wait_for(bob.recv(), 5) == "from alice"
            # Nothing more: neither server delivered its own publish a second time.
            for ws in (alice, bob):
                with pytest.raises(asyncio.TimeoutError):
                    await asyncio.wait_for(ws.recv(), 0.3)


@run_async()
async def test_server_no_context_takeover_is_imposed_on_a_default_offer():
    async with serve(echo, "127.0.0.1", 0, server_no_context_takeover=True) as server:
        async with ws_connect(f"ws://127.0.0.1:{server.port}/") as ws:  # websockets' default offer
            agreed = ws.response.headers["Sec-WebSocket-Extensions"]
            assert "permessage-deflate" in agreed and "server_no_context_takeover" in agreed
            await ws.send("x" * 1000)
            assert await ws.recv() == "x" * 1000
    async with serve(echo, "127.0.0.1", 0) as server:
        async with ws_connect(f"ws://127.0.0.1:{server.port}/") as ws:
            assert "server_no_context_takeover" not in ws.response.headers["Sec-WebSocket-Extensions"]


def test_loops_other_than_one_are_refused_by_the_asyncio_front_end():
    for loops in (0, 2, 257):
        with pytest.raises(ValueError, match="loops"):
            serve(echo, "127.0.0.1", 0, loops=loops)


@run_async()
async def test_a_bad_redis_url_is_refused():
    with pytest.raises(Exception, match="redis_url"):
        async with serve(echo, "127.0.0.1", 0, redis="http://127.0.0.1:6379"):
            pass
