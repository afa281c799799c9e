"""Issue 15 in the Python face: topics (``ServerConnection.subscribe``, ``Server.publish``) joined
across servers through Redis (``redis=``, with a redis-server this test starts on a free loopback
port), ``server_no_context_takeover`` imposed on browsers' default offer, ``loops`` out of range refused
(``loops=N`` itself: test_loops.py), and wss:// on a server of 2 loops made through the C API,
with a certificate reload that reaches both loops."""

from __future__ import annotations

import asyncio
import ctypes
import os
import shutil
import socket
import ssl
import subprocess
import threading

import pytest
from websockets.asyncio.client import connect as ws_connect

from swiftws.asyncio.server import serve

from conftest import REPO_ROOT
from helpers import echo, run_async, wait_until

REDIS = shutil.which("redis-server")


@pytest.fixture
def redis_port():
    if REDIS is None:
        pytest.fail("redis-server is not installed: run scripts/install-deps.sh")
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    process = subprocess.Popen([REDIS, "--bind", "127.0.0.1", "--port", str(port), "--save", "", "--appendonly", "no"],
                               stdout=subprocess.PIPE, text=True)
    try:
        for line in process.stdout:
            if "Ready to accept connections" in line:
                break
        yield port
    finally:
        process.kill()
        process.wait(timeout=10)


async def chat_room(websocket):
    """Subscribes to "room" and publishes each message to it (on every server of the Redis)."""
    websocket.subscribe("room")
    async for message in websocket:
        websocket.server.publish("room", message)


@run_async()
async def test_topics_cross_servers_through_redis_once(redis_port):
    url = f"redis://127.0.0.1:{redis_port}"
    async with serve(chat_room, "127.0.0.1", 0, redis=url) as first, \
            serve(chat_room, "127.0.0.1", 0, redis=url) as second:
        async with ws_connect(f"ws://127.0.0.1:{first.port}/") as alice, \
                ws_connect(f"ws://127.0.0.1:{second.port}/") as bob:
            await wait_until(lambda: first.subscriber_count("room") == 1 and second.subscriber_count("room") == 1)
            # Probes until the second server's Redis subscription is confirmed.
            for attempt in range(100):
                await alice.send(f"probe {attempt}")
                assert await asyncio.wait_for(alice.recv(), 5) == f"probe {attempt}"  # own server, at once
                try:
                    received = await asyncio.wait_for(bob.recv(), 0.2)
                    break
                except asyncio.TimeoutError:
                    continue
            else:
                raise AssertionError("nothing crossed through Redis")
            assert received.startswith("probe ")
            # Drain probes that may still be in flight, then exactly once each way.
            await bob.send("from bob")
            while (message := await asyncio.wait_for(bob.recv(), 5)) != "from bob":
                assert message.startswith("probe ")
            while (message := await asyncio.wait_for(alice.recv(), 5)) != "from bob":
                assert message.startswith("probe ")
            await alice.send("from alice")
            assert await asyncio.wait_for(alice.recv(), 5) == "from alice"
            assert await asyncio.wait_for(bob.recv(), 5) == "from alice"
            # Nothing more: neither server delivered its own publish a second time.
            for ws in (alice, bob):
                with pytest.raises(asyncio.TimeoutError):
                    await asyncio.wait_for(ws.recv(), 0.3)


@run_async()
async def test_server_no_context_takeover_is_imposed_on_a_default_offer():
    async with serve(echo, "127.0.0.1", 0, server_no_context_takeover=True) as server:
        async with ws_connect(f"ws://127.0.0.1:{server.port}/") as ws:  # websockets' default offer
            agreed = ws.response.headers["Sec-WebSocket-Extensions"]
            assert "permessage-deflate" in agreed and "server_no_context_takeover" in agreed
            await ws.send("x" * 1000)
            assert await ws.recv() == "x" * 1000
    async with serve(echo, "127.0.0.1", 0) as server:
        async with ws_connect(f"ws://127.0.0.1:{server.port}/") as ws:
            assert "server_no_context_takeover" not in ws.response.headers["Sec-WebSocket-Extensions"]


def test_loops_out_of_range_are_refused_by_the_asyncio_front_end():
    # 2 .. 256 are served (test_loops.py).
    for loops in (0, 257):
        with pytest.raises(ValueError, match="loops"):
            serve(echo, "127.0.0.1", 0, loops=loops)


@run_async()
async def test_a_bad_redis_url_is_refused():
    with pytest.raises(Exception, match="redis_url"):
        async with serve(echo, "127.0.0.1", 0, redis="http://127.0.0.1:6379"):
            pass


