#!/usr/bin/env bash
# The echo benchmark: SwiftWS's echo server and its peers under the same closed-loop load,
# side by side in one run, reported as a Markdown table with ratios to swiftws.
#
#   bash bench/echo/run.sh [-r reps] [-c conns] [-s size] [-k inflight] [-d seconds] [-w warmup]
#                          [-b] [-S servers] [-i] [-n] [-x] [-m echo|idle|handshake] [-z] [-W n]
#                          [-T title]
#
#   -r reps      repetitions per server; the table shows the median of each column (default 5)
#   -c conns     connections (default 100)          -s size      message bytes (default 32)
#   -k inflight  messages in flight per connection (default 1)
#   -d seconds   measured seconds per repetition (default 5)
#   -w seconds   warm-up seconds before each measurement (default 1)
#   -b           binary messages (default text)
#   -S servers   comma-separated subset, in order (default: tcp-echo,swiftws,swiftws-wss,websockets,
#                picows,node-ws,lws,nio); tcp-echo is a plain TCP echo server in C (no WebSocket:
#                the machine's ceiling for the same messages, loadgen -m tcp); swiftws-wss is
#                swiftws-echo over TLS 1.3 (loadgen -S, a test certificate made by
#                Tests/Peers/make_test_certs.sh); also swiftws-c: the C echo example over
#                libswiftws.so; swiftws-async / swiftws-async-loop: swiftws-echo --async /
#                --async-on-loop (the async Swift API, handler tasks on the thread pool or on the
#                loop thread); and swiftws-base: the swiftws-echo binary SWIFTWS_BASE_ECHO names
#                (an earlier build), for a before/after of a change side by side in one run;
#                swiftws-base-async / swiftws-base-async-loop: that binary with --async /
#                --async-on-loop (a before/after of the async API); swiftws-base-wss: that binary
#                over wss; tls-echo: a TLS echo server in C over the same OpenSSL (the ceiling of
#                wss, loadgen -m tcp -S); tcp-whole: plain TCP that echoes each message only once
#                it is whole (peers/tcp_whole.c), the ceiling of any server that delivers messages
#   -m mode      echo (default): round trips per second; idle: growth of the server's resident
#                memory per open, silent connection (-c of them; a fresh server per repetition);
#                handshake: upgrades per second (-c at a time: connect, upgrade, close, again)
#   -W n         -m idle: n warm-up connections (upgrade, -z: one message, close) before the
#                "before" reading, for every server (default 10; 0: the method before round 6,
#                which counted the server's one-time costs of a first connection per connection)
#   -z           permessage-deflate negotiated both ways, JSON text payloads (loadgen -z -J);
#                servers without compression are n/a; with -m idle also measured after one
#                message per connection
#   -T title     a heading for the table (bench/run-all.sh names its scenarios with it)
#   -i           interleave: start every server, then run repetition 1 of each, 2 of each, …
#   -n           install nothing (use what is on the machine)
#   -x           skip the load generator's self-test (bench/echo/loadgen_selftest.py, ~15 s)
#
# Method (why each step is there):
#   * every server runs pinned to CPU 0 and the load generator (bench/echo/loadgen.c, plain C on
#     epoll, no WebSocket library) to CPU 1, so the two never compete for one core;
#   * loadgen first proves on a scripted server that it measures a correct echo and refuses
#     wrong ones (bad handshake, corrupted, lost, duplicated echoes …);
#   * every server is built before any measurement, so no compilation overlaps one;
#   * a server is started once, waited for (`listening on HOST:PORT` on its stdout), loaded R
#     times, then stopped (with -i all servers run at once and take turns, repetition by
#     repetition); loadgen verifies every echo, so a wrong server cannot post a number;
#   * the medians resist the noise of this small shared machine; raw lines of every repetition
#     stay in bench/echo/build/logs/ for a second look.
# A server that cannot be had here (not built yet, a package missing) is listed as n/a with the
# reason. A server that was started but failed the load (wrong echo, dropped connection) is listed
# as FAILED and makes the script exit with status 1 after the table. Everything stays on
# 127.0.0.1 and is bounded in time; every process started is stopped on exit.
set -euo pipefail

bench_dir="$(cd "$(dirname "$0")" && pwd)"
repo_dir="$(cd "$bench_dir/../.." && pwd)"
build_dir="$bench_dir/build"
log_dir="$build_dir/logs"

reps=5 conns=100 size=32 inflight=1 seconds=5 warmup=1 mode_flag="-t" install=1 selftest=1 interleave=0
mode=echo deflate=0 title="" idle_warm_up=10
servers="tcp-echo,swiftws,swiftws-wss,websockets,picows,node-ws,lws,nio"
while getopts "r:c:s:k:d:w:bS:inxm:zW:T:h" opt; do
    case "$opt" in
    r) reps="$OPTARG" ;;      c) conns="$OPTARG" ;;    s) size="$OPTARG" ;;
    k) inflight="$OPTARG" ;;  d) seconds="$OPTARG" ;;  w) warmup="$OPTARG" ;;
    b) mode_flag="" ;;        S) servers="$OPTARG" ;;  n) install=0 ;;
    x) selftest=0 ;;          i) interleave=1 ;;       m) mode="$OPTARG" ;;
    z) deflate=1 ;;           T) title="$OPTARG" ;;    W) idle_warm_up="$OPTARG" ;;
    *) sed -n '2,36p' "$0" >&2; exit 2 ;;
    esac
