"""Issue 9, "every timeout really fires, every buffer is bounded", for the timers and limits the
numbered items lean on: the handshake timeout against a slowloris request and a silent TCP
connection, the idle timeout (1001), the output limit against a peer that asks for echoes it never
reads (TCP dropped at once, not at the close timeout), and --max-connections."""
import os
import time

from hostile import MiB, OP_BINARY, frame, http_get, wait_until

SLACK = 2.0


def test_handshake_timeout_ends_slowloris_and_silent_connections(servers, clients):
    """A request trickling in a byte every 100 ms and a TCP connection that says nothing are both
    let go at --handshake-timeout 0.5 (the trickler gets 408 first), with their sockets still
    open on the client side."""
    timeout = 0.5
    server = servers.echo("--handshake-timeout", timeout, "--close-timeout", 1)
    baseline = server.fds()
    silent = clients(server.port, handshake=False)
    slow = clients(server.port, handshake=False)
    request = f"GET / HTTP/1.1\r\nHost: 127.0.0.1:{server.port}\r\nUpgrade: websocket\r\n".encode()
    start = time.monotonic()
    answer = b""
    slow.sock.settimeout(0.1)
    for byte in request:
        try:
            slow.sock.send(bytes([byte]))
            answer += slow.sock.recv(4096)  # waits 100 ms for an answer between the bytes
        except TimeoutError:
            continue
        except OSError as error:
            answer += f" [{type(error).__name__}]".encode()
            break
        if answer:
            break
    answered_after = time.monotonic() - start
    released, released_after = wait_until(lambda: server.fds() <= baseline, timeout + 1 + SLACK + 2)
    print(f"\n[handshake timeout] the trickling request got {answer[:40]!r} after {answered_after:.2f} s; "
          f"both connections released after {released_after:.2f} s ({bool(released)}); "
          f"{server.describe(baseline)}")
    assert answer.startswith(b"HTTP/1.1 408"), f"expected 408, got {answer[:80]!r}"
    assert answered_after <= timeout + SLACK
    assert released, f"connections in the handshake still held: {server.describe(baseline)}"
    assert silent.sock.fileno() >= 0


def test_idle_timeout_closes_with_1001(servers, clients):
    """--idle-timeout 0.5: a peer that says nothing reads close 1001 about 0.5 s later and, never
    answering it, is let go at the close timeout."""
    idle = 0.5
    server = servers.echo("--idle-timeout", idle, "--close-timeout", 1)
    baseline = server.fds()
    client = clients(server.port)
    result = client.read_close(timeout=idle + SLACK + 2)
    released, _ = wait_until(lambda: server.fds() <= baseline, 1 + SLACK + 2)
    print(f"\n[idle timeout] silent peer saw {result}; released {bool(released)}; {server.describe(baseline)}")
    assert result.code == 1001, f"expected 1001, saw {result}"
    assert idle * 0.8 <= result.elapsed <= idle + SLACK
    assert released, server.describe(baseline)


def test_output_limit_drops_a_peer_that_does_not_read_at_once(servers, clients):
    """--max-buffered 1 MiB with the default close timeout (10 s): a peer asking for 8 MiB of
    echoes and reading none is dropped as soon as its output passes the limit (not at the close
    timeout), and the server never holds much more than the limit for it."""
    server = servers.echo("--no-compression", "--max-buffered", MiB)
    baseline = server.fds()
    client = clients(server.port, rcvbuf=4096)
    message = frame(OP_BINARY, os.urandom(MiB))
    outcome = "all sent"
    start = time.monotonic()
    for index in range(8):
        try:
            client.send(message)
        except OSError as error:
            outcome = f"send {index + 1} failed: {type(error).__name__}"
            break
    settled, fds_back, elapsed = server.wait_settled(baseline, 5)
    total = time.monotonic() - start
    print(f"\n[output limit] {outcome}; descriptor released after {fds_back} s, settled after {elapsed} s "
          f"({total:.2f} s after the first request); {server.describe(baseline)}")
    assert settled, f"the peer over the output limit is still held: {server.describe(baseline)}"
    assert total < 5, "dropped only at the close timeout, not when the limit was passed"


def test_max_connections_answers_503(servers, clients):
    """--max-connections 2: a third WebSocket upgrade is refused with 503 while two are open; the
    refusal does not leave a descriptor behind."""
    server = servers.echo("--max-connections", 2, "--close-timeout", 1)
    baseline = server.fds()
    first, second = clients(server.port), clients(server.port)
    try:
        clients(server.port)
        refusal = "accepted"
    except ConnectionError as error:
        refusal = str(error)
    first.close()
    second.close()
    released, _ = wait_until(lambda: server.fds() <= baseline, 1 + SLACK + 2)
    status, _ = http_get(server.port, "/stats")
    print(f"\n[max connections] third upgrade: {refusal[:80]}; released {bool(released)}; /stats {status}")
    assert " 503 " in refusal, f"expected 503 for the third connection, got {refusal[:120]}"
    assert released, server.describe(baseline)
