"""Helpers for the hostile-peer tests (issue 9): start swiftws-echo / swiftws-demo on a free port,
a raw WebSocket client (handshake, masked frames, frame and close-frame reader), the plain-HTTP
/stats reader, and the server's descriptors, RSS and CPU time from /proc.

Everything waits for events with a deadline (`wait_until`); nothing asserts after a bare sleep.
"""
import base64
import os
import re
import select
import signal
import socket
import struct
import subprocess
import tempfile
import threading
import time
import zlib

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
ECHO = os.environ.get("SWIFTWS_ECHO", os.path.join(ROOT, ".build/debug/swiftws-echo"))
DEMO = os.environ.get("SWIFTWS_DEMO", os.path.join(ROOT, ".build/debug/swiftws-demo"))

HOST = "127.0.0.1"
KiB = 1024
MiB = 1024 * 1024
READ_MARGIN = 256 * KiB  # what the server may take in one read beyond a limit

OP_CONT, OP_TEXT, OP_BINARY, OP_CLOSE, OP_PING, OP_PONG = 0x0, 0x1, 0x2, 0x8, 0x9, 0xA


def wait_until(condition, timeout, interval=0.02):
    """Polls `condition()` every `interval` s until it returns a truthy value or `timeout` s pass.
    Returns (value, elapsed seconds); the value is the last one seen (falsy on timeout)."""
    start = time.monotonic()
    while True:
        value = condition()
        elapsed = time.monotonic() - start
        if value or elapsed >= timeout:
            return value, elapsed
        time.sleep(interval)


# ---------------------------------------------------------------------------------------------
# Servers


class Server:
    """A swiftws-echo or swiftws-demo process on a kernel-chosen port."""

    def __init__(self, binary, args, ready_pattern, ready_timeout=15.0):
        if not (os.path.isfile(binary) and os.access(binary, os.X_OK)):
            pytest.skip(f"{binary} is not built (swift build --product {os.path.basename(binary)})")
        self.binary = binary
        self.args = list(args)
        self.stderr = tempfile.TemporaryFile()
        self.proc = subprocess.Popen([binary, *self.args], stdout=subprocess.PIPE,
                                     stderr=self.stderr, stdin=subprocess.DEVNULL)
        self.pid = self.proc.pid
        self.output = []
        line = self._read_line(ready_timeout)
        match = re.search(ready_pattern, line)
        if not match:
            self.stop()
            raise AssertionError(f"{os.path.basename(binary)} {' '.join(self.args)}: no ready line; "
                                 f"first line {line!r}, exit {self.proc.returncode}, "
                                 f"stderr {self.stderr_text()!r}")
        self.host, self.port = match.group(1), int(match.group(2))
        self._drainer = threading.Thread(target=self._drain, daemon=True)
        self._drainer.start()

    def _read_line(self, timeout):
        fd = self.proc.stdout.fileno()
        data = b""
        deadline = time.monotonic() + timeout
        while b"\n" not in data and time.monotonic() < deadline:
            ready, _, _ = select.select([fd], [], [], 0.05)
            if ready:
                chunk = os.read(fd, 4096)
                if not chunk:
                    break
                data += chunk
        self.proc.poll()
        return data.decode(errors="replace").split("\n")[0]

    def _drain(self):
        for line in self.proc.stdout:
            self.output.append(line.decode(errors="replace"))

    def stderr_text(self, limit=2000):
        self.stderr.seek(0)
        return self.stderr.read()[-limit:].decode(errors="replace")

    # -- observations from /proc ------------------------------------------------------------

    def fds(self):
        """Open descriptors of the server process."""
        return len(os.listdir(f"/proc/{self.pid}/fd"))

    def rss(self):
        """Resident set size in bytes."""
        with open(f"/proc/{self.pid}/status") as status:
            for line in status:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) * 1024
        return 0

    def cpu_seconds(self):
        """utime + stime of the whole process, in seconds."""
        with open(f"/proc/{self.pid}/stat") as stat:
            fields = stat.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def alive(self):
        return self.proc.poll() is None

    # -- plain HTTP ----------------------------------------------------------------------------

    def stats(self, timeout=5.0):
        """GET /stats → {"connections": N, "handshakes": N, "buffered": N, "budget_used": N}."""
        status, body = http_get(self.port, "/stats", timeout=timeout)
        assert status == 200, f"/stats answered {status}: {body[:200]!r}"
        values = {key: int(value) for key, value in re.findall(rb"(\w+)=(\d+)", body)}
        values = {key.decode(): value for key, value in values.items()}
        for key in ("connections", "handshakes", "buffered", "budget_used"):
            assert key in values, f"/stats line lacks {key}: {body!r}"
        return values

    def settled(self, fd_baseline):
        """True when the server holds no more descriptors than at start and no buffered bytes.
        A server that does not answer /stats within a second is not settled (a hung loop must
        fail the test by its deadline, not stall it). The descriptors are counted before the
        /stats request, whose own connection the server may hold for a moment after answering."""
        if not self.alive() or self.fds() > fd_baseline:
            return False
        try:
            stats = self.stats(timeout=1)
        except (OSError, AssertionError):
            return False
        return stats["buffered"] == 0 and stats["budget_used"] == 0

    def wait_settled(self, fd_baseline, timeout):
        """Waits (up to `timeout` s) for the descriptors to return to baseline and then for /stats
        to show nothing buffered. Returns (settled, seconds until the descriptors were back or
        None, seconds until settled or None)."""
        start = time.monotonic()
        fds_back, _ = wait_until(lambda: self.fds() <= fd_baseline, timeout)
        fds_elapsed = round(time.monotonic() - start, 2) if fds_back else None
        settled, _ = wait_until(lambda: self.settled(fd_baseline), max(timeout - (time.monotonic() - start), 0))
        return bool(settled), fds_elapsed, (round(time.monotonic() - start, 2) if settled else None)

    def describe(self, fd_baseline=None):
        """One line of what the server holds now, for assertion messages and the report."""
        try:
            stats = self.stats(timeout=2)
        except Exception as error:  # noqa: BLE001 - a description must not raise
            stats = f"/stats failed: {error!r}"
        base = f" (baseline {fd_baseline})" if fd_baseline is not None else ""
        try:
            return (f"fds={self.fds()}{base} rss={self.rss() // KiB} KiB cpu={self.cpu_seconds():.2f} s "
                    f"stats={stats}")
        except FileNotFoundError:
            return f"process gone, exit {self.proc.poll()}"

    # -- stopping --------------------------------------------------------------------------------

    def signal(self, signum):
        self.proc.send_signal(signum)

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=4)
            except subprocess.TimeoutExpired:
                print(f"\n[{os.path.basename(self.binary)}] did not exit within 4 s of SIGTERM; killed")
                self.proc.kill()
                self.proc.wait(timeout=5)
        if self.proc.stdout:
            self.proc.stdout.close()


