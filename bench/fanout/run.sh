#!/usr/bin/env bash
# The scale benchmark (issue 15), every part in one run on this machine, reported as medians of
# R repetitions with their spread (min..max), Markdown on stdout and in bench/fanout/build/report.md:
#
#   1. fan-out: 1 publisher, N subscribers (default 10,000), 64-byte text messages: deliveries per
#      second and server CPU per delivery, for compression none / takeover (the browsers' default
#      offer: a context per connection, so a publish goes out uncompressed) / shared (the server
#      imposes server_no_context_takeover: one compressed frame for all), on 1 loop and on 2;
#   2. echo at 1,000 connections (bench/echo/loadgen.c): 1 loop vs 2 loops with one acceptor
#      handing sockets over (handoff) vs a listener per loop (SO_REUSEPORT);
#   3. cross-node latency through Redis: publish on node A → delivery on node B, p50/p99;
#   4. the compression ratio of a chat-like stream with and without context takeover.
#
#   bash bench/fanout/run.sh [-r reps] [-n subscribers] [-m messages]
#
# Pinning: a one-loop server runs on CPU 0 and its load on CPU 1. A two-loop server is given both
# CPUs and so is its load (this machine has two): the comparison shows what a second loop costs
# or gains when the load generator needs a share of the same cores; see the note for 16 cores.
# Everything listens on 127.0.0.1; every process started is stopped on exit.
set -euo pipefail

bench_dir="$(cd "$(dirname "$0")" && pwd)"
repo_dir="$(cd "$bench_dir/../.." && pwd)"
build_dir="$bench_dir/build"
mkdir -p "$build_dir/logs"
reps=3 subscribers=10000 messages=100
while getopts "r:n:m:h" opt; do
    case "$opt" in
    r) reps="$OPTARG" ;; n) subscribers="$OPTARG" ;; m) messages="$OPTARG" ;;
    *) sed -n '2,20p' "$0" >&2; exit 2 ;;
    esac
done

cd "$repo_dir"
swift build -c release --product swiftws-bench-fanout >&2
swift build -c release --product swiftws-echo >&2
tool="$repo_dir/.build/release/swiftws-bench-fanout"
echo_server="$repo_dir/.build/release/swiftws-echo"
cc -O2 -Wall -Wextra -std=c11 -o "$build_dir/loadgen" "$repo_dir/bench/echo/loadgen.c" -lssl -lcrypto
ulimit -n "$(ulimit -Hn)"

pids=()
cleanup() { for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done; wait 2>/dev/null || true; }
trap cleanup EXIT

# start NAME CPUS COMMAND…: starts a server, waits for "listening on HOST:PORT", sets $port, $pid.
start() {
    local name="$1" cpus="$2"; shift 2
    local log="$build_dir/logs/$name.log"
    taskset -c "$cpus" "$@" >"$log" 2>&1 &
    pid=$!
    pids+=("$pid")
    for _ in $(seq 1 200); do
        if port=$(grep -o 'listening on 127.0.0.1:[0-9]*' "$log" | grep -o '[0-9]*$'); then return 0; fi
        sleep 0.05
    done
    echo "run.sh: $name did not start" >&2; cat "$log" >&2; exit 1
}
stop() { kill "$pid"; wait "$pid" 2>/dev/null || true; }

# median_spread VALUES…: "median (min..max)".
median_spread() { printf '%s\n' "$@" | sort -g | awk '{v[NR]=$1} END {m=(NR%2)?v[(NR+1)/2]:(v[NR/2]+v[NR/2+1])/2; printf "%g (%g..%g)", m, v[1], v[NR]}'; }
field() { grep -o "$1=[^ ]*" | head -1 | cut -d= -f2; }

