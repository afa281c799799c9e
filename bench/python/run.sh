#!/usr/bin/env bash
# Python echo servers side by side: swiftws (asyncio handler API and callback API), websockets
# and picows, under the same closed-loop load from bench/echo/loadgen.c, in one run.
#
#   bash bench/python/run.sh [-c conns] [-s size] [-k inflight] [-d seconds] [-w warmup] [-r reps]
#
# Defaults: 100 connections, 32-byte binary messages, 1 in flight, 5 s after 1 s warm-up,
# 3 repetitions, interleaved (rep 1 of every server, then rep 2, ...) so that load from other
# programs on the machine spreads over all servers alike; each repetition starts one server later
# in the list (rotation), so no server always runs right after the same neighbour (round 6 saw
# the row that ran second read lower than its identical base row in 4 of 5 runs). Server pinned to CPU 0, loadgen to CPU 1.
# Reports, per server, the median msgs/s and the median round trips per server CPU-second (user +
# system time of the server process over the run, from /proc/PID/stat), each also as a ratio to
# swiftws (handler API). The second column is the steadier one on a busy machine.
#
# swiftws runs from this source tree: SWIFTWS_LIBRARY must name a libswiftws.so with the
# networking API (default: build/lib/libswiftws.so, made by `cmake --build build`).
# Before/after in one run: SWIFTWS_BASE=DIR adds the rows swiftws-base and swiftws-listener-base,
# the two swiftws servers of another checkout (DIR/bench/python, DIR/bindings/python) with its
# library (DIR/build/lib/libswiftws.so), e.g. a `git worktree add DIR main` built with CMake.
set -euo pipefail
cd "$(dirname "$0")/../.."
repo=$PWD
conns=100 size=32 inflight=1 seconds=5 warmup=1 reps=3
while getopts "c:s:k:d:w:r:" option; do
    case $option in
        c) conns=$OPTARG ;; s) size=$OPTARG ;; k) inflight=$OPTARG ;; d) seconds=$OPTARG ;;
        w) warmup=$OPTARG ;; r) reps=$OPTARG ;; *) exit 2 ;;
    esac
done
export SWIFTWS_LIBRARY="${SWIFTWS_LIBRARY:-$repo/build/lib/libswiftws.so}"
[ -f "$SWIFTWS_LIBRARY" ] || { echo "no library at $SWIFTWS_LIBRARY (cmake -S . -B build -G Ninja && cmake --build build)" >&2; exit 1; }
python="$repo/.venv/bin/python"
"$python" -c "import picows" 2>/dev/null || "$repo/.venv/bin/pip" install -q --disable-pip-version-check picows
out=bench/python/build; mkdir -p "$out"; : >"$out/raw.log"  # raw lines of this run only
cc -O2 -Wall -Wextra -std=c11 -o "$out/loadgen" bench/echo/loadgen.c -lssl -lcrypto -lz

names=(swiftws swiftws-listener websockets picows)
declare -A cmd=(
    [swiftws]="bench/python/swiftws_echo.py"
    [swiftws-listener]="bench/python/swiftws_listener_echo.py"
    [websockets]="bench/echo/peers/websockets_echo.py"
    [picows]="bench/echo/peers/picows_echo.py"
)
declare -A library=()
if [ -n "${SWIFTWS_BASE:-}" ]; then
    [ -f "$SWIFTWS_BASE/build/lib/libswiftws.so" ] || { echo "no library at $SWIFTWS_BASE/build/lib/libswiftws.so" >&2; exit 1; }
    names=(swiftws-base swiftws swiftws-listener-base swiftws-listener websockets picows)
    cmd[swiftws-base]="$SWIFTWS_BASE/bench/python/swiftws_echo.py"
    cmd[swiftws-listener-base]="$SWIFTWS_BASE/bench/python/swiftws_listener_echo.py"
    library[swiftws-base]="$SWIFTWS_BASE/build/lib/libswiftws.so"
    library[swiftws-listener-base]="$SWIFTWS_BASE/build/lib/libswiftws.so"
