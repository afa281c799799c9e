"""Self-test of bench/echo/loadgen: it must measure a correct echo server and refuse a wrong one.

A benchmark is only as good as its instrument. This script runs loadgen against a small scripted
WebSocket server (raw asyncio sockets, no WebSocket library) that behaves correctly in some cases
and breaks one rule in each of the others, and checks loadgen's exit status and the reason it
gives. Standard library only.

    python3 bench/echo/loadgen_selftest.py path/to/loadgen

Prints one line per case, then `N passed, N failed`; exits 1 if any case failed.
"""

import asyncio
import base64
import hashlib
import os
import struct
import subprocess
import sys
import time
import zlib

GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"  # RFC 6455 1.3


class Behaviour:
    """How the scripted server deviates from a correct echo server (all off = correct)."""

    def __init__(self, **flags):
        self.status = flags.get("status", 101)
        self.bad_accept = flags.get("bad_accept", False)
        self.extensions = flags.get("extensions", False)
        self.no_response = flags.get("no_response", False)
        self.fragment = flags.get("fragment", False)          # echo in 3 frames (valid)
        self.ping_first = flags.get("ping_first", False)      # ping before each echo (valid)
        self.split_writes = flags.get("split_writes", False)  # write byte by byte (valid)
        self.corrupt_at = flags.get("corrupt_at")             # flip a byte of echo n
        self.drop_at = flags.get("drop_at")                   # never echo message n
        self.duplicate_at = flags.get("duplicate_at")         # echo message n twice
        self.close_at = flags.get("close_at")                 # close (1011) instead of echo n
        self.eof_at = flags.get("eof_at")                     # drop TCP instead of echo n
        self.mask = flags.get("mask", False)                  # server masks its frames
        self.rsv1 = flags.get("rsv1", False)
        self.wrong_opcode = flags.get("wrong_opcode", False)  # binary for text and vice versa
        # permessage-deflate (loadgen -z): accept the offer with these parameters ("" = none),
        # inflate what arrives with RSV1 and compress every echo (RFC 7692).
        self.deflate = flags.get("deflate")
        self.raw = flags.get("raw", False)                    # plain TCP echo (loadgen -m tcp)
        self.rsv1_ping = flags.get("rsv1_ping", False)        # a ping with RSV1 (never valid)


def frame(opcode: int, payload: bytes, fin: bool = True, mask: bool = False, rsv1: bool = False) -> bytes:
    """Encodes one frame (RFC 6455 5.2)."""
    head = bytearray([(0x80 if fin else 0) | (0x40 if rsv1 else 0) | opcode])
    mask_bit = 0x80 if mask else 0
    if len(payload) < 126:
        head.append(mask_bit | len(payload))
    elif len(payload) <= 0xFFFF:
        head.append(mask_bit | 126)
        head += struct.pack("!H", len(payload))
    else:
        head.append(mask_bit | 127)
        head += struct.pack("!Q", len(payload))
    if mask:
        key = b"\x01\x02\x03\x04"
        payload = bytes(b ^ key[i % 4] for i, b in enumerate(payload))
        head += key
    return bytes(head) + payload


async def read_frame(reader: asyncio.StreamReader, with_rsv1: bool = False):
    """Reads one masked client frame; returns (fin, opcode, payload), and RSV1 with `with_rsv1`."""
    b0, b1 = await reader.readexactly(2)
    length = b1 & 0x7F
    if length == 126:
        (length,) = struct.unpack("!H", await reader.readexactly(2))
    elif length == 127:
        (length,) = struct.unpack("!Q", await reader.readexactly(8))
    if not b1 & 0x80:
        raise ValueError("client frame not masked")  # RFC 6455 5.1
    key = await reader.readexactly(4)
    data = await reader.readexactly(length)
    unmasked = bytes(b ^ key[i % 4] for i, b in enumerate(data))
    if with_rsv1:
        return bool(b0 & 0x80), b0 & 0x0F, unmasked, bool(b0 & 0x40)
    return bool(b0 & 0x80), b0 & 0x0F, unmasked


async def serve_raw(behaviour: Behaviour, reader, writer) -> None:
    """A plain TCP echo (loadgen -m tcp); corrupt_at flips the byte at that offset."""
    offset = 0
    while True:
        data = await reader.read(65536)
        if not data:
            writer.close()
            return
        if behaviour.corrupt_at is not None and offset <= behaviour.corrupt_at < offset + len(data):
            at = behaviour.corrupt_at - offset
            data = data[:at] + bytes([data[at] ^ 0x20]) + data[at + 1:]
        offset += len(data)
        writer.write(data)
        await writer.drain()


