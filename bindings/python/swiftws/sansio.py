"""The sans-I/O layer: a WebSocket session and the opening handshakes, without any I/O.

For programs with their own transport (like ``websockets``' sans-I/O protocol or wslay): feed
the bytes read, take the events and the bytes to write.

    server = ServerHandshake()
    complete, consumed = server.feed(request_bytes)
    server.accept()                       # or server.reject(403, b"no")
    transport.write(server.response())
    session = server.new_session()
    events = session.feed(request_bytes[consumed:])
    session.send_text("hello")
    transport.write(session.data_to_send())

Objects here are not thread-safe: use each from one thread at a time.
"""

from __future__ import annotations

import ctypes
import logging
from ctypes import byref, c_bool, c_size_t, c_uint16, c_void_p
from dataclasses import dataclass
from typing import Callable, Iterable, List, Optional, Sequence, Tuple, Union

from . import _native as n
from .exceptions import SwiftWSError, check

logger = logging.getLogger("swiftws")

__all__ = [
    "Role", "State", "Text", "Binary", "Fragment", "Ping", "Pong", "Close", "Failure", "Event",
    "Session", "ServerHandshake", "ClientHandshake", "compression_config",
]


class Role:
    """Which end a session plays: a client masks its frames (RFC 6455 section 5.3)."""

    CLIENT = n.SWS_ROLE_CLIENT
    SERVER = n.SWS_ROLE_SERVER


class State:
    """``sws_session_state``: where the connection is in its life (RFC 6455 section 7)."""

    OPEN = n.SWS_SESSION_OPEN
    CLOSING = n.SWS_SESSION_CLOSING
    CLOSED = n.SWS_SESSION_CLOSED


@dataclass(frozen=True)
class Text:
    """A whole text message."""

    data: str


@dataclass(frozen=True)
class Binary:
    """A whole binary message."""

    data: bytes


@dataclass(frozen=True)
class Fragment:
    """One frame of a message delivered in streaming mode."""

    is_text: bool
    data: bytes
    is_first: bool
    is_final: bool


@dataclass(frozen=True)
class Ping:
    """A ping (with ``auto_pong`` the pong is already queued)."""

    data: bytes


@dataclass(frozen=True)
class Pong:
    """A pong."""

    data: bytes


@dataclass(frozen=True)
class Close:
    """The peer's close frame (1005 when it carried no code); the answer is queued."""

    code: int
    reason: str


@dataclass(frozen=True)
class Failure:
    """The connection failed with ``code`` (1002, 1007, 1009, ... or 1006 for a lost transport)."""

    code: int
    reason: str


Event = Union[Text, Binary, Fragment, Ping, Pong, Close, Failure]

_Data = Union[bytes, bytearray, memoryview]


def compression_config(enabled: bool = True, **fields: int) -> n.CompressionConfig:
    """An ``sws_compression_config`` with the library's defaults, ``enabled`` and ``fields`` set."""
    config = n.CompressionConfig()
    check(n.lib.sws_compression_config_init(byref(config)))
    config.enabled = enabled
    for name, value in fields.items():
        setattr(config, name, value)
    return config


def _session_config(max_message_size: Optional[int], max_frame_size: Optional[int],
                    max_fragments_per_message: Optional[int], streaming_threshold: int,
                    auto_pong: bool) -> n.SessionConfig:
    config = n.SessionConfig()
    check(n.lib.sws_session_config_init(byref(config)))
    if max_message_size is not None:
        config.max_message_size = max_message_size
    if max_frame_size is not None:
        config.max_frame_size = max_frame_size
    if max_fragments_per_message is not None:
        config.max_fragments_per_message = max_fragments_per_message
    config.streaming_threshold = streaming_threshold
    config.auto_pong = auto_pong
    return config


def _buffer(data: _Data) -> Tuple[Optional[ctypes.Array], int]:
    """A ctypes view of ``data`` for a call that copies it (None for empty data)."""
    if not data:
        return None, 0
    if isinstance(data, bytes):
        return data, len(data)  # type: ignore[return-value]  # bytes pass as c_void_p directly
    raw = bytes(data)
    return raw, len(raw)  # type: ignore[return-value]


