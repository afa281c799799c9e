"""A scripted WebSocket peer that tests the other side the way the Autobahn testsuite does, in
either role:

* `FuzzingServer` tests a *client*, like Autobahn's `fuzzingserver`: the client under test
  connects to `/runCase?case=ID`, echoes every message it receives (text as text, binary as
  binary) and answers the server's close.
* `open_client` tests a *server*, like Autobahn's `fuzzingclient`: it connects to an echo server
  and plays the case as the client.

Either way a case script (cases.py) gets a `Peer`, sends frames byte by byte as it likes (valid or
not, fragmented, with pings in between, compressed) and checks what comes back: the echoed
messages, pongs, the close frame's code, and that nothing follows a close. Masking follows the
role (RFC 6455 section 5.1): the scripted client masks, the scripted server does not, and each
checks the other side does the opposite.

Only the standard library; talks to 127.0.0.1 on ports the OS picks; every wait is bounded.
"""

from __future__ import annotations

import asyncio
import errno
import base64
import hashlib
import os
import struct
import urllib.parse
import zlib
from dataclasses import dataclass, field
from typing import Awaitable, Callable, Dict, Optional, Tuple

GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
TEXT, BINARY, CLOSE, PING, PONG, CONTINUATION = 0x1, 0x2, 0x8, 0x9, 0xA, 0x0
WAIT = 5.0  # seconds: the longest any single expectation waits


class CaseFailed(AssertionError):
    """The client did not behave as the case requires."""


@dataclass
class Frame:
    fin: bool
    rsv: int
    opcode: int
    payload: bytes


@dataclass
class Deflate:
    """permessage-deflate as negotiated, from the scripted peer's side: `own_window_bits` for
    what it compresses, `peer_window_bits` for what it inflates (checking that the other side
    keeps to the window it agreed to). No context takeover either way keeps the script simple:
    each message is compressed and inflated on its own."""
    own_window_bits: int = 15
    peer_window_bits: int = 15

    def compress(self, payload: bytes) -> bytes:
        # zlib cannot deflate with an 8-bit window; the cases use 9 to 15.
        compressor = zlib.compressobj(zlib.Z_DEFAULT_COMPRESSION, zlib.DEFLATED, -self.own_window_bits)
        data = compressor.compress(payload) + compressor.flush(zlib.Z_SYNC_FLUSH)
        assert data.endswith(b"\x00\x00\xff\xff")
        return data[:-4]

    def decompress(self, payload: bytes) -> bytes:
        return zlib.decompressobj(-self.peer_window_bits).decompress(payload + b"\x00\x00\xff\xff")


