"""A server on several native loops (``serve(..., loops=N)``) behind the asyncio front end.

The library runs loop 1 (the server's own, driven by the asyncio loop as for ``loops=1``) and
N - 1 loops on threads of its own; each accepted connection lives on one of them. Connections of
loop 1 take the ordinary path (``_driver.NativeLoop``). For the others, the two directions cross
threads, and nothing else changes for the handler:

- native callbacks arrive on that loop's thread: ``LoopBridge`` copies what they borrow (payloads,
  the request, the close reason) there and hands it to the asyncio thread with
  ``call_soon_threadsafe``, one hand-over per callback (per batch for messages), in the order the
  loop made them, so a connection's events keep their order;
- every call the front end makes on such a connection runs on its loop thread, posted with
  ``sws_conn_ref_post`` (a request being decided: ``sws_request_post``). Sends are asynchronous:
  each reports its outcome and the buffered amount back, and ``send`` waits while the bytes in
  flight plus those buffered exceed ``write_limit`` (websockets' backpressure), until the
  reports and ``on_drain`` bring them down.

``loops=1`` never comes here: its handlers are the driver's, untouched.
"""

from __future__ import annotations

import asyncio
import ctypes
import itertools
import struct
import threading
from ctypes import byref, c_char as ctypes_char, c_char_p, c_void_p
from typing import TYPE_CHECKING, Any, Callable, Dict, List, Optional, Tuple, Type

from .. import _native as n
from .._driver import NativeLoop, logger
from ..exceptions import ConnectionClosed, SwiftWSError, connection_closed
from ..frames import Close
from .connection import State, _ClosingSend, _control_payload, _parse_address
from .handshake import Handshake, read_request

if TYPE_CHECKING:  # pragma: no cover
    from .server import Server, ServerConnection

__all__ = ["LoopBridge", "other_loop_class"]

_TEXT = n.SWS_MESSAGE_TEXT
_keys = itertools.count(1)
#: Work waiting to run on a loop thread, by the key passed as the native user_data. A key is
#: popped by whichever thread runs it; dict operations are atomic under the GIL.
_work: Dict[int, Callable[[Optional[int]], None]] = {}


def _run_work(target: Optional[int], key: Optional[int]) -> None:
    """Runs on a loop thread: the posted closure with the connection or request (None: closed)."""
    work = _work.pop(key or 0, None)
    if work is None:
        return
    try:
        work(target)
    except BaseException:
        logger.exception("swiftws: exception in work posted to a native loop")


# Module-level: the library may call them until the last posted work has run.
_CONN_WORK = n.CONN_WORK(_run_work)
_REQUEST_WORK = n.REQUEST_WORK(_run_work)


def _post(post: Any, handle: int, callback: Any, work: Callable[[Optional[int]], None]) -> bool:
    """``post(handle, callback, key)`` with ``work`` registered under ``key``; False (``work``
    dropped, never run) when the library refused it."""
    key = next(_keys)
    _work[key] = work
    if post(handle, callback, key) != n.SWS_OK:
        _work.pop(key, None)
        return False
    return True


def post_to_connection(ref: Optional[int], work: Callable[[Optional[int]], None]) -> bool:
    """Runs ``work(conn or None)`` on the loop thread of the connection behind ``ref``; False
    (nothing posted) when it is already closed."""
    return ref is not None and _post(n.lib.sws_conn_ref_post, ref, _CONN_WORK, work)


def post_to_request(handle: int, work: Callable[[Optional[int]], None]) -> bool:
    """Runs ``work(request)`` on the loop thread of a deferred request; False when its loop closed."""
    return _post(n.lib.sws_request_post, handle, _REQUEST_WORK, work)


def _answer(handle: int, headers: List[Tuple[bytes, bytes]], status: int, body: bytes,
            accept: Optional[Tuple[Optional[bytes], int]]) -> int:
    """On the request's loop thread: adds the response headers, then accepts or responds."""
    for name, value in headers:
        n.lib.sws_request_add_response_header(handle, name, value)
    if accept is not None:
        return int(n.lib.sws_request_accept(handle, accept[0], accept[1]))
    return int(n.lib.sws_request_respond(handle, status, body or None, len(body)))


