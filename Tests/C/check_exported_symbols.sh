#!/usr/bin/env bash
# Compares the symbols libswiftws.so exports (defined, global: `nm -D -g --defined-only`) with the
# checked-in list Tests/C/exported-symbols.txt, so that an accidental ABI change fails; checks that
# every one carries the version node of the linker version script (cmake/swiftws.map.in), as the
# default version (sws_x@@SWIFTWS_<ABI>), and that the library's SONAME is the versioned one.
# Adding a function to the C API means adding it to the list, on purpose.
#   check_exported_symbols.sh LIBRARY LIST [VERSION_NODE [SONAME]]
set -euo pipefail
library="$1"; list="$2"; node="${3:-}"; soname="${4:-}"
# GNU ld also lists the version node itself as an absolute symbol named after it; lld does not.
exported=$(nm -D -g --defined-only "$library" | awk '{print $NF}' | grep -v "^${node:-^}\$" | sort)
actual=$(echo "$exported" | sed 's/@.*//' | sort)
expected=$(grep -v '^#' "$list" | sed '/^$/d' | sort)
if [ "$actual" != "$expected" ]; then
    echo "exported symbols differ from $list (< expected, > actual):"
    diff <(echo "$expected") <(echo "$actual") || true
    exit 1
fi
if echo "$actual" | grep -qv '^sws_'; then echo "a symbol outside sws_* is exported"; exit 1; fi
if [ -n "$node" ]; then
    unversioned=$(echo "$exported" | grep -v "@@${node}\$" || true)
    if [ -n "$unversioned" ]; then
        echo "symbols without the default version @@$node:"; echo "$unversioned"; exit 1
    fi
    readelf -V "$library" | sed -n '/Version definition/,/Version needs/p' | grep -q "Name: ${node}\$" \
        || { echo "no version node $node defined (readelf -V)"; exit 1; }
fi
if [ -n "$soname" ]; then
    actual_soname=$(readelf -d "$library" | sed -n 's/.*(SONAME).*\[\(.*\)\]/\1/p')
    [ "$actual_soname" = "$soname" ] || { echo "SONAME is '$actual_soname', expected '$soname'"; exit 1; }
fi
echo "exported symbols: $(echo "$actual" | wc -l) match $list, all sws_*${node:+, all @@$node}${soname:+, SONAME $soname}"
