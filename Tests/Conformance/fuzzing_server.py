"""A scripted WebSocket server that tests a *client*, the way the Autobahn testsuite's
`fuzzingserver` does: the client under test connects to `/runCase?case=ID`, echoes every message
it receives (text as text, binary as binary) and answers the server's close; the case script sends
frames byte by byte as it likes (valid or not, fragmented, with pings in between, compressed) and
checks what comes back: the echoed messages, pongs, the close frame's code, and who drops the TCP
connection. Frames from the client must be masked (RFC 6455 section 5.1).

Only the standard library; talks to 127.0.0.1 on a port the OS picks; every wait is bounded.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import os
import struct
import urllib.parse
import zlib
from dataclasses import dataclass, field
from typing import Awaitable, Callable, Dict, List, Optional

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
    """permessage-deflate as the server accepted it (no context takeover on either side keeps
    the scripted server simple; the client must honour what the server answered)."""
    server_max_window_bits: int = 15
    client_max_window_bits: int = 15

    def compress(self, payload: bytes) -> bytes:
        compressor = zlib.compressobj(zlib.Z_DEFAULT_COMPRESSION, zlib.DEFLATED, -max(self.server_max_window_bits, 9))
        data = compressor.compress(payload) + compressor.flush(zlib.Z_SYNC_FLUSH)
        assert data.endswith(b"\x00\x00\xff\xff")
        return data[:-4]

    def decompress(self, payload: bytes) -> bytes:
        return zlib.decompressobj(-self.client_max_window_bits).decompress(payload + b"\x00\x00\xff\xff")


class Peer:
    """One client connection as a case script sees it."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, deflate: Optional[Deflate]):
        self.reader, self.writer, self.deflate = reader, writer, deflate

    # ---- sending (the server's frames are never masked) ----
    def frame_bytes(self, opcode: int, payload: bytes = b"", fin: bool = True, rsv: int = 0) -> bytes:
        head = bytes([(0x80 if fin else 0) | (rsv << 4) | opcode])
        length = len(payload)
        if length < 126:
            head += bytes([length])
        elif length < 1 << 16:
            head += bytes([126]) + struct.pack("!H", length)
        else:
            head += bytes([127]) + struct.pack("!Q", length)
        return head + payload

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

    # ---- receiving (the client's frames must be masked) ----
    async def frame(self, wait: float = WAIT) -> Optional[Frame]:
        """The next frame from the client, or None when it closed the TCP connection."""
        try:
            head = await asyncio.wait_for(self.reader.readexactly(2), wait)
        except asyncio.IncompleteReadError:
            return None
        except asyncio.TimeoutError:
            raise CaseFailed(f"nothing from the client within {wait} s") from None
        length = head[1] & 0x7F
        if not head[1] & 0x80:
            raise CaseFailed("the client sent an unmasked frame (RFC 6455 section 5.1)")
        if length == 126:
            length = struct.unpack("!H", await self.reader.readexactly(2))[0]
        elif length == 127:
            length = struct.unpack("!Q", await self.reader.readexactly(8))[0]
        key = await self.reader.readexactly(4)
        data = await asyncio.wait_for(self.reader.readexactly(length), WAIT)
        payload = bytes(b ^ key[i % 4] for i, b in enumerate(data)) if length < 4096 else _unmask(data, key)
        return Frame(bool(head[0] & 0x80), (head[0] >> 4) & 7, head[0] & 0x0F, payload)

    async def message(self) -> tuple:
        """The next data message (opcode, payload), reassembled and inflated; pongs skipped."""
        opcode, parts, compressed = None, [], False
        while True:
            frame = await self.frame()
            if frame is None:
                raise CaseFailed("the client closed the connection instead of echoing")
            if frame.opcode == PONG:
                continue
            if frame.opcode == CLOSE:
                raise CaseFailed(f"the client closed ({_close_code(frame.payload)}) instead of echoing")
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
        """The client's next frame is a close with one of `codes` (None: without a code); data
        frames before it fail the case. Then the server ends the TCP connection, as RFC 6455
        section 7.1.1 says the server should."""
        frame = await self.frame()
        while frame is not None and frame.opcode == PONG:
            frame = await self.frame()
        if frame is None:
            raise CaseFailed(f"the client dropped the connection without a close frame (expected {codes})")
        if frame.opcode != CLOSE:
            raise CaseFailed(f"expected a close {codes}, got opcode {frame.opcode} ({frame.payload[:30]!r})")
        code = _close_code(frame.payload)
        if code not in codes:
            raise CaseFailed(f"expected close code {codes}, got {code} ({frame.payload[2:]!r})")
        # Nothing may follow a close frame (RFC 6455 section 5.5.1): end our side and read what
        # the client still sends until it closes its side too.
        self.writer.write_eof()
        try:
            rest = await asyncio.wait_for(self.reader.read(), WAIT)
        except asyncio.TimeoutError:
            raise CaseFailed(f"the client kept the connection open {WAIT} s after the close handshake") from None
        if rest:
            raise CaseFailed(f"the client sent {len(rest)} bytes after its close frame")
        self.writer.close()

    async def close_handshake(self, code: int = 1000) -> None:
        """The server closes normally; the client must answer with a close (the same code)."""
        await self.close(code)
        await self.expect_close(code)


def _unmask(data: bytes, key: bytes) -> bytes:
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
    `deflate_for(ID)` (optional) gives the permessage-deflate parameters to accept for a case,
    when the client offers it."""

    def __init__(self, cases: Dict[str, Case], deflate_for: Callable[[str], Optional[Deflate]] = lambda _: None):
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
            deflate = self.deflate_for(case)
            if deflate is not None:
                if "permessage-deflate" not in headers.get("sec-websocket-extensions", ""):
                    raise CaseFailed("the client did not offer permessage-deflate")
                response += ("Sec-WebSocket-Extensions: permessage-deflate; server_no_context_takeover; "
                             "client_no_context_takeover")
                if deflate.server_max_window_bits != 15:
                    response += f"; server_max_window_bits={deflate.server_max_window_bits}"
                if deflate.client_max_window_bits != 15:
                    response += f"; client_max_window_bits={deflate.client_max_window_bits}"
                response += "\r\n"
            writer.write((response + "\r\n").encode())
            await writer.drain()
            await self.cases[case](Peer(reader, writer, deflate))
        except BaseException as error:  # noqa: BLE001 - reported to the test through the outcome
            if case is not None:
                self.outcome(case).error = error
        finally:
            writer.close()
            if case is not None:
                self.outcome(case).done.set()


def random_bytes(n: int) -> bytes:
    return os.urandom(n)
