"""TLS done by asyncio with a stdlib ``ssl.SSLContext``, WebSocket by the library: every server
given one, and a client whose context trusts a certificate ``get_ca_certs()`` cannot read.

A stdlib ``ssl.SSLContext`` cannot hand its certificate and key to the library's OpenSSL (Python
exposes neither), and websockets programs build their server contexts that way. So for such a
context asyncio terminates TLS (``loop.create_server(ssl=context)``, the program's context as it
configured it: certificates, ciphers, client certificates, SNI callbacks) and each decrypted
connection is handed to the library over a socketpair (``sws_server_adopt_connection``): the
library still does the whole WebSocket protocol, with its limits. The price is a Python copy of
every byte each way; ``swiftws.tls.SSLContext`` (same ``load_cert_chain``) keeps TLS native and
fast (README, Known limitations).

The library's end of the socketpair sees our end as its peer; our end is bound to a unique
abstract name (Linux autobind), so the connection the library reports is matched to its TLS
connection: ``remote_address`` and ``local_address`` are the TCP ones, and
``connection.transport`` is asyncio's TLS transport (``get_extra_info("ssl_object")``).

The library's own listener for these connections is a Unix socket whose path is removed before
the server starts, in a directory only this user can enter: nothing can connect to it, so no
connection bypasses TLS.
"""

from __future__ import annotations

import asyncio
import os
import socket
import tempfile
from ctypes import byref, c_void_p
from typing import Any, Callable, Dict, List, Optional

from .. import _native as n

__all__ = ["TLSRelay", "connect_tls"]


class TLSRelay:
    """The asyncio TLS listener of one server and its live relays, by the name of our end."""

    def __init__(self, context: Any, handshake_timeout: Optional[float]) -> None:
        self.context = context
        self.handshake_timeout = handshake_timeout
        self.native_server: Optional[int] = None
        self.listener: Optional[asyncio.AbstractServer] = None
        self.relays: Dict[str, "_Relay"] = {}

    async def start(self, native: Any, config: Any, key: int, host: Optional[str], port: int,
                    path: Optional[str], sock: Optional[socket.socket]) -> "tuple[int, List[socket.socket]]":
        """Starts the library's hidden server and asyncio's TLS listener; returns the native
        server and duplicates of the listening sockets (what ``server.sockets`` shows)."""
        directory = tempfile.mkdtemp(prefix="swiftws-tls-")  # mode 0700
        hidden = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            hidden.bind(os.path.join(directory, "s"))
            hidden.listen()
        finally:
            try:
                os.unlink(os.path.join(directory, "s"))
            finally:
                os.rmdir(directory)
        out = c_void_p()
        status = n.lib.sws_server_new_from_socket(native.handle, hidden.fileno(), config.pointer(),
                                                  byref(native.handlers), key, byref(out))
        if status != n.SWS_OK:
            hidden.close()
            raise OSError(f"[swiftws] could not start the TLS relay's server: {n.last_error()}")
        hidden.detach()  # the library owns it now
        self.native_server = out.value
        loop = native.aloop
        timeout = self.handshake_timeout if self.handshake_timeout else None
        try:
            if path is not None or (sock is not None and sock.family == socket.AF_UNIX):
                self.listener = await loop.create_unix_server(lambda: _Relay(loop, self._adopt), path, sock=sock,
                                                              ssl=self.context, ssl_handshake_timeout=timeout)
            else:
                self.listener = await loop.create_server(lambda: _Relay(loop, self._adopt), host, port or None,
                                                         sock=sock, ssl=self.context, ssl_handshake_timeout=timeout)
        except BaseException:
            n.lib.sws_server_free(self.native_server)
            self.native_server = None
            raise
        return out.value, [socket.socket(fileno=os.dup(s.fileno())) for s in self.listener.sockets]  # type: ignore[arg-type]

    def close(self) -> None:
        """Stops accepting (connections already relayed go on until the library closes them). A
        TLS handshake still running finds no server and is dropped: the server closes right
        after this, and the library's handle must not be used once it is freed."""
        self.native_server = None
        if self.listener is not None:
            self.listener.close()
            self.listener = None

    def _adopt(self, relay: "_Relay") -> Optional[socket.socket]:
        """A TLS connection is up: a socketpair, the library serving one end (our end's unique
        name is how ``opened`` finds the relay again); None when the server is gone."""
        ours, theirs = socket.socketpair()
        ours.bind("")  # autobind: a unique abstract name, the library's view of its peer
        server = self.native_server
        if server is None or n.lib.sws_server_adopt_connection(server, theirs.fileno()) != n.SWS_OK:
            ours.close()
            theirs.close()
            return None
        theirs.detach()  # the library owns it now
        relay.name = "@" + ours.getsockname()[1:].decode("ascii")
        relay.on_lost = lambda: self.relays.pop(relay.name, None)
        self.relays[relay.name] = relay
        return ours

    def opened(self, connection: Any) -> None:
        """The library opened a relayed connection: give it the TCP addresses and the TLS
        transport of the connection it came from."""
        relay = self.relays.get(connection.remote_address) if isinstance(connection.remote_address, str) else None
        if relay is not None:
            relay.describe(connection)


