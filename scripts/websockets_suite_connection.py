"""The adapter that runs websockets 17's connection tests against swiftws connections (issue 12).

websockets' ``tests/asyncio/test_connection.py`` and ``tests/sync/test_connection.py`` build the
connection under test as ``Connection(Protocol(LOCAL), close_timeout=2 ms)`` over one end of a
socketpair, and a websockets peer (``InterceptingConnection`` around a ``RecordingProtocol``) over
the other end, both already OPEN; the tests drive the connection under test through its public
API (recv, send, fragments, ping/pong, close, keepalive, broadcast) and check the frames the
peer recorded. swiftws connections come from the native library after an opening handshake, not
from a Protocol object, so this adapter replaces only the fixture (setUp / tearDown):

- LOCAL = CLIENT: swiftws's ``connect("ws://localhost/", sock=one end of a socketpair)``; the
  other end answers the handshake with websockets' sans-I/O ``ServerProtocol`` (no extension, so
  frames are not compressed), then becomes the recording websockets peer.
- LOCAL = SERVER: swiftws's ``serve()`` on 127.0.0.1 port 0; the peer connects over loopback,
  opens with websockets' sans-I/O ``ClientProtocol``, then becomes the recording websockets
  peer; the connection under test is the one handed to the server's handler (which waits until
  it closes).

Everything else of the tests runs unchanged. ``self.transport`` (the local connection's asyncio
transport, used by tests that inject faults into websockets' own transport) has no swiftws
counterpart: it is None, and scripts/websockets_suite.py deselects those tests as internal.
The harness copies this file next to the tests as ``swiftws_connection_adapter``.
"""

from __future__ import annotations

import asyncio
import queue
import socket
import threading
from typing import Any, Awaitable, Callable, Tuple

from websockets.client import ClientProtocol
from websockets.protocol import CLIENT, SERVER
from websockets.server import ServerProtocol
from websockets.uri import parse_uri

import swiftws.asyncio.client as async_client
import swiftws.asyncio.server as async_server
import swiftws.sync.client as sync_client
import swiftws.sync.server as sync_server

URI = "ws://localhost/"
OPEN_TIMEOUT = 5.0  # bounds every wait of the fixture


def _server_handshake_events(protocol: ServerProtocol, data: bytes) -> bool:
    """Feeds the client's bytes to websockets' server side; True once the request is answered."""
    protocol.receive_data(data)
    events = protocol.events_received()
    if not events:
        return False
    protocol.send_response(protocol.accept(events[0]))
    return True


def _client_handshake_events(protocol: ClientProtocol, data: bytes) -> bool:
    """Feeds the server's bytes to websockets' client side; True once the 101 arrived."""
    protocol.receive_data(data)
    events = protocol.events_received()
    if not events:
        return False
    if protocol.handshake_exc is not None:
        raise protocol.handshake_exc
    return True


# asyncio


async def _answer_upgrade(sock: socket.socket) -> None:
    """websockets' server side of the opening handshake on `sock` (non-blocking)."""
    loop = asyncio.get_running_loop()
    protocol = ServerProtocol()
    while True:
        data = await loop.sock_recv(sock, 65536)
        if not data:
            raise EOFError("swiftws client closed during the handshake")
        if _server_handshake_events(protocol, data):
            break
    for data in protocol.data_to_send():
        await loop.sock_sendall(sock, data)


async def _open_upgrade(sock: socket.socket) -> None:
    """websockets' client side of the opening handshake on `sock` (non-blocking, connected)."""
    loop = asyncio.get_running_loop()
    protocol = ClientProtocol(parse_uri(URI))
    protocol.send_request(protocol.connect())
    for data in protocol.data_to_send():
        await loop.sock_sendall(sock, data)
    while True:
        data = await loop.sock_recv(sock, 65536)
        if not data:
            raise EOFError("swiftws server closed during the handshake")
        if _client_handshake_events(protocol, data):
            return


async def open_asyncio_pair(local: Any, peer_factory: Callable[[], Any], close_timeout: float
                            ) -> Tuple[Any, Any, Callable[[], Awaitable[None]]]:
    """(swiftws connection, websockets peer, cleanup) connected as described above."""
    loop = asyncio.get_running_loop()
    if local is CLIENT:
        mine, theirs = socket.socketpair()
        theirs.setblocking(False)
        answering = loop.create_task(_answer_upgrade(theirs))
        connection = await asyncio.wait_for(
            async_client.connect(URI, sock=mine, close_timeout=close_timeout), OPEN_TIMEOUT)
        await asyncio.wait_for(answering, OPEN_TIMEOUT)
        _, peer = await loop.create_connection(peer_factory, sock=theirs)

        async def cleanup() -> None:
            pass
        return connection, peer, cleanup

    opened: asyncio.Future = loop.create_future()

    async def handler(connection: Any) -> None:
        opened.set_result(connection)
        await connection.wait_closed()

    server = await async_server.serve(handler, "127.0.0.1", 0, close_timeout=close_timeout)
    port = next(iter(server.sockets)).getsockname()[1]
    theirs = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    theirs.setblocking(False)
    await loop.sock_connect(theirs, ("127.0.0.1", port))
    await asyncio.wait_for(_open_upgrade(theirs), OPEN_TIMEOUT)
    connection = await asyncio.wait_for(opened, OPEN_TIMEOUT)
    _, peer = await loop.create_connection(peer_factory, sock=theirs)

    async def cleanup() -> None:
        server.close()
        await asyncio.wait_for(server.wait_closed(), OPEN_TIMEOUT)
    return connection, peer, cleanup


