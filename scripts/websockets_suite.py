#!/usr/bin/env python3
"""Runs websockets 17's own asyncio and sync client/server tests against swiftws (issue 12).

What it measures: how much of what websockets users rely on behaves the same when only the
imports change. It gets websockets' test sources at run time (never vendored: a `git clone` of
the 17.0 tag, or an existing checkout given as WEBSOCKETS_SRC), copies tests/ into a temporary
directory, and rewrites every `websockets.<module>` import to `swiftws.<module>` when swiftws has
that module (asyncio.client, asyncio.server, sync.client, sync.server, exceptions, ...). Modules
swiftws does not have (frames, protocol, extensions, the test helpers' own) stay websockets':
they are helpers of the tests, not what is tested. So that one missing name does not hide a whole
file (an ImportError at collection), each rewritten module is a shim: swiftws's names, and for a
name swiftws lacks, websockets' own (listed under "names taken from websockets"); a test that
needs such a name then runs websockets' code for it and usually fails, as it should. A shim behaves
as the module it stands for would: a name served by the module's own __getattr__ (a deprecated
alias) is found, and a test setting a module variable (`client.MAX_REDIRECTS = 2`) sets swiftws's.
A test's `patch("websockets.X.Y", ...)` patches swiftws's X.Y when swiftws has it (a method
of `connect`, say), and websockets' otherwise (patch_swiftws; the run prints which moved).

The connection tests (tests/asyncio/test_connection.py, tests/sync/test_connection.py) build
`Connection(websockets.protocol.Protocol(...))` over a socketpair; only their fixture is replaced
(scripts/websockets_suite_connection.py: the connection under test is swiftws's, opened by a
real handshake, its peer websockets' recording connection), and the tests listed in
CONNECTION_INTERNAL below (constructor arguments, keepalive restarted by hand, faults injected
into websockets' own transport, a connection without a handshake) are removed before the run.

Left out as internal (they test websockets' own machinery, not behaviour a user sees):
test_messages.py (its message assembler, websockets.*.messages, not in its API reference) and
sync/test_utils.py (its Deadline helper). The router tests (tests/asyncio/test_router.py,
tests/sync/test_router.py: the public `route()` / `unix_route()`, werkzeug URL routing) run
against swiftws.asyncio.router / swiftws.sync.router; they skip unless werkzeug is installed
(scripts/requirements-test.txt installs it).
The two harness helpers `get_uri(server)` read `server.server._ssl_context` (asyncio) and
`isinstance(server.socket, ssl.SSLSocket)` (sync), both marked "hack" in websockets; they are
replaced by the same question asked of swiftws's private state (whether the server runs the TLS
relay that serves stdlib ssl.SSLContexts, which is what websockets' tests give).

Usage:
    SWIFTWS_LIBRARY=$PWD/build/lib/libswiftws.so .venv/bin/python scripts/websockets_suite.py [pytest args]
Environment: WEBSOCKETS_SRC (a websockets checkout at 17.0; default: clone it), SWIFTWS_PYTHONPATH
(the directory holding the swiftws package; default: bindings/python of this repository).
Prints the pass/fail/error/skip counts per test file and in total; exit status 0.
"""

from __future__ import annotations

import os
import pathlib
import re
import shutil
import subprocess
import sys
import tempfile
from xml.etree import ElementTree

