"""The performance tables: bench/results/<date>.md from a bench/run-all.sh run, and the README's
table from the latest of those files.

    python3 bench/results_table.py --compose DIR --commit C --minutes M --order "key|title;..."
        prints a results file from the per-scenario report.md/summary.tsv files run-all.sh saved
    python3 bench/results_table.py --write     puts the latest results' summary into README.md
    python3 bench/results_table.py --check     exits 1 when README.md's table is not that summary

The summary is the one place the README's numbers come from: it sits in the results file between
<!-- summary:begin --> and <!-- summary:end -->, and in README.md between
<!-- bench-results:begin --> and <!-- bench-results:end --> (with the name of the file it came
from), so a reader can always find the run behind a number. Standard library only.
"""

import argparse
import datetime
import glob
import os
import platform
import re
import sys

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))
RESULTS = os.path.join(ROOT, "bench", "results")
README = os.path.join(ROOT, "README.md")

# Columns of the summary, in order; the ceiling and the reference peer first after swiftws.
SERVERS = ["swiftws", "tcp-echo", "swiftws-wss", "lws", "picows", "node-ws", "websockets", "nio"]
HEADINGS = {"tcp-echo": "plain TCP (ceiling)", "lws": "libwebsockets", "node-ws": "Node ws",
            "websockets": "Python websockets", "nio": "SwiftNIO", "swiftws-wss": "swiftws wss"}


def read_summary(path):
    """(mode, size, deflate, {server: fields}) from one scenario's summary.tsv."""
    mode, size, deflate, rows = "echo", 0, "0", {}
    for line in open(path, encoding="utf-8").read().splitlines():
        cells = line.split("\t")
        if cells[0] == "#":
            mode, size, deflate = cells[1], int(cells[2]), cells[3]
        elif len(cells) >= 2:
            rows[cells[0]] = cells[1:]
    return mode, size, deflate, rows


def thousands(value):
    """12345 -> '12.3k', 123 -> '123'."""
    value = float(value)
    return f"{value / 1000:.1f}k" if value >= 10000 else f"{value:.0f}"


def cell(mode, size, fields):
    """The main number of one server in one scenario (empty when it did not run)."""
    if not fields or fields[0] != "ok" or not fields[1]:
        return fields[0] if fields else ""
    if mode == "idle":
        text = f"{float(fields[1]) / 1024:.2f} KiB"
        if len(fields) > 2 and fields[2]:
            text += f" / {float(fields[2]) / 1024:.1f} KiB"
        return text
    rate = float(fields[1])
    text = f"{rate * size / 1e9:.2f} GB/s" if size >= 65536 and mode == "echo" else thousands(rate)
    return text + (" ‡" if len(fields) > 3 and fields[3] == "1" else "")


def cpu_cell(fields):
    """Server CPU µs per message (from messages per server CPU-second)."""
    if not fields or fields[0] != "ok" or len(fields) < 3 or not fields[2] or float(fields[2]) <= 0:
        return ""
    return f"{1e6 / float(fields[2]):.2f}"


def ratio(fields_a, fields_b, index=1, invert=False):
    try:
        a, b = float(fields_a[index]), float(fields_b[index])
    except (TypeError, IndexError, ValueError):
        return ""
    if fields_a[0] != "ok" or fields_b[0] != "ok" or a <= 0 or b <= 0:
        return ""
    return f"{(b / a if invert else a / b):.2f}×"


def unit(mode, size, deflate):
    if mode == "idle":
        return "RSS per connection" + (" (idle / after 1 msg)" if deflate == "1" else "")
    if mode == "handshake":
        return "upgrades/s"
    return "GB/s" if size >= 65536 else "msgs/s"


