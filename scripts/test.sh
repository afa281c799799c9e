#!/usr/bin/env bash
# The test suite, from a fresh clone: installs what it needs, then runs every layer's tests.
#
#   bash scripts/test.sh          the full run (what .ci/run and the README's test command run):
#     swift test   — protocol core, transport, endpoints, Swift API (Swift Testing); the multi-loop
#                    and Redis bridge suites again under ThreadSanitizer
#     architecture — docs/ARCHITECTURE.md against Package.swift (Tests/Architecture)
#     docc         — the Swift API's documentation (swift-docc-plugin), warnings as errors
#     loadgen      — the benchmark's load generator against a scripted server
#     fuzz         — each libFuzzer target briefly (FUZZ_SECONDS, default 20 s each)
#     ctest        — C API tests, then again under address and undefined-behaviour sanitizers
#     pytest       — Python bindings, conformance cases in both roles, examples/swift and the
#                    README's Swift snippet against Python websockets, the demo page in
#                    headless Chromium, hostile peers
#
#   bash scripts/test.sh quick    the quick tier, under two minutes with a warm build: swift build,
#     the core, transport and fast endpoints suites, the async API, the architecture check and the
#     Python binding's tests (against the debug libswiftws.so `swift build` made, so no release
#     rebuild is needed). Left to the full run: interop with real peers, the 1,000-client scale
#     test, the echo executable, the 8 MiB deflate round trips, CTest, ASan, the demo and the
#     hostile peers. FUZZ_SECONDS=N adds each fuzz target for N seconds (off by default here).
set -euo pipefail
cd "$(dirname "$0")/.."

mode="${1:-full}"
case "$mode" in
    quick|full) ;;
    *) echo "usage: bash scripts/test.sh [quick|full]" >&2; exit 2 ;;
esac
started=$SECONDS

bash scripts/install-deps.sh

echo "== swift build"
swift build --build-tests

if [ "$mode" = quick ]; then
    echo "== swift test (quick: core, transport, fast endpoints suites, async API)"
    swift test --skip-build \
        --filter 'SwiftWSCoreTests\.|SwiftWSTransportTests\.|SwiftWSEndpointsTests\.' \
        --skip 'InteropTests|ScaleTests|EchoExecutableTests|DeflateCodecTests/roundTrip\(|MultiLoopTests/thousandClients'
    # The async API's tests run on their own: they need the cooperative thread pool (two threads
    # on two cores), which the other suites' blocking loop runs would otherwise occupy.
    swift test --skip-build --filter 'SwiftWSTests\.'
    echo "== architecture (docs/ARCHITECTURE.md against Package.swift)"
    .venv/bin/python -m pytest Tests/Architecture -q
    echo "== pytest (bindings/python against the debug libswiftws.so of swift build)"
    SWIFTWS_LIBRARY="$PWD/.build/debug/libswiftws.so" .venv/bin/python -m pytest bindings/python/tests -q
    echo "== pytest (conformance cases in both roles: swiftws-echo, the Python client and server)"
    SWIFTWS_LIBRARY="$PWD/.build/debug/libswiftws.so" SWIFTWS_ECHO="$PWD/.build/debug/swiftws-echo" \
        PYTHONPATH="$PWD/bindings/python" .venv/bin/python -m pytest Tests/Conformance -q
    if [ "${FUZZ_SECONDS:-0}" != 0 ]; then
        echo "== fuzz (brief)"
        bash fuzz/run.sh --all --seconds "$FUZZ_SECONDS" --seed "${FUZZ_SEED:-1}"
    fi
    echo "== quick tier passed in $((SECONDS - started)) s (the full run: bash scripts/test.sh)"
    exit 0
fi
echo "== swift test"
swift test --skip-build --skip 'SwiftWSTests\.'
# The async API's tests run on their own: they need the cooperative thread pool (two threads on
# two cores), which the other suites' blocking loop runs (interop, scale) would otherwise occupy.
swift test --skip-build --filter 'SwiftWSTests\.'
echo "== swift test under ThreadSanitizer (a server on several loops, over TLS too; the Redis bridge)"
# Its own scratch path, so that the sanitized build stays incremental beside the plain one.
swift test --sanitize=thread --scratch-path .build/tsan --filter 'MultiLoopTests|RedisBridgeTests|TLSTests/tlsOnTwoLoops'
echo "== architecture (docs/ARCHITECTURE.md against Package.swift)"
.venv/bin/python -m pytest Tests/Architecture -q

echo "== DocC (Sources/SwiftWS/SwiftWS.docc; a broken symbol link or an undocumented parameter fails)"
rm -rf build/docs/SwiftWS && mkdir -p build/docs
swift package --allow-writing-to-directory build/docs generate-documentation --target SwiftWS \
    --output-path build/docs/SwiftWS --warnings-as-errors
for article in echoserver chatwithtopics client backpressure embeddinginaforeignloop; do
    test -f "build/docs/SwiftWS/data/documentation/swiftws/$article.json"
done

