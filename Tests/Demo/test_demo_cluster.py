"""Two demo nodes joined through one redis-server (issue 15): `swiftws-demo --loops 2 --redis URL`
twice, on two ports, with a redis-server this test starts on a free loopback port and stops.

- 100 plain-text clients on each node in one room; five publishers on each node: every client gets
  every chat line exactly once, in each publisher's order, whichever node it came from.
- Redis is killed mid-test: each node still delivers its own members' lines to its own members
  (at-most-once across nodes: nothing is queued); Redis restarts on the same port, the bridges
  reconnect and resubscribe by themselves, and lines cross again, once.
- Headless Chromium: a page on each node, each showing its node, see each other's messages.

    SWIFTWS_DEMO=.build/debug/swiftws-demo .venv/bin/python -m pytest Tests/Demo/test_demo_cluster.py -q
"""
import asyncio
import os
import re
import shutil
import socket
import subprocess
import time
import urllib.request

import pytest
import websockets

from test_demo_showcase import Browser, parse_prometheus, DEMO, CHROMIUM

REDIS = shutil.which("redis-server")
pytestmark = pytest.mark.skipif(REDIS is None, reason="redis-server is not installed (scripts/install-deps.sh)")

PER_NODE = 100
PUBLISHERS = 5
LINES = 10


def free_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class Redis:
    """A redis-server on 127.0.0.1:port, in memory only; `kill` is a crash (SIGKILL)."""

    def __init__(self, port):
        self.port, self.process = port, None

    def start(self):
        self.process = subprocess.Popen([REDIS, "--bind", "127.0.0.1", "--port", str(self.port), "--save", "",
                                         "--appendonly", "no"], stdout=subprocess.PIPE, text=True)
        deadline = time.monotonic() + 20
        for line in self.process.stdout:
            if "Ready to accept connections" in line:
                return
            assert time.monotonic() < deadline, "redis-server did not start"
        raise AssertionError("redis-server exited")

    def kill(self):
        if self.process and self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=10)


def launch_node(name, redis_port):
    node = subprocess.Popen([DEMO, "--port", "0", "--loops", "2", "--redis", f"redis://127.0.0.1:{redis_port}",
                             "--node", name, "--seconds", "120"], stdout=subprocess.PIPE, text=True)
    line = node.stdout.readline()
    match = re.search(r"http://127\.0\.0\.1:(\d+)/", line)
    assert match, f"unexpected first line from swiftws-demo: {line!r}"
    assert "node " + name in line and "2 loops" in line, line
    return node, int(match.group(1))


def stop(process):
    if process.poll() is None:
        process.terminate()
    process.wait(timeout=10)


def metrics(port):
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as response:
        return parse_prometheus(response.read().decode())


@pytest.fixture
def cluster():
    redis = Redis(free_port())
    redis.start()
    nodes = []
    try:
        nodes = [launch_node("A", redis.port), launch_node("B", redis.port)]
        yield redis, [port for _, port in nodes]
    finally:
        for node, _ in nodes:
            stop(node)
        redis.kill()


class Member:
    """A plain-text client: its name, and every chat line it received."""

    def __init__(self, ws):
        self.ws, self.lines, self.name = ws, [], None
        self.reader = asyncio.ensure_future(self.read())

    async def read(self):
        async for line in self.ws:
            if self.name is None and (match := re.match(r"\* you are (\S+) in room", line)):
                self.name = match.group(1)
            elif not line.startswith("* "):
                self.lines.append(line)

    def received(self, text):
        return sum(line.endswith(": " + text) for line in self.lines)


async def eventually(condition, timeout=20, what="condition"):
    """Waits for `condition()` (polled every 20 ms: the events are in other processes)."""
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(0.02)


async def until_crossing(sender, receivers, tag):
    """Sends probe lines from `sender` until every receiver got one: both bridges are subscribed.
    Returns the probes sent (receivers may see several)."""
    for attempt in range(200):
        probe = f"{tag}-{attempt}"
        await sender.ws.send(probe)
        try:
            await eventually(lambda: all(any(line.endswith(f": {tag}-") or f": {tag}-" in line for line in r.lines)
                                         for r in receivers), timeout=0.25)
            return
        except AssertionError:
            continue
    raise AssertionError(f"{tag}: nothing crossed between the nodes")


