"""Issue 9, items 1, 3 and 5: every close is bounded by the close timeout, keepalive drops a silent
peer even with a backlog, and the close code reaches a peer that keeps writing (lingering close:
close frame, FIN, input drained, then close — never an RST that discards the close frame)."""
import asyncio
import os
import socket
import threading
import time

import pytest
import websockets

from hostile import KiB, MiB, OP_BINARY, OP_CONT, CPUMeter, close_frame, frame, wait_until

CLOSE_TIMEOUT = 1.0
SLACK = 2.0  # scheduling noise on a shared 2-core machine


def fill_backlog(server, client, messages=8, size=MiB):
    """Asks for `messages` echoes of `size` bytes and reads none of them: the server must hold
    output the peer does not take. Returns the buffered bytes /stats reports."""
    message = frame(OP_BINARY, os.urandom(size))
    for _ in range(messages):
        client.send(message)
    buffered, _ = wait_until(lambda: server.stats()["buffered"], 5)
    assert buffered, f"precondition: the server should hold unread output; {server.describe()}"
    return buffered


@pytest.mark.parametrize("trigger", ["close_frame", "fin", "protocol_error"])
def test_stalled_close_is_dropped_at_the_close_timeout(servers, clients, trigger):
    """Item 1: a peer that reads nothing, with a backlog, then closes (close frame / FIN /
    protocol error): the server drops it within the close timeout — descriptor and buffered
    bytes back to baseline while the client still holds its socket."""
    server = servers.echo("--no-compression", "--close-timeout", CLOSE_TIMEOUT)
    baseline = server.fds()
    rss0 = server.rss()
    client = clients(server.port, rcvbuf=4096)
    buffered = fill_backlog(server, client)
    rss_loaded = server.rss()
    if trigger == "close_frame":
        client.send(close_frame(1000))
    elif trigger == "fin":
        client.sock.shutdown(socket.SHUT_WR)
    else:
        client.send(frame(0x3, b"reserved opcode"))
    settled, fds_back, elapsed = server.wait_settled(baseline, CLOSE_TIMEOUT + SLACK + 3)
    print(f"\n[item 1 / {trigger}] backlog {buffered} B; descriptor released after {fds_back} s, "
          f"settled (/stats: nothing buffered) after {elapsed} s (close timeout {CLOSE_TIMEOUT} s); "
          f"rss {rss0 // KiB} -> {rss_loaded // KiB} -> {server.rss() // KiB} KiB; now {server.describe(baseline)}")
    assert settled, f"stalled close ({trigger}) not released: {server.describe(baseline)}"
    assert elapsed <= CLOSE_TIMEOUT + SLACK, f"dropped only after {elapsed:.2f} s"


def test_twenty_stalled_closes_at_once_are_all_dropped(servers, clients):
    """Item 1 at the issue's scale (20 such peers pinned 149 MiB and 20 descriptors): twenty peers
    with unread echoes close at once, by close frame, FIN or protocol error in turn; all are let
    go at the close timeout and the server's buffered bytes return to 0."""
    server = servers.echo("--no-compression", "--close-timeout", CLOSE_TIMEOUT)
    baseline = server.fds()
    message = frame(OP_BINARY, os.urandom(MiB))
    peers = [clients(server.port, rcvbuf=4096) for _ in range(20)]
    for peer in peers:
        for _ in range(3):
            peer.send(message)
    # The kernel's send buffers take most of it (up to 4 MiB a socket); the rest waits in the server.
    held, _ = wait_until(lambda: server.stats()["buffered"] >= MiB, 10)
    before = server.describe(baseline)
    for index, peer in enumerate(peers):
        if index % 3 == 0:
            peer.send(close_frame(1000))
        elif index % 3 == 1:
            peer.sock.shutdown(socket.SHUT_WR)
        else:
            peer.send(frame(0x3, b"reserved opcode"))
    settled, fds_back, elapsed = server.wait_settled(baseline, CLOSE_TIMEOUT + SLACK + 3)
    print(f"\n[item 1 / twenty peers] while held: {before}; descriptors released after {fds_back} s, "
          f"settled after {elapsed} s; now {server.describe(baseline)}")
    assert held, f"precondition: 20 peers should leave the server at least 1 MiB unread; {before}"
    assert settled, f"stalled closes still held: {server.describe(baseline)}"
    assert elapsed <= CLOSE_TIMEOUT + SLACK, f"released only after {elapsed:.2f} s"


