#!/usr/bin/env bash
# Builds everything and runs the demo server, from a fresh clone:
#   - installs what it needs (scripts/install-deps.sh),
#   - builds the Swift products in release mode (library, swiftws-echo, swiftws-demo, benchmarks),
#   - builds libswiftws.so and the C examples through CMake (build/),
#   - runs swiftws-demo: a chat server whose browser page is served on the same port.
# PORT (default 8080) and HOST (default 127.0.0.1) choose where it listens; DEMO_SECONDS=N stops
# it after N seconds with a graceful shutdown (otherwise Ctrl-C stops it). TLS_CERT=chain.pem
# TLS_KEY=key.pem serve the page over https and the chat over wss (plain http without them). A
# certificate for a test: `sh Tests/Peers/make_test_certs.sh /tmp/certs` makes a CA (ca.pem, to
# trust in the browser) and /tmp/certs/chain.pem + server.key for localhost and 127.0.0.1.
# LOOPS=N serves on N threads. NODES=2 (issue 15) starts a redis-server on a free loopback port and
# two demo nodes, A on PORT and B on PORT+1, joined through it (one chat: open both pages); both
# and the redis-server stop together (Ctrl-C or DEMO_SECONDS).
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/install-deps.sh

echo "== swift build -c release"
swift build -c release
echo "== C library and examples (CMake)"
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build build

demo_flags=(--host "${HOST:-127.0.0.1}" ${DEMO_SECONDS:+--seconds "$DEMO_SECONDS"} --loops "${LOOPS:-1}"
            ${TLS_CERT:+--tls-cert "$TLS_CERT"} ${TLS_KEY:+--tls-key "$TLS_KEY"})
if [ "${NODES:-1}" = 2 ]; then
    echo "== redis-server and two demo nodes"
    redis_port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
    redis-server --bind 127.0.0.1 --port "$redis_port" --save "" --appendonly no --loglevel warning &
    redis_pid=$!
    port="${PORT:-8080}"
    .build/release/swiftws-demo "${demo_flags[@]}" --port "$port" --node A --redis "redis://127.0.0.1:$redis_port" &
    node_a=$!
    .build/release/swiftws-demo "${demo_flags[@]}" --port "$((port + 1))" --node B --redis "redis://127.0.0.1:$redis_port" &
    node_b=$!
    # Ctrl-C or the end of either node stops the other node and Redis (each node closes with 1001).
    trap 'kill "$node_a" "$node_b" 2>/dev/null; wait "$node_a" "$node_b" 2>/dev/null; kill "$redis_pid" 2>/dev/null' EXIT INT TERM
    wait -n "$node_a" "$node_b" || true
    exit 0
fi

echo "== demo server"
exec .build/release/swiftws-demo "${demo_flags[@]}" --port "${PORT:-8080}"
