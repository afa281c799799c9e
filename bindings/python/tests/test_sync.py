"""The blocking API: client and server, interop with websockets' own blocking API, timeouts,
and use from several threads at once."""

from __future__ import annotations

import logging
import threading
import time

import pytest
from websockets.sync.client import connect as ws_connect
from websockets.sync.server import serve as ws_serve

import swiftws
from swiftws.sync.client import connect
from swiftws.sync.server import serve


def sync_echo(websocket):
    for message in websocket:
        websocket.send(message)


@pytest.fixture
def echo_server():
    with serve(sync_echo, "127.0.0.1", 0) as server:
        yield server


def test_blocking_client_against_websockets_server():
    with ws_serve(sync_echo, "127.0.0.1", 0) as server:
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        port = server.socket.getsockname()[1]
        with connect(f"ws://127.0.0.1:{port}/") as ws:
            ws.send("hello")
            assert ws.recv(timeout=5) == "hello"
            ws.send(b"\x00" * 100000)
            assert ws.recv(timeout=5) == b"\x00" * 100000
            ws.send([b"a", b"b"])
            assert ws.recv(timeout=5) == b"ab"
            assert ws.ping().wait(5)  # an event set by the pong, as websockets' blocking ping
        assert ws.close_code == 1000
        server.shutdown()


def test_websockets_blocking_client_against_blocking_server(echo_server):
    with ws_connect(f"ws://127.0.0.1:{echo_server.port}/") as ws:
        ws.send("hi")
        assert ws.recv(timeout=5) == "hi"


def test_recv_timeout_raises_and_loses_nothing(echo_server):
    with connect(f"ws://127.0.0.1:{echo_server.port}/") as ws:
        started = time.monotonic()
        with pytest.raises(TimeoutError):
            ws.recv(timeout=0.2)
        assert 0.15 < time.monotonic() - started < 3
        ws.send("after")
        assert ws.recv(timeout=5) == "after"


def test_handler_exception_closes_1011_and_server_keeps_serving(caplog):
    def handler(websocket):
        if websocket.recv() == "boom":
            raise ValueError("sync handler bug")
        websocket.send("fine")

    with caplog.at_level(logging.ERROR, logger="swiftws"):
        with serve(handler, "127.0.0.1", 0) as server:
            with connect(f"ws://127.0.0.1:{server.port}/") as ws:
                ws.send("boom")
                with pytest.raises(swiftws.ConnectionClosedError) as closed:
                    ws.recv(timeout=5)
                assert closed.value.code == 1011
            with connect(f"ws://127.0.0.1:{server.port}/") as ws:
                ws.send("ok")
                assert ws.recv(timeout=5) == "fine"
    assert "sync handler bug" in caplog.text


def test_one_connection_used_from_many_threads(echo_server):
    with connect(f"ws://127.0.0.1:{echo_server.port}/") as ws:
        def sender(thread_index):
            for index in range(50):
                ws.send(f"{thread_index}:{index}")
        threads = [threading.Thread(target=sender, args=(index,)) for index in range(8)]
        for thread in threads:
            thread.start()
        received = [ws.recv(timeout=10) for _ in range(8 * 50)]
        for thread in threads:
            thread.join()
        assert sorted(received) == sorted(f"{t}:{i}" for t in range(8) for i in range(50))
        # Each thread's own messages keep their order.
        for thread_index in range(8):
            mine = [m for m in received if m.startswith(f"{thread_index}:")]
            assert mine == [f"{thread_index}:{i}" for i in range(50)]


def test_many_clients_in_threads(echo_server):
    results = []

    def client(index):
        with connect(f"ws://127.0.0.1:{echo_server.port}/") as ws:
            ws.send(str(index))
            results.append(ws.recv(timeout=10))

    threads = [threading.Thread(target=client, args=(index,)) for index in range(50)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(20)
    assert sorted(results, key=int) == [str(index) for index in range(50)]


def test_shutdown_closes_connections_with_1001():
    server = serve(lambda websocket: websocket.wait_closed(), "127.0.0.1", 0)
    ws = connect(f"ws://127.0.0.1:{server.port}/")
    stopper = threading.Thread(target=server.shutdown)
    stopper.start()
    with pytest.raises(swiftws.ConnectionClosedOK) as closed:
        ws.recv(timeout=10)
    assert closed.value.code == 1001
    stopper.join(10)
    server.serve_forever()  # returns at once: the server is stopped


def test_sync_errors():
    with pytest.raises(swiftws.InvalidURI):
        connect("http://example.com/")
    with serve(sync_echo, "127.0.0.1", 0, process_request=lambda c, r: c.respond(403, "no")) as server:
        with pytest.raises(swiftws.InvalidStatus) as rejected:
            connect(f"ws://127.0.0.1:{server.port}/")
        assert rejected.value.response.status_code == 403
