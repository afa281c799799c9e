"""Interop of the asyncio API with Python `websockets`, both directions, with and without
permessage-deflate: messages of 0 B to 16 MiB, fragments, ping/pong, subprotocols and headers,
every close path with its exact code, upgrade rejection, 500 concurrent clients."""

from __future__ import annotations

import asyncio
import logging
import os

import pytest
import websockets
from websockets.asyncio.client import connect as ws_connect
from websockets.asyncio.server import serve as ws_serve

import swiftws
from swiftws.asyncio.client import connect
from swiftws.asyncio.server import serve

from helpers import echo, payload, raise_fd_limit, run_async, wait_until

SIZES = [0, 1, 125, 126, 65535, 65536, 1 << 20, 16 << 20]
COMPRESSION = [pytest.param("deflate", id="deflate"), pytest.param(None, id="plain")]


def _port(server) -> int:
    return server.sockets[0].getsockname()[1]


@pytest.mark.parametrize("compression", COMPRESSION)
@run_async(120)
async def test_swiftws_client_to_websockets_server_all_sizes(compression):
    async with ws_serve(echo, "127.0.0.1", 0, compression=compression, max_size=None) as server:
        async with connect(f"ws://127.0.0.1:{_port(server)}/", compression=compression, max_size=None) as ws:
            assert ws.compressed is (compression == "deflate")
            for size in SIZES:
                for text in (True, False):
                    message = payload(size, text)
                    await ws.send(message)
                    echoed = await ws.recv()
                    assert type(echoed) is type(message) and echoed == message, (size, text)


@pytest.mark.parametrize("compression", COMPRESSION)
@run_async(120)
async def test_websockets_client_to_swiftws_server_all_sizes(compression):
    async with serve(echo, "127.0.0.1", 0, compression=compression, max_size=None) as server:
        async with ws_connect(f"ws://127.0.0.1:{server.port}/", compression=compression, max_size=None) as ws:
            assert (ws.protocol.extensions != []) is (compression == "deflate")
            for size in SIZES:
                for text in (True, False):
                    message = payload(size, text)
                    await ws.send(message)
                    assert await ws.recv() == message, (size, text)


@pytest.mark.parametrize("compression", COMPRESSION)
@run_async()
async def test_fragments_both_ways(compression):
    received = []

    async def collect_fragments(websocket):
        async for fragment in websocket.recv_streaming():
            received.append(fragment)
        await websocket.send(["é", "t", "é"])  # websockets sends a fragmented text message

    async with ws_serve(collect_fragments, "127.0.0.1", 0, compression=compression) as server:
        async with connect(f"ws://127.0.0.1:{_port(server)}/", compression=compression) as ws:
            async def parts():
                for part in (b"ab", b"", b"cd", b"e"):
                    yield part
            await ws.send(parts())
            assert await ws.recv() == "été"
    # Each part as its own frame, sent as produced, then an empty final frame: the frames
    # websockets itself sends for an iterable.
    assert received == [b"ab", b"", b"cd", b"e", b""]

    async with serve(echo, "127.0.0.1", 0, compression=compression) as server:
        async with ws_connect(f"ws://127.0.0.1:{server.port}/", compression=compression) as ws:
            await ws.send(["frag", "ment", "s"])
            assert await ws.recv() == "fragments"
            await ws.send([b"\x00" * 70000, b"\x01"])
            assert await ws.recv() == b"\x00" * 70000 + b"\x01"


@run_async()
async def test_ping_pong_both_ways_and_keepalive():
    async with ws_serve(echo, "127.0.0.1", 0) as server:
        async with connect(f"ws://127.0.0.1:{_port(server)}/", ping_interval=0.05) as ws:
            waiter = await ws.ping(b"hi")
            latency = await waiter
            assert 0 < latency < 5
            # The time is what is under test: six keepalive intervals pass and the connection
            # stays open (each automatic ping, sent natively, was answered before its timeout).
            await asyncio.sleep(0.3)
            assert ws.state is swiftws.State.OPEN
    async with serve(echo, "127.0.0.1", 0) as server:
        async with ws_connect(f"ws://127.0.0.1:{server.port}/") as ws:
            pong = await ws.ping(b"x")
            assert await asyncio.wait_for(pong, 5) >= 0


