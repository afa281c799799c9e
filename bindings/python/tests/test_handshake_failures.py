"""Issue 12, round 5: opening handshakes that fail as in websockets 17, against real
``websockets`` peers (and raw sockets where websockets' own tests use them) on 127.0.0.1.

- Server: a client that sends no valid request (a line that is not HTTP, nothing until
  ``open_timeout``, a close) is closed without an answer and logged at DEBUG as
  "! no valid HTTP request" with websockets' exception; a hook that closes
  ``connection.transport`` (asyncio) or calls ``close_socket()`` / ``socket.close()``
  (blocking) drops the client without an answer; a ``process_response`` that removes a header
  the library writes gets a clear error instead of being ignored.
- Client: a junk status line fails at once with websockets' ``InvalidMessage`` / ``ValueError``;
  a connection closed before the answer is ``InvalidMessage`` caused by ``EOFError`` (and
  ``async for`` retries it); a 101 without (or with a wrong) ``Sec-WebSocket-Accept`` is
  websockets' ``InvalidHeader`` / ``InvalidHeaderValue``.
"""

from __future__ import annotations

import asyncio
import logging
import socket
import threading
import time

import pytest
from websockets.asyncio.client import connect as ws_connect
from websockets.asyncio.server import serve as ws_serve
from websockets.exceptions import InvalidMessage as WsInvalidMessage
from websockets.sync.client import connect as ws_sync_connect

from swiftws.asyncio.client import connect
from swiftws.asyncio.server import serve
from swiftws.exceptions import InvalidHeader, InvalidHeaderValue, InvalidMessage, InvalidStatus
from swiftws.sync.server import serve as sync_serve

from helpers import echo, run_async, wait_until
from test_websockets_shape import _port


class Records(logging.Handler):
    """Keeps the records of a logger (its level set to DEBUG for the ``with`` block)."""

    def __init__(self, name: str) -> None:
        super().__init__(logging.DEBUG)
        self.logger = logging.getLogger(name)
        self.records: list = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)

    def __enter__(self) -> "Records":
        self.level_before = self.logger.level
        self.logger.setLevel(logging.DEBUG)
        self.logger.addHandler(self)
        return self

    def __exit__(self, *exc) -> None:
        self.logger.removeHandler(self)
        self.logger.setLevel(self.level_before)

    def no_request(self) -> list:
        """The exceptions logged with "! no valid HTTP request", as (type, text)."""
        return [(type(r.exc_info[1]), str(r.exc_info[1])) for r in self.records
                if r.getMessage() == "! no valid HTTP request"]

    def errors(self) -> list:
        return [r.getMessage() for r in self.records if r.levelno >= logging.ERROR]


async def _read_to_end(reader: asyncio.StreamReader) -> bytes:
    data = b""
    while True:
        chunk = await reader.read(4096)
        if not chunk:
            return data
        data += chunk


# ---- Server: clients that send no valid request ---------------------------------------------------

@run_async(30)
async def test_server_closes_silently_and_logs_requests_that_are_not_http():
    with Records("websockets.server") as logs:
        async with serve(echo, "127.0.0.1", 0, open_timeout=0.3) as server:
            port = _port(server)
            # A line that is not an HTTP request line: closed as soon as it arrived, no 400.
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
            writer.write(b"HELO relay.invalid\r\n")
            started = time.monotonic()
            assert await _read_to_end(reader) == b""
            assert time.monotonic() - started < 0.3  # not the open_timeout
            writer.close()
            # Nothing sent: closed at open_timeout, no 408.
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
            assert await _read_to_end(reader) == b""
            writer.close()
            # A request line, then a close: told too.
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
            writer.write(b"GET / HTTP/1.1\r\n")
            writer.close()
            await wait_until(lambda: len(logs.no_request()) == 3, what="the third log line")
            # A websockets client is still served.
            async with ws_connect(f"ws://127.0.0.1:{port}/") as ws:
                await ws.send("hi")
                assert await ws.recv() == "hi"
    assert logs.no_request() == [
        (ValueError, "invalid HTTP request line: HELO relay.invalid"),
        (EOFError, "connection closed while reading HTTP request line"),
        (EOFError, "connection closed while reading HTTP headers"),
    ]
    assert logs.errors() == []


