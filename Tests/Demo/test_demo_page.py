"""The demo server with a real browser: headless Chromium loads the page swiftws-demo serves over
plain HTTP, opens a WebSocket to the same port (negotiating permessage-deflate), and shows what a
Python `websockets` client in the same room says; also over https + wss with a certificate made
by Tests/Peers/make_test_certs.sh (Chromium trusts the test CA through the NSS store of a
throw-away home directory, as a user would import a CA). Run by
scripts/test.sh; skipped without Chromium.

    SWIFTWS_DEMO=.build/debug/swiftws-demo .venv/bin/python -m pytest Tests/Demo -q
"""
import asyncio
import os
import re
import shutil
import ssl
import subprocess

import pytest
import websockets

DEMO = os.environ.get("SWIFTWS_DEMO", ".build/debug/swiftws-demo")
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")

pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="chromium is not installed")


def start_demo(*extra):
    """Starts swiftws-demo on a free port (it stops itself after 60 s at the latest)."""
    server = subprocess.Popen([DEMO, "--port", "0", "--seconds", "60", *extra], stdout=subprocess.PIPE, text=True)
    try:
        line = server.stdout.readline()
        match = re.search(r"https?://127\.0\.0\.1:(\d+)/", line)
        assert match, f"unexpected first line from swiftws-demo: {line!r}"
        yield int(match.group(1))
    finally:
        server.terminate()
        server.wait(timeout=10)


@pytest.fixture
def demo_port():
    yield from start_demo()


@pytest.fixture
def certificates(tmp_path):
    subprocess.run(["sh", os.path.join(os.path.dirname(__file__), "..", "Peers", "make_test_certs.sh"), str(tmp_path)],
                   check=True)
    return tmp_path


def home_trusting(ca_pem, home) -> dict:
    """An environment whose HOME has an NSS store (Chromium's trust store for user CAs on Linux)
    that trusts `ca_pem` to identify web sites, and nothing else added."""
    database = "sql:" + str(home / ".pki" / "nssdb")
    os.makedirs(home / ".pki" / "nssdb", exist_ok=True)
    subprocess.run(["certutil", "-N", "-d", database, "--empty-password"], check=True)
    subprocess.run(["certutil", "-A", "-d", database, "-t", "C,,", "-n", "SwiftWS Test CA", "-i", str(ca_pem)],
                   check=True)
    return dict(os.environ, HOME=str(home))


async def browser_and_python_chat(port: int, certificates=None) -> str:
    scheme, options, browser_environment = "", {}, None
    if certificates is not None:
        scheme = "s"
        options = {"ssl": ssl.create_default_context(cafile=str(certificates / "ca.pem"))}
        browser_environment = home_trusting(certificates / "ca.pem", certificates / "browser-home")
    async with websockets.connect(f"ws{scheme}://localhost:{port}/garden", **options) as python:
        assert (await python.recv()).startswith("* you are guest1 in room garden")
        browser = await asyncio.create_subprocess_exec(
            CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--virtual-time-budget=5000",
            "--dump-dom", f"http{scheme}://127.0.0.1:{port}/#garden", env=browser_environment,
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.DEVNULL)
        # The browser joins the room: tell it something once it is there.
        assert await asyncio.wait_for(python.recv(), 20) == "* guest2 joined"
        await python.send("hello, browser")
        assert await asyncio.wait_for(python.recv(), 5) == "guest1: hello, browser"
        dom, _ = await asyncio.wait_for(browser.communicate(), 30)
        return dom.decode()


def test_browser_loads_the_page_and_chats_over_websocket(demo_port):
    dom = asyncio.run(browser_and_python_chat(demo_port))
    status = re.search(r'<p id="status"[^>]*>(.*?)</p>', dom).group(1)
    log = re.sub(r"<[^>]+>", "", re.search(r'<div id="log">(.*?)</div>', dom, re.S).group(1))
    assert status.startswith("connected to room garden (permessage-deflate")
    assert "you are guest2 in room garden" in log
    assert "guest1: hello, browser" in log


def test_browser_over_https_and_wss(certificates):
    for port in start_demo("--tls-cert", str(certificates / "chain.pem"), "--tls-key", str(certificates / "server.key")):
        dom = asyncio.run(browser_and_python_chat(port, certificates))
        status = re.search(r'<p id="status"[^>]*>(.*?)</p>', dom).group(1)
        assert status.startswith("connected to room garden"), dom
        assert "guest1: hello, browser" in re.sub(r"<[^>]+>", "", dom)


def test_plain_http_on_the_same_port(demo_port):
    import urllib.request
    with urllib.request.urlopen(f"http://127.0.0.1:{demo_port}/health", timeout=5) as response:
        assert response.status == 200
        assert response.read().startswith(b"ok ")
    with pytest.raises(urllib.error.HTTPError) as error:
        urllib.request.urlopen(f"http://127.0.0.1:{demo_port}/nothing-here", timeout=5)
    assert error.value.code == 404
