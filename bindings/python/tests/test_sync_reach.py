"""The blocking API's reach (issue 12, round 4), against websockets' own blocking peers: a
proxy (tinyproxy on loopback), Unix sockets both ways (``unix_connect`` / ``unix_serve``), and
``for websocket in reconnect(uri)`` (also ``connect(uri, legacy=False)``) with websockets'
retry rule and ``reconnect_delays``. The blocking API runs the asyncio code in its background
thread, so these check that the shared code is reached from it, not a second copy."""

from __future__ import annotations

import http
import os
import threading
import warnings

import pytest
from websockets.exceptions import InvalidStatus as WsInvalidStatus
from websockets.sync.client import connect as ws_sync_connect
from websockets.sync.client import unix_connect as ws_unix_connect
from websockets.sync.server import serve as ws_serve
from websockets.sync.server import unix_serve as ws_unix_serve

from swiftws.exceptions import ConnectionClosed, InvalidStatus
from swiftws.sync.client import connect, reconnect, unix_connect, unix_reconnect
from swiftws.sync.server import Server, serve as sync_serve, unix_serve

from test_reach import needs_tinyproxy, tinyproxy


def sync_echo(websocket):
    for message in websocket:
        websocket.send(message)


class running:
    """A websockets blocking server serving in a thread for the `with` block."""

    def __init__(self, server):
        self.server = server

    def __enter__(self):
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()
        return self.server

    def __exit__(self, *exc):
        self.server.shutdown()
        self.thread.join(10)


def port_of(server) -> int:
    return server.socket.getsockname()[1]


def short_delays():
    while True:
        yield 0.01


@needs_tinyproxy
def test_sync_connect_through_an_http_proxy(tmp_path):
    with tinyproxy(tmp_path) as proxy, running(ws_serve(sync_echo, "127.0.0.1", 0)) as server:
        with connect(f"ws://127.0.0.1:{port_of(server)}/", proxy=f"http://{proxy}") as ws:
            ws.send("through the proxy")
            assert ws.recv(timeout=5) == "through the proxy"


def test_sync_unix_sockets_both_ways_against_websockets(tmp_path):
    path = str(tmp_path / "sync.sock")
    with unix_serve(sync_echo, path) as server:
        assert server.socket.getsockname() == path
        with ws_unix_connect(path) as ws:
            ws.send("from websockets")
            assert ws.recv(timeout=5) == "from websockets"
        with unix_connect(path) as ws:
            ws.send(b"ours")
            assert ws.recv(timeout=5) == b"ours"
    other = str(tmp_path / "websockets.sock")
    with running(ws_unix_serve(sync_echo, other)):
        with unix_connect(other, "ws://localhost/chat") as ws:
            assert ws.request.path == "/chat"
            ws.send("to websockets")
            assert ws.recv(timeout=5) == "to websockets"
    # Where to connect is given one way only (asyncio's words, as websockets users see them).
    with pytest.raises(ValueError, match="missing path argument"):
        unix_connect()
    with pytest.raises(ValueError, match="missing path argument"):
        unix_serve(sync_echo)
    import socket
    from swiftws.sync.server import serve
    with socket.socket(socket.AF_UNIX) as listening:
        with pytest.raises(ValueError, match="path is incompatible with sock"):
            unix_serve(sync_echo, path, sock=listening)
        with pytest.raises(ValueError, match="host is incompatible with sock"):
            serve(sync_echo, "localhost", sock=listening)
        with pytest.raises(ValueError, match="port is incompatible with sock"):
            serve(sync_echo, port=0, sock=listening)


