"""The demo as a showcase (issue 17), driven through headless Chromium's DevTools protocol (over the
`websockets` package, no other dependency): two pages in one room see each other in the user list
and each other's messages (their own ones marked), the live panel updates every second, /metrics
parses as Prometheus text, the page shows "reconnecting" when the server goes away and comes back
when it returns, and the layout fits a phone (390x844) and a desktop window. Screenshots go to
$SWIFTWS_DEMO_SCREENSHOTS (docs/ to refresh docs/demo-desktop.png and docs/demo-phone.png), else to a
temporary directory. Run by scripts/test.sh; skipped without Chromium.

    SWIFTWS_DEMO=.build/debug/swiftws-demo .venv/bin/python -m pytest Tests/Demo -q
"""
import asyncio
import base64
import itertools
import json
import os
import re
import shutil
import subprocess
import tempfile
import time
import urllib.request

import pytest
import websockets

DEMO = os.environ.get("SWIFTWS_DEMO", ".build/debug/swiftws-demo")
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")

pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="chromium is not installed")


def launch_demo(port=0):
    server = subprocess.Popen([DEMO, "--port", str(port), "--seconds", "60"], stdout=subprocess.PIPE, text=True)
    line = server.stdout.readline()
    match = re.search(r"http://127\.0\.0\.1:(\d+)/", line)
    assert match, f"unexpected first line from swiftws-demo: {line!r}"
    return server, int(match.group(1))


def stop(server):
    if server.poll() is None:
        server.terminate()
    server.wait(timeout=10)


class Browser:
    """Headless Chromium and one DevTools connection; pages are flattened target sessions."""

    async def __aenter__(self):
        self.profile = tempfile.mkdtemp(prefix="swiftws-demo-chromium-")
        self.process = await asyncio.create_subprocess_exec(
            CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--remote-debugging-port=0",
            f"--user-data-dir={self.profile}", "--hide-scrollbars", "about:blank",
            stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE)
        while True:
            line = (await asyncio.wait_for(self.process.stderr.readline(), 30)).decode()
            assert line, "chromium exited before its DevTools endpoint was up"
            if match := re.search(r"DevTools listening on (ws://\S+)", line):
                break
        self.drain = asyncio.ensure_future(self._drain_stderr())
        self.socket = await websockets.connect(match.group(1), max_size=None)
        self.ids = itertools.count(1)
        self.waiting = {}
        self.reader = asyncio.ensure_future(self._read())
        return self

    async def __aexit__(self, *exc):
        self.reader.cancel()
        await self.socket.close()
        self.process.kill()
        await self.process.wait()
        self.drain.cancel()
        shutil.rmtree(self.profile, ignore_errors=True)

    async def _drain_stderr(self):
        while await self.process.stderr.readline():
            pass

    async def _read(self):
        async for raw in self.socket:
            message = json.loads(raw)
            future = self.waiting.pop(message.get("id"), None)
            if future and not future.done():
                future.set_result(message)

    async def call(self, method, session=None, **params):
        ident = next(self.ids)
        future = asyncio.get_running_loop().create_future()
        self.waiting[ident] = future
        request = {"id": ident, "method": method, "params": params}
        if session:
            request["sessionId"] = session
        await self.socket.send(json.dumps(request))
        reply = await asyncio.wait_for(future, 30)
        assert "error" not in reply, reply
        return reply["result"]

    async def page(self, url, width=1280, height=800, mobile=False):
        target = (await self.call("Target.createTarget", url="about:blank"))["targetId"]
        session = (await self.call("Target.attachToTarget", targetId=target, flatten=True))["sessionId"]
        page = Page(self, session)
        await self.call("Emulation.setDeviceMetricsOverride", session, width=width, height=height,
                        deviceScaleFactor=1, mobile=mobile)
        await self.call("Page.navigate", session, url=url)
        return page


class Page:
    def __init__(self, browser, session):
        self.browser, self.session = browser, session

    async def eval(self, expression):
        result = await self.browser.call("Runtime.evaluate", self.session, expression=expression, returnByValue=True)
        return result["result"].get("value")

    async def wait_for(self, expression, timeout=15):
        """Polls `expression` until it is truthy (no fixed sleeps: it returns as soon as it is)."""
        deadline = time.monotonic() + timeout
        while True:
            value = await self.eval(expression)
            if value:
                return value
            assert time.monotonic() < deadline, f"timed out waiting for {expression}"
            await asyncio.sleep(0.05)

    async def text(self, selector):
        return await self.eval(f"document.querySelector({json.dumps(selector)})?.textContent")

    async def say(self, text):
        await self.eval(f"document.getElementById('text').value = {json.dumps(text)};"
                        "document.getElementById('form').requestSubmit()")

    async def screenshot(self, path):
        data = await self.browser.call("Page.captureScreenshot", self.session, format="png")
        with open(path, "wb") as file:
            file.write(base64.b64decode(data["data"]))


USERS = "Array.from(document.querySelectorAll('#users li')).map(li => li.textContent)"


def screenshot_directory(tmp_path):
    directory = os.environ.get("SWIFTWS_DEMO_SCREENSHOTS") or str(tmp_path)
    os.makedirs(directory, exist_ok=True)
    return directory


def parse_prometheus(text):
    """Samples of a Prometheus text exposition: {(name, labels): value}; every line must parse."""
    samples = {}
    for line in text.splitlines():
        if not line or line.startswith("#"):
            assert not line or re.match(r"# (HELP|TYPE) [a-zA-Z_:][a-zA-Z0-9_:]* \S", line), line
            continue
        match = re.fullmatch(r'([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{([^}]*)\})? (\S+)', line)
        assert match, f"not a Prometheus sample: {line!r}"
        samples[(match.group(1), match.group(2) or "")] = float(match.group(3))
    return samples


