"""``serve(handler, host, port, loops=N)`` in the asyncio and blocking APIs (issue 15): connections
live on N native loops (the others on the library's own threads), handlers run on the asyncio
loop. Real ``websockets`` clients on loopback: many clients spread over both loops (the library
calls on_open on two threads), echo, broadcast and publish reaching every client once, close
codes both ways, process_request on either loop, backpressure on a connection of the other
loop, and shutdown closing every connection with 1001."""

from __future__ import annotations

import asyncio
import http.client
import socket
import threading

import pytest
from websockets.asyncio.client import connect as ws_connect
from websockets.sync.client import connect as sync_connect

from swiftws.asyncio.server import broadcast, serve
from swiftws.sync.server import serve as sync_serve

from helpers import echo, run_async, wait_until

CLIENTS = 24


def loop_threads(server) -> set:
    """The native threads the library opened the server's connections on: the asyncio thread's
    own loop (None: the driver's ordinary connections) and the other loops' threads."""
    return {getattr(connection, "native_thread", None) for connection in server.connections}


async def connect_all(port: int, count: int = CLIENTS, path: str = "/") -> list:
    clients = await asyncio.gather(*(ws_connect(f"ws://127.0.0.1:{port}{path}") for _ in range(count)))
    return list(clients)


@run_async()
async def test_echo_from_many_clients_spread_over_two_loops():
    async with serve(echo, "127.0.0.1", 0, loops=2) as server:
        clients = await connect_all(server.port)
        await wait_until(lambda: len(server.connections) == CLIENTS, what="every connection open")
        threads = loop_threads(server)
        assert len(threads) == 2 and None in threads, threads  # both loops hold connections
        assert threading.get_ident() not in threads  # the other loop is not the asyncio thread

        async def talk(index: int, client) -> None:
            for turn in range(20):
                message = f"{index}:{turn}" if turn % 2 else f"{index}:{turn}".encode() * 100
                await client.send(message)
                assert await client.recv() == message
        await asyncio.gather(*(talk(index, client) for index, client in enumerate(clients)))
        for client in clients:
            await client.close()
        await wait_until(lambda: not server.connections, what="every connection closed")


async def fan_out(websocket) -> None:
    """Echoes, but "broadcast" / "publish" / "each" send one message to every client (the
    sender excluded for "publish"), through the three ways the API offers."""
    websocket.subscribe("room")
    async for message in websocket:
        if message == "broadcast":
            websocket.server.broadcast("all")
        elif message == "publish":
            websocket.server.publish("room", "room", excluding=websocket)
        elif message == "each":
            broadcast(websocket.server.connections, "each")
        else:
            await websocket.send(message)


@run_async()
async def test_broadcast_and_publish_from_a_handler_reach_every_client_once():
    async with serve(fan_out, "127.0.0.1", 0, loops=2) as server:
        clients = await connect_all(server.port)
        await wait_until(lambda: len(server.connections) == CLIENTS and server.subscriber_count("room") == CLIENTS,
                         what="every client subscribed")
        assert len(loop_threads(server)) == 2
        on_other_loop = next(c for c in server.connections if getattr(c, "native_thread", None))
        sender_index = next(i for i, client in enumerate(clients)
                            if client.local_address[1] == on_other_loop.remote_address[1])
        for word, expected in (("broadcast", "all"), ("each", "each"), ("publish", "room")):
            await clients[sender_index].send(word)
            for index, client in enumerate(clients):
                if word == "publish" and index == sender_index:
                    continue  # excluded (a connection of the other loop)
                assert await client.recv() == expected
            # A duplicate would come before this echo (one connection's messages keep their order).
            for client in clients:
                await client.send("mark")
                assert await client.recv() == "mark"
        for client in clients:
            await client.close()


async def closing(websocket) -> None:
    """The first message says how to end: "return" (1000), "raise" (1011), "close" (4000)."""
    message = await websocket.recv()
    if message == "raise":
        raise RuntimeError("handler failed on purpose")
    if message == "close":
        await websocket.close(4000, "custom")
        assert websocket.close_code == 4000


@run_async()
async def test_close_codes_both_ways_on_both_loops():
    async with serve(closing, "127.0.0.1", 0, loops=2) as server:
        for word, code, reason in (("return", 1000, ""), ("raise", 1011, ""), ("close", 4000, "custom")):
            clients = await connect_all(server.port, 8)
            await wait_until(lambda: len(server.connections) == 8, what="8 connections")
            assert len(loop_threads(server)) == 2
            for client in clients:
                await client.send(word)
            for client in clients:
                await client.wait_closed()
                assert (client.close_code, client.close_reason) == (code, reason)
            await wait_until(lambda: not server.connections, what="closed on the server")
        # The client closes: the handler's recv raises ConnectionClosed with the client's code.
        seen = []

        async def record(websocket):
            try:
                await websocket.recv()
            except Exception as error:
                seen.append((getattr(error, "rcvd", None) and error.rcvd.code, websocket.close_code))
        server2 = await serve(record, "127.0.0.1", 0, loops=2)
        try:
            clients = await connect_all(server2.port, 8)
            await wait_until(lambda: len(server2.connections) == 8, what="8 connections")
            assert len(loop_threads(server2)) == 2
            for client in clients:
                await client.close(4001, "bye")
            await wait_until(lambda: len(seen) == 8, what="every handler saw the close")
            assert seen == [(4001, 4001)] * 8
        finally:
            server2.close()
            await server2.wait_closed()