async def serve_connection(behaviour: Behaviour, reader, writer) -> None:
    if behaviour.raw:
        return await serve_raw(behaviour, reader, writer)
    head = await reader.readuntil(b"\r\n\r\n")
    if behaviour.no_response:
        await reader.read()  # say nothing until loadgen gives up and closes
        writer.close()
        return
    key = next(line.split(b":", 1)[1].strip() for line in head.split(b"\r\n")
               if line.lower().startswith(b"sec-websocket-key:"))
    accept = base64.b64encode(hashlib.sha1(key + GUID).digest())
    if behaviour.bad_accept:
        accept = base64.b64encode(hashlib.sha1(key).digest())
    if behaviour.status != 101:
        writer.write(b"HTTP/1.1 %d Forbidden\r\nContent-Length: 0\r\n\r\n" % behaviour.status)
        await writer.drain()
        writer.close()
        return
    response = (b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                b"Sec-WebSocket-Accept: " + accept + b"\r\n")
    if behaviour.extensions:
        response += b"Sec-WebSocket-Extensions: permessage-deflate\r\n"
    offered = b"permessage-deflate" in head.lower()
    deflating = behaviour.deflate is not None and offered
    if deflating:
        parameters = ("; " + behaviour.deflate) if behaviour.deflate else ""
        response += b"Sec-WebSocket-Extensions: permessage-deflate" + parameters.encode() + b"\r\n"
    writer.write(response + b"\r\n")
    # With client_no_context_takeover every message is inflated by a fresh inflater: a client
    # that kept its compressor's window would send references this one cannot resolve.
    fresh_inflater = deflating and "client_no_context_takeover" in behaviour.deflate
    inflater = zlib.decompressobj(-15)
    compressor = zlib.compressobj(wbits=-15)

    count = 0
    while True:
        fin, opcode, payload, rsv1 = await read_frame(reader, with_rsv1=True)
        if rsv1:
            if not deflating:
                raise ValueError("RSV1 without permessage-deflate")
            if fresh_inflater:
                inflater = zlib.decompressobj(-15)
            payload = inflater.decompress(payload + b"\x00\x00\xff\xff")
        if opcode == 0x8:  # close: answer it and stop (RFC 6455 5.5.1)
            writer.write(frame(0x8, payload[:2]))
            await writer.drain()
            writer.close()
            return
        if opcode == 0xA:  # pong: it must carry the ping's data (RFC 6455 5.5.3)
            if payload != b"selftest-ping":
                writer.close()
                return
            continue
        count += 1
        if count == behaviour.drop_at:
            continue
        if count == behaviour.close_at:
            writer.write(frame(0x8, struct.pack("!H", 1011)))
            await writer.drain()
            continue
        if count == behaviour.eof_at:
            writer.close()
            return
        if count == behaviour.corrupt_at and payload:
            payload = payload[:-1] + bytes([payload[-1] ^ 0x20])
        if behaviour.wrong_opcode:
            opcode ^= 0x3
        out = b""
        if behaviour.ping_first:
            out += frame(0x9, b"selftest-ping")
        if behaviour.rsv1_ping:
            out += frame(0x9, b"selftest-ping", rsv1=True)
        if behaviour.fragment and len(payload) >= 3:
            compressed = deflating  # a compressed message is split after compressing (RFC 7692 6.1)
            if compressed:
                payload = (compressor.compress(payload) + compressor.flush(zlib.Z_SYNC_FLUSH))[:-4]
            third = len(payload) // 3
            out += frame(opcode, payload[:third], fin=False, rsv1=compressed)
            out += frame(0x0, payload[third:2 * third], fin=False)
            out += frame(0x0, payload[2 * third:], fin=True)
        elif deflating:
            compressed = compressor.compress(payload) + compressor.flush(zlib.Z_SYNC_FLUSH)
            out += frame(opcode, compressed[:-4], rsv1=True)  # RFC 7692 7.2.1: tail removed
        else:
            out += frame(opcode, payload, mask=behaviour.mask, rsv1=behaviour.rsv1)
        if count == behaviour.duplicate_at:
            out += out
        if behaviour.split_writes:
            for i in range(len(out)):
                writer.write(out[i:i + 1])
                await writer.drain()
        else:
            writer.write(out)


