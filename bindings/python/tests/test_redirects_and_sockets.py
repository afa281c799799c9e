"""Issue 12, round 4b, against real ``websockets`` servers and clients on 127.0.0.1 / Unix
sockets: redirects followed with websockets' rules by the binding (so ``request`` and
``protocol.uri`` are the final request's, also over a relayed TLS connection), refused with
websockets' errors over a given ``sock``, an explicit ``host``/``port`` or a Unix socket;
``connect(host=, port=)``; the blocking connection's ``socket``."""

from __future__ import annotations

import socket

import pytest
from websockets.asyncio.server import serve as ws_serve
from websockets.asyncio.server import unix_serve as ws_unix_serve
from websockets.sync.client import connect as ws_sync_connect
from websockets.sync.server import serve as ws_sync_serve

from swiftws.asyncio.client import connect, unix_connect
from swiftws.datastructures import Headers
from swiftws.exceptions import InvalidStatus
from swiftws.http11 import Response
from swiftws.sync.client import connect as sync_connect
from swiftws.sync.server import serve as sync_serve

from helpers import echo, run_async
from test_sync_reach import running
from test_websockets_shape import _port, _self_signed


def redirect_to(location, paths=("/redirect",)):
    """A websockets process_request answering 302 ``location`` for ``paths``."""
    def process_request(connection, request):
        if request.path in paths:
            response = connection.respond(302, "")
            response.headers["Location"] = location
            return response
        return None
    return process_request


async def record_request(websocket):
    """Sends back what the server received: the path and the Host and Authorization headers."""
    await websocket.send(f"{websocket.request.path} {websocket.request.headers.get('Host')} "
                         f"{websocket.request.headers.get('Authorization')}")
    await websocket.wait_closed()


@run_async(30)
async def test_explicit_host_and_port_and_a_same_origin_redirect():
    async with ws_serve(record_request, "127.0.0.1", 0, process_request=redirect_to("/final")) as server:
        # The URI names no reachable host: host/port say where to connect, the URI the Host header.
        async with connect("ws://overridden/redirect", host="127.0.0.1", port=_port(server)) as ws:
            assert await ws.recv() == "/final overridden None"
            assert ws.protocol.uri.path == "/final"
            assert ws.protocol.uri.host == "overridden"
            assert ws.request.path == "/final"
            assert ws.request.headers["Host"] == "overridden"
        with pytest.raises(ValueError, match="host/port and sock can not be specified at the same time"):
            connect("ws://overridden/", host="127.0.0.1", sock=socket.socket())


@run_async(30)
async def test_redirects_websockets_refuses_to_follow():
    async with ws_serve(echo, "127.0.0.1", 0, process_request=redirect_to("ws://other/", ("/",))) as server:
        with pytest.raises(ValueError) as raised:
            await connect("ws://overridden/", host="127.0.0.1", port=_port(server))
        assert str(raised.value) == "cannot follow cross-origin redirect to ws://other/ with an explicit host or port"
    async with ws_serve(echo, "127.0.0.1", 0, process_request=redirect_to("/", ("/redirect",))) as server:
        with socket.create_connection(("127.0.0.1", _port(server))) as sock:
            with pytest.raises(ValueError) as raised:
                await connect("ws://invalid/redirect", sock=sock)
        assert str(raised.value) == "cannot follow redirect to ws://invalid/ with a preexisting socket"


@run_async(30)
async def test_process_redirect_decides_as_websockets():
    """websockets' ``connect.process_redirect(exc)``: the URI to follow, ``exc`` itself for no
    redirect, or the refusal raised with ``exc`` as its cause; a subclass's answer applies to
    every hop (websockets' own router tests patch it to see the 302)."""
    async with ws_serve(echo, "127.0.0.1", 0, process_request=redirect_to("/next", ("/a", "/next"))) as server:
        uri = f"ws://127.0.0.1:{_port(server)}"

        class Counting(connect):
            asked = 0

            def process_redirect(self, exc):
                Counting.asked += 1
                return super().process_redirect(exc) if Counting.asked < 3 else exc

        with pytest.raises(InvalidStatus, match="HTTP 302") as raised:
            await Counting(uri + "/a")  # /a -> /next -> /next: the third answer stops it
        assert Counting.asked == 3 and raised.value.__cause__ is None
        assert raised.value.response.headers["Location"] == "/next"
        opener = connect(uri + "/a")
        assert opener.process_redirect(raised.value) == uri + "/next"
        not_found = InvalidStatus(Response(404, "Not Found", Headers(), b""))
        assert opener.process_redirect(not_found) is not_found
        other = ValueError("not a refused handshake")
        assert opener.process_redirect(other) is other
    async with ws_serve(echo, "127.0.0.1", 0, process_request=redirect_to("ws://other/", ("/",))) as server:
        with pytest.raises(ValueError) as raised:
            await connect("ws://overridden/", host="127.0.0.1", port=_port(server))
        assert isinstance(raised.value.__cause__, InvalidStatus)
        assert raised.value.__cause__.response.status_code == 302


