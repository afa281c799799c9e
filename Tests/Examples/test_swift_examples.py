"""examples/swift and the README's Swift section, built and run against Python `websockets`
(issue 13): the echo server, the chat with rooms as topics, the client that streams a 100 MiB
message in fragments with bounded memory, and the README snippet, which must be the
ReadmeSnippet example verbatim.

The examples package is built once, from a path whose folder is not called "swiftws" (a symlink
to this checkout under another name): the dependency must not depend on the clone's folder name.
Every process is bounded in time and stopped; everything runs on 127.0.0.1 / localhost."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import os
import re
import select
import shutil
import signal
import subprocess
import tempfile
import urllib.request
from pathlib import Path

import pytest
import websockets
from websockets.asyncio.client import connect
from websockets.asyncio.server import serve

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples" / "swift"
SCRATCH = ROOT / "build" / "examples-swift"


@pytest.fixture(scope="module")
def binaries() -> Path:
    # A stable path per checkout (outside it: no symlink loop in the tree), so that the
    # incremental build in SCRATCH stays valid from one run to the next.
    stable = hashlib.sha1(str(ROOT).encode()).hexdigest()[:12]
    clone = Path(tempfile.gettempdir()) / f"swiftws-examples-{stable}" / "a-checkout-named-anything"
    if not clone.is_symlink():
        clone.parent.mkdir(parents=True, exist_ok=True)
        clone.symlink_to(ROOT)
    # SwiftPM keeps a path dependency's list of source files from the last build: a file added
    # or removed in the library since then breaks the incremental build. Start over then.
    listing = "\n".join(sorted(str(path.relative_to(ROOT)) for path in (ROOT / "Sources").rglob("*.swift")))
    stamp = SCRATCH / "sources-listing.txt"
    if SCRATCH.exists() and (not stamp.exists() or stamp.read_text() != listing):
        shutil.rmtree(SCRATCH)
    subprocess.run(
        ["swift", "build", "--package-path", str(clone / "examples" / "swift"), "--scratch-path", str(SCRATCH)],
        check=True, timeout=1200,
    )
    stamp.write_text(listing)
    return SCRATCH / "debug"


class Running:
    """An example server started with port 0; `port` comes from the line it prints."""

    def __init__(self, binary: Path):
        # Line-buffered: Swift's print is fully buffered into a pipe.
        self.process = subprocess.Popen(["stdbuf", "-oL", str(binary), "0"], stdout=subprocess.PIPE, text=True)
        ready, _, _ = select.select([self.process.stdout], [], [], 60)
        if not ready:
            self.kill()
            pytest.fail(f"{binary.name} printed nothing in 60 s")
        line = self.process.stdout.readline()
        match = re.search(r"listening on port (\d+)", line)
        assert match, f"unexpected first line: {line!r}"
        self.port = int(match.group(1))

    def stop(self) -> str:
        """SIGTERM (graceful shutdown); returns the rest of its output."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        rest, _ = self.process.communicate(timeout=20)
        return rest

    def kill(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=10)


def run(coroutine, seconds: float = 60):
    return asyncio.run(asyncio.wait_for(coroutine, seconds))


def swift_blocks(markdown: str, heading: str) -> list[str]:
    section = markdown.split(f"\n## {heading}\n", 1)[1].split("\n## ", 1)[0]
    return re.findall(r"```swift\n(.*?)```", section, re.S)


def test_readme_snippet_is_the_example_and_runs_verbatim(binaries):
    readme = (ROOT / "README.md").read_text()
    blocks = swift_blocks(readme, "Swift")
    package_block, snippet = blocks[0], blocks[1]
    assert snippet == (EXAMPLES / "Sources" / "ReadmeSnippet" / "main.swift").read_text()
    # The README's Package.swift lines are the ones the examples package builds with.
    package_swift = (EXAMPLES / "Package.swift").read_text()
    for needle in ('.package(name: "SwiftWS", path:', '.product(name: "SwiftWS", package: "SwiftWS")'):
        assert needle in package_block and needle in package_swift
    result = subprocess.run([str(binaries / "ReadmeSnippet")], capture_output=True, text=True, timeout=30)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0] == 'received: text("hello")'
    assert re.fullmatch(r"ping: [0-9.e-]+ seconds", lines[1])
    assert lines[2] == "closed: 1000"


