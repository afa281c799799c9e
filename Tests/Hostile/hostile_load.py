"""The soak test's hostile side, run as its own process (so its threads do not steal the GIL from
the well-behaved asyncio clients in the test process):

    python hostile_load.py PORT COUNT SPREAD_SECONDS

Opens COUNT hostile connections of mixed kinds, their starts spread over SPREAD_SECONDS, each
bounded in time. When every attack has done its part it prints one JSON line (what was launched,
what failed on the client side) and then keeps every socket it still holds open until a line
arrives on stdin — so the test checks that the server let go of them by its own timers — then
closes them all and exits.
"""
import json
import os
import random
import socket
import sys
import threading
import time
from collections import Counter

from hostile import (HOST, KiB, MiB, OP_BINARY, OP_CONT, OP_PING, RawClient, close_frame,
                     deflate_bomb, frame)

BACKLOG = frame(OP_BINARY, os.urandom(400 * KiB))
BIG = frame(OP_BINARY, os.urandom(MiB))
PINGS = frame(OP_PING, b"p" * 125) * 20_000
UNFINISHED = frame(OP_BINARY, os.urandom(512 * KiB), fin=False)
BOMBS = {}
BOMBS_LOCK = threading.Lock()


def bomb(bits):
    with BOMBS_LOCK:
        if bits not in BOMBS:
            BOMBS[bits] = deflate_bomb(17 * MiB, bits)
        return BOMBS[bits]


def stalled(port, trigger):
    client = RawClient(port, rcvbuf=4096)
    client.send(BACKLOG)
    client.send(BACKLOG)
    if trigger == "close":
        client.send(close_frame(1000))
    elif trigger == "fin":
        client.sock.shutdown(socket.SHUT_WR)
    elif trigger == "protocol_error":
        client.send(frame(0x3, b"reserved"))
    return client


def overflow(port):
    client = RawClient(port, rcvbuf=4096)
    for _ in range(4):
        client.send(BIG)
    return client


def ping_flood(port):
    client = RawClient(port, rcvbuf=4096)
    client.send(PINGS)
    return client


def oversize_writer(port):
    client = RawClient(port)
    client.send(frame(OP_BINARY, b"", length=32 * MiB))
    chunk = bytes(16 * KiB)
    for _ in range(16):
        client.send(chunk)
        time.sleep(0.05)  # pacing the writer, not a wait for an outcome
    return client


def deflate_bomber(port):
    client = RawClient(port, deflate=True)
    if client.deflate:
        client.send(frame(OP_BINARY, bomb(client.client_window_bits), rsv1=True))
    return client


def unfinished(port):
    client = RawClient(port)
    client.send(UNFINISHED)
    client.send(frame(OP_CONT, b"more", fin=False))
    return client


def slowloris(port):
    client = RawClient(port, handshake=False)
    request = (f"GET / HTTP/1.1\r\nHost: {HOST}:{port}\r\nUpgrade: websocket\r\n"
               "Connection: Upgrade\r\nX-Slow: " + "z" * 200).encode()
    client.send(request[:40])
    deadline = time.monotonic() + 4
    for byte in request[40:]:
        if time.monotonic() > deadline:
            break
        time.sleep(0.3)  # a byte every 300 ms: the handshake never completes
        client.send(bytes([byte]))
    return client


def garbage(port):
    client = RawClient(port, handshake=False)
    client.send(os.urandom(4 * KiB))
    return client


def half_open(port):
    return RawClient(port)  # handshake, then neither reads nor writes: keepalive must drop it


def tcp_only(port):
    return RawClient(port, handshake=False)  # connects and never says anything


def reset_mid_frame(port):
    client = RawClient(port)
    client.send(frame(OP_BINARY, os.urandom(8 * KiB))[: 4 * KiB])
    client.reset()
    return None


KINDS = {
    "stalled_close": lambda port: stalled(port, "close"),
    "stalled_fin": lambda port: stalled(port, "fin"),
    "stalled_protocol_error": lambda port: stalled(port, "protocol_error"),
    "silent_backlog": lambda port: stalled(port, None),
    "output_overflow": overflow,
    "ping_flood": ping_flood,
    "oversize_writer": oversize_writer,
    "deflate_bomb": deflate_bomber,
    "unfinished_message": unfinished,
    "slowloris": slowloris,
    "garbage": garbage,
    "half_open": half_open,
    "tcp_only": tcp_only,
    "reset_mid_frame": reset_mid_frame,
}


def main():
    port, count, spread = int(sys.argv[1]), int(sys.argv[2]), float(sys.argv[3])
    names = [list(KINDS)[i % len(KINDS)] for i in range(count)]
    random.Random(9).shuffle(names)
    kept = []
    launched = Counter()
    failures = Counter()
    lock = threading.Lock()
    start = time.monotonic()

    def run(index, name):
        time.sleep(max(0.0, start + index * spread / count - time.monotonic()))  # staggered start
        try:
            client = KINDS[name](port)
            with lock:
                launched[name] += 1
                if client is not None:
                    kept.append(client)
        except (OSError, EOFError, ConnectionError) as error:
            # The server may legitimately cut a hostile peer mid-attack (output limit, 1009...).
            with lock:
                launched[name] += 1
                failures[f"{name}: {type(error).__name__}"] += 1

    threads = [threading.Thread(target=run, args=(i, name), daemon=True) for i, name in enumerate(names)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=spread + 30)
    print(json.dumps({"launched": dict(launched), "client_side_errors": dict(failures),
                      "held_open": len(kept), "seconds": round(time.monotonic() - start, 2)}), flush=True)
    sys.stdin.readline()
    for client in kept:
        client.close()


if __name__ == "__main__":
    main()