def install_asyncio(tests: type, peer_class: type, recording_protocol: type, ms: float) -> None:
    """Replaces the fixture of websockets' asyncio ``ClientConnectionTests`` (and so of its
    ``ServerConnectionTests`` subclass); `ms` is the tests' millisecond (utils.MS: 100 ms for
    a released websockets, whose tests run with WEBSOCKETS_TESTS_TIMEOUT_FACTOR 100)."""
    async def asyncSetUp(self: Any) -> None:
        self.loop = asyncio.get_running_loop()
        self.transport = None
        remote = SERVER if self.LOCAL is CLIENT else CLIENT
        self.connection, self.remote_connection, self._swiftws_cleanup = await open_asyncio_pair(
            self.LOCAL, lambda: peer_class(recording_protocol(remote)), close_timeout=2 * ms)

    async def asyncTearDown(self: Any) -> None:
        try:
            await self.remote_connection.close()
            await self.connection.close()
        finally:
            await self._swiftws_cleanup()

    tests.asyncSetUp = asyncSetUp
    tests.asyncTearDown = asyncTearDown


# sync (threads)


def _answer_upgrade_blocking(sock: socket.socket) -> None:
    protocol = ServerProtocol()
    sock.settimeout(OPEN_TIMEOUT)
    while True:
        data = sock.recv(65536)
        if not data:
            raise EOFError("swiftws client closed during the handshake")
        if _server_handshake_events(protocol, data):
            break
    for data in protocol.data_to_send():
        sock.sendall(data)
    sock.settimeout(None)


def _open_upgrade_blocking(sock: socket.socket) -> None:
    protocol = ClientProtocol(parse_uri(URI))
    protocol.send_request(protocol.connect())
    sock.settimeout(OPEN_TIMEOUT)
    for data in protocol.data_to_send():
        sock.sendall(data)
    while True:
        data = sock.recv(65536)
        if not data:
            raise EOFError("swiftws server closed during the handshake")
        if _client_handshake_events(protocol, data):
            break
    sock.settimeout(None)


def open_sync_pair(local: Any, peer_factory: Callable[[socket.socket], Any], close_timeout: float
                   ) -> Tuple[Any, Any, Callable[[], None]]:
    """The blocking API's (swiftws connection, websockets peer, cleanup)."""
    if local is CLIENT:
        mine, theirs = socket.socketpair()
        failure: list = []

        def answer() -> None:
            try:
                _answer_upgrade_blocking(theirs)
            except BaseException as error:  # reported by the caller
                failure.append(error)
        answering = threading.Thread(target=answer)
        answering.start()
        connection = sync_client.connect(URI, sock=mine, close_timeout=close_timeout, open_timeout=OPEN_TIMEOUT)
        answering.join(OPEN_TIMEOUT)
        if failure:
            raise failure[0]
        return connection, peer_factory(theirs), lambda: None

    opened: "queue.Queue[Any]" = queue.Queue()
    finished = threading.Event()

    def handler(connection: Any) -> None:
        # Holds the connection open (returning would close it) without reading from it: the
        # test is the only reader.
        opened.put(connection)
        finished.wait(60)

    server = sync_server.serve(handler, "127.0.0.1", 0, close_timeout=close_timeout)
    serving = threading.Thread(target=server.serve_forever)
    serving.start()
    theirs = socket.create_connection(("127.0.0.1", server.socket.getsockname()[1]), timeout=OPEN_TIMEOUT)
    _open_upgrade_blocking(theirs)
    connection = opened.get(timeout=OPEN_TIMEOUT)

    def cleanup() -> None:
        finished.set()
        server.shutdown()
        serving.join(OPEN_TIMEOUT)
    return connection, peer_factory(theirs), cleanup


def install_sync(tests: type, peer_class: type, recording_protocol: type, ms: float) -> None:
    """Replaces the fixture of websockets' sync ``ClientConnectionTests``."""
    def setUp(self: Any) -> None:
        remote = SERVER if self.LOCAL is CLIENT else CLIENT
        self.connection, self.remote_connection, self._swiftws_cleanup = open_sync_pair(
            self.LOCAL, lambda sock: peer_class(sock, recording_protocol(remote)), close_timeout=2 * ms)

    def tearDown(self: Any) -> None:
        try:
            self.remote_connection.close()
            self.connection.close()
        finally:
            self._swiftws_cleanup()

    tests.setUp = setUp
    tests.tearDown = tearDown
