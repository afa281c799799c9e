"""The websockets documentation examples under examples/python run on swiftws unchanged but
for the import line: each server is started as its own process and driven by websockets clients;
the client examples talk to the echo server example."""

from __future__ import annotations

import asyncio
import json
import os
import socket
import subprocess
import sys
import time
import urllib.request

import pytest
from websockets.asyncio.client import connect as ws_connect

from conftest import INSTALLED, PACKAGE_ROOT, REPO_ROOT

EXAMPLES = os.path.join(REPO_ROOT, "examples", "python")


def _env():
    env = dict(os.environ)
    if not INSTALLED:
        env["PYTHONPATH"] = PACKAGE_ROOT + os.pathsep + env.get("PYTHONPATH", "")
    return env


def _port_busy(port: int) -> bool:
    with socket.socket() as probe:
        return probe.connect_ex(("127.0.0.1", port)) == 0


class Example:
    """A server example running in a subprocess, stopped at the end."""

    def __init__(self, name: str, port: int) -> None:
        if _port_busy(port):
            pytest.skip(f"port {port} is in use by another program")
        self.process = subprocess.Popen([sys.executable, os.path.join(EXAMPLES, name)], env=_env(),
                                        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        deadline = time.monotonic() + 20
        while not _port_busy(port):
            if self.process.poll() is not None or time.monotonic() > deadline:
                self.stop()
                pytest.fail(f"{name} did not start: {self.process.stderr.read()}")
            time.sleep(0.05)

    def stop(self) -> str:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(5)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        return self.process.stderr.read() if self.process.stderr else ""

    def __enter__(self) -> "Example":
        return self

    def __exit__(self, *exc) -> None:
        self.stop()


def _run_client(name: str) -> str:
    result = subprocess.run([sys.executable, os.path.join(EXAMPLES, name)], env=_env(), capture_output=True,
                            text=True, timeout=30)
    assert result.returncode == 0, result.stderr
    return result.stdout


def test_echo_server_and_both_client_examples():
    with Example("echo_server.py", 8765):
        assert _run_client("hello_client_sync.py") == "Received: Hello world!\n"
        assert _run_client("hello_client_asyncio.py") == "Hello world!\n"

        async def websockets_client():
            async with ws_connect("ws://localhost:8765") as ws:
                await ws.send(b"\x00bin")
                return await ws.recv()
        assert asyncio.run(websockets_client()) == b"\x00bin"


def test_show_time_broadcasts_to_every_client():
    with Example("show_time.py", 5678):
        async def two_clients():
            async with ws_connect("ws://localhost:5678") as first, ws_connect("ws://localhost:5678") as second:
                return await asyncio.wait_for(asyncio.gather(first.recv(), second.recv()), 10)
        messages = asyncio.run(two_clients())
        for message in messages:
            assert message.endswith("Z") and "T" in message


def test_counter_synchronizes_state_between_clients():
    with Example("counter.py", 6789):
        async def scenario():
            async with ws_connect("ws://localhost:6789") as alice:
                assert json.loads(await alice.recv()) == {"type": "users", "count": 1}
                assert json.loads(await alice.recv()) == {"type": "value", "value": 0}
                async with ws_connect("ws://localhost:6789") as bob:
                    assert json.loads(await alice.recv()) == {"type": "users", "count": 2}
                    assert json.loads(await bob.recv()) == {"type": "users", "count": 2}
                    assert json.loads(await bob.recv()) == {"type": "value", "value": 0}
                    await bob.send(json.dumps({"action": "plus"}))
                    assert json.loads(await alice.recv()) == {"type": "value", "value": 1}
                    assert json.loads(await bob.recv()) == {"type": "value", "value": 1}
                assert json.loads(await alice.recv()) == {"type": "users", "count": 1}
        asyncio.run(asyncio.wait_for(scenario(), 20))


def test_health_check_answers_http_and_websocket_on_one_port():
    with Example("health_check.py", 8080):
        with urllib.request.urlopen("http://127.0.0.1:8080/healthz", timeout=5) as response:
            assert response.status == 200 and response.read() == b"OK\n"

        async def websockets_client():
            async with ws_connect("ws://localhost:8080/") as ws:
                await ws.send("still a WebSocket server")
                return await ws.recv()
        assert asyncio.run(websockets_client()) == "still a WebSocket server"
