#!/usr/bin/env bash
# Runs lifecycle_cycles under valgrind twice, with SMALL and LARGE cycle counts, and fails if
# valgrind finds a memory error or a definite/indirect leak, or if the memory still in use at
# exit grows with the number of cycles (a leak that stays reachable, e.g. a registry that never
# forgets, is a leak too).
#   check_valgrind_cycles.sh PROGRAM [LARGE=1000] [SMALL=100]
set -euo pipefail
program="$1"; large="${2:-1000}"; small="${3:-100}"
command -v valgrind >/dev/null || { echo "valgrind not installed: skipped"; exit 77; }
in_use() {
    local log status=0; log=$(mktemp)
    valgrind --leak-check=full --errors-for-leak-kinds=definite,indirect --error-exitcode=9 \
        --log-file="$log" "$program" "$1" >/dev/null || status=$?
    grep -E "in use at exit|definitely lost|indirectly lost|ERROR SUMMARY" "$log" | sed "s/^==[0-9]*== */  [$1 cycles] /" >&2
    grep -oE "in use at exit: [0-9,]+ bytes" "$log" | tr -dc '0-9'
    rm -f "$log"
    return $status
}
small_bytes=$(in_use "$small")
large_bytes=$(in_use "$large")
echo "in use at exit: $small_bytes bytes after $small cycles, $large_bytes bytes after $large cycles"
[ "$small_bytes" = "$large_bytes" ] || { echo "memory in use at exit grows with the cycles"; exit 1; }
echo "no leak over $large start/stop cycles"