def test_echo_server_against_websockets(binaries):
    server = Running(binaries / "EchoServer")
    try:
        async def talk():
            async with connect(f"ws://localhost:{server.port}/", max_size=None) as ws:
                for message in ["hello", "é" * 1000, b"\x00\xff" * 70000, b""]:
                    await ws.send(message)
                    assert await ws.recv() == message
                # A plain HTTP request on the same port gets the example's answer.
                page = await asyncio.to_thread(
                    lambda: urllib.request.urlopen(f"http://127.0.0.1:{server.port}/", timeout=10).read())
                assert page.startswith(b"echo server")
                # SIGTERM: graceful shutdown, this connection is closed with 1001.
                server.process.send_signal(signal.SIGTERM)
                with pytest.raises(websockets.ConnectionClosedOK):
                    await ws.recv()
                assert ws.close_code == 1001
        run(talk())
        assert "echo server stopped" in server.stop()
        assert server.process.returncode == 0
    finally:
        server.kill()


def test_chat_server_rooms_are_topics(binaries):
    server = Running(binaries / "ChatServer")
    try:
        async def talk():
            base = f"ws://localhost:{server.port}"
            async with contextlib.AsyncExitStack() as stack:
                names = {}
                members = []
                # One at a time: the welcome comes after the subscription, so each member is in
                # its room before the next one joins (and announces itself).
                for room in ("a", "a", "b"):
                    ws = await stack.enter_async_context(connect(f"{base}/{room}"))
                    welcome = await ws.recv()
                    match = re.fullmatch(rf"\* you are (guest\d+) in {room}", welcome)
                    assert match, welcome
                    names[ws] = match.group(1)
                    members.append(ws)
                a1, a2, b = members
                assert await a1.recv() == f"* {names[a2]} joined"
                await a1.send("hi")
                assert await a2.recv() == f"{names[a1]}: hi"
                # b is in another room: the next thing it gets is the answer to its own /join.
                await b.send("/join a")
                assert await b.recv() == "* you are in a"
                await b.send("here")
                assert await a1.recv() == f"{names[b]}: here"
                assert await a2.recv() == f"{names[b]}: here"
                await b.close()
                assert await a1.recv() == f"* {names[b]} left"
            # The async upgrade hook refuses paths that are not a room.
            with pytest.raises(websockets.InvalidStatus) as refused:
                async with connect(f"{base}/a/b"):
                    pass
            assert refused.value.response.status_code == 404
        run(talk())
        assert "chat server stopped" in server.stop()
    finally:
        server.kill()


def test_stream_client_sends_100_mib_in_fragments_with_bounded_memory(binaries):
    """A `websockets` server takes the message frame by frame (recv_streaming), checks every
    byte against the client's pattern and answers with the count; the client prints its peak
    memory, which must stay far below the message's 100 MiB."""
    pattern = bytes(i % 251 for i in range(251)) * 300

    async def handler(ws):
        total, intact = 0, True
        async for chunk in ws.recv_streaming():
            for start in range(0, len(chunk), 65536):
                piece = chunk[start:start + 65536]
                offset = (total + start) % 251
                intact = intact and piece == pattern[offset:offset + len(piece)]
            total += len(chunk)
        await ws.send(f"{total} {'intact' if intact else 'corrupt'}")
        await ws.wait_closed()

    async def main():
        async with serve(handler, "127.0.0.1", 0, max_size=None) as peer:
            port = peer.sockets[0].getsockname()[1]
            process = await asyncio.create_subprocess_exec(
                str(binaries / "StreamClient"), f"ws://127.0.0.1:{port}/", "100", stdout=asyncio.subprocess.PIPE)
            try:
                out, _ = await asyncio.wait_for(process.communicate(), 120)
            finally:
                if process.returncode is None:
                    process.kill()
                    await process.wait()
            return process.returncode, out.decode()

    code, out = run(main(), 150)
    assert code == 0, out
    assert 'peer: text("104857600 intact")' in out
    peak = int(re.search(r"peak memory: (\d+) MiB", out).group(1))
    assert peak < 64, out
