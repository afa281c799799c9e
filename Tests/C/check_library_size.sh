#!/usr/bin/env bash
# Keeps libswiftws.so small (issue 17): none of the Swift modules `_StringProcessing` and
# `_RegexParser` is linked in (a single `String.contains(_: String)` or `firstRange(of:)` on a
# string pulls both in: 1.26 MB; Sources/SwiftWSCore/Support/SchemeSeparator.swift says what to
# use instead); for the trimmed release library (cmake/clear_retain.py), that the Unicode
# scalar-name tables are left out (cmake/no_scalar_names.c) and that the stripped file stays within
# a byte budget, so that a change that makes it grow much is noticed (raise the budget on purpose,
# with the reason in the commit).
#   check_library_size.sh LIBRARY STRIPPED_LIBRARY BUDGET_BYTES|none   (none: only the first check)
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
if [ "$budget" != none ]; then
    # Local symbols of the runtime's UnicodeScalarProps.cpp (static arrays: _ZL<n>_swift_stdlib_names...).
    names=$(echo "$symbols" | grep -E '_swift_stdlib_(names|names_scalars|names_scalar_sets|getScalarName)$' || true)
    if [ -n "$names" ]; then
        echo "the Unicode scalar-name tables are linked (cmake/no_scalar_names.c should keep them out):"
        echo "$names"
        exit 1
    fi
    # The backtracer's zero-filled settings pages take no file space (clear_retain.py).
    if readelf -SW "$stripped" | grep -E ' swift5_backtrace ' | grep -qv NOBITS; then
        echo "section swift5_backtrace takes file space (clear_retain.py should make it NOBITS)"
        exit 1
    fi
fi
size=$(stat -c %s "$stripped")
if [ "$budget" != none ] && [ "$size" -gt "$budget" ]; then
    echo "stripped libswiftws.so is $size bytes, over the budget of $budget"
    echo "(python3 scripts/size_breakdown.py <build>/libswiftws.map shows where the bytes come from)"
    exit 1
fi
echo "no _StringProcessing/_RegexParser; no scalar-name tables unless untrimmed; stripped library $size bytes (budget $budget)"