TAG = "17.0"
REPOSITORY = "https://github.com/python-websockets/websockets"
FILES = [
    "asyncio/test_client.py", "asyncio/test_server.py",
    "sync/test_client.py", "sync/test_server.py",
    "asyncio/test_connection.py", "sync/test_connection.py",
    "asyncio/test_router.py", "sync/test_router.py",
]
# The connection tests' helpers that build the websockets peer: they stay websockets'.
PEER_HELPERS = {"asyncio/connection.py", "sync/connection.py"}
# Their fixture is replaced by scripts/websockets_suite_connection.py (see its docstring).
CONNECTION_FIXTURE = {
    "asyncio/test_connection.py": "install_asyncio",
    "sync/test_connection.py": "install_sync",
}
# Tests of those two files left out (removed from the class before the run), by reason: they check websockets' machinery
# rather than behaviour a user of the connection sees. Every other test of the files runs.
CONNECTION_INTERNAL = {
    # Connection(Protocol(...), close_timeout=/max_queue=/write_limit=) and what it sets on its
    # transport: users give these to connect()/serve(), whose tests (test_client/test_server) run.
    "constructor": ["test_close_timeout", "test_max_queue", "test_max_queue_none", "test_max_queue_tuple",
                    "test_write_limit", "test_write_limits"],
    # Keepalive restarted by hand: ping_interval changed on an open connection, then the
    # private start_keepalive(), keepalive_task, pending_pings.
    "keepalive internals": ["test_keepalive", "test_disable_keepalive", "test_keepalive_times_out",
                            "test_keepalive_ignores_timeout", "test_keepalive_terminates_while_sleeping",
                            "test_keepalive_terminates_while_waiting_for_pong", "test_keepalive_reports_errors",
                            "test_keepalive_terminates_when_sending_ping_fails"],
    # Faults injected into websockets' own transport, socket or Protocol (transport.write_eof(),
    # pause_writing(), patched Protocol methods, patched Transport.get_extra_info / socket
    # getsockname / getpeername); swiftws's socket and protocol are the native library's.
    "fault injection": ["test_writing_in_data_received_fails", "test_writing_in_send_context_fails",
                        "test_writing_in_recv_events_fails", "test_unexpected_failure_in_data_received",
                        "test_unexpected_failure_in_send_context", "test_unexpected_failure_in_recv_events",
                        "test_broadcast_skips_connection_failing_to_send",
                        "test_broadcast_reports_connection_failing_to_send", "test_send_while_send_blocked",
                        "test_send_while_send_async_blocked", "test_local_address", "test_remote_address"],
    # A Connection made without an opening handshake (request and response None) or in the
    # CONNECTING state of a bare Protocol; a swiftws connection exists only after its handshake.
    "no handshake": ["test_request", "test_response", "test_close_expected_during_connecting"],
}


def left_out(source: str) -> list:
    """The CONNECTION_INTERNAL tests that exist in a connection test file's `source`."""
    return sorted(test for tests in CONNECTION_INTERNAL.values() for test in tests if f"def {test}(" in source)
ROOT = pathlib.Path(__file__).resolve().parent.parent


def websockets_source(work: pathlib.Path) -> pathlib.Path:
    """A websockets checkout at TAG: WEBSOCKETS_SRC, or a shallow clone into `work`."""
    given = os.environ.get("WEBSOCKETS_SRC")
    if given:
        source = pathlib.Path(given)
        if (source / ".git").exists() or (source / "HEAD").exists():
            # A git checkout or bare mirror: take the tag's tests, whatever is checked out.
            target = work / "websockets-src"
            target.mkdir()
            archive = subprocess.run(["git", "-C", str(source), "archive", TAG, "tests"],
                                     check=True, capture_output=True).stdout
            subprocess.run(["tar", "x", "-C", str(target)], input=archive, check=True)
            return target
        return source
    target = work / "websockets-src"
    subprocess.run(["git", "clone", "-q", "--depth", "1", "--branch", TAG, REPOSITORY, str(target)], check=True)
    return target


def swiftws_modules(path: pathlib.Path) -> set:
    """Dotted names of the modules of the swiftws package (for the import rewrite)."""
    package = path / "swiftws"
    names = set()
    for file in package.rglob("*.py"):
        relative = file.relative_to(package).with_suffix("")
        parts = [part for part in relative.parts if part != "__init__"]
        if parts:
            names.add(".".join(parts))
    return names


