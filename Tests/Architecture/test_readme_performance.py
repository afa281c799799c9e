"""README.md's performance table against the latest benchmark results.

The table between <!-- bench-results:begin --> and <!-- bench-results:end --> in README.md must be
the summary of the newest bench/results/<date>.md (what `bash bench/run-all.sh` writes), as
`python3 bench/results_table.py --write` puts it there, so no number in the README lacks the run
it came from.

    .venv/bin/python -m pytest Tests/Architecture -q
"""

import glob
import importlib.util
import os

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
spec = importlib.util.spec_from_file_location("results_table", os.path.join(ROOT, "bench", "results_table.py"))
results_table = importlib.util.module_from_spec(spec)
spec.loader.exec_module(results_table)


def test_there_is_a_results_file():
    assert glob.glob(os.path.join(ROOT, "bench", "results", "*.md")), "no bench/results/*.md: bash bench/run-all.sh"


def test_readme_table_is_the_latest_results_summary():
    latest = results_table.latest_results()
    assert results_table.readme_table() == results_table.readme_block(latest), (
        f"README.md's performance table differs from {os.path.relpath(latest, ROOT)}: "
        "python3 bench/results_table.py --write")


def test_the_check_catches_a_changed_number(tmp_path, monkeypatch):
    """The comparison is not vacuous: one changed character in the README's copy is caught."""
    readme = open(results_table.README, encoding="utf-8").read()
    block = results_table.readme_table()
    altered = block.replace("|", "| 0", 1) if "|" in block else block + "x"
    copy = tmp_path / "README.md"
    copy.write_text(readme.replace(block, altered, 1), encoding="utf-8")
    monkeypatch.setattr(results_table, "README", str(copy))
    assert results_table.readme_table() != results_table.readme_block(results_table.latest_results())
