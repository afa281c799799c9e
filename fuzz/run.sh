#!/usr/bin/env bash
# Builds and runs the libFuzzer targets in fuzz/targets/ against the protocol core.
#
# Each target is one Swift file defining LLVMFuzzerTestOneInput; it is compiled together with
# every source of SwiftWSCore into one module (so it may use internal API) with
# `-sanitize=fuzzer,address`. Corpora live in fuzz/corpus/<target>/ (committed seeds) and
# fuzz/out/<target>/ (what a run discovers; ignored by git).
#
#   fuzz/run.sh --all --seconds 20          every target, 20 s each (what the test command does)
#   fuzz/run.sh frame_parser --seconds 600  one target for 10 minutes
#   --seed N                                 libFuzzer's seed (the test command fixes it, so a CI run
#                                            explores the same inputs each time: no flaky findings)
set -euo pipefail
cd "$(dirname "$0")/.."

seconds=20
seed=0   # 0: libFuzzer picks one
targets=()
while [ $# -gt 0 ]; do
    case "$1" in
        --seconds) seconds="$2"; shift 2 ;;
        --seed) seed="$2"; shift 2 ;;
        --all) for f in fuzz/targets/*.swift; do targets+=("$(basename "$f" .swift)"); done; shift ;;
        *) targets+=("$1"); shift ;;
    esac
done
[ ${#targets[@]} -gt 0 ] || { echo "usage: fuzz/run.sh (--all | TARGET...) [--seconds N]" >&2; exit 2; }

mkdir -p fuzz/out/bin
core_sources=$(find Sources/SwiftWSCore -name '*.swift' | sort)
for target in "${targets[@]}"; do
    binary="fuzz/out/bin/$target"
    echo "fuzz: building $target"
    # shellcheck disable=SC2086
    swiftc -sanitize=fuzzer,address -parse-as-library -O -g \
        -module-name SwiftWSCore -package-name SwiftWS \
        -Xcc -fmodule-map-file=Sources/CZlib/module.modulemap -I Sources/CZlib \
        -Xcc -fmodule-map-file=Sources/CSwiftWSSystem/module.modulemap -I Sources/CSwiftWSSystem \
        $core_sources "fuzz/targets/$target.swift" -lz -o "$binary" >"fuzz/out/$target.build.log" 2>&1 \
        || { grep -v "Cannot export local symbol" "fuzz/out/$target.build.log" | tail -n 40; exit 1; }
    mkdir -p "fuzz/out/$target" "fuzz/corpus/$target"
    echo "fuzz: running $target for ${seconds}s"
    log="fuzz/out/$target.log"
    if ! "$binary" -max_total_time="$seconds" -seed="$seed" -print_final_stats=1 -rss_limit_mb=2048 \
            -artifact_prefix="fuzz/out/$target-" "fuzz/out/$target" "fuzz/corpus/$target" >"$log" 2>&1; then
        tail -n 40 "$log"
        echo "fuzz: $target FAILED (artifact and log in fuzz/out/)"
        exit 1
    fi
    grep -E "^stat::number_of_executed_units|^Done" "$log" | tr '\n' ' '; echo
    echo "fuzz: $target ok"
done
