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
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/install-deps.sh

echo "== swift build -c release"
swift build -c release
echo "== C library and examples (CMake)"
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build build

echo "== demo server"
exec .build/release/swiftws-demo --host "${HOST:-127.0.0.1}" --port "${PORT:-8080}" \
    ${DEMO_SECONDS:+--seconds "$DEMO_SECONDS"} \
    ${TLS_CERT:+--tls-cert "$TLS_CERT"} ${TLS_KEY:+--tls-key "$TLS_KEY"}