class Session:
    """A sans-I/O WebSocket session (``sws_session_t``), after the opening handshake.

    Create it directly (``Session(Role.SERVER)``), or from a completed handshake with
    ``ServerHandshake.new_session()`` / ``ClientHandshake.new_session()`` (which adds the agreed
    permessage-deflate codec). ``feed()`` returns the events the bytes produced; the bytes to write
    are taken with ``data_to_send()``.
    """

    def __init__(self, role: int = Role.SERVER, *, max_message_size: Optional[int] = None,
                 max_frame_size: Optional[int] = None, max_fragments_per_message: Optional[int] = None,
                 streaming_threshold: int = 0, auto_pong: bool = True,
                 _factory: Optional[object] = None) -> None:
        self._events: List[Event] = []
        self._handle: Optional[int] = None
        self._callbacks = self._make_callbacks()
        config = _session_config(max_message_size, max_frame_size, max_fragments_per_message,
                                 streaming_threshold, auto_pong)
        out = c_void_p()
        if _factory is None:
            check(n.lib.sws_session_new(role, byref(config), byref(self._callbacks), None, byref(out)),
                  "sws_session_new")
        else:
            check(_factory(byref(config), byref(self._callbacks), None, byref(out)),  # type: ignore[operator]
                  "new_session")
        self._handle = out.value

    def _make_callbacks(self) -> n.SessionCallbacks:
        events = self._events

        def on_text(_s: int, _u: int, data: int, length: int) -> None:
            events.append(Text(n.borrowed(data, length).decode("utf-8")))

        def on_binary(_s: int, _u: int, data: int, length: int) -> None:
            events.append(Binary(n.borrowed(data, length)))

        def on_fragment(_s: int, _u: int, kind: int, data: int, length: int, first: bool, final: bool) -> None:
            events.append(Fragment(kind == n.SWS_MESSAGE_TEXT, n.borrowed(data, length), first, final))

        def on_ping(_s: int, _u: int, data: int, length: int) -> None:
            events.append(Ping(n.borrowed(data, length)))

        def on_pong(_s: int, _u: int, data: int, length: int) -> None:
            events.append(Pong(n.borrowed(data, length)))

        def on_close(_s: int, _u: int, code: int, reason: int, length: int) -> None:
            events.append(Close(code, n.borrowed(reason, length).decode("utf-8", "replace")))

        def on_error(_s: int, _u: int, code: int, reason: int, length: int) -> None:
            events.append(Failure(code, n.borrowed(reason, length).decode("utf-8", "replace")))

        def guarded(function: Callable[..., None]) -> Callable[..., None]:
            # An exception must never unwind into native code: log it instead.
            def call(*args: object) -> None:
                try:
                    function(*args)
                except BaseException:
                    logger.exception("swiftws: exception in a session callback")
            return call

        callbacks = n.SessionCallbacks()
        check(n.lib.sws_session_callbacks_init(byref(callbacks)))
        callbacks.on_text = n.SESSION_ON_DATA(guarded(on_text))
        callbacks.on_binary = n.SESSION_ON_DATA(guarded(on_binary))
        callbacks.on_fragment = n.SESSION_ON_FRAGMENT(guarded(on_fragment))
        callbacks.on_ping = n.SESSION_ON_DATA(guarded(on_ping))
        callbacks.on_pong = n.SESSION_ON_DATA(guarded(on_pong))
        callbacks.on_close = n.SESSION_ON_CLOSE(guarded(on_close))
        callbacks.on_error = n.SESSION_ON_CLOSE(guarded(on_error))
        return callbacks

    def _h(self) -> int:
        if self._handle is None:
            raise SwiftWSError(n.SWS_ERR_INVALID_ARGUMENT, "the session was freed")
        return self._handle

    def feed(self, data: _Data) -> List[Event]:
        """Feeds bytes read from the transport; returns the events they produced, in order.

        Raises ``SwiftWSError`` with SWS_ERR_CLOSED when the session no longer takes input.
        """
        buffer = ctypes.create_string_buffer(bytes(data), len(data)) if data else None
        check(n.lib.sws_session_feed(self._h(), buffer, len(data)), "sws_session_feed")
        return self._take_events()

    def feed_eof(self) -> List[Event]:
        """Tells the session the transport ended; returns the events (a 1006 ``Failure`` if unclean)."""
        check(n.lib.sws_session_feed_eof(self._h()), "sws_session_feed_eof")
        return self._take_events()

    def _take_events(self) -> List[Event]:
        events = list(self._events)
        self._events.clear()
        return events

    def send_text(self, text: str) -> None:
        """Queues a text message."""
        data, length = _buffer(text.encode("utf-8"))
        check(n.lib.sws_session_send_text(self._h(), data, length), "sws_session_send_text")

    def send_binary(self, data: _Data) -> None:
        """Queues a binary message."""
        raw, length = _buffer(data)
        check(n.lib.sws_session_send_binary(self._h(), raw, length), "sws_session_send_binary")

    def send_fragment(self, data: Union[str, _Data], is_final: bool) -> None:
        """Queues one frame of a fragmented message (text if ``data`` is a ``str``)."""
        kind = n.SWS_MESSAGE_TEXT if isinstance(data, str) else n.SWS_MESSAGE_BINARY
        raw, length = _buffer(data.encode("utf-8") if isinstance(data, str) else data)
        check(n.lib.sws_session_send_fragment(self._h(), kind, raw, length, is_final), "sws_session_send_fragment")

    def send_ping(self, data: _Data = b"") -> None:
        """Queues a ping (0..125 bytes)."""
        raw, length = _buffer(data)
        check(n.lib.sws_session_send_ping(self._h(), raw, length), "sws_session_send_ping")

    def send_pong(self, data: _Data = b"") -> None:
        """Queues an unsolicited pong."""
        raw, length = _buffer(data)
        check(n.lib.sws_session_send_pong(self._h(), raw, length), "sws_session_send_pong")

    def close(self, code: int = 1000, reason: str = "") -> None:
        """Starts the close handshake with ``code`` and ``reason`` (at most 123 bytes of UTF-8)."""
        raw, length = _buffer(reason.encode("utf-8"))
        check(n.lib.sws_session_close(self._h(), code, raw, length), "sws_session_close")

    def data_to_send(self) -> bytes:
        """Takes every byte waiting to be written to the transport (and marks it written)."""
        pointer = c_void_p()
        length = c_size_t()
        check(n.lib.sws_session_pending_output(self._h(), byref(pointer), byref(length)))
        if not length.value:
            return b""
        data = ctypes.string_at(pointer.value, length.value)
        check(n.lib.sws_session_consume_output(self._h(), length.value))
        return data

    @property
    def should_close_transport(self) -> bool:
        """True once the transport should be closed (after writing ``data_to_send()``)."""
        return bool(n.lib.sws_session_should_close_transport(self._h()))

    @property
    def closes_transport_first(self) -> bool:
        """True when this side closes TCP first (a server, or after a failure)."""
        return bool(n.lib.sws_session_closes_transport_first(self._h()))

    @property
    def state(self) -> int:
        """``State.OPEN``, ``State.CLOSING`` or ``State.CLOSED``."""
        return int(n.lib.sws_session_get_state(self._h()))

    @property
    def close_status(self) -> Tuple[int, str]:
        """How the connection ended: (code, reason); (0, "") while it has not."""
        code = c_uint16()
        reason = c_void_p()
        length = c_size_t()
        check(n.lib.sws_session_close_status(self._h(), byref(code), byref(reason), byref(length)))
        return code.value, n.borrowed(reason.value, length.value).decode("utf-8", "replace")

    def free(self) -> None:
        """Frees the native session now (also done when the object is collected)."""
        if self._handle is not None:
            n.lib.sws_session_free(self._handle)
            self._handle = None

    def __del__(self) -> None:
        try:
            self.free()
        except Exception:  # interpreter shutdown: the library may be gone
            pass


