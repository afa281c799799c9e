"""``Connection``: one open WebSocket connection in the asyncio API (server or client side).

Shaped like ``websockets.asyncio.connection.Connection``: ``recv``, ``recv_streaming``,
``send``, ``async for``, ``async with``, ``ping``, ``pong``, ``close``, ``wait_closed``,
``close_code`` / ``close_reason``, ``subprotocol``, ``request`` / ``response``,
``local_address`` / ``remote_address``, ``latency``, ``logger``. Everything runs on the asyncio loop's thread (which is also the
native loop's thread), so calls go straight to the loop-thread-only ``sws_conn_*`` functions.
"""

from __future__ import annotations

import asyncio
import codecs
import collections
import enum
import logging
import random
import struct
import time
import uuid
from ctypes import addressof, byref, c_char as ctypes_char, c_char_p, c_int, sizeof as ctypes_sizeof
from typing import (Any, AsyncIterable, AsyncIterator, Awaitable, Callable, Dict, Iterable, Mapping,
                    Optional, Tuple, Union)

from .. import _native as n
from .._config import milliseconds
from .._driver import NativeLoop, logger
from ..extensions.permessage_deflate import PerMessageDeflate
from ..exceptions import ConcurrencyError, ConnectionClosed, SwiftWSError, connection_closed
from ..frames import Close
from ..http11 import Request, Response
from ..uri import parse_uri

__all__ = ["Connection", "State", "Data"]


def __getattr__(name: str) -> Any:
    # websockets has broadcast() here and in asyncio.server; ours lives with the server (it
    # knows the connections of every native loop), which imports this module: served lazily.
    if name == "broadcast":
        from .server import broadcast
        return broadcast
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


_send_text = getattr(n.fast, "sws_conn_send_text", None)  # None with a library lacking networking
_send_binary = getattr(n.fast, "sws_conn_send_binary", None)
_OK, _SENT = n.SWS_OK, n.SWS_SEND_SENT  # module globals: no attribute lookup per message
_TEXT, _BINARY = n.SWS_MESSAGE_TEXT, n.SWS_MESSAGE_BINARY

Data = Union[str, bytes]


class State(enum.IntEnum):
    """Where a connection is (as ``websockets.protocol.State``)."""

    CONNECTING = 0
    OPEN = 1
    CLOSING = 2
    CLOSED = 3


def _parse_address(text: str) -> Any:
    """(host, port) of "127.0.0.1:80" or "[::1]:80"; a Unix socket's path (as asyncio gives it)
    for "unix:/path" or "unix:@abstract"."""
    if text.startswith("unix:"):
        return text[5:]
    host, _, port = text.rpartition(":")
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    return host, int(port or 0)


class ProtocolView:
    """``connection.protocol``: the parts of websockets' sans-I/O protocol object that programs
    read — ``state`` and the agreed ``extensions`` — from the native library (which does the
    protocol work; there is no Python protocol object to drive)."""

    def __init__(self, connection: "Connection") -> None:
        self._connection = connection

    @property
    def state(self) -> "State":
        return self._connection.state

    @property
    def extensions(self) -> list:
        return [PerMessageDeflate()] if self._connection.compressed else []

    @property
    def uri(self) -> Any:
        """A client's ``WebSocketURI``: the URI of the request that opened the connection (the
        last one after redirects). Servers have none (websockets' ServerProtocol neither)."""
        uri = self._connection._uri
        if uri is None:
            raise AttributeError("uri: only a client connection has one")
        return parse_uri(uri)

    @property
    def close_code(self) -> Optional[int]:
        return self._connection.close_code

    @property
    def close_reason(self) -> Optional[str]:
        return self._connection.close_reason



class _Fragment:
    """One frame of a fragmented message, queued like a message once ``recv_streaming`` turned
    frame-by-frame delivery on (``sws_conn_set_stream_fragmented``): ``recv`` joins a message's
    fragments, ``recv_streaming`` yields each as it comes."""

    __slots__ = ("data", "first", "final")

    def __init__(self, data: Data, first: bool, final: bool) -> None:
        self.data = data
        self.first = first
        self.final = final

