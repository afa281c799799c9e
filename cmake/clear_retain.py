#!/usr/bin/env python3
"""Copies the static Swift standard library with its code open to the linker's --gc-sections.

    clear_retain.py SOURCE_DIR DEST_DIR [--cc C_COMPILER]

SOURCE_DIR is the toolchain's lib/swift_static; DEST_DIR becomes a copy of it (symbolic links,
except linux/libswiftCore.a) to pass to swiftc as -resource-dir.

Why: libswiftCore.a's Swift.o puts each public function in its own section, but flags every one
of them SHF_GNU_RETAIN (LLVM's mark for llvm.used globals), so --gc-sections keeps all of them,
about a megabyte of code libswiftws never calls. This clears that flag on code and data sections
(.text*, .rodata*, .data*) only. The Swift metadata sections (swift5_*), which the runtime finds
through __start_/__stop_ symbols rather than through references, keep it. Inside libswiftws.so
the standard library's symbols are local (version script), so nothing outside can reach a function
by name: what no kept section references is dead code.

The copy also turns the backtracer's 64 KB of settings pages (section swift5_backtrace of
Backtrace.cpp.o: zero-initialised arrays the runtime fills and then write-protects) from file
bytes into .bss-like NOBITS: the same zeros in memory, 64 KB less in the file.

With --cc, the copy also leaves out the Unicode scalar-name tables (552 KB): Swift.o's one
reference to _swift_stdlib_getScalarName (Unicode.Scalar.Properties.name, in the standard library's
always-linked code) is renamed to swiftws_stdlib_noScalarName, compiled from no_scalar_names.c
(next to this script) and added to the archive; the real function and its tables then have no
reference left and --gc-sections drops them. `name` answers nil; libswiftws never asks for it
(docs/notes/issue17-size-round4.md). Tests/C/check_library_size.sh checks that the tables are gone.
"""
import os
import shutil
import struct
import subprocess
import sys
import tempfile

SHF_GNU_RETAIN = 0x200000
CLEARED_PREFIXES = (b".text.", b".rodata.", b".data.")
CLEARED_NAMES = (b".text", b".rodata", b".data")


def section_headers(path: str, data: bytearray):
    """Yields (offset of the section header, section name) of each section of an ELF64 LE object."""
    if data[:4] != b"\x7fELF" or data[4] != 2 or data[5] != 1:
        raise SystemExit(f"{path}: not an ELF64 little-endian object")
    shoff, = struct.unpack_from("<Q", data, 0x28)
    shentsize, shnum, shstrndx = struct.unpack_from("<HHH", data, 0x3A)
    if shnum == 0:  # more than 0xff00 sections: the real count is in section 0
        shnum, = struct.unpack_from("<Q", data, shoff + 0x20)
    if shstrndx == 0xFFFF:
        shstrndx, = struct.unpack_from("<I", data, shoff + 0x28)
    names, = struct.unpack_from("<Q", data, shoff + shstrndx * shentsize + 0x18)
    for index in range(shnum):
        header = shoff + index * shentsize
        name_offset, = struct.unpack_from("<I", data, header)
        start = names + name_offset
        yield header, bytes(data[start:data.index(b"\0", start)])


def clear_retain(path: str) -> int:
    """Clears SHF_GNU_RETAIN on the code and data sections of an ELF64 little-endian object."""
    data = bytearray(open(path, "rb").read())
    cleared = 0
    for header, name in section_headers(path, data):
        flags, = struct.unpack_from("<Q", data, header + 8)
        if flags & SHF_GNU_RETAIN and (name.startswith(CLEARED_PREFIXES) or name in CLEARED_NAMES):
            struct.pack_into("<Q", data, header + 8, flags & ~SHF_GNU_RETAIN)
            cleared += 1
    open(path, "wb").write(data)
    return cleared


def zeros_to_nobits(path: str, section: bytes) -> int:
    """Makes SHT_NOBITS the all-zero PROGBITS sections named `section` of an ELF64 LE object."""
    data = bytearray(open(path, "rb").read())
    changed = 0
    for header, name in section_headers(path, data):
        kind, = struct.unpack_from("<I", data, header + 4)
        if name != section or kind != 1:  # SHT_PROGBITS
            continue
        offset, size = struct.unpack_from("<QQ", data, header + 0x18)
        if any(data[offset:offset + size]):
            print(f"clear_retain.py: {section.decode()} is not all zeros: left as it is")
            continue
        struct.pack_into("<I", data, header + 4, 8)  # SHT_NOBITS
        changed += 1
    open(path, "wb").write(data)
    return changed


NAME_FUNCTION = "_swift_stdlib_getScalarName"
NAME_STUB = "swiftws_stdlib_noScalarName"
NAME_STUB_MEMBER = "swiftws_no_scalar_names.o"


def redirect_scalar_names(work: str, cc: str) -> None:
    """Points Swift.o (in work/) at the no-name stand-in and compiles it into work/."""
    source = os.path.join(os.path.dirname(os.path.abspath(__file__)), "no_scalar_names.c")
    subprocess.run([cc, "-O2", "-fPIC", "-ffunction-sections", "-c", source,
                    "-o", os.path.join(work, NAME_STUB_MEMBER)], check=True)
    subprocess.run(["objcopy", f"--redefine-sym={NAME_FUNCTION}={NAME_STUB}", "Swift.o"],
                   cwd=work, check=True)


def mirror(source: str, dest: str) -> None:
    """dest/ mirrors source/ with symbolic links, one level deep in linux/ (to replace one file)."""
    shutil.rmtree(dest, ignore_errors=True)
    os.makedirs(os.path.join(dest, "linux"))
    for entry in os.listdir(source):
        if entry != "linux":
            os.symlink(os.path.join(source, entry), os.path.join(dest, entry))
    for entry in os.listdir(os.path.join(source, "linux")):
        if entry != "libswiftCore.a":
            os.symlink(os.path.join(source, "linux", entry), os.path.join(dest, "linux", entry))


def main() -> int:
    args = sys.argv[1:]
    cc = None
    if len(args) == 4 and args[2] == "--cc":
        cc = args[3]
        args = args[:2]
    if len(args) != 2:
        print(__doc__, file=sys.stderr)
        return 2
    source, dest = (os.path.abspath(p) for p in args)
    archive = os.path.join(source, "linux", "libswiftCore.a")
    if not os.path.isfile(archive):
        raise SystemExit(f"{archive} not found")
    mirror(source, dest)
    copy = os.path.join(dest, "linux", "libswiftCore.a")
    shutil.copyfile(archive, copy)
    with tempfile.TemporaryDirectory() as work:
        subprocess.run(["ar", "x", copy, "Swift.o"], cwd=work, check=True)
        cleared = clear_retain(os.path.join(work, "Swift.o"))
        members = ["Swift.o"]
        subprocess.run(["ar", "x", copy, "Backtrace.cpp.o"], cwd=work, check=True)
        if zeros_to_nobits(os.path.join(work, "Backtrace.cpp.o"), b"swift5_backtrace"):
            members.append("Backtrace.cpp.o")
        if cc:
            redirect_scalar_names(work, cc)
            members.append(NAME_STUB_MEMBER)
        subprocess.run(["ar", "r", copy, *members], cwd=work, check=True)
    print(f"clear_retain.py: {cleared} sections of libswiftCore.a(Swift.o) open to --gc-sections"
          + (", Unicode scalar names left out" if cc else ""))
    return 0


if __name__ == "__main__":
    sys.exit(main())
