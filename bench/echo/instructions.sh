#!/usr/bin/env bash
# Instructions an echo server executes per echoed message, counted by valgrind (cachegrind without
# cache simulation) while loadgen drives it: a check that does not depend on how busy the machine
# is, for changes that should not change the work per message (build flags, link order, a
# refactoring). Not a speed: it ignores caches, branch prediction and the kernel. Two durations,
# so that start-up and shutdown cancel out: per message = (Ir_long - Ir_short) / (msgs_long - msgs_short).
#
#   bash bench/echo/instructions.sh SERVER [ARGS...]        # SERVER takes --host/--port/--no-compression
#   LIBDIR=dir bash bench/echo/instructions.sh SERVER        # with LD_LIBRARY_PATH=dir (another libswiftws)
#   SHORT=1 LONG=8 CONNS=20 ...                              # seconds of each run, connections
#   SIZE=1048576 BINARY=1 ...                                # message size (default 32), binary (default text)
#   INFLIGHT=16 ...                                          # messages in flight per connection (default 1)
#   CACHE_SIM=1 ...                                          # also simulated cache misses per message
#                                                            # (instruction L1, data L1, last level)
#   TLS=1 ...                                                # wss: the server gets a test certificate
#                                                            # (--tls-cert/--tls-key), loadgen runs with -S
#   HANDSHAKE=1 ...                                          # loadgen -m handshake: instructions per upgrade
#                                                            # (connect, upgrade, close; "message" = upgrade)
#   TCP=1 ...                                                # loadgen -m tcp: no WebSocket, for the ceilings
#                                                            # (peers/tcp_echo.c; with TLS=1 peers/tls_echo.c)
# Needs valgrind and bench/echo/build/loadgen (bench/echo/run.sh builds it).
set -euo pipefail
bench_dir="$(cd "$(dirname "$0")" && pwd)"
loadgen="$bench_dir/build/loadgen"
[ -x "$loadgen" ] || cc -O2 -Wall -Wextra -std=c11 -o "$loadgen" "$bench_dir/loadgen.c" -lssl -lcrypto -lz
command -v valgrind >/dev/null || { echo "instructions.sh: valgrind is not installed" >&2; exit 1; }
[ $# -ge 1 ] || { sed -n '2,18p' "$0" >&2; exit 2; }
work=$(mktemp -d)
tls_server=() tls_loadgen=()
if [ -n "${TLS:-}" ]; then
    certs="$bench_dir/build/certs"
    sh "$bench_dir/../../Tests/Peers/make_test_certs.sh" "$certs" >/dev/null
    tls_server=(--tls-cert "$certs/chain.pem" --tls-key "$certs/server.key") tls_loadgen=(-S)
fi
server_pid=""
trap '[ -n "$server_pid" ] && kill "$server_pid" 2>/dev/null; rm -rf "$work"' EXIT

run() {  # run SECONDS -> "messages instructions"
    local sim=no; [ -n "${CACHE_SIM:-}" ] && sim=yes
    env ${LIBDIR:+LD_LIBRARY_PATH=$LIBDIR} valgrind --tool=cachegrind --cache-sim=$sim \
        --cachegrind-out-file="$work/cg.out" "$@" --host 127.0.0.1 --port 0 --no-compression ${tls_server[@]+"${tls_server[@]}"} \
        >"$work/server.log" 2>"$work/valgrind.log" &
    server_pid=$!
    local port=""
    for _ in $(seq 600); do
        # "listening on HOST:PORT" (swiftws-echo) or "listening on PORT" (examples/c/sws-echo-server)
        port=$(sed -n 's/^listening on \(.*:\)\{0,1\}\([0-9]*\)$/\2/p' "$work/server.log")
        [ -n "$port" ] && break
        sleep 0.1
    done
    [ -n "$port" ] || { echo "the server did not start: $(cat "$work/server.log" "$work/valgrind.log")" >&2; exit 1; }
    local line
    line=$(timeout $((seconds + 60)) "$loadgen" -p "$port" -c "${CONNS:-20}" -s "${SIZE:-32}" -k "${INFLIGHT:-1}" -d "$seconds" -w 0 $([ -n "${BINARY:-}${TCP:-}" ] || echo -t) ${TCP:+-m tcp} ${HANDSHAKE:+-m handshake} ${tls_loadgen[@]+"${tls_loadgen[@]}"})
    kill -INT "$server_pid"; wait "$server_pid" 2>/dev/null || true; server_pid=""
    # summary: Ir [I1mr ILmr Dr D1mr DLmr Dw D1mw DLmw] -> messages Ir I1-misses D1-misses LL-misses
    echo "$(tr ' ' '\n' <<<"$line" | sed -n 's/^total_messages=//p') $(awk '/^summary:/ {
        if (NF > 2) print $2, $3, $6 + $9, $4 + $7 + $10; else print $2, 0, 0, 0 }' "$work/cg.out")"
}
seconds="${SHORT:-1}"; run "$@" >"$work/short"
seconds="${LONG:-8}"; run "$@" >"$work/long"
paste "$work/short" "$work/long" | awk -v what="$*" -v sim="${CACHE_SIM:-}" '{
    m = $6 - $1
    printf "%s: %.0f instructions per echoed message (%d and %d messages; %.0f and %.0f instructions)\n",
           what, ($7 - $2) / m, $1, $6, $2, $7
    if (sim) printf "  per message: %.2f instruction-L1 misses, %.2f data-L1 misses, %.3f last-level misses\n",
                    ($8 - $3) / m, ($9 - $4) / m, ($10 - $5) / m }'
