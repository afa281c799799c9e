"""Loading the native library: the ImportError says what to do when it is missing or has
another ABI version; the loaded library is the one asked for."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import textwrap

import pytest

from conftest import INSTALLED, PACKAGE_ROOT


def _import_in_subprocess(library: str) -> subprocess.CompletedProcess:
    env = dict(os.environ, SWIFTWS_LIBRARY=library, PYTHONPATH=PACKAGE_ROOT)
    return subprocess.run([sys.executable, "-c", "import swiftws"], env=env, capture_output=True, text=True,
                          timeout=60)


def test_missing_library_raises_import_error_saying_what_to_do(tmp_path):
    result = _import_in_subprocess(str(tmp_path / "nowhere" / "libswiftws.so"))
    assert result.returncode != 0
    assert "ImportError: swiftws: libswiftws.so could not be loaded" in result.stderr
    assert "SWIFTWS_LIBRARY" in result.stderr and "pip install ./bindings/python" in result.stderr


@pytest.mark.skipif(shutil.which("cc") is None, reason="needs a C compiler")
def test_abi_mismatch_raises_import_error(tmp_path):
    source = tmp_path / "fake.c"
    source.write_text("int sws_abi_version(void) { return 99; }\n")
    library = tmp_path / "libswiftws.so"
    subprocess.run(["cc", "-shared", "-fPIC", "-o", str(library), str(source)], check=True)
    result = _import_in_subprocess(str(library))
    assert result.returncode != 0
    assert "has ABI version 99, but this package needs 2" in result.stderr


@pytest.mark.skipif(shutil.which("cc") is None, reason="needs a C compiler")
def test_a_library_that_is_not_swiftws_is_refused(tmp_path):
    source = tmp_path / "other.c"
    source.write_text("int something_else(void) { return 1; }\n")
    library = tmp_path / "libother.so"
    subprocess.run(["cc", "-shared", "-fPIC", "-o", str(library), str(source)], check=True)
    result = _import_in_subprocess(str(library))
    assert "not a SwiftWS library" in result.stderr


def test_loaded_library_reports_version_and_path():
    import swiftws
    assert swiftws.library_version.count(".") == 2
    if INSTALLED:  # pip install put the library inside the package, and that copy is used
        assert swiftws.library_path == os.path.join(os.path.dirname(swiftws.__file__), "lib", "libswiftws.so")
    elif "SWIFTWS_LIBRARY" in os.environ:
        assert swiftws.library_path == os.environ["SWIFTWS_LIBRARY"]
    assert swiftws._native.MISSING == [], "the library lacks functions the header declares"
