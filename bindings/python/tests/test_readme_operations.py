"""The README's "Per-connection operations" table names only what exists: every C name is declared
in include/swiftws.h, every Python name written as a call is an attribute of the asyncio
``Connection``, every Swift name is declared in the callback-level API (SwiftWSEndpoints), so a
rename cannot leave the table behind."""

from __future__ import annotations

import glob
import os
import re

from conftest import REPO_ROOT

from swiftws.asyncio.connection import Connection

README = os.path.join(REPO_ROOT, "README.md")
HEADER = os.path.join(REPO_ROOT, "include", "swiftws.h")
SWIFT_SOURCES = os.path.join(REPO_ROOT, "Sources", "SwiftWSEndpoints", "*.swift")


def _columns() -> list:
    """The table's rows as [operation, C, Python, Swift] cells."""
    text = open(README, encoding="utf-8").read()
    start = text.index("| operation | C | Python | Swift |")
    rows = text[start:text.index("\n\n", start)].splitlines()[2:]
    cells = [[cell.strip() for cell in row.strip("|").split("|")] for row in rows]
    assert cells and all(len(row) == 4 for row in cells)
    return cells


def test_the_table_has_the_operations_of_round_6():
    operations = " ".join(row[0] for row in _columns())
    for operation in ["send a batch", "fail", "close timeout", "time out", "frame by frame", "buffered amount",
                      "pause / resume reading"]:
        assert operation in operations, operation


def test_every_c_name_is_declared_in_the_header():
    header = open(HEADER, encoding="utf-8").read()
    names = [name for row in _columns() for name in re.findall(r"`(sws_\w+)`", row[1])]
    assert len(names) >= 12
    for name in names:
        assert re.search(r"\b%s\(" % name, header) or re.search(r"\b%s;" % name, header), name


def test_every_python_call_is_a_connection_attribute():
    names = [name for row in _columns() for name in re.findall(r"`(\w+)\(\)`", row[2])]
    assert "recv_streaming" in names and "send_nowait" in names
    for name in names:
        assert hasattr(Connection, name), name
    assert isinstance(Connection.close_timeout, property) and Connection.close_timeout.fset is not None


def test_every_swift_name_is_declared_in_the_callback_level_api():
    sources = "\n".join(open(path, encoding="utf-8").read() for path in glob.glob(SWIFT_SOURCES))
    names = [re.match(r"\w+", name).group(0) for row in _columns() for name in re.findall(r"`([^`]+)`", row[3])]
    assert "fail" in names and "streamsFragmentedMessages" in names
    for name in names:
        assert re.search(r"\b(func|var) %s\b" % name, sources), name