class Peer:
    """One client connection as a case script sees it."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, deflate: Optional[Deflate],
                 is_client: bool):
        self.reader, self.writer, self.deflate = reader, writer, deflate
        #: True when the scripted peer is the client (it masks; the server under test must not).
        self.is_client = is_client

    # ---- sending (masked when the scripted peer is the client) ----
    def frame_bytes(self, opcode: int, payload: bytes = b"", fin: bool = True, rsv: int = 0,
                    masked: Optional[bool] = None) -> bytes:
        """One frame; `masked` overrides what the role says (for cases that break the rule)."""
        masked = self.is_client if masked is None else masked
        key = os.urandom(4) if masked else b""
        return _head(opcode, len(payload), fin, rsv, masked) + key + (_unmask(payload, key) if masked else payload)

    def frame_head(self, opcode: int, length: int, fin: bool = True) -> bytes:
        """The head of a frame announcing `length` payload bytes (for cases that send only part
        of a payload); with the mask key 0 when the role masks, so the payload goes as it is."""
        return _head(opcode, length, fin, 0, self.is_client) + (b"\0\0\0\0" if self.is_client else b"")

    async def send(self, opcode: int, payload: bytes = b"", fin: bool = True, rsv: int = 0) -> None:
        self.writer.write(self.frame_bytes(opcode, payload, fin, rsv))
        await self.writer.drain()

    async def send_raw(self, data: bytes) -> None:
        self.writer.write(data)
        await self.writer.drain()

    async def send_compressed(self, opcode: int, payload: bytes) -> None:
        assert self.deflate is not None, "the case needs permessage-deflate"
        await self.send(opcode, self.deflate.compress(payload), rsv=0b100)

    async def close(self, code: Optional[int] = 1000, reason: bytes = b"") -> None:
        await self.send(CLOSE, b"" if code is None else struct.pack("!H", code) + reason)

    # ---- receiving (masked only from a client) ----
    async def frame(self, wait: float = WAIT) -> Optional[Frame]:
        """The next frame from the side under test, or None when it closed the TCP connection."""
        try:
            head = await asyncio.wait_for(self.reader.readexactly(2), wait)
        except asyncio.IncompleteReadError:
            return None
        except asyncio.TimeoutError:
            raise CaseFailed(f"nothing from the client within {wait} s") from None
        length = head[1] & 0x7F
        masked = bool(head[1] & 0x80)
        if masked == self.is_client:
            raise CaseFailed(f"the {'server' if self.is_client else 'client'} sent "
                             f"{'a masked' if masked else 'an unmasked'} frame (RFC 6455 section 5.1)")
        if length == 126:
            length = struct.unpack("!H", await self.reader.readexactly(2))[0]
        elif length == 127:
            length = struct.unpack("!Q", await self.reader.readexactly(8))[0]
        key = await self.reader.readexactly(4) if masked else b"\0\0\0\0"
        data = await asyncio.wait_for(self.reader.readexactly(length), WAIT)
        payload = _unmask(data, key) if masked else data
        return Frame(bool(head[0] & 0x80), (head[0] >> 4) & 7, head[0] & 0x0F, payload)

    async def message(self) -> tuple:
        """The next data message (opcode, payload), reassembled and inflated; pongs skipped."""
        opcode, parts, compressed = None, [], False
        while True:
            frame = await self.frame()
            if frame is None:
                raise CaseFailed("the peer closed the connection instead of echoing")
            if frame.opcode == PONG:
                continue
            if frame.opcode == CLOSE:
                raise CaseFailed(f"the peer closed ({_close_code(frame.payload)}) instead of echoing")
            if opcode is None:
                opcode, compressed = frame.opcode, bool(frame.rsv & 0b100)
            parts.append(frame.payload)
            if frame.fin:
                payload = b"".join(parts)
                if compressed:
                    assert self.deflate is not None
                    payload = self.deflate.decompress(payload)
                return opcode, payload

    async def expect_echo(self, opcode: int, payload: bytes) -> None:
        got = await self.message()
        if got != (opcode, payload):
            raise CaseFailed(f"expected the echo of opcode {opcode} ({len(payload)} bytes), got opcode {got[0]} "
                             f"({len(got[1])} bytes)")

    async def expect_pong(self, payload: bytes) -> None:
        frame = await self.frame()
        if frame is None or frame.opcode != PONG or frame.payload != payload:
            raise CaseFailed(f"expected a pong with {payload[:20]!r}, got {frame}")

    async def expect_close(self, *codes: int) -> None:
        """The next frame (pongs aside) is a close with one of `codes` (None: without a code);
        data frames before it fail the case, and so does anything after it."""
        frame = await self.frame()
        while frame is not None and frame.opcode == PONG:
            frame = await self.frame()
        self.check_close(frame, *codes)
        await self.expect_nothing_more()

    def check_close(self, frame: Optional[Frame], *codes: int) -> None:
        """`frame` is a close with one of `codes`."""
        if frame is None:
            raise CaseFailed(f"the peer dropped the connection without a close frame (expected {codes})")
        if frame.opcode != CLOSE:
            raise CaseFailed(f"expected a close {codes}, got opcode {frame.opcode} ({frame.payload[:30]!r})")
        code = _close_code(frame.payload)
        if code not in codes:
            raise CaseFailed(f"expected close code {codes}, got {code} ({frame.payload[2:]!r})")

    async def expect_nothing_more(self) -> None:
        """Nothing may follow a close frame (RFC 6455 section 5.5.1): end our side and read what
        the peer still sends until it closes its side too. A peer that *failed* the connection
        (RFC 6455 section 7.1.7) may drop TCP at once; if our script had sent frames it never
        read, its kernel answers with a reset, which ends the connection with nothing more sent."""
        try:
            self.writer.write_eof()
            rest = await asyncio.wait_for(self.reader.read(), WAIT)
        except asyncio.TimeoutError:
            raise CaseFailed(f"the peer kept the connection open {WAIT} s after the close handshake") from None
        except (ConnectionResetError, BrokenPipeError):
            rest = b""
        except OSError as error:
            if error.errno != errno.ENOTCONN:
                raise
            rest = b""
        if rest:
            raise CaseFailed(f"the peer sent {len(rest)} bytes after its close frame")
        self.writer.close()

    async def close_handshake(self, code: int = 1000) -> None:
        """The scripted peer closes normally; the other side must answer with a close (the same
        code)."""
        await self.close(code)
        await self.expect_close(code)


def _head(opcode: int, length: int, fin: bool, rsv: int, masked: bool) -> bytes:
    """A frame head up to the mask key (RFC 6455 section 5.2)."""
    head = bytes([(0x80 if fin else 0) | (rsv << 4) | opcode])
    mask_bit = 0x80 if masked else 0
    if length < 126:
        return head + bytes([mask_bit | length])
    if length < 1 << 16:
        return head + bytes([mask_bit | 126]) + struct.pack("!H", length)
    return head + bytes([mask_bit | 127]) + struct.pack("!Q", length)


def _unmask(data: bytes, key: bytes) -> bytes:
    """XOR with the 4-byte key repeated (masking and unmasking are the same operation)."""
    if not data:
        return b""
    repeated = (key * (len(data) // 4 + 1))[: len(data)]
    return (int.from_bytes(data, "big") ^ int.from_bytes(repeated, "big")).to_bytes(len(data), "big")


def _close_code(payload: bytes) -> Optional[int]:
    return struct.unpack("!H", payload[:2])[0] if len(payload) >= 2 else None


Case = Callable[[Peer], Awaitable[None]]


@dataclass
class Outcome:
    error: Optional[BaseException] = None
    done: asyncio.Event = field(default_factory=asyncio.Event)


class FuzzingServer:
    """Serves the cases in `cases` (by ID) on 127.0.0.1; `outcome(ID)` says how a case went.
    `deflate_for(ID)` (optional) gives the windows (server bits, client bits) to answer a
    permessage-deflate offer with for a case (None: decline)."""

    def __init__(self, cases: Dict[str, Case],
                 deflate_for: Callable[[str], Optional[Tuple[int, int]]] = lambda _: None):
        self.cases, self.deflate_for = cases, deflate_for
        self.outcomes: Dict[str, Outcome] = {}
        self.server: Optional[asyncio.base_events.Server] = None

    async def start(self) -> int:
        self.server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        return self.server.sockets[0].getsockname()[1]

    async def stop(self) -> None:
        if self.server is not None:
            self.server.close()
            await self.server.wait_closed()

    def outcome(self, case: str) -> Outcome:
        return self.outcomes.setdefault(case, Outcome())

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        case = None
        try:
            head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), WAIT)
            lines = head.decode("latin-1").split("\r\n")
            target = lines[0].split(" ")[1]
            case = urllib.parse.parse_qs(urllib.parse.urlsplit(target).query)["case"][0]
            headers: Dict[str, str] = {}
            for line in lines[1:]:
                if ":" in line:
                    name, value = line.split(":", 1)
                    headers[name.strip().lower()] = (headers.get(name.strip().lower(), "") + ", " if name.strip().lower() in headers else "") + value.strip()
            accept = base64.b64encode(hashlib.sha1(headers["sec-websocket-key"].encode() + GUID).digest()).decode()
            response = ("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                        f"Sec-WebSocket-Accept: {accept}\r\n")
            windows = self.deflate_for(case)
            deflate = None
            if windows is not None:
                server_bits, client_bits = windows
                offer = headers.get("sec-websocket-extensions", "")
                if "permessage-deflate" not in offer:
                    raise CaseFailed("the client did not offer permessage-deflate")
                response += ("Sec-WebSocket-Extensions: permessage-deflate; server_no_context_takeover; "
                             "client_no_context_takeover")
                if server_bits != 15:
                    response += f"; server_max_window_bits={server_bits}"
                if client_bits != 15:
                    if "client_max_window_bits" not in offer:
                        raise CaseFailed("the client did not offer client_max_window_bits")
                    response += f"; client_max_window_bits={client_bits}"
                response += "\r\n"
                deflate = Deflate(own_window_bits=server_bits, peer_window_bits=client_bits)
            writer.write((response + "\r\n").encode())
            await writer.drain()
            await self.cases[case](Peer(reader, writer, deflate, is_client=False))
        except BaseException as error:  # noqa: BLE001 - reported to the test through the outcome
            if case is not None:
                self.outcome(case).error = error
        finally:
            writer.close()
            if case is not None:
                self.outcome(case).done.set()


async def open_client(port: int, windows: Optional[Tuple[int, int]] = None, path: str = "/") -> Peer:
    """Connects to the echo server under test on 127.0.0.1:`port` as the scripted client. With
    `windows` (server bits, client bits) it offers permessage-deflate with no context takeover
    either way, `server_max_window_bits` below 15 and `client_max_window_bits` (the client may
    use a window of `client bits`), and fails unless the server accepts those terms."""
    reader, writer = await asyncio.wait_for(asyncio.open_connection("127.0.0.1", port), WAIT)
    key = base64.b64encode(os.urandom(16)).decode()
    request = (f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUpgrade: websocket\r\n"
               f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n")
    if windows is not None:
        server_bits, client_bits = windows
        request += ("Sec-WebSocket-Extensions: permessage-deflate; server_no_context_takeover; "
                    "client_no_context_takeover; client_max_window_bits")
        request += f"; server_max_window_bits={server_bits}\r\n" if server_bits != 15 else "\r\n"
    writer.write((request + "\r\n").encode())
    head = (await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), WAIT)).decode("latin-1")
    lines = head.split("\r\n")
    if not lines[0].startswith("HTTP/1.1 101"):
        raise CaseFailed(f"the server answered {lines[0]!r}")
    headers = {name.strip().lower(): value.strip() for name, _, value in (line.partition(":") for line in lines[1:]) if value}
    expected = base64.b64encode(hashlib.sha1(key.encode() + GUID).digest()).decode()
    if headers.get("sec-websocket-accept") != expected:
        raise CaseFailed("wrong Sec-WebSocket-Accept")
    deflate = None
    if windows is not None:
        answer = headers.get("sec-websocket-extensions", "")
        parameters = dict((p.partition("=")[0].strip(), p.partition("=")[2].strip())
                          for p in answer.split(";")[1:])
        if not answer.startswith("permessage-deflate") or "server_no_context_takeover" not in parameters:
            raise CaseFailed(f"the server did not accept the permessage-deflate offer as made: {answer!r}")
        server_window = int(parameters.get("server_max_window_bits") or 15)
        if server_window > windows[0]:
            raise CaseFailed(f"the server chose a window of {server_window} bits, above the {windows[0]} offered")
        client_window = min(windows[1], int(parameters.get("client_max_window_bits") or 15))
        deflate = Deflate(own_window_bits=client_window, peer_window_bits=server_window)
    return Peer(reader, writer, deflate, is_client=True)


def random_bytes(n: int) -> bytes:
    return os.urandom(n)