def start_echo(*args):
    return Server(ECHO, ["--host", HOST, "--port", "0", *map(str, args)],
                  r"^listening on (\S+):(\d+)\s*$")


def start_demo(*args):
    return Server(DEMO, ["--host", HOST, "--port", "0", *map(str, args)],
                  r"ws://([^/\s]+):(\d+)/ROOM")


def http_get(port, target, timeout=5.0):
    """A plain HTTP/1.1 GET with Connection: close; returns (status, body bytes)."""
    with socket.create_connection((HOST, port), timeout=timeout) as sock:
        sock.sendall(f"GET {target} HTTP/1.1\r\nHost: {HOST}:{port}\r\nConnection: close\r\n\r\n".encode())
        data = b""
        while b"\r\n\r\n" not in data:
            chunk = sock.recv(65536)
            if not chunk:
                break
            data += chunk
        head, _, body = data.partition(b"\r\n\r\n")
        status_line = head.split(b"\r\n", 1)[0]
        parts = status_line.split()
        status = int(parts[1]) if len(parts) > 1 and parts[1].isdigit() else 0
        length = None
        for header in head.split(b"\r\n")[1:]:
            name, _, value = header.partition(b":")
            if name.strip().lower() == b"content-length":
                length = int(value.strip())
        while length is None or len(body) < length:
            try:
                chunk = sock.recv(65536)
            except (ConnectionResetError, socket.timeout):
                break
            if not chunk:
                break
            body += chunk
        return status, body if length is None else body[:length]