def test_two_pages_presence_chat_live_panel_and_metrics(tmp_path):
    server, port = launch_demo()
    try:
        asyncio.run(two_pages(port, screenshot_directory(tmp_path)))
    finally:
        stop(server)


async def two_pages(port, shots):
    async with Browser() as browser:
        alice = await browser.page(f"http://127.0.0.1:{port}/#garden")
        await alice.wait_for("document.getElementById('status').textContent.startsWith('connected to room garden')")
        bob = await browser.page(f"http://127.0.0.1:{port}/#garden")
        # Each page sees both members, itself marked.
        assert await alice.wait_for(f"{USERS}.length === 2 && {USERS}") == ["guest1 (you)", "guest2"]
        assert await bob.wait_for(f"{USERS}.length === 2 && {USERS}") == ["guest1", "guest2 (you)"]
        await alice.wait_for("document.getElementById('log').textContent.includes('guest2 joined')")
        # A rename shows up in both lists; a message is marked as one's own only on the sender's page.
        await bob.say("/nick bob")
        assert await alice.wait_for(f"{USERS}.includes('bob') && {USERS}") == ["guest1 (you)", "bob"]
        await bob.wait_for(f"{USERS}.includes('bob (you)')")
        await bob.say("hello from bob")
        mine = "Array.from(document.querySelectorAll('#log p.mine')).map(p => p.textContent)"
        others = "Array.from(document.querySelectorAll('#log p:not(.mine):not(.system)')).map(p => p.textContent)"
        assert await bob.wait_for(f"{mine}.length && {mine}") == ["bob: hello from bob"]
        assert await alice.wait_for(f"{others}.length && {others}") == ["bob: hello from bob"]
        assert await alice.eval(f"{mine}.length") == 0
        # The live panel: numbers arrive, then change from one second to the next.
        await alice.wait_for("document.getElementById('m-connections').textContent === '2'")
        totals = await alice.text("#m-totals")
        await alice.wait_for(f"document.getElementById('m-totals').textContent !== {json.dumps(totals)}", timeout=5)
        assert await alice.eval("document.querySelector('#c-bytesOutPerSecond polyline').getAttribute('points')")
        # /metrics parses and agrees with what happened.
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as response:
            assert response.headers["Content-Type"].startswith("text/plain; version=0.0.4")
            samples = parse_prometheus(response.read().decode())
        assert samples[("swiftws_demo_connections", "")] == 2
        assert samples[("swiftws_demo_messages_total", 'direction="in"')] >= 2
        assert samples[("swiftws_demo_messages_total", 'direction="out"')] > 4
        assert samples[("swiftws_demo_bytes_total", 'direction="in"')] >= len("/nick bob") + len("hello from bob")
        assert samples[("swiftws_demo_bytes_total", 'direction="out"')] > 0
        assert samples[("swiftws_demo_dropped_messages_total", "")] == 0
        assert ("swiftws_demo_buffered_bytes", "") in samples
        # Moving to another room: each page's list shows only who is in its own room.
        await alice.say("/join pond side")
        assert await alice.wait_for(f"document.getElementById('room').textContent === 'pond side' && {USERS}.length === 1 && {USERS}") \
            == ["guest1 (you)"]
        assert await bob.wait_for(f"{USERS}.length === 1 && {USERS}") == ["bob (you)"]
        await bob.wait_for("document.getElementById('log').textContent.includes('guest1 left')")
        await alice.say("/join garden")
        await bob.wait_for(f"{USERS}.length === 2")
        assert await alice.wait_for(f"{USERS}.length === 2 && {USERS}") == ["bob", "guest1 (you)"]
        # The desktop screenshot, after a few more lines.
        await alice.say("hi bob, the panel on the right is live")
        await bob.wait_for("document.getElementById('log').textContent.includes('panel on the right')")
        await alice.wait_for("document.getElementById('panel').dataset.updates >= 4")
        await alice.screenshot(os.path.join(shots, "demo-desktop.png"))


def test_phone_layout_and_reconnecting_state(tmp_path):
    server, port = launch_demo()
    try:
        asyncio.run(phone(port, lambda: stop(server), lambda: launch_demo(port), screenshot_directory(tmp_path)))
    finally:
        stop(server)


async def phone(port, stop_server, start_server, shots):
    async with Browser() as browser:
        page = await browser.page(f"http://127.0.0.1:{port}/#garden", width=390, height=844, mobile=True)
        await page.wait_for("document.getElementById('status').textContent.startsWith('connected to room garden')")
        await page.wait_for(f"{USERS}.length === 1")
        # Nothing wider than the phone: no sideways scrolling.
        assert await page.eval("document.documentElement.scrollWidth") <= 390
        # The phone layout puts the user list and the live panel side by side above the log.
        assert await page.eval("getComputedStyle(document.querySelector('aside')).display") == "grid"
        await page.say("hello from a phone")
        await page.wait_for("!!document.querySelector('#log p.mine')")
        await page.wait_for("document.getElementById('panel').dataset.updates >= 3")
        await page.screenshot(os.path.join(shots, "demo-phone.png"))
        # The server goes away (close 1001): the page says it is reconnecting, then reconnects.
        stop_server()
        status = await page.wait_for("document.getElementById('status').className === 'reconnecting' && "
                                     "document.getElementById('status').textContent")
        assert status.startswith("reconnecting in ") and "1001" in status
        server, _ = start_server()
        try:
            await page.wait_for("document.getElementById('status').textContent.startsWith('connected to room garden')",
                                timeout=20)
            await page.wait_for(f"{USERS}.length === 1")
        finally:
            stop(server)
