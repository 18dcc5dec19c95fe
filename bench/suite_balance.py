"""How evenly an order of the test files splits the suite between ``make test``'s two workers.

    .venv/bin/python bench/suite_balance.py LOG

``LOG`` is the ``make-test.log`` of a run of ``bench/suite_time.py --keep --top 0`` (every test's
duration). The script replays pytest-xdist's ``--dist loadfile`` scheduler on those durations: whole
files go to the workers in collection order, one to each at the start, and a worker takes the next
file each time a test of its own finishes while two or fewer of its tests are left
(``xdist/scheduler/loadscope.py``). It prints the predicted wall time of pytest, for the order
``tests/conftest.py`` gives (``LONGEST_FIRST``) and for pytest-xdist's default order (most tests
first), against half the summed durations (an even split). Figures, not a test: durations measured
with both workers busy are replayed as they are.
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
from collections import Counter
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from tests.conftest import LONGEST_FIRST  # noqa: E402


def durations(log: Path) -> Counter:
    """Seconds per test (setup, call and teardown together) from pytest's ``--durations`` table."""
    out = Counter()
    table = log.read_text(errors="replace").split("slowest durations", 1)
    if len(table) < 2:
        raise SystemExit(f"{log} has no durations table: run bench/suite_time.py --keep --top 0")
    for match in re.finditer(r"^([\d.]+)s (?:setup|call|teardown)\s+(\S+::\S+)$", table[1], re.M):
        out[match.group(2)] += float(match.group(1))
    return out


def collection() -> dict[str, list[str]]:
    """Test ids per file, in collection order, as CI collects them (slow tests included)."""
    proc = subprocess.run([sys.executable, "-m", "pytest", "--collect-only", "-q", "-n", "0", "-p",
                           "no:cacheprovider"], cwd=REPO, capture_output=True, text=True,
                          env={**os.environ, "CI": "true"})
    files: dict[str, list[str]] = {}
    for line in proc.stdout.splitlines():
        if "::" in line:
            files.setdefault(line.split("::")[0], []).append(line.strip())
    return files


def replay(order: list[str], tests: dict[str, list[float]], workers: int = 2) -> list[float]:
    """Busy time of each worker when the files are handed out in ``order`` by xdist's loadfile rule."""
    queue = list(order)
    runs: list[list[float]] = [[] for _ in range(workers)]
    pending = [0] * workers

    def assign(w: int) -> None:
        if queue:
            name = queue.pop(0)
            runs[w].extend(tests[name])
            pending[w] += len(tests[name])

    for w in range(workers):
        assign(w)
    for w in range(workers):
        if pending[w] <= 2:
            assign(w)
    clock, done = [0.0] * workers, [0] * workers
    while any(done[w] < len(runs[w]) for w in range(workers)):
        _, w = min((clock[w] + runs[w][done[w]], w) for w in range(workers) if done[w] < len(runs[w]))
        clock[w] += runs[w][done[w]]
        done[w] += 1
        pending[w] -= 1
        if pending[w] <= 2:
            assign(w)
    return clock


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("log", type=Path, help="make-test.log of bench/suite_time.py --keep --top 0")
    args = parser.parse_args()
    measured = durations(args.log)
    files = collection()
    tests = {name: [measured.get(test, 0.0) for test in ids] for name, ids in files.items()}
    total = sum(map(sum, tests.values()))
    print(f"{sum(map(len, files.values()))} tests in {len(files)} files, {total:.0f} s in all; "
          f"an even split: {total / 2:.0f} s per worker")
    orders = {"tests/conftest.py's order (LONGEST_FIRST)": list(files),  # already sorted by the conftest hook
              "pytest-xdist's default (most tests first)": sorted(files, key=lambda name: -len(files[name]))}
    for label, order in orders.items():
        clock = replay(order, tests)
        print(f"{label:<45} {max(clock):6.0f} s  ({max(clock) / (total / 2) - 1:+.1%}; workers "
              + ", ".join(f"{c:.0f}" for c in clock) + " s)")
    print("first files: " + ", ".join(LONGEST_FIRST))
    return 0


if __name__ == "__main__":
    sys.exit(main())