class Monitor:
    """Samples the server every `interval` s in a thread: max of /stats buffered and budget_used,
    max RSS and max descriptors, so a test can assert a bound held throughout."""

    def __init__(self, server, interval=0.02, stats=True):
        self.server = server
        self.with_stats = stats
        self.interval = interval
        self.max_buffered = 0
        self.max_budget_used = 0
        self.max_rss = 0
        self.max_fds = 0
        self.samples = 0
        self.errors = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join(timeout=10)

    def _run(self):
        while not self._stop.is_set():
            try:
                self.max_rss = max(self.max_rss, self.server.rss())
                self.max_fds = max(self.max_fds, self.server.fds())
                if not self.with_stats:
                    self.samples += 1
                    self._stop.wait(self.interval)
                    continue
                stats = self.server.stats(timeout=1)
                self.max_buffered = max(self.max_buffered, stats["buffered"])
                self.max_budget_used = max(self.max_budget_used, stats["budget_used"])
                self.samples += 1
            except Exception as error:  # noqa: BLE001 - recorded, reported by the test
                self.errors.append(repr(error))
            self._stop.wait(self.interval)

    def summary(self):
        return (f"max buffered={self.max_buffered} max budget_used={self.max_budget_used} "
                f"max rss={self.max_rss // KiB} KiB max fds={self.max_fds} samples={self.samples}"
                + (f" errors={self.errors[:3]}" if self.errors else ""))


class CPUMeter:
    """CPU share of a process over a window: (cpu seconds used) / (wall seconds)."""

    def __init__(self, server):
        self.server = server
        self.cpu0 = server.cpu_seconds()
        self.t0 = time.monotonic()

    def share(self):
        return (self.server.cpu_seconds() - self.cpu0) / max(time.monotonic() - self.t0, 1e-6)


# ---------------------------------------------------------------------------------------------
# Raw WebSocket client


