"""The README's configuration table is checked against the header and the Python binding: every
setting field of the C config structs appears in its "C field" column, and every keyword that
``swiftws._config.OPTIONS`` maps appears in its "Python keyword" column (so a new option cannot
land undocumented, and the table cannot name what does not exist)."""

from __future__ import annotations

import os
import re

from conftest import REPO_ROOT

from swiftws import _config

README = os.path.join(REPO_ROOT, "README.md")
HEADER = os.path.join(REPO_ROOT, "include", "swiftws.h")

#: The config structs whose fields are settings, with the prefix the table writes them with.
GROUPS = {"sws_session_config": "limits.", "sws_connection_config": "connection.",
          "sws_server_config": "", "sws_client_config": ""}
#: Fields that are not settings of their own: the size, the group pointers, and the strings and
#: arrays of a request (documented with the functions that take them).
NOT_SETTINGS = {"size", "limits", "connection", "allowed_origin_count", "subprotocol_count", "origin",
                "header_names", "header_values", "header_count"}


def _table() -> list:
    text = open(README).read()
    start = text.index("| setting | C field | Python keyword |")
    rows = text[start:text.index("\n\n", start)].splitlines()[2:]
    return [[cell.strip() for cell in row.strip("|").split("|")] for row in rows]


def _struct_fields(name: str) -> list:
    header = open(HEADER).read()
    body = re.search(r"typedef struct %s \{(.*?)\} %s;" % (name, name), header, re.S).group(1)
    body = re.sub(r"/\*.*?\*/", "", body, flags=re.S)
    return re.findall(r"(\w+);", body)


def test_every_c_setting_is_in_the_readme_table():
    documented = set()
    for row in _table():
        documented |= set(re.findall(r"`([\w.]+)`", row[1]))
    missing = []
    for struct, prefix in GROUPS.items():
        for field in _struct_fields(struct):
            if field in NOT_SETTINGS:
                continue
            if prefix + field not in documented and field not in documented:
                missing.append(f"{struct}.{field}")
    assert not missing, f"README configuration table lacks: {missing}"


def test_the_readme_names_only_c_fields_that_exist():
    existing = {prefix + field for struct, prefix in GROUPS.items() for field in _struct_fields(struct)}
    existing |= {field for struct in GROUPS for field in _struct_fields(struct)}
    for row in _table():
        for name in re.findall(r"`([\w.]+)`", row[1]):
            assert name in existing, f"README names a C field that does not exist: {name}"


def test_every_python_keyword_is_in_the_readme_table():
    documented = set()
    for row in _table():
        documented |= set(re.findall(r"`(\w+)`", row[2]))
    assert _config.KEYWORDS <= documented, f"README lacks: {sorted(_config.KEYWORDS - documented)}"
