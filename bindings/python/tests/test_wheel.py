"""The installed wheel runs without the Swift toolchain (issue 12): scripts/test.sh builds it with
``pip wheel ./bindings/python``, installs it in a fresh venv and runs this file there with no
``swift`` on PATH (SWIFTWS_TEST_INSTALLED=1). The library in the package must need nothing of the
toolchain (the Swift runtime is linked in statically), and an echo must work both ways against
``websockets``. Skipped when testing the source tree."""

from __future__ import annotations

import os
import shutil
import subprocess

import pytest
from websockets.asyncio.client import connect as ws_connect
from websockets.asyncio.server import serve as ws_serve

from conftest import INSTALLED
from helpers import echo, run_async

pytestmark = pytest.mark.skipif(not INSTALLED, reason="tests the installed wheel (scripts/test.sh)")


def test_the_environment_has_no_swift_toolchain():
    # The harness's part: if this fails, the run below proves nothing.
    assert shutil.which("swift") is None
    assert shutil.which("swiftc") is None


def test_the_library_needs_nothing_from_the_toolchain():
    import swiftws
    assert swiftws.library_path == os.path.join(os.path.dirname(swiftws.__file__), "lib", "libswiftws.so")
    if shutil.which("readelf"):
        dynamic = subprocess.run(["readelf", "-d", swiftws.library_path], capture_output=True, text=True,
                                 check=True).stdout
        needed = [line.split("[")[-1].rstrip("]") for line in dynamic.splitlines() if "(NEEDED)" in line]
        assert "libc.so.6" in needed  # the listing was read
        assert not [name for name in needed if name.startswith(("libswift", "libFoundation", "libdispatch",
                                                                 "libBlocksRuntime"))], needed
    # What is mapped in this process: no file of a Swift toolchain or runtime.
    with open("/proc/self/maps") as maps:
        mapped = {line.split()[-1] for line in maps if "/" in line}
    assert not [path for path in mapped if "swift" in os.path.basename(path).lower()
                and os.path.basename(path) != "libswiftws.so"]


@run_async(30)
async def test_an_echo_against_websockets_both_ways():
    from swiftws.asyncio.client import connect
    from swiftws.asyncio.server import serve

    async with ws_serve(echo, "127.0.0.1", 0) as peer:
        port = next(iter(peer.sockets)).getsockname()[1]
        async with connect(f"ws://127.0.0.1:{port}/") as ws:
            await ws.send("hello")
            assert await ws.recv() == "hello"
            await ws.send(b"\x00" * 100_000)
            assert await ws.recv() == b"\x00" * 100_000
    async with serve(echo, "127.0.0.1", 0) as server:
        port = next(iter(server.sockets)).getsockname()[1]
        async with ws_connect(f"ws://127.0.0.1:{port}/") as ws:
            await ws.send("hello")
            assert await ws.recv() == "hello"
