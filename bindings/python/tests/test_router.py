"""URL routing (``swiftws.asyncio.router`` / ``swiftws.sync.router``, websockets' ``route()``), with
real swiftws clients on 127.0.0.1 and a Unix socket: two routes reach two handlers, a converter's
value arrives as a keyword argument of its type, defaults too; an unknown path is refused with
404 before any handler runs; ``redirect_to`` answers 302 with a ws:// Location (``server_name``,
``ssl=True``); a ``process_request`` given runs first; ``create_router``; werkzeug optional.
websockets' own router tests run against these modules in scripts/websockets_suite.py."""

from __future__ import annotations

import asyncio
import base64
import os
import subprocess
import sys

import pytest

pytest.importorskip("werkzeug")  # optional, as in websockets; scripts/requirements-test.txt installs it
from werkzeug.routing import Map, Rule  # noqa: E402

from swiftws.asyncio.client import connect, unix_connect  # noqa: E402
from swiftws.asyncio.router import Router, route, unix_route  # noqa: E402
from swiftws.auth import basic_auth  # noqa: E402
from swiftws.exceptions import InvalidStatus  # noqa: E402
from swiftws.sync.client import connect as sync_connect  # noqa: E402
from swiftws.sync.router import route as sync_route  # noqa: E402

from conftest import PACKAGE_ROOT  # noqa: E402
from helpers import run_async  # noqa: E402
from test_websockets_shape import _port  # noqa: E402


async def room(websocket, number):
    """Answers with what the router gave it: the converter's value and its type."""
    await websocket.send(f"room {number!r} {type(number).__name__}")


async def lobby(websocket):
    await websocket.send(f"lobby {websocket.request.path}")


def url_map() -> Map:
    return Map([
        Rule("/lobby", endpoint=lobby),
        Rule("/room", defaults={"number": 0}, endpoint=room),
        Rule("/room/<int:number>", endpoint=room),
        Rule("/old-lobby", redirect_to="/lobby"),
    ])


@run_async(30)
async def test_two_routes_reach_their_handlers_with_the_converter_value():
    async with route(url_map(), "127.0.0.1", 0) as server:
        base = f"ws://127.0.0.1:{_port(server)}"
        async with connect(base + "/room/42") as websocket:
            assert await websocket.recv() == "room 42 int"
        async with connect(base + "/room") as websocket:  # Rule(defaults=...)
            assert await websocket.recv() == "room 0 int"
        async with connect(base + "/lobby?who=me") as websocket:  # the query string is not matched
            assert await websocket.recv() == "lobby /lobby?who=me"


@run_async(30)
async def test_an_unknown_path_is_refused_with_404_before_any_handler():
    ran = []

    async def spy(websocket, **values):
        ran.append(values)

    routes = Map([Rule("/room/<int:number>", endpoint=spy)])
    async with route(routes, "127.0.0.1", 0) as server:
        for path in ("/nowhere", "/room/abc", "/room/1/more"):
            with pytest.raises(InvalidStatus) as refused:
                async with connect(f"ws://127.0.0.1:{_port(server)}{path}"):
                    pytest.fail(f"{path} was accepted")
            assert refused.value.response.status_code == 404
            assert refused.value.response.body == b"Not Found"
            assert str(refused.value) == "server rejected WebSocket connection: HTTP 404"
    assert ran == []


@run_async(30)
async def test_redirects_point_to_ws_or_wss_urls_and_are_followed():
    async with route(url_map(), "127.0.0.1", 0) as server:
        base = f"ws://127.0.0.1:{_port(server)}"
        async with connect(base + "/old-lobby") as websocket:  # followed by the client
            assert await websocket.recv() == "lobby /lobby"
        with pytest.raises(InvalidStatus) as redirected:
            async with connect(base + "/old-lobby", max_redirects=0):
                pytest.fail("the redirect was not answered")
        assert redirected.value.response.status_code == 302
        assert redirected.value.response.headers["Location"] == base + "/lobby"
    # Behind a proxy: the name clients use, and wss:// when the proxy ends TLS (ssl=True).
    async with route(url_map(), "127.0.0.1", 0, server_name="chat.example", ssl=True) as server:
        with pytest.raises(InvalidStatus) as redirected:
            async with connect(f"ws://127.0.0.1:{_port(server)}/old-lobby", max_redirects=0):
                pytest.fail("the redirect was not answered")
        assert redirected.value.response.headers["Location"] == "wss://chat.example/lobby"


