"""The binding's copies of the header's numbers equal the header's.

Every module-level constant of the `swiftws` package named like a header constant (SWS_*, and
ABI_VERSION for SWS_ABI_VERSION) must be declared in include/swiftws.h (an enum member or a
#define) with the same value, as the C compiler evaluates it (implicit enum values, casts and
shifts included). And when the binding mirrors one member of a header enum, it mirrors all of them,
so a status code or state added to the header cannot be forgotten in Python.
"""

from __future__ import annotations

import importlib
import os
import pkgutil
import re
import shutil

import pytest

from conftest import REPO_ROOT
from helpers import run_c_program

import swiftws

INCLUDE = os.environ.get("SWIFTWS_INCLUDE", os.path.join(REPO_ROOT, "include"))
HEADER = os.path.join(INCLUDE, "swiftws.h")

#: Python names that copy a header constant under another name.
RENAMED = {"ABI_VERSION": "SWS_ABI_VERSION"}


def _header_without_comments() -> str:
    text = open(HEADER, encoding="utf-8").read()
    text = re.sub(r"/\*.*?\*/", " ", text, flags=re.S)
    return re.sub(r"//[^\n]*", " ", text)


def header_enums() -> dict[str, list[str]]:
    """{enum type name: [member names in order]} for every `typedef enum name { ... } name;`."""
    enums = {}
    for name, body in re.findall(r"typedef\s+enum\s+(\w+)\s*\{(.*?)\}\s*\w+\s*;", _header_without_comments(), re.S):
        enums[name] = re.findall(r"\b(SWS_\w+)\b\s*(?:=[^,]*)?(?:,|$)", body.strip())
    return enums


def header_defines() -> set[str]:
    """Names of the header's object-like #defines that carry a value (no function-like macros)."""
    return set(re.findall(r"^\s*#\s*define\s+(SWS_\w+)[ \t]+\S", _header_without_comments(), re.M))


def binding_constants() -> dict[str, tuple[str, int]]:
    """{header name: (where in the binding, value)} for every module of the swiftws package."""
    found: dict[str, tuple[str, int]] = {}
    modules = [swiftws] + [importlib.import_module(info.name) for info in
                           pkgutil.walk_packages(swiftws.__path__, prefix="swiftws.")]
    for module in modules:
        for attribute, value in vars(module).items():
            header_name = RENAMED.get(attribute, attribute)
            if not header_name.startswith("SWS_") or isinstance(value, bool) or not isinstance(value, int):
                continue
            where = f"{module.__name__}.{attribute}"
            if header_name in found and found[header_name][1] != value:
                pytest.fail(f"{where} = {value} but {found[header_name][0]} = {found[header_name][1]}")
            found.setdefault(header_name, (where, int(value)))
    return found


def c_values(names: list[str], tmp_path) -> dict[str, int]:
    """The values the C compiler gives `names` in swiftws.h."""
    lines = ["#include <stdio.h>", '#include "swiftws.h"', "int main(void) {"]
    lines += [f'    printf("{name} %lld\\n", (long long)({name}));' for name in names]
    lines += ["    return 0;", "}"]
    output = run_c_program(lines, tmp_path, INCLUDE)
    return {name: int(value) for name, value in (line.split() for line in output.splitlines())}


def test_the_header_parses_into_enums_and_defines():
    enums = header_enums()
    assert "SWS_OK" in enums.get("sws_status", []), "no sws_status enum with SWS_OK parsed from swiftws.h"
    assert "SWS_ABI_VERSION" in header_defines()


def test_every_copied_constant_is_in_the_header():
    declared = header_defines() | {member for members in header_enums().values() for member in members}
    unknown = sorted(f"{where}" for name, (where, _) in binding_constants().items() if name not in declared)
    assert not unknown, f"the binding defines constants swiftws.h does not declare: {unknown}"


@pytest.mark.skipif(shutil.which("cc") is None, reason="needs a C compiler")
def test_every_copied_constant_has_the_header_value(tmp_path):
    copies = binding_constants()
    declared = header_defines() | {member for members in header_enums().values() for member in members}
    names = sorted(name for name in copies if name in declared)
    values = c_values(names, tmp_path)
    wrong = [f"{copies[name][0]} = {copies[name][1]}, swiftws.h says {name} = {values[name]}"
             for name in names if copies[name][1] != values[name]]
    assert not wrong, "the binding's copies differ from the header:\n  " + "\n  ".join(wrong)


def test_a_mirrored_enum_is_mirrored_whole():
    copies = binding_constants()
    partial = []
    for enum, members in header_enums().items():
        mirrored = [member for member in members if member in copies]
        if mirrored and len(mirrored) != len(members):
            partial.append(f"{enum}: missing {sorted(set(members) - set(mirrored))}")
    assert not partial, "enums the binding mirrors only in part:\n  " + "\n  ".join(partial)