report="$build_dir/report.md"
{
echo "# Scale benchmark, $(date -u '+%Y-%m-%d %H:%M UTC'), $(nproc) CPUs, load average $(cut -d' ' -f1-3 /proc/loadavg)"
echo "SwiftWS $(git rev-parse --short HEAD)$(git diff --quiet || echo ' + local changes'); $reps repetitions each: median (min..max)."
echo
echo "## Fan-out: 1 publisher, $subscribers subscribers, $messages messages of 64 bytes"
echo
echo "| compression | loops | deliveries/s | server CPU ns/delivery | server RSS MiB |"
echo "|---|---|---|---|---|"
} | tee "$report"
for compression in none takeover shared; do
    for loops in 1 2; do
        cpus=$([ "$loops" = 1 ] && echo 0 || echo 0,1)
        loadcpus=$([ "$loops" = 1 ] && echo 1 || echo 0,1)
        start "fanout-$compression-$loops" "$cpus" "$tool" server --loops "$loops" --compression "$compression"
        rates=() cpus_per=() rss=()
        deflate=$([ "$compression" = none ] && echo "" || echo "--deflate")
        for rep in $(seq 1 "$reps"); do
            line=$(taskset -c "$loadcpus" "$tool" fanout --port "$port" --pid "$pid" --subscribers "$subscribers" \
                   --messages "$messages" --size 64 $deflate | tee -a "$build_dir/logs/fanout.log")
            rates+=("$(echo "$line" | field deliveries_per_sec)")
            cpus_per+=("$(echo "$line" | field server_cpu_ns_per_delivery)")
            rss+=("$(( $(echo "$line" | field server_rss) / 1048576 ))")
        done
        stop
        echo "| $compression | $loops | $(median_spread "${rates[@]}") | $(median_spread "${cpus_per[@]}") | $(median_spread "${rss[@]}") |" | tee -a "$report"
    done
done

{
echo
echo "## Echo at 1,000 connections (32-byte text, 1 in flight, 5 s)"
echo
echo "| server | msgs/s | p50 µs | p99 µs |"
echo "|---|---|---|---|"
} | tee -a "$report"
for variant in "1 loop:1:handoff:0:1" "2 loops, handoff:2:handoff:0,1:0,1" "2 loops, SO_REUSEPORT:2:reuseport:0,1:0,1"; do
    IFS=: read -r name loops accept cpus loadcpus <<<"$variant"
    start "echo-$loops-$accept" "$cpus" "$echo_server" --host 127.0.0.1 --port 0 --no-compression --loops "$loops" --accept "$accept"
    rates=() p50=() p99=()
    for rep in $(seq 1 "$reps"); do
        line=$(taskset -c "$loadcpus" "$build_dir/loadgen" -p "$port" -c 1000 -s 32 -k 1 -d 5 -w 1 -t | tee -a "$build_dir/logs/echo.log")
        rates+=("$(echo "$line" | field messages_per_sec)")
        p50+=("$(echo "$line" | field p50_us)")
        p99+=("$(echo "$line" | field p99_us)")
    done
    stop
    echo "| $name | $(median_spread "${rates[@]}") | $(median_spread "${p50[@]}") | $(median_spread "${p99[@]}") |" | tee -a "$report"
done

{
echo
echo "## Cross-node latency through Redis (publish on node A → delivery on node B, 2,000 messages, one per 2 ms)"
echo
echo "| p50 µs | p99 µs |"
echo "|---|---|"
} | tee -a "$report"
redis_port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
redis-server --bind 127.0.0.1 --port "$redis_port" --save "" --appendonly no >"$build_dir/logs/redis.log" 2>&1 &
redis_pid=$!
pids+=("$redis_pid")
for _ in $(seq 1 200); do grep -q "Ready to accept" "$build_dir/logs/redis.log" && break; sleep 0.05; done
start node-a 0 "$tool" server --redis "redis://127.0.0.1:$redis_port"
port_a=$port
start node-b 1 "$tool" server --redis "redis://127.0.0.1:$redis_port"
port_b=$port
p50=() p99=()
for rep in $(seq 1 "$reps"); do
    line=$("$tool" latency --publish-port "$port_a" --subscribe-port "$port_b" --messages 2000 | tee -a "$build_dir/logs/latency.log")
    p50+=("$(echo "$line" | field p50_us)")
    p99+=("$(echo "$line" | field p99_us)")
done
echo "| $(median_spread "${p50[@]}") | $(median_spread "${p99[@]}") |" | tee -a "$report"

{
echo
echo "## Compression of a chat-like JSON stream (2,000 messages, window 12 bits, memLevel 5, level 6)"
echo
echo '```'
"$tool" ratio
echo '```'
} | tee -a "$report"