class _OtherLoopHandshake(Handshake):
    """The opening handshake of a request that arrived on another loop: the request was deferred
    there (its callback cannot wait for the asyncio thread), so the hooks always run in a task,
    and the answer is posted back to the request's loop. A plain HTTP request cannot be deferred:
    its loop thread waits for the answer (``answer`` is read there)."""

    def __init__(self, bridge: "LoopBridge", handle: int, connection: "ServerConnection", upgrade: bool) -> None:
        super().__init__(bridge.server, handle, connection, upgrade)
        self.bridge = bridge
        self.deferred = True
        #: A plain HTTP request's answer: (headers, status, body).
        self.answer: Optional[Tuple[List[Tuple[bytes, bytes]], int, bytes]] = None

    def start(self) -> "asyncio.Task[None]":
        task = self.server.get_loop().create_task(self._decide())
        self.task = task
        if self.upgrade:
            self.server._handshakes.add(self)
            task.add_done_callback(lambda _: self.server._handshakes.discard(self))
        return task

    def _headers(self, response: Any) -> List[Tuple[bytes, bytes]]:
        from .handshake import _LIBRARY_HEADERS
        return [(name.encode("latin-1"), str(value).encode("latin-1"))
                for name, value in response.headers.raw_items() if name.lower() not in _LIBRARY_HEADERS]

    def _accept(self, response: Any, subprotocol: Optional[str]) -> None:
        self.answered = True
        headers = self._headers(response)
        key = next(_keys)
        self.bridge.openings[key] = self.connection
        chosen = subprotocol.encode() if subprotocol else None
        bridge = self.bridge

        def accept(handle: Optional[int]) -> None:
            if handle is None or _answer(handle, headers, 0, b"", (chosen, key)) != n.SWS_OK:
                bridge.openings.pop(key, None)  # the client left, or the timeout answered 503

        if not post_to_request(self.handle, accept):
            self.bridge.openings.pop(key, None)

    def _respond(self, response: Any) -> None:
        self.answered = True
        headers = self._headers(response)
        body = bytes(response.body or b"")
        if not self.upgrade:
            self.answer = (headers, response.status_code, body)
            return
        status = response.status_code
        post_to_request(self.handle, lambda handle: handle is not None and _answer(handle, headers, status, body, None))