@run_async(30)
async def test_process_request_runs_first_and_its_response_wins():
    async def process_request(connection, request):
        if request.headers.get("Authorization") != "token":
            return connection.respond(403, "Forbidden")
        connection.seen = True
        return None

    async def checked(websocket):
        await websocket.send(f"seen {websocket.seen}")

    routes = Map([Rule("/", endpoint=checked)])
    async with route(routes, "127.0.0.1", 0, process_request=process_request) as server:
        uri = f"ws://127.0.0.1:{_port(server)}/"
        with pytest.raises(InvalidStatus) as refused:
            async with connect(uri):
                pytest.fail("process_request's 403 was not sent")
        assert refused.value.response.status_code == 403
        async with connect(uri, additional_headers={"Authorization": "token"}) as websocket:
            assert await websocket.recv() == "seen True"
        with pytest.raises(InvalidStatus) as refused:  # process_request let it through; no rule matches
            async with connect(uri + "nowhere", additional_headers={"Authorization": "token"}):
                pytest.fail("an unknown path was accepted")
        assert refused.value.response.status_code == 404


@run_async(30)
async def test_a_plain_process_request_still_answers_plain_http_requests():
    """A function ``process_request`` (a health check) answers a request without Upgrade: the
    router's composition stays a plain function, since a deferred plain request cannot be answered."""
    def health(connection, request):
        return connection.respond(200, "OK\n") if request.path == "/healthz" else None

    async with route(url_map(), "127.0.0.1", 0, process_request=health) as server:
        for path, status in (("/healthz", b"200"), ("/nowhere", b"404"), ("/lobby", b"426")):
            reader, writer = await asyncio.open_connection("127.0.0.1", _port(server))
            writer.write(f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n".encode())
            assert (await reader.readline()).split()[1] == status, path
            writer.close()
        async with connect(f"ws://127.0.0.1:{_port(server)}/room/3") as websocket:
            assert await websocket.recv() == "room 3 int"


@run_async(30)
async def test_create_router_and_unix_route(tmp_path):
    class CountingRouter(Router):
        handled = 0

        async def handler(self, connection):
            CountingRouter.handled += 1
            return await super().handler(connection)

    path = str(tmp_path / "router.sock")
    async with unix_route(url_map(), path, create_router=CountingRouter):
        async with unix_connect(path, "ws://localhost/room/7") as websocket:
            assert await websocket.recv() == "room 7 int"
    assert CountingRouter.handled == 1


def test_the_blocking_router_dispatches_and_refuses():
    def echo_times(websocket, count):
        message = websocket.recv()
        for _ in range(count):
            websocket.send(message)

    routes = Map([Rule("/echo/<int:count>", endpoint=echo_times)])
    with sync_route(routes, "127.0.0.1", 0) as server:
        uri = f"ws://127.0.0.1:{server.port}"
        with sync_connect(uri + "/echo/3") as websocket:
            websocket.send("hi")
            assert [websocket.recv(timeout=10) for _ in range(3)] == ["hi", "hi", "hi"]
        with pytest.raises(InvalidStatus) as refused:
            with sync_connect(uri + "/echo/many"):
                pytest.fail("a path the converter refuses was accepted")
        assert refused.value.response.status_code == 404


def test_the_blocking_router_after_a_coroutine_process_request():
    """``basic_auth`` (a coroutine, accepted by the blocking server too) runs first, then the router."""
    def whoami(websocket):
        websocket.send(f"{websocket.username} {websocket.request.path}")

    routes = Map([Rule("/me", endpoint=whoami)])
    with sync_route(routes, "127.0.0.1", 0, process_request=basic_auth(credentials=("ann", "pw"))) as server:
        uri = f"ws://127.0.0.1:{server.port}"
        ann = {"Authorization": "Basic " + base64.b64encode(b"ann:pw").decode()}
        with pytest.raises(InvalidStatus) as refused:
            with sync_connect(uri + "/me"):
                pytest.fail("basic_auth's 401 was not sent")
        assert refused.value.response.status_code == 401
        with sync_connect(uri + "/me", additional_headers=ann) as websocket:
            assert websocket.recv(timeout=10) == "ann /me"
        with pytest.raises(InvalidStatus) as refused:
            with sync_connect(uri + "/you", additional_headers=ann):
                pytest.fail("an unknown path was accepted")
        assert refused.value.response.status_code == 404


def test_werkzeug_is_optional():
    """``import swiftws`` does not import werkzeug; without it, route() and unix_route() raise
    websockets' ImportError when called (importing the router modules still works)."""
    program = (
        "import sys\n"
        "import swiftws\n"
        "assert 'werkzeug' not in sys.modules, 'import swiftws imported werkzeug'\n"
        "sys.modules['werkzeug'] = None  # as if not installed\n"
        "from swiftws.asyncio.router import route, unix_route\n"
        "from swiftws.sync import router\n"
        "for function in (route, unix_route, router.route, router.unix_route):\n"
        "    try:\n"
        "        function(None)\n"
        "    except ImportError as error:\n"
        "        print(error)\n"
        "assert swiftws.route is route\n")
    env = dict(os.environ, PYTHONPATH=PACKAGE_ROOT)
    result = subprocess.run([sys.executable, "-c", program], env=env, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == ["route() requires werkzeug", "unix_route() requires werkzeug"] * 2