SHIM = """import importlib as _importlib
_websockets = _importlib.import_module("websockets.{module}")
_swiftws = _importlib.import_module("swiftws.{module}")
FROM_WEBSOCKETS = sorted(name for name in dir(_websockets) if not name.startswith("__") and not hasattr(_swiftws, name))
for _name in FROM_WEBSOCKETS:
    globals()[_name] = getattr(_websockets, _name)
# What a user would miss: websockets' public names (its __all__) that swiftws lacks.
MISSING_PUBLIC = sorted(set(getattr(_websockets, "__all__", [])) & set(FROM_WEBSOCKETS))
for _name in dir(_swiftws):
    if not _name.startswith("__"):
        globals()[_name] = getattr(_swiftws, _name)
__all__ = [name for name in getattr(_websockets, "__all__", []) if name in globals()] or None
if __all__ is None:
    del __all__


def __getattr__(name):
    # Names a module serves from its own __getattr__ (deprecated aliases such as
    # WebSocketServer) are not in dir(): ask swiftws's module, then websockets'. Kept once
    # found: a shim is a package, and `from package import name` looks a name up twice (a
    # module, once), which would repeat a deprecation warning the test counts.
    try:
        value = getattr(_swiftws, name)
    except AttributeError:
        value = getattr(_websockets, name)
    globals()[name] = value
    return value


class _Shim(type(_importlib)):
    # A test that sets a module variable (few_redirects() sets client.MAX_REDIRECTS) sets it
    # where the code reads it: in swiftws's module when swiftws has the name.
    def __setattr__(self, name, value):
        if not name.startswith("__") and name in vars(_swiftws):
            setattr(_swiftws, name, value)
        super().__setattr__(name, value)


import sys as _sys
_sys.modules[__name__].__class__ = _Shim
"""


def write_shims(run: pathlib.Path, modules: set) -> None:
    """The package `swiftws_first`: for each swiftws module X, `swiftws_first.X` (see above)."""
    root = run / "swiftws_first"
    for module in modules:
        path = root.joinpath(*module.split("."))
        path.mkdir(parents=True, exist_ok=True)
        (path / "__init__.py").write_text(SHIM.format(module=module))
    (root / "__init__.py").write_text("")


def rewrite(text: str, modules: set) -> str:
    """`websockets.X` -> `swiftws_first.X` in import statements, for every X that swiftws has."""
    def replace(match: "re.Match[str]") -> str:
        module = match.group(2)
        return f"{match.group(1)}swiftws_first.{module}" if module in modules else match.group(0)
    text = re.sub(r"(\bfrom\s+|\bimport\s+)websockets\.([\w.]+)", replace, text)
    # The helpers' "hack" lines read websockets' private state to tell a TLS server; ours read
    # swiftws's (websockets' tests build stdlib ssl.SSLContexts, which swiftws serves through
    # its asyncio TLS relay: Server._tls_relay).
    secure = 'secure = getattr(getattr(server, "_server", server), "_tls_relay", None) is not None'
    text = text.replace("secure = server.server._ssl_context is not None  # hack", secure)
    text = text.replace("secure = isinstance(server.socket, ssl.SSLSocket)  # hack", secure)
    return text


#: `patch("websockets.X.Y")` in a test: what it patches is asked of swiftws too (see patch_swiftws).
PATCH_TARGET = re.compile(r'\bpatch\("websockets\.([\w.]+)"')

RESOLVE = """import importlib, sys
for target in sys.argv[1:]:
    parts = target.split(".")
    for cut in range(len(parts) - 1, 0, -1):  # the longest importable module prefix
        try:
            value = importlib.import_module("swiftws." + ".".join(parts[:cut]))
        except ImportError:
            continue
        try:
            for name in parts[cut:]:
                value = getattr(value, name)
        except AttributeError:
            break
        print(target)
        break
"""


def patch_swiftws(tests: pathlib.Path, env: dict) -> list:
    """`patch("websockets.X.Y")` -> `patch("swiftws.X.Y")` when swiftws has X.Y: a test that
    patches a websockets object the code under test has (a method of `connect`, say) patches
    swiftws's, as the import rewrite points its imports there. One swiftws lacks stays patched on
    websockets (harmless: swiftws does not read it). Returns the targets moved to swiftws."""
    files = {file: file.read_text() for file in tests.rglob("test_*.py")}
    targets = sorted({target for text in files.values() for target in PATCH_TARGET.findall(text)})
    found = subprocess.run([sys.executable, "-c", RESOLVE, *targets], env=env, capture_output=True,
                           text=True, check=True).stdout.split()
    for file, text in files.items():
        changed = text
        for target in found:
            changed = changed.replace(f'patch("websockets.{target}"', f'patch("swiftws.{target}"')
        if changed != text:
            file.write_text(changed)
    return found


