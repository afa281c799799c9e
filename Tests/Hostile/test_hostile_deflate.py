"""Issue 9, item 6: decompression bombs (17 KiB compressed, 17 MiB of zeros inflated, past
--max-message-size 16 MiB) each get 1009, and ten well-behaved echo clients beside four attackers
keep a reasonable latency (the loop stays fair)."""
import asyncio
import threading
import time

import websockets

from hostile import MiB, OP_BINARY, CPUMeter, RawClient, deflate_bomb, frame, percentile

BOMB_SIZE = 17 * MiB
ATTACKERS = 4
ECHO_CLIENTS = 10
BASELINE_SECONDS = 1.0
ATTACK_SECONDS = 3.0
P99_BOUND = 0.250


class Attackers:
    """Threads that connect with permessage-deflate, send one bomb, read the close code, repeat."""

    def __init__(self, port):
        self.port = port
        self.codes = []
        self.times = []
        self.errors = []
        self.bomb_bytes = 0
        self.stop = threading.Event()
        self.bombs = {}
        self.threads = [threading.Thread(target=self._run, daemon=True) for _ in range(ATTACKERS)]

    def _bomb(self, bits):
        if bits not in self.bombs:
            self.bombs[bits] = deflate_bomb(BOMB_SIZE, bits)
        return self.bombs[bits]

    def _run(self):
        while not self.stop.is_set():
            try:
                client = RawClient(self.port, deflate=True)
            except OSError as error:
                self.errors.append(repr(error))
                self.stop.wait(0.05)
                continue
            try:
                if not client.deflate:
                    self.errors.append(f"permessage-deflate not negotiated: {client.extensions!r}")
                    return
                bomb = self._bomb(client.client_window_bits)
                self.bomb_bytes = len(bomb)
                try:
                    client.send(frame(OP_BINARY, bomb, rsv1=True))
                except OSError as error:
                    self.errors.append(f"send: {error!r}")
                result = client.read_close(timeout=5)
                self.codes.append(result.code or result.error)
                self.times.append(result.elapsed)
            finally:
                client.close()

    def start(self):
        for thread in self.threads:
            thread.start()

    def finish(self):
        self.stop.set()
        for thread in self.threads:
            thread.join(timeout=10)


async def echo_client(port, latencies, phase, errors, stop_at):
    index = 0
    async with websockets.connect(f"ws://127.0.0.1:{port}/") as ws:
        while time.monotonic() < stop_at:
            message = f"message {index} " + "y" * 50
            sent = time.monotonic()
            await ws.send(message)
            reply = await asyncio.wait_for(ws.recv(), 10)
            latencies[phase[0]].append(time.monotonic() - sent)
            if reply != message:
                errors.append((message, reply))
            index += 1
            await asyncio.sleep(0.02)


async def run_echo_clients(port, attackers, server, report):
    latencies = {"baseline": [], "attack": []}
    phase = ["baseline"]
    errors = []
    stop_at = time.monotonic() + BASELINE_SECONDS + ATTACK_SECONDS
    tasks = [asyncio.create_task(echo_client(port, latencies, phase, errors, stop_at))
             for _ in range(ECHO_CLIENTS)]
    await asyncio.sleep(BASELINE_SECONDS)  # the baseline phase's length, not an assertion
    phase[0] = "attack"
    report["meter"] = CPUMeter(server)
    attackers.start()
    await asyncio.gather(*tasks)
    report["cpu"] = report["meter"].share()
    return latencies, errors


def test_decompression_bombs_get_1009_and_the_loop_stays_fair(servers):
    server = servers.echo("--max-message-size", 16 * MiB, "--close-timeout", 1)
    baseline = server.fds()
    attackers = Attackers(server.port)
    report = {}
    try:
        latencies, errors = asyncio.run(run_echo_clients(server.port, attackers, server, report))
    finally:
        attackers.finish()
    settled, _, _ = server.wait_settled(baseline, 5)
    base, attack = latencies["baseline"], latencies["attack"]
    rate = len(attackers.codes) * attackers.bomb_bytes / ATTACK_SECONDS
    print(f"\n[item 6] {len(attackers.codes)} bombs of {attackers.bomb_bytes} B compressed -> "
          f"{BOMB_SIZE} B ({rate / 1000:.0f} KB/s from {ATTACKERS} attackers); codes "
          f"{sorted(set(map(str, attackers.codes)))}; time to close p50 "
          f"{percentile(attackers.times, 50) * 1000:.1f} ms max {max(attackers.times or [0]) * 1000:.1f} ms; "
          f"server CPU {report.get('cpu', 0):.0%} during the attack; echo latency baseline p50 "
          f"{percentile(base, 50) * 1000:.2f} ms p99 {percentile(base, 99) * 1000:.2f} ms "
          f"({len(base)} msgs), under attack p50 {percentile(attack, 50) * 1000:.2f} ms p99 "
          f"{percentile(attack, 99) * 1000:.2f} ms ({len(attack)} msgs); attacker errors "
          f"{attackers.errors[:3]}; {server.describe(baseline)}")
    assert not errors, f"wrong echoes: {errors[:3]}"
    assert len(attackers.codes) >= ATTACKERS, "the attackers did not get to send their bombs"
    assert all(code == 1009 for code in attackers.codes), f"bombs answered with {attackers.codes}"
    assert percentile(attack, 99) < P99_BOUND, \
        f"echo p99 under attack {percentile(attack, 99) * 1000:.0f} ms (baseline {percentile(base, 99) * 1000:.1f} ms)"
    assert settled, server.describe(baseline)
