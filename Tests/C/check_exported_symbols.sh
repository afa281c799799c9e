#!/usr/bin/env bash
# Compares the symbols libswiftws.so exports (defined, global: `nm -D -g --defined-only`) with the
# checked-in list Tests/C/exported-symbols.txt, so that an accidental ABI change fails.
# Adding a function to the C API means adding it to the list, on purpose.
#   check_exported_symbols.sh LIBRARY LIST
set -euo pipefail
library="$1"; list="$2"
actual=$(nm -D -g --defined-only "$library" | awk '{print $NF}' | sort)
expected=$(grep -v '^#' "$list" | sed '/^$/d' | sort)
if [ "$actual" != "$expected" ]; then
    echo "exported symbols differ from $list (< expected, > actual):"
    diff <(echo "$expected") <(echo "$actual") || true
    exit 1
fi
if echo "$actual" | grep -qv '^sws_'; then echo "a symbol outside sws_* is exported"; exit 1; fi
echo "exported symbols: $(echo "$actual" | wc -l) match $list, all sws_*"
