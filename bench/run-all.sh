#!/usr/bin/env bash
# The whole performance table in one command (under 15 minutes on the project's 2-core machine):
# every scenario of bench/echo/run.sh with SwiftWS, the plain TCP ceiling and the peers side by
# side, written to bench/results/<UTC date>.md (a summary table, then each scenario's own table).
# The README's performance table is generated from the latest results file by
# `python3 bench/results_table.py --write` (and checked by Tests/Architecture).
#
#   bash bench/run-all.sh [-r reps] [-d seconds] [-n] [-o file]
#
#   -r reps     repetitions per server and scenario (default 3; the table shows medians)
#   -d seconds  measured seconds per repetition of the echo scenarios (default 2)
#   -n          install nothing (bench/echo/run.sh -n)
#   -o file     write the results there instead of bench/results/<date>.md
set -euo pipefail
bench_dir="$(cd "$(dirname "$0")" && pwd)"
repo_dir="$(cd "$bench_dir/.." && pwd)"
reps=3 seconds=2 install_flag="" output=""
while getopts "r:d:no:h" opt; do
    case "$opt" in
    r) reps="$OPTARG" ;; d) seconds="$OPTARG" ;; n) install_flag="-n" ;; o) output="$OPTARG" ;;
    *) sed -n '2,13p' "$0" >&2; exit 2 ;;
    esac
done
output="${output:-$bench_dir/results/$(date -u +%F).md}"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
mkdir -p "$(dirname "$output")"

# Scenarios: key | title | run.sh arguments. The key names the row of the summary table; the
# servers of each scenario are those that can run it (run.sh lists the others as n/a anyway).
# The idle scenarios run once per server (-r 1 overrides -r): resident memory per connection
# varies by about 1 % from run to run, and 10,000 upgrades to the slowest peers take a minute.
# run.sh opens and closes 10 warm-up connections (-W) before the first reading, for every server.
# The large-message scenarios also run tcp-whole (plain TCP that echoes a message once it is whole,
# the ceiling of any server that delivers messages); their own tables show swiftws's ratio to it.
all="tcp-echo,swiftws,websockets,picows,node-ws,lws,nio"
scenarios=(
    "small|Echo, 100 connections, 32 B text, 1 in flight|-c 100 -s 32 -S $all,swiftws-wss,tls-echo"
    "pipelined|Echo, 100 connections, 32 B text, 16 in flight|-c 100 -s 32 -k 16 -S $all"
    "conns1000|Echo, 1,000 connections, 20 B text, 1 in flight|-c 1000 -s 20 -S tcp-echo,swiftws,picows,node-ws,lws"
    "kib64|Echo, 10 connections, 64 KiB binary|-c 10 -s 65536 -b -S $all,tcp-whole"
    "mib1|Echo, 10 connections, 1 MiB binary|-c 10 -s 1048576 -b -S $all,tcp-whole"
    "deflate|Echo, 100 connections, 1 KiB JSON, permessage-deflate both ways|-c 100 -s 1024 -z -S swiftws,websockets,node-ws,lws"
    "idle|Idle connections: server RSS growth per connection, 10,000 connections|-m idle -c 10000 -r 1 -S swiftws,websockets,picows,node-ws,lws,nio"
    "idledeflate|Idle connections with permessage-deflate, 10,000 connections (then one 1 KiB message each)|-m idle -z -c 10000 -s 1024 -r 1 -S swiftws,websockets,node-ws,lws"
    "handshake|Handshakes per second, 50 at a time|-m handshake -c 50 -S swiftws,swiftws-wss,websockets,picows,node-ws,lws,nio"
)

started=$SECONDS
selftest_flag=""
any_failed=0
for entry in "${scenarios[@]}"; do
    IFS='|' read -r key title arguments <<<"$entry"
    echo "run-all.sh: $key — $title ($((SECONDS - started)) s so far)" >&2
    # shellcheck disable=SC2086  # arguments are words on purpose
    if ! bash "$bench_dir/echo/run.sh" -r "$reps" -d "$seconds" -w 0.5 -i $install_flag $selftest_flag \
        -T "$title" $arguments >"$work/$key.out" 2>"$work/$key.err"; then
        any_failed=1
        echo "run-all.sh: $key had a failure (see its table)" >&2
    fi
    cp "$bench_dir/echo/build/report.md" "$work/$key.md"
    cp "$bench_dir/echo/build/summary.tsv" "$work/$key.tsv"
    install_flag="-n" selftest_flag="-x"  # installed and self-tested once is enough
done

python3 "$bench_dir/results_table.py" --compose "$work" \
    --commit "$(git -C "$repo_dir" rev-parse --short HEAD)$(git -C "$repo_dir" diff --quiet HEAD || echo ' + local changes')" \
    --minutes "$(( (SECONDS - started + 59) / 60 ))" --order "$(printf '%s\n' "${scenarios[@]}" | cut -d'|' -f1,2 | tr '\n' ';')" \
    >"$output"
echo "run-all.sh: wrote $output in $((SECONDS - started)) s" >&2
exit "$any_failed"
