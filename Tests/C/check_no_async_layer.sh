#!/usr/bin/env bash
# libswiftws.so links the C API over the endpoints layer, beside the async Swift API, not on it
# (docs/ARCHITECTURE.md): no symbol of the Swift module `SwiftWS` (mangled `7SwiftWS` followed by
# the next name's length or kind) may be in it. Local symbols count too: nm, not nm -D.
#   check_no_async_layer.sh LIBRARY
set -euo pipefail
library="$1"
symbols=$(nm "$library")
[ -n "$symbols" ] || { echo "nm found no symbols in $library (stripped?): cannot check"; exit 1; }
async=$(echo "$symbols" | grep -E '(^|[^0-9])7SwiftWS[0-9A-Z]' || true)
if [ -n "$async" ]; then
    echo "libswiftws.so carries $(echo "$async" | wc -l) symbols of the async module SwiftWS, e.g.:"
    echo "$async" | head -5
    exit 1
fi
echo "no symbol of the async module SwiftWS in $library ($(echo "$symbols" | wc -l) symbols)"
