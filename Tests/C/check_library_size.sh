#!/usr/bin/env bash
# Keeps libswiftws.so small (issue 17): none of the Swift modules `_StringProcessing` and
# `_RegexParser` is linked in (a single `String.contains(_: String)` or `firstRange(of:)` on a
# string pulls both in: 1.26 MB; Sources/SwiftWSCore/Support/SchemeSeparator.swift says what to
# use instead), and the stripped library stays within a byte budget, so that a change that makes it
# grow much is noticed (raise the budget on purpose, with the reason in the commit).
#   check_library_size.sh LIBRARY STRIPPED_LIBRARY BUDGET_BYTES|none
set -euo pipefail
library="$1"; stripped="$2"; budget="$3"
symbols=$(nm "$library")
[ -n "$symbols" ] || { echo "nm found no symbols in $library (stripped?): cannot check"; exit 1; }
# Mangled module names: 17_StringProcessing, 12_RegexParser (local symbols count too: nm, not nm -D).
linked=$(echo "$symbols" | grep -E '17_StringProcessing|12_RegexParser' || true)
if [ -n "$linked" ]; then
    echo "libswiftws.so carries $(echo "$linked" | wc -l) symbols of _StringProcessing/_RegexParser, e.g.:"
    echo "$linked" | head -5 | swift demangle 2>/dev/null || echo "$linked" | head -5
    echo "(find the caller: nm -u on the modules' .o files, grep 17_StringProcessing)"
    exit 1
fi
size=$(stat -c %s "$stripped")
if [ "$budget" != none ] && [ "$size" -gt "$budget" ]; then
    echo "stripped libswiftws.so is $size bytes, over the budget of $budget"
    echo "(python3 scripts/size_breakdown.py <build>/libswiftws.map shows where the bytes come from)"
    exit 1
fi
echo "no _StringProcessing/_RegexParser; stripped library $size bytes (budget $budget)"
