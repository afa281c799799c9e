#!/usr/bin/env bash
# The Debian packages, end to end: builds them with CPack from a built tree, checks their contents,
# installs them with `dpkg -i` on this machine, builds examples/c/echo_server.c and client.c with
# `pkg-config --cflags --libs swiftws` and Tests/C/consumer with find_package(SwiftWS) against the
# installed packages, runs one echo over 127.0.0.1 (server on port 0, bounded by timeouts), and
# removes the packages with `dpkg -r` -- always, on failure too (trap).
#   deb_package_test.sh BUILD_DIR SOURCE_DIR C_COMPILER
# Needs root (dpkg -i); exits 77 (skipped) otherwise. Needs dpkg-dev (dpkg-shlibdeps) and file,
# which scripts/install-deps.sh installs. Runs of this test on one machine (several work trees)
# take turns through a lock file, since they install the same packages.
set -euo pipefail
build="$(cd "$1" && pwd)"; source="$(cd "$2" && pwd)"; cc="$3"
# The ABI version names the SONAME and the run-time package: read it from the header.
abi=$(sed -n 's/^#define SWS_ABI_VERSION \([0-9]*\).*/\1/p' "$source/include/swiftws.h")
[ -n "$abi" ] || { echo "SWS_ABI_VERSION not found in include/swiftws.h"; exit 1; }
packages=(libswiftws-dev "libswiftws$abi-dbg" "libswiftws$abi")   # removal order: dependents first

if [ "$(id -u)" -ne 0 ]; then echo "skipped: dpkg -i needs root"; exit 77; fi
for tool in dpkg dpkg-deb dpkg-shlibdeps file cpack pkg-config; do
    command -v "$tool" >/dev/null || { echo "missing $tool: run scripts/install-deps.sh"; exit 1; }
done
unset LD_LIBRARY_PATH PKG_CONFIG_PATH

exec 9>/var/lock/swiftws-deb-package-test.lock
flock -w 600 9 || { echo "another deb_package_test held the lock for 10 minutes"; exit 1; }