done
[[ "$reps" =~ ^[1-9][0-9]*$ ]] || { echo "run.sh: -r must be a positive integer" >&2; exit 2; }
[[ "$idle_warm_up" =~ ^[0-9]+$ ]] || { echo "run.sh: -W must be a non-negative integer" >&2; exit 2; }
case "$mode" in echo | idle | handshake) ;; *) echo "run.sh: -m must be echo, idle or handshake" >&2; exit 2 ;; esac
# What loadgen is asked for besides the load shape: the mode, and compression with JSON text.
mode_args=()
[ "$mode" = echo ] || mode_args+=(-m "$mode")
[ "$mode" = idle ] && mode_args+=(-W "$idle_warm_up")
[ "$deflate" = 1 ] && mode_args+=(-z -J) && mode_flag="-t"
# The server flag that turns permessage-deflate on (or off) for each peer, by -z.
compression_arg() {  # compression_arg ON-FLAG OFF-FLAG — prints the one that applies (may be empty)
    if [ "$deflate" = 1 ]; then echo "$1"; else echo "$2"; fi
}

say() { echo "run.sh: $*" >&2; }

# ------------------------------------------------------------------------------------------------
# Cleanup: every server this script starts is recorded here and stopped on any exit.
# ------------------------------------------------------------------------------------------------
declare -A server_pid=()
stop_server() {  # stop_server NAME — TERM, then KILL after 2 s
    local pid="${server_pid[$1]:-}"
    [ -n "$pid" ] || return 0
    if kill -0 "$pid" 2>/dev/null; then
        kill -TERM "$pid" 2>/dev/null || true
        for _ in $(seq 20); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
        kill -KILL "$pid" 2>/dev/null || true
    fi
    wait "$pid" 2>/dev/null || true
    unset "server_pid[$1]"
}
stop_all_servers() {
    local name
    for name in "${!server_pid[@]}"; do stop_server "$name"; done
}
trap 'stop_all_servers' EXIT
trap 'stop_all_servers; exit 130' INT TERM

