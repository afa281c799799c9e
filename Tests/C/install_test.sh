#!/usr/bin/env bash
# Installs the build into a temporary prefix, then builds the out-of-tree program consumer/ twice
# -- with `pkg-config --cflags --libs swiftws` and with CMake's find_package(SwiftWS) -- and runs
# both without LD_LIBRARY_PATH (the installed library must be found through the rpath).
#   install_test.sh BUILD_DIR SOURCE_DIR C_COMPILER
set -euo pipefail
build="$1"; source="$2"; cc="$3"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
unset LD_LIBRARY_PATH

cmake --install "$build" --prefix "$work/prefix" >/dev/null
for f in lib/libswiftws.so include/swiftws.h lib/pkgconfig/swiftws.pc \
         lib/cmake/SwiftWS/SwiftWSConfig.cmake lib/cmake/SwiftWS/SwiftWSConfigVersion.cmake; do
    [ -f "$work/prefix/$f" ] || { echo "not installed: $f"; exit 1; }
done

# The library: libswiftws.so -> libswiftws.so.<ABI> -> libswiftws.so.<version>, the last stripped,
# with a .gnu_debuglink to the debug information under lib/debug/<prefix>/lib/.
soname=$(readlink "$work/prefix/lib/libswiftws.so")
real=$(readlink "$work/prefix/lib/$soname")
[[ "$soname" =~ ^libswiftws\.so\.[0-9]+$ && "$real" =~ ^libswiftws\.so\.[0-9]+\.[0-9]+\.[0-9]+$ ]] \
    || { echo "links: libswiftws.so -> '$soname' -> '$real'"; exit 1; }
[ -f "$work/prefix/lib/$real" ] && [ ! -L "$work/prefix/lib/$real" ] || { echo "lib/$real is not a file"; exit 1; }
sections=$(readelf -S "$work/prefix/lib/$real")   # (no pipe into grep -q: pipefail and SIGPIPE)
if grep -q "\.symtab\|\.debug_info" <<<"$sections"; then
    echo "installed lib/$real is not stripped"; exit 1
fi
debug="$work/prefix/lib/debug$work/prefix/lib/$real.debug"
[ -f "$debug" ] || { echo "no debug information at $debug"; find "$work/prefix" -name "*.debug"; exit 1; }
debug_sections=$(readelf -S "$debug")
grep -q "\.debug_info" <<<"$debug_sections" || { echo "$debug has no .debug_info"; exit 1; }
link=$(readelf --string-dump=.gnu_debuglink "$work/prefix/lib/$real")
grep -q "$real.debug" <<<"$link" || { echo "lib/$real has no .gnu_debuglink to $real.debug"; exit 1; }
echo "installed: libswiftws.so -> $soname -> $real (stripped), debug information in lib/debug/"

echo "== pkg-config"
export PKG_CONFIG_PATH="$work/prefix/lib/pkgconfig"
flags=$(pkg-config --cflags --libs swiftws)
echo "pkg-config --cflags --libs swiftws: $flags"
# shellcheck disable=SC2086
"$cc" -std=c11 -Wall -Wextra -Werror -pedantic "$source/Tests/C/consumer/consumer.c" -o "$work/consumer-pc" $flags
"$work/consumer-pc"

echo "== find_package(SwiftWS)"
cmake -S "$source/Tests/C/consumer" -B "$work/consumer-build" -DCMAKE_PREFIX_PATH="$work/prefix" \
      -DCMAKE_C_COMPILER="$cc" >/dev/null
cmake --build "$work/consumer-build" >/dev/null
"$work/consumer-build/consumer"

# Installed examples find the installed library through their rpath ($ORIGIN/../lib): run one
# (without arguments it prints its usage and exits 64, after the loader resolved libswiftws.so).
if [ -x "$work/prefix/bin/sws-client" ]; then
    status=0
    "$work/prefix/bin/sws-client" 2>/dev/null || status=$?
    [ "$status" = 64 ] || { echo "installed sws-client did not run (status $status)"; exit 1; }
    echo "installed example runs"
fi

# The library itself must not need the Swift toolchain at run time.
if ldd "$work/prefix/lib/libswiftws.so" | grep -E 'swift|not found'; then
    echo "libswiftws.so needs a Swift runtime library or misses a dependency"; exit 1
fi
echo "install test passed"
