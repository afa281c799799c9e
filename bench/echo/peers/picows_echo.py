"""Echo server on Python `picows` (Cython, frame-level API), a peer for bench/echo/run.sh.

picows hands the application frames, not messages, so each frame goes back as it came: same
type (text, binary or continuation) and the same FIN bit, which echoes fragmented messages
faithfully. Pings are answered by the library (enable_auto_pong, its default). A close frame is
answered with the same code, then the connection is closed. No compression (picows has none).

    python picows_echo.py --port PORT [--host 127.0.0.1]

Prints `listening on HOST:PORT` once the socket accepts connections; stops on SIGTERM/SIGINT.
"""

import argparse
import asyncio
import signal

from picows import WSFrame, WSListener, WSMsgType, WSTransport, WSUpgradeRequest, ws_create_server


class EchoListener(WSListener):
    """Sends every data frame back on the connection it came from."""

    def on_ws_frame(self, transport: WSTransport, frame: WSFrame) -> None:
        if frame.msg_type == WSMsgType.CLOSE:
            transport.send_close(frame.get_close_code(), frame.get_close_message())
            transport.disconnect()
        elif frame.msg_type in (WSMsgType.TEXT, WSMsgType.BINARY, WSMsgType.CONTINUATION):
            transport.send(frame.msg_type, frame.get_payload_as_memoryview(), frame.fin)


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args()

    def listener_factory(request: WSUpgradeRequest) -> EchoListener:
        return EchoListener()

    stop = asyncio.get_running_loop().create_future()
    for signum in (signal.SIGTERM, signal.SIGINT):
        asyncio.get_running_loop().add_signal_handler(signum, stop.cancel)

    server = await ws_create_server(
        listener_factory, args.host, args.port, max_frame_size=64 * 1024 * 1024
    )
    print(f"listening on {args.host}:{args.port}", flush=True)
    try:
        await stop
    except asyncio.CancelledError:
        pass
    server.close()


if __name__ == "__main__":
    asyncio.run(main())
