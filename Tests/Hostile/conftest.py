"""Fixtures for the hostile-peer tests (issue 9). Run by scripts/test.sh:

    SWIFTWS_ECHO=.build/debug/swiftws-echo SWIFTWS_DEMO=.build/debug/swiftws-demo \
        .venv/bin/python -m pytest Tests/Hostile -q

Each test starts its own server on a kernel-chosen port and stops it afterwards; tests skip only
when a binary is missing. `-s` shows the measurements each test prints (latencies, drop times,
buffered bytes, CPU shares).
"""
import pytest

import hostile


@pytest.fixture
def servers():
    """A factory: servers.echo(*flags) / servers.demo(*flags); every server is stopped afterwards."""
    started = []

    class Factory:
        @staticmethod
        def echo(*args):
            server = hostile.start_echo(*args)
            started.append(server)
            return server

        @staticmethod
        def demo(*args):
            server = hostile.start_demo(*args)
            started.append(server)
            return server

    yield Factory
    for server in started:
        server.stop()


@pytest.fixture
def clients():
    """Raw clients opened by a test; all closed afterwards (after the test's own assertions, so a
    test can check that the server dropped connections whose client side is still open)."""
    opened = []

    def open_client(*args, **kwargs):
        client = hostile.RawClient(*args, **kwargs)
        opened.append(client)
        return client

    open_client.opened = opened
    yield open_client
    for client in opened:
        client.close()
