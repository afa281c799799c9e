"""What websockets users rely on (issue 12), each against a real ``websockets`` peer on 127.0.0.1:
the server's handshake hooks (basic_auth, async process_request, process_response,
select_subprotocol, server_header), logger, start_serving, create_connection, get_loop, real
sockets, request/response headers both ways, local_address, InvalidStatus.response, a junk
response, argument checks, recv_streaming, ping, ConcurrencyError, fragments sent as produced,
close during a fragmented send, fixed mask keys, and the blocking API's server and ping."""

from __future__ import annotations

import asyncio
import base64
import logging
import socket
import threading

import pytest
from websockets.asyncio.client import connect as ws_connect
from websockets.asyncio.server import serve as ws_serve
from websockets.exceptions import InvalidStatus as WsInvalidStatus
from websockets.sync.client import connect as ws_sync_connect

from swiftws.asyncio.client import ClientConnection, connect
from swiftws.asyncio.handshake import accept_key
from swiftws.asyncio.server import ServerConnection, basic_auth, serve
from swiftws.exceptions import ConcurrencyError, ConnectionClosedError, InvalidMessage, InvalidStatus
from swiftws.sync.server import serve as sync_serve

from helpers import echo, run_async, wait_until


def _uri(server, path: str = "/") -> str:
    return f"ws://127.0.0.1:{server.port}{path}"


def _port(server) -> int:
    return next(iter(server.sockets)).getsockname()[1]


# ---- Server: the handshake hooks ---------------------------------------------------------------


@run_async()
async def test_basic_auth_refuses_then_sets_username():
    async def whoami(websocket):
        await websocket.send(websocket.username)

    auth = basic_auth(realm="test", credentials=("alice", "s3cret"))
    async with serve(whoami, "127.0.0.1", 0, process_request=auth) as server:
        with pytest.raises(WsInvalidStatus) as refused:
            async with ws_connect(_uri(server)):
                pass
        assert refused.value.response.status_code == 401
        assert refused.value.response.headers["WWW-Authenticate"] == 'Basic realm="test", charset="UTF-8"'
        async with ws_connect(f"ws://alice:s3cret@127.0.0.1:{server.port}/") as ws:
            assert await ws.recv() == "alice"
        with pytest.raises(WsInvalidStatus):
            async with ws_connect(f"ws://alice:wrong@127.0.0.1:{server.port}/"):
                pass


@run_async()
async def test_user_info_in_the_uri_is_sent_as_basic_credentials():
    # websockets' client sends ws://user:password@host as Authorization: Basic, to a websockets
    # server (basic_auth there) and to ours; a username without a password is an InvalidURI.
    from websockets.asyncio.server import basic_auth as ws_basic_auth
    from swiftws.exceptions import InvalidURI

    async def whoami(websocket):
        await websocket.send(websocket.username)

    async def headers(websocket):
        await websocket.send(websocket.request.headers["Host"] + " " + websocket.request.headers["Authorization"])

    async with ws_serve(whoami, "127.0.0.1", 0, process_request=ws_basic_auth(credentials=("bob", "pw"))) as theirs:
        async with connect(f"ws://bob:pw@127.0.0.1:{_port(theirs)}/") as ws:
            assert await ws.recv() == "bob"
        with pytest.raises(InvalidStatus) as refused:
            async with connect(f"ws://bob:nope@127.0.0.1:{_port(theirs)}/"):
                pass
        assert refused.value.response.status_code == 401
    async with ws_serve(headers, "127.0.0.1", 0) as theirs:
        async with connect(f"ws://carol:x%3Ay@127.0.0.1:{_port(theirs)}/") as ws:
            expected = "Basic " + base64.b64encode(b"carol:x%3Ay").decode()  # as websockets: not unquoted
            assert await ws.recv() == f"127.0.0.1:{_port(theirs)} {expected}"
    async with serve(whoami, "127.0.0.1", 0, process_request=basic_auth(credentials=("dave", "pw"))) as ours:
        async with connect(f"ws://dave:pw@127.0.0.1:{ours.port}/") as ws:
            assert await ws.recv() == "dave"
    with pytest.raises(InvalidURI):
        await connect("ws://erin@127.0.0.1:1/")