# ---- Server: hooks that drop the client -------------------------------------------------------------

@run_async(30)
async def test_a_hook_that_closes_the_transport_drops_the_client():
    calls = []

    async def process_request(connection, request):
        calls.append(request.path)
        if request.path == "/drop-later":
            await asyncio.sleep(0)  # a coroutine hook: the request is deferred, then dropped
        connection.transport.close()
        assert connection.transport.is_closing()

    with Records("websockets.server") as logs:
        async with serve(echo, "127.0.0.1", 0, process_request=process_request) as server:
            for path in ("/drop", "/drop-later"):
                # websockets' own client: the connection ends before any answer.
                with pytest.raises(WsInvalidMessage) as raised:
                    await ws_connect(f"ws://127.0.0.1:{_port(server)}{path}", open_timeout=5)
                assert isinstance(raised.value.__cause__, EOFError)
    assert calls == ["/drop", "/drop-later"]
    assert logs.errors() == []


def test_a_blocking_hook_that_closes_the_socket_drops_the_client():
    def process_request(connection, request):
        if request.path == "/socket":
            connection.socket.shutdown(socket.SHUT_RDWR)
            connection.socket.close()
        else:
            connection.close_socket()

    with sync_serve(echo_sync, "127.0.0.1", 0, process_request=process_request) as server:
        port = server.socket.getsockname()[1]
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        try:
            for path in ("/socket", "/close_socket"):
                with pytest.raises(WsInvalidMessage) as raised:
                    ws_sync_connect(f"ws://127.0.0.1:{port}{path}", open_timeout=5)
                assert isinstance(raised.value.__cause__, EOFError)
        finally:
            server.shutdown()
            thread.join(10)


def echo_sync(websocket) -> None:
    for message in websocket:
        websocket.send(message)


@run_async(30)
async def test_process_response_cannot_remove_a_header_the_library_writes():
    def remove_accept(connection, request, response):
        del response.headers["Sec-WebSocket-Accept"]

    with Records("websockets.server") as logs:
        async with serve(echo, "127.0.0.1", 0, process_response=remove_accept) as server:
            with pytest.raises(Exception) as raised:
                await ws_connect(f"ws://127.0.0.1:{_port(server)}/")
            assert "HTTP 500" in str(raised.value)
    assert logs.errors() == ["opening handshake failed"]
    failure = next(r for r in logs.records if r.levelno >= logging.ERROR)
    assert "Sec-WebSocket-Accept" in str(failure.exc_info[1])


# ---- Client: answers that are not a WebSocket handshake ---------------------------------------------

@run_async(30)
async def test_client_refuses_a_junk_status_line_at_once():
    async def junk(reader, writer):
        await reader.readuntil(b"\r\n\r\n")
        writer.write(b"220 smtp.invalid ESMTP Postfix\r\n")
        await reader.read(4096)  # until the client closes
        writer.close()

    server = await asyncio.start_server(junk, "127.0.0.1", 0)
    async with server:
        started = time.monotonic()
        with pytest.raises(InvalidMessage) as raised:
            await connect(f"ws://127.0.0.1:{_port(server)}/", open_timeout=5)
        assert time.monotonic() - started < 4  # not the open_timeout
    assert str(raised.value) == "did not receive a valid HTTP response"
    assert isinstance(raised.value.__cause__, ValueError)
    assert str(raised.value.__cause__) == "unsupported protocol; expected HTTP/1.1: 220 smtp.invalid ESMTP Postfix"