class _OtherLoop:
    """Mixed in before a ``ServerConnection`` class for connections of another loop: every native
    call goes to the connection's loop thread (see the module's documentation)."""

    _ref: Optional[int] = None
    _bridge: "LoopBridge"
    #: What the loop thread read at on_open: path, query, subprotocol, compressed, addresses.
    _opened_info: Tuple[Any, ...] = ()
    #: Bytes of sends posted and not reported yet, and the buffered amount of the last report.
    _in_flight = 0
    _buffered = 0
    _paused = False
    #: The thread the connection's loop runs on (threading.get_ident()).
    native_thread: Optional[int] = None

    def _attach(self, conn: int) -> None:
        self._conn = conn
        self._state = State.OPEN
        if self._streams_fragments:
            self._set_stream_fragmented()
        path, query, subprotocol, compressed, remote, local = self._opened_info
        self.path, self.query, self.subprotocol, self.compressed = path, query, subprotocol, compressed
        self.remote_address, self.local_address = remote, local

    @property
    def state(self) -> State:
        """OPEN, CLOSING once this side began the close, CLOSED: on another loop the library's
        state cannot be read from the asyncio thread, so it is this side's view."""
        return self._state

    @property
    def counters(self) -> Dict[str, int]:
        """All 0: the counters of a connection on another loop are not read across threads."""
        return {name: 0 for name, _ in n.ConnCounters._fields_[1:]}

    def _post(self, work: Callable[[Optional[int]], None]) -> bool:
        return post_to_connection(self._ref, work)

    # -- receiving: max_queue pauses and resumes reading on the connection's loop --------------

    def _on_message(self, message: Any) -> None:
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            self._waiter = None
            waiter.set_result(message)
            return
        self._messages.append(message)
        high = self.max_queue[0]
        if high is not None and len(self._messages) >= high and not self._paused and self._conn:
            self._paused = True
            self._post(lambda conn: conn and n.lib.sws_conn_pause_reading(conn))

    async def recv(self, decode: Optional[bool] = None) -> Any:
        message = await super().recv(decode)  # type: ignore[misc]
        if self._paused and len(self._messages) <= (self.max_queue[1] or 0) and self._conn:
            self._paused = False
            self._post(lambda conn: conn and n.lib.sws_conn_resume_reading(conn))
        return message

    # -- sending: posted, reported back, backpressure on what is in flight plus buffered -------

    def _send_posted(self, kind: int, data: bytes, fragment: Optional[bool] = None) -> bool:
        """Posts one message (or fragment: ``fragment`` is its is_final) to the loop thread;
        returns whether the bytes in flight and buffered stay within ``write_limit``."""
        if self._conn is None:
            raise self._closed_exception()  # type: ignore[attr-defined]
        if self._state is not State.OPEN:
            raise _ClosingSend()
        size = len(data)
        self._in_flight += size
        aloop = self._loop  # type: ignore[attr-defined]
        report = self._sent

        def send(conn: Optional[int]) -> None:
            result = ctypes.c_int(n.SWS_SEND_DROPPED)
            if conn is None:
                status, buffered = n.SWS_ERR_CLOSED, 0
            else:
                if fragment is not None:
                    status = n.lib.sws_conn_send_fragment(conn, kind, data, size, fragment, byref(result))
                elif kind == _TEXT:
                    status = n.lib.sws_conn_send_text(conn, data, size, byref(result))
                else:
                    status = n.lib.sws_conn_send_binary(conn, data, size, byref(result))
                buffered = int(n.lib.sws_conn_buffered_amount(conn))
            _call_soon(aloop, report, size, status, buffered)

        if not self._post(send):
            self._in_flight -= size
            raise _ClosingSend()
        return self._in_flight + self._buffered <= self.write_limit  # type: ignore[attr-defined]

    def _sent(self, size: int, status: int, buffered: int) -> None:
        """On the asyncio thread: a posted send's report."""
        self._in_flight -= size
        self._buffered = buffered
        if status not in (n.SWS_OK, n.SWS_ERR_CLOSED):
            self.logger.warning("swiftws: a send failed on the connection's loop: status %d", status)  # type: ignore[attr-defined]
        self._wake_writers()

    def _on_drain(self) -> None:
        self._buffered = 0
        self._wake_writers()

    def _wake_writers(self) -> None:
        drain = self._drain  # type: ignore[has-type]
        if drain is not None and not drain.done() and self._in_flight + self._buffered <= self.write_limit:  # type: ignore[attr-defined]
            self._drain = None
            drain.set_result(None)

    async def _backpressure(self) -> None:
        while self._conn is not None and self._in_flight + self._buffered > self.write_limit:  # type: ignore[attr-defined]
            if self._drain is None:  # type: ignore[has-type]
                self._drain = self._loop.create_future()  # type: ignore[attr-defined]
            await asyncio.shield(self._drain)

    def _encode(self, message: Any) -> Tuple[int, bytes]:
        if isinstance(message, str):
            return _TEXT, message.encode("utf-8")
        if isinstance(message, (bytes, bytearray, memoryview)):
            return n.SWS_MESSAGE_BINARY, bytes(message)
        raise TypeError(f"data must be str, bytes or an iterable of them, not {type(message).__name__}")

    def _send_now(self, message: Any) -> int:
        # Always "sent" for the base class's send(): BUFFERED would make it read the buffered
        # amount of `_conn` from this thread; send() below waits on the reported amounts instead.
        kind, data = self._encode(message)
        self._send_posted(kind, data)
        return n.SWS_SEND_SENT

    def send_nowait(self, message: Any) -> bool:
        try:
            return self._send_posted(*self._encode(message))
        except _ClosingSend:
            raise connection_closed(self.close_code or 1000, self.close_reason or "") from None  # type: ignore[attr-defined]

    async def send(self, message: Any, text: Optional[bool] = None) -> None:
        # The base posts (its _send_now and _send_fragment never report BUFFERED, so it never
        # reads the buffered amount itself); the wait for the drain is done here.
        await super().send(message, text)  # type: ignore[misc]
        await self._backpressure()

    def _send_fragment(self, kind: int, data: bytes, is_final: bool) -> int:
        self._send_posted(kind, data, is_final)
        return n.SWS_SEND_SENT

    # -- control frames and closing ------------------------------------------------------------

    async def ping(self, data: Any = None) -> Any:
        import os
        import time
        payload = os.urandom(4) if data is None else _control_payload(data)
        while data is None and payload in self._pings:  # type: ignore[attr-defined]
            payload = os.urandom(4)
        if payload in self._pings:  # type: ignore[attr-defined]
            from ..exceptions import ConcurrencyError
            raise ConcurrencyError("already waiting for a pong with the same data")
        if self._conn is None or not self._post(lambda conn: conn and n.lib.sws_conn_send_ping(conn, payload, len(payload))):
            raise self._closed_exception()  # type: ignore[attr-defined]
        future = self._loop.create_future()  # type: ignore[attr-defined]
        self._pings[payload] = (future, time.monotonic())  # type: ignore[attr-defined]
        return future

    async def pong(self, data: Any = b"") -> None:
        payload = _control_payload(data)
        if self._conn is None or not self._post(lambda conn: conn and n.lib.sws_conn_send_pong(conn, payload, len(payload))):
            raise self._closed_exception()  # type: ignore[attr-defined]

    def _close_through_ref(self, code: int, reason: str) -> int:
        data = reason.encode("utf-8")
        return int(n.lib.sws_conn_ref_close(self._ref, code, data, len(data))) if self._ref else n.SWS_ERR_CLOSED

    async def close(self, code: int = 1000, reason: str = "") -> None:
        if self._conn is not None and self._state is State.OPEN:
            if self._fragmenting is not None:  # type: ignore[attr-defined]
                # Fails the connection, as the single-loop close() (see there), on its loop.
                data = "close during fragmented message".encode("utf-8")
                if self._post(lambda conn: conn and n.lib.sws_conn_fail(conn, 1011, data, len(data))):
                    self._close_sent = Close(1011, "close during fragmented message")
                    self._state = State.CLOSING
                await asyncio.shield(self._closed)  # type: ignore[attr-defined]
                return
            status = self._close_through_ref(code, reason)
            if status == n.SWS_OK or status == n.SWS_ERR_CLOSED:
                if status == n.SWS_OK:
                    self._close_sent = Close(code, reason)
                self._state = State.CLOSING
            else:
                raise SwiftWSError(status, n.last_error())
        await asyncio.shield(self._closed)  # type: ignore[attr-defined]

    def _fail(self, code: int, reason: str) -> None:
        if self._conn is not None and self._state in (State.OPEN, State.CONNECTING):
            if self._close_through_ref(code, reason) == n.SWS_OK:
                self._close_sent = Close(code, reason)
            self._state = State.CLOSING

    def _abort(self) -> None:
        self._post(lambda conn: conn and n.lib.sws_conn_abort(conn))

    def _set_close_timeout(self, timeout_ms: int) -> None:
        self._post(lambda conn: conn and n.lib.sws_conn_set_close_timeout(conn, timeout_ms))

    def _set_stream_fragmented(self) -> None:
        self._post(lambda conn: conn and n.lib.sws_conn_set_stream_fragmented(conn, True))

    def _on_close(self, code: int, reason: str, initiated_locally: bool = False, timed_out: bool = False) -> None:
        super()._on_close(code, reason, initiated_locally, timed_out)  # type: ignore[misc]
        ref, self._ref = self._ref, None
        if ref is not None:
            n.lib.sws_conn_ref_free(ref)  # work posted before keeps the connection's own handle

    def _broadcast_from_own_loop(self, servers: List[int], topic: Optional[bytes], kind: int, data: bytes) -> int:
        """``Server.broadcast``/``publish`` excluding this connection, whose native pointer may be
        used on its own loop only: started there (the library reaches the other loops from any
        of them). Returns 0: what the calling loop delivered is not known on this thread."""
        aloop = self._loop  # type: ignore[attr-defined]
        owner = self.server  # type: ignore[attr-defined]

        def run(conn: Optional[int]) -> None:
            if conn is None:  # closed meanwhile: nothing to exclude; the asyncio thread sends
                _call_soon(aloop, send, None)
            else:
                send(conn)

        def send(conn: Optional[int]) -> None:
            count = ctypes.c_size_t()
            for server in servers:
                if server not in owner._servers:  # freed by close(): nothing to send through
                    continue
                if topic is None:
                    n.lib.sws_server_broadcast(server, kind, data, len(data), conn, byref(count))
                else:
                    n.lib.sws_server_publish(server, topic, kind, data, len(data), conn, byref(count))

        if not self._post(run):
            send(None)
        return 0

    # -- topics ----------------------------------------------------------------------------------

    def subscribe(self, topic: str) -> None:
        """As ``ServerConnection.subscribe``, on the connection's loop (before any later publish
        from this thread reaches that loop: both are posted there in call order)."""
        name = topic.encode("utf-8")
        self._post(lambda conn: conn and n.lib.sws_conn_subscribe(conn, name))

    def unsubscribe(self, topic: str) -> None:
        name = topic.encode("utf-8")
        self._post(lambda conn: conn and n.lib.sws_conn_unsubscribe(conn, name))


