"""Issue 9, the soak: one swiftws-echo with short timeouts; 200 hostile connections of mixed kinds
(hostile_load.py, in its own process) beside 10 well-behaved websockets clients that each echo
200 messages. Afterwards — while the hostile side still holds its sockets open — the server's
descriptors and buffered bytes are back to baseline, and every echo arrived intact.
Select it alone with `-k soak`."""
import asyncio
import json
import os
import random
import select
import subprocess
import sys
import time

import websockets

from hostile import HERE, MiB, READ_MARGIN, Monitor

HOSTILE = 200
SPREAD = 6.0
CLIENTS = 10
MESSAGES = 200
BUDGET = 64 * MiB


async def echo_client(port, number, results):
    rng = random.Random(number)
    seen = 0
    try:
        async with websockets.connect(f"ws://127.0.0.1:{port}/", max_size=MiB) as ws:
            for index in range(MESSAGES):
                size = rng.choice([1, 10, 100, 1000, 8000])
                if index % 2:
                    message = rng.randbytes(size)
                else:
                    message = f"{number}/{index} ".ljust(size, "w")
                await ws.send(message)
                reply = await asyncio.wait_for(ws.recv(), 10)
                if reply != message:
                    results[number] = f"echo {index} differs"
                    return
                seen += 1
                await asyncio.sleep(0.03)  # pacing: the clients span the attack
        results[number] = seen
    except Exception as error:  # noqa: BLE001 - reported per client
        results[number] = f"{seen} echoes, then {error!r}"


async def well_behaved(port):
    results = {}
    await asyncio.gather(*(echo_client(port, number, results) for number in range(CLIENTS)))
    return results


def read_line(pipe, timeout):
    deadline = time.monotonic() + timeout
    data = b""
    while b"\n" not in data and time.monotonic() < deadline:
        ready, _, _ = select.select([pipe], [], [], 0.1)
        if ready:
            chunk = os.read(pipe.fileno(), 65536)
            if not chunk:
                break
            data += chunk
    return data.decode(errors="replace").strip()


def test_soak_hostile_mix_beside_echo_clients(servers):
    server = servers.echo("--close-timeout", 1, "--message-timeout", 2, "--ping-interval", 0.5,
                          "--pong-timeout", 1, "--handshake-timeout", 2, "--max-buffered", MiB,
                          "--memory-budget", BUDGET)
    baseline = server.fds()
    rss0 = server.rss()
    load = subprocess.Popen([sys.executable, os.path.join(HERE, "hostile_load.py"), str(server.port),
                             str(HOSTILE), str(SPREAD)],
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, cwd=HERE)
    try:
        with Monitor(server, interval=0.1) as monitor:
            start = time.monotonic()
            results = asyncio.run(well_behaved(server.port))
            clients_done = time.monotonic() - start
            summary = read_line(load.stdout, 40)
            attacks_done = time.monotonic() - start
            settled, fds_back, elapsed = server.wait_settled(baseline, 15)
        held = server.describe(baseline)
    finally:
        if load.poll() is None:
            try:
                load.stdin.write(b"close\n")
                load.stdin.flush()
            except OSError:
                pass
            try:
                load.wait(timeout=10)
            except subprocess.TimeoutExpired:
                load.kill()
    print(f"\n[soak] hostile side: {summary}; echo clients: {results} (done after {clients_done:.1f} s); "
          f"attacks done after {attacks_done:.1f} s; descriptors back after {fds_back} s, settled after {elapsed} s, "
          f"the hostile sockets still open: {held}; {monitor.summary()}; rss at start {rss0 // 1024} KiB; "
          f"server alive: {server.alive()}")
    assert server.alive(), f"the server died: {server.stderr_text()}"
    assert summary.startswith("{"), f"the hostile load did not finish: {summary!r}"
    assert sum(json.loads(summary)["launched"].values()) == HOSTILE
    assert results == {number: MESSAGES for number in range(CLIENTS)}, f"echo clients: {results}"
    assert settled, f"not back to baseline 15 s after the attacks: {held}"
    assert monitor.max_budget_used <= BUDGET + READ_MARGIN, f"budget_used {monitor.max_budget_used}"