fi
pin_server=() pin_load=()
if command -v taskset >/dev/null && [ "$(nproc --all)" -ge 2 ]; then pin_server=(taskset -c 0) pin_load=(taskset -c 1); fi
declare -A pid=() port=() rates=() cpu_rates=()
cleanup() { for name in "${!pid[@]}"; do kill "${pid[$name]}" 2>/dev/null || true; done; }
trap cleanup EXIT

cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }

next_port=$((20000 + RANDOM % 20000))
for name in "${names[@]}"; do
    port[$name]=$next_port; next_port=$((next_port + 1))
    SWIFTWS_LIBRARY="${library[$name]:-$SWIFTWS_LIBRARY}" \
        "${pin_server[@]}" "$python" "${cmd[$name]}" --port "${port[$name]}" >"$out/$name.log" 2>&1 &
    pid[$name]=$!
    for _ in $(seq 600); do grep -q listening "$out/$name.log" && break; sleep 0.05; done
    grep -q listening "$out/$name.log" || { echo "$name did not start:"; cat "$out/$name.log"; exit 1; }
done

ticks_per_second=$(getconf CLK_TCK)
for rep in $(seq "$reps"); do
    for step in "${!names[@]}"; do
        name=${names[$(( (step + rep - 1) % ${#names[@]} ))]}
        before=$(cpu_ticks "${pid[$name]}")
        line=$("${pin_load[@]}" "$out/loadgen" -p "${port[$name]}" -c "$conns" -s "$size" -k "$inflight" \
               -d "$seconds" -w "$warmup")
        after=$(cpu_ticks "${pid[$name]}")
        rate=$(sed -E 's/.*messages_per_sec=([0-9.]+).*/\1/' <<<"$line")
        total=$(sed -E 's/.*total_messages=([0-9]+).*/\1/' <<<"$line")
        cpu_rate=$(awk -v t="$total" -v b="$before" -v a="$after" -v hz="$ticks_per_second" \
                   'BEGIN { cpu = (a - b) / hz; printf "%.0f", (cpu > 0 ? t / cpu : 0) }')
        rates[$name]+="$rate "; cpu_rates[$name]+="$cpu_rate "
        echo "rep $rep $name: $line server_cpu_msgs_per_s=$cpu_rate" >>"$out/raw.log"
    done
done

median() { tr ' ' '\n' | grep -v '^$' | sort -n | awk '{ v[NR] = $1 } END { print (NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2) }'; }
base=$(median <<<"${rates[swiftws]}") base_cpu=$(median <<<"${cpu_rates[swiftws]}")
echo "Python echo servers: $conns connections, $size-byte binary messages, $inflight in flight, ${seconds}s x $reps (median)"
echo
echo "| server | msgs/s | ratio to swiftws | msgs per server CPU-s | ratio to swiftws | runs (msgs/s) |"
echo "|---|---|---|---|---|---|"
for name in "${names[@]}"; do
    m=$(median <<<"${rates[$name]}") c=$(median <<<"${cpu_rates[$name]}")
    awk -v n="$name" -v m="$m" -v b="$base" -v c="$c" -v bc="$base_cpu" -v runs="${rates[$name]}" \
        'BEGIN { printf "| %s | %.0f | %.2f | %.0f | %.2f | %s|\n", n, m, m / b, c, c / bc, runs }'
done
echo
# Issue 12's two criteria, as ratios of the medians above (messages per server CPU-second).
awk -v h="$base_cpu" -v w="$(median <<<"${cpu_rates[websockets]}")" \
    -v l="$(median <<<"${cpu_rates[swiftws-listener]}")" -v p="$(median <<<"${cpu_rates[picows]}")" \
    'BEGIN { printf "per server CPU-s: swiftws handler API / websockets = %.2f; swiftws-listener / picows = %.2f\n", h / w, l / p }'
echo
echo "versions: swiftws $("$python" -c 'import sys; sys.path.insert(0, "bindings/python"); import swiftws; print(swiftws.library_version)') ($SWIFTWS_LIBRARY), websockets $("$python" -c 'import websockets; print(websockets.__version__)'), picows $("$python" -c 'import picows; print(picows.__version__)'), $("$python" --version)"