def mask_bytes(payload, key):
    n = len(payload)
    if n == 0:
        return b""
    repeated = (key * (n // 4 + 1))[:n]
    return (int.from_bytes(payload, "little") ^ int.from_bytes(repeated, "little")).to_bytes(n, "little")


def frame(opcode, payload=b"", fin=True, rsv1=False, key=None, length=None):
    """A client frame (masked). `length` announces a payload length other than len(payload)."""
    if isinstance(payload, str):
        payload = payload.encode()
    first = (0x80 if fin else 0) | (0x40 if rsv1 else 0) | opcode
    n = len(payload) if length is None else length
    if n < 126:
        head = bytes([first, 0x80 | n])
    elif n < 65536:
        head = struct.pack("!BBH", first, 0x80 | 126, n)
    else:
        head = struct.pack("!BBQ", first, 0x80 | 127, n)
    key = os.urandom(4) if key is None else key
    return head + key + mask_bytes(payload, key)


def close_frame(code=1000, reason=b""):
    return frame(OP_CLOSE, struct.pack("!H", code) + reason)


class CloseResult:
    """What a peer saw at the end: a close frame with `code`, or an `error` before one."""

    def __init__(self, code=None, reason=b"", error=None, elapsed=0.0, frames=0):
        self.code, self.reason, self.error, self.elapsed, self.frames = code, reason, error, elapsed, frames

    def __repr__(self):
        if self.error:
            return f"<no close frame: {self.error} after {self.elapsed:.2f} s, {self.frames} frames before>"
        return f"<close {self.code} {self.reason!r} after {self.elapsed:.2f} s>"


class RawClient:
    """A WebSocket client over a plain socket, for what well-behaved libraries refuse to do."""

    def __init__(self, port, path="/", rcvbuf=None, deflate=False, timeout=5.0, handshake=True):
        self.port = port
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        if rcvbuf:
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
        self.sock.settimeout(timeout)
        self.sock.connect((HOST, port))
        self.buffer = b""
        self.send_lock = threading.Lock()  # whole frames, when a reader thread answers pings
        self.extensions = ""
        self.client_window_bits = 15
        if handshake:
            self.handshake(path, deflate)

    def handshake(self, path="/", deflate=False):
        key = base64.b64encode(os.urandom(16)).decode()
        lines = [f"GET {path} HTTP/1.1", f"Host: {HOST}:{self.port}", "Upgrade: websocket",
                 "Connection: Upgrade", f"Sec-WebSocket-Key: {key}", "Sec-WebSocket-Version: 13"]
        if deflate:
            lines.append("Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits")
        self.sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode())
        while b"\r\n\r\n" not in self.buffer:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise ConnectionError(f"handshake: connection closed after {self.buffer!r}")
            self.buffer += chunk
        head, _, self.buffer = self.buffer.partition(b"\r\n\r\n")
        status = head.split(b"\r\n", 1)[0]
        if b" 101 " not in status + b" ":
            raise ConnectionError(f"handshake refused: {head[:300]!r}")
        for header in head.split(b"\r\n")[1:]:
            name, _, value = header.partition(b":")
            if name.strip().lower() == b"sec-websocket-extensions":
                self.extensions = value.strip().decode()
        match = re.search(r"client_max_window_bits=(\d+)", self.extensions)
        if match:
            self.client_window_bits = int(match.group(1))

    @property
    def deflate(self):
        return "permessage-deflate" in self.extensions

    def send(self, data):
        with self.send_lock:
            self.sock.sendall(data)

    def send_message(self, opcode, payload):
        self.send(frame(opcode, payload))

    def _fill(self, n):
        while len(self.buffer) < n:
            chunk = self.sock.recv(max(65536, n - len(self.buffer)))
            if not chunk:
                raise EOFError("EOF")
            self.buffer += chunk

    def recv_frame(self):
        """(fin, rsv1, opcode, payload) of the next frame; raises on EOF / reset / timeout."""
        self._fill(2)
        b0, b1 = self.buffer[0], self.buffer[1]
        n, offset = b1 & 0x7F, 2
        if n == 126:
            self._fill(4)
            n, offset = struct.unpack("!H", self.buffer[2:4])[0], 4
        elif n == 127:
            self._fill(10)
            n, offset = struct.unpack("!Q", self.buffer[2:10])[0], 10
        key = None
        if b1 & 0x80:
            self._fill(offset + 4)
            key, offset = self.buffer[offset:offset + 4], offset + 4
        self._fill(offset + n)
        payload = self.buffer[offset:offset + n]
        self.buffer = self.buffer[offset + n:]
        if key:
            payload = mask_bytes(payload, key)
        return bool(b0 & 0x80), bool(b0 & 0x40), b0 & 0x0F, payload

    def read_close(self, timeout=5.0):
        """Reads (and discards) frames until a close frame; a reset, EOF or timeout before it is
        reported as `error`."""
        start = time.monotonic()
        deadline = start + timeout
        frames = 0
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return CloseResult(error="timeout", elapsed=time.monotonic() - start, frames=frames)
            self.sock.settimeout(remaining)
            try:
                _, _, opcode, payload = self.recv_frame()
            except socket.timeout:
                return CloseResult(error="timeout", elapsed=time.monotonic() - start, frames=frames)
            except EOFError:
                return CloseResult(error="EOF", elapsed=time.monotonic() - start, frames=frames)
            except OSError as error:
                return CloseResult(error=type(error).__name__ + f"({error.errno})",
                                   elapsed=time.monotonic() - start, frames=frames)
            frames += 1
            if opcode == OP_CLOSE:
                code = struct.unpack("!H", payload[:2])[0] if len(payload) >= 2 else 1005
                return CloseResult(code=code, reason=payload[2:], elapsed=time.monotonic() - start,
                                   frames=frames)

    def wait_closed_by_server(self, timeout):
        """Reads until the server ends the TCP connection (EOF or reset); True if it did in time."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            self.sock.settimeout(max(deadline - time.monotonic(), 0.01))
            try:
                if not self.sock.recv(65536):
                    return True
            except socket.timeout:
                return False
            except OSError:
                return True
        return False

    def reset(self):
        """Closes with RST (SO_LINGER 0)."""
        try:
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        except OSError:
            pass
        self.close()

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass


def flood_pings(client, count=120_000):
    """Sends `count` pings of 125 bytes in blocks of 1,000 without reading; says how it ended
    (a server that cuts the flooder makes the send fail)."""
    block = frame(OP_PING, b"p" * 125) * 1000
    for sent in range(0, count, 1000):
        try:
            client.send(block)
        except OSError as error:
            return f"send failed after {sent} pings: {type(error).__name__}"
    return f"all {count} pings sent"


def deflate_bomb(size, window_bits=15):
    """A permessage-deflate payload (RFC 7692: trailing 00 00 ff ff removed) inflating to `size`
    zero bytes."""
    compressor = zlib.compressobj(9, zlib.DEFLATED, -window_bits, 9)
    chunk = bytes(MiB)
    parts = []
    remaining = size
    while remaining > 0:
        parts.append(compressor.compress(chunk[:min(remaining, MiB)]))
        remaining -= min(remaining, MiB)
    parts.append(compressor.flush(zlib.Z_SYNC_FLUSH))
    data = b"".join(parts)
    assert data.endswith(b"\x00\x00\xff\xff")
    return data[:-4]


def percentile(values, p):
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))]
