"""``Connection`` of the blocking API: a thread-safe wrapper of an asyncio connection running
in the background thread (see ``_background``), shaped like ``websockets.sync.connection``.

Attributes the wrapper does not define itself (``request``, ``response``, ``protocol``,
``logger``, ``local_address``, attributes a ``process_request`` set such as ``username``) are
read from the asyncio connection, which lives in the background thread."""

from __future__ import annotations

import asyncio
import functools
import threading
from typing import Any, Iterable, Iterator, Mapping, Optional, Tuple, Union

from ..asyncio._tls_relay import TLSSocket
from ..asyncio.handshake import HandshakeTransport
from ..asyncio.connection import Connection as AsyncConnection, State
from ..exceptions import ConcurrencyError, ConnectionClosed, OK_CLOSE_CODES
from . import _background

__all__ = ["Connection", "broadcast"]

Data = Union[str, bytes]


class _End:
    """The end of a fragmented message handed to the background loop (or the error that ended it)."""

    def __init__(self, error: Optional[BaseException] = None) -> None:
        self.error = error


class _HandshakeSocket:
    """``connection.socket`` in a blocking server's hooks: closing or shutting it down drops the
    client without an answer, as websockets' hooks do with the real socket."""

    def __init__(self, connection: "Connection") -> None:
        self._connection = connection

    def shutdown(self, how: int) -> None:
        """Drops the client (any ``how``: the request is not answered either way)."""
        self._connection.close_socket()

    def close(self) -> None:
        """Drops the client."""
        self._connection.close_socket()