def test_two_nodes_share_a_room_through_redis_and_survive_its_restart(cluster):
    redis, ports = cluster
    asyncio.run(two_nodes(redis, ports))


async def two_nodes(redis, ports):
    members = [[], []]
    for index, port in enumerate(ports):
        for _ in range(PER_NODE):
            members[index].append(Member(await websockets.connect(f"ws://127.0.0.1:{port}/hall")))
    everyone = members[0] + members[1]
    await eventually(lambda: all(m.name for m in everyone), what="welcome lines")
    await until_crossing(members[0][0], members[1], "probe-ab")
    await until_crossing(members[1][0], members[0], "probe-ba")

    async def publish(batch):
        for index in range(LINES):
            for node in (0, 1):
                for publisher in members[node][:PUBLISHERS]:
                    await publisher.ws.send(f"{batch}-{index}")
    await publish("first")
    publishers = members[0][:PUBLISHERS] + members[1][:PUBLISHERS]
    expected = len(publishers) * LINES
    await eventually(lambda: all(sum(l.split(": ", 1)[1].startswith("first-") for l in m.lines) >= expected
                                 for m in everyone), what="every first line everywhere")
    for member in everyone:
        for publisher in publishers:
            theirs = [line.split(": ", 1)[1] for line in member.lines
                      if line.startswith(publisher.name + ": first-")]
            assert theirs == [f"first-{i}" for i in range(LINES)], (member.name, publisher.name)

    # Redis crashes: each node goes on delivering locally; nothing crosses, nothing is queued.
    redis.kill()
    await eventually(lambda: all(metrics(port)[("swiftws_demo_redis_connected", "")] == 0 for port in ports),
                     what="both bridges noticing")
    await members[0][0].ws.send("while-down")
    await eventually(lambda: all(m.received("while-down") == 1 for m in members[0]), what="local delivery")
    redis.start()
    await eventually(lambda: all(metrics(port)[("swiftws_demo_redis_connected", "")] == 1 for port in ports),
                     what="both bridges reconnecting")
    await until_crossing(members[0][1], members[1], "again-ab")
    await until_crossing(members[1][1], members[0], "again-ba")
    assert all(m.received("while-down") == 0 for m in members[1])
    await members[1][2].ws.send("after-restart")
    await eventually(lambda: all(m.received("after-restart") == 1 for m in everyone), what="lines crossing again")
    await asyncio.sleep(0)
    assert all(m.received("after-restart") == 1 and m.received("while-down") <= 1 for m in everyone)
    for member in everyone:
        await member.ws.close()
        member.reader.cancel()


@pytest.mark.skipif(CHROMIUM is None, reason="chromium is not installed")
def test_pages_on_two_nodes_chat_with_each_other(cluster):
    _, ports = cluster
    asyncio.run(two_pages(ports))


async def two_pages(ports):
    async with Browser() as browser:
        alice = await browser.page(f"http://127.0.0.1:{ports[0]}/#bridge")
        bob = await browser.page(f"http://127.0.0.1:{ports[1]}/#bridge")
        for page, node in ((alice, "A"), (bob, "B")):
            await page.wait_for("document.getElementById('status').textContent.startsWith('connected to room bridge')")
            assert await page.wait_for("document.getElementById('node').textContent") == f"node {node}"
        # Each page lists both members (its own node's first), once each node's presence crossed.
        users = "Array.from(document.querySelectorAll('#users li')).map(li => li.textContent)"
        assert await alice.wait_for(f"{users}.length === 2 && {users}") == ["guest1@A (you)", "guest1@B"]
        # Messages cross both ways (retried until the bridges' subscriptions are confirmed).
        others = "Array.from(document.querySelectorAll('#log p:not(.mine):not(.system)')).map(p => p.textContent)"
        await alice.say("hello from A")
        assert await bob.wait_for(f"{others}.length && {others}") == ["guest1@A: hello from A"]
        await bob.say("hello from B")
        assert await alice.wait_for(f"{others}.length && {others}") == ["guest1@B: hello from B"]
        # The live panel shows its own node's compression ratio.
        await alice.wait_for("document.getElementById('m-compressionRatio').textContent.startsWith('×')")
