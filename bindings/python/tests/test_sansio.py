"""The sans-I/O layer: handshakes and sessions wired to each other in memory, byte exact where
the RFC fixes the bytes, and every rejection with its exact close code or HTTP status."""

from __future__ import annotations

import base64
import hashlib

import pytest

from swiftws import SwiftWSError, _native
from swiftws.sansio import (Binary, ClientHandshake, Close, Failure, Fragment, Ping, Pong, Role,
                            ServerHandshake, Session, State, Text)


def _connect(compression: bool = True, **session_options):
    client = ClientHandshake("example.com", 8080, "/chat?room=1", subprotocols=["v2", "v1"],
                             headers=[("X-Token", "abc")], compression=compression)
    server = ServerHandshake(compression=compression)
    request = client.request()
    complete, consumed = server.feed(request + b"early")
    assert complete and consumed == len(request)
    assert server.path == "/chat" and server.target == "/chat?room=1"
    assert server.header("x-token") == "abc" and server.header("missing") is None
    assert server.subprotocols == ["v2", "v1"]
    server.accept("v1")
    response = server.response()
    assert response.startswith(b"HTTP/1.1 101 ")
    complete, consumed = client.feed(response)
    assert complete and consumed == len(response)
    assert client.http_status == 101 and client.subprotocol == "v1"
    assert client.compression is compression and server.compression is compression
    return client.new_session(**session_options), server.new_session(**session_options)


def test_accept_key_follows_rfc_6455_section_4_2_2():
    client = ClientHandshake("localhost")
    request = client.request().decode()
    key = next(line.split(": ", 1)[1] for line in request.split("\r\n") if line.lower().startswith("sec-websocket-key"))
    server = ServerHandshake()
    server.feed(request.encode())
    server.accept()
    expected = base64.b64encode(hashlib.sha1((key + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11").encode()).digest())
    assert b"Sec-WebSocket-Accept: " + expected in server.response()


@pytest.mark.parametrize("compression", [True, False])
def test_messages_both_ways(compression):
    client, server = _connect(compression)
    client.send_text("héllo")
    client.send_binary(b"\x00" * 70000)
    client.send_binary(b"")
    events = server.feed(client.data_to_send())
    assert events == [Text("héllo"), Binary(b"\x00" * 70000), Binary(b"")]
    server.send_text("")
    server.send_fragment("ab", False)
    server.send_ping(b"p")
    server.send_fragment("cd", True)
    assert client.feed(server.data_to_send()) == [Text(""), Ping(b"p"), Text("abcd")]
    # The automatic pong answers the server's ping.
    assert server.feed(client.data_to_send()) == [Pong(b"p")]


def test_server_frames_are_byte_exact_rfc_6455_section_5_7():
    server = Session(Role.SERVER)
    server.send_text("Hello")
    assert server.data_to_send() == bytes([0x81, 0x05]) + b"Hello"
    # A masked "Hello" from the RFC, fed one byte at a time.
    client_frame = bytes([0x81, 0x85, 0x37, 0xFA, 0x21, 0x3D, 0x7F, 0x9F, 0x4D, 0x51, 0x58])
    events = []
    for byte in client_frame:
        events += server.feed(bytes([byte]))
    assert events == [Text("Hello")]


def test_close_handshake():
    client, server = _connect()
    client.close(4000, "bye")
    assert client.state == State.CLOSING
    assert server.feed(client.data_to_send()) == [Close(4000, "bye")]
    assert server.should_close_transport and server.closes_transport_first
    # The server echoes the code (RFC 6455 section 5.5.1); the reason is not repeated.
    assert client.feed(server.data_to_send()) == [Close(4000, "")]
    assert client.state == State.CLOSED and client.close_status[0] == 4000
    with pytest.raises(SwiftWSError) as error:
        client.send_text("late")
    assert error.value.status == _native.SWS_ERR_CLOSED


@pytest.mark.parametrize("frame, code", [
    (bytes([0x81, 0x02]) + b"hi", 1002),                                    # unmasked client frame
    (bytes([0x81, 0x82, 0, 0, 0, 0]) + b"\xc3\x28", 1007),                  # invalid UTF-8
    (bytes([0x82, 0x84, 0, 0, 0, 0]) + b"abcd", 1009),                      # over max_message_size=3
    (bytes([0x89, 0xFE, 0x00, 0x7E, 0, 0, 0, 0]) + b"x" * 126, 1002),       # ping over 125 bytes
])
def test_protocol_violations_fail_with_the_rfc_close_code(frame, code):
    server = Session(Role.SERVER, max_message_size=3)
    events = server.feed(frame)
    assert len(events) == 1 and isinstance(events[0], Failure) and events[0].code == code
    assert server.state == State.CLOSED
    close_frame = server.data_to_send()
    assert close_frame[0] == 0x88 and int.from_bytes(close_frame[2:4], "big") == code


def test_end_of_stream_without_close_is_1006():
    server = Session(Role.SERVER)
    assert server.feed_eof() == [Failure(1006, "")] or server.close_status[0] == 1006


def test_streaming_threshold_delivers_fragments():
    client, server = _connect(False, streaming_threshold=4)
    client.send_binary(b"0123456789")
    events = server.feed(client.data_to_send())
    assert events == [Fragment(False, b"0123456789", True, True)]


@pytest.mark.parametrize("request_head, status", [
    (b"GET / HTTP/1.1\r\nHost: x\r\n\r\n", b"400"),                       # no Upgrade
    (b"POST / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
     b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n", b"405"),
    (b"GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
     b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 8\r\n\r\n", b"426"),
    (b"GET / HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 9000 + b"\r\n\r\n", b"431"),
])
def test_malformed_requests_are_answered_with_their_status(request_head, status):
    server = ServerHandshake()
    with pytest.raises(SwiftWSError) as error:
        server.feed(request_head)
    assert error.value.status == _native.SWS_ERR_HANDSHAKE
    assert server.response().split(b" ")[1] == status


def test_server_handshake_rejections():
    refused = ServerHandshake()
    refused.feed(ClientHandshake("h").request())
    refused.reject(403, b"go away")
    response = refused.response()
    assert response.startswith(b"HTTP/1.1 403 ") and response.endswith(b"go away")
    client = ClientHandshake("h")
    with pytest.raises(SwiftWSError):
        client.feed(response)
    assert client.http_status == 403


def test_invalid_arguments_raise_not_crash():
    with pytest.raises(SwiftWSError):
        ClientHandshake("bad host\r\n")
    session = Session(Role.CLIENT)
    with pytest.raises(SwiftWSError) as error:
        session.send_ping(b"x" * 126)
    assert error.value.status == _native.SWS_ERR_TOO_BIG
    with pytest.raises(SwiftWSError):
        session.close(1005)  # may not be sent
    session.free()
    with pytest.raises(SwiftWSError):
        session.send_text("freed")
