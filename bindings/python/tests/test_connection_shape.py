"""Issue 12, round 6: connection behaviour that websockets 17's own connection tests
(tests/asyncio/test_connection.py, tests/sync/test_connection.py, run by
scripts/websockets_suite.py) found different, each checked here against a real websockets peer
on 127.0.0.1:

- ``async with`` / ``with`` a connection: an exception in the block closes with 1011;
- ``broadcast(..., text=)``; a connection in the middle of a fragmented send is skipped with
  websockets' warning (``ConcurrencyError`` with ``raise_exceptions``), not a library error;
  ``broadcast`` importable from ``swiftws.asyncio.connection``;
- the blocking ``send`` while another thread sends a fragmented message raises
  ``ConcurrencyError`` (it waited forever for a generator that waited for it);
- ``recv_streaming`` while another ``recv`` waits names ``recv_streaming``;
- ``connection.logger`` is a ``LoggerAdapter`` whose records carry ``websocket``;
- ``swiftws.protocol.State`` is the class of ``connection.state``.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time

import pytest
from websockets.asyncio.server import serve as ws_serve
from websockets.sync.server import serve as ws_sync_serve

from swiftws.asyncio.client import connect
from swiftws.asyncio.connection import broadcast as connection_broadcast
from swiftws.asyncio.server import broadcast
from swiftws.exceptions import ConcurrencyError, ExceptionGroup
from swiftws.protocol import OPEN, State
from swiftws.sync.client import connect as sync_connect
from swiftws.sync.connection import broadcast as sync_broadcast

from helpers import FragmentedSendInThread, run_async, wait_until
from test_websockets_shape import _port


class Peer:
    """A websockets server that records what its one client sent (message kinds and values)
    and the close code it received."""

    def __init__(self) -> None:
        self.messages: list = []
        self.close_codes: list = []
        self.closed = asyncio.Event()

    async def handler(self, websocket) -> None:
        try:
            async for message in websocket:
                self.messages.append(message)
        finally:
            self.close_codes.append(websocket.close_code)
            self.closed.set()


@run_async(30)
async def test_an_exception_in_async_with_closes_with_1011():
    peer = Peer()
    async with ws_serve(peer.handler, "127.0.0.1", 0) as server:
        with pytest.raises(RuntimeError):
            async with await connect(f"ws://127.0.0.1:{_port(server)}/") as websocket:
                raise RuntimeError
        await asyncio.wait_for(peer.closed.wait(), 5)
        assert websocket.close_code == 1011 and peer.close_codes == [1011]
        peer.closed.clear()
        async with await connect(f"ws://127.0.0.1:{_port(server)}/"):
            pass
        await asyncio.wait_for(peer.closed.wait(), 5)
        assert peer.close_codes == [1011, 1000]


def test_an_exception_in_with_closes_with_1011():
    codes: list = []
    done = threading.Event()

    def handler(websocket) -> None:
        try:
            for _ in websocket:
                pass
        except Exception:  # ConnectionClosedError: 1011
            pass
        codes.append(websocket.close_code)
        done.set()

    with ws_sync_serve(handler, "127.0.0.1", 0) as server:
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        with pytest.raises(RuntimeError):
            with sync_connect(f"ws://127.0.0.1:{server.socket.getsockname()[1]}/") as websocket:
                raise RuntimeError
        assert done.wait(5)
        assert websocket.close_code == 1011 and codes == [1011]
        server.shutdown()
        thread.join(5)


@run_async(30)
async def test_broadcast_text_argument_and_a_connection_sending_fragments():
    peer = Peer()
    gate = asyncio.Event()

    async def fragments():
        yield "⏳"
        await gate.wait()
        yield "⌛"

    assert connection_broadcast is broadcast
    async with ws_serve(peer.handler, "127.0.0.1", 0) as server:
        async with await connect(f"ws://127.0.0.1:{_port(server)}/") as websocket:
            broadcast([websocket], "😀".encode(), text=True)  # bytes as a text frame
            broadcast([websocket], "😀", text=False)  # str as a binary frame
            await wait_until(lambda: len(peer.messages) == 2)
            assert peer.messages == ["😀", "😀".encode()]

            sending = asyncio.create_task(websocket.send(fragments()))
            await asyncio.sleep(0)
            logger = logging.getLogger("websockets.client")
            records: list = []
            handler = logging.Handler()
            handler.emit = records.append  # type: ignore[method-assign]
            logger.addHandler(handler)
            try:
                broadcast([websocket], "skipped")
            finally:
                logger.removeHandler(handler)
            assert [record.getMessage() for record in records] == ["skipped broadcast: sending a fragmented message"]
            assert records[0].websocket is websocket  # the connection's LoggerAdapter
            with pytest.raises(ExceptionGroup) as raised:
                broadcast([websocket], "skipped", raise_exceptions=True)
            assert str(raised.value) == "skipped broadcast (1 sub-exception)"
            assert isinstance(raised.value.exceptions[0], ConcurrencyError)
            assert str(raised.value.exceptions[0]) == "sending a fragmented message"
            gate.set()
            await sending
            await wait_until(lambda: len(peer.messages) == 3)
            assert peer.messages[2] == "⏳⌛"  # nothing of the skipped broadcasts went out


def test_blocking_send_during_a_fragmented_send_of_another_thread_raises():
    received: list = []

    def handler(websocket) -> None:
        for message in websocket:
            received.append(message)

    with ws_sync_serve(handler, "127.0.0.1", 0) as server:
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        with sync_connect(f"ws://127.0.0.1:{server.socket.getsockname()[1]}/") as websocket:
            with FragmentedSendInThread(websocket, "a", "b") as sending:
                for message in ["x", b"x", ["x", "y"]]:
                    with pytest.raises(ConcurrencyError, match="^cannot call send while another thread is already running send$"):
                        websocket.send(message)
            assert sending.error is None
            websocket.send("after")  # the connection is free again
            sync_broadcast([websocket], b"c", text=True)
        server.shutdown()
        thread.join(5)
    assert received == ["ab", "after", "c"]


@run_async(30)
async def test_recv_streaming_during_recv_and_the_state_class():
    async def quiet(websocket) -> None:
        await websocket.wait_closed()

    async with ws_serve(quiet, "127.0.0.1", 0) as server:
        async with await connect(f"ws://127.0.0.1:{_port(server)}/") as websocket:
            assert isinstance(websocket.logger, logging.LoggerAdapter)
            assert websocket.logger.extra == {"websocket": websocket}
            assert type(websocket.state) is State and websocket.state is OPEN is State.OPEN
            receiving = asyncio.create_task(websocket.recv())
            await asyncio.sleep(0)
            with pytest.raises(ConcurrencyError) as raised:
                async for _ in websocket.recv_streaming():
                    pass
            assert str(raised.value) == ("cannot call recv_streaming while another coroutine is already "
                                         "running recv or recv_streaming")
            receiving.cancel()
        assert websocket.state is State.CLOSED


def test_blocking_recv_streaming_during_recv():
    def quiet(websocket) -> None:
        for _ in websocket:
            pass

    with ws_sync_serve(quiet, "127.0.0.1", 0) as server:
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        outcome: list = []
        with sync_connect(f"ws://127.0.0.1:{server.socket.getsockname()[1]}/") as websocket:
            def receive() -> None:
                try:
                    websocket.recv()
                except Exception as error:  # ConnectionClosedOK at the close below
                    outcome.append(error)
            receiver = threading.Thread(target=receive)
            receiver.start()
            deadline = time.monotonic() + 5
            while not websocket._recv_lock.locked() and time.monotonic() < deadline:  # the other thread is in recv
                time.sleep(0.001)
            with pytest.raises(ConcurrencyError) as raised:
                for _ in websocket.recv_streaming():
                    pass
            assert str(raised.value) == ("cannot call recv_streaming while another thread is already "
                                         "running recv or recv_streaming")
        receiver.join(5)
        assert [type(error).__name__ for error in outcome] == ["ConnectionClosedOK"]
        server.shutdown()
        thread.join(5)