@run_async()
async def test_async_process_request_decides_later_on_the_handlers_connection():
    lookups = []

    async def process_request(connection, request):
        await asyncio.sleep(0.05)  # a database lookup: the client waits meanwhile
        lookups.append(request.path)
        if request.path != "/allowed":
            return connection.respond(403, "no\n")
        connection.token = request.headers["X-Token"]
        return None

    async def handler(websocket):
        await websocket.send(websocket.token)  # set on the same object by process_request

    async with serve(handler, "127.0.0.1", 0, process_request=process_request) as server:
        async with ws_connect(_uri(server, "/allowed"), additional_headers={"X-Token": "t1"}) as ws:
            assert await ws.recv() == "t1"
        with pytest.raises(WsInvalidStatus) as refused:
            async with ws_connect(_uri(server, "/other")):
                pass
        assert refused.value.response.status_code == 403
        assert refused.value.response.body == b"no\n"
    assert lookups == ["/allowed", "/other"]


@run_async()
async def test_async_process_request_bounded_by_open_timeout():
    async def never(connection, request):
        await asyncio.sleep(30)

    async with serve(echo, "127.0.0.1", 0, process_request=never, open_timeout=0.3) as server:
        with pytest.raises(WsInvalidStatus) as refused:
            async with ws_connect(_uri(server)):
                pass
        assert refused.value.response.status_code == 503


@run_async()
async def test_process_response_edits_or_replaces_the_response():
    def add_header(connection, request, response):
        response.headers["X-Extra"] = "yes"

    async with serve(echo, "127.0.0.1", 0, process_response=add_header) as server:
        async with ws_connect(_uri(server)) as ws:
            assert ws.response.headers["X-Extra"] == "yes"

    async def replace(connection, request, response):
        return connection.respond(418, "teapot\n")

    async with serve(echo, "127.0.0.1", 0, process_response=replace) as server:
        with pytest.raises(WsInvalidStatus) as refused:
            async with ws_connect(_uri(server)):
                pass
        assert refused.value.response.status_code == 418


@run_async()
async def test_select_subprotocol_and_400_without_a_match():
    def prefer_last(connection, subprotocols):
        return subprotocols[-1]

    async with serve(echo, "127.0.0.1", 0, select_subprotocol=prefer_last) as server:
        async with ws_connect(_uri(server), subprotocols=["a", "b"]) as ws:
            assert ws.subprotocol == "b"
    async with serve(echo, "127.0.0.1", 0, subprotocols=["chat"]) as server:
        async with ws_connect(_uri(server), subprotocols=["other", "chat"]) as ws:
            assert ws.subprotocol == "chat"
        with pytest.raises(WsInvalidStatus) as refused:
            async with ws_connect(_uri(server), subprotocols=["other"]):
                pass
        assert refused.value.response.status_code == 400
        assert b"invalid subprotocol" in refused.value.response.body


@run_async()
async def test_server_header():
    async with serve(echo, "127.0.0.1", 0, server_header="Neo") as server:
        async with ws_connect(_uri(server)) as ws:
            assert ws.response.headers["Server"] == "Neo"
    async with serve(echo, "127.0.0.1", 0, server_header=None) as server:
        async with ws_connect(_uri(server)) as ws:
            assert "Server" not in ws.response.headers
    async with serve(echo, "127.0.0.1", 0) as server:
        async with ws_connect(_uri(server)) as ws:
            assert "swiftws" in ws.response.headers["Server"]


# ---- Server: logger, start_serving, create_connection, sockets -----------------------------------


@run_async()
async def test_logger_receives_the_librarys_lines(caplog):
    logger = logging.getLogger("test.swiftws.server")
    with caplog.at_level(logging.INFO, logger="test.swiftws.server"):
        async with serve(echo, "127.0.0.1", 0, logger=logger, process_request=lambda c, r: (
                c.respond(403, "no\n") if r.path == "/no" else None)) as server:
            assert server.logger is logger
            async with ws_connect(_uri(server)) as ws:
                await ws.send("x")
                await ws.recv()
            with pytest.raises(WsInvalidStatus):
                async with ws_connect(_uri(server, "/no")):
                    pass
            await asyncio.sleep(0)
    messages = [record.getMessage() for record in caplog.records if record.name == "test.swiftws.server"]
    assert any(message.startswith("server listening on 127.0.0.1:") for message in messages)
    assert "connection open" in messages  # from the native library, through sws_log_fn
    assert "connection rejected (403 Forbidden)" in messages
    assert any(message.startswith("connection closed (1000") for message in messages)


