"""wss:// from Python: ``ssl=`` as websockets users write it (see swiftws/tls.py for what is
carried over from an ``ssl.SSLContext`` and what needs ``swiftws.tls.SSLContext``), interop with
Python ``websockets`` over TLS in both roles with and without compression, the errors for
unknown CA, wrong host name and expired certificate, and the clear refusals of what is not
supported. Certificates come from Tests/Peers/make_test_certs.sh (the openssl CLI)."""

from __future__ import annotations

import os
import ssl
import subprocess

import pytest
from websockets.asyncio.client import connect as ws_connect
from websockets.asyncio.server import serve as ws_serve

from swiftws.asyncio.client import connect
from swiftws.asyncio.server import serve
from swiftws.tls import SSLContext

from conftest import REPO_ROOT
from helpers import echo, payload, run_async

COMPRESSION = [pytest.param("deflate", id="deflate"), pytest.param(None, id="plain")]


@pytest.fixture(scope="module")
def certs(tmp_path_factory):
    directory = tmp_path_factory.mktemp("certs")
    subprocess.run(["sh", os.path.join(REPO_ROOT, "Tests", "Peers", "make_test_certs.sh"), str(directory)], check=True)
    return lambda name: str(directory / name)


def server_context(certs, certificate="chain.pem"):
    context = SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(certs(certificate), certs("server.key"))
    return context


def _port(server) -> int:
    return server.sockets[0].getsockname()[1]


@pytest.mark.parametrize("compression", COMPRESSION)
@run_async(60)
async def test_websockets_client_over_wss_to_swiftws_server(certs, compression):
    client_context = ssl.create_default_context(cafile=certs("ca.pem"))
    async with serve(echo, "127.0.0.1", 0, ssl=server_context(certs), compression=compression, max_size=None) as server:
        async with ws_connect(f"wss://localhost:{_port(server)}/", ssl=client_context, compression=compression,
                              max_size=None) as ws:
            for message in (payload(10, True), payload(1 << 20, False)):
                await ws.send(message)
                assert await ws.recv() == message


@pytest.mark.parametrize("compression", COMPRESSION)
@run_async(60)
async def test_swiftws_client_with_stdlib_context_to_websockets_server(certs, compression):
    stdlib_server = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    stdlib_server.load_cert_chain(certs("chain.pem"), certs("server.key"))
    async with ws_serve(echo, "127.0.0.1", 0, ssl=stdlib_server, compression=compression, max_size=None) as server:
        # The CA loaded into a stdlib context is carried over (get_ca_certs).
        client_context = ssl.create_default_context(cafile=certs("ca.pem"))
        async with connect(f"wss://localhost:{_port(server)}/", ssl=client_context, compression=compression,
                           max_size=None) as ws:
            assert ws.compressed is (compression == "deflate")
            for message in (payload(10, True), payload(1 << 20, False)):
                await ws.send(message)
                assert await ws.recv() == message


@run_async(60)
async def test_verification_failures_raise_ssl_errors_with_the_reason(certs):
    async with serve(echo, "127.0.0.1", 0, ssl=server_context(certs)) as server:
        url = f"wss://127.0.0.1:{_port(server)}/"
        with pytest.raises(ssl.SSLCertVerificationError, match="self-signed certificate in certificate chain"):
            await connect(url)  # the system store does not know the test CA (the chain ends in it)
        trusting = SSLContext()
        trusting.load_verify_locations(cafile=certs("ca.pem"))
        with pytest.raises(ssl.SSLCertVerificationError, match="hostname mismatch"):
            await connect(url, ssl=trusting, server_hostname="wrong.example")
        insecure = ssl.create_default_context()
        insecure.check_hostname = False
        insecure.verify_mode = ssl.CERT_NONE
        async with connect(url, ssl=insecure) as ws:
            await ws.send("still served")
            assert await ws.recv() == "still served"
    async with serve(echo, "127.0.0.1", 0, ssl=server_context(certs, "expired.pem")) as server:
        with pytest.raises(ssl.SSLCertVerificationError, match="certificate has expired"):
            await connect(f"wss://localhost:{_port(server)}/", ssl=trusting)