def test_keepalive_drops_a_silent_peer_with_a_backlog(servers, clients):
    """Item 3: ping, no pong, 1011 queued behind a backlog the peer never reads: the server must
    still drop the connection (pong timeout, then close timeout)."""
    ping, pong = 0.2, 0.5
    server = servers.echo("--no-compression", "--ping-interval", ping, "--pong-timeout", pong,
                          "--close-timeout", CLOSE_TIMEOUT)
    baseline = server.fds()
    client = clients(server.port, rcvbuf=4096)
    buffered = fill_backlog(server, client)
    bound = ping + pong + CLOSE_TIMEOUT
    settled, fds_back, elapsed = server.wait_settled(baseline, bound + SLACK + 3)
    print(f"\n[item 3 / backlog] backlog {buffered} B; descriptor released after {fds_back} s, settled "
          f"after {elapsed} s (ping {ping} + pong {pong} + close {CLOSE_TIMEOUT} = {bound} s); "
          f"{server.describe(baseline)}")
    assert settled, f"silent peer with a backlog still held: {server.describe(baseline)}"
    assert elapsed <= bound + SLACK, f"dropped only after {elapsed:.2f} s"


def test_keepalive_closes_a_silent_peer_with_1011(servers, clients):
    """Item 3 without a backlog: the silent peer reads the 1011 close frame, answers nothing, and
    is dropped at the close timeout."""
    ping, pong = 0.2, 0.5
    server = servers.echo("--ping-interval", ping, "--pong-timeout", pong, "--close-timeout", CLOSE_TIMEOUT)
    baseline = server.fds()
    client = clients(server.port)
    result = client.read_close(timeout=ping + pong + SLACK + 3)
    dropped = client.wait_closed_by_server(CLOSE_TIMEOUT + SLACK)
    settled, _, _ = server.wait_settled(baseline, SLACK)
    print(f"\n[item 3 / no backlog] peer saw {result}; TCP ended by server: {dropped}; {server.describe(baseline)}")
    assert result.code == 1011, f"expected close 1011 after the pong timeout, saw {result}"
    assert result.elapsed <= ping + pong + SLACK
    assert dropped, "the server did not end the TCP connection within the close timeout"
    assert settled, server.describe(baseline)


def keep_writing(client, chunk, stop, deadline):
    try:
        while not stop.is_set() and time.monotonic() < deadline:
            client.sock.sendall(chunk)
    except OSError:
        pass


async def library_peer_close_code(port):
    """A Python `websockets` client sending an endless fragmented message: the close code it
    reports. A client library stops at the first write error, so an RST that arrives before it
    has parsed the close frame (the server closing with unread input) loses the code for it —
    the way the issue's peers lost it. (A raw reader on Linux still gets a close frame that
    arrived before the RST, so the raw variants above cannot tell the two closes apart.)"""
    ws = await websockets.connect(f"ws://127.0.0.1:{port}/", compression=None, max_size=None,
                                  close_timeout=2)

    async def fragments():
        while True:
            yield bytes(4 * KiB)
            await asyncio.sleep(0)  # let the connection read while it writes

    start = time.monotonic()
    try:
        await asyncio.wait_for(ws.send(fragments()), 5)
        outcome = "the send ended without a close"
    except websockets.ConnectionClosed as closed:
        outcome = closed.rcvd.code if closed.rcvd else f"no close frame ({type(closed).__name__})"
    except asyncio.TimeoutError:
        outcome = "no close within 5 s"
    elapsed = time.monotonic() - start
    try:
        await asyncio.wait_for(ws.close(), 3)
    except Exception:  # noqa: BLE001 - the outcome above is what the test checks
        ws.transport.abort()
    return outcome, elapsed