# ------------------------------------------------------------------------------------------------
# Dependencies: the project's own install script (Debian packages + .venv with `websockets`), then
# what only the benchmark needs. A failure here makes the affected peers n/a, not the run.
# ------------------------------------------------------------------------------------------------
apt_install() {  # apt_install PACKAGE... — installs the missing ones; returns non-zero on failure
    local missing=()
    for package in "$@"; do
        dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" || missing+=("$package")
    done
    [ ${#missing[@]} -eq 0 ] && return 0
    local sudo=""; [ "$(id -u)" -ne 0 ] && sudo="sudo"
    say "installing ${missing[*]}"
    $sudo apt-get update -qq >/dev/null 2>&1 || true
    DEBIAN_FRONTEND=noninteractive $sudo apt-get -o DPkg::Lock::Timeout=300 install -y -qq \
        --no-install-recommends "${missing[@]}" >/dev/null
}

if [ "$install" = 1 ]; then
    apt_install gcc libc6-dev libssl-dev pkg-config util-linux coreutils \
        || say "could not install the load generator's build tools"
    (cd "$repo_dir" && bash scripts/install-deps.sh) || say "scripts/install-deps.sh failed"
    apt_install nodejs node-ws || say "could not install Node ws"
    apt_install libwebsockets-dev || say "could not install libwebsockets-dev"
    if [ -x "$repo_dir/.venv/bin/pip" ]; then
        "$repo_dir/.venv/bin/pip" install -q --disable-pip-version-check picows \
            || say "could not install picows"
    fi
fi

rm -rf "$log_dir"  # the logs describe this run only
mkdir -p "$build_dir" "$log_dir"
say "building the load generator"
cc -O2 -Wall -Wextra -std=c11 -o "$build_dir/loadgen" "$bench_dir/loadgen.c" -lssl -lcrypto -lz
if [ "$selftest" = 1 ]; then
    say "self-testing the load generator"
    if ! python3 "$bench_dir/loadgen_selftest.py" "$build_dir/loadgen" >"$log_dir/selftest.log" 2>&1; then
        cat "$log_dir/selftest.log" >&2
        say "the load generator failed its self-test: no numbers from it can be trusted"
        exit 1
    fi
    say "$(tail -n1 "$log_dir/selftest.log")"
fi

# CPU pinning: server on CPU 0, load on CPU 1 (only when the machine has both).
if command -v taskset >/dev/null && [ "$(nproc --all)" -ge 2 ]; then
    pin_server=(taskset -c 0) pin_load=(taskset -c 1)
else
    say "fewer than 2 CPUs or no taskset: running unpinned"
    pin_server=() pin_load=()
fi

# ------------------------------------------------------------------------------------------------
# Servers. prepare_NAME sets `server_cmd` (an array; PORT is substituted at start) and `version`
# (what was measured, for the table), or sets `unavailable` to the reason it cannot run here.
# ------------------------------------------------------------------------------------------------
server_cmd=() unavailable="" version=""
venv_python="$repo_dir/.venv/bin/python"

prepare_swiftws() {
    # SWIFTWS_ECHO=/path/to/swiftws-echo skips the build (for example to compare two builds).
    local binary="${SWIFTWS_ECHO:-}"
    if [ -z "$binary" ]; then
        if ! (cd "$repo_dir" && swift build -c release --product swiftws-echo) \
            >"$log_dir/build-swiftws.log" 2>&1; then
            unavailable="swiftws-echo does not build yet: $(grep -m1 -i 'error' "$log_dir/build-swiftws.log" | cut -c1-100)"
            return
        fi
        binary="$(cd "$repo_dir" && swift build -c release --show-bin-path)/swiftws-echo"
    fi
    [ -x "$binary" ] || { unavailable="no executable at $binary"; return; }
    if [ -n "${SWIFTWS_ECHO:-}" ]; then
        version="$SWIFTWS_ECHO"
    else
        version="commit $(git -C "$repo_dir" rev-parse --short HEAD 2>/dev/null || echo '?')"
        git -C "$repo_dir" diff --quiet HEAD 2>/dev/null || version+=" + local changes"
    fi
    server_cmd=("$binary" --host 127.0.0.1 --port PORT)
    [ "$deflate" = 1 ] || server_cmd+=(--no-compression)
}

# An earlier build of swiftws-echo (SWIFTWS_BASE_ECHO=path), next to the current one: the
# before/after of a change measured in one run, as bench/README.md records them.
prepare_swiftws-base() {
    local binary="${SWIFTWS_BASE_ECHO:-}"
    [ -n "$binary" ] || { unavailable="set SWIFTWS_BASE_ECHO to an earlier swiftws-echo"; return; }
    [ -x "$binary" ] || { unavailable="no executable at $binary"; return; }
    version="baseline $binary"
    server_cmd=("$binary" --host 127.0.0.1 --port PORT)
    [ "$deflate" = 1 ] || server_cmd+=(--no-compression)
}

# The baseline binary on the async API, for a before/after of a change to it in one run.
prepare_swiftws-base-async() {
    prepare_swiftws-base
    [ -z "$unavailable" ] || return
    server_cmd+=(--async)
    version+=", async API"
}
prepare_swiftws-base-async-loop() {
    prepare_swiftws-base
    [ -z "$unavailable" ] || return
    server_cmd+=(--async-on-loop)
    version+=", async API, handlers on the loop"
}

# The ceiling: a plain TCP echo server in C (peers/tcp_echo.c) under the same messages, loadgen
# -m tcp (no handshake, no frames). Only for echo loads: it has no upgrade and no compression.
prepare_tcp-echo() {
    [ "$mode" = echo ] || { unavailable="plain TCP: no upgrade to measure"; return; }
    [ "$deflate" = 0 ] || { unavailable="plain TCP: no compression"; return; }
    if ! cc -O2 -Wall -Wextra -std=c11 -o "$build_dir/tcp_echo" "$bench_dir/peers/tcp_echo.c" \
        >"$log_dir/build-tcp-echo.log" 2>&1; then
        unavailable="tcp_echo.c does not build (see $log_dir/build-tcp-echo.log)"
        return
    fi
    version="plain TCP echo (C, epoll)"
    server_cmd=("$build_dir/tcp_echo" --host 127.0.0.1 --port PORT)
}

prepare_swiftws-c() {
    # The C echo example (examples/c/echo_server.c) over libswiftws.so as CMake builds and installs
    # it for C and Python users (static Swift runtime, size-reduced link), where swiftws-echo links
    # the Swift modules into the executable. SWIFTWS_C_ECHO=/path/to/sws-echo-server skips the
    # build; SWIFTWS_C_LIBRARY_DIR=DIR loads the libswiftws.so.* in DIR instead of the one the
    # binary was linked with (LD_LIBRARY_PATH), to compare two builds of the library.
    local binary="${SWIFTWS_C_ECHO:-}"
    if [ -z "$binary" ]; then
        local cmake_dir="$build_dir/cmake-release"
        if ! { cmake -S "$repo_dir" -B "$cmake_dir" -G Ninja -DCMAKE_BUILD_TYPE=Release -DBUILD_TESTING=OFF \
                && cmake --build "$cmake_dir" --target echo_server; } >"$log_dir/build-swiftws-c.log" 2>&1; then
            unavailable="the C echo example does not build (see $log_dir/build-swiftws-c.log)"
            return
        fi
        binary="$cmake_dir/examples/c/sws-echo-server"
    fi
    [ -x "$binary" ] || { unavailable="no executable at $binary"; return; }
    version="C API, ${SWIFTWS_C_ECHO:-commit $(git -C "$repo_dir" rev-parse --short HEAD 2>/dev/null || echo '?')}"
    server_cmd=("$binary" --host 127.0.0.1 --port PORT)
    [ "$deflate" = 1 ] || server_cmd+=(--no-compression)
    if [ -n "${SWIFTWS_C_LIBRARY_DIR:-}" ]; then
        version+=", library from $SWIFTWS_C_LIBRARY_DIR"
        server_cmd=(env "LD_LIBRARY_PATH=$SWIFTWS_C_LIBRARY_DIR" "${server_cmd[@]}")
    fi
}
# A test certificate for the TLS rows: appends --tls-cert/--tls-key to server_cmd.
add_test_certificate() {
    local certs="$build_dir/certs"
    if ! sh "$repo_dir/Tests/Peers/make_test_certs.sh" "$certs" >"$log_dir/certs.log" 2>&1; then
        unavailable="cannot make a test certificate (openssl CLI): $(tail -n1 "$log_dir/certs.log" | cut -c1-80)"
        return
    fi
    server_cmd+=(--tls-cert "$certs/chain.pem" --tls-key "$certs/server.key")
}

# The ceiling of a message server: plain TCP that echoes each message only once it is whole
# (peers/tcp_whole.c), as a WebSocket server must; loadgen -m tcp.
prepare_tcp-whole() {
    prepare_tcp-echo
    [ -z "$unavailable" ] || return
    if ! cc -O2 -Wall -Wextra -std=c11 -o "$build_dir/tcp_whole" "$bench_dir/peers/tcp_whole.c" \
        >"$log_dir/build-tcp-whole.log" 2>&1; then
        unavailable="tcp_whole.c does not build (see $log_dir/build-tcp-whole.log)"
        return
    fi
    version="plain TCP echo of whole messages (C, epoll)"
    server_cmd=("$build_dir/tcp_whole" --host 127.0.0.1 --port PORT --size "$size")
}

# swiftws-echo over wss: the same binary with a certificate; loadgen speaks TLS (-S).
prepare_swiftws-wss() {
    prepare_swiftws
    [ -z "$unavailable" ] || return
    add_test_certificate
    version+=", wss (TLS)"
}

# The SWIFTWS_BASE_ECHO binary over wss, for a before/after of a TLS change in one run.
prepare_swiftws-base-wss() {
    prepare_swiftws-base
    [ -z "$unavailable" ] || return
    add_test_certificate
    version+=", wss (TLS)"
}

# The ceiling of wss: a TLS echo server in C over the same OpenSSL (peers/tls_echo.c), loadgen
# -m tcp -S. Its CPU per message minus tcp-echo's is what OpenSSL alone adds to an echo.
prepare_tls-echo() {
    prepare_tcp-echo
    [ -z "$unavailable" ] || return
    if ! cc -O2 -Wall -Wextra -std=c11 -o "$build_dir/tls_echo" "$bench_dir/peers/tls_echo.c" -lssl -lcrypto \
        >"$log_dir/build-tls-echo.log" 2>&1; then
        unavailable="tls_echo.c does not build (see $log_dir/build-tls-echo.log)"
        return
    fi
    version="TLS echo (C, epoll, OpenSSL $(openssl version | cut -d' ' -f2))"
    server_cmd=("$build_dir/tls_echo" --host 127.0.0.1 --port PORT)
    add_test_certificate
}
declare -A loadgen_flags=([swiftws-wss]="-S" [swiftws-base-wss]="-S" [tcp-echo]="-m tcp" [tcp-whole]="-m tcp" [tls-echo]="-m tcp -S")

# swiftws-echo --async: the same binary serving through the async Swift API (AsyncWebSocketServer,
# a task per connection awaiting messages and sends), next to the callback API it is built on.
prepare_swiftws-async() {
    prepare_swiftws
    [ -z "$unavailable" ] || return
    server_cmd+=(--async)
    version+=", async API"
}
# The same with the handler tasks on the loop thread (AsyncSocketOptions.runsHandlersOnLoop).
prepare_swiftws-async-loop() {
    prepare_swiftws
    [ -z "$unavailable" ] || return
    server_cmd+=(--async-on-loop)
    version+=", async API, handlers on the loop"
}

prepare_websockets() {
    "$venv_python" -c "import websockets" 2>/dev/null \
        || { unavailable="Python websockets is not installed in .venv"; return; }
    version="websockets $("$venv_python" -c 'import websockets; print(websockets.__version__)')"
    server_cmd=("$venv_python" "$bench_dir/peers/websockets_echo.py" --port PORT $(compression_arg --deflate ""))
}

prepare_picows() {
    [ "$deflate" = 0 ] || { unavailable="picows has no permessage-deflate"; return; }
    "$venv_python" -c "import picows" 2>/dev/null \
        || { unavailable="picows is not installed in .venv"; return; }
    version="picows $("$venv_python" -c 'import picows; print(picows.__version__)')"
    server_cmd=("$venv_python" "$bench_dir/peers/picows_echo.py" --port PORT)
}

prepare_node-ws() {
    command -v node >/dev/null || { unavailable="node is not installed"; return; }
    NODE_PATH=/usr/share/nodejs node -e "require('ws')" 2>/dev/null \
        || { unavailable="Node ws (Debian node-ws) is not installed"; return; }
    version="ws $(NODE_PATH=/usr/share/nodejs node -p "require('ws/package.json').version"), node $(node --version)"
    server_cmd=(env NODE_PATH=/usr/share/nodejs node "$bench_dir/peers/node_ws_echo.js" --port PORT $(compression_arg --deflate ""))
}

prepare_lws() {
    local source="$bench_dir/peers/lws_echo.c"
    [ -f "$source" ] || { unavailable="no libwebsockets peer in this tree"; return; }
    pkg-config --exists libwebsockets 2>/dev/null \
        || { unavailable="libwebsockets-dev is not installed"; return; }
    # shellcheck disable=SC2046  # pkg-config prints several words on purpose
    if ! cc -O2 -Wall -Wextra -std=c11 -o "$build_dir/lws_echo" "$source" \
        $(pkg-config --cflags --libs libwebsockets) >"$log_dir/build-lws.log" 2>&1; then
        unavailable="lws_echo.c does not build (see $log_dir/build-lws.log)"
        return
    fi
    version="libwebsockets $(pkg-config --modversion libwebsockets)"
    server_cmd=("$build_dir/lws_echo" --port PORT $(compression_arg --deflate ""))
}

prepare_nio() {
    [ "$deflate" = 0 ] || { unavailable="WebSocketKit has no permessage-deflate"; return; }
    local package="$bench_dir/peers/nio"
    [ -f "$package/Package.swift" ] || { unavailable="no SwiftNIO peer in this tree"; return; }
    # Its own build folder, so it never disturbs the library's .build/.
    if ! swift build -c release --package-path "$package" --scratch-path "$build_dir/nio" \
        >"$log_dir/build-nio.log" 2>&1; then
        unavailable="the SwiftNIO peer does not build (see $log_dir/build-nio.log)"
        return
    fi
    version="$(python3 -c 'import json, sys
pins = {p["identity"]: p["state"].get("version") for p in json.load(open(sys.argv[1]))["pins"]}
print("websocket-kit", pins.get("websocket-kit"), "swift-nio", pins.get("swift-nio"))' \
        "$package/Package.resolved" 2>/dev/null || echo "websocket-kit (version unknown)")"
    server_cmd=("$(swift build -c release --package-path "$package" --scratch-path "$build_dir/nio" \
        --show-bin-path)/nio-echo" --port PORT)
}

# ------------------------------------------------------------------------------------------------
# Measuring
# ------------------------------------------------------------------------------------------------
free_port() {  # a port the kernel considers free now (the server binds it a moment later)
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

median() {  # median of the numbers on stdin (mean of the middle two for an even count)
    sort -g | awk '{ v[NR] = $1 } END { if (NR == 0) exit 1;
        if (NR % 2) print v[(NR + 1) / 2]; else printf "%.0f\n", (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}

field() {  # field NAME < loadgen line — the value of NAME=value
    tr ' ' '\n' | sed -n "s/^$1=//p"
}

clock_ticks="$(getconf CLK_TCK)"
cpu_ticks() {  # cpu_ticks PID — user + system time of the process, all threads, in clock ticks
    # Fields 14 and 15 of /proc/PID/stat; cut after the ")" that ends the command name first.
    sed 's/.*) //' "/proc/$1/stat" 2>/dev/null | awk '{ print $12 + $13 }'
}

# Per server: status is ok | n/a | FAILED; rates/p50s/p99s collect one value per repetition.
declare -A result_status result_note result_version command_line server_port rates p50s p99s efficiency server_cpu
declare -A loadgen_bound=() idle_bytes=() idle_bytes_after=()
any_failed=0

start_server() {  # start_server NAME — starts it on CPU 0 and waits until it listens
    local name="$1" port; port="$(free_port)"
    local cmd; eval "cmd=(${command_line[$name]})"
    cmd=("${cmd[@]/PORT/$port}")
    local server_log="$log_dir/$name.server.log"
    : >"$server_log"
    say "$name: starting ${cmd[*]}"
    "${pin_server[@]}" "${cmd[@]}" >"$server_log" 2>&1 &
    server_pid[$name]=$!
    server_port[$name]=$port
    # Ready when it says so; give up after 30 s or when it dies first.
    for _ in $(seq 300); do
        grep -q "^listening on " "$server_log" && return 0
        kill -0 "${server_pid[$name]}" 2>/dev/null || break
        sleep 0.1
    done
    result_status[$name]="n/a"
    result_note[$name]="did not start: $(tail -n1 "$server_log" | cut -c1-100)"
    say "$name: ${result_note[$name]}"
    stop_server "$name"
    return 1
}

run_repetition() {  # run_repetition NAME REP — one loadgen run; marks the server FAILED on error
    local name="$1" rep="$2" line
    # loadgen ends by itself (connect <= 10 s, warm-up + duration, close <= 2 s); `timeout` is
    # the second fence in case a bug makes it hang.
    local limit; limit="$(awk -v w="$warmup" -v d="$seconds" 'BEGIN { printf "%d", w + d + 25 }')"
    local loadgen_log="$log_dir/$name.loadgen.log"
    local ticks_before; ticks_before="$(cpu_ticks "${server_pid[$name]}")"
    local started_ns; started_ns="$(date +%s%N)"
    # The server's own flags come last: tcp-echo's `-m tcp` replaces the mode.
    local extra=("${mode_args[@]}")
    [ "$mode" = idle ] && extra+=(-P "${server_pid[$name]}")
    # shellcheck disable=SC2086  # mode_flag is empty or one word
    if ! line="$(timeout "$limit" "${pin_load[@]}" "$build_dir/loadgen" -p "${server_port[$name]}" \
        -c "$conns" -s "$size" -k "$inflight" -d "$seconds" -w "$warmup" $mode_flag "${extra[@]}" \
        ${loadgen_flags[$name]:-} 2>>"$loadgen_log")"; then
        result_status[$name]="FAILED"
        result_note[$name]="repetition $rep: $(tail -n1 "$loadgen_log" | sed 's/^loadgen: error: //' | cut -c1-120)"
        say "$name: ${result_note[$name]}"
        any_failed=1
        stop_server "$name"
        return
    fi
    local ticks_after; ticks_after="$(cpu_ticks "${server_pid[$name]}")"
    if [ "$mode" = idle ]; then  # memory, not speed: bytes per connection (and after a message)
        echo "$line" >>"$loadgen_log"
        say "$name #$rep: $line"
        idle_bytes[$name]+="$(field bytes_per_connection <<<"$line") "
        idle_bytes_after[$name]+="$(field bytes_per_connection_after_message <<<"$line") "
        return
    fi
    local wall_s; wall_s="$(awk -v a="$started_ns" -v b="$(date +%s%N)" 'BEGIN { print (b - a) / 1e9 }')"
    # Server efficiency: round trips (warm-up included) per second of CPU the server used during
    # this loadgen run. Much steadier than msgs/s when other work shares the machine.
    local cpu_s; cpu_s="$(awk -v t=$((ticks_after - ticks_before)) -v hz="$clock_ticks" 'BEGIN { print t / hz }')"
    local total; total="$(field total_messages <<<"$line")"
    line+=" server_cpu_s=$cpu_s server_cpu_pct=$(awk -v c="$cpu_s" -v w="$wall_s" 'BEGIN { printf "%.0f", 100 * c / w }')"
    echo "$line" >>"$loadgen_log"
    say "$name #$rep: $line"
    efficiency[$name]+="$(awk -v n="$total" -v c="$cpu_s" 'BEGIN { printf "%.0f", (c > 0 ? n / c : 0) }') "
    server_cpu[$name]+="$(field server_cpu_pct <<<"$line") "
    if [ "$(field loadgen_cpu_pct <<<"$line")" -ge 85 ]; then loadgen_bound[$name]=1; fi
    rates[$name]+="$(field messages_per_sec <<<"$line") "
    p50s[$name]+="$(field p50_us <<<"$line") "
    p99s[$name]+="$(field p99_us <<<"$line") "
}

load_at_start="$(cut -d' ' -f1-3 /proc/loadavg)"
IFS=',' read -r -a server_list <<<"$servers"
for name in "${server_list[@]}"; do
    if ! declare -F "prepare_$name" >/dev/null; then
        echo "run.sh: unknown server '$name' (known: tcp-echo,tcp-whole,tls-echo,swiftws,swiftws-wss,swiftws-c,swiftws-async,swiftws-async-loop,swiftws-base,swiftws-base-wss,swiftws-base-async,swiftws-base-async-loop,websockets,picows,node-ws,lws,nio)" >&2
        exit 2
    fi
done

# Builds first, so that no compilation overlaps a measurement.
available=()
for name in "${server_list[@]}"; do
    server_cmd=() unavailable="" version=""
    "prepare_$name"
    result_version[$name]="$version"
    if [ -n "$unavailable" ]; then
        result_status[$name]="n/a" result_note[$name]="$unavailable"
        say "$name: n/a ($unavailable)"
    else
        command_line[$name]="$(printf '%q ' "${server_cmd[@]}")"
        result_status[$name]="ok"
        available+=("$name")
    fi
done

if [ "$mode" = idle ]; then
    # Every repetition on a fresh server: memory a previous run freed would be reused by the
    # next and hide the growth.
    for name in "${available[@]}"; do
        for rep in $(seq "$reps"); do
            [ "${result_status[$name]}" = ok ] || break
            start_server "$name" || break
            run_repetition "$name" "$rep"
            stop_server "$name"
        done
    done
elif [ "$interleave" = 1 ]; then
    # All servers listen at once (idle ones cost nothing) and take turns, repetition by
    # repetition, so that a burst of outside load is shared by all instead of hitting one.
    running=()
    for name in "${available[@]}"; do
        if start_server "$name"; then running+=("$name"); fi
    done
    for rep in $(seq "$reps"); do
        for name in "${running[@]}"; do
            if [ "${result_status[$name]}" = ok ]; then run_repetition "$name" "$rep"; fi
        done
    done
    for name in "${running[@]}"; do stop_server "$name"; done
else
    for name in "${available[@]}"; do
        start_server "$name" || continue
        for rep in $(seq "$reps"); do
            if [ "${result_status[$name]}" = ok ]; then run_repetition "$name" "$rep"; fi
        done
        stop_server "$name"
    done
fi

for name in "${available[@]}"; do
    if [ "${result_status[$name]}" = ok ] && [ "$mode" = idle ]; then
        result_note[$name]="bytes per connection ${idle_bytes[$name]% }"
        [ -n "${idle_bytes_after[$name]// /}" ] && result_note[$name]+="; after one message ${idle_bytes_after[$name]% }"
        idle_bytes[$name]="$(tr ' ' '\n' <<<"${idle_bytes[$name]}" | grep . | median)"
        idle_bytes_after[$name]="$(tr ' ' '\n' <<<"${idle_bytes_after[$name]}" | grep . | median || true)"
    elif [ "${result_status[$name]}" = ok ]; then
        result_note[$name]="server CPU % ${server_cpu[$name]% }; msgs/s ${rates[$name]% }"
        if [ -n "${loadgen_bound[$name]:-}" ]; then
            result_note[$name]+="; loadgen used >= 85 % of its core: the load generator may be the limit"
        fi
        efficiency[$name]="$(tr ' ' '\n' <<<"${efficiency[$name]}" | grep . | median)"
        rates[$name]="$(tr ' ' '\n' <<<"${rates[$name]}" | grep . | median)"
        p50s[$name]="$(tr ' ' '\n' <<<"${p50s[$name]}" | grep . | median)"
        p99s[$name]="$(tr ' ' '\n' <<<"${p99s[$name]}" | grep . | median)"
    fi
done

# ------------------------------------------------------------------------------------------------
# Report
# ------------------------------------------------------------------------------------------------
report="$build_dir/report.md"
summary="$build_dir/summary.tsv"  # one line per server, for bench/run-all.sh's summary table
ratio_to() {  # ratio_to VALUE BASE
    if [ -n "$2" ] && [ -n "$1" ]; then awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f×", (b > 0 ? a / b : 0) }'; else echo "n/a"; fi
}
describe_load() {
    local kind; kind="$([ -n "$mode_flag" ] && echo text || echo binary)"
    [ "$deflate" = 1 ] && kind="JSON text, permessage-deflate both ways,"
    case "$mode" in
    idle) echo "$conns idle connections (upgraded, then silent$([ "$deflate" = 1 ] && echo "; then one $size-byte $kind message each")), a fresh server per run, $idle_warm_up warm-up connections before the first reading, median of $reps runs" ;;
    handshake) echo "$conns upgrades at a time (connect, upgrade, close handshake, again), ${warmup} s warm-up + ${seconds} s measured, median of $reps runs" ;;
    *) echo "$conns connections × $inflight in flight, $size-byte $kind messages, ${warmup} s warm-up + ${seconds} s measured, median of $reps runs ($([ "$interleave" = 1 ] && echo "interleaved" || echo "server after server"))" ;;
    esac
}
{
    echo "### ${title:-Echo benchmark}, $(date -u '+%Y-%m-%d %H:%M UTC')"
    echo
    echo "Load: $(describe_load);" \
        "server on CPU 0, loadgen on CPU 1. Machine: $(nproc --all) CPUs," \
        "$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n1), Linux $(uname -r)," \
        "load average $load_at_start before the run."
    if awk -v l="${load_at_start%% *}" -v n="$(nproc --all)" 'BEGIN { exit !(l > n / 2) }'; then
        echo
        echo "**Busy machine**: other work was running (load average ${load_at_start%% *} on $(nproc --all) CPUs)," \
            "so the servers did not get CPU 0 to themselves (see their CPU %). Compare ratios, and" \
            "prefer the msgs per server CPU-s columns; absolute msgs/s are depressed."
    fi
    echo
    printf '#\t%s\t%s\t%s\n' "$mode" "$size" "$deflate" >"$summary"  # the load, for the summary's units
    if [ "$mode" = idle ]; then
        base_bytes="${idle_bytes[swiftws]:-}"
        echo "| server | bytes of server RSS per idle connection (median) | ratio to swiftws | after one message | version | notes (per run) |"
        echo "|---|---:|---:|---:|---|---|"
        for name in "${server_list[@]}"; do
            if [ "${result_status[$name]}" = ok ]; then
                echo "| $name | ${idle_bytes[$name]} | $(ratio_to "${idle_bytes[$name]}" "$base_bytes") | ${idle_bytes_after[$name]:-} | ${result_version[$name]} | ${result_note[$name]} |"
                printf '%s\t%s\t%s\t%s\n' "$name" ok "${idle_bytes[$name]}" "${idle_bytes_after[$name]:-}" >>"$summary"
            else
                echo "| $name | ${result_status[$name]} | | | ${result_version[$name]} | ${result_note[$name]} |"
                printf '%s\t%s\t\t\n' "$name" "${result_status[$name]}" >>"$summary"
            fi
        done
    else
        unit="msgs/s"; [ "$mode" = handshake ] && unit="upgrades/s"
        echo "| server | $unit (median) | payload MB/s | p50 µs | p99 µs | ratio to swiftws | $unit per server CPU-s | ratio to swiftws | version | notes (per run) |"
        echo "|---|---:|---:|---:|---:|---:|---:|---:|---|---|"
        base_rate="" base_efficiency=""
        if [ "${result_status[swiftws]:-}" = ok ]; then
            base_rate="${rates[swiftws]}" base_efficiency="${efficiency[swiftws]}"
        fi
        for name in "${server_list[@]}"; do
            if [ "${result_status[$name]}" = ok ]; then
                megabytes="$(awk -v r="${rates[$name]}" -v s="$size" -v m="$mode" 'BEGIN { if (m == "handshake") print ""; else printf "%.1f", r * s / 1e6 }')"
                echo "| $name | ${rates[$name]} | $megabytes | ${p50s[$name]} | ${p99s[$name]} | $(ratio_to "${rates[$name]}" "$base_rate")" \
                    "| ${efficiency[$name]} | $(ratio_to "${efficiency[$name]}" "$base_efficiency")" \
                    "| ${result_version[$name]} | ${result_note[$name]} |"
                printf '%s\t%s\t%s\t%s\t%s\n' "$name" ok "${rates[$name]}" "${efficiency[$name]}" "${loadgen_bound[$name]:-0}" >>"$summary"
            else
                echo "| $name | ${result_status[$name]} | | | | | | | ${result_version[$name]} | ${result_note[$name]} |"
                printf '%s\t%s\t\t\t\n' "$name" "${result_status[$name]}" >>"$summary"
            fi
        done
        if [ "${result_status[tcp-echo]:-}" = ok ] && [ -n "$base_rate" ]; then
            echo
            echo "swiftws reaches $(ratio_to "$base_rate" "${rates[tcp-echo]}") of the plain TCP ceiling in msgs/s" \
                "and $(ratio_to "$base_efficiency" "${efficiency[tcp-echo]}") of it in msgs per server CPU-s."
        fi
        if [ "${result_status[tcp-whole]:-}" = ok ] && [ -n "$base_rate" ]; then
            echo
            echo "swiftws reaches $(ratio_to "$base_efficiency" "${efficiency[tcp-whole]}") of the whole-message TCP ceiling (tcp-whole) in msgs per server CPU-s."
        fi
        # What OpenSSL alone adds per message (tls-echo − tcp-echo, CPU µs) bounds every wss
        # server: the best swiftws-wss can reach against swiftws is ws ÷ (ws + that).
        if [ "${result_status[tcp-echo]:-}" = ok ] && [ "${result_status[tls-echo]:-}" = ok ] \
            && [ -n "${efficiency[swiftws]:-}" ]; then
            echo
            awk -v ws="${efficiency[swiftws]}" -v tcp="${efficiency[tcp-echo]}" -v tls="${efficiency[tls-echo]}" \
                -v wss="${efficiency[swiftws-wss]:-0}" 'BEGIN {
                ws_us = 1e6 / ws; extra = 1e6 / tls - 1e6 / tcp
                printf "Server CPU per message: tcp-echo %.2f µs, tls-echo %.2f µs (TLS alone adds %.2f µs), swiftws %.2f µs", 1e6 / tcp, 1e6 / tls, extra, ws_us
                if (wss > 0) printf ", swiftws-wss %.2f µs (%.2fx swiftws per CPU)", 1e6 / wss, wss / ws
                printf ". Best wss/ws per CPU with this OpenSSL: %.2fx (swiftws + what TLS alone adds).\n", ws_us / (ws_us + extra) }'
        fi
    fi
    if [ "${#loadgen_bound[@]}" -gt 0 ]; then
        echo
        echo "**Load generator near its limit** (≥ 85 % of its core) for: ${!loadgen_bound[*]}." \
            "There msgs/s may measure loadgen, not the server: rank those by msgs per server CPU-s."
    fi
} | tee "$report"
say "table saved to $report; raw lines in $log_dir/"
exit "$any_failed"