@run_async()
async def test_start_serving_false_listens_later():
    server = await serve(echo, "127.0.0.1", 0, start_serving=False)
    assert server.sockets == [] and not server.is_serving()
    await server.start_serving()
    assert server.is_serving()
    async with ws_connect(_uri(server)) as ws:
        await ws.send("hi")
        assert await ws.recv() == "hi"
    server.close()
    await server.wait_closed()


class MyServerConnection(ServerConnection):
    pass


class MyClientConnection(ClientConnection):
    pass


@run_async()
async def test_create_connection_both_sides_get_loop_and_real_sockets():
    kinds = []

    async def handler(websocket):
        kinds.append(type(websocket).__name__)
        await echo(websocket)

    async with serve(handler, "127.0.0.1", 0, create_connection=MyServerConnection) as server:
        assert server.get_loop() is asyncio.get_running_loop()
        sock = server.sockets[0]
        assert isinstance(sock, socket.socket) and sock.family == socket.AF_INET
        assert sock.getsockname()[1] == server.port
        async with connect(_uri(server), create_connection=MyClientConnection) as ws:
            assert isinstance(ws, MyClientConnection)
            await ws.send("x")
            assert await ws.recv() == "x"
    assert kinds == ["MyServerConnection"]


# ---- Request and response objects, addresses ---------------------------------------------------


@run_async()
async def test_request_and_response_headers_on_both_sides():
    seen = {}

    async def handler(websocket):
        seen["x"] = websocket.request.headers["X-Custom"]
        seen["all"] = websocket.request.headers.get_all("X-Twice")
        seen["server_local"] = websocket.local_address
        await websocket.send(websocket.request.path)

    async with serve(handler, "127.0.0.1", 0) as server:
        port = server.port
        async with ws_connect(_uri(server, "/p?q=1"),
                             additional_headers=[("X-Custom", "1"), ("X-Twice", "a"), ("X-Twice", "b")]) as ws:
            assert await ws.recv() == "/p?q=1"
    assert seen["x"] == "1" and seen["all"] == ["a", "b"]
    assert seen["server_local"] == ("127.0.0.1", port)

    def add_header(connection, request, response):
        response.headers["X-From-Server"] = "hello"

    async with ws_serve(echo, "127.0.0.1", 0, process_response=add_header) as server:
        async with connect(f"ws://127.0.0.1:{_port(server)}/", additional_headers={"X-Custom": "2"}) as ws:
            assert ws.response.status_code == 101
            assert ws.response.headers["X-From-Server"] == "hello"
            assert ws.request.headers["X-Custom"] == "2"
            assert ws.local_address[0] == "127.0.0.1" and ws.local_address[1] != _port(server)


@run_async()
async def test_invalid_status_carries_headers_and_body():
    def refuse(connection, request):
        response = connection.respond(403, "go away\n")
        response.headers["X-Why"] = "because"
        return response

    async with ws_serve(echo, "127.0.0.1", 0, process_request=refuse) as server:
        with pytest.raises(InvalidStatus) as refused:
            async with connect(f"ws://127.0.0.1:{_port(server)}/"):
                pass
    response = refused.value.response
    assert (response.status_code, response.reason_phrase) == (403, "Forbidden")
    assert response.headers["X-Why"] == "because"
    assert response.body == b"go away\n"
    assert str(refused.value) == "server rejected WebSocket connection: HTTP 403"


@run_async()
async def test_junk_response_raises_invalid_message():
    async def junk(reader, writer):
        await reader.readuntil(b"\r\n\r\n")
        writer.write(b"220 smtp.invalid ESMTP Postfix\r\n\r\n")
        await writer.drain()
        await reader.read(4096)
        writer.close()

    server = await asyncio.start_server(junk, "127.0.0.1", 0)
    async with server:
        with pytest.raises(InvalidMessage) as raised:
            async with connect(f"ws://127.0.0.1:{server.sockets[0].getsockname()[1]}/"):
                pass
    assert str(raised.value) == "did not receive a valid HTTP response"


def test_subprotocols_as_a_string_is_a_type_error():
    with pytest.raises(TypeError):
        connect("ws://127.0.0.1:1/", subprotocols="chat")
    with pytest.raises(TypeError):
        serve(echo, "127.0.0.1", 0, subprotocols="chat")


# ---- Connection: receiving, ping, concurrency, fragments, close ---------------------------------