async def connect_tls(loop: asyncio.AbstractEventLoop, context: Any, server_hostname: str,
                      host: Optional[str], port: int, path: Optional[str],
                      sock: Optional[socket.socket]) -> "tuple[int, _Relay]":
    """The client's side: a TLS connection made by asyncio with ``context`` (to ``host``:
    ``port``, the Unix socket ``path``, or over ``sock``), and the descriptor of the
    socketpair end the library runs the WebSocket connection over (the caller hands it to
    ``sws_client_connect_socket``, which owns it then). TLS errors are asyncio's
    (``ssl.SSLCertVerificationError``, ...)."""
    ours, theirs = socket.socketpair()
    relay = _Relay(loop, lambda _relay: ours)
    try:
        if path is not None or (sock is not None and sock.family == socket.AF_UNIX):
            await loop.create_unix_connection(lambda: relay, path, sock=sock, ssl=context,
                                              server_hostname=server_hostname)
        else:
            await loop.create_connection(lambda: relay, None if sock is not None else host,
                                         None if sock is not None else port, sock=sock, ssl=context,
                                         server_hostname=server_hostname)
    except BaseException:
        ours.close()
        theirs.close()
        raise
    return theirs.detach(), relay


class TLSSocket:
    """What websockets' blocking ``connection.socket`` is for a TLS connection (an
    ``ssl.SSLSocket``), for one whose TLS asyncio runs here: the ``ssl.SSLObject``'s answers
    (``version()``, ``server_hostname``, ``getpeercert()``, ``cipher()``, ...) and the TCP
    socket's (``getsockname()``, ``getpeername()``, ``fileno()``, ...). Reading and writing
    stay the connection's (the relay owns the bytes): ``recv``/``send`` are not offered."""

    def __init__(self, transport: asyncio.BaseTransport) -> None:
        self._tls = transport.get_extra_info("ssl_object")
        self._socket = transport.get_extra_info("socket")

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_"):
            raise AttributeError(name)
        for part in (self._tls, self._socket):
            if hasattr(part, name):
                return getattr(part, name)
        raise AttributeError(f"{name}: the connection's TLS socket has no such attribute")


class _Relay(asyncio.Protocol):
    """One TLS connection: its decrypted bytes to the library's end of a socketpair, the
    library's bytes back, each direction pausing the other's reading while its buffer is full."""

    def __init__(self, loop: asyncio.AbstractEventLoop,
                 on_made: "Callable[[_Relay], Optional[socket.socket]]") -> None:
        self.loop = loop
        self.on_made = on_made  # our end of the socketpair once TLS is up (None: drop it)
        self.on_lost: Callable[[], Any] = lambda: None
        self.tls: Optional[asyncio.Transport] = None
        self.pipe: Optional[asyncio.Transport] = None
        self.early: List[bytes] = []  # decrypted bytes that came before the pipe was ready
        self.early_eof = False
        self.name = ""

    # -- the TLS side (asyncio calls these once the TLS handshake is done) ------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.tls = transport  # type: ignore[assignment]
        ours = self.on_made(self)
        if ours is None:
            transport.abort()
            return
        self.loop.create_task(self._connect_pipe(ours))

    def describe(self, connection: Any) -> None:
        """The connection the library opened over this relay: its addresses are the TCP ones,
        its ``transport`` asyncio's TLS transport (``get_extra_info("ssl_object")``)."""
        if self.tls is not None:
            connection.transport = self.tls
            connection.remote_address = self.tls.get_extra_info("peername")
            connection.local_address = self.tls.get_extra_info("sockname")

    async def _connect_pipe(self, ours: socket.socket) -> None:
        try:
            pipe, _ = await self.loop.connect_accepted_socket(lambda: _Pipe(self), sock=ours)
        except OSError:
            ours.close()
            if self.tls is not None:
                self.tls.abort()
            return
        self.pipe = pipe  # type: ignore[assignment]
        for data in self.early:
            pipe.write(data)  # type: ignore[attr-defined]
        self.early.clear()
        if self.early_eof or self.tls is None or self.tls.is_closing():
            pipe.close()

    def data_received(self, data: bytes) -> None:
        if self.pipe is None:
            self.early.append(data)
        else:
            self.pipe.write(data)

    def eof_received(self) -> Optional[bool]:
        if self.pipe is None:
            self.early_eof = True
        elif self.pipe.can_write_eof():
            self.pipe.write_eof()
        return None  # the TLS transport closes itself

    def connection_lost(self, exc: Optional[BaseException]) -> None:
        self.on_lost()
        if self.pipe is not None:
            self.pipe.close()  # after what is buffered
        else:
            self.early_eof = True

    def pause_writing(self) -> None:
        if self.pipe is not None:
            self.pipe.pause_reading()

    def resume_writing(self) -> None:
        if self.pipe is not None and not self.pipe.is_closing():
            self.pipe.resume_reading()


class _Pipe(asyncio.Protocol):
    """Our end of the socketpair: the library's bytes, encrypted back to the client."""

    def __init__(self, relay: _Relay) -> None:
        self.relay = relay

    def data_received(self, data: bytes) -> None:
        tls = self.relay.tls
        if tls is not None and not tls.is_closing():
            tls.write(data)

    def eof_received(self) -> Optional[bool]:
        if self.relay.tls is not None:
            self.relay.tls.close()  # after what is buffered, with TLS close_notify
        return None

    def connection_lost(self, exc: Optional[BaseException]) -> None:
        if self.relay.tls is not None:
            self.relay.tls.close()

    def pause_writing(self) -> None:
        if self.relay.tls is not None:
            self.relay.tls.pause_reading()

    def resume_writing(self) -> None:
        if self.relay.tls is not None and not self.relay.tls.is_closing():
            self.relay.tls.resume_reading()
