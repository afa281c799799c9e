"""Issue 9, items 4 and 7: control-frame replies count against the output limit (a ping flood from
a peer that does not read is cut), a server-wide memory budget for buffered input and output
(1013), a timeout for an unfinished message (1008), and the default bound on one connection's
unfinished input (16 MiB, 1009)."""
import os
import select
import threading
import time

from hostile import KiB, MiB, OP_BINARY, OP_CONT, READ_MARGIN, Monitor, flood_pings, frame, wait_until

SLACK = 2.0


def test_ping_flood_without_reading_is_bounded_and_cut(servers, clients):
    """Item 4: 120,000 pings sent in bulk by a peer that never reads: the pongs count against
    --max-buffered 1 MiB, the connection is cut, descriptors and buffered bytes return to
    baseline, and the server's RSS does not grow with the flood."""
    limit = MiB
    server = servers.echo("--no-compression", "--max-buffered", limit, "--close-timeout", 1)
    baseline = server.fds()
    rss0 = server.rss()
    client = clients(server.port, rcvbuf=4096)
    with Monitor(server) as monitor:
        start = time.monotonic()
        outcome = flood_pings(client)
        flood_ended = time.monotonic() - start
        settled, fds_back, elapsed = server.wait_settled(baseline, 1 + SLACK + 5)
    print(f"\n[item 4] {outcome} ({flood_ended:.2f} s); after the flood: descriptor released after "
          f"{fds_back} s, settled after {elapsed} s; {monitor.summary()}; rss before {rss0 // KiB} KiB; "
          f"now {server.describe(baseline)}")
    assert monitor.samples > 0, f"/stats never answered during the flood: {monitor.errors[:3]}"
    assert monitor.max_buffered <= limit + READ_MARGIN, \
        f"pongs buffered past the limit: {monitor.max_buffered} B > {limit} + {READ_MARGIN}"
    assert settled, f"the flooding peer was not cut: {server.describe(baseline)}"
    assert monitor.max_rss - rss0 < 32 * MiB, \
        f"RSS grew by {(monitor.max_rss - rss0) // KiB} KiB during the flood"


def readable(client):
    """True when the peer has something to read (a close frame, EOF or reset)."""
    if client.buffer:
        return True
    ready, _, _ = select.select([client.sock], [], [], 0)
    return bool(ready)


def test_memory_budget_closes_the_connection_that_exceeds_it_with_1013(servers, clients):
    """Item 7: --memory-budget 4 MiB; peers each hold an unfinished message of 900,000 bytes:
    four fit, the fifth exceeds the budget and is closed with 1013 while the first four stay;
    budget_used never exceeds the budget plus one read, and returns to 0 after they leave."""
    budget = 4 * MiB
    part = 900_000
    server = servers.echo("--no-compression", "--memory-budget", budget, "--close-timeout", 1)
    baseline = server.fds()
    peers = []
    with Monitor(server) as monitor:
        for index in range(4):
            peer = clients(server.port)
            peer.send(frame(OP_BINARY, os.urandom(part), fin=False))
            peers.append(peer)
            held, _ = wait_until(lambda: server.stats()["budget_used"] >= (index + 1) * part, 5)
            assert held, (f"peer {index + 1}'s unfinished {part} B are not counted: "
                          f"{server.describe(baseline)}")
        fifth = clients(server.port)
        peers.append(fifth)
        try:
            fifth.send(frame(OP_BINARY, os.urandom(part), fin=False))
        except OSError as error:
            print(f"\n[item 7 / budget] the fifth peer's send failed: {error!r}")
        result = fifth.read_close(timeout=5)
        still_open = [not readable(peer) for peer in peers[:4]]
        during = server.describe(baseline)
        for peer in peers:
            peer.close()
        settled, _, elapsed = server.wait_settled(baseline, 1 + SLACK + 3)
    print(f"\n[item 7 / budget] fifth peer saw {result}; first four still open: {still_open}; "
          f"{monitor.summary()}; while held: {during}; after leaving (settled after {elapsed} s): "
          f"{server.describe(baseline)}")
    assert result.code == 1013, f"expected 1013 for the peer exceeding the budget, saw {result}"
    assert all(still_open), f"peers within the budget were closed: {still_open}"
    assert monitor.max_budget_used <= budget + READ_MARGIN, \
        f"budget_used reached {monitor.max_budget_used} > {budget} + {READ_MARGIN}"
    assert settled, f"budget not returned after the peers left: {server.describe(baseline)}"