@run_async(30)
async def test_client_sees_a_close_before_the_answer_as_websockets_does():
    attempts = []

    def process_request(connection, request):
        attempts.append(request.path)
        if len(attempts) < 3 or request.path == "/always":
            connection.transport.close()  # websockets' server: no answer at all

    async with ws_serve(echo, "127.0.0.1", 0, process_request=process_request) as server:
        uri = f"ws://127.0.0.1:{_port(server)}"
        with pytest.raises(InvalidMessage) as raised:
            await connect(uri + "/always")
        assert str(raised.value) == "did not receive a valid HTTP response"
        assert isinstance(raised.value.__cause__, EOFError)
        assert str(raised.value.__cause__) == "connection closed while reading HTTP status line"
        # websockets' default process_exception retries it: the third attempt opens.
        attempts.clear()
        async for ws in connect(uri + "/", reconnect_delays=short_delays):
            await ws.send("hi")
            assert await ws.recv() == "hi"
            break
        assert attempts == ["/", "/", "/"]


def short_delays():
    """Reconnection delays of 10 ms (``connect(reconnect_delays=)``)."""
    while True:
        yield 0.01


@run_async(30)
async def test_client_names_the_sec_websocket_accept_header_at_fault():
    def remove_accept(connection, request, response):
        del response.headers["Sec-WebSocket-Accept"]

    def wrong_accept(connection, request, response):
        del response.headers["Sec-WebSocket-Accept"]
        response.headers["Sec-WebSocket-Accept"] = "d3Jvbmc="

    def two_accepts(connection, request, response):
        response.headers["Sec-WebSocket-Accept"] = "d3Jvbmc="  # websockets' headers add a second

    for edit, kind, text in ((remove_accept, InvalidHeader, "missing Sec-WebSocket-Accept header"),
                             (wrong_accept, InvalidHeaderValue, "invalid Sec-WebSocket-Accept header: d3Jvbmc="),
                             (two_accepts, InvalidHeader, "invalid Sec-WebSocket-Accept header: multiple values")):
        async with ws_serve(echo, "127.0.0.1", 0, process_response=edit) as server:
            with pytest.raises(InvalidHeader) as raised:
                await connect(f"ws://127.0.0.1:{_port(server)}/", close_timeout=0.1)
            assert type(raised.value) is kind
            assert str(raised.value) == text
    # A refusal is still InvalidStatus.
    async with ws_serve(echo, "127.0.0.1", 0, process_request=lambda c, r: c.respond(403, "no\n")) as server:
        with pytest.raises(InvalidStatus):
            await connect(f"ws://127.0.0.1:{_port(server)}/")


@run_async(30)
async def test_a_client_that_resets_during_a_deferred_upgrade_does_not_hold_the_server():
    # The hook answers after the client reset the connection, before the loop saw the reset:
    # the 101 cannot be written. The connection must end (its handler returns), so that closing
    # the server does not wait for a peer that is gone (websockets' test_reconnect hung on it).
    release = asyncio.Event()
    opened = asyncio.Event()
    ended = asyncio.Event()

    async def process_request(connection, request):
        await release.wait()

    async def handler(websocket):
        opened.set()
        await websocket.wait_closed()
        ended.set()

    async with serve(handler, "127.0.0.1", 0, process_request=process_request) as server:
        raw = socket.create_connection(("127.0.0.1", _port(server)))
        raw.sendall(b"GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                    b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n")
        await wait_until(lambda: server._handshakes, what="the deferred upgrade")
        raw.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
        raw.close()  # RST
        release.set()
        await wait_until(lambda: not server._handshakes, what="the answer")
        await asyncio.sleep(0)  # an opened connection's handler starts
        if opened.is_set():  # accepted before the reset was seen: it must end at once
            await asyncio.wait_for(ended.wait(), 2)
        started = time.monotonic()
    assert time.monotonic() - started < 2  # closing the server did not wait for the peer