echo "== swift-log adapter (integrations/swiftws-logging, a package of its own)"
swift build --build-tests --package-path integrations/swiftws-logging --scratch-path build/swiftws-logging
swift test --skip-build --package-path integrations/swiftws-logging --scratch-path build/swiftws-logging

echo "== bench load generator self-test (the tool our performance claims rest on)"
mkdir -p build/bench
cc -O2 -Wall -Wextra -std=c11 -o build/bench/loadgen bench/echo/loadgen.c -lssl -lcrypto -lz
python3 bench/echo/loadgen_selftest.py build/bench/loadgen

echo "== fuzz (brief)"
bash fuzz/run.sh --all --seconds "${FUZZ_SECONDS:-20}" --seed "${FUZZ_SEED:-1}"

if [ -f CMakeLists.txt ] && [ -d Tests/C ] && grep -q add_test -r Tests/C CMakeLists.txt 2>/dev/null; then
    echo "== ctest"
    cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=Debug >/dev/null
    cmake --build build
    ctest --test-dir build --output-on-failure
    echo "== ctest (C tests under address and undefined-behaviour sanitizers)"
    cmake -S . -B build-asan -G Ninja -DCMAKE_BUILD_TYPE=Debug -DSWIFTWS_SANITIZE=ON >/dev/null
    cmake --build build-asan
    ctest --test-dir build-asan --output-on-failure -L program
fi

if [ -d bindings/python/tests ]; then
    echo "== pytest (bindings/python from the source tree, libswiftws.so from the CMake build)"
    SWIFTWS_LIBRARY="$PWD/build/lib/libswiftws.so" .venv/bin/python -m pytest bindings/python/tests -q
    echo "== pip wheel ./bindings/python (the library built by CMake, shipped in the wheel), installed in a fresh venv and run without the Swift toolchain"
    rm -rf build/wheel build/python-install && mkdir -p build/wheel
    python3 -m pip wheel -q --no-deps --disable-pip-version-check -w build/wheel ./bindings/python
    wheel=$(echo build/wheel/swiftws-*.whl)
    # Not tied to a Python version or ABI (ctypes), only to the platform.
    case "$(basename "$wheel")" in
        swiftws-*-py3-none-linux_$(uname -m).whl) echo "wheel: $(basename "$wheel")" ;;
        *) echo "unexpected wheel name or platform tag: $wheel"; exit 1 ;;
    esac
    python3 -m venv build/python-install
    build/python-install/bin/pip install -q --disable-pip-version-check pytest websockets "$wheel"
    # No swift on PATH; where a private mount namespace is allowed, the toolchain's directory is
    # hidden as well (an empty tmpfs over it), as on a machine that never had it.
    swift_dir=$(dirname "$(dirname "$(dirname "$(readlink -f "$(command -v swift)")")")")
    case "$swift_dir" in
        / | /usr | /usr/local) echo "swift is installed in $swift_dir, not in a directory of its own: cannot run without it"; exit 1 ;;
    esac
    no_swift_path=$(echo "$PATH" | tr ':' '\n' | grep -v "^$swift_dir/" | paste -sd:)
    installed_tests="cd build && env -u SWIFTWS_LIBRARY PATH='$no_swift_path' SWIFTWS_TEST_INSTALLED=1 \
        python-install/bin/python -m pytest ../bindings/python/tests/test_wheel.py \
        ../bindings/python/tests/test_loading.py ../bindings/python/tests/test_examples.py -q"
    if unshare --mount --propagation private true 2>/dev/null; then
        unshare --mount --propagation private sh -c "mount -t tmpfs tmpfs '$swift_dir' && $installed_tests"
    else
        sh -c "$installed_tests"
    fi
fi
echo "== pytest (examples/swift and the README's Swift snippet, built and run against Python websockets)"
.venv/bin/python -m pytest Tests/Examples -q
echo "== pytest (conformance cases in both roles against a scripted Autobahn-style peer: C, Swift and Python)"
SWIFTWS_LIBRARY="$PWD/build/lib/libswiftws.so" SWIFTWS_C_ECHO_CLIENT="$PWD/build/Tests/C/conformance_echo_client" \
    SWIFTWS_C_ECHO_SERVER="$PWD/build/examples/c/sws-echo-server" SWIFTWS_ECHO="$PWD/.build/debug/swiftws-echo" \
    PYTHONPATH="$PWD/bindings/python" .venv/bin/python -m pytest Tests/Conformance -q
echo "== pytest (the demo server with headless Chromium and Python websockets)"
SWIFTWS_DEMO="$PWD/.build/debug/swiftws-demo" .venv/bin/python -m pytest Tests/Demo -q
echo "== pytest (hostile peers against swiftws-echo and swiftws-demo over real sockets, and the soak; issue 9)"
SWIFTWS_ECHO="$PWD/.build/debug/swiftws-echo" SWIFTWS_DEMO="$PWD/.build/debug/swiftws-demo" .venv/bin/python -m pytest Tests/Hostile -q

echo "== all tests passed in $((SECONDS - started)) s"