work=$(mktemp -d)
server_pid=""
cleanup() {
    local status=$?
    [ -n "$server_pid" ] && kill "$server_pid" 2>/dev/null && wait "$server_pid" 2>/dev/null
    for package in "${packages[@]}"; do
        if dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed"; then
            dpkg -r "$package" >/dev/null || { echo "dpkg -r $package failed"; status=1; }
        fi
        # dpkg -r keeps a "removed, config remains" record (postrm); purge it too.
        dpkg-query -W "$package" >/dev/null 2>&1 && dpkg --purge "$package" >/dev/null 2>&1
    done
    rm -rf "$work"
    exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

echo "== cpack -G DEB"
(cd "$work" && cpack -G DEB --config "$build/CPackConfig.cmake" -B "$work/packages" >"$work/cpack.log" 2>&1) \
    || { cat "$work/cpack.log"; exit 1; }
runtime=$(ls "$work"/packages/libswiftws"$abi"_*.deb)
dev=$(ls "$work"/packages/libswiftws-dev_*.deb)
dbg=$(ls "$work"/packages/libswiftws"$abi"-dbg_*.deb)
for deb in "$runtime" "$dev" "$dbg"; do echo "$(basename "$deb"): $(stat -c %s "$deb") bytes"; done

contents() { dpkg-deb -c "$1" | awk '{print $6 $7 $8}'; }
expect() {  # expect DEB PATH...: each PATH (a file, or "link->target") is in the package
    local deb="$1" listing; shift; listing=$(contents "$deb")
    for entry in "$@"; do
        grep -qxF "./$entry" <<<"$listing" || { echo "$(basename "$deb") lacks $entry:"; echo "$listing"; exit 1; }
    done
}
# The library directory: usr/lib, or usr/lib/<multiarch> when the build was configured for /usr.
path=$(contents "$runtime" | sed -n 's|^\./\(usr/lib.*/libswiftws\.so\.[0-9]*\.[0-9]*\.[0-9]*\)$|\1|p')
[ -n "$path" ] || { echo "no libswiftws.so.X.Y.Z in $(basename "$runtime")"; contents "$runtime"; exit 1; }
libdir=$(dirname "$path"); real=$(basename "$path")
expect "$runtime" "$libdir/$real" "$libdir/libswiftws.so.$abi->$real"
expect "$dev" usr/include/swiftws.h "$libdir/libswiftws.so->libswiftws.so.$abi" "$libdir/pkgconfig/swiftws.pc" \
    "$libdir/cmake/SwiftWS/SwiftWSConfig.cmake" "$libdir/cmake/SwiftWS/SwiftWSConfigVersion.cmake"
expect "$dbg" "usr/lib/debug/$libdir/$real.debug"
# (Pipelines into `grep -q` are avoided: with pipefail, grep's early exit fails the writer.)
runtime_files=$(contents "$runtime")
if grep -q "include\|pkgconfig\|cmake\|debug" <<<"$runtime_files"; then
    echo "development or debug files in the run-time package:"; contents "$runtime"; exit 1
fi
depends=$(dpkg-deb -f "$runtime" Depends)
echo "libswiftws$abi Depends: $depends"
grep -q "libc6" <<<"$depends" || { echo "dpkg-shlibdeps found no libc6 dependency"; exit 1; }
grep -q "libc6 (>= 2.36)" <<<"$depends" || { echo "packed relocations (DT_RELR) need libc6 >= 2.36"; exit 1; }
control_files=$(dpkg-deb --ctrl-tarfile "$runtime" | tar -t)
grep -q shlibs <<<"$control_files" || { echo "no shlibs file in the run-time package"; exit 1; }

echo "== dpkg -i"
dpkg -i "$runtime" "$dev" "$dbg" >"$work/dpkg.log" 2>&1 || { cat "$work/dpkg.log"; exit 1; }
installed="/$libdir/$real"
description=$(file -L "$installed")
grep -q ", stripped" <<<"$description" || { echo "the installed library is not stripped: $description"; exit 1; }
debuglink=$(readelf --string-dump=.gnu_debuglink "$installed")
grep -q "$real.debug" <<<"$debuglink" || { echo "no .gnu_debuglink to $real.debug"; exit 1; }
dynamic=$(readelf -d "$installed")
grep -q "SONAME.*\[libswiftws.so.$abi\]" <<<"$dynamic" || { echo "SONAME is not libswiftws.so.$abi"; exit 1; }

echo "== pkg-config --cflags --libs swiftws"
flags=$(pkg-config --cflags --libs swiftws)
echo "flags: $flags (version $(pkg-config --modversion swiftws))"
pc_libdir=$(pkg-config --variable=libdir swiftws)
[ "$(readlink -f "$pc_libdir")" = "$(readlink -f "/$libdir")" ] \
    || { echo "pkg-config found another swiftws.pc first (libdir $pc_libdir), not the package's"; exit 1; }
for program in echo_server client; do
    # shellcheck disable=SC2086
    "$cc" -std=c11 -Wall -Wextra -Werror -pedantic -D_POSIX_C_SOURCE=200809L \
        "$source/examples/c/$program.c" -o "$work/$program" $flags
done
loaded=$(ldd "$work/echo_server" | sed -n 's/^\s*libswiftws\.so\.'"$abi"' => \(\S*\) .*/\1/p')
[ -n "$loaded" ] && [ "$(readlink -f "$loaded")" = "$(readlink -f "$installed")" ] \
    || { echo "echo_server does not load the installed libswiftws.so.$abi:"; ldd "$work/echo_server"; exit 1; }

echo "== one echo through the installed library"
timeout 30 "$work/echo_server" --host 127.0.0.1 --port 0 >"$work/server.log" 2>&1 &
server_pid=$!
port=""
for _ in $(seq 100); do
    port=$(sed -n 's/^listening on \([0-9]*\)$/\1/p' "$work/server.log")
    [ -n "$port" ] && break
    kill -0 "$server_pid" 2>/dev/null || break
    sleep 0.1
done
[ -n "$port" ] || { echo "echo_server did not start:"; cat "$work/server.log"; exit 1; }
output=$(printf 'hello from the package\n' | timeout 10 "$work/client" "ws://127.0.0.1:$port/" 2>&1) \
    || { echo "client failed: $output"; exit 1; }
echo "$output"
grep -qx "< hello from the package" <<<"$output" || { echo "no echo"; exit 1; }
grep -q "^closed 1000" <<<"$output" || { echo "no clean close"; exit 1; }
kill "$server_pid"; wait "$server_pid" 2>/dev/null || true; server_pid=""

echo "== find_package(SwiftWS) against /usr"
# CMAKE_PREFIX_PATH=/usr: searched before /usr/local, where another install could shadow it.
cmake -S "$source/Tests/C/consumer" -B "$work/consumer" -DCMAKE_C_COMPILER="$cc" -DCMAKE_PREFIX_PATH=/usr >/dev/null
cmake --build "$work/consumer" >/dev/null
"$work/consumer/consumer"

echo "== dpkg -r"
for package in "${packages[@]}"; do dpkg -r "$package" >/dev/null; dpkg --purge "$package" >/dev/null; done
[ ! -e "$installed" ] && [ ! -e /usr/include/swiftws.h ] || { echo "files left after dpkg -r"; exit 1; }
echo "deb package test passed"
