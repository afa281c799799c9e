"""The cases both conformance runs play (test_client_role.py, test_server_role.py), in the spirit
of the Autobahn testsuite's: framing, pings, reserved bits and opcodes, masking, fragmentation,
UTF-8 (including failing fast inside an unfinished message), the close handshake and close codes,
permessage-deflate with smaller windows, large messages. Each is a coroutine given the scripted
`Peer`; the side under test is an echo client or an echo server.
"""

from __future__ import annotations

from typing import Dict, Optional, Tuple

from scripted_peer import BINARY, CLOSE, CONTINUATION, PING, PONG, TEXT, Case, Peer, random_bytes

CASES: Dict[str, Case] = {}
#: The permessage-deflate windows (server bits, client bits) a case negotiates; others decline.
WINDOWS: Dict[str, Tuple[int, int]] = {}


def case(name: str, windows: Optional[Tuple[int, int]] = None):
    def register(script: Case) -> Case:
        CASES[name] = script
        if windows is not None:
            WINDOWS[name] = windows
        return script
    return register


# ---- 1: framing: text and binary of every length class, echoed exactly -------------------------
for length in (0, 125, 126, 127, 128, 65535, 65536):
    @case(f"1.text.{length}")
    async def _(peer: Peer, length=length):
        await peer.send(TEXT, b"*" * length)
        await peer.expect_echo(TEXT, b"*" * length)
        await peer.close_handshake()

    @case(f"1.binary.{length}")
    async def _(peer: Peer, length=length):
        payload = random_bytes(length)
        await peer.send(BINARY, payload)
        await peer.expect_echo(BINARY, payload)
        await peer.close_handshake()


# ---- 2: pings and pongs ----------------------------------------------------------------------
@case("2.ping-empty")
async def _(peer: Peer):
    await peer.send(PING)
    await peer.expect_pong(b"")
    await peer.close_handshake()


@case("2.ping-125-binary")
async def _(peer: Peer):
    payload = random_bytes(125)
    await peer.send(PING, payload)
    await peer.expect_pong(payload)
    await peer.close_handshake()


@case("2.ping-126-is-a-protocol-error")
async def _(peer: Peer):
    await peer.send(PING, b"x" * 126)
    await peer.expect_close(1002)


@case("2.ten-pings-ten-pongs")
async def _(peer: Peer):
    for index in range(10):
        await peer.send(PING, b"ping %d" % index)
    for index in range(10):
        await peer.expect_pong(b"ping %d" % index)
    await peer.close_handshake()


@case("2.unsolicited-pong-is-ignored")
async def _(peer: Peer):
    await peer.send(PONG, b"unsolicited")
    await peer.send(TEXT, b"after the pong")
    await peer.expect_echo(TEXT, b"after the pong")
    await peer.close_handshake()


# ---- 3 and 4: reserved bits without an extension, reserved opcodes -----------------------------
for rsv in range(1, 8):
    @case(f"3.rsv-{rsv}")
    async def _(peer: Peer, rsv=rsv):
        await peer.send(TEXT, b"hello", rsv=rsv)
        await peer.expect_close(1002)


@case("3.rsv-after-a-valid-message")
async def _(peer: Peer):
    await peer.send(TEXT, b"fine")
    await peer.expect_echo(TEXT, b"fine")
    await peer.send(BINARY, b"not fine", rsv=2)
    await peer.expect_close(1002)


for opcode in (3, 4, 5, 6, 7, 11, 12, 13, 14, 15):
    @case(f"4.opcode-{opcode}")
    async def _(peer: Peer, opcode=opcode):
        await peer.send(opcode, b"reserved")
        await peer.expect_close(1002)


@case("4.wrong-mask-bit")
async def _(peer: Peer):
    # RFC 6455 section 5.1: a server fails on an unmasked frame, a client on a masked one.
    await peer.send_raw(peer.frame_bytes(TEXT, b"hi", masked=not peer.is_client))
    await peer.expect_close(1002)


# ---- 5: fragmentation ------------------------------------------------------------------------
@case("5.fragmented-ping")
async def _(peer: Peer):
    await peer.send(PING, b"frag", fin=False)
    await peer.send(CONTINUATION, b"ment")
    await peer.expect_close(1002)


@case("5.two-fragments")
async def _(peer: Peer):
    await peer.send(TEXT, b"fragment1", fin=False)
    await peer.send(CONTINUATION, b"fragment2")
    await peer.expect_echo(TEXT, b"fragment1fragment2")
    await peer.close_handshake()


@case("5.ping-between-fragments")
async def _(peer: Peer):
    await peer.send(TEXT, b"fragment1", fin=False)
    await peer.send(PING, b"in between")
    await peer.send(CONTINUATION, b"fragment2")
    await peer.expect_pong(b"in between")
    await peer.expect_echo(TEXT, b"fragment1fragment2")
    await peer.close_handshake()