def main() -> int:
    swiftws_path = pathlib.Path(os.environ.get("SWIFTWS_PYTHONPATH", ROOT / "bindings" / "python")).resolve()
    modules = swiftws_modules(swiftws_path)
    with tempfile.TemporaryDirectory(prefix="websockets-suite-") as temp:
        work = pathlib.Path(temp)
        source = websockets_source(work)
        tests = work / "run" / "tests"
        shutil.copytree(source / "tests", tests)
        for file in tests.rglob("*.py"):
            name = file.relative_to(tests).as_posix()
            if name not in PEER_HELPERS:
                file.write_text(rewrite(file.read_text(), modules))
            if name in CONNECTION_FIXTURE:
                # The internal tests are removed from the class (ServerConnectionTests inherits
                # them): by exact name, where pytest's --deselect would match prefixes too.
                internal = left_out(file.read_text())
                with file.open("a") as test_file:
                    test_file.write(
                        "\n\nimport swiftws_connection_adapter\n"
                        f"swiftws_connection_adapter.{CONNECTION_FIXTURE[name]}"
                        "(ClientConnectionTests, InterceptingConnection, RecordingProtocol, MS)\n"
                        f"for _name in {internal!r}:\n"
                        "    delattr(ClientConnectionTests, _name)\n")
                print(f"{name:28} left out as internal: {len(internal)} tests x 2 classes")
        shutil.copy(ROOT / "scripts" / "websockets_suite_connection.py",
                    work / "run" / "swiftws_connection_adapter.py")
        write_shims(work / "run", modules)
        env = dict(os.environ, PYTHONPATH=f"{swiftws_path}{os.pathsep}{work / 'run'}")
        for target in patch_swiftws(tests, env):
            print(f"patched on swiftws: {target}")
        totals = {"passed": 0, "failed": 0, "error": 0, "skipped": 0}
        for name in FILES:
            report = work / (name.replace("/", "_") + ".xml")
            result = subprocess.run(
                [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "--timeout=20",
                 "-o", "addopts=", f"--junitxml={report}", f"tests/{name}", *sys.argv[1:]],
                cwd=work / "run", env=env, capture_output=True, text=True)
            counts = {key: 0 for key in totals}
            # Counted from pytest's JUnit XML (robust to -q/-v and to output after the summary).
            if report.exists():
                for suite in ElementTree.parse(report).getroot().iter("testsuite"):
                    tests, failed = int(suite.get("tests", 0)), int(suite.get("failures", 0))
                    errors, skipped = int(suite.get("errors", 0)), int(suite.get("skipped", 0))
                    counts["failed"] += failed
                    counts["error"] += errors
                    counts["skipped"] += skipped
                    counts["passed"] += tests - failed - errors - skipped
            for key in totals:
                totals[key] += counts[key]
            print(f"{name:28} passed {counts['passed']:3}  failed {counts['failed']:3}  "
                  f"errors {counts['error']:3}  skipped {counts['skipped']:3}")
            if os.environ.get("VERBOSE"):
                print(result.stdout[-20000:])
        missing = subprocess.run(
            [sys.executable, "-c", "import importlib, sys\n"
             "for m in sys.argv[1:]:\n"
             "    try:\n"
             "        names = importlib.import_module('swiftws_first.' + m).MISSING_PUBLIC\n"
             "    except ImportError:\n"
             "        continue\n"
             "    public = [n for n in names if not n.startswith('_')]\n"
             "    if public: print(f'  {m}: ' + ', '.join(public))\n",
             *sorted(m for m in modules if m.count(".") == 1 or m == "exceptions")],
            cwd=work / "run", env=env, capture_output=True, text=True).stdout
        print("websockets' public names (__all__) swiftws lacks, taken from websockets:\n" + (missing or "  none\n"), end="")
        print(f"{'total':28} passed {totals['passed']:3}  failed {totals['failed']:3}  "
              f"errors {totals['error']:3}  skipped {totals['skipped']:3}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
