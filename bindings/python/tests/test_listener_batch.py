"""Replies a ``serve_listener`` callback sends while a batch of messages is handled are collected
and written by one ``sws_conn_send_batch`` call (``ListenerConnection.send_nowait``): same
frames, same order, and ``send_nowait`` still reports a backlog with False."""

from __future__ import annotations

import asyncio
import base64
import logging
import os
import socket
import struct

from websockets.asyncio.client import connect as ws_connect

from swiftws import _driver
from swiftws.asyncio.server import Listener, serve_listener

from helpers import run_async, wait_until


class _CountingBatch:
    """Wraps ``_driver._send_batch``: how many calls, how many entries in all."""

    def __init__(self, monkeypatch) -> None:
        self.calls = 0
        self.entries = 0
        self._native = _driver._send_batch
        monkeypatch.setattr(_driver, "_send_batch", self)

    def __call__(self, entries, count, payloads):
        self.calls += 1
        self.entries += count
        return self._native(entries, count, payloads)


def _frame(opcode: int, payload: bytes) -> bytes:
    """A masked client frame (payload under 126 bytes)."""
    mask = os.urandom(4)
    masked = bytes(byte ^ mask[index % 4] for index, byte in enumerate(payload))
    return bytes([0x80 | opcode, 0x80 | len(payload)]) + mask + masked


async def _raw_client(port: int, receive_buffer: int = 0):
    """A TCP connection through the opening handshake, as asyncio streams."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    if receive_buffer:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, receive_buffer)
    sock.setblocking(False)
    await asyncio.get_running_loop().sock_connect(sock, ("127.0.0.1", port))
    reader, writer = await asyncio.open_connection(sock=sock)
    key = base64.b64encode(os.urandom(16)).decode()
    writer.write((f"GET / HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                  f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n").encode())
    head = await reader.readuntil(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 101"), head
    return reader, writer


@run_async()
async def test_replies_made_during_a_batch_go_out_in_one_call_each_in_order(monkeypatch):
    batch = _CountingBatch(monkeypatch)
    results = []

    class Echo(Listener):
        def on_message(self, connection, message):
            results.append(connection.send_nowait(message))

    sent = [f"m{index}" if index % 3 else f"b{index}".encode() for index in range(300)] + [b"", ""]
    async with serve_listener(Echo, "127.0.0.1", 0, compression=None) as server:
        async with ws_connect(f"ws://127.0.0.1:{server.port}/", compression=None) as ws:
            await asyncio.gather(*(ws.send(message) for message in sent))  # many per read
            received = [await ws.recv() for _ in sent]
    assert received == sent
    assert results == [True] * len(sent)
    assert batch.entries == len(sent)
    assert batch.calls < len(sent)  # several replies per call


@run_async()
async def test_a_direct_send_between_collected_ones_keeps_the_order(monkeypatch):
    batch = _CountingBatch(monkeypatch)

    class Echo(Listener):
        def on_message(self, connection, message):
            connection.send_nowait(message)                  # collected
            connection.send_nowait(bytearray(b"direct"))     # not bytes/str: written at once
            connection.send_nowait(memoryview(b"view"))      # likewise
            connection.send_nowait("after " + message)       # collected again

    sent = [f"m{index}" for index in range(50)]
    async with serve_listener(Echo, "127.0.0.1", 0, compression=None) as server:
        async with ws_connect(f"ws://127.0.0.1:{server.port}/", compression=None) as ws:
            await asyncio.gather(*(ws.send(message) for message in sent))
            received = [await ws.recv() for _ in range(4 * len(sent))]
    assert received == [part for message in sent for part in (message, b"direct", b"view", "after " + message)]
    assert batch.entries == 2 * len(sent)


@run_async()
async def test_send_nowait_reports_a_backlog_and_collects_again_after_the_drain(monkeypatch):
    # The client does not read: the kernel refuses the replies, send_nowait must say False
    # (the batch that first meets the backlog marks the connection; its later sends go one by
    # one); once the client has read everything, on_drain lets the replies be collected again.
    reply = b"r" * (1 << 20)
    results = []
    batch = _CountingBatch(monkeypatch)

    class Big(Listener):
        def on_message(self, connection, message):
            results.append(connection.send_nowait(reply))

    async with serve_listener(Big, "127.0.0.1", 0, compression=None) as server:
        reader, writer = await _raw_client(server.port, receive_buffer=4096)
        try:
            for _ in range(64):
                count = len(results)
                writer.write(_frame(0x2, b"x"))
                await writer.drain()
                await wait_until(lambda: len(results) == count + 1, what="the message")
                if False in results:
                    break
            assert False in results, results
            frame_size = 2 + 8 + len(reply)
            await reader.readexactly(frame_size * len(results))  # everything the server sent
            before, collected = len(results), batch.entries
            writer.write(_frame(0x2, b"x"))
            await writer.drain()
            await wait_until(lambda: len(results) == before + 1, what="the last message")
            assert results[-1] is True
            assert batch.entries == collected + 1  # collected again: on_drain cleared the backlog
            await reader.readexactly(frame_size)
        finally:
            writer.close()


@run_async()
async def test_a_reply_to_a_message_read_with_the_close_frame_is_dropped_quietly(caplog):
    events = []

    class Recorder(Listener):
        def on_message(self, connection, message):
            events.append((message, connection.send_nowait(message)))

        def on_close(self, connection, code, reason):
            events.append(("close", code))

    with caplog.at_level(logging.WARNING, logger="swiftws"):
        async with serve_listener(Recorder, "127.0.0.1", 0, compression=None) as server:
            reader, writer = await _raw_client(server.port)
            try:
                # One write: the server reads the message and the close frame together.
                writer.write(_frame(0x1, b"hi") + _frame(0x8, struct.pack("!H", 1000)))
                await writer.drain()
                await wait_until(lambda: ("close", 1000) in events, what="on_close")
            finally:
                writer.close()
    # True: collected for this iteration's flush, which the close then drops (documented in
    # ListenerConnection.send_nowait); a direct send would have raised ConnectionClosed there.
    assert events == [("hi", True), ("close", 1000)]
    assert "swiftws" not in caplog.text


@run_async()
async def test_a_native_send_limit_turns_collecting_off(monkeypatch):
    batch = _CountingBatch(monkeypatch)

    class Echo(Listener):
        def on_message(self, connection, message):
            connection.send_nowait(message)

    async with serve_listener(Echo, "127.0.0.1", 0, compression=None, max_buffered=1 << 20) as server:
        async with ws_connect(f"ws://127.0.0.1:{server.port}/", compression=None) as ws:
            await asyncio.gather(*(ws.send(f"m{index}") for index in range(20)))
            assert [await ws.recv() for _ in range(20)] == [f"m{index}" for index in range(20)]
    assert batch.calls == 0