def test_unfinished_message_times_out_with_1008(servers, clients):
    """Item 7: --message-timeout 0.5: a message whose fragments trickle in every 100 ms (so no idle
    timer would notice) is closed with 1008 about 0.5 s after it began; a connection that only
    sends whole messages is untouched by that timer."""
    timeout = 0.5
    server = servers.echo("--no-compression", "--message-timeout", timeout, "--close-timeout", 1)
    baseline = server.fds()
    control = clients(server.port)
    control.send_message(OP_BINARY, b"before")
    assert control.recv_frame()[3] == b"before"
    slow = clients(server.port)
    stop = threading.Event()

    def trickle():
        try:
            while not stop.wait(0.1):
                slow.send(frame(OP_CONT, b"x" * 10, fin=False))
        except OSError:
            pass

    slow.send(frame(OP_BINARY, b"x" * 10, fin=False))
    writer = threading.Thread(target=trickle, daemon=True)
    writer.start()
    result = slow.read_close(timeout=timeout + SLACK + 2)
    stop.set()
    writer.join(timeout=5)
    # The slow peer neither answers the close nor closes its socket: the server lets it go at the
    # close timeout by itself. Then the control connection, older than the message timeout,
    # must still echo (and the loop must still serve it).
    released, released_after = wait_until(lambda: server.fds() <= baseline + 1, 1 + SLACK + 2)
    try:
        control.send_message(OP_BINARY, b"after")
        echoed = control.recv_frame()[3]
    except (OSError, EOFError) as error:
        echoed = f"no echo: {error!r}; server CPU {server.cpu_seconds():.2f} s so far"
    slow.close()
    control.close()
    settled, _, _ = server.wait_settled(baseline, 1 + SLACK + 3)
    print(f"\n[item 7 / message timeout] trickling peer saw {result}; its descriptor released "
          f"{released_after:.2f} s after that ({bool(released)}); control echoed {echoed!r}; "
          f"{server.describe(baseline)}")
    assert result.code == 1008, f"expected 1008 for the unfinished message, saw {result}"
    assert timeout * 0.8 <= result.elapsed <= timeout + SLACK, f"1008 after {result.elapsed:.2f} s"
    assert released, f"the closed peer was not let go at the close timeout: {server.describe(baseline)}"
    assert echoed == b"after"
    assert settled, server.describe(baseline)


def test_default_limit_on_one_connections_unfinished_input(servers, clients):
    """Item 7: with default options, one connection sending an endless fragmented message (1 MiB
    fragments, never FIN) is closed with 1009 before it holds more than 16 MiB."""
    server = servers.echo("--no-compression", "--close-timeout", 1)
    baseline = server.fds()
    client = clients(server.port)
    fragment = frame(OP_CONT, bytes(MiB), fin=False)
    stop = threading.Event()

    def write():
        try:
            client.send(frame(OP_BINARY, bytes(MiB), fin=False))
            for _ in range(40):
                if stop.is_set():
                    return
                client.send(fragment)
        except OSError:
            pass

    with Monitor(server) as monitor:
        writer = threading.Thread(target=write, daemon=True)
        writer.start()
        result = client.read_close(timeout=20)
        stop.set()
        writer.join(timeout=10)
        client.close()
        settled, _, _ = server.wait_settled(baseline, 1 + SLACK + 3)
    print(f"\n[item 7 / default 16 MiB] peer saw {result}; {monitor.summary()}; {server.describe(baseline)}")
    assert result.code == 1009, f"expected 1009, saw {result}"
    assert monitor.max_buffered <= 16 * MiB + READ_MARGIN, f"held {monitor.max_buffered} B"
    assert monitor.max_budget_used <= 16 * MiB + READ_MARGIN, f"budget_used {monitor.max_budget_used} B"
    assert settled, server.describe(baseline)
