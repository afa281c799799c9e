"""The C examples against Python `websockets` peers: messages, compression offers, close codes.

    python_peers_test.py BIN_DIR

BIN_DIR holds sws-echo-server, sws-chat-server and sws-client (examples/c). Each check prints one
line; any failure raises. Exit status 77 (skipped, for CTest) when `websockets` is missing.
"""
import os
import subprocess
import sys
import threading

try:
    from websockets.exceptions import ConnectionClosed
    from websockets.sync.client import connect
    from websockets.sync.server import serve
except ImportError:
    print("websockets is not installed: skipped")
    sys.exit(77)

BIN = sys.argv[1]
TIMEOUT = 10


def start(program, *options):
    """Starts a C server example on a free port; returns the process and the port."""
    process = subprocess.Popen([os.path.join(BIN, program), "--port", "0", *options], stdout=subprocess.PIPE, text=True)
    line = process.stdout.readline()
    assert line.startswith("listening on "), line
    return process, int(line.split()[-1])


def stop(process):
    process.terminate()
    assert process.wait(timeout=TIMEOUT) == 0, "server did not exit cleanly"


def check(name, condition, detail=""):
    if not condition:
        raise AssertionError(f"{name}: {detail}")
    print(f"ok - {name}")


def test_echo_server():
    process, port = start("sws-echo-server")
    try:
        url = f"ws://127.0.0.1:{port}/echo"
        # Python offers permessage-deflate by default; the server accepts it with 12-bit windows.
        with connect(url, open_timeout=TIMEOUT) as ws:
            extensions = ws.response.headers.get("Sec-WebSocket-Extensions") or ""
            check("permessage-deflate negotiated", extensions.startswith("permessage-deflate"), extensions)
            check("server window announced as 12 bits", "server_max_window_bits=12" in extensions, extensions)
            for message in ["hello", "h\u00e9llo w\u00f6rld \u2603", "", "x" * 70000]:
                ws.send(message)
                check(f"text echo ({len(message)} chars)", ws.recv(timeout=TIMEOUT) == message)
            for message in [b"", bytes(range(256)) * 400]:
                ws.send(message)
                check(f"binary echo ({len(message)} bytes)", ws.recv(timeout=TIMEOUT) == message)
            ws.send(["frag", "mented"])  # one message in two frames
            check("fragmented message echoed whole", ws.recv(timeout=TIMEOUT) == "fragmented")
            pong = ws.ping(b"are you there")
            check("ping answered", pong.wait(TIMEOUT))
            ws.close(4001, "client done")
            check("client close code echoed", ws.close_code == 4001, ws.close_code)
            check("server echoes the code without a reason", ws.close_reason == "", repr(ws.close_reason))

        with connect(url, compression=None, open_timeout=TIMEOUT) as ws:
            check("no compression when not offered", ws.response.headers.get("Sec-WebSocket-Extensions") is None)
            ws.send("x" * 5000)
            check("uncompressed echo", ws.recv(timeout=TIMEOUT) == "x" * 5000)
            ws.send("/close 4002 server says bye")
            try:
                ws.recv(timeout=TIMEOUT)
                raise AssertionError("expected the server to close")
            except ConnectionClosed as closed:
                check("server close code", closed.rcvd.code == 4002, closed.rcvd)
                check("server close reason", closed.rcvd.reason == "server says bye", closed.rcvd)

        with connect(url, open_timeout=TIMEOUT) as ws:
            ws.send("/close 1005")  # not a code that may be sent: the server falls back to 1000
            try:
                ws.recv(timeout=TIMEOUT)
            except ConnectionClosed as closed:
                check("invalid close code refused, 1000 instead", closed.rcvd.code == 1000, closed.rcvd)
    finally:
        stop(process)


def test_echo_server_without_compression():
    process, port = start("sws-echo-server", "--no-compression")
    try:
        with connect(f"ws://127.0.0.1:{port}/", open_timeout=TIMEOUT) as ws:
            check("offer declined by --no-compression", ws.response.headers.get("Sec-WebSocket-Extensions") is None)
            ws.send("abc" * 1000)
            check("echo without compression", ws.recv(timeout=TIMEOUT) == "abc" * 1000)
    finally:
        stop(process)


def test_chat_server():
    process, port = start("sws-chat-server")
    try:
        with connect(f"ws://127.0.0.1:{port}/room1", open_timeout=TIMEOUT) as alice, \
             connect(f"ws://127.0.0.1:{port}/room1", open_timeout=TIMEOUT) as bob, \
             connect(f"ws://127.0.0.1:{port}/room2", open_timeout=TIMEOUT) as carol:
            # Presence broadcasts reach everyone; drain them until each sees 3 online.
            for ws in (alice, bob, carol):
                seen = ws.recv(timeout=TIMEOUT)
                while seen != "* 3 online":
                    seen = ws.recv(timeout=TIMEOUT)
            alice.send("hi room1")
            check("room member receives", bob.recv(timeout=TIMEOUT) == "hi room1")
            carol.send("hi room2")
            bob.send("second")
            check("sender excluded, next message is the other's", alice.recv(timeout=TIMEOUT) == "second")
        check("chat server still running", process.poll() is None)
    finally:
        stop(process)


def test_client_against_python_server():
    received = []

    def echo(ws):
        for message in ws:
            received.append(message)
            ws.send(message.upper() if isinstance(message, str) else message)

    with serve(echo, "127.0.0.1", 0) as server:
        port = server.socket.getsockname()[1]
        threading.Thread(target=server.serve_forever, daemon=True).start()
        # Interactive: one line at a time, waiting for each answer, then the end of input.
        client = subprocess.Popen([os.path.join(BIN, "sws-client"), f"ws://127.0.0.1:{port}/"],
                                  stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        answers = []
        for line in ["one", "two", "thr\u00e9e"]:
            client.stdin.write(line + "\n")
            client.stdin.flush()
            answers.append(client.stdout.readline().rstrip("\n"))
        client.stdin.close()
        last = client.stdout.readline().rstrip("\n")
        status = client.wait(timeout=TIMEOUT)
        check("client exit status 0", status == 0, status)
        check("server received the lines", received == ["one", "two", "thr\u00e9e"], received)
        check("client printed the answers", answers == ["< ONE", "< TWO", "< THR\u00c9E"], answers)
        check("client closed with 1000", last.startswith("closed 1000"), last)
        check("client negotiated permessage-deflate with websockets", "permessage-deflate on" in client.stderr.read())
        server.shutdown()

    # A server that refuses the upgrade: the client reports it and exits 1.
    def refuse(connection, request):
        return connection.respond(403, "go away\n")

    with serve(echo, "127.0.0.1", 0, process_request=refuse) as server:
        port = server.socket.getsockname()[1]
        threading.Thread(target=server.serve_forever, daemon=True).start()
        result = subprocess.run([os.path.join(BIN, "sws-client"), f"ws://127.0.0.1:{port}/"],
                                input="", capture_output=True, text=True, timeout=TIMEOUT)
        check("refused connect exits 1", result.returncode == 1, result.returncode)
        check("refused connect reports 403", "HTTP 403" in result.stderr, result.stderr)
        server.shutdown()

    result = subprocess.run([os.path.join(BIN, "sws-client"), "http://127.0.0.1/"], input="",
                            capture_output=True, text=True, timeout=TIMEOUT)
    check("bad URL refused", result.returncode == 1 and "ws://" in result.stderr, result.stderr)


if __name__ == "__main__":
    test_echo_server()
    test_echo_server_without_compression()
    test_chat_server()
    test_client_against_python_server()
    print("python_peers_test: all checks passed")
