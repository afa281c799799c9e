"""The ctypes structs mirror swiftws.h exactly: a C program compiled against the header prints
every struct's size and each field's offset, and they must equal ctypes' (so they cannot drift).
Also: every function the header declares is declared in _native (names parsed from the header)."""

from __future__ import annotations

import ctypes
import os
import re
import shutil
import struct
import subprocess

import pytest

from conftest import REPO_ROOT

from swiftws import _native

INCLUDE = os.environ.get("SWIFTWS_INCLUDE", os.path.join(REPO_ROOT, "include"))
HEADER = os.path.join(INCLUDE, "swiftws.h")


def _c_layout(tmp_path) -> dict:
    lines = ['#include <stdio.h>', '#include <stddef.h>', '#include "swiftws.h"', "int main(void) {"]
    for c_name, struct in _native.STRUCTS.items():
        lines.append(f'    printf("{c_name} sizeof() %zu\\n", sizeof({c_name}));')
        for field, _ in struct._fields_:
            lines.append(f'    printf("{c_name} {field} %zu\\n", offsetof({c_name}, {field}));')
    lines += ["    return 0;", "}"]
    source = tmp_path / "layout.c"
    source.write_text("\n".join(lines) + "\n")
    program = tmp_path / "layout"
    subprocess.run(["cc", "-std=c11", "-Wall", "-Werror", f"-I{INCLUDE}", "-o", str(program), str(source)],
                   check=True)
    output = subprocess.run([str(program)], check=True, capture_output=True, text=True).stdout
    layout = {}
    for line in output.splitlines():
        struct, key, value = line.split()
        layout[(struct, key)] = int(value)
    return layout


@pytest.mark.skipif(shutil.which("cc") is None, reason="needs a C compiler")
def test_struct_sizes_and_offsets_match_the_c_compiler(tmp_path):
    layout = _c_layout(tmp_path)
    for c_name, struct in _native.STRUCTS.items():
        assert ctypes.sizeof(struct) == layout[(c_name, "sizeof()")], c_name
        for field, _ in struct._fields_:
            assert getattr(struct, field).offset == layout[(c_name, field)], f"{c_name}.{field}"


def test_every_struct_of_the_header_is_mirrored():
    header = open(HEADER).read()
    declared = set(re.findall(r"typedef struct (sws_\w+) \{", header))
    assert declared == set(_native.STRUCTS), "structs in swiftws.h and in _native differ"


def test_every_function_of_the_header_is_declared():
    header = open(HEADER).read()
    functions = set(re.findall(r"^[a-z_ ]*?\**\s*\b(sws_\w+)\(", header, flags=re.MULTILINE))
    functions |= set(re.findall(r"^\w[\w ]*[ *](sws_\w+)\(", header, flags=re.MULTILINE))
    declared = {name for name, _, _ in _native._PROTOTYPES}
    assert functions, "no function found in the header"
    assert functions <= declared, f"not declared in _native: {sorted(functions - declared)}"


def test_config_init_sets_the_size_field():
    config = _native.ServerConfig()
    assert _native.lib.sws_server_config_init(ctypes.byref(config)) == 0
    assert config.size == ctypes.sizeof(_native.ServerConfig)
    assert config.handshake_timeout_ms == 10000
    limits = _native.SessionConfig()
    assert _native.lib.sws_session_config_init(ctypes.byref(limits)) == 0
    assert limits.max_message_size == 16 * 1024 * 1024


def test_struct_formats_of_the_hot_path_match_the_structs():
    # The per-message path reads sws_message_entry and writes sws_send_entry with `struct`.
    assert struct.calcsize(_native.MESSAGE_ENTRY_FORMAT) == ctypes.sizeof(_native.MessageEntry)
    assert struct.calcsize(_native.MESSAGE_ENTRY_READ_FORMAT) == ctypes.sizeof(_native.MessageEntry)
    entry = _native.MessageEntry(conn=11, user_data=22, data=33, len=44, kind=_native.SWS_MESSAGE_TEXT)
    assert struct.unpack(_native.MESSAGE_ENTRY_FORMAT, bytes(entry)) == (11, 22, 33, 44, _native.SWS_MESSAGE_TEXT)
    assert struct.unpack(_native.MESSAGE_ENTRY_READ_FORMAT, bytes(entry)) == (11, 44, _native.SWS_MESSAGE_TEXT)
    assert struct.calcsize(_native.SEND_ENTRY_FORMAT) == ctypes.sizeof(_native.SendEntry)
    packed = struct.pack(_native.SEND_ENTRY_FORMAT * 2, 11, 44, _native.SWS_MESSAGE_BINARY, 12, 45, _native.SWS_MESSAGE_TEXT)
    entries = (_native.SendEntry * 2).from_buffer_copy(packed)
    assert [(e.conn, e.len, e.kind, e.status, e.result) for e in entries] == \
        [(11, 44, _native.SWS_MESSAGE_BINARY, 0, 0), (12, 45, _native.SWS_MESSAGE_TEXT, 0, 0)]
    entries[0].status, entries[0].result, entries[1].status, entries[1].result = -3, 2, 0, 1
    assert struct.unpack(_native.SEND_RESULT_FORMAT * 2, bytes(entries)) == (-3, 2, 0, 1)
