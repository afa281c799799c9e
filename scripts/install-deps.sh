#!/usr/bin/env bash
# Installs what building and testing SwiftWS needs on a fresh Debian machine with Swift on PATH:
# Debian packages through apt-get (only when one is missing, so a warm machine pays nothing)
# and the Python packages of the test suite into the virtual environment .venv/.
set -euo pipefail
cd "$(dirname "$0")/.."

debian_packages=(
    zlib1g-dev        # permessage-deflate
    libssl-dev        # wss:// (TLS)
    pkg-config
    cmake ninja-build # the C build and CTest
    dpkg-dev file     # the Debian packages (CPack: dpkg-shlibdeps, file; Tests/C/deb_package_test.sh)
    binutils          # objcopy (separate debug information), readelf/nm (exported-symbol test)
    python3-venv
    node-ws           # Node `ws`, an interoperability peer
    valgrind
    chromium          # a real browser for the demo page test (Tests/Demo)
    libnss3-tools     # certutil: the demo test trusts its throw-away CA in a browser profile's NSS store
)

missing=()
for package in "${debian_packages[@]}"; do
    dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" || missing+=("$package")
done
if [ ${#missing[@]} -gt 0 ]; then
    echo "install-deps: installing ${missing[*]}"
    SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

if [ ! -x .venv/bin/python ]; then
    python3 -m venv .venv
fi
# Pinned loosely: tests talk to the current `websockets`, as users do.
.venv/bin/pip install -q --disable-pip-version-check -r scripts/requirements-test.txt