class NativeServerOnTwoLoops:
    """A TLS echo server on 2 loops made through the C API (``swiftws._native``) directly, as a C
    program would (the asyncio front end's ``loops=N``: test_loops.py). The
    first loop runs in a Python thread (``sws_loop_run`` releases the GIL), the second in the
    library's own; the callbacks run on both (ctypes takes the GIL for them) and echo from inside
    ``on_message``, on the connection's loop thread as the C API requires."""

    def __init__(self, tls_config) -> None:
        from ctypes import byref, c_void_p

        from swiftws import _native as n
        from swiftws.exceptions import check

        self.n = n
        self.open_threads = set()
        self.loop = c_void_p()
        check(n.lib.sws_loop_new(byref(self.loop)))
        self.handlers = n.ConnHandlers()
        check(n.lib.sws_conn_handlers_init(byref(self.handlers)))
        self.handlers.on_open = n.CONN_ON_OPEN(lambda conn, _ud: self.open_threads.add(threading.get_ident()))
        self.handlers.on_message = n.CONN_ON_MESSAGE(
            lambda conn, _ud, kind, data, length: n.lib.sws_conn_send_text(conn, data, length, None))
        config = n.ServerConfig()
        check(n.lib.sws_server_config_init(byref(config)))
        config.loops = 2
        config.tls = ctypes.pointer(tls_config)
        self.server = c_void_p()
        check(n.lib.sws_server_new(self.loop, b"127.0.0.1", 0, byref(config), byref(self.handlers), None,
                                   byref(self.server)), "sws_server_new")
        self.port = n.lib.sws_server_port(self.server)
        self.thread = threading.Thread(target=n.lib.sws_loop_run, args=(self.loop,), daemon=True)
        self.thread.start()

    def on_loop(self, function) -> None:
        """Runs ``function()`` on the first loop's thread and waits for it (10 s at most)."""
        done = threading.Event()
        errors = []

        def work(_loop, _ud):
            try:
                function()
            except BaseException as error:  # reported on the calling thread
                errors.append(error)
            done.set()

        callback = self.n.LOOP_WORK(work)
        assert self.n.lib.sws_loop_post(self.loop, callback, None) == 0
        assert done.wait(10), "the loop did not run the posted work"
        if errors:
            raise errors[0]

    def reload(self, tls_config) -> None:
        from swiftws.exceptions import check
        self.on_loop(lambda: check(self.n.lib.sws_server_reload_tls(self.server, ctypes.byref(tls_config)),
                                   "sws_server_reload_tls"))

    def close(self) -> None:
        n = self.n
        stopped = threading.Event()
        done = n.SERVER_SHUTDOWN_DONE(lambda _server, _ud: (n.lib.sws_loop_stop(self.loop), stopped.set()))
        self.on_loop(lambda: n.lib.sws_server_shutdown(self.server, 5000, done, None))
        assert stopped.wait(10), "the shutdown did not complete"
        self.thread.join(10)
        # This thread takes the stopped loop over (one iteration) to free the server and the loop.
        assert n.lib.sws_loop_run_once(self.loop, 0) == 0
        assert n.lib.sws_server_free(self.server) == 0
        assert n.lib.sws_loop_free(self.loop) == 0


@pytest.fixture(scope="module")
def certs(tmp_path_factory):
    directory = tmp_path_factory.mktemp("certs")
    subprocess.run(["sh", os.path.join(REPO_ROOT, "Tests", "Peers", "make_test_certs.sh"), str(directory)], check=True)
    return lambda name: str(directory / name)


@run_async(60)
async def test_websockets_client_over_wss_to_a_server_on_two_loops_and_a_reload_reaching_both(certs):
    """A real ``websockets`` client over wss:// against a server on 2 loops. It starts with a
    certificate from a CA the client does not trust (refused), then ``sws_server_reload_tls``
    switches to a trusted one: 8 clients at once (the acceptor spreads them over both loops) all
    echo, so no loop kept the old certificate."""
    from swiftws.tls import SSLContext, tls_struct

    def server_tls(chain, key):
        context = SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(certs(chain), certs(key))
        return tls_struct(context, server=True)

    untrusted, keep_untrusted = server_tls("other.pem", "other.key")
    server = NativeServerOnTwoLoops(untrusted)
    try:
        client_context = ssl.create_default_context(cafile=certs("ca.pem"))
        url = f"wss://localhost:{server.port}/"
        for _ in range(2):
            with pytest.raises(ssl.SSLCertVerificationError):
                await ws_connect(url, ssl=client_context, open_timeout=10)
        assert server.open_threads == set()

        trusted, keep_trusted = server_tls("chain.pem", "server.key")
        await asyncio.to_thread(server.reload, trusted)
        clients = [await ws_connect(url, ssl=client_context, open_timeout=10) for _ in range(8)]
        for index, ws in enumerate(clients):
            await ws.send(f"secure {index}")
        for index, ws in enumerate(clients):
            assert await asyncio.wait_for(ws.recv(), 10) == f"secure {index}"
            await ws.close()
        assert len(server.open_threads) == 2
    finally:
        await asyncio.to_thread(server.close)