def _string(pointer: c_void_p, length: c_size_t) -> str:
    return n.borrowed(pointer.value, length.value).decode("utf-8", "replace")


class ServerHandshake:
    """The server side of the opening handshake (``sws_server_handshake_t``).

    ``compression``: True (the defaults), False, or an ``sws_compression_config`` from
    ``compression_config()``.
    """

    def __init__(self, compression: Union[bool, n.CompressionConfig] = True) -> None:
        self._handle: Optional[int] = None
        config = compression if isinstance(compression, n.CompressionConfig) else compression_config(compression)
        out = c_void_p()
        check(n.lib.sws_server_handshake_new(byref(config), byref(out)), "sws_server_handshake_new")
        self._handle = out.value

    def feed(self, data: _Data) -> Tuple[bool, int]:
        """Feeds request bytes; returns (complete, consumed). A malformed request raises
        ``SwiftWSError`` (SWS_ERR_HANDSHAKE) with the rejection ready in ``response()``."""
        raw = bytes(data)
        consumed = c_size_t()
        complete = c_bool()
        check(n.lib.sws_server_handshake_feed(self._handle, raw or None, len(raw), byref(consumed), byref(complete)),
              "sws_server_handshake_feed")
        return bool(complete.value), consumed.value

    @property
    def target(self) -> str:
        """The request target ("/chat?room=1")."""
        target, target_len = c_void_p(), c_size_t()
        check(n.lib.sws_server_handshake_target(self._handle, byref(target), byref(target_len), None, None))
        return _string(target, target_len)

    @property
    def path(self) -> str:
        """The request path ("/chat")."""
        path, path_len = c_void_p(), c_size_t()
        check(n.lib.sws_server_handshake_target(self._handle, None, None, byref(path), byref(path_len)))
        return _string(path, path_len)

    def header(self, name: str) -> Optional[str]:
        """The first request header called ``name`` (case-insensitive), or None."""
        value, length = c_void_p(), c_size_t()
        check(n.lib.sws_server_handshake_header(self._handle, name.encode(), byref(value), byref(length)))
        return None if value.value is None else _string(value, length)

    @property
    def subprotocols(self) -> List[str]:
        """The subprotocols the client offered, in its order of preference."""
        result = []
        for index in range(n.lib.sws_server_handshake_subprotocol_count(self._handle)):
            name, length = c_void_p(), c_size_t()
            check(n.lib.sws_server_handshake_subprotocol(self._handle, index, byref(name), byref(length)))
            result.append(_string(name, length))
        return result

    def accept(self, subprotocol: Optional[str] = None) -> None:
        """Accepts the upgrade (with one of the offered subprotocols, or none)."""
        check(n.lib.sws_server_handshake_accept(self._handle, subprotocol.encode() if subprotocol else None),
              "sws_server_handshake_accept")

    def reject(self, status: int, body: bytes = b"") -> None:
        """Refuses the upgrade with an HTTP ``status`` and a text/plain ``body``."""
        check(n.lib.sws_server_handshake_reject(self._handle, status, body or None, len(body)),
              "sws_server_handshake_reject")

    @property
    def compression(self) -> bool:
        """Whether ``accept()`` agreed on permessage-deflate."""
        return bool(n.lib.sws_server_handshake_compression(self._handle))

    def response(self) -> bytes:
        """The HTTP response to write (101, a rejection, or the answer to a malformed request)."""
        data, length = c_void_p(), c_size_t()
        check(n.lib.sws_server_handshake_response(self._handle, byref(data), byref(length)),
              "sws_server_handshake_response")
        return n.borrowed(data.value, length.value)

    def new_session(self, **options: object) -> Session:
        """The session of the accepted connection (with the agreed compression); options as ``Session``."""
        handle = self._handle

        def factory(config: object, callbacks: object, user_data: None, out: object) -> int:
            return int(n.lib.sws_server_handshake_new_session(handle, config, callbacks, user_data, out))

        return Session(Role.SERVER, _factory=factory, **options)  # type: ignore[arg-type]

    def __del__(self) -> None:
        try:
            if self._handle is not None:
                n.lib.sws_server_handshake_free(self._handle)
                self._handle = None
        except Exception:
            pass