def test_sync_reconnect_retries_transient_errors_and_raises_fatal_ones():
    answers = [503, None, None, 403]  # what the next attempts get (None: the upgrade)
    attempts = []

    def process_request(connection, request):
        attempts.append(request.path)
        status = answers.pop(0) if answers else None
        return None if status is None else connection.respond(http.HTTPStatus(status), "no\n")

    def one_message_then_close(websocket):
        websocket.send(websocket.recv())

    with running(ws_serve(one_message_then_close, "127.0.0.1", 0, process_request=process_request)) as server:
        uri = f"ws://127.0.0.1:{port_of(server)}/"
        opened = 0
        with pytest.raises(InvalidStatus, match="HTTP 403"):
            for ws in reconnect(uri, reconnect_delays=short_delays):
                opened += 1
                ws.send(f"message {opened}")
                assert ws.recv(timeout=5) == f"message {opened}"
                try:
                    ws.recv(timeout=5)  # the server closes after one message
                except ConnectionClosed:
                    continue
        # 503 retried, two connections opened (each closed by the server), then 403 is fatal.
        assert len(attempts) == 4 and opened == 2

        # websockets' forward-compatible spelling, and a custom retry rule (a 403 retried once).
        retried = []

        def process_exception(exc):
            if isinstance(exc, InvalidStatus) and not retried:
                retried.append(exc.response.status_code)
                return None
            return exc

        connector = connect(uri, legacy=False, reconnect_delays=short_delays, process_exception=process_exception)
        assert isinstance(connector, reconnect)
        with connector as ws:  # connects once, without iterating
            ws.send("once")
            assert ws.recv(timeout=5) == "once"
        answers[:] = [403, 418]
        with pytest.raises(InvalidStatus, match="HTTP 418"):
            for ws in connector:
                pytest.fail("did not raise")
        assert retried == [403]


def test_sync_unix_reconnect_and_deprecated_names(tmp_path):
    path = str(tmp_path / "again.sock")
    with unix_serve(sync_echo, path):
        for ws in unix_reconnect(path):
            ws.send("again")
            assert ws.recv(timeout=5) == "again"
            break
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        from swiftws.sync import server as sync_server
        assert sync_server.WebSocketServer is Server
    assert "WebSocketServer was renamed to Server" in str(caught[0].message)


def test_sync_server_socket_closed_is_set_when_it_stops_listening():
    with unix_serve(sync_echo, f"@swiftws-sync-closed-{os.getpid()}") as server:
        assert not server.socket_closed.is_set()
    assert server.socket_closed.is_set()


def test_sync_server_with_a_stdlib_ssl_context_against_websockets(tmp_path):
    from websockets.sync.client import connect as ws_sync_connect
    from test_websockets_shape import _self_signed
    server_context, client_context = _self_signed(tmp_path)
    from swiftws.sync.server import serve
    with serve(sync_echo, "localhost", 0, ssl=server_context) as server:
        with ws_sync_connect(f"wss://localhost:{port_of(server)}/", ssl=client_context) as ws:
            ws.send("blocking, over TLS")
            assert ws.recv(timeout=5) == "blocking, over TLS"


def test_blocking_hooks_run_in_their_own_thread_and_see_the_blocking_server():
    # websockets' blocking server runs process_request in the connection's thread: a hook may
    # block (here until the server stops listening) without stalling other connections.
    waiting = threading.Event()

    def process_request(ws, request):
        if request.path == "/wait":
            assert isinstance(ws.server, Server)
            waiting.set()
            ws.server.socket_closed.wait(10)
        return None

    server = sync_serve(sync_echo, "127.0.0.1", 0, process_request=process_request)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    outcome = []

    def blocked_client():
        try:
            ws_sync_connect(f"ws://127.0.0.1:{port_of(server)}/wait", open_timeout=10).close()
            outcome.append("opened")
        except WsInvalidStatus as error:
            outcome.append(error.response.status_code)

    client = threading.Thread(target=blocked_client)
    client.start()
    assert waiting.wait(10)
    with ws_sync_connect(f"ws://127.0.0.1:{port_of(server)}/") as ws:  # served meanwhile
        ws.send("not stalled")
        assert ws.recv(timeout=10) == "not stalled"
    server.shutdown()  # the waiting hook returns; the server is closing: 503, as websockets
    client.join(10)
    thread.join(10)
    assert outcome == [503]
