"""Issue 12, round 6 (r6-stream): ``recv_streaming()`` frame by frame, as websockets 17, against
real websockets peers on 127.0.0.1:

- a fragmented message sent by websockets yields each frame's data as it arrives: the peer sends
  the first fragment and waits until we saw it before sending the rest (asyncio and blocking,
  client and server side, with and without permessage-deflate);
- a text frame ending inside a character yields the complete characters so far;
- ``recv()`` and ``async for`` still return the whole message after streaming was turned on, and single-frame
  messages still come as one item;
- the first ``recv_streaming`` turns frame-by-frame delivery on (each test first takes a
  single-frame message with it, then tells the peer to go on): a message already received whole
  before comes as one item;
- ``recv()`` cancelled in the middle of a streamed message loses nothing (a timeout, asyncio
  and blocking): the next ``recv()`` returns the whole message;
- leaving ``recv_streaming`` in the middle of a message makes the next receive raise
  ``ConcurrencyError`` (websockets' rule); cancelling before the first frame does not.
"""

from __future__ import annotations

import asyncio

import pytest
from websockets.asyncio.client import connect as ws_connect
from websockets.asyncio.server import serve as ws_serve

from swiftws.asyncio.client import connect
from swiftws.asyncio.server import serve
from swiftws.exceptions import ConcurrencyError
from swiftws.sync.client import connect as sync_connect

from helpers import run_async
from test_websockets_shape import _port


def _gated_sender(gate: asyncio.Event, first, rest):
    async def fragments():
        yield first
        await gate.wait()  # the rest only once the first fragment was seen
        for part in rest:
            yield part
    return fragments


@pytest.mark.parametrize("compression", ["deflate", None])
@run_async(30)
async def test_asyncio_client_sees_each_fragment_as_it_arrives(compression):
    gate = asyncio.Event()

    async def handler(websocket) -> None:
        await websocket.send("hello")
        assert await websocket.recv() == "go"
        await websocket.send(_gated_sender(gate, "😀é", ["ab", "c"])())
        await websocket.send([b"\x01", b"\x02"])
        await websocket.send("whole")
        assert await websocket.recv() == "next"
        await websocket.send([b"\x03", b"\x04"])
        await websocket.wait_closed()

    async with ws_serve(handler, "127.0.0.1", 0, compression=compression) as server:
        async with connect(f"ws://127.0.0.1:{_port(server)}/", compression=compression) as ws:
            assert [m async for m in ws.recv_streaming()] == ["hello"]
            await ws.send("go")
            seen = []
            async for fragment in ws.recv_streaming():
                seen.append(fragment)
                gate.set()  # the peer is still waiting here: this fragment came alone
            assert seen == ["😀é", "ab", "c", ""]
            assert await ws.recv() == b"\x01\x02"  # recv joins a streamed message
            assert [m async for m in ws.recv_streaming()] == ["whole"]  # one frame: one item
            await ws.send("next")
            async for message in ws:  # iterating joins streamed messages too
                assert message == b"\x03\x04"
                break


@pytest.mark.parametrize("loops", [1, 3])
@run_async(30)
async def test_asyncio_server_sees_each_fragment_and_utf8_split_across_frames(loops):
    gate = asyncio.Event()
    received = []

    async def handler(websocket) -> None:
        assert [m async for m in websocket.recv_streaming()] == ["hello"]
        await websocket.send("go")
        async for fragment in websocket.recv_streaming(decode=False):
            received.append(fragment)
            gate.set()
        async for fragment in websocket.recv_streaming():
            received.append(fragment)
        await websocket.send("done")

    # loops=3: connections also on the library's own threads (on_fragment posted to asyncio).
    # (One connection per loop: the second and third run on the library's threads.)
    async with serve(handler, "127.0.0.1", 0, loops=loops) as server:
        for _ in range(loops):
            gate.clear()
            async with ws_connect(f"ws://127.0.0.1:{server.port}/") as ws:
                await ws.send("hello")
                assert await ws.recv() == "go"
                await ws.send(_gated_sender(gate, b"xy", [b"z"])())
                # "é" is two bytes (c3 a9): the first frame ends inside it.
                await ws.send([b"a\xc3", b"\xa9b"], text=True)
                assert await ws.recv() == "done"
    assert received == [b"xy", b"z", b"", "a", "éb", ""] * loops