def _c_strings(values: Sequence[str]) -> Optional[ctypes.Array]:
    if not values:
        return None
    return (ctypes.c_char_p * len(values))(*[value.encode("utf-8") for value in values])


class ClientHandshake:
    """The client side of the opening handshake (``sws_client_handshake_t``): ``request()`` is
    the request to write, ``feed()`` reads the response."""

    def __init__(self, host: str, port: int = 0, path: str = "/", *, secure: bool = False,
                 origin: Optional[str] = None, subprotocols: Sequence[str] = (),
                 headers: Iterable[Tuple[str, str]] = (),
                 compression: Union[bool, n.CompressionConfig] = True) -> None:
        self._handle: Optional[int] = None
        config = n.ClientHandshakeConfig()
        check(n.lib.sws_client_handshake_config_init(byref(config)))
        header_list = list(headers)
        names = _c_strings([name for name, _ in header_list])
        values = _c_strings([value for _, value in header_list])
        protocols = _c_strings(list(subprotocols))
        compression_struct = (compression if isinstance(compression, n.CompressionConfig)
                              else compression_config(compression))
        config.host = host.encode("utf-8")
        config.port = port
        config.secure = secure
        config.path = path.encode("utf-8")
        config.origin = origin.encode("utf-8") if origin is not None else None
        if protocols is not None:
            config.subprotocols = ctypes.cast(protocols, ctypes.POINTER(ctypes.c_char_p))
            config.subprotocol_count = len(subprotocols)
        if names is not None:
            config.header_names = ctypes.cast(names, ctypes.POINTER(ctypes.c_char_p))
            config.header_values = ctypes.cast(values, ctypes.POINTER(ctypes.c_char_p))
            config.header_count = len(header_list)
        config.compression = ctypes.pointer(compression_struct)
        out = c_void_p()
        check(n.lib.sws_client_handshake_new(byref(config), byref(out)), "sws_client_handshake_new")
        self._handle = out.value

    def request(self) -> bytes:
        """The HTTP upgrade request to write."""
        data, length = c_void_p(), c_size_t()
        check(n.lib.sws_client_handshake_request(self._handle, byref(data), byref(length)))
        return n.borrowed(data.value, length.value)

    def feed(self, data: _Data) -> Tuple[bool, int]:
        """Feeds response bytes; returns (complete, consumed). A refusal or an invalid response
        raises ``SwiftWSError`` (SWS_ERR_HANDSHAKE); see ``http_status``."""
        raw = bytes(data)
        consumed = c_size_t()
        complete = c_bool()
        check(n.lib.sws_client_handshake_feed(self._handle, raw or None, len(raw), byref(consumed), byref(complete)),
              "sws_client_handshake_feed")
        return bool(complete.value), consumed.value

    @property
    def http_status(self) -> int:
        """The response's HTTP status once its head was read (101 on success), else 0."""
        return int(n.lib.sws_client_handshake_http_status(self._handle))

    @property
    def compression(self) -> bool:
        """Whether the server accepted permessage-deflate."""
        return bool(n.lib.sws_client_handshake_compression(self._handle))

    @property
    def subprotocol(self) -> Optional[str]:
        """The subprotocol the server selected, or None."""
        name, length = c_void_p(), c_size_t()
        check(n.lib.sws_client_handshake_subprotocol(self._handle, byref(name), byref(length)))
        return None if name.value is None else _string(name, length)

    def new_session(self, **options: object) -> Session:
        """The session of the upgraded connection (with the agreed compression)."""
        handle = self._handle

        def factory(config: object, callbacks: object, user_data: None, out: object) -> int:
            return int(n.lib.sws_client_handshake_new_session(handle, config, callbacks, user_data, out))

        return Session(Role.CLIENT, _factory=factory, **options)  # type: ignore[arg-type]

    def __del__(self) -> None:
        try:
            if self._handle is not None:
                n.lib.sws_client_handshake_free(self._handle)
                self._handle = None
        except Exception:
            pass
