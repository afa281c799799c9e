#!/usr/bin/env python3
"""Where the bytes of libswiftws.so come from, read from a link map (lld's, or GNU ld's / gold's).

    python3 scripts/size_breakdown.py build/libswiftws.map [--by object]

The CMake build writes the map of its last link of the library to <build>/libswiftws.map.
Each input section the linker kept is charged to its origin: one of our Swift modules
(SwiftWSCore, SwiftWSTransport, SwiftWSEndpoints, SwiftWSCAPI, ...), the Swift standard library's Swift code
(libswiftCore.a(Swift.o)), the Swift runtime's C++ code (the other libswiftCore.a members), other
static Swift libraries (Concurrency, Synchronization, StringProcessing, ...), or the C runtime
glue. Only sections that take space in the stripped file are counted (no .debug_*, no .bss, no
.symtab). Sections the linker discarded (--gc-sections) are not in the map's memory map.
"""
import argparse
import re
import sys
from collections import defaultdict

# Sections that are not in the stripped file or take no file space.
SKIPPED = re.compile(r"^\.(debug|comment|note\.GNU-stack|bss|tbss|symtab|strtab|gnu_debuglink)")


def origin(path: str, by_object: bool) -> str:
    archive = re.search(r"lib(swift\w+)\.a\((.+)\)$", path)
    if archive:
        library, member = archive.groups()
        if library == "swiftCore":
            if member == "Swift.o":
                return "stdlib (Swift code, libswiftCore.a(Swift.o))"
            return "runtime (C++, libswiftCore.a)" + (f" {member}" if by_object else "")
        return f"lib{library}.a" + (f"({member})" if by_object else "")
    module = re.search(r"/([A-Za-z0-9_]+)\.build/([^/]+)$", path)
    if module:
        return f"module {module.group(1)}" + (f" {module.group(2)}" if by_object else "")
    other = re.search(r"([^/]+\.a)\(", path)
    if other:
        return other.group(1)
    return "other: " + path.rsplit("/", 1)[-1]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("map", help="a GNU ld link map (-Wl,-Map=FILE)")
    parser.add_argument("--by", choices=["library", "object"], default="library",
                        help="charge to each library/module (default) or to each object file")
    parser.add_argument("--most", type=int, default=25, help="rows shown (default 25)")
    args = parser.parse_args()
    by_object = args.by == "object"
    lines = open(args.map, encoding="utf-8", errors="replace").read().split("\n")
    if lines and lines[0].split() == ["VMA", "LMA", "Size", "Align", "Out", "In", "Symbol"]:
        totals = read_lld_map(lines, by_object)
    else:
        totals = read_gnu_map(lines, by_object)
        if totals is None:
            print(f"{args.map}: no memory map (not a link map?)", file=sys.stderr)
            return 1
    report(totals, args.most)
    return 0


def read_lld_map(lines, by_object):
    """lld: one line per output section, input section (indented 8 more) and symbol (16 more)."""
    totals = defaultdict(lambda: defaultdict(int))
    output_section = None
    row = re.compile(r"^\s*[0-9a-f]+\s+[0-9a-f]+\s+([0-9a-f]+)\s+\d+ (.*)$")
    for line in lines[1:]:
        m = row.match(line)
        if not m:
            continue
        size, rest = int(m.group(1), 16), m.group(2)
        if not rest.startswith(" "):
            output_section = rest.strip()
            continue
        if rest.startswith(" " * 16) or output_section is None or SKIPPED.match(output_section):
            continue  # a symbol, or a section the stripped file does not have
        where = rest.strip()
        if ":(" not in where or size == 0 or where.startswith("<internal>"):
            continue
        totals[origin(where.rsplit(":(", 1)[0], by_object)][output_section] += size
    return totals


def read_gnu_map(lines, by_object):
    """GNU ld and gold: the input sections under each output section of the "Memory map"."""
    # GNU ld: "Memory map" (older: "Linker script and memory map"); what precedes it lists the
    # archive members pulled in and the sections discarded.
    starts = [i for i, line in enumerate(lines) if line in ("Memory map", "Linker script and memory map")]
    if not starts:
        return None
    start = starts[0]
    totals = defaultdict(lambda: defaultdict(int))
    output_section = None
    pending = None  # an input section name alone on its line (the address follows on the next)
    for line in lines[start:]:
        top = re.match(r"^(\S+)\s", line) or re.match(r"^(\S+)$", line)
        if top and not line.startswith(" "):
            output_section = top.group(1)
            pending = None
            continue
        if output_section is None or SKIPPED.match(output_section) or output_section.startswith("/DISCARD/"):
            continue
        m = re.match(r"^ (\S+)\s+0x([0-9a-f]+)\s+0x([0-9a-f]+)\s+(\S.*)$", line)
        if m is None and pending:
            m2 = re.match(r"^\s+0x([0-9a-f]+)\s+0x([0-9a-f]+)\s+(\S.*)$", line)
            if m2:
                m = (pending,) + m2.groups()
                pending = None
            else:
                pending = None
                continue
        elif m is None:
            lone = re.match(r"^ (\.\S+|\S+)$", line)
            pending = lone.group(1) if lone and not lone.group(1).startswith("*") else None
            continue
        else:
            m = m.groups()
        _, _, size, path = m
        size = int(size, 16)
        if size == 0 or path.startswith("*") or "linker stubs" in path:
            continue
        totals[origin(path.strip(), by_object)][output_section] += size
    return totals


def report(totals, most):
    groups = sorted(totals.items(), key=lambda kv: -sum(kv[1].values()))
    grand = sum(sum(s.values()) for _, s in groups)
    print(f"{'origin':60} {'total':>10} {'.text':>10} {'.rodata':>9} {'eh_frame':>9} {'data+rel':>9} {'swift5_*':>9}")
    for name, sections in groups[:most]:
        text = sections.get(".text", 0)
        rodata = sections.get(".rodata", 0)
        eh = sections.get(".eh_frame", 0)
        data = sum(v for k, v in sections.items() if k.startswith((".data", ".got", ".init_array", ".fini_array")))
        swift5 = sum(v for k, v in sections.items() if k.startswith("swift5_") or k == ".swift_modhash")
        print(f"{name[:60]:60} {sum(sections.values()):>10,} {text:>10,} {rodata:>9,} {eh:>9,} {data:>9,} {swift5:>9,}")
    print(f"{'all input sections':60} {grand:>10,}")


if __name__ == "__main__":
    sys.exit(main())