@run_async()
async def test_keepalive_closes_with_1011_when_no_pong_arrives():
    # A websockets server that never answers pings: its transport is paused after the handshake.
    done = asyncio.Event()

    async def deaf(websocket):
        websocket.transport.pause_reading()
        await done.wait()
        websocket.transport.abort()  # it cannot read our close frame: do not wait for it

    async with ws_serve(deaf, "127.0.0.1", 0) as server:
        ws = await connect(f"ws://127.0.0.1:{_port(server)}/", ping_interval=0.1, ping_timeout=0.2,
                           close_timeout=0.3)
        start = asyncio.get_running_loop().time()
        elapsed = lambda: asyncio.get_running_loop().time() - start  # noqa: E731
        with pytest.raises(swiftws.ConnectionClosedError) as closed:
            await ws.recv()
        assert (closed.value.code, closed.value.reason) == (1011, "keepalive ping timeout")
        assert elapsed() < 5, "the pong timeout (0.2 s) applies, not websockets' own 20 s keepalive"
        done.set()


@run_async()
async def test_subprotocols_and_headers_both_ways():
    seen = {}

    async def handler(websocket):
        seen["token"] = websocket.request.headers["X-Token"]
        seen["subprotocol"] = websocket.subprotocol
        await websocket.send("ok")

    async with ws_serve(handler, "127.0.0.1", 0, subprotocols=["chat.v2", "chat.v1"]) as server:
        async with connect(f"ws://127.0.0.1:{_port(server)}/", subprotocols=["chat.v1"],
                           additional_headers={"X-Token": "secret"}) as ws:
            assert await ws.recv() == "ok"
            assert ws.subprotocol == "chat.v1"
    assert seen == {"token": "secret", "subprotocol": "chat.v1"}

    def check(connection, request):
        seen["server_saw"] = (request.path, request.headers.get("x-token"), request.subprotocols)
        return None

    async def tell_path(websocket):
        await websocket.send(f"{websocket.request.path} {websocket.subprotocol}")

    async with serve(tell_path, "127.0.0.1", 0, subprotocols=["b", "a"], process_request=check) as server:
        async with ws_connect(f"ws://127.0.0.1:{server.port}/room?x=1", subprotocols=["a", "b"],
                              additional_headers={"X-Token": "t"}) as ws:
            assert await ws.recv() == "/room?x=1 b"
            assert ws.subprotocol == "b"
    assert seen["server_saw"] == ("/room?x=1", "t", ["a", "b"])


# ---- close paths ------------------------------------------------------------------------------

@run_async()
async def test_client_close_is_seen_by_the_server_with_its_code():
    codes = asyncio.get_running_loop().create_future()

    async def handler(websocket):
        try:
            await websocket.recv()
        except websockets.ConnectionClosed as closed:
            codes.set_result((closed.rcvd.code, closed.rcvd.reason, type(closed).__name__))

    async with ws_serve(handler, "127.0.0.1", 0) as server:
        ws = await connect(f"ws://127.0.0.1:{_port(server)}/")
        await ws.close(1000, "done")
        assert ws.close_code == 1000
        assert await codes == (1000, "done", "ConnectionClosedOK")
        with pytest.raises(swiftws.ConnectionClosedOK):
            await ws.send("late")
        with pytest.raises(swiftws.ConnectionClosedOK):
            await ws.recv()


@run_async()
async def test_server_close_code_and_reason_reach_the_client():
    async def handler(websocket):
        await websocket.close(4001, "go away")

    async with ws_serve(handler, "127.0.0.1", 0) as server:
        ws = await connect(f"ws://127.0.0.1:{_port(server)}/")
        with pytest.raises(swiftws.ConnectionClosedError) as closed:
            await ws.recv()
        assert (closed.value.code, closed.value.reason) == (4001, "go away")

    async def going_away(websocket):
        await websocket.close(1001, "bye")

    async with ws_serve(going_away, "127.0.0.1", 0) as server:
        ws = await connect(f"ws://127.0.0.1:{_port(server)}/")
        assert [message async for message in ws] == []  # a normal closure ends the iteration
        assert (ws.close_code, ws.close_reason) == (1001, "bye")


@run_async()
async def test_swiftws_handler_return_closes_1000_and_exception_closes_1011(caplog):
    async def handler(websocket):
        message = await websocket.recv()
        if message == "boom":
            raise ValueError("handler bug")
        await websocket.send("bye")

    async with serve(handler, "127.0.0.1", 0) as server:
        url = f"ws://127.0.0.1:{server.port}/"
        async with ws_connect(url) as ws:
            await ws.send("hello")
            assert await ws.recv() == "bye"
            with pytest.raises(websockets.ConnectionClosedOK) as closed:
                await ws.recv()
            assert closed.value.rcvd.code == 1000
        with caplog.at_level(logging.ERROR, logger="swiftws"):
            async with ws_connect(url) as ws:
                await ws.send("boom")
                with pytest.raises(websockets.ConnectionClosedError) as closed:
                    await ws.recv()
                assert closed.value.rcvd.code == 1011
        assert "handler bug" in caplog.text
        async with ws_connect(url) as ws:  # the server keeps serving
            await ws.send("again")
            assert await ws.recv() == "bye"