def compose(work, commit, minutes, order):
    """The whole results file: a heading, the summary tables, then each scenario's own table."""
    scenarios = [entry.split("|", 1) for entry in order.split(";") if entry]
    now = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    cpu = next((line.split(":", 1)[1].strip() for line in open("/proc/cpuinfo") if line.startswith("model name")), "?")
    out = [f"# Benchmark results, {now}", "",
           f"`bash bench/run-all.sh` at commit {commit}, {minutes} min; {os.cpu_count()} CPUs ({cpu}), "
           f"Linux {platform.release()}. Every server pinned to CPU 0, the load generator to CPU 1; "
           "medians of the repetitions, side by side in one run. Absolute numbers depend on how busy the "
           "machine was (each scenario's table records its load average): read the ratios.", "",
           "<!-- summary:begin -->",
           "| scenario | unit | " + " | ".join(HEADINGS.get(s, s) for s in SERVERS)
           + " | swiftws ÷ ceiling | swiftws ÷ libwebsockets |",
           "|---|---|" + "---:|" * (len(SERVERS) + 2)]
    cpu_rows = []
    for key, title in scenarios:
        mode, size, deflate, rows = read_summary(os.path.join(work, f"{key}.tsv"))
        ours = rows.get("swiftws")
        higher_is_better = mode != "idle"
        # Echo ratios compare messages per server CPU-second: where the load generator is the
        # limit (‡, most echo rows on 2 cores) msgs/s measures it, not the server (issue 16).
        index = 2 if mode == "echo" else 1
        out.append(f"| {title} | {unit(mode, size, deflate)} | "
                   + " | ".join(cell(mode, size, rows.get(s)) for s in SERVERS)
                   + f" | {ratio(ours, rows.get('tcp-echo'), index) if ours else ''}"
                   + f" | {ratio(ours, rows.get('lws'), index, invert=not higher_is_better) if ours else ''} |")
        if mode == "echo":
            cpu_rows.append(f"| {title} | " + " | ".join(cpu_cell(rows.get(s)) for s in SERVERS) + " |")
    out += ["", "Server CPU per message, µs (lower is better; from messages per server CPU-second):", "",
            "| scenario | " + " | ".join(HEADINGS.get(s, s) for s in SERVERS) + " |",
            "|---|" + "---:|" * len(SERVERS)] + cpu_rows
    out += ["", "‡ the load generator used ≥ 85 % of its core: msgs/s may measure it, not the server; "
            "compare server CPU per message there. The ratio columns of the echo rows are per server "
            "CPU-second (messages per CPU-second of each server, i.e. the inverse of the CPU table below), "
            "so they rank servers the same whether or not the load generator was the limit. "
            "swiftws ÷ libwebsockets is a speed ratio (above 1: swiftws faster), for memory the inverse "
            "(above 1: swiftws smaller).",
            "<!-- summary:end -->", ""]
    for key, _ in scenarios:
        out.append(open(os.path.join(work, f"{key}.md"), encoding="utf-8").read().replace("### ", "## ", 1))
    return "\n".join(out) + "\n"


def latest_results():
    files = sorted(glob.glob(os.path.join(RESULTS, "*.md")))
    if not files:
        sys.exit("results_table.py: no bench/results/*.md yet (bash bench/run-all.sh makes one)")
    return files[-1]


def readme_block(results_path):
    """What README.md holds between its markers: the summary, and where it came from."""
    text = open(results_path, encoding="utf-8").read()
    match = re.search(r"<!-- summary:begin -->\n(.*?)<!-- summary:end -->", text, re.S)
    if not match:
        sys.exit(f"results_table.py: {results_path} has no <!-- summary:begin --> ... <!-- summary:end -->")
    name = os.path.relpath(results_path, ROOT)
    return (f"Generated by `python3 bench/results_table.py --write` from [`{name}`]({name}) "
            f"(`bash bench/run-all.sh`):\n\n{match.group(1)}")


README_MARKERS = re.compile(r"(<!-- bench-results:begin -->\n)(.*?)(<!-- bench-results:end -->)", re.S)


def readme_table():
    """The block currently between README.md's markers."""
    match = README_MARKERS.search(open(README, encoding="utf-8").read())
    if not match:
        sys.exit("results_table.py: README.md has no <!-- bench-results:begin --> ... <!-- bench-results:end -->")
    return match.group(2)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--compose", metavar="DIR")
    parser.add_argument("--commit", default="?")
    parser.add_argument("--minutes", default="?")
    parser.add_argument("--order", default="")
    parser.add_argument("--write", action="store_true")
    parser.add_argument("--check", action="store_true")
    args = parser.parse_args()
    if args.compose:
        sys.stdout.write(compose(args.compose, args.commit, args.minutes, args.order))
    elif args.write:
        text = open(README, encoding="utf-8").read()
        block = readme_block(latest_results())
        text = README_MARKERS.sub(lambda m: m.group(1) + block + m.group(3), text)
        open(README, "w", encoding="utf-8").write(text)
    elif args.check:
        if readme_table() != readme_block(latest_results()):
            sys.exit("README.md's performance table is not the latest bench/results summary: "
                     "python3 bench/results_table.py --write")
    else:
        parser.print_help()
        sys.exit(2)


if __name__ == "__main__":
    main()