@run_async()
async def test_recv_streaming_ping_async_with_and_concurrency_error():
    async with ws_serve(echo, "127.0.0.1", 0) as server:
        async with connect(f"ws://127.0.0.1:{_port(server)}/") as ws:
            await ws.send("whole")
            assert [fragment async for fragment in ws.recv_streaming()] == ["whole"]
            latency = await asyncio.wait_for(await ws.ping(), 5)
            assert latency > 0 and ws.latency == latency
            await ws.pong(b"unsolicited")  # a one-way heartbeat: nothing comes back
            waiting = asyncio.ensure_future(ws.recv())
            await asyncio.sleep(0)
            with pytest.raises(ConcurrencyError):
                await ws.recv()
            await ws.send("x")
            assert await waiting == "x"
            with pytest.raises(TypeError):
                await ws.send({"not": "data"})
            with pytest.raises(TypeError):
                await ws.ping(42)
        async with connect(f"ws://127.0.0.1:{_port(server)}/") as outer:
            async with outer as inner:
                assert inner is outer
            assert outer.state.name == "CLOSED"


@run_async()
async def test_keepalive_updates_latency():
    async with ws_serve(echo, "127.0.0.1", 0) as server:
        async with connect(f"ws://127.0.0.1:{_port(server)}/", ping_interval=0.05) as ws:
            assert ws.latency == 0
            await wait_until(lambda: ws.latency > 0, what="a keepalive pong")
            assert ws.latency < 5


@run_async()
async def test_fragments_are_sent_as_they_are_produced():
    first_arrived = asyncio.Event()
    fragments = []

    async def collect(websocket):
        async for fragment in websocket.recv_streaming():
            fragments.append(fragment)
            first_arrived.set()

    async def produce():
        yield "one"
        # The peer must see the first fragment before the second exists.
        await asyncio.wait_for(first_arrived.wait(), 5)
        yield "two"

    async with ws_serve(collect, "127.0.0.1", 0) as server:
        async with connect(f"ws://127.0.0.1:{_port(server)}/") as ws:
            await ws.send(produce())
            await ws.close()
    assert fragments == ["one", "two", ""]


@run_async()
async def test_close_during_a_fragmented_send_fails_with_1011():
    received = asyncio.get_running_loop().create_future()

    async def observe(websocket):
        try:
            await websocket.recv()
        except Exception as error:  # websockets' ConnectionClosedError
            received.set_result(error.rcvd.code)

    blocker = asyncio.Event()

    async def stalled():
        yield b"part"
        await blocker.wait()
        yield b"never"

    async with ws_serve(observe, "127.0.0.1", 0) as server:
        async with connect(f"ws://127.0.0.1:{_port(server)}/") as ws:
            sending = asyncio.ensure_future(ws.send(stalled()))
            await asyncio.sleep(0.05)
            await ws.close()
            blocker.set()
            with pytest.raises(ConnectionClosedError) as closed:
                await sending
    # The message could not be finished: the close frame sent says 1011 (websockets answers a
    # close in the middle of a fragmented message with 1002, its own rule).
    assert closed.value.sent.code == 1011
    assert await received == 1011