@run_async(30)
async def test_unix_socket_redirects(tmp_path):
    path = str(tmp_path / "ws.sock")
    same = redirect_to("/final", ("/redirect",))

    def both(connection, request):
        if request.path == "/away":
            return redirect_to("ws://other/", ("/away",))(connection, request)
        return same(connection, request)

    async with ws_unix_serve(record_request, path, process_request=both):
        async with unix_connect(path, "ws://localhost/redirect") as ws:
            assert await ws.recv() == "/final localhost None"
            assert ws.protocol.uri.resource_name == "/final"
        with pytest.raises(ValueError) as raised:
            await unix_connect(path, "ws://localhost/away")
        assert str(raised.value) == "cannot follow cross-origin redirect to ws://other/ with a Unix socket"


@run_async(30)
async def test_the_final_request_is_the_one_a_cross_origin_redirect_made():
    async with ws_serve(record_request, "127.0.0.1", 0) as target:
        final = f"ws://127.0.0.1:{_port(target)}/there"
        async with ws_serve(echo, "127.0.0.1", 0, process_request=redirect_to(final)) as origin:
            uri = f"ws://127.0.0.1:{_port(origin)}/redirect"
            async with connect(uri, additional_headers={"Authorization": "Bearer secret"}) as ws:
                assert await ws.recv() == f"/there 127.0.0.1:{_port(target)} None"
                # What Python reports is what the server received: the credentials stayed home.
                assert ws.request.headers["Host"] == f"127.0.0.1:{_port(target)}"
                assert "Authorization" not in ws.request.headers
                assert ws.protocol.uri.port == _port(target)
            with pytest.raises(InvalidStatus, match="HTTP 302"):
                await connect(uri, max_redirects=0)



@run_async(60)
async def test_a_relayed_tls_client_follows_redirects(tmp_path):
    # A stdlib context trusting a self-signed certificate: asyncio runs TLS, each hop a new relay.
    server_context, client_context = _self_signed(tmp_path)
    async with ws_serve(record_request, "localhost", 0, ssl=server_context,
                        process_request=redirect_to("/final")) as server:
        async with connect(f"wss://localhost:{_port(server)}/redirect", ssl=client_context) as ws:
            assert await ws.recv() == f"/final localhost:{_port(server)} None"
            assert ws.transport.get_extra_info("ssl_object").version().startswith("TLS")
        # Explicit host/port with a relayed TLS connection: the URI's host is the TLS server name.
        async with connect("wss://localhost/", host="127.0.0.1", port=_port(server), ssl=client_context) as ws:
            assert ws.transport.get_extra_info("ssl_object").server_hostname == "localhost"


def test_blocking_connection_socket(tmp_path):
    server_context, client_context = _self_signed(tmp_path)

    def describe(websocket):
        websocket.send(f"{websocket.socket.version()} {websocket.socket.getsockname()[1]}")
        websocket.recv()

    with running(ws_sync_serve(describe, "localhost", 0, ssl=server_context)) as server:
        port = server.socket.getsockname()[1]
        with sync_connect(f"wss://localhost:{port}/", ssl=client_context) as ws:
            version, server_port = ws.recv().split()
            assert ws.socket.version() == version and version.startswith("TLS")
            assert ws.socket.server_hostname == "localhost"
            assert ws.socket.getpeername()[1] == port == int(server_port)
    with running(sync_serve(describe, "localhost", 0, ssl=server_context)) as server:
        port = server.socket.getsockname()[1]
        with ws_sync_connect(f"wss://localhost:{port}/", ssl=client_context) as ws:
            version, server_port = ws.recv().split()
            assert version == ws.socket.version() and int(server_port) == port
    # A plain connection's socket is the library's: a clear AttributeError, not a wrong object.
    with running(ws_sync_serve(lambda websocket: websocket.recv(), "127.0.0.1", 0)) as server:
        with sync_connect(f"ws://127.0.0.1:{server.socket.getsockname()[1]}/") as ws:
            with pytest.raises(AttributeError, match="belongs to the native library"):
                ws.socket
            assert not hasattr(ws, "socket")