class Connection:
    """An open WebSocket connection. Not created directly: ``serve`` hands one to the handler,
    ``connect`` returns one."""

    #: Above this many buffered bytes, ``send`` waits until the peer has read them (backpressure).
    write_limit: int = 32 * 1024

    def __init__(self, native: NativeLoop, conn: Optional[int] = None) -> None:
        """A connection over the native ``conn``; without one, a connection still in its opening
        handshake (CONNECTING), which ``_attach`` completes (the server's process_request sees it)."""
        self._native = native
        self._conn: Optional[int] = None
        self._loop = native.aloop
        self.id = uuid.uuid4()
        self._messages: "collections.deque[Data]" = collections.deque()
        self._waiter: Optional[asyncio.Future] = None
        self._closed: asyncio.Future = self._loop.create_future()
        self._drain: Optional[asyncio.Future] = None
        self._pings: Dict[bytes, Tuple[asyncio.Future, float]] = {}
        self._result = c_int()
        # Where every send writes its sws_send_result: an int address for the fast (PyDLL)
        # declarations (see _native), reused, so no allocation or conversion per message.
        self._result_ref = addressof(self._result)
        #: Called by the native loop with each message (subclasses may replace it).
        self._message_sink: Callable[[Data], None] = self._on_message
        self._state = State.CONNECTING
        self.close_code: Optional[int] = None
        self.close_reason: Optional[str] = None
        #: The close frame this side began the closing handshake with (for ConnectionClosed.sent).
        self._close_sent: Optional[Close] = None
        #: Whether the close timeout ended the connection (the library's sws_conn_close_timed_out):
        #: the ConnectionClosed raised then has a TimeoutError as its cause, as websockets'.
        self._close_timed_out = False
        #: See the ``close_timeout`` property (the client or server sets the configured value).
        self._close_timeout: Optional[float] = 10
        #: Whether a send was buffered behind bytes the peer has not read (or dropped by a
        #: limit) since the last on_drain: collected sends (ListenerConnection) are then not
        #: collected, so that send_nowait can still report False.
        self._backlogged = False
        #: Set while send() writes the frames of a fragmented message.
        self._fragmenting: Optional[asyncio.Future] = None
        #: Seconds of the last ping round trip (0 before any).
        self.latency: float = 0.0
        #: websockets' max_queue: reading pauses while `high` received messages wait for recv,
        #: and resumes at `low` (None: no limit).
        self.max_queue: Tuple[Optional[int], Optional[int]] = (16, 4)
        self._reading_paused = False
        #: Frame-by-frame delivery of fragmented messages is on (recv_streaming; a sync connection at open).
        self._streams_fragments = False
        #: Decodes the text message being streamed (a frame may end inside a character).
        self._fragment_decoder: Any = None
        #: A recv_streaming left a message unfinished: as websockets, receiving is over
        #: (ConcurrencyError), since the rest of that message cannot be told from the next one.
        self._stream_abandoned = False
        #: The opening handshake's request and response (set by the server or the client).
        self.request: Optional[Request] = None
        self.response: Optional[Response] = None
        #: Where this connection logs: the server's or the client's ``logger`` in a
        #: ``LoggerAdapter`` that gives each record a ``websocket`` attribute (as websockets).
        self.logger: Any = logging.LoggerAdapter(logging.getLogger("websockets.client"), {"websocket": self})
        self.path = "/"
        self.query: Optional[str] = None
        #: A client's URI as opened (after redirects); None for a server's connection.
        self._uri: Optional[str] = None
        self.subprotocol: Optional[str] = None
        self.compressed = False
        self.remote_address: Optional[Tuple[str, int]] = None
        self.local_address: Optional[Tuple[str, int]] = None
        if conn is not None:
            self._attach(conn)

    def _attach(self, conn: int) -> None:
        """The native connection opened: reads what it knows (path, subprotocol, addresses)."""
        self._conn = conn
        self._state = State.OPEN
        if self._streams_fragments:
            self._set_stream_fragmented()
        path, query, subprotocol = c_char_p(), c_char_p(), c_char_p()
        n.lib.sws_conn_info(conn, byref(path), byref(query), byref(subprotocol))
        self.path: str = (path.value or b"/").decode("utf-8", "replace")
        self.query: Optional[str] = query.value.decode("utf-8", "replace") if query.value else None
        self.subprotocol: Optional[str] = subprotocol.value.decode() if subprotocol.value else None
        self.compressed = bool(n.lib.sws_conn_is_compressed(conn))
        buffer = (ctypes_char * 64)()
        if n.lib.sws_conn_remote_address(conn, buffer, 64) == n.SWS_OK:
            self.remote_address = _parse_address(buffer.value.decode())
        if n.lib.sws_conn_local_address(conn, buffer, 64) == n.SWS_OK:
            self.local_address = _parse_address(buffer.value.decode())

    # -- state -------------------------------------------------------------------------------

    @property
    def protocol(self) -> ProtocolView:
        """websockets' ``connection.protocol`` as far as programs read it (see ``ProtocolView``)."""
        return ProtocolView(self)

    @property
    def state(self) -> State:
        """OPEN, CLOSING (the close handshake began, or a timeout or limit is ending the
        connection) or CLOSED: the library's own state (``sws_conn_get_state``), not a guess."""
        conn = self._conn
        if conn is not None and self._state is not State.CLOSED:
            native = c_int()
            if n.lib.sws_conn_get_state(conn, byref(native)) == n.SWS_OK:
                # SWS_SESSION_OPEN/CLOSING/CLOSED are 0/1/2; websockets' State counts CONNECTING first.
                self._state = State(native.value + 1)
        return self._state

    @property
    def counters(self) -> Dict[str, int]:
        """Messages and payload bytes each way so far (``messages_received``, ``bytes_received``,
        ``messages_sent``, ``bytes_sent``), from the library; all 0 once closed."""
        counters = n.ConnCounters(size=ctypes_sizeof(n.ConnCounters))
        conn = self._conn
        if conn is None or n.lib.sws_conn_get_counters(conn, byref(counters)) != n.SWS_OK:
            return {name: 0 for name, _ in n.ConnCounters._fields_[1:]}
        return {name: getattr(counters, name) for name, _ in n.ConnCounters._fields_[1:]}

    @property
    def close_timeout(self) -> Optional[float]:
        """Seconds a closing handshake may take before the TCP connection is dropped (None: as
        long as the library's timer goes). Settable on an open connection, as in websockets: the
        new value applies to a close that begins afterwards (``sws_conn_set_close_timeout``)."""
        return self._close_timeout

    @close_timeout.setter
    def close_timeout(self, seconds: Optional[float]) -> None:
        # None: as long as a uint32 of milliseconds lasts, as the close_timeout option.
        self._set_close_timeout(milliseconds(seconds, 0xFFFFFFFF))
        self._close_timeout = seconds

    def _set_close_timeout(self, timeout_ms: int) -> None:
        if self._conn is not None:
            n.lib.sws_conn_set_close_timeout(self._conn, timeout_ms)

    @property
    def closed(self) -> bool:
        """Whether the connection has closed."""
        return self._state is State.CLOSED

    def _closed_exception(self) -> ConnectionClosed:
        error = connection_closed(self.close_code or n.SWS_CLOSE_ABNORMAL, self.close_reason or "", self._close_sent)
        if self._close_timed_out:
            error.__cause__ = TimeoutError()
        return error

    # -- native events -------------------------------------------------------------------------

    def _on_message(self, message: Data) -> None:
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            self._waiter = None
            self._native.resolve(waiter, message)
        else:
            self._messages.append(message)
            high = self.max_queue[0]
            if high is not None and len(self._messages) >= high and not self._reading_paused and self._conn:
                self._reading_paused = n.lib.sws_conn_pause_reading(self._conn) == n.SWS_OK

    def _on_fragment(self, kind: int, data: bytes, first: bool, final: bool) -> None:
        """One frame of a fragmented message (native on_fragment), queued as a ``_Fragment``."""
        if kind == n.SWS_MESSAGE_TEXT:
            if first:
                self._fragment_decoder = codecs.getincrementaldecoder("utf-8")()
            # The library validated the UTF-8 so far; only the message's end completes a character.
            text: Data = self._fragment_decoder.decode(data, final)
            self._on_message(_Fragment(text, first, final))  # type: ignore[arg-type]
        else:
            self._on_message(_Fragment(data, first, final))  # type: ignore[arg-type]

    def _on_pong(self, data: bytes) -> None:
        entry = self._pings.get(data)
        if entry is None:
            if len(data) == 8:
                # The library's keepalive ping carries its send time (CLOCK_MONOTONIC ns, the
                # clock of time.monotonic_ns on Linux): keepalive updates latency, as websockets'.
                elapsed = time.monotonic_ns() - int.from_bytes(data, "big")
                if 0 <= elapsed < 3_600_000_000_000:
                    self.latency = elapsed / 1e9
            return  # unsolicited, or the answer to a keepalive ping
        # As websockets: a pong acknowledges its ping and every ping sent before it.
        now = time.monotonic()
        for payload in list(self._pings):
            future, sent_at = self._pings.pop(payload)
            if not future.done():
                future.set_result(now - sent_at)
            if payload == data:
                self.latency = now - sent_at
                break

    def _on_drain(self) -> None:
        self._backlogged = False
        if self._drain is not None and not self._drain.done():
            self._drain.set_result(None)
        self._drain = None

    def _on_close(self, code: int, reason: str, initiated_locally: bool = False, timed_out: bool = False) -> None:
        self._close_timed_out = timed_out
        if initiated_locally and self._close_sent is None:
            # The library began the close (a timeout, a limit, the peer's protocol error).
            self._close_sent = Close(code, reason)
        self._conn = None
        self._state = State.CLOSED
        self.close_code = code
        self.close_reason = reason
        error = self._closed_exception()
        if self._waiter is not None and not self._waiter.done():
            self._waiter.set_exception(error)
            self._waiter.exception()  # retrieved: no "never retrieved" warning when nobody waits
        if self._drain is not None and not self._drain.done():
            self._drain.set_exception(error)
            self._drain.exception()
        for future, _ in self._pings.values():
            if not future.done():
                future.set_exception(error)
                future.exception()
        self._pings.clear()
        if not self._closed.done():
            self._closed.set_result(None)
        self._connection_lost()

    def _connection_lost(self) -> None:
        """Hook for subclasses: the connection closed (native objects are gone)."""

    # -- receiving ---------------------------------------------------------------------------

    async def recv(self, decode: Optional[bool] = None) -> Data:
        """The next message: ``str`` for text, ``bytes`` for binary (``decode`` converts).

        Raises ``ConnectionClosedOK`` / ``ConnectionClosedError`` once the connection closed and
        every message received before was returned.
        """
        if self._messages:
            message = self._take_queued()
        elif self._state is State.CLOSED:
            raise self._closed_exception()
        else:
            if self._waiter is not None or self._stream_abandoned:
                raise ConcurrencyError("cannot call recv while another coroutine is already running "
                                       "recv or recv_streaming")
            message = await self._next_item(False)
        if type(message) is _Fragment:
            message = await self._join_fragments(message)
        return message if decode is None else _converted(message, decode)

    def _recv_cancelled(self, waiter: asyncio.Future) -> None:
        """A wait for a message was cancelled: a message handed over just before must not be lost."""
        if waiter.done() and not waiter.cancelled() and waiter.exception() is None:
            self._messages.appendleft(waiter.result())
        if self._waiter is waiter:
            self._waiter = None

    async def _join_fragments(self, fragment: "_Fragment") -> Data:
        """The whole message that starts with ``fragment`` (recv of a streamed message)."""
        if not fragment.first:
            self._stream_abandoned = True
            raise ConcurrencyError("cannot call recv while another coroutine is already running "
                                   "recv or recv_streaming")
        taken = [fragment]
        try:
            while not fragment.final:
                fragment = await self._next_item(False)
                taken.append(fragment)
        except asyncio.CancelledError:
            # As websockets' recv: cancelled, it loses nothing; the next recv takes the message.
            self._messages.extendleft(reversed(taken))
            raise
        parts = [item.data for item in taken]
        return "".join(parts) if isinstance(parts[0], str) else b"".join(parts)  # type: ignore[arg-type]

    async def _next_item(self, mid_message: bool) -> Any:
        """The next queued message or fragment, waiting for it (recv without its fast path and
        conversions). Cancelled in the middle of a streamed message, that message is abandoned."""
        if self._messages:
            return self._take_queued()
        if self._state is State.CLOSED:
            raise self._closed_exception()
        waiter = self._waiter = self._loop.create_future()
        try:
            return await waiter
        except asyncio.CancelledError:
            self._recv_cancelled(waiter)
            if mid_message:
                self._stream_abandoned = True
            raise

    def _take_queued(self) -> Any:
        message = self._messages.popleft()
        if self._reading_paused and len(self._messages) <= (self.max_queue[1] or 0) and self._conn:
            self._resume_reading()
        return message

    def _resume_reading(self) -> None:
        """The queue fell to max_queue's low mark: the library reads from the socket again."""
        self._reading_paused = False
        n.lib.sws_conn_resume_reading(self._conn)
        self._native.kick()

    async def recv_streaming(self, decode: Optional[bool] = None) -> AsyncIterator[Data]:
        """The next message as an async iterator of its fragments (as websockets'): a fragmented
        message yields each frame's data as it arrives, a single-frame message one item. The
        first call turns frame-by-frame delivery of fragmented messages on for the connection
        (``sws_conn_set_stream_fragmented``); until then the library reassembles them, so a
        message already received whole comes as one item. Leaving the loop before the message
        ends makes later ``recv``/``recv_streaming`` calls raise ``ConcurrencyError``, as in
        websockets."""
        if (not self._messages and self._state is not State.CLOSED and self._waiter is not None) \
                or self._stream_abandoned:
            raise ConcurrencyError("cannot call recv_streaming while another coroutine is already "
                                   "running recv or recv_streaming")
        self._stream_fragments()
        item = await self._next_item(False)
        if type(item) is not _Fragment:
            yield _converted(item, decode)
            return
        if not item.first:
            self._stream_abandoned = True
            raise ConcurrencyError("cannot call recv_streaming while another coroutine is already "
                                   "running recv or recv_streaming")
        finished = False
        try:
            yield _converted(item.data, decode)
            while not item.final:
                item = await self._next_item(True)
                yield _converted(item.data, decode)
            finished = True
        finally:
            if not finished:
                self._stream_abandoned = True

    def _stream_fragments(self) -> None:
        """Fragmented messages frame by frame from now on (once per connection; before the
        opening, from the opening on)."""
        if not self._streams_fragments:
            self._streams_fragments = True
            if self._conn:
                self._set_stream_fragmented()  # else _attach does, at open

    def _set_stream_fragmented(self) -> None:
        """Asks the library to deliver fragmented messages frame by frame (on its loop thread)."""
        n.lib.sws_conn_set_stream_fragmented(self._conn, True)

    def __aiter__(self) -> AsyncIterator[Data]:
        return self._iterate()

    async def _iterate(self) -> AsyncIterator[Data]:
        """Messages until a normal closure; an abnormal one raises ``ConnectionClosedError``."""
        try:
            while True:
                # Streamed fragments (recv_streaming was used) are joined by recv.
                if self._messages or self._waiter is not None or self._state is State.CLOSED \
                        or self._streams_fragments:
                    yield await self.recv()
                    continue
                # What recv does when no message waits, without a recv coroutine per message
                # (the handler's per-message path).
                waiter = self._waiter = self._loop.create_future()
                try:
                    yield await waiter
                except asyncio.CancelledError:  # only the await: a suspended generator is not cancelled
                    self._recv_cancelled(waiter)
                    raise
        except ConnectionClosed as closed:
            if closed.code not in (1000, 1001, 1005):
                raise

    # -- sending -----------------------------------------------------------------------------

    def _send_now(self, message: Any) -> int:
        """Sends one whole message now; returns the send result. Raises if closed/invalid."""
        conn = self._conn
        if conn is None:
            raise self._closed_exception()
        if type(message) is bytes:
            status = _send_binary(conn, message, len(message), self._result_ref)
        elif isinstance(message, str):
            data = message.encode("utf-8")
            status = _send_text(conn, data, len(data), self._result_ref)
        elif isinstance(message, (bytes, bytearray, memoryview)):
            data = bytes(message)
            status = _send_binary(conn, data, len(data), self._result_ref)
        else:
            raise TypeError(f"data must be str, bytes or an iterable of them, not {type(message).__name__}")
        if status != n.SWS_OK:
            self._raise_send_error(status)
        value = self._result.value
        if value != n.SWS_SEND_SENT:
            # A direct write leaves nothing deferred; anything else may (a backlog, a close).
            self._backlogged = True
            self._native.kick()
        return value

    def send_nowait(self, message: Data) -> bool:
        """Sends one whole message at once, without waiting for the peer to read (for callbacks
        and broadcasts). Returns True if it was sent (or corked for this loop iteration's
        flush), False if it is buffered behind bytes the peer has not read. Raises
        ``ConnectionClosed`` if the connection is closing or closed, ``TypeError`` for anything
        but ``str`` or bytes-like."""
        conn = self._conn
        # Fast path (the per-message path of callback servers): bytes or str, sent at once.
        if conn is not None:
            kind = type(message)
            if kind is bytes:
                status = _send_binary(conn, message, len(message), self._result_ref)
            elif kind is str:
                data = message.encode("utf-8")  # type: ignore[union-attr]
                status = _send_text(conn, data, len(data), self._result_ref)
            else:
                status = None
            if status == _OK and self._result.value == _SENT:
                return True
            if status == _OK:
                self._backlogged = True
                self._native.kick()
                return False
            if status is not None and status != n.SWS_ERR_CLOSED:
                raise SwiftWSError(status, n.last_error())
            if status is not None:
                raise connection_closed(self.close_code or 1000, self.close_reason or "")
        try:
            return self._send_now(message) == n.SWS_SEND_SENT
        except _ClosingSend:
            raise connection_closed(self.close_code or 1000, self.close_reason or "") from None

    def _raise_send_error(self, status: int) -> None:
        if status == n.SWS_ERR_CLOSED:
            raise connection_closed(self.close_code or 1000, self.close_reason or "") \
                if self.state is State.CLOSED else _ClosingSend()
        raise SwiftWSError(status, n.last_error())

    async def send(self, message: Union[Data, Iterable[Data], AsyncIterable[Data]], text: Optional[bool] = None) -> None:
        """Sends a message: ``str`` as text, ``bytes``-like as binary; an iterable or async
        iterable of them as one fragmented message (one frame per item, all of the first item's
        kind). Waits while more than ``write_limit`` bytes are buffered for the peer. Raises
        ``ConnectionClosed`` once the connection is closing or closed."""
        kind = type(message)
        if text is None and (kind is bytes or kind is str) and self._conn is not None and self._fragmenting is None:
            # Fast path (a handler's per-message path): written at once by send_nowait's. A
            # refusal (which sent nothing) takes the general path below, which raises as send must.
            try:
                if self.send_nowait(message) or not self._over_write_limit(self._result.value):
                    return
            except (ConnectionClosed, SwiftWSError):
                pass
            else:
                await self._wait_drain()
                return
        if text is True and not isinstance(message, str) and isinstance(message, (bytes, bytearray, memoryview)):
            message = bytes(message).decode("utf-8")
        elif text is False and isinstance(message, str):
            message = message.encode("utf-8")
        # A fragmented message being sent holds the connection: wait for its end (websockets).
        while self._fragmenting is not None:
            await asyncio.shield(self._fragmenting)
        try:
            if isinstance(message, (str, bytes, bytearray, memoryview)):
                result = self._send_now(message)
            elif isinstance(message, Mapping):
                raise TypeError("data is a dict-like object")
            elif hasattr(message, "__aiter__"):
                result = await self._send_fragmented(message.__aiter__(), text)  # type: ignore[union-attr]
            elif hasattr(message, "__iter__"):
                result = await self._send_fragmented(_aiter_of(message), text)  # type: ignore[arg-type]
            else:
                raise TypeError("data must be str, bytes, iterable, or async iterable")
        except _ClosingSend:
            await asyncio.shield(self._closed)
            raise self._closed_exception() from None
        if self._over_write_limit(result):
            await self._wait_drain()

    def _over_write_limit(self, result: int) -> bool:
        """Whether a send that gave ``result`` must wait: it was buffered, and more than
        ``write_limit`` bytes now wait for the peer."""
        return result == n.SWS_SEND_BUFFERED and self._conn is not None \
            and n.fast.sws_conn_buffered_amount(self._conn) > self.write_limit

    async def _wait_drain(self) -> None:
        if self._drain is None:
            self._drain = self._loop.create_future()
        await asyncio.shield(self._drain)

    async def _send_fragmented(self, fragments: AsyncIterator[Data], text: Optional[bool]) -> int:
        """Sends each fragment as soon as it is produced (one frame each), then an empty final
        frame, as websockets does. All fragments must be of the first one's type; ``text``
        overrides the frame type. An empty iterable sends nothing. A fragment of another type,
        or an exception from the iterable, fails the connection with 1011 (the message cannot be
        finished) and is raised; so does close() while the fragments are being sent."""
        try:
            first = await fragments.__anext__()
        except StopAsyncIteration:
            return n.SWS_SEND_SENT
        done = self._fragmenting = self._loop.create_future()
        result = n.SWS_SEND_SENT
        try:
            first_type = str if isinstance(first, str) else bytes
            if not isinstance(first, (str, bytes, bytearray, memoryview)):
                raise TypeError("data iterable must contain bytes or str")
            kind = n.SWS_MESSAGE_TEXT if (text if text is not None else first_type is str) else n.SWS_MESSAGE_BINARY
            fragment: Any = first
            while True:
                if isinstance(fragment, str) and first_type is str:
                    data = fragment.encode("utf-8")
                elif isinstance(fragment, (bytes, bytearray, memoryview)) and first_type is bytes:
                    data = bytes(fragment)
                else:
                    raise TypeError("data iterable must contain uniformly bytes or str")
                result = self._send_fragment(kind, data, False)
                if self._over_write_limit(result):
                    await self._wait_drain()
                try:
                    fragment = await fragments.__anext__()
                except StopAsyncIteration:
                    break
            return self._send_fragment(kind, b"", True)
        except (ConnectionClosed, _ClosingSend):
            raise
        except BaseException:
            self._fail(1011, "error in fragmented message")
            raise
        finally:
            self._fragmenting = None
            done.set_result(None)

    def _fail(self, code: int, reason: str) -> None:
        """Closes the connection with ``code`` (the message being sent cannot be finished)."""
        conn = self._conn
        if conn is not None and self._state in (State.OPEN, State.CONNECTING):
            self._native.flush_sends()
            data = reason.encode("utf-8")
            self._close_sent = Close(code, reason)
            n.lib.sws_conn_close(conn, code, data, len(data))
            self._state = State.CLOSING
            self._native.kick()

    def _send_fragment(self, kind: int, data: bytes, is_final: bool) -> int:
        conn = self._conn
        if conn is None:
            raise self._closed_exception()
        status = n.fast.sws_conn_send_fragment(conn, kind, data, len(data), is_final, self._result_ref)
        if status != n.SWS_OK:
            self._raise_send_error(status)
        self._native.kick()
        return self._result.value

    # -- ping, close ---------------------------------------------------------------------------

    async def ping(self, data: Optional[Data] = None) -> Awaitable[float]:
        """Sends a ping; returns a future that resolves to the round-trip time (seconds) when
        the matching pong arrives (a pong also acknowledges every earlier ping). ``data``
        defaults to 4 random bytes."""
        payload = _ping_payload() if data is None else _control_payload(data)
        while data is None and payload in self._pings:
            payload = _ping_payload()
        if payload in self._pings:
            raise ConcurrencyError("already waiting for a pong with the same data")
        conn = self._conn
        if conn is None:
            raise self._closed_exception()
        status = n.lib.sws_conn_send_ping(conn, payload, len(payload))
        if status != n.SWS_OK:
            if status == n.SWS_ERR_CLOSED:
                await asyncio.shield(self._closed)
                raise self._closed_exception()
            raise SwiftWSError(status, n.last_error())
        self._native.kick()
        future = self._loop.create_future()
        self._pings[payload] = (future, time.monotonic())
        return future

    async def pong(self, data: Data = b"") -> None:
        """Sends an unsolicited pong, a one-way heartbeat (RFC 6455 section 5.5.3). Raises
        ``ConnectionClosed`` once the connection is closing or closed."""
        payload = _control_payload(data)
        conn = self._conn
        if conn is None:
            raise self._closed_exception()
        status = n.lib.sws_conn_send_pong(conn, payload, len(payload))
        if status == n.SWS_ERR_CLOSED:
            raise self._closed_exception()
        if status != n.SWS_OK:
            raise SwiftWSError(status, n.last_error())
        self._native.kick()

    async def close(self, code: int = 1000, reason: str = "") -> None:
        """Starts the close handshake (if not started) and waits until the connection closed.
        During a fragmented send the message cannot be finished: as websockets, the connection
        then fails with 1011 (``sws_conn_fail``: the close frame, then TCP closes without
        waiting for the peer's answer; "no close frame received")."""
        conn = self._conn
        if conn is not None and self._state is State.OPEN:
            close = n.lib.sws_conn_close
            if self._fragmenting is not None:
                code, reason, close = 1011, "close during fragmented message", n.lib.sws_conn_fail
            data = reason.encode("utf-8")
            self._native.flush_sends()
            status = close(conn, code, data, len(data))
            if status == n.SWS_OK or status == n.SWS_ERR_CLOSED:
                if status == n.SWS_OK:
                    self._close_sent = Close(code, reason)
                self._state = State.CLOSING
                self._native.kick()
            else:
                raise SwiftWSError(status, n.last_error())
        await asyncio.shield(self._closed)

    async def __aenter__(self) -> "Connection":
        return self

    async def __aexit__(self, exc_type: Any, exc: Any, traceback: Any) -> None:
        """Closes the connection: 1000, or 1011 when the block raised (as websockets)."""
        await self.close(1000 if exc_type is None else 1011)

    async def wait_closed(self) -> None:
        """Waits until the connection has closed."""
        await asyncio.shield(self._closed)

    def _abort(self) -> None:
        if self._conn is not None:
            self._native.flush_sends()
            n.lib.sws_conn_abort(self._conn)
            self._native.kick()


class _ClosingSend(Exception):
    """Internal: a send found the connection closing; wait for the close, then raise."""


async def _aiter_of(iterable: Iterable[Data]) -> AsyncIterator[Data]:
    # Each item is taken when the previous one was sent: a generator's fragments go out as
    # they are produced.
    for item in iterable:
        yield item


def _converted(message: Data, decode: bool) -> Data:
    """``message`` as ``str`` (``decode`` True) or ``bytes`` (False), as websockets' ``decode``."""
    if decode is True and isinstance(message, bytes):
        return message.decode("utf-8")
    if decode is False and isinstance(message, str):
        return message.encode("utf-8")
    return message


def _ping_payload() -> bytes:
    """A default ping payload: 4 random bytes, drawn as websockets draws them (an identifier,
    not a secret; a test that patches ``random.getrandbits`` sees the same payload)."""
    return struct.pack("!I", random.getrandbits(32))


def _control_payload(data: Any) -> bytes:
    """A ping or pong payload: str (UTF-8) or bytes-like, else TypeError."""
    if isinstance(data, str):
        return data.encode("utf-8")
    if isinstance(data, (bytes, bytearray, memoryview)):
        return bytes(data)
    raise TypeError("data must be str or bytes-like")

