"""Error paths of the asyncio client and server raise the documented exceptions."""

from __future__ import annotations

import asyncio
import socket

import pytest
from websockets.asyncio.client import connect as ws_connect

import swiftws
from swiftws.asyncio.client import connect
from swiftws.asyncio.server import serve
from swiftws.exceptions import ConcurrencyError

from helpers import echo, run_async


@pytest.mark.parametrize("uri", ["http://localhost/", "ws://", "localhost:8765", "ws://user@localhost/",
                                 "ws://localhost:99999/"])
def test_bad_uri_raises_invalid_uri(uri):
    with pytest.raises(swiftws.InvalidURI):
        connect(uri)


@run_async()
async def test_wss_with_unusable_tls_settings_fails_at_once_with_the_reason():
    from swiftws.tls import SSLContext
    context = SSLContext()
    context.load_verify_locations(cafile="/nonexistent/ca.pem")
    with pytest.raises(swiftws.SwiftWSError) as error:
        await connect("wss://localhost/", ssl=context)
    assert error.value.status == swiftws._native.SWS_ERR_TLS
    assert "/nonexistent/ca.pem" in str(error.value)


@run_async()
async def test_refused_connection_raises_connection_refused_error():
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with pytest.raises(ConnectionRefusedError):
        await connect(f"ws://127.0.0.1:{port}/")


@run_async()
async def test_unknown_host_raises_os_error():
    with pytest.raises(OSError):
        await connect("ws://no-such-host.invalid/", open_timeout=5)


@run_async()
async def test_rejected_handshake_raises_invalid_status():
    def reject(connection, request):
        return connection.respond(404, "Not Found\n")

    async with serve(echo, "127.0.0.1", 0, process_request=reject) as server:
        with pytest.raises(swiftws.InvalidStatus) as error:
            await connect(f"ws://127.0.0.1:{server.port}/")
        assert error.value.response.status_code == 404
        assert isinstance(error.value, swiftws.InvalidHandshake)


@run_async()
async def test_a_server_that_does_not_answer_raises_timeout_error():
    # The writers stay referenced: from Python 3.13 a StreamWriter closes its connection when
    # it is garbage-collected, which would make the server answer with EOF instead of silence.
    writers = []
    silent = await asyncio.start_server(lambda reader, writer: writers.append(writer), "127.0.0.1", 0)
    port = silent.sockets[0].getsockname()[1]
    async with silent:
        with pytest.raises(TimeoutError):
            await connect(f"ws://127.0.0.1:{port}/", open_timeout=0.3)


@run_async()
async def test_message_too_big_closes_with_1009_and_recv_raises():
    async with serve(echo, "127.0.0.1", 0, max_size=10) as server:
        async with ws_connect(f"ws://127.0.0.1:{server.port}/") as peer:
            pass
        ws = await connect(f"ws://127.0.0.1:{server.port}/")
        await ws.send("0123456789A")  # the server's limit, not ours
        with pytest.raises(swiftws.ConnectionClosedError) as closed:
            await ws.recv()
        assert closed.value.code == 1009
        assert ws.close_code == 1009


@run_async()
async def test_port_in_use_raises_os_error():
    async with serve(echo, "127.0.0.1", 0) as server:
        with pytest.raises(OSError):
            await serve(echo, "127.0.0.1", server.port)


@run_async()
async def test_send_rejects_other_types_and_recv_twice_is_an_error():
    async with serve(echo, "127.0.0.1", 0) as server:
        async with connect(f"ws://127.0.0.1:{server.port}/") as ws:
            with pytest.raises(TypeError):
                await ws.send(42)  # type: ignore[arg-type]
            with pytest.raises(TypeError):
                await ws.send({"a": 1})  # type: ignore[arg-type]
            first = asyncio.ensure_future(ws.recv())
            await asyncio.sleep(0)
            with pytest.raises(ConcurrencyError):  # also a RuntimeError, as in websockets
                await ws.recv()
            await ws.send("x")
            assert await first == "x"
            # Fragments of mixed types: the message cannot be finished, so the connection fails
            # with 1011 (as websockets does) and the TypeError is raised.
            with pytest.raises(TypeError):
                await ws.send(["text", b"bytes"])
            await ws.wait_closed()
            assert ws.close_code == 1011


@run_async()
async def test_recv_cancelled_by_a_timeout_loses_no_message():
    async def slow_echo(websocket):
        async for message in websocket:
            await asyncio.sleep(0.05)
            await websocket.send(message)

    async with serve(slow_echo, "127.0.0.1", 0) as server:
        async with connect(f"ws://127.0.0.1:{server.port}/") as ws:
            for index in range(20):
                await ws.send(str(index))
            received = []
            while len(received) < 20:
                try:
                    received.append(await asyncio.wait_for(ws.recv(), 0.01))
                except asyncio.TimeoutError:
                    pass
            assert received == [str(index) for index in range(20)]