class Connection:
    """A WebSocket connection with blocking methods; usable from any thread."""

    def __init__(self, connection: AsyncConnection) -> None:
        self._connection = connection
        self._recv_lock = threading.Lock()
        # A fragmented send holds the connection: another thread's send raises (websockets'
        # sync rule; the asyncio API waits instead).
        self._send_lock = threading.Lock()
        self._sending_fragments = False
        # Fragmented messages frame by frame from the start: the background thread receives a
        # message before this thread asks for it, so turning it on at the first recv_streaming
        # (as the asyncio API does) would come too late. recv() joins them again.
        if _background.in_loop_thread():
            connection._stream_fragments()
        else:
            _background.loop().call_soon_threadsafe(connection._stream_fragments)

    def __getattr__(self, name: str) -> Any:
        # Only for names this class does not define (see the module docstring).
        if name.startswith("__") or name == "_connection":
            raise AttributeError(name)
        if name == "socket":  # the property below found none
            raise AttributeError("socket: this connection's socket belongs to the native library (only a TLS "
                                 "connection made with a stdlib ssl.SSLContext has a Python one)")
        return getattr(self._connection, name)

    @property
    def close_timeout(self) -> Optional[float]:
        """Seconds a closing handshake may take (see the asyncio connection's ``close_timeout``);
        settable on an open connection, as in websockets."""
        return self._connection.close_timeout

    @close_timeout.setter
    def close_timeout(self, seconds: Optional[float]) -> None:
        _background.call(setattr, self._connection, "close_timeout", seconds)

    @property
    def socket(self) -> Any:
        """websockets' ``connection.socket`` where Python has one: for a TLS connection made
        with a stdlib ``ssl.SSLContext`` (asyncio runs its TLS), a view answering as its
        ``ssl.SSLSocket`` would (``version()``, ``server_hostname``, ``getpeername()``, ...;
        see ``TLSSocket``); in a server's hooks, before the connection opened, one whose
        ``shutdown()`` / ``close()`` drop the client (``close_socket()``). Other connections'
        sockets are the library's: AttributeError."""
        transport = getattr(self._connection, "transport", None)
        if isinstance(transport, HandshakeTransport):
            return _HandshakeSocket(self)
        if transport is None or transport.get_extra_info("ssl_object") is None:
            raise AttributeError("socket")
        return TLSSocket(transport)

    # -- information ---------------------------------------------------------------------------

    @property
    def id(self) -> Any:
        return self._connection.id

    @property
    def state(self) -> State:
        return self._connection.state

    @property
    def close_code(self) -> Optional[int]:
        return self._connection.close_code

    @property
    def close_reason(self) -> Optional[str]:
        return self._connection.close_reason

    @property
    def subprotocol(self) -> Optional[str]:
        return self._connection.subprotocol

    @property
    def remote_address(self) -> Optional[Tuple[str, int]]:
        return self._connection.remote_address

    @property
    def local_address(self) -> Optional[Tuple[str, int]]:
        return self._connection.local_address

    @property
    def latency(self) -> float:
        return self._connection.latency

    # -- messages --------------------------------------------------------------------------------

    def recv(self, timeout: Optional[float] = None, decode: Optional[bool] = None) -> Data:
        """The next message (``str`` text, ``bytes`` binary). Raises ``TimeoutError`` after
        ``timeout`` seconds (no message is lost), ``ConnectionClosed`` once closed,
        ``ConcurrencyError`` if another thread is already in ``recv``."""
        return self._recv("recv", timeout, decode)

    def _recv(self, caller: str, timeout: Optional[float], decode: Optional[bool]) -> Data:
        if not self._recv_lock.acquire(blocking=False):
            raise ConcurrencyError(f"cannot call {caller} while another thread is already running recv "
                                   "or recv_streaming")
        try:
            return _background.run(self._connection.recv(decode), timeout)
        finally:
            self._recv_lock.release()

    def recv_streaming(self, decode: Optional[bool] = None) -> Iterator[Data]:
        """The next message as an iterator of its fragments, each frame's data as it arrives
        (see the asyncio ``recv_streaming``, which this drives on the background loop)."""
        if not self._recv_lock.acquire(blocking=False):
            raise ConcurrencyError("cannot call recv_streaming while another thread is already running recv "
                                   "or recv_streaming")
        fragments = self._connection.recv_streaming(decode)
        try:
            while True:
                try:
                    fragment = _background.run(fragments.__anext__())
                except StopAsyncIteration:
                    return
                yield fragment
        finally:
            try:
                _background.run(fragments.aclose())
            finally:
                self._recv_lock.release()

    def __iter__(self) -> Iterator[Data]:
        """Messages until a normal closure (an abnormal one raises ``ConnectionClosedError``)."""
        try:
            while True:
                yield self.recv()
        except ConnectionClosed as closed:
            if closed.code not in OK_CLOSE_CODES:
                raise

    def send(self, message: Union[Data, Iterable[Data]], text: Optional[bool] = None) -> None:
        """Sends a message; an iterable is sent as a fragmented message, each fragment as soon
        as the iterable produces it (the iterable runs in the caller's thread). Waits while the
        peer lags by more than ``write_limit`` bytes."""
        with self._send_lock:
            if self._sending_fragments:
                raise ConcurrencyError("cannot call send while another thread is already running send")
            whole = isinstance(message, (str, bytes, bytearray, memoryview, Mapping)) or not hasattr(message, "__iter__")
            self._sending_fragments = not whole
        if whole:
            _background.run(self._connection.send(message, text))  # type: ignore[arg-type]
            return
        try:
            self._send_fragments(message, text)  # type: ignore[arg-type]
        finally:
            self._sending_fragments = False

    def _send_fragments(self, message: Iterable[Data], text: Optional[bool]) -> None:
        """One fragmented message: each item handed to the background loop as it is produced."""
        loop = _background.loop()
        queue: "asyncio.Queue[Any]" = _background.call(asyncio.Queue)

        async def fragments() -> Any:
            while True:
                item = await queue.get()
                if isinstance(item, _End):
                    if item.error is not None:
                        raise item.error
                    return
                yield item

        future = asyncio.run_coroutine_threadsafe(self._connection.send(fragments(), text), loop)
        try:
            for item in message:
                loop.call_soon_threadsafe(queue.put_nowait, item)
        except BaseException as error:
            loop.call_soon_threadsafe(queue.put_nowait, _End(error))
            try:
                future.result()
            except BaseException:
                pass
            raise
        loop.call_soon_threadsafe(queue.put_nowait, _End())
        future.result()

    def ping(self, data: Optional[Data] = None, *, ack_on_close: bool = False) -> threading.Event:
        """Sends a ping; returns an event set when its pong arrives (or, with ``ack_on_close``,
        when the connection closes first), as websockets' blocking ``ping``; ``latency`` is
        updated by the pong."""
        event = threading.Event()

        async def send_ping() -> None:
            waiter = await self._connection.ping(data)

            def done(future: "asyncio.Future[float]") -> None:
                if ack_on_close or (not future.cancelled() and future.exception() is None):
                    event.set()

            waiter.add_done_callback(done)  # type: ignore[attr-defined]
        _background.run(send_ping())
        return event

    def pong(self, data: Data = b"") -> None:
        """Sends an unsolicited pong (a one-way heartbeat)."""
        _background.run(self._connection.pong(data))

    def close(self, code: int = 1000, reason: str = "") -> None:
        """Performs the close handshake and waits until the connection closed."""
        _background.run(self._connection.close(code, reason))

    def close_socket(self) -> None:
        """websockets' ``close_socket()``: ends the connection at once, without a closing
        handshake. From a server's ``process_request`` / ``process_response`` hook (before the
        connection opened) it drops the client without an answer (``HandshakeTransport``)."""
        async def end() -> None:
            transport = getattr(self._connection, "transport", None)
            if isinstance(transport, HandshakeTransport):
                transport.close()
            else:
                self._connection._abort()
        if _background.in_loop_thread():
            raise RuntimeError("close_socket() cannot be called from the swiftws-sync thread")
        _background.run(end())

    def wait_closed(self, timeout: Optional[float] = None) -> None:
        """Waits until the connection has closed."""
        _background.run(self._connection.wait_closed(), timeout)

    def __enter__(self) -> "Connection":
        return self

    def __exit__(self, exc_type: Any, exc: Any, traceback: Any) -> None:
        """Closes the connection: 1000, or 1011 when the block raised (as websockets)."""
        self.close(1000 if exc_type is None else 1011)


def broadcast(connections: Iterable[Connection], message: Data, *, text: Optional[bool] = None,
              raise_exceptions: bool = False) -> None:
    """Sends ``message`` to every open connection without waiting (websockets' ``broadcast``;
    the rules of ``swiftws.asyncio.server.broadcast``)."""
    from ..asyncio.server import broadcast as async_broadcast
    inner = [getattr(connection, "_connection", connection) for connection in connections]
    _background.call(functools.partial(async_broadcast, text=text, raise_exceptions=raise_exceptions),
                     inner, message)