class LibraryResult:
    def __init__(self, outcome, elapsed):
        self.code = outcome if isinstance(outcome, int) else None
        self.error = None if self.code else outcome
        self.elapsed = elapsed

    def __repr__(self):
        return f"<{self.code or self.error} after {self.elapsed:.2f} s>"


async def library_peers(port, count):
    return [LibraryResult(*result)
            for result in await asyncio.gather(*(library_peer_close_code(port) for _ in range(count)))]


@pytest.mark.parametrize("attack", ["oversized_frame", "oversized_fragments", "websockets_fragments"])
def test_close_code_arrives_while_the_peer_keeps_writing(servers, clients, attack):
    """Item 5: ten peers exceed --max-message-size 65536 and keep writing payload continuously;
    each must read a close frame with 1009 (no reset before it), then the server lets them go."""
    server = servers.echo("--no-compression", "--max-message-size", 65536, "--close-timeout", CLOSE_TIMEOUT)
    baseline = server.fds()
    if attack == "websockets_fragments":
        results = asyncio.run(library_peers(server.port, 10))
        settled, _, _ = server.wait_settled(baseline, CLOSE_TIMEOUT + SLACK + 3)
        codes = [r.code or r.error for r in results]
        print(f"\n[item 5 / {attack}] close codes the websockets library reported to 10 writing peers: "
              f"{codes}; times {[round(r.elapsed, 2) for r in results]}; after: {server.describe(baseline)}")
        assert codes == [1009] * 10, f"peers that did not get 1009: {results}"
        assert settled, server.describe(baseline)
        return
    peers = [clients(server.port) for _ in range(10)]
    results = [None] * len(peers)
    stop = threading.Event()
    writers = []

    def attack_one(index, client):
        if attack == "oversized_frame":
            client.send(frame(OP_BINARY, b"", length=MiB))  # announces 1 MiB, then payload follows
            chunk = bytes(16 * KiB)
        else:
            client.send(frame(OP_BINARY, bytes(4 * KiB), fin=False))
            chunk = frame(OP_CONT, bytes(4 * KiB), fin=False) * 4
        writer = threading.Thread(target=keep_writing,
                                  args=(client, chunk, stop, time.monotonic() + 8), daemon=True)
        writer.start()
        writers.append(writer)
        results[index] = client.read_close(timeout=5)

    readers = [threading.Thread(target=attack_one, args=(i, c)) for i, c in enumerate(peers)]
    for reader in readers:
        reader.start()
    for reader in readers:
        reader.join(timeout=15)
    stop.set()
    for writer in writers:
        writer.join(timeout=10)
    for client in peers:
        client.close()
    settled, _, _ = server.wait_settled(baseline, CLOSE_TIMEOUT + SLACK + 3)
    codes = [r.code if r and r.code else (r.error if r else "no result") for r in results]
    print(f"\n[item 5 / {attack}] close codes seen by 10 writing peers: {codes}; "
          f"times {[round(r.elapsed, 2) for r in results if r]}; after: {server.describe(baseline)}")
    assert codes == [1009] * 10, f"peers that did not read 1009: {results}"
    assert settled, server.describe(baseline)


def test_no_cpu_spin_while_a_stalled_close_waits(servers, clients):
    """Items 1 and 2 on the echo server: while a stalled close waits for its timeout, the loop
    sleeps (no busy polling of an unwritable socket or of a timer already due)."""
    server = servers.echo("--no-compression", "--ping-interval", 0.3, "--pong-timeout", 0.6,
                          "--close-timeout", 2)
    baseline = server.fds()
    client = clients(server.port, rcvbuf=4096)
    fill_backlog(server, client)
    client.send(close_frame(1000))
    meter = CPUMeter(server)
    settled, fds_back, elapsed = server.wait_settled(baseline, 2 + SLACK + 3)
    share = meter.share()
    print(f"\n[item 2 / echo] CPU {share:.0%} from the close until released (descriptor after {fds_back} s, "
          f"settled after {elapsed} s); {server.describe(baseline)}")
    assert settled, server.describe(baseline)
    assert share < 0.3, f"the server used {share:.0%} of a core while waiting"