@run_async()
async def test_shutdown_closes_every_connection_on_both_loops_with_1001():
    server = await serve(echo, "127.0.0.1", 0, loops=2)
    clients = await connect_all(server.port)
    await wait_until(lambda: len(server.connections) == CLIENTS, what="every connection open")
    assert len(loop_threads(server)) == 2
    server.close()
    await server.wait_closed()
    for client in clients:
        await client.wait_closed()
        assert client.close_code == 1001
    assert not server.connections and not server.is_serving()


@run_async()
async def test_process_request_on_both_loops_decides_upgrades_and_plain_requests():
    async def later(connection, request):
        await asyncio.sleep(0)  # a coroutine: the upgrade waits for it on either loop
        if request.path == "/forbidden":
            return connection.respond(403, "no\n")
        connection.username = request.path
        return None

    def decide(connection, request):
        # A plain HTTP request is answered at once (it cannot wait for a coroutine on loop 1).
        if request.path == "/health":
            return connection.respond(200, "ok\n")
        return later(connection, request)

    async def hello(websocket):
        await websocket.send(websocket.username)
        await websocket.wait_closed()

    async with serve(hello, "127.0.0.1", 0, loops=2, process_request=decide) as server:
        clients = await connect_all(server.port, 8, "/who")
        await wait_until(lambda: len(server.connections) == 8, what="8 connections")
        assert len(loop_threads(server)) == 2
        for client in clients:
            assert await client.recv() == "/who"
            await client.close()
        for _ in range(4):  # the acceptor spreads them: both loops refuse
            with pytest.raises(Exception, match="403"):
                await ws_connect(f"ws://127.0.0.1:{server.port}/forbidden")

        def get(path: str):
            connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
            connection.request("GET", path)
            response = connection.getresponse()
            return response.status, response.read()
        answers = await asyncio.gather(*(asyncio.to_thread(get, "/health") for _ in range(6)))
        assert answers == [(200, b"ok\n")] * 6


async def raw_client(port: int) -> tuple:
    """A client that completes the opening handshake and then reads only when told (a small
    receive buffer, so that the server's output backs up in the library quickly)."""
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.setblocking(False)
    await asyncio.get_running_loop().sock_connect(sock, ("127.0.0.1", port))
    reader, writer = await asyncio.open_connection(sock=sock)
    writer.write(b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                 b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n")
    head = await reader.readuntil(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 101"), head
    return reader, writer


@run_async()
async def test_backpressure_holds_on_a_connection_of_the_other_loop():
    limit = 64 * 1024
    count, size = 64, 256 * 1024  # 16 MiB: far more than the socket buffers hold
    done = asyncio.Event()
    after_send = []

    async def flood(websocket):
        if getattr(websocket, "native_thread", None) is None:
            await websocket.wait_closed()  # only a connection of the other loop floods
            return
        for _ in range(count):
            await websocket.send(b"x" * size)
            # send() returns only once what is in flight plus buffered is within the limit.
            after_send.append(websocket._in_flight + websocket._buffered)
        done.set()
        await websocket.wait_closed()

    async with serve(flood, "127.0.0.1", 0, loops=2, write_limit=limit, compression=None) as server:
        clients = [await raw_client(server.port) for _ in range(2)]
        await wait_until(lambda: len(loop_threads(server)) == 2, what="a connection on each loop")
        other = next(c for c in server.connections if getattr(c, "native_thread", None))
        reader = next(r for r, w in clients if w.get_extra_info("sockname")[1] == other.remote_address[1])
        # The library reports more buffered than the limit: the handler's send() must be waiting.
        await wait_until(lambda: other._buffered > limit, timeout=10, what="the library buffering")
        assert not done.is_set()
        await reader.readexactly(count * (size + 10))  # 10: the header of a 256 KiB binary frame
        await asyncio.wait_for(done.wait(), 10)
        assert len(after_send) == count and all(amount <= limit for amount in after_send)
        for _, writer in clients:
            writer.close()


def test_sync_api_on_two_loops():
    def sync_echo(websocket):
        for message in websocket:
            websocket.send(message)

    with sync_serve(sync_echo, "127.0.0.1", 0, loops=2) as server:
        port = server.socket.getsockname()[1]
        results = []

        def client(index: int) -> None:
            with sync_connect(f"ws://127.0.0.1:{port}/") as websocket:
                for turn in range(10):
                    websocket.send(f"{index}/{turn}")
                    results.append(websocket.recv(timeout=10) == f"{index}/{turn}")
        threads = [threading.Thread(target=client, args=(index,)) for index in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(30)
        assert results == [True] * 80


def test_loops_with_an_asyncio_ssl_context_is_refused():
    import ssl
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    with pytest.raises(ValueError, match="loops"):
        serve(echo, "127.0.0.1", 0, loops=2, ssl=context)

