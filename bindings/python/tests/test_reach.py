"""Reach (issue 14) from Python, end to end over loopback and Unix sockets: real proxies started
here (tinyproxy for HTTP CONNECT with and without Basic authentication, microsocks for SOCKS5 with
and without username/password), a refusing proxy of each kind, the proxy from the environment;
redirect chains from a websockets server, a redirect loop stopped at the limit, no wss -> ws
downgrade; Unix sockets (paths and abstract names) and adopted sockets in both roles against
websockets peers; reconnection with websockets' backoff after the server process is killed and
restarted, without losing a message sent after the reconnection.

Each proxy runs as a child process on a free loopback port, waited for by connecting to it
(bounded), and is killed when its test ends."""

from __future__ import annotations

import asyncio
import contextlib
import http
import os
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import time

import pytest
from websockets.asyncio.client import connect as ws_connect
from websockets.asyncio.client import unix_connect as ws_unix_connect
from websockets.asyncio.server import serve as ws_serve
from websockets.asyncio.server import unix_serve as ws_unix_serve

from swiftws.asyncio.client import connect, unix_connect
from swiftws.asyncio.server import serve, unix_serve
from swiftws.exceptions import ConnectionClosed, InvalidProxyStatus, InvalidStatus, ProxyError, SecurityError
from swiftws.tls import SSLContext

from conftest import REPO_ROOT
from helpers import echo, run_async

needs_tinyproxy = pytest.mark.skipif(shutil.which("tinyproxy") is None, reason="tinyproxy not installed "
                                     "(scripts/install-deps.sh installs it)")
needs_microsocks = pytest.mark.skipif(shutil.which("microsocks") is None, reason="microsocks not installed "
                                      "(scripts/install-deps.sh installs it)")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def wait_for_port(port: int, process: subprocess.Popen, timeout: float = 10) -> None:
    """Returns once something accepts on 127.0.0.1:`port`; fails if `process` exits first."""
    deadline = time.monotonic() + timeout
    while True:
        assert process.poll() is None, f"proxy exited with {process.returncode}"
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            if time.monotonic() > deadline:
                raise AssertionError(f"nothing listens on port {port} after {timeout} s")
            time.sleep(0.02)


