"""docs/ARCHITECTURE.md against the code: targets, folders, dependencies and layers.

The targets table in docs/ARCHITECTURE.md (between <!-- targets:begin --> and <!-- targets:end -->)
must match Package.swift as SwiftPM reads it (`swift package dump-package`): the same targets, each
with its kind, folder and dependencies. Library targets may depend only on lower layers. The folders
table must list every folder under Sources/, each with the file whose opening comment says what the
folder is for.

    .venv/bin/python -m pytest Tests/Architecture -q
"""

import json
import os
import re
import subprocess

import pytest

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
DOC = os.path.join(ROOT, "docs", "ARCHITECTURE.md")


def doc_table(name):
    """Rows of the markdown table between <!-- NAME:begin --> and <!-- NAME:end --> as dicts."""
    text = open(DOC, encoding="utf-8").read()
    match = re.search(rf"<!-- {name}:begin -->\n(.*?)<!-- {name}:end -->", text, re.S)
    assert match, f"docs/ARCHITECTURE.md: no <!-- {name}:begin --> ... <!-- {name}:end --> table"
    lines = [line for line in match.group(1).splitlines() if line.startswith("|")]
    header = [cell.strip() for cell in lines[0].strip("|").split("|")]
    rows = []
    for line in lines[2:]:
        cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
        assert len(cells) == len(header), f"docs/ARCHITECTURE.md {name} table: bad row {line!r}"
        rows.append(dict(zip(header, cells)))
    return rows


def unquote(cell):
    """`Sources/X` (notes) -> Sources/X"""
    match = re.match(r"`([^`]*)`", cell)
    return match.group(1) if match else cell


def split_names(cell):
    return set() if cell in ("—", "-", "") else {name.strip() for name in cell.split(",")}


@pytest.fixture(scope="module")
def package():
    """Package.swift as SwiftPM parses it: {target: (kind, folder, {dependencies})}."""
    out = subprocess.run(["swift", "package", "dump-package"], cwd=ROOT, check=True,
                         capture_output=True, text=True).stdout
    targets = {}
    for target in json.loads(out)["targets"]:
        deps = set()
        for dependency in target["dependencies"]:
            (value,) = dependency.values()  # {"byName": [name, condition]} or {"target": [...]}
            deps.add(value[0])
        kind = target["type"]
        default_root = "Tests" if kind == "test" else "Sources"
        folder = target.get("path") or f"{default_root}/{target['name']}"
        targets[target["name"]] = (kind, folder, deps)
    return targets


@pytest.fixture(scope="module")
def documented():
    rows = doc_table("targets")
    table = {}
    for row in rows:
        name = unquote(row["target"])
        assert name not in table, f"docs/ARCHITECTURE.md lists target {name} twice"
        table[name] = (row["kind"], unquote(row["folder"]), split_names(row["depends on"]), row["layer"])
    return table


def test_same_targets(package, documented):
    missing = sorted(set(package) - set(documented))
    stale = sorted(set(documented) - set(package))
    assert not missing and not stale, (
        "docs/ARCHITECTURE.md and Package.swift disagree on the targets:\n"
        f"  in Package.swift, not in the targets table: {missing}\n"
        f"  in the targets table, not in Package.swift: {stale}\n"
        "Update the table in docs/ARCHITECTURE.md (or Package.swift) so both say the same.")


def test_same_kind_folder_and_dependencies(package, documented):
    drift = []
    for name in sorted(set(package) & set(documented)):
        kind, folder, deps = package[name]
        doc_kind, doc_folder, doc_deps, _ = documented[name]
        if kind != doc_kind:
            drift.append(f"  {name}: kind is {kind} in Package.swift, {doc_kind} in the doc")
        if folder != doc_folder:
            drift.append(f"  {name}: folder is {folder} in Package.swift, {doc_folder} in the doc")
        if deps != doc_deps:
            drift.append(f"  {name}: depends on {sorted(deps)} in Package.swift, "
                         f"{sorted(doc_deps)} in the doc")
    assert not drift, "docs/ARCHITECTURE.md has drifted from Package.swift:\n" + "\n".join(drift)


def test_arrows_point_down(package, documented):
    layers = {name: int(row[3]) for name, row in documented.items() if row[3].isdigit()}
    upward = []
    for name, layer in layers.items():
        for dep in package.get(name, ("", "", set()))[2]:
            if dep not in layers:
                upward.append(f"  library target {name} depends on {dep}, which has no layer")
            elif layers[dep] >= layer:
                upward.append(f"  {name} (layer {layer}) depends on {dep} (layer {layers[dep]})")
    assert not upward, "a dependency that does not point down:\n" + "\n".join(upward)


def test_c_api_does_not_use_the_async_layer(package):
    assert "SwiftWS" not in package["SwiftWSCAPI"][2], "SwiftWSCAPI must not depend on SwiftWS"
    folder = os.path.join(ROOT, "Sources", "SwiftWSCAPI")
    offenders = []
    for name in sorted(os.listdir(folder)):
        text = open(os.path.join(folder, name), encoding="utf-8").read()
        if re.search(r"^\s*(@_exported\s+|@testable\s+)?import\s+SwiftWS\s*$", text, re.M):
            offenders.append(name)
    assert not offenders, f"Sources/SwiftWSCAPI files import the async layer SwiftWS: {offenders}"


def test_every_source_folder_says_what_it_is_for():
    rows = {unquote(row["folder"]): (row["what it is for"], unquote(row["said in"]))
            for row in doc_table("folders")}
    on_disk = set()
    for directory, subdirectories, _ in os.walk(os.path.join(ROOT, "Sources")):
        subdirectories[:] = [d for d in subdirectories if not d.startswith(".")]
        relative = os.path.relpath(directory, ROOT)
        if relative != "Sources":
            on_disk.add(relative)
    missing = sorted(on_disk - set(rows))
    stale = sorted(set(rows) - on_disk)
    assert not missing and not stale, (
        "the folders table in docs/ARCHITECTURE.md and Sources/ disagree:\n"
        f"  folders not in the table: {missing}\n  table rows with no folder: {stale}")
    silent = []
    for folder, (purpose, said_in) in sorted(rows.items()):
        path = os.path.join(ROOT, folder, said_in)
        if not purpose:
            silent.append(f"  {folder}: no purpose in the table")
            continue
        if not os.path.isfile(path):
            silent.append(f"  {folder}: {said_in} does not exist")
            continue
        head = open(path, encoding="utf-8").read().lstrip().splitlines()[:5]
        is_comment = head and re.match(r"(//|/\*|# )", head[0])
        if not is_comment or os.path.basename(folder) not in "\n".join(head):
            silent.append(f"  {folder}: {said_in} does not open with a comment naming "
                          f"{os.path.basename(folder)!r}")
    assert not silent, "folders that do not say what they are for:\n" + "\n".join(silent)