@case("5.hundred-one-byte-fragments")
async def _(peer: Peer):
    await peer.send(BINARY, b"\x00", fin=False)
    for index in range(1, 99):
        await peer.send(CONTINUATION, bytes([index]), fin=False)
    await peer.send(CONTINUATION, bytes([99]))
    await peer.expect_echo(BINARY, bytes(range(100)))
    await peer.close_handshake()


@case("5.continuation-without-a-start")
async def _(peer: Peer):
    await peer.send(CONTINUATION, b"nothing to continue")
    await peer.expect_close(1002)


@case("5.continuation-after-the-final-fragment")
async def _(peer: Peer):
    await peer.send_raw(peer.frame_bytes(TEXT, b"one", fin=False) + peer.frame_bytes(CONTINUATION, b"two")
                        + peer.frame_bytes(CONTINUATION, b"three", fin=False) + peer.frame_bytes(TEXT, b"four"))
    await peer.expect_echo(TEXT, b"onetwo")
    await peer.expect_close(1002)


@case("5.new-message-inside-a-fragmented-one")
async def _(peer: Peer):
    await peer.send(TEXT, b"start", fin=False)
    await peer.send(TEXT, b"another start")
    await peer.expect_close(1002)


# ---- 6: UTF-8 --------------------------------------------------------------------------------
VALID_TEXTS = {
    "greek": "κόσμε", "boundaries": "\u007f\u0080\u07ff\u0800\uffff\U00010000\U0010ffff",
    "polish": "Zażółć gęślą jaźń", "emoji": "👋🌍", "chinese": "你好，世界" * 50,
}
for name, text in VALID_TEXTS.items():
    @case(f"6.valid.{name}")
    async def _(peer: Peer, text=text):
        await peer.send(TEXT, text.encode())
        await peer.expect_echo(TEXT, text.encode())
        await peer.close_handshake()

INVALID_TEXTS = {
    "surrogate": b"\xce\xba\xe1\xbd\xb9\xcf\x83\xce\xbc\xce\xb5\xed\xa0\x80edited",
    "overlong": b"\xc0\xaf", "overlong-3": b"\xe0\x80\xaf", "above-U10FFFF": b"\xf4\x90\x80\x80",
    "lone-continuation": b"a\x80b", "truncated-at-the-end": b"abc\xce", "byte-FF": b"\xff",
}
for name, data in INVALID_TEXTS.items():
    @case(f"6.invalid.{name}")
    async def _(peer: Peer, data=data):
        await peer.send(TEXT, data)
        await peer.expect_close(1007)


@case("6.valid-sequence-split-across-fragments")
async def _(peer: Peer):
    encoded = "κόσμε".encode()
    await peer.send(TEXT, encoded[:1], fin=False)
    await peer.send(CONTINUATION, encoded[1:4], fin=False)
    await peer.send(CONTINUATION, encoded[4:])
    await peer.expect_echo(TEXT, encoded)
    await peer.close_handshake()


@case("6.invalid-sequence-split-across-fragments")
async def _(peer: Peer):
    await peer.send(TEXT, b"ok \xf4", fin=False)
    await peer.send(CONTINUATION, b"\x90\x80\x80")
    await peer.expect_close(1007)


@case("6.fail-fast-inside-an-unfinished-message")
async def _(peer: Peer):
    # The message never ends: the client must fail on the invalid byte, not wait for the rest.
    await peer.send(TEXT, b"valid start, then \xed\xa0\x80", fin=False)
    await peer.expect_close(1007)


@case("6.fail-fast-inside-one-frame")
async def _(peer: Peer):
    # A frame that announces 64 KiB but brings only its first bytes: the invalid sequence in
    # them is enough to fail.
    await peer.send_raw(peer.frame_head(TEXT, 65535) + b"abc\xc0\xafdef")
    await peer.expect_close(1007)


# ---- 7: closing ------------------------------------------------------------------------------
@case("7.message-then-close")
async def _(peer: Peer):
    await peer.send(TEXT, b"Hello World!")
    await peer.expect_echo(TEXT, b"Hello World!")
    await peer.close_handshake()


@case("7.frames-after-close-are-ignored")
async def _(peer: Peer):
    await peer.close(1000)
    await peer.send(PING, b"after close")
    await peer.send(TEXT, b"after close")
    await peer.expect_close(1000)  # a pong or an echo first fails the case


@case("7.close-inside-a-fragmented-message")
async def _(peer: Peer):
    await peer.send(TEXT, b"fragment1", fin=False)
    await peer.close(1000)
    await peer.send(CONTINUATION, b"fragment2")
    await peer.expect_close(1000)


@case("7.close-without-a-code")
async def _(peer: Peer):
    await peer.close(None)
    await peer.expect_close(None, 1000)


@case("7.close-with-one-byte-is-a-protocol-error")
async def _(peer: Peer):
    await peer.send(CLOSE, b"\x03")
    await peer.expect_close(1002)


@case("7.close-with-the-longest-reason")
async def _(peer: Peer):
    await peer.close(1000, b"*" * 123)
    await peer.expect_close(1000)


