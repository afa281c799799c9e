"""The native event loop driven from inside an asyncio event loop, without an extra thread.

One ``sws_loop_t`` per asyncio loop. asyncio watches the native loop's pollable fd
(``sws_loop_fd``: readable whenever the native loop has socket events, due timers or posted work)
with ``add_reader`` and then runs one native iteration with ``sws_loop_run_once(loop, 0)``. Work
the native loop defers while Python calls it between iterations (a close notification, for
example) shows as ``sws_loop_next_timeout_ms() == 0``; ``kick()`` checks for it after every call
that changes something and schedules an iteration with ``call_soon``.

All native callbacks land here, in one ``sws_conn_handlers`` shared by every server and client
of the loop, and are dispatched to Python objects by the native pointer (connections) or by the
``user_data`` key (servers, pending connects). An exception raised while handling a callback never
reaches native code: it is logged through ``logging`` and the connection is closed with 1011.
"""

from __future__ import annotations

import asyncio
import contextvars
import ctypes
import itertools
import logging
import struct
from ctypes import byref, c_void_p
from typing import Any, Callable, Dict, List, Optional, Tuple

from . import _native as n
from .exceptions import ConnectionClosed, SwiftWSError, check

logger = logging.getLogger("swiftws")

_ATTRIBUTE = "_swiftws_native_loop"
_keys = itertools.count(1)


def new_key() -> int:
    """A process-unique non-zero key to pass as a native ``user_data``."""
    return next(_keys)


def _text(pointer: Optional[int]) -> str:
    return ctypes.string_at(pointer).decode("utf-8", "replace") if pointer else ""