@run_async(60)
async def test_client_certificates_with_the_drop_in_context(certs):
    context = server_context(certs)
    context.verify_mode = ssl.CERT_REQUIRED
    context.load_verify_locations(cafile=certs("ca.pem"))
    subjects = []

    def process_request(connection, request):
        subjects.append(request.peer_certificate_subject)

    async with serve(echo, "127.0.0.1", 0, ssl=context, process_request=process_request) as server:
        client = SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        client.load_verify_locations(cafile=certs("ca.pem"))
        client.load_cert_chain(certs("client.pem"), certs("client.key"))
        async with connect(f"wss://localhost:{_port(server)}/", ssl=client) as ws:
            await ws.send("mutual")
            assert await ws.recv() == "mutual"
    assert subjects == ["CN=test client"]


def test_what_is_not_supported_is_refused_clearly(certs):
    with pytest.raises(TypeError, match="needs certificates"):
        serve(echo, "127.0.0.1", 0, ssl=True)
    with pytest.raises(ValueError, match="ws:// URI"):
        connect("ws://127.0.0.1:1/", ssl=True)
    half = ssl.create_default_context()
    half.check_hostname = False
    with pytest.raises(ValueError, match="together"):
        connect("wss://127.0.0.1:1/", ssl=half)
    context = SSLContext()
    with pytest.raises(TypeError, match="password"):
        context.load_cert_chain(certs("client.pem"), certs("client.key"), password=42)
    with pytest.raises(ValueError, match="http/1.1"):
        context.set_alpn_protocols(["h2"])
    old = SSLContext()
    old.minimum_version = ssl.TLSVersion.TLSv1_1
    with pytest.raises(ValueError, match="TLS 1.2 and 1.3"):
        connect("wss://127.0.0.1:1/", ssl=old)


@run_async(60)
async def test_an_encrypted_key_is_read_with_its_password_and_refused_without(certs):
    client_context = ssl.create_default_context(cafile=certs("ca.pem"))
    for password in ("swiftws-test", b"swiftws-test", lambda: "swiftws-test"):
        context = SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(certs("chain.pem"), certs("server-encrypted.key"), password=password)
        async with serve(echo, "127.0.0.1", 0, ssl=context) as server:
            async with ws_connect(f"wss://localhost:{_port(server)}/", ssl=client_context) as ws:
                await ws.send("over an encrypted key")
                assert await ws.recv() == "over an encrypted key"
    for password, reason in ((None, "needs its password"), ("wrong", "bad decrypt")):
        context = SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(certs("chain.pem"), certs("server-encrypted.key"), password=password)
        with pytest.raises(Exception, match=reason):
            await serve(echo, "127.0.0.1", 0, ssl=context)


# A TLS server in another process answers the client hello at once: on loopback its answer is
# already there when the client's first handshake step reads, and a certificate that fails
# verification closed the stream before the connect watched it, so the connect waited for the
# handshake timeout (about half of the attempts, before the fix).
_SERVER = """
import asyncio, ssl, sys
from websockets.asyncio.server import serve
async def main():
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(sys.argv[1], sys.argv[2])
    async with serve(lambda ws: ws.wait_closed(), "127.0.0.1", 0, ssl=context) as server:
        print(server.sockets[0].getsockname()[1], flush=True)
        await asyncio.get_running_loop().run_in_executor(None, sys.stdin.read)
asyncio.run(main())
"""


def test_a_refused_certificate_fails_at_once_when_the_answer_is_already_there(certs):
    import sys
    import time
    server = subprocess.Popen([sys.executable, "-c", _SERVER, certs("chain.pem"), certs("server.key")],
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        port = int(server.stdout.readline())

        async def attempts():
            for _ in range(12):
                started = time.monotonic()
                with pytest.raises(ssl.SSLCertVerificationError, match="certificate verify failed"):
                    await connect(f"wss://127.0.0.1:{port}/", open_timeout=5)
                assert time.monotonic() - started < 2, "the refusal waited for the handshake timeout"
        run_async(60)(attempts)()
    finally:
        server.stdin.close()
        server.wait(timeout=10)