@case("7.close-reason-invalid-utf8")
async def _(peer: Peer):
    await peer.close(1000, b"\xce\xba\xe1\xbd\xb9\xcf\x83\xce\xbc\xce\xb5\xed\xa0\x80edited")
    await peer.expect_close(1007)


for code in (1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 3000, 3999, 4000, 4999):
    @case(f"7.valid-code-{code}")
    async def _(peer: Peer, code=code):
        await peer.close(code)
        await peer.expect_close(code, 1000)

for code in (0, 999, 1004, 1005, 1006, 1015, 1016, 1100, 2000, 2999, 5000, 65535):
    @case(f"7.invalid-code-{code}")
    async def _(peer: Peer, code=code):
        await peer.close(code)
        await peer.expect_close(1002)


# ---- 9: large messages -----------------------------------------------------------------------
@case("9.text-1MiB")
async def _(peer: Peer):
    payload = b"*" * (1 << 20)
    await peer.send(TEXT, payload)
    await peer.expect_echo(TEXT, payload)
    await peer.close_handshake()


@case("9.binary-4MiB-in-64KiB-fragments")
async def _(peer: Peer):
    payload = random_bytes(4 << 20)
    chunks = [payload[i:i + 65536] for i in range(0, len(payload), 65536)]
    await peer.send(BINARY, chunks[0], fin=False)
    for index, chunk in enumerate(chunks[1:], 1):
        await peer.send(CONTINUATION, chunk, fin=index == len(chunks) - 1)
    await peer.expect_echo(BINARY, payload)
    await peer.close_handshake()


# ---- 12 and 13: permessage-deflate with the windows negotiated ---------------------------------
for server_bits, client_bits in ((15, 15), (9, 15), (15, 9), (9, 9)):
    name = f"12.deflate.server-{server_bits}.client-{client_bits}"

    @case(name + ".text", windows=(server_bits, client_bits))
    async def _(peer: Peer):
        text = ("Hello, compressed world! " * 400).encode()
        await peer.send_compressed(TEXT, text)
        await peer.expect_echo(TEXT, text)
        await peer.send(TEXT, b"uncompressed")  # RSV1 clear: a plain message is allowed too
        await peer.expect_echo(TEXT, b"uncompressed")
        await peer.close_handshake()

    @case(name + ".binary-64KiB", windows=(server_bits, client_bits))
    async def _(peer: Peer):
        payload = (random_bytes(512) * 128)
        await peer.send_compressed(BINARY, payload)
        await peer.expect_echo(BINARY, payload)
        await peer.close_handshake()


@case("13.rsv1-on-a-ping-is-a-protocol-error", windows=(15, 15))
async def _(peer: Peer):
    await peer.send(PING, b"compressed?", rsv=0b100)
    await peer.expect_close(1002)


@case("13.rsv1-on-a-continuation-is-a-protocol-error", windows=(15, 15))
async def _(peer: Peer):
    await peer.send(TEXT, peer.deflate.compress(b"a" * 100), fin=False, rsv=0b100)
    await peer.send(CONTINUATION, b"", rsv=0b100)
    await peer.expect_close(1002)


@case("13.corrupt-deflate-data", windows=(15, 15))
async def _(peer: Peer):
    await peer.send(BINARY, b"\xff\xff\xff\xff\xff garbage", rsv=0b100)
    await peer.expect_close(1007, 1002)


# ---- non-strict variants for echoes written as coroutines -------------------------------------
# An echo written in a callback (the C API, the Swift callback API) runs before the library reads
# the next frame; an echo written as a coroutine (Python asyncio, like `websockets`) runs after
# the message has crossed into asyncio. When one read brings a message and then a protocol error
# (all in one chop), the coroutine finds the connection already failed: Autobahn rates that
# NON-STRICT, not failed. These variants accept the close without the echo.
async def _continuation_after_the_final_fragment_non_strict(peer: Peer) -> None:
    await peer.send_raw(peer.frame_bytes(TEXT, b"one", fin=False) + peer.frame_bytes(CONTINUATION, b"two")
                        + peer.frame_bytes(CONTINUATION, b"three", fin=False) + peer.frame_bytes(TEXT, b"four"))
    frame = await peer.frame()
    if frame is not None and frame.opcode == TEXT:  # the strict outcome: the echo, then the close
        assert frame.payload == b"onetwo", frame
        await peer.expect_close(1002)
    else:
        peer.check_close(frame, 1002)
        await peer.expect_nothing_more()


NON_STRICT_FOR_COROUTINES: Dict[str, Case] = {
    "5.continuation-after-the-final-fragment": _continuation_after_the_final_fragment_non_strict,
}


def cases_for(echo_is_a_coroutine: bool) -> Dict[str, Case]:
    """The cases by name, with the non-strict variants for echoes written as coroutines."""
    return {**CASES, **(NON_STRICT_FOR_COROUTINES if echo_is_a_coroutine else {})}