_classes: Dict[type, type] = {}


def other_loop_class(cls: Type[Any]) -> Type[Any]:
    """``cls`` (a ServerConnection class, the user's ``create_connection`` included) with
    ``_OtherLoop`` in front, made once per class."""
    made = _classes.get(cls)
    if made is None:
        made = _classes[cls] = type(cls.__name__, (_OtherLoop, cls), {"__module__": cls.__module__})
    return made


def _call_soon(aloop: asyncio.AbstractEventLoop, callback: Callable[..., None], *args: Any) -> None:
    """Hands ``callback(*args)`` to the asyncio thread (nothing if that loop is closed)."""
    try:
        aloop.call_soon_threadsafe(callback, *args)
    except RuntimeError:  # the asyncio loop closed: nobody is left to tell
        pass


def _address(conn: int, getter: Any) -> Any:
    buffer = (ctypes_char * 64)()
    return _parse_address(buffer.value.decode()) if getter(conn, buffer, 64) == n.SWS_OK else None


class LoopBridge:
    """The native handlers of one server on several loops (see the module's documentation)."""

    def __init__(self, native: NativeLoop, server: "Server") -> None:
        self.native = native
        self.server = server
        self.aloop = native.aloop
        self.thread = threading.get_ident()
        #: Accepted upgrades waiting for their on_open, by the user_data key given to accept.
        self.openings: Dict[int, "ServerConnection"] = {}
        #: Open connections of the other loops, by native pointer (asyncio thread only).
        self.connections: Dict[int, Any] = {}
        self.handlers = self._make_handlers()

    def _make_handlers(self) -> n.ConnHandlers:
        own = self.native.handlers  # loop 1's connections: the driver's handlers, as with loops=1
        thread, aloop = self.thread, self.aloop
        get_ident, string_at = threading.get_ident, ctypes.string_at
        iter_unpack = struct.Struct(n.MESSAGE_ENTRY_FORMAT).iter_unpack
        entry_size = ctypes.sizeof(n.MessageEntry)

        def on_upgrade(server: int, user_data: int, request: int) -> None:
            if get_ident() == thread:
                return own.on_upgrade(server, user_data, request)
            self._request_arrived(request, True)

        def on_http_request(server: int, user_data: int, request: int) -> None:
            if get_ident() == thread:
                return own.on_http_request(server, user_data, request)
            self._request_arrived(request, False)

        def on_open(conn: int, user_data: int) -> None:
            if get_ident() == thread:
                return own.on_open(conn, user_data)
            ref = c_void_p()
            if n.lib.sws_conn_ref_new(conn, byref(ref)) != n.SWS_OK:
                n.lib.sws_conn_close(conn, 1011, b"internal error", 14)
                return
            path, query, subprotocol = c_char_p(), c_char_p(), c_char_p()
            n.lib.sws_conn_info(conn, byref(path), byref(query), byref(subprotocol))
            info = ((path.value or b"/").decode("utf-8", "replace"),
                    query.value.decode("utf-8", "replace") if query.value else None,
                    subprotocol.value.decode() if subprotocol.value else None,
                    bool(n.lib.sws_conn_is_compressed(conn)),
                    _address(conn, n.lib.sws_conn_remote_address), _address(conn, n.lib.sws_conn_local_address))
            _call_soon(aloop, self._opened, user_data, conn, ref.value, info, get_ident())

        def on_message(conn: int, user_data: int, kind: int, data: Any, length: int) -> None:
            if get_ident() == thread:
                return own.on_message(conn, user_data, kind, data, length)
            payload = data[:length] if length else b""
            _call_soon(aloop, self._messages, [(conn, payload.decode("utf-8") if kind == _TEXT else payload)])

        def on_messages(entries: int, count: int, payloads: int, payloads_len: int, user_data: int) -> None:
            if get_ident() == thread:
                return own.on_messages(entries, count, payloads, payloads_len, user_data)
            # Copied here (the batch is borrowed), decoded on this thread too: one hand-over per batch.
            table = string_at(entries, count * entry_size)
            data = string_at(payloads, payloads_len)
            batch = []
            for conn, _user_data, address, length, kind in iter_unpack(table):
                start = address - payloads
                payload = data[start:start + length]
                batch.append((conn, payload.decode("utf-8") if kind == _TEXT else payload))
            _call_soon(aloop, self._messages, batch)

        def on_fragment(conn: int, user_data: int, kind: int, data: int, length: int, first: bool,
                        final: bool) -> None:
            if get_ident() == thread:
                return own.on_fragment(conn, user_data, kind, data, length, first, final)
            _call_soon(aloop, self._event, conn, "_on_fragment", kind, string_at(data, length) if length else b"",
                       first, final)

        def on_pong(conn: int, user_data: int, data: int, length: int) -> None:
            if get_ident() == thread:
                return own.on_pong(conn, user_data, data, length)
            _call_soon(aloop, self._event, conn, "_on_pong", string_at(data, length) if length else b"")

        def on_drain(conn: int, user_data: int) -> None:
            if get_ident() == thread:
                return own.on_drain(conn, user_data)
            _call_soon(aloop, self._event, conn, "_on_drain")

        def on_close(conn: int, user_data: int, code: int, reason: int, length: int) -> None:
            if get_ident() == thread:
                return own.on_close(conn, user_data, code, reason, length)
            text = string_at(reason, length).decode("utf-8", "replace") if length else ""
            _call_soon(aloop, self._closed, conn, code, text, bool(n.lib.sws_conn_close_initiated_locally(conn)),
                       bool(n.lib.sws_conn_close_timed_out(conn)))

        return n.conn_handlers(on_open=on_open, on_message=on_message, on_messages=on_messages,
                               on_fragment=on_fragment, on_pong=on_pong, on_drain=on_drain, on_close=on_close,
                               on_upgrade=on_upgrade, on_http_request=on_http_request)

    # -- on another loop's thread -----------------------------------------------------------------

    def _request_arrived(self, handle: int, upgrade: bool) -> None:
        """A request on another loop: read it here (it is borrowed), then decide it on the
        asyncio thread. An upgrade is deferred and answered through sws_request_post; a plain
        HTTP request cannot wait, so this thread waits for the answer (open_timeout at most)."""
        try:
            request = read_request(handle)
        except BaseException:
            logger.exception("swiftws: reading a request failed; answering 500")
            n.lib.sws_request_respond(handle, 500, b"Internal Server Error\n", 22)
            return
        if upgrade:
            if n.lib.sws_request_defer(handle) != n.SWS_OK:
                n.lib.sws_request_respond(handle, 500, b"Internal Server Error\n", 22)
                return
            try:
                self.aloop.call_soon_threadsafe(self._decide, handle, request, True)
            except RuntimeError:  # the asyncio loop is closed: nobody will decide
                n.lib.sws_request_respond(handle, 503, b"Service Unavailable\n", 20)
            return
        answer = None
        try:
            future = asyncio.run_coroutine_threadsafe(self._decide_now(handle, request), self.aloop)
            answer = future.result(self.server.close_timeout or 10)
        except BaseException:
            logger.debug("swiftws: no answer to a plain HTTP request on another loop", exc_info=True)
        if answer is None:
            n.lib.sws_request_respond(handle, 503, b"Service Unavailable\n", 20)
        else:
            _answer(handle, answer[0], answer[1], answer[2], None)

    # -- on the asyncio thread ----------------------------------------------------------------------

    def _connection(self, request: Any) -> "ServerConnection":
        from .server import ListenerConnection
        server = self.server
        if server.listener_factory is not None:
            return other_loop_class(ListenerConnection)(self.native, server, request, server.listener_factory())
        return other_loop_class(server.create_connection)(self.native, server, request)

    def _decide(self, handle: int, request: Any, upgrade: bool) -> _OtherLoopHandshake:
        try:
            connection = self._connection(request)
        except BaseException:
            logger.exception("swiftws: create_connection failed; answering 500")
            post_to_request(handle, lambda h: h is not None and n.lib.sws_request_respond(h, 500, b"Internal Server Error\n", 22))
            raise
        handshake = _OtherLoopHandshake(self, handle, connection, upgrade)
        handshake.start()
        return handshake

    async def _decide_now(self, handle: int, request: Any) -> Any:
        handshake = self._decide(handle, request, False)
        await handshake.task  # type: ignore[misc]
        return handshake.answer

    def _opened(self, key: int, conn: int, ref: int, info: Tuple[Any, ...], thread: int) -> None:
        connection = self.openings.pop(key, None)
        if connection is None:
            n.lib.sws_conn_ref_close(ref, 1011, b"no handler", 10)
            n.lib.sws_conn_ref_free(ref)
            return
        connection._ref = ref  # type: ignore[attr-defined]
        connection._opened_info = info  # type: ignore[attr-defined]
        connection.native_thread = thread  # type: ignore[attr-defined]
        self.connections[conn] = connection
        try:
            self.server._opened(connection, conn)
        except BaseException:
            logger.exception("swiftws: exception in on_open; closing the connection with 1011")
            connection._fail(1011, "internal error")

    def _messages(self, batch: List[Tuple[int, Any]]) -> None:
        connections = self.connections
        for conn, payload in batch:
            connection = connections.get(conn)
            if connection is None:
                continue
            try:
                connection._message_sink(payload)
            except ConnectionClosed:
                pass
            except BaseException:
                logger.exception("swiftws: exception in on_message; closing the connection with 1011")
                connection._fail(1011, "internal error")

    def _event(self, conn: int, method: str, *args: Any) -> None:
        connection = self.connections.get(conn)
        if connection is not None:
            try:
                getattr(connection, method)(*args)
            except BaseException:
                logger.exception("swiftws: exception in %s", method)

    def _closed(self, conn: int, code: int, reason: str, initiated_locally: bool, timed_out: bool) -> None:
        connection = self.connections.pop(conn, None)
        if connection is not None:
            try:
                connection._on_close(code, reason, initiated_locally, timed_out)
            except BaseException:
                logger.exception("swiftws: exception in on_close")