@run_async()
async def test_too_big_messages_close_with_1009_both_ways():
    async with serve(echo, "127.0.0.1", 0, max_size=1024) as server:
        async with ws_connect(f"ws://127.0.0.1:{server.port}/") as ws:
            await ws.send(b"x" * 1024)
            assert await ws.recv() == b"x" * 1024
            await ws.send(b"x" * 1025)
            with pytest.raises(websockets.ConnectionClosedError) as closed:
                await ws.recv()
            assert closed.value.rcvd.code == 1009

    async def big(websocket):
        await websocket.send("y" * 2000)
        await websocket.wait_closed()

    async with ws_serve(big, "127.0.0.1", 0) as server:
        ws = await connect(f"ws://127.0.0.1:{_port(server)}/", max_size=1000)
        with pytest.raises(swiftws.ConnectionClosedError) as closed:
            await ws.recv()
        assert closed.value.code == 1009


@run_async()
async def test_dropped_tcp_connection_is_1006_on_the_server():
    result = asyncio.get_running_loop().create_future()

    async def handler(websocket):
        try:
            await websocket.recv()
        except swiftws.ConnectionClosed as closed:
            result.set_result((type(closed), closed.code))

    async with serve(handler, "127.0.0.1", 0) as server:
        ws = await ws_connect(f"ws://127.0.0.1:{server.port}/")
        ws.transport.abort()
        assert await result == (swiftws.ConnectionClosedError, 1006)


@run_async()
async def test_server_close_sends_1001_to_every_client():
    async def wait(websocket):
        await websocket.wait_closed()

    server = await serve(wait, "127.0.0.1", 0)
    clients = [await ws_connect(f"ws://127.0.0.1:{server.port}/") for _ in range(3)]
    server.close()
    await server.wait_closed()
    for ws in clients:
        with pytest.raises(websockets.ConnectionClosedOK) as closed:
            await ws.recv()
        assert closed.value.rcvd.code == 1001


# ---- upgrade rejection ------------------------------------------------------------------------