@contextlib.contextmanager
def child(arguments: list, port: int):
    process = subprocess.Popen(arguments, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_for_port(port, process)
        yield port
    finally:
        process.kill()
        process.wait(timeout=10)


@contextlib.contextmanager
def tinyproxy(tmp_path, auth: tuple | None = None, connect_ports: tuple = ()):
    """tinyproxy on a free loopback port: `auth` (user, password) for Basic authentication,
    `connect_ports` to allow CONNECT to those ports only (a refusing proxy for the others)."""
    port = free_port()
    lines = [f"Port {port}", "Listen 127.0.0.1", "Timeout 30", "MaxClients 20", "Allow 127.0.0.1",
             "LogLevel Critical", f"LogFile \"{tmp_path}/tinyproxy.log\""]
    if os.geteuid() == 0:
        lines += ["User nobody", "Group nogroup"]
    if auth:
        lines.append(f"BasicAuth {auth[0]} {auth[1]}")
    lines += [f"ConnectPort {p}" for p in connect_ports]
    config = tmp_path / f"tinyproxy-{port}.conf"
    config.write_text("\n".join(lines) + "\n")
    os.chmod(tmp_path, 0o777)
    with child(["tinyproxy", "-d", "-c", str(config)], port):
        yield f"127.0.0.1:{port}"


@contextlib.contextmanager
def microsocks(auth: tuple | None = None):
    port = free_port()
    arguments = ["microsocks", "-i", "127.0.0.1", "-p", str(port)]
    if auth:
        arguments += ["-u", auth[0], "-P", auth[1]]
    with child(arguments, port):
        yield f"127.0.0.1:{port}"


def _port(server) -> int:
    return server.sockets[0].getsockname()[1]


async def roundtrip(ws, text="through") -> None:
    await ws.send(text)
    assert await ws.recv() == text


# -- proxies ------------------------------------------------------------------------------------


@needs_tinyproxy
@run_async(30)
async def test_http_connect_proxy_with_and_without_basic_auth(tmp_path):
    async with serve(echo, "127.0.0.1", 0) as server:
        target = f"ws://127.0.0.1:{server.port}/"
        with tinyproxy(tmp_path) as proxy:
            async with connect(target, proxy=f"http://{proxy}") as ws:
                await roundtrip(ws)
        with tinyproxy(tmp_path, auth=("alice", "s3cret")) as proxy:
            async with connect(target, proxy=f"http://alice:s3cret@{proxy}") as ws:
                await roundtrip(ws)
            with pytest.raises(InvalidProxyStatus, match=f"proxy http://{proxy}: requires authentication") as caught:
                await connect(target, proxy=f"http://{proxy}")
            assert caught.value.response.status_code == 407
            with pytest.raises(InvalidProxyStatus, match="refused the credentials"):
                await connect(target, proxy=f"http://alice:wrong@{proxy}")


@needs_tinyproxy
@run_async(30)
async def test_refusing_http_proxy_is_named_in_the_error(tmp_path):
    async with serve(echo, "127.0.0.1", 0) as server:
        with tinyproxy(tmp_path, connect_ports=(443,)) as proxy:
            with pytest.raises(InvalidProxyStatus, match=rf"proxy http://{proxy}: refused CONNECT to 127.0.0.1:{server.port}: 403"):
                await connect(f"ws://127.0.0.1:{server.port}/", proxy=f"http://{proxy}")


@needs_microsocks
@pytest.mark.parametrize("scheme", ["socks5", "socks5h"])
@run_async(30)
async def test_socks5_proxy_with_and_without_password(scheme):
    async with serve(echo, "127.0.0.1", 0) as server:
        target = f"ws://localhost:{server.port}/"  # a name: the proxy resolves it
        with microsocks() as proxy:
            async with connect(target, proxy=f"{scheme}://{proxy}") as ws:
                await roundtrip(ws)
        with microsocks(auth=("bob", "pa:ss")) as proxy:
            async with connect(target, proxy=f"{scheme}://bob:pa%3Ass@{proxy}") as ws:
                await roundtrip(ws)
            with pytest.raises(ProxyError, match=f"proxy {scheme.rstrip('h')}://{proxy}: requires authentication"):
                await connect(target, proxy=f"{scheme}://{proxy}")
            with pytest.raises(ProxyError, match="refused the credentials"):
                await connect(target, proxy=f"{scheme}://bob:nope@{proxy}")


@needs_microsocks
@run_async(30)
async def test_refusing_socks_proxy_says_why():
    port = free_port()  # nothing listens there
    with microsocks() as proxy:
        with pytest.raises(ProxyError, match=rf"proxy socks5://{proxy}: refused CONNECT to 127.0.0.1:{port}: "):
            await connect(f"ws://127.0.0.1:{port}/", proxy=f"socks5://{proxy}")


@run_async(30)
async def test_unreachable_proxy_is_named():
    port = free_port()
    with pytest.raises(ProxyError, match=rf"proxy http://127.0.0.1:{port}: connect to 127.0.0.1:{port}: Connection refused"):
        await connect("ws://127.0.0.1:9/", proxy=f"http://127.0.0.1:{port}")


@needs_tinyproxy
@run_async(30)
async def test_proxy_from_the_environment_by_default(tmp_path, monkeypatch):
    # A proxy that refuses every CONNECT but to port 443 proves it was used.
    with tinyproxy(tmp_path, connect_ports=(443,)) as proxy:
        monkeypatch.setenv("https_proxy", f"http://{proxy}")
        target = "ws://reach.invalid:8080/"  # not loopback: the environment's proxy applies
        with pytest.raises(InvalidProxyStatus, match=f"proxy http://{proxy}: refused CONNECT to reach.invalid:8080: 403"):
            await connect(target)
        monkeypatch.setenv("no_proxy", ".invalid")
        with pytest.raises(OSError):  # exempt: straight to a name that does not resolve
            await connect(target)
        monkeypatch.delenv("no_proxy")
        with pytest.raises(OSError):  # explicitly direct
            await connect(target, proxy=None)
        async with serve(echo, "127.0.0.1", 0) as server:  # loopback never goes through it
            async with connect(f"ws://127.0.0.1:{server.port}/") as ws:
                await roundtrip(ws)


@needs_tinyproxy
@run_async(60)
async def test_wss_through_an_http_proxy(tmp_path):
    certs = tmp_path / "certs"
    certs.mkdir()
    subprocess.run(["sh", os.path.join(REPO_ROOT, "Tests", "Peers", "make_test_certs.sh"), str(certs)], check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    server_context = SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server_context.load_cert_chain(str(certs / "chain.pem"), str(certs / "server.key"))
    client_context = ssl.create_default_context(cafile=str(certs / "ca.pem"))
    async with serve(echo, "127.0.0.1", 0, ssl=server_context) as server:
        with tinyproxy(tmp_path) as proxy:
            async with connect(f"wss://localhost:{server.port}/", ssl=client_context, proxy=f"http://{proxy}") as ws:
                await roundtrip(ws)


# -- redirects ----------------------------------------------------------------------------------


def redirecting(routes: dict):
    """A websockets process_request answering `routes` {path: (status, location)}."""
    def process_request(connection, request):
        if request.path in routes:
            status, location = routes[request.path]
            response = connection.respond(http.HTTPStatus(status), "moved\n")
            response.headers["Location"] = location
            return response
        return None
    return process_request


@pytest.mark.parametrize("status", [301, 302, 303, 307, 308])
@run_async(30)
async def test_redirect_chain_is_followed(status):
    async with serve(echo, "127.0.0.1", 0) as final:
        routes = {"/a": (status, "/b"), "/b": (status, "b2"),  # absolute path, then relative
                  "/b2": (status, f"ws://127.0.0.1:{final.port}/end")}
        async with ws_serve(echo, "127.0.0.1", 0, process_request=redirecting(routes)) as hops:
            async with connect(f"ws://127.0.0.1:{_port(hops)}/a") as ws:
                await roundtrip(ws)
                assert ws.request.path == "/end" if hasattr(ws, "request") and ws.request else True


@run_async(30)
async def test_redirect_loop_stops_at_the_limit_and_zero_follows_none():
    routes = {"/loop": (302, "/loop")}
    async with ws_serve(echo, "127.0.0.1", 0, process_request=redirecting(routes)) as hops:
        uri = f"ws://127.0.0.1:{_port(hops)}/loop"
        with pytest.raises(SecurityError, match="more than 10 redirects") as caught:
            await connect(uri)
        assert caught.value.response.status_code == 302
        with pytest.raises(SecurityError, match="more than 3 redirects"):
            await connect(uri, max_redirects=3)
        with pytest.raises(InvalidStatus, match="HTTP 302"):
            await connect(uri, max_redirects=0)


@run_async(60)
async def test_no_downgrade_from_wss_to_ws(tmp_path):
    certs = tmp_path / "certs"
    certs.mkdir()
    subprocess.run(["sh", os.path.join(REPO_ROOT, "Tests", "Peers", "make_test_certs.sh"), str(certs)], check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    server_context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server_context.load_cert_chain(str(certs / "chain.pem"), str(certs / "server.key"))
    client_context = ssl.create_default_context(cafile=str(certs / "ca.pem"))
    async with serve(echo, "127.0.0.1", 0) as plain:
        routes = {"/": (302, f"ws://127.0.0.1:{plain.port}/")}
        async with ws_serve(echo, "127.0.0.1", 0, ssl=server_context, process_request=redirecting(routes)) as secure:
            with pytest.raises(SecurityError, match="cannot follow redirect to non-secure URI ws://"):
                await connect(f"wss://localhost:{_port(secure)}/", ssl=client_context)


# -- Unix sockets and adopted sockets ---------------------------------------------------------


@pytest.mark.parametrize("abstract", [False, True], ids=["path", "abstract"])
@run_async(30)
async def test_unix_sockets_both_ways_against_websockets(tmp_path, abstract):
    path = f"@swiftws-reach-{os.getpid()}" if abstract else str(tmp_path / "ws.sock")
    async with unix_serve(echo, path) as server:
        # Real sockets, as asyncio gives them: an abstract name starts with a NUL byte.
        expected = ("\0" + path[1:]).encode() if abstract else path
        assert server.sockets[0].getsockname() == expected
        if not abstract:
            assert os.path.exists(path)
        async with unix_connect(path) as ws:
            await roundtrip(ws)
        # websockets names abstract sockets with a leading NUL.
        async with ws_unix_connect(path.replace("@", "\0", 1)) as ws:
            await roundtrip(ws, "from websockets")
    if not abstract:
        assert not os.path.exists(path)
    async with ws_unix_serve(echo, path.replace("@", "\0", 1)):
        async with unix_connect(path, "ws://localhost/chat") as ws:
            await roundtrip(ws)


@run_async(30)
async def test_adopted_sockets_both_roles():
    # Client: a socket connected by the caller.
    async with ws_serve(echo, "127.0.0.1", 0) as server:
        with socket.create_connection(("127.0.0.1", _port(server))) as sock:
            async with connect("ws://127.0.0.1/", sock=sock) as ws:
                await roundtrip(ws)
    # Server: a listening socket made by the caller (socket activation does this).
    listening = socket.socket()
    listening.bind(("127.0.0.1", 0))
    listening.listen()
    with listening:
        async with serve(echo, sock=listening) as server:
            assert server.port == listening.getsockname()[1]
            async with ws_connect(f"ws://127.0.0.1:{server.port}/") as ws:
                await roundtrip(ws)
    # A socket that is not a connection is refused clearly.
    with socket.socket() as unconnected:
        with pytest.raises(ValueError, match="not a connected stream socket"):
            await connect("ws://127.0.0.1/", sock=unconnected)


# -- reconnection -------------------------------------------------------------------------------

SERVER_SCRIPT = """
import asyncio, sys
sys.path.insert(0, sys.argv[2])
from swiftws.asyncio.server import serve
async def echo(ws):
    async for message in ws:
        await ws.send(message)
async def main():
    async with serve(echo, "127.0.0.1", int(sys.argv[1])):
        print("ready", flush=True)
        await asyncio.Future()
asyncio.run(main())
"""


def start_server_process(port: int) -> subprocess.Popen:
    process = subprocess.Popen([sys.executable, "-c", SERVER_SCRIPT, str(port), os.path.join(REPO_ROOT, "bindings", "python")],
                               stdout=subprocess.PIPE, text=True, env=dict(os.environ))
    assert process.stdout.readline().strip() == "ready"
    return process


@run_async(60)
async def test_reconnects_with_backoff_after_the_server_is_killed(monkeypatch):
    # websockets' knobs, shortened: first delay random in [0, 0.2), then 0.3, 0.6, 1.2 (max).
    monkeypatch.setenv("WEBSOCKETS_BACKOFF_INITIAL_DELAY", "0.2")
    monkeypatch.setenv("WEBSOCKETS_BACKOFF_MIN_DELAY", "0.3")
    monkeypatch.setenv("WEBSOCKETS_BACKOFF_FACTOR", "2")
    monkeypatch.setenv("WEBSOCKETS_BACKOFF_MAX_DELAY", "1.2")
    port = free_port()
    server = start_server_process(port)
    failures: list = []
    loop = asyncio.get_running_loop()

    def process_exception(exc):
        failures.append(loop.time())
        if len(failures) == 4:  # restart after the fourth refusal
            nonlocal server
            server = start_server_process(port)
        from swiftws.asyncio._reconnect import process_exception as default
        return default(exc)

    connections = 0
    received: list = []
    try:
        async for ws in connect(f"ws://127.0.0.1:{port}/", process_exception=process_exception):
            connections += 1
            if connections == 1:
                await roundtrip(ws, "before")
                server.send_signal(signal.SIGKILL)
                server.wait(timeout=10)
                with pytest.raises(ConnectionClosed):
                    await ws.recv()
                continue
            for index in range(50):
                await ws.send(f"after {index}")
            for _ in range(50):
                received.append(await ws.recv())
            break
    finally:
        server.kill()
        server.wait(timeout=10)
    assert connections == 2
    assert received == [f"after {index}" for index in range(50)]
    assert len(failures) == 4
    gaps = [later - earlier for earlier, later in zip(failures, failures[1:])]
    # After the first failure: the random delay (< 0.2 s), then 0.3 and 0.6 s, each plus the
    # time a refused connect takes (small on loopback).
    assert gaps[0] < 0.2 + 0.5
    assert 0.3 <= gaps[1] < 0.3 + 0.5
    assert 0.6 <= gaps[2] < 0.6 + 0.5


@run_async(30)
async def test_fatal_errors_are_not_retried():
    routes = {"/": (403, "/")}

    def forbidden(connection, request):
        return connection.respond(http.HTTPStatus.FORBIDDEN, "no\n")

    async with ws_serve(echo, "127.0.0.1", 0, process_request=forbidden) as server:
        attempts = 0
        with pytest.raises(InvalidStatus, match="HTTP 403"):
            async for ws in connect(f"ws://127.0.0.1:{_port(server)}/"):
                attempts += 1
        assert attempts == 0
    assert routes
