"""Test setup: the package from this source tree, the library from $SWIFTWS_LIBRARY or the
CMake build of this repository (build/lib/libswiftws.so), unless swiftws is installed."""

from __future__ import annotations

import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
PACKAGE_ROOT = os.path.dirname(HERE)
REPO_ROOT = os.path.dirname(os.path.dirname(PACKAGE_ROOT))

#: SWIFTWS_TEST_INSTALLED=1: test the installed package (pip install ./bindings/python) with the
#: library it ships, instead of the source tree.
INSTALLED = os.environ.get("SWIFTWS_TEST_INSTALLED") == "1"

if not INSTALLED:
    if "SWIFTWS_LIBRARY" not in os.environ:
        built = os.path.join(REPO_ROOT, "build", "lib", "libswiftws.so")
        if os.path.exists(built):
            os.environ["SWIFTWS_LIBRARY"] = built
    sys.path.insert(0, PACKAGE_ROOT)