async def run_case(loadgen: str, behaviour: Behaviour, args: list, port_override=None):
    """Starts the scripted server, runs loadgen against it, returns (exit status, stdout, stderr)."""
    async def handler(reader, writer):
        try:
            await serve_connection(behaviour, reader, writer)
        except (asyncio.IncompleteReadError, ConnectionError, ValueError):
            writer.close()

    server = await asyncio.start_server(handler, "127.0.0.1", 0)
    port = port_override or server.sockets[0].getsockname()[1]
    try:
        process = await asyncio.create_subprocess_exec(
            loadgen, "-p", str(port), *args,
            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        stdout, stderr = await asyncio.wait_for(process.communicate(), timeout=30)
        return process.returncode, stdout.decode(), stderr.decode()
    finally:
        server.close()


def free_closed_port() -> int:
    """A port with nothing listening on it (bound, then released)."""
    import socket
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


QUICK = ["-c", "3", "-w", "0.1", "-d", "0.3"]
JSON = QUICK + ["-z", "-J", "-s", "256"]

# (name, behaviour, loadgen arguments, expected error text or None for success); with -m idle
# success is a line with bytes_per_connection=, otherwise one with messages_per_sec=.
CASES = [
    ("correct echo, text", Behaviour(), QUICK + ["-t"], None),
    ("correct echo, binary, 2 in flight", Behaviour(), QUICK + ["-k", "2"], None),
    ("correct echo, 70000-byte messages (64-bit length)", Behaviour(), QUICK + ["-s", "70000"], None),
    ("correct echo, 300-byte messages (16-bit length)", Behaviour(), QUICK + ["-s", "300"], None),
    ("correct echo, empty messages", Behaviour(), QUICK + ["-s", "0"], None),
    ("fragmented echoes are reassembled", Behaviour(fragment=True), QUICK + ["-t"], None),
    ("pings are answered with the same data", Behaviour(ping_first=True), QUICK, None),
    ("frames split into 1-byte writes", Behaviour(split_writes=True), QUICK + ["-c", "1", "-d", "0.2"], None),
    ("upgrade refused", Behaviour(status=403), QUICK, "HTTP status 403"),
    ("wrong Sec-WebSocket-Accept", Behaviour(bad_accept=True), QUICK, "Sec-WebSocket-Accept"),
    ("extension not offered", Behaviour(extensions=True), QUICK, "not offered"),
    ("corrupted echo", Behaviour(corrupt_at=5), QUICK, "differs"),
    ("lost echo, 1 in flight", Behaviour(drop_at=5), QUICK, "never came back"),
    ("lost echo, 2 in flight", Behaviour(drop_at=5), QUICK + ["-k", "2"], "differs"),
    ("duplicated echo", Behaviour(duplicate_at=5), QUICK, "echo"),
    ("server closes during the run", Behaviour(close_at=5), QUICK, "code 1011"),
    ("server drops TCP during the run", Behaviour(eof_at=5), QUICK, "closed the TCP connection"),
    ("masked server frame", Behaviour(mask=True), QUICK, "masked frame"),
    ("RSV1 without extension", Behaviour(rsv1=True), QUICK, "RSV"),
    ("wrong message type", Behaviour(wrong_opcode=True), QUICK + ["-t"], "opcode"),
    ("nothing listening", Behaviour(), QUICK, "connect to", ),
    ("no handshake answer (bounded wait)", Behaviour(no_response=True), QUICK, "upgraded within"),
    # -m tcp: the plain TCP ceiling's pattern is verified like the WebSocket one.
    ("plain TCP echo", Behaviour(raw=True), QUICK + ["-m", "tcp", "-s", "100", "-k", "2"], None),
    ("plain TCP echo, corrupted", Behaviour(raw=True, corrupt_at=450), QUICK + ["-m", "tcp", "-s", "100"], "differs"),
    # -z: permessage-deflate both ways, JSON payloads.
    ("compressed echo", Behaviour(deflate=""), JSON + ["-k", "2"], None),
    ("compressed echo, client_no_context_takeover honoured",
     Behaviour(deflate="client_no_context_takeover"), JSON, None),
    ("compressed echo, corrupted", Behaviour(deflate="", corrupt_at=5), JSON, "differs"),
    ("compressed echo in three frames", Behaviour(deflate="", fragment=True), JSON, None),
    ("RSV1 on a control frame", Behaviour(deflate="", rsv1_ping=True), JSON, "RSV"),
    ("compression declined by the server", Behaviour(), JSON, "did not accept permessage-deflate"),
    ("unknown deflate parameter", Behaviour(deflate="x_unknown=1"), JSON, "unknown permessage-deflate parameter"),
    # -m handshake and -m idle.
    ("handshakes per second", Behaviour(), QUICK + ["-m", "handshake"], None),
    ("handshakes per second, wrong accept", Behaviour(bad_accept=True), QUICK + ["-m", "handshake"], "Sec-WebSocket-Accept"),
    ("idle connections, RSS per connection", Behaviour(), ["-c", "20", "-m", "idle", "-P", "SELF"], None),
    ("idle connections with deflate, after one message", Behaviour(deflate=""),
     ["-c", "20", "-m", "idle", "-z", "-J", "-s", "256", "-P", "SELF"], None),
]


async def main() -> int:
    if len(sys.argv) != 2:
        print(__doc__, file=sys.stderr)
        return 2
    loadgen = sys.argv[1]
    passed = failed = 0
    for name, behaviour, args, expected_error in CASES:
        started = time.monotonic()
        port = free_closed_port() if name == "nothing listening" else None
        args = [str(os.getpid()) if a == "SELF" else a for a in args]  # -m idle weighs this process
        status, stdout, stderr = await run_case(loadgen, behaviour, args, port)
        if expected_error is None:
            key = "bytes_per_connection=" if "idle" in args else "messages_per_sec="
            ok = status == 0 and key in stdout and "messages=0 " not in stdout
            if "-z" in args and "idle" in args:
                ok = ok and "bytes_per_connection_after_message=" in stdout
            detail = stdout.strip() or stderr.strip()
        else:
            ok = status == 1 and expected_error in stderr and not stdout
            detail = stderr.strip() or f"exit {status}, stdout {stdout.strip()!r}"
        passed, failed = passed + ok, failed + (not ok)
        print(f"{'ok  ' if ok else 'FAIL'} {name} ({time.monotonic() - started:.1f} s): {detail[:150]}")
    print(f"{passed} passed, {failed} failed")
    return 0 if failed == 0 else 1


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