class NativeLoop:
    """An ``sws_loop_t`` run by an asyncio loop. Get it with ``NativeLoop.acquire()``; every
    acquire is matched by a ``release()``; the native loop is freed when the last user releases."""

    def __init__(self, aloop: asyncio.AbstractEventLoop) -> None:
        if not n.has_networking():
            raise RuntimeError("swiftws: the loaded libswiftws.so has no networking API "
                               f"(missing {', '.join(n.MISSING)}); rebuild it")
        self.aloop = aloop
        out = c_void_p()
        check(n.lib.sws_loop_new(byref(out)), "sws_loop_new")
        self.handle: int = out.value  # type: ignore[assignment]
        self.fd = int(n.lib.sws_loop_fd(self.handle))
        self.users = 0
        #: Open connections by native pointer.
        self.connections: Dict[int, Any] = {}
        #: What receives each connection's messages (its ``_message_sink``), by native pointer:
        #: one lookup and one call per message.
        self.sinks: Dict[int, Callable[[Any], None]] = {}
        #: Servers and pending client connects by user_data key.
        self.targets: Dict[int, Any] = {}
        self._run_scheduled = False
        self._timer: Optional[asyncio.TimerHandle] = None
        self._running = False
        #: Done callbacks of futures resolved during the native iteration (``resolve``), each
        #: (callback, context, future), run when the iteration returns.
        self._wakeups: List[Tuple[Callable[[Any], None], contextvars.Context, asyncio.Future]] = []
        #: While on_messages runs: the sends that listener connections collect instead of
        #: making one native call each, written by one ``sws_conn_send_batch`` when the batch of
        #: messages has been handled (``flush_sends``): conn, length and kind of each, flat (the
        #: fields of its ``sws_send_entry``), and the payloads in ``pending_payloads``. None
        #: outside on_messages.
        self.pending_sends: Optional[List[int]] = None
        self.pending_payloads: List[bytes] = []
        self._send_entries = ctypes.create_string_buffer(0)
        self.handlers = self._make_handlers()
        aloop.add_reader(self.fd, self.run_once)

    # -- lifetime ----------------------------------------------------------------------------

    @classmethod
    def acquire(cls) -> "NativeLoop":
        """The native loop of the running asyncio loop (created on first use)."""
        aloop = asyncio.get_running_loop()
        native = getattr(aloop, _ATTRIBUTE, None)
        if native is None:
            native = cls(aloop)
            setattr(aloop, _ATTRIBUTE, native)
        native.users += 1
        return native

    def release(self) -> None:
        """Drops one user; the last one frees the native loop (never from inside a callback)."""
        self.users -= 1
        if self.users == 0:
            self.aloop.call_soon(self._free_if_unused)

    def _free_if_unused(self) -> None:
        if self.users or self.handle is None:
            return
        if self._running:
            self.aloop.call_soon(self._free_if_unused)
            return
        if getattr(self.aloop, _ATTRIBUTE, None) is self:
            delattr(self.aloop, _ATTRIBUTE)
        if not self.aloop.is_closed():
            self.aloop.remove_reader(self.fd)
        if self._timer is not None:
            self._timer.cancel()
        n.lib.sws_loop_free(self.handle)
        self.handle = None  # type: ignore[assignment]

    # -- driving -----------------------------------------------------------------------------

    def run_once(self) -> None:
        """One native iteration without waiting; then arms a timer for what the loop awaits next."""
        self._run_scheduled = False
        if self.handle is None:
            return
        self._running = True
        try:
            n.fast.sws_loop_run_once(self.handle, 0)
        finally:
            self._running = False
            if self._wakeups:
                self._run_wakeups()
        self._after_run()

    def resolve(self, future: asyncio.Future, result: Any) -> None:
        """``future.set_result(result)``; called during a native iteration, the future's done
        callbacks (the wake-up of the task awaiting it) run as soon as the iteration returns
        instead of through ``call_soon``.

        Per received message this saves a ``Handle`` and four Python-level calls of asyncio's
        scheduling (call_soon, _call_soon, Handle.__init__, Handle._run) and an extra turn of
        the asyncio loop before the handler runs: the echo handler's CPU per message is
        measured in bench/README.md. The callbacks still run from a loop callback (run_once),
        never inside a native callback, in their own contexts, as call_soon would run them."""
        if self._running:
            callbacks = getattr(future, "_callbacks", None)  # asyncio.Future's (callback, context) pairs
            if callbacks:
                wakeups = self._wakeups
                for callback, context in tuple(callbacks):
                    future.remove_done_callback(callback)
                    wakeups.append((callback, context, future))
        future.set_result(result)

    def _run_wakeups(self) -> None:
        wakeups = self._wakeups
        self._wakeups = []
        for index, (callback, context, future) in enumerate(wakeups):
            try:
                context.run(callback, future)
            except BaseException:
                # Only SystemExit or KeyboardInterrupt get out of a task's step: the others
                # still run, later, and the exception goes on to the asyncio loop.
                for callback, context, future in wakeups[index + 1:]:
                    self.aloop.call_soon(callback, future, context=context)
                raise

    def _after_run(self) -> None:
        # Deferred work shows only as a next timeout of 0. Timers are in the epoll set (a
        # timerfd), but the native loop arms that timerfd at the START of an iteration: a timer
        # scheduled during run_once (the keepalive timer of a connection that just opened, for
        # one) would not wake the fd. So the next deadline is also armed here, as an asyncio
        # timer, reused while it is not later than the native one.
        timeout = n.fast.sws_loop_next_timeout_ms(self.handle)
        if timeout == 0:
            self._schedule_now()
        elif timeout > 0:
            deadline = self.aloop.time() + timeout / 1000.0
            timer = self._timer
            if timer is None or timer.cancelled() or timer.when() > deadline + 0.001 or timer.when() < self.aloop.time():
                if timer is not None:
                    timer.cancel()
                self._timer = self.aloop.call_at(deadline, self._on_timer)

    def _on_timer(self) -> None:
        self._timer = None
        self.run_once()

    def _schedule_now(self) -> None:
        if not self._run_scheduled:
            self._run_scheduled = True
            self.aloop.call_soon(self.run_once)

    def kick(self) -> None:
        """Called after a Python-side call into the loop: runs an iteration soon if work waits."""
        if not self._run_scheduled and self.handle is not None and not self._running:
            if n.fast.sws_loop_next_timeout_ms(self.handle) == 0:
                self._schedule_now()

    # -- batched sends -----------------------------------------------------------------------

    def flush_sends(self) -> None:
        """Writes the sends collected so far (``pending_sends``) with one native call. Called when
        on_messages ends, and before anything else that writes to a connection or closes one
        while they wait (a broadcast, a publish, a close), so that each connection's frames keep
        the order in which the program made them."""
        fields = self.pending_sends
        if not fields:
            return
        payloads = self.pending_payloads
        self.pending_sends = []
        self.pending_payloads = []
        count = len(payloads)
        packer = _send_entry_structs.get(count)
        if packer is None:
            packer = _send_entry_structs[count] = struct.Struct(n.SEND_ENTRY_FORMAT * count)
        entries = self._send_entries
        if len(entries) < packer.size:
            entries = self._send_entries = ctypes.create_string_buffer(2 * packer.size)
        packer.pack_into(entries, 0, *fields)
        if _send_batch(entries, count, b"".join(payloads)):
            self._after_refused_sends(fields[0::3], entries, count)

    def _after_refused_sends(self, conns: List[int], entries: Any, count: int) -> None:
        """The entries of a batch that were not sent at once: a buffered (or dropped) one marks
        its connection backlogged, so that its next sends go one by one and report False until
        on_drain; a closing connection's is dropped silently (a send raising ConnectionClosed
        in on_message is ignored alike); any other refusal fails the connection as an exception
        in on_message does."""
        results = struct.iter_unpack(n.SEND_RESULT_FORMAT, ctypes.string_at(entries, count * _SEND_ENTRY_SIZE))
        for conn, (status, result) in zip(conns, results):
            if status == n.SWS_OK:
                connection = self.connections.get(conn)
                if result != n.SWS_SEND_SENT and connection is not None:
                    connection._backlogged = True
            elif status != n.SWS_ERR_CLOSED:
                try:
                    raise SwiftWSError(status, n.last_error())
                except SwiftWSError:
                    self._fail(conn, "on_message (a send made there)")

    # -- callbacks ---------------------------------------------------------------------------

    def _fail(self, conn: Optional[int], what: str) -> None:
        """Logs the exception being handled and closes ``conn`` with 1011 (never raises)."""
        logger.exception("swiftws: exception in %s; closing the connection with 1011", what)
        if conn:
            try:
                n.lib.sws_conn_close(conn, 1011, b"internal error", 14)
            except Exception:  # pragma: no cover - nothing more can be done
                pass

    def _make_handlers(self) -> n.ConnHandlers:
        connections = self.connections
        sinks = self.sinks
        targets = self.targets
        fail = self._fail
        string_at = ctypes.string_at
        TEXT = n.SWS_MESSAGE_TEXT

        def on_open(conn: int, user_data: int) -> None:
            try:
                target = targets.get(user_data)
                if target is None:
                    n.lib.sws_conn_close(conn, 1011, b"no handler", 10)
                    return
                connection = target._on_native_open(conn)
                connections[conn] = connection
                sinks[conn] = connection._message_sink
            except BaseException:
                fail(conn, "on_open")

        def on_message(conn: int, _ud: int, kind: int, data: Any, length: int) -> None:
            try:
                sink = sinks.get(conn)
                if sink is not None:
                    payload = data[:length] if length else b""
                    sink(payload.decode("utf-8") if kind == TEXT else payload)
            except BaseException:
                fail(conn, "on_message")

        # Only conn, len and kind are read: the payloads lie back to back in arrival order, so
        # each one starts where the previous one ended (two fewer ints per message).
        iter_unpack = struct.Struct(n.MESSAGE_ENTRY_READ_FORMAT).iter_unpack
        entry_size = ctypes.sizeof(n.MessageEntry)
        sinks_get = sinks.get

        def on_messages(entries: int, count: int, payloads: int, payloads_len: int, _ud: int) -> None:
            # One ctypes callback per loop iteration: the entries and the payloads are copied
            # out in one piece each, then every message costs a tuple and a bytes slice. The
            # replies listener connections send meanwhile are collected and written together
            # at the end (flush_sends: one native call instead of one per reply).
            if self.pending_sends:  # a batch delivered from inside another's handling
                self.flush_sends()
            outer = self.pending_sends
            self.pending_sends = []
            try:
                table = string_at(entries, count * entry_size)
                data = string_at(payloads, payloads_len)
                end = 0
                for conn, length, kind in iter_unpack(table):
                    start = end
                    end += length
                    sink = sinks_get(conn)
                    if sink is None:
                        continue
                    payload = data[start:end]
                    try:
                        sink(payload.decode("utf-8") if kind == TEXT else payload)
                    except ConnectionClosed:
                        # A reply to a message read together with the peer's close frame: the
                        # batch comes after the close began (see on_messages), nothing to report.
                        pass
                    except BaseException:
                        fail(conn, "on_message")
            finally:
                try:
                    self.flush_sends()
                except BaseException:  # never into the native caller
                    fail(None, "writing the replies collected during on_messages")
                finally:
                    self.pending_sends = outer

        def on_fragment(conn: int, _ud: int, kind: int, data: int, length: int, first: bool, final: bool) -> None:
            # Only for connections that asked for it (recv_streaming: sws_conn_set_stream_fragmented).
            try:
                connection = connections.get(conn)
                if connection is not None:
                    connection._on_fragment(kind, string_at(data, length) if length else b"", first, final)
            except BaseException:
                fail(conn, "on_fragment")

        def on_pong(conn: int, _ud: int, data: int, length: int) -> None:
            try:
                connection = connections.get(conn)
                if connection is not None:
                    connection._on_pong(string_at(data, length) if length else b"")
            except BaseException:
                fail(conn, "on_pong")

        def on_drain(conn: int, _ud: int) -> None:
            try:
                connection = connections.get(conn)
                if connection is not None:
                    connection._on_drain()
            except BaseException:
                fail(conn, "on_drain")

        def on_close(conn: int, _ud: int, code: int, reason: int, length: int) -> None:
            try:
                sinks.pop(conn, None)
                connection = connections.pop(conn, None)
                if connection is not None:
                    text = string_at(reason, length).decode("utf-8", "replace") if length else ""
                    connection._on_close(code, text, n.lib.sws_conn_close_initiated_locally(conn),
                                         n.lib.sws_conn_close_timed_out(conn))
            except BaseException:
                fail(None, "on_close")

        def on_connect_error(user_data: int, status: int, http_status: int, message: int) -> None:
            try:
                target = targets.pop(user_data, None)
                if target is not None:
                    target._on_connect_error(status, http_status, _text(message))
            except BaseException:
                fail(None, "on_connect_error")

        def on_upgrade(server: int, user_data: int, request: int) -> None:
            try:
                target = targets.get(user_data)
                if target is not None:
                    target._on_upgrade(request, upgrade=True)
            except BaseException:
                logger.exception("swiftws: exception in process_request; answering 500")
                n.lib.sws_request_respond(request, 500, b"Internal Server Error\n", 22)

        def on_http_request(server: int, user_data: int, request: int) -> None:
            try:
                target = targets.get(user_data)
                if target is not None:
                    target._on_upgrade(request, upgrade=False)
            except BaseException:
                logger.exception("swiftws: exception in process_request; answering 500")
                n.lib.sws_request_respond(request, 500, b"Internal Server Error\n", 22)

        # A library with on_messages delivers messages there (batched); on_message serves one
        # built before it (which reads the struct only up to its own size).
        return n.conn_handlers(on_open=on_open, on_message=on_message, on_messages=on_messages,
                               on_fragment=on_fragment, on_pong=on_pong, on_drain=on_drain, on_close=on_close,
                               on_connect_error=on_connect_error, on_upgrade=on_upgrade,
                               on_http_request=on_http_request)


#: ``struct.Struct`` of n ``sws_send_entry`` by n (a batch's size repeats under a steady load).
_send_entry_structs: Dict[int, struct.Struct] = {}
_SEND_ENTRY_SIZE = ctypes.sizeof(n.SendEntry)
_send_batch = getattr(n.fast, "sws_conn_send_batch", None)  # None with a library without it


def call_guarded(function: Callable[..., Any], *args: Any) -> None:
    """Calls ``function``; an exception is logged, never propagated (for callbacks)."""
    try:
        function(*args)
    except BaseException:
        logger.exception("swiftws: exception in a callback")
