"""``Connection`` of the blocking API: a thread-safe wrapper of an asyncio connection running
in the background thread (see ``_background``)."""

from __future__ import annotations

from typing import Any, Iterable, Iterator, Optional, Tuple, Union

from ..asyncio.connection import Connection as AsyncConnection, State
from ..exceptions import ConnectionClosed, OK_CLOSE_CODES
from . import _background

Data = Union[str, bytes]


class Connection:
    """A WebSocket connection with blocking methods; usable from any thread."""

    def __init__(self, connection: AsyncConnection) -> None:
        self._connection = connection

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
    def latency(self) -> float:
        return self._connection.latency

    # -- messages --------------------------------------------------------------------------------

    def recv(self, timeout: Optional[float] = None, decode: Optional[bool] = None) -> Data:
        """The next message (``str`` text, ``bytes`` binary). Raises ``TimeoutError`` after
        ``timeout`` seconds (no message is lost), ``ConnectionClosed`` once closed."""
        return _background.run(self._connection.recv(decode), timeout)

    def __iter__(self) -> Iterator[Data]:
        """Messages until a normal closure (an abnormal one raises ``ConnectionClosedError``)."""
        try:
            while True:
                yield self.recv()
        except ConnectionClosed as closed:
            if closed.code not in OK_CLOSE_CODES:
                raise

    def send(self, message: Union[Data, Iterable[Data]], text: Optional[bool] = None) -> None:
        """Sends a message (an iterable is sent as a fragmented message); waits while the peer
        lags by more than ``write_limit`` bytes."""
        if not isinstance(message, (str, bytes, bytearray, memoryview)):
            message = list(message)  # iterate here, in the caller's thread
        _background.run(self._connection.send(message, text))

    def ping(self, data: Optional[Data] = None, timeout: Optional[float] = None) -> float:
        """Sends a ping and waits for its pong; returns the round-trip time in seconds."""
        async def ping_pong() -> float:
            waiter = await self._connection.ping(data)
            return await waiter
        return _background.run(ping_pong(), timeout)

    def close(self, code: int = 1000, reason: str = "") -> None:
        """Performs the close handshake and waits until the connection closed."""
        _background.run(self._connection.close(code, reason))

    def wait_closed(self, timeout: Optional[float] = None) -> None:
        """Waits until the connection has closed."""
        _background.run(self._connection.wait_closed(), timeout)

    def __enter__(self) -> "Connection":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()