@run_async()
async def test_process_request_rejects_and_answers_plain_http():
    def process_request(connection, request):
        if request.path == "/healthz":
            return connection.respond(200, "OK\n")
        if request.headers.get("Authorization") != "Bearer good":
            return connection.respond(403, "Forbidden\n")
        return None

    async with serve(echo, "127.0.0.1", 0, process_request=process_request) as server:
        url = f"ws://127.0.0.1:{server.port}/"
        with pytest.raises(websockets.InvalidStatus) as rejected:
            await ws_connect(url)
        assert rejected.value.response.status_code == 403
        async with ws_connect(url, additional_headers={"Authorization": "Bearer good"}) as ws:
            await ws.send("in")
            assert await ws.recv() == "in"
        reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
        writer.write(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        response = await reader.read()
        writer.close()
        assert response.startswith(b"HTTP/1.1 200 ") and response.endswith(b"OK\n")
        reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
        writer.write(b"GET /other HTTP/1.1\r\nHost: x\r\n\r\n")
        response = await reader.read()
        writer.close()
        assert response.startswith(b"HTTP/1.1 403 ")


@run_async()
async def test_process_request_exception_answers_500_and_server_keeps_serving(caplog):
    calls = []

    def process_request(connection, request):
        calls.append(request.path)
        if request.path == "/bug":
            raise RuntimeError("hook bug")

    async with serve(echo, "127.0.0.1", 0, process_request=process_request) as server:
        with caplog.at_level(logging.ERROR, logger="swiftws"):
            with pytest.raises(websockets.InvalidStatus) as rejected:
                await ws_connect(f"ws://127.0.0.1:{server.port}/bug")
        assert rejected.value.response.status_code == 500
        assert "hook bug" in caplog.text
        async with ws_connect(f"ws://127.0.0.1:{server.port}/fine") as ws:
            await ws.send("x")
            assert await ws.recv() == "x"
    assert calls == ["/bug", "/fine"]


@run_async()
async def test_swiftws_client_sees_websockets_rejection():
    def reject(connection, request):
        return connection.respond(401, "no\n")

    async with ws_serve(echo, "127.0.0.1", 0, process_request=reject) as server:
        with pytest.raises(swiftws.InvalidStatus) as rejected:
            await connect(f"ws://127.0.0.1:{_port(server)}/")
        assert rejected.value.response.status_code == 401


# ---- many clients -----------------------------------------------------------------------------

@run_async(120)
async def test_500_concurrent_websockets_clients_on_a_swiftws_server():
    raise_fd_limit(4096)
    async with serve(echo, "127.0.0.1", 0) as server:
        async def client(index):
            async with ws_connect(f"ws://127.0.0.1:{server.port}/", compression=None) as ws:
                await ws.send(f"client {index}")
                return await ws.recv()
        clients = [asyncio.create_task(client(index)) for index in range(500)]
        assert await asyncio.gather(*clients) == [f"client {index}" for index in range(500)]


@run_async(120)
async def test_500_concurrent_swiftws_clients_on_a_swiftws_server():
    raise_fd_limit(4096)
    opened = []
    async with serve(echo, "127.0.0.1", 0) as server:
        connections = await asyncio.gather(*[connect(f"ws://127.0.0.1:{server.port}/") for _ in range(500)])
        opened.append(len(server.connections))
        for index, ws in enumerate(connections):
            await ws.send(str(index))
        assert [await ws.recv() for ws in connections] == [str(index) for index in range(500)]
        await asyncio.gather(*[ws.close() for ws in connections])
    assert opened == [500]


# ---- the callback API ----------------------------------------------------------------------------

@run_async()
async def test_listener_api_echo_and_callback_exception_closes_1011(caplog):
    from swiftws.asyncio.server import Listener, serve_listener
    events = []

    class Echo(Listener):
        def on_open(self, connection):
            events.append(("open", connection.request.path))

        def on_message(self, connection, message):
            if message == "boom":
                raise ValueError("listener bug")
            connection.send_nowait(message)

        def on_close(self, connection, code, reason):
            events.append(("close", code))

    async with serve_listener(Echo, "127.0.0.1", 0) as server:
        url = f"ws://127.0.0.1:{server.port}/path"
        async with ws_connect(url) as ws:
            for message in ("text", b"\x00binary", "", b"x" * 100000):
                await ws.send(message)
                assert await ws.recv() == message
        with caplog.at_level(logging.ERROR, logger="swiftws"):
            async with ws_connect(url) as ws:
                await ws.send("boom")
                with pytest.raises(websockets.ConnectionClosedError) as closed:
                    await ws.recv()
                assert closed.value.rcvd.code == 1011
        assert "listener bug" in caplog.text
        async with ws_connect(url) as ws:  # still serving
            await ws.send("again")
            assert await ws.recv() == "again"
    assert events[:2] == [("open", "/path"), ("close", 1000)]
    assert ("close", 1011) in events


@run_async()
async def test_listener_gets_every_message_in_order_before_on_close():
    # Messages reach Python in one batch per loop iteration (sws_conn_handlers.on_messages):
    # a burst, and a burst followed at once by the close frame, still arrive whole, in order,
    # before on_close; replies to messages batched with the close are dropped quietly.
    from swiftws.asyncio.server import Listener, serve_listener
    events = []

    class Recorder(Listener):
        def on_message(self, connection, message):
            events.append(message)
            connection.send_nowait(message)

        def on_close(self, connection, code, reason):
            events.append(("close", code, reason))

    burst = [f"m{i}" for i in range(200)] + [b"\x00" * i for i in range(3)]
    async with serve_listener(Recorder, "127.0.0.1", 0) as server:
        async with ws_connect(f"ws://127.0.0.1:{server.port}/") as ws:
            for message in burst:
                await ws.send(message)
            assert [await ws.recv() for _ in burst] == burst
            for message in ("x", "y", "z"):
                await ws.send(message)
            await ws.close(4000, "done")
        for _ in range(100):
            if events and isinstance(events[-1], tuple):
                break
            await asyncio.sleep(0.01)
    assert events == burst + ["x", "y", "z", ("close", 4000, "done")]


@run_async()
async def test_swiftws_server_close_with_code_reaches_websockets_client():
    async def handler(websocket):
        await websocket.send("last words")
        await websocket.close(4000, "bye")
        assert websocket.close_code == 4000

    async with serve(handler, "127.0.0.1", 0) as server:
        async with ws_connect(f"ws://127.0.0.1:{server.port}/") as ws:
            assert await ws.recv() == "last words"
            with pytest.raises(websockets.ConnectionClosedError) as closed:
                await ws.recv()
            assert (closed.value.rcvd.code, closed.value.rcvd.reason) == (4000, "bye")


@run_async()
async def test_swiftws_server_keepalive_closes_a_deaf_client_with_1011():
    result = asyncio.get_running_loop().create_future()

    async def handler(websocket):
        try:
            await websocket.recv()
        except swiftws.ConnectionClosed as closed:
            result.set_result((closed.code, closed.reason))

    async with serve(handler, "127.0.0.1", 0, ping_interval=0.1, ping_timeout=0.2, close_timeout=0.3) as server:
        ws = await ws_connect(f"ws://127.0.0.1:{server.port}/", ping_interval=None)
        ws.transport.pause_reading()  # never reads the pings, so never answers them
        assert await asyncio.wait_for(result, 5) == (1011, "keepalive ping timeout")
        ws.transport.abort()


@run_async()
async def test_close_timeout_drops_a_peer_that_never_answers_the_close():
    async def deaf(websocket):
        websocket.transport.pause_reading()
        await asyncio.sleep(3)
        websocket.transport.abort()

    async with ws_serve(deaf, "127.0.0.1", 0) as server:
        ws = await connect(f"ws://127.0.0.1:{_port(server)}/", close_timeout=0.2)
        start = asyncio.get_running_loop().time()
        await ws.close(1000, "bye")
        assert asyncio.get_running_loop().time() - start < 2
        assert ws.close_code == 1006  # no close frame came back: the TCP connection was dropped


@run_async()
async def test_origins_and_max_connections_are_enforced():
    async def wait(websocket):
        await websocket.wait_closed()

    async with serve(wait, "127.0.0.1", 0, origins=["http://good.example"]) as server:
        url = f"ws://127.0.0.1:{server.port}/"
        with pytest.raises(websockets.InvalidStatus) as rejected:
            await ws_connect(url, origin="http://evil.example")
        assert rejected.value.response.status_code == 403
        with pytest.raises(websockets.InvalidStatus) as rejected:
            await ws_connect(url)  # no Origin while None is not among the origins
        assert rejected.value.response.status_code == 403
        async with ws_connect(url, origin="http://good.example"):
            pass

    async with serve(wait, "127.0.0.1", 0, max_connections=2) as server:
        url = f"ws://127.0.0.1:{server.port}/"
        first, second = await ws_connect(url), await ws_connect(url)
        with pytest.raises(websockets.InvalidStatus) as rejected:
            await ws_connect(url)
        assert rejected.value.response.status_code == 503
        await first.close()
        await second.close()


def test_native_loop_is_freed_when_its_last_user_closes():
    import gc

    async def scenario():
        loop = asyncio.get_running_loop()
        async with serve(echo, "127.0.0.1", 0) as server:
            async with connect(f"ws://127.0.0.1:{server.port}/") as ws:
                await ws.send("x")
                assert await ws.recv() == "x"
            native = getattr(loop, "_swiftws_native_loop")
            assert native.users == 1  # the server
        await wait_until(lambda: getattr(loop, "_swiftws_native_loop", None) is None,
                         what="the native loop to be released")
        assert native.handle is None  # sws_loop_free ran
        return native.fd

    fds_before = len(os.listdir("/proc/self/fd"))
    for _ in range(20):
        asyncio.run(scenario())
    gc.collect()
    assert len(os.listdir("/proc/self/fd")) <= fds_before + 2  # no epoll/eventfd/timerfd leak


@run_async()
async def test_server_broadcast_builds_one_frame_for_every_client():
    async def wait(websocket):
        await websocket.wait_closed()

    async with serve(wait, "127.0.0.1", 0) as server:
        url = f"ws://127.0.0.1:{server.port}/"
        clients = [await ws_connect(url, compression=None) for _ in range(3)]
        while len(server.connections) < 3:
            await asyncio.sleep(0.01)
        assert server.broadcast("to all") == 3
        assert [await ws.recv() for ws in clients] == ["to all"] * 3
        excluded = next(iter(server.connections))
        assert server.broadcast(b"\x01", excluding=excluded) == 2
        received = []
        for ws in clients:
            try:
                received.append(await asyncio.wait_for(ws.recv(), 0.3))
            except asyncio.TimeoutError:
                received.append(None)
        assert sorted(received, key=lambda m: m is None) == [b"\x01", b"\x01", None]
        for ws in clients:
            await ws.close()