@run_async(30)
async def test_leaving_a_streamed_message_early_and_cancelling_before_it():
    gate = asyncio.Event()

    async def handler(websocket) -> None:
        await websocket.send("hello")
        assert await websocket.recv() == "go"
        await websocket.send(_gated_sender(gate, "first", ["second"])())
        await websocket.wait_closed()

    async with ws_serve(handler, "127.0.0.1", 0) as server:
        async with connect(f"ws://127.0.0.1:{_port(server)}/") as ws:
            assert [m async for m in ws.recv_streaming()] == ["hello"]
            task = asyncio.ensure_future(ws.recv_streaming().__anext__())
            await asyncio.sleep(0)
            task.cancel()  # before any frame (the peer waits for "go"): harmless
            with pytest.raises(asyncio.CancelledError):
                await task
            await ws.send("go")
            stream = ws.recv_streaming()
            assert await stream.__anext__() == "first"
            await stream.aclose()  # left in the middle of the message
            gate.set()
            with pytest.raises(ConcurrencyError):
                await ws.recv()
            with pytest.raises(ConcurrencyError):
                async for _ in ws.recv_streaming():
                    pass


@run_async(30)
async def test_blocking_client_sees_each_fragment_as_it_arrives():
    loop = asyncio.get_running_loop()
    gate = asyncio.Event()

    async def handler(websocket) -> None:
        await websocket.send("hello")
        assert await websocket.recv() == "go"
        await websocket.send(_gated_sender(gate, b"\x01\x02", [b"\xfe\xff"])())
        await websocket.send(["x", "y"])
        await websocket.wait_closed()

    def client(port: int) -> list:
        seen = []
        with sync_connect(f"ws://127.0.0.1:{port}/") as ws:
            assert list(ws.recv_streaming()) == ["hello"]
            ws.send("go")
            for fragment in ws.recv_streaming():
                seen.append(fragment)
                loop.call_soon_threadsafe(gate.set)
            seen.append(ws.recv())
        return seen

    async with ws_serve(handler, "127.0.0.1", 0) as server:
        seen = await asyncio.wait_for(asyncio.to_thread(client, _port(server)), 20)
    assert seen == [b"\x01\x02", b"\xfe\xff", b"", "xy"]


@run_async(30)
async def test_recv_cancelled_in_the_middle_of_a_streamed_message_loses_nothing():
    loop = asyncio.get_running_loop()
    gate = asyncio.Event()

    async def handler(websocket) -> None:  # one connection after the other
        gate.clear()
        await websocket.send("hello")
        assert await websocket.recv() == "go"
        await websocket.send(_gated_sender(gate, "one ", ["two"])())
        await websocket.wait_closed()

    def blocking(port: int) -> list:
        with sync_connect(f"ws://127.0.0.1:{port}/") as ws:
            assert ws.recv() == "hello"
            ws.send("go")
            with pytest.raises(TimeoutError):
                ws.recv(timeout=0.2)  # the first fragment came, the rest waits for the gate
            loop.call_soon_threadsafe(gate.set)
            return [ws.recv(timeout=10)]

    async with ws_serve(handler, "127.0.0.1", 0) as server:
        async with connect(f"ws://127.0.0.1:{_port(server)}/") as ws:
            assert [m async for m in ws.recv_streaming()] == ["hello"]
            await ws.send("go")
            with pytest.raises(asyncio.TimeoutError):
                await asyncio.wait_for(ws.recv(), 0.2)
            gate.set()
            assert await ws.recv() == "one two"
        got = await asyncio.wait_for(asyncio.to_thread(blocking, _port(server)), 20)
    assert got == ["one two"]