@run_async()
async def test_fixed_mask_keys_give_exact_client_frames():
    frame = asyncio.get_running_loop().create_future()

    async def peer(reader, writer):
        head = (await reader.readuntil(b"\r\n\r\n")).decode()
        key = next(line.split(": ", 1)[1] for line in head.split("\r\n") if line.lower().startswith("sec-websocket-key"))
        writer.write(("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                      f"Sec-WebSocket-Accept: {accept_key(key)}\r\n\r\n").encode())
        frame.set_result(await reader.readexactly(11))
        writer.close()

    server = await asyncio.start_server(peer, "127.0.0.1", 0)
    async with server:
        port = server.sockets[0].getsockname()[1]
        async with connect(f"ws://127.0.0.1:{port}/", compression=None, mask_keys=bytes([0x37, 0xFA, 0x21, 0x3D])) as ws:
            await ws.send("Hello")
            # RFC 6455 section 5.7: a masked "Hello" with key 37 fa 21 3d.
            assert await frame == bytes.fromhex("818537fa213d7f9f4d5158")
    with pytest.raises(ValueError):
        connect("ws://127.0.0.1:1/", mask_keys=b"abc")


# ---- The blocking API ------------------------------------------------------------------------------


def test_sync_server_connections_fileno_shutdown_keeping_connections_and_ping_event():
    opened = threading.Event()

    def handler(websocket):
        opened.set()
        for message in websocket:
            websocket.send(message)

    server = sync_serve(handler, "127.0.0.1", 0)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    assert server.fileno() == server.socket.fileno() and server.socket.family == socket.AF_INET
    with ws_sync_connect(f"ws://127.0.0.1:{server.port}/") as ws:
        assert opened.wait(5)
        assert len(server.connections) == 1
        # Without closing the connections, shutdown waits until the client closed its own.
        stopping = threading.Thread(target=server.shutdown, kwargs={"close_connections": False})
        stopping.start()
        ws.send("still open")
        assert ws.recv(timeout=5) == "still open"
        assert stopping.is_alive()
    stopping.join(5)
    assert not stopping.is_alive()
    from swiftws.sync.client import connect as sync_connect
    server = sync_serve(handler, "127.0.0.1", 0)
    try:
        with sync_connect(f"ws://127.0.0.1:{server.port}/") as ws:
            assert ws.ping().wait(5)
            assert ws.latency > 0

            def pieces():
                yield "a"
                yield "b"
            ws.send(pieces())
            assert ws.recv(timeout=5) == "ab"
    finally:
        server.shutdown()


def test_basic_auth_header_parsing():
    from swiftws.auth import parse_authorization_basic
    token = base64.b64encode(b"user:pa:ss").decode()
    assert parse_authorization_basic(f"Basic {token}") == ("user", "pa:ss")
    with pytest.raises(Exception):
        parse_authorization_basic("Bearer xyz")


@run_async()
async def test_client_gets_a_message_read_with_a_frame_that_fails_the_connection():
    async def peer(reader, writer):
        head = (await reader.readuntil(b"\r\n\r\n")).decode()
        key = next(line.split(": ", 1)[1] for line in head.split("\r\n") if line.lower().startswith("sec-websocket-key"))
        writer.write(("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                      f"Sec-WebSocket-Accept: {accept_key(key)}\r\n\r\n").encode())
        # After the 101 was read: a text frame and, in the same write, a frame with RSV1 set.
        await reader.read(1)
        writer.write(b"\x81\x02hi" + b"\xc1\x02no")
        await writer.drain()
        await reader.read(4096)
        writer.close()

    server = await asyncio.start_server(peer, "127.0.0.1", 0)
    async with server:
        port = server.sockets[0].getsockname()[1]
        async with connect(f"ws://127.0.0.1:{port}/", compression=None) as ws:
            await ws.send("go")
            assert await ws.recv() == "hi"
            with pytest.raises(ConnectionClosedError) as closed:
                await ws.recv()
            assert ws.close_code == 1002
            # This side failed the connection: its close frame went first.
            assert closed.value.sent.code == 1002 and closed.value.rcvd_then_sent is False


# ---- Round 4: argument checks as websockets (asyncio's words), the request's Host, extensions --


@run_async()
async def test_where_to_listen_or_connect_is_given_one_way_only(tmp_path):
    from swiftws.asyncio.client import unix_connect
    from swiftws.asyncio.server import unix_serve
    listening = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        for kwargs in ({"host": "localhost"}, {"port": 0}):
            with pytest.raises(ValueError, match="host/port and sock can not be specified at the same time"):
                await serve(echo, sock=listening, **kwargs)
        with pytest.raises(ValueError, match="path was not specified, and no sock specified"):
            await unix_serve(echo)
        with pytest.raises(ValueError, match="path and sock can not be specified at the same time"):
            await unix_serve(echo, path=str(tmp_path / "x.sock"), sock=listening)
        with pytest.raises(ValueError, match="no path and sock were specified"):
            await unix_connect()
        with pytest.raises(ValueError, match="path and sock can not be specified at the same time"):
            await unix_connect(str(tmp_path / "x.sock"), sock=listening)
    finally:
        listening.close()


@run_async()
async def test_tls_and_proxy_arguments_checked_as_websockets():
    from swiftws.exceptions import InvalidProxy
    with pytest.raises(ValueError, match="ssl=None is incompatible with a wss:// URI"):
        await connect("wss://localhost/", ssl=None)
    with pytest.raises(ValueError, match="proxy_ssl argument is incompatible with an http:// proxy"):
        await connect("ws://localhost/", proxy="http://localhost:8080", proxy_ssl=True)
    with pytest.raises(ValueError, match="proxy_ssl=None is incompatible with an https:// proxy"):
        await connect("ws://localhost/", proxy="https://localhost:8080", proxy_ssl=None)
    # The library's list of proxy schemes decides; websockets' exception and words say it.
    with pytest.raises(InvalidProxy) as refused:
        await connect("ws://example.com/", proxy="other://localhost:51080")
    assert str(refused.value) == "other://localhost:51080 isn't a valid proxy: scheme other isn't supported"
    with pytest.raises(InvalidProxy, match="scheme https isn't supported"):
        await connect("ws://example.com/", proxy="https://localhost:51080")


@run_async()
async def test_request_host_header_and_extensions_where_websockets_has_them(tmp_path):
    from swiftws.extensions.permessage_deflate import PerMessageDeflate
    seen = []

    async def record(websocket):
        seen.append(websocket.request.headers["Host"])
        await websocket.wait_closed()

    async with ws_serve(record, "127.0.0.1", 0) as server:
        async with connect(f"ws://127.0.0.1:{_port(server)}/") as ws:
            assert [type(e) for e in ws.protocol.extensions] == [PerMessageDeflate]
            await ws.send("x")  # the server's handler has started once it can read
        assert seen == [ws.request.headers["Host"]] == [f"127.0.0.1:{_port(server)}"]
    from websockets.asyncio.server import unix_serve as ws_unix_serve
    from swiftws.asyncio.client import unix_connect
    path = str(tmp_path / "host.sock")
    async with ws_unix_serve(record, path):
        async with unix_connect(path, "ws://overridden/", compression=None) as ws:
            assert ws.protocol.extensions == []
        assert seen[-1] == ws.request.headers["Host"] == "overridden"


@run_async()
async def test_async_reconnect_uses_reconnect_delays():
    answers = [503, 503]

    def busy_then_ready(connection, request):
        if answers:
            answers.pop()
            return connection.respond(503, "busy\n")
        return None

    asked = []

    def delays():
        while True:
            asked.append(0.01)
            yield 0.01

    async with ws_serve(echo, "127.0.0.1", 0, process_request=busy_then_ready) as server:
        async for ws in connect(f"ws://127.0.0.1:{_port(server)}/", reconnect_delays=delays):
            await ws.send("after two 503")
            assert await ws.recv() == "after two 503"
            break
    assert asked == [0.01, 0.01]


# ---- Round 4: stdlib ssl.SSLContext, TLS run by asyncio (swiftws.asyncio._tls_relay) -----------


def _self_signed(tmp_path):
    """A self-signed certificate that is not a CA (as websockets' own test certificate):
    get_ca_certs() leaves it out, so a client trusting it needs asyncio's TLS too."""
    import subprocess
    cert, key = tmp_path / "leaf.pem", tmp_path / "leaf.key"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(key),
                    "-out", str(cert), "-days", "2", "-subj", "/CN=localhost",
                    "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1",
                    "-addext", "basicConstraints=critical,CA:FALSE"],
                   check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    import ssl
    server_context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server_context.load_cert_chain(str(cert), str(key))
    client_context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    client_context.load_verify_locations(str(cert))
    return server_context, client_context


@run_async(60)
async def test_server_with_a_stdlib_ssl_context_against_websockets(tmp_path):
    server_context, client_context = _self_signed(tmp_path)
    seen = []

    async def echo_and_describe(websocket):
        seen.append((websocket.remote_address, websocket.local_address,
                     websocket.transport.get_extra_info("ssl_object").version()))
        async for message in websocket:
            await websocket.send(message)

    async with serve(echo_and_describe, "localhost", 0, ssl=server_context) as server:
        assert server.sockets[0].family in (socket.AF_INET, socket.AF_INET6)
        async with ws_connect(f"wss://localhost:{_port(server)}/", ssl=client_context) as ws:
            await ws.send("over TLS")
            assert await ws.recv() == "over TLS"
            big = bytes(range(256)) * 4000  # 1 MB each way through the relay (flow control)
            await ws.send(big)
            assert await ws.recv() == big
            assert seen == [(ws.local_address[:2], ws.remote_address[:2], "TLSv1.3")]
        assert ws.close_code == 1000
        relay = server._tls_relay
        await wait_until(lambda: not relay.relays)  # the relay let go of the closed connection
        # The TLS handshake is bounded by open_timeout, as websockets does: a silent peer is dropped.
    async with serve(echo, "localhost", 0, ssl=server_context, open_timeout=0.2) as server:
        reader, writer = await asyncio.open_connection("127.0.0.1", _port(server))
        assert await asyncio.wait_for(reader.read(4096), 5) == b""
        writer.close()


@run_async(60)
async def test_a_tls_handshake_finishing_after_the_server_closed_is_dropped(tmp_path):
    # Accepted by asyncio before close(), its TLS handshake done after: the library's server is
    # gone by then, so the relay must drop it (and never touch the freed native handle).
    server_context, client_context = _self_signed(tmp_path)
    server = await serve(echo, "localhost", 0, ssl=server_context)
    reader, writer = await asyncio.open_connection("127.0.0.1", _port(server))
    await asyncio.sleep(0)  # let asyncio accept it
    server.close()
    await server.wait_closed()
    try:
        await asyncio.wait_for(writer.start_tls(client_context, server_hostname="localhost"), 5)
        assert await asyncio.wait_for(reader.read(4096), 5) == b""
    except (ConnectionError, OSError):
        pass  # dropped during the handshake: as good
    finally:
        writer.close()


@run_async(60)
async def test_client_with_a_stdlib_context_trusting_a_self_signed_certificate(tmp_path):
    import ssl
    from websockets.asyncio.server import serve as ws_serve_tls
    server_context, client_context = _self_signed(tmp_path)
    async with ws_serve_tls(echo, "localhost", 0, ssl=server_context) as server:
        uri = f"wss://localhost:{_port(server)}/"
        async with connect(uri, ssl=client_context) as ws:
            await ws.send("trusted")
            assert await ws.recv() == "trusted"
            assert ws.transport.get_extra_info("ssl_object").server_hostname == "localhost"
            assert ws.remote_address[:2] == server.sockets[0].getsockname()[:2]
        with pytest.raises(ssl.SSLCertVerificationError):
            await connect(uri, ssl=client_context, server_hostname="other.invalid")
        with pytest.raises(ssl.SSLCertVerificationError):
            await connect(uri, ssl=ssl.create_default_context())
        with pytest.raises(ValueError, match="proxy= with an ssl.SSLContext"):
            connect(uri, ssl=client_context, proxy="http://127.0.0.1:1")


def test_exception_names_websockets_17_4_has():
    import websockets.exceptions as theirs
    import swiftws.exceptions as ours
    missing = [name for name in theirs.__all__ if not hasattr(ours, name)]
    assert missing == []
    if hasattr(theirs, "TooManyFragments"):  # websockets 16+ (Python 3.9 gets 15.x)
        assert str(ours.TooManyFragments(3)) == str(theirs.TooManyFragments(3))
    assert issubclass(ours.TooManyFragments, ours.WebSocketException)
    # broadcast(raise_exceptions=True) raises an ExceptionGroup on every Python the package claims.
    group = ours.ExceptionGroup("skipped broadcast", [ValueError("a"), ValueError("b")])
    assert [str(e) for e in group.exceptions] == ["a", "b"]


@run_async(30)
async def test_a_cross_origin_redirect_does_not_carry_credentials():
    # What a websockets server at the redirect's target receives (the library's rule,
    # ClientConnector.credentialHeaders): credentials only go to the origin they were given for.
    received = []

    async def record(websocket):
        received.append({name: websocket.request.headers.get(name)
                         for name in ("Authorization", "Cookie", "Proxy-Authorization", "X-Custom")})
        await websocket.wait_closed()

    credentials = {"Authorization": "Bearer secret", "Cookie": "session=secret",
                   "Proxy-Authorization": "Basic secret", "X-Custom": "keep"}
    async with ws_serve(record, "127.0.0.1", 0) as target:
        def cross(connection, request):
            response = connection.respond(302, "")
            response.headers["Location"] = f"ws://127.0.0.1:{_port(target)}/"  # another port: another origin
            return response

        async with ws_serve(record, "127.0.0.1", 0, process_request=cross) as origin:
            async with connect(f"ws://127.0.0.1:{_port(origin)}/", additional_headers=credentials) as ws:
                await ws.send("x")
        same = f"ws://127.0.0.1:{_port(target)}/"
        async with connect(same, additional_headers=credentials) as ws:
            await ws.send("x")
    assert received == [{"Authorization": None, "Cookie": None, "Proxy-Authorization": None, "X-Custom": "keep"},
                        credentials]
