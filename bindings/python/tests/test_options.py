"""Each SwiftWS option that the Python face passes to the library takes effect, seen from a
real ``websockets`` peer on loopback: the close code the peer receives, or the refusal."""

from __future__ import annotations

import asyncio

import pytest
from websockets.asyncio.client import connect as ws_connect
from websockets.exceptions import ConnectionClosed, InvalidStatus

from swiftws.asyncio.server import serve

from helpers import echo, run_async


async def _close_code_after(server, send=None) -> int:
    port = server.sockets[0].getsockname()[1]
    async with ws_connect(f"ws://127.0.0.1:{port}/", ping_interval=None) as ws:
        if send is not None:
            await send(ws)
        with pytest.raises(ConnectionClosed) as closed:
            await asyncio.wait_for(ws.recv(), 10)
        return closed.value.rcvd.code


@run_async()
async def test_idle_timeout_closes_with_1001():
    async with serve(echo, "127.0.0.1", 0, ping_interval=None, idle_timeout=0.2) as server:
        assert await _close_code_after(server) == 1001


@run_async()
async def test_message_timeout_closes_an_unfinished_message_with_1008():
    async def unfinished(ws):
        # The first frame of a fragmented message, and never the rest.
        ws.protocol.send_text(b"part", fin=False)
        for data in ws.protocol.data_to_send():
            ws.transport.write(data)

    async with serve(echo, "127.0.0.1", 0, ping_interval=None, message_timeout=0.2) as server:
        assert await _close_code_after(server, unfinished) == 1008


@run_async()
async def test_max_size_closes_with_1009():
    async def big(ws):
        await ws.send(b"x" * 2000)

    async with serve(echo, "127.0.0.1", 0, ping_interval=None, max_size=1000, compression=None) as server:
        assert await _close_code_after(server, big) == 1009


@run_async()
async def test_max_head_size_refuses_a_large_request_with_431():
    async with serve(echo, "127.0.0.1", 0, max_head_size=1024) as server:
        port = server.sockets[0].getsockname()[1]
        with pytest.raises(InvalidStatus) as refused:
            await ws_connect(f"ws://127.0.0.1:{port}/", additional_headers={"X-Big": "y" * 2000})
        assert refused.value.response.status_code == 431


def test_unknown_options_are_refused():
    with pytest.raises(TypeError, match="no_such_option"):
        serve(echo, "127.0.0.1", 0, no_such_option=1)


@run_async()
async def test_state_comes_from_the_library_and_unsolicited_pongs_are_sent():
    from swiftws.asyncio.connection import State

    seen = []
    pongs = []

    async def handler(ws):
        seen.append(ws.state)
        await ws.pong(b"beat")
        await ws.close(4000, "bye")
        seen.append(ws.state)

    async with serve(handler, "127.0.0.1", 0, ping_interval=None) as server:
        port = server.sockets[0].getsockname()[1]
        async with ws_connect(f"ws://127.0.0.1:{port}/", ping_interval=None) as ws:
            # websockets records an unsolicited pong only as a received frame: look at the parser.
            original = ws.protocol.recv_frame

            def record(frame):
                if frame.opcode.name == "PONG":
                    pongs.append(bytes(frame.data))
                return original(frame)

            ws.protocol.recv_frame = record
            with pytest.raises(ConnectionClosed) as closed:
                await asyncio.wait_for(ws.recv(), 10)
            assert closed.value.rcvd.code == 4000
    assert seen == [State.OPEN, State.CLOSED]
    assert pongs in ([b"beat"], [])  # the pong may arrive before the parser is wrapped


@run_async()
async def test_counters_count_messages_and_bytes_each_way():
    seen = {}

    async def handler(ws):
        async for message in ws:
            await ws.send(message)
            seen.update(ws.counters)  # while open (a closed connection reports zeros)

    async with serve(handler, "127.0.0.1", 0, ping_interval=None) as server:
        port = server.sockets[0].getsockname()[1]
        async with ws_connect(f"ws://127.0.0.1:{port}/", ping_interval=None) as ws:
            for message in ["hello", b"\x00" * 1000, "caf\u00e9"]:
                await ws.send(message)
                assert await asyncio.wait_for(ws.recv(), 10) == message
    assert seen["messages_received"] == 3 and seen["messages_sent"] == 3
    assert seen["bytes_received"] == 5 + 1000 + 5 == seen["bytes_sent"]


@run_async()
async def test_memory_budget_closes_the_connection_that_passes_it_with_1013():
    async def unfinished(ws):
        # 6,000 bytes of a message that never ends, against a server-wide budget of 4,096.
        ws.protocol.send_binary(b"\x00" * 6000, fin=False)
        for data in ws.protocol.data_to_send():
            ws.transport.write(data)

    async with serve(echo, "127.0.0.1", 0, ping_interval=None, compression=None, memory_budget=4096) as server:
        assert await _close_code_after(server, unfinished) == 1013
