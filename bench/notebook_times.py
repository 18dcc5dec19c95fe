"""Wall time of executing each chapter notebook, against the chapter's time budget.

    .venv/bin/python bench/notebook_times.py [CHAPTER ...] [--cores 2]

Executes the instructor notebooks (reference solutions filled in) one after the other, as the book
build does, pinned to ``--cores`` CPU cores where the OS allows it (the budgets are for 2 cores), and
prints one line per chapter: seconds, budget and whether it fits. Figures, not a test: the numbers
depend on the machine.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
os.environ.setdefault("HF_HUB_OFFLINE", "1")

import nbformat  # noqa: E402
from nbclient import NotebookClient  # noqa: E402

from autograde.specs import CHAPTERS  # noqa: E402

BUDGET_S = {"01-mdp": 90, "02-objectives": 90, "03-policy-gradients": 90, "04-text-to-assistant": 120}
"""Seconds a chapter notebook may take on 2 CPU cores (from the chapters' issues)."""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("chapters", nargs="*", help="chapter ids (default: all)")
    parser.add_argument("--cores", type=int, default=2, help="CPU cores to run on (default 2)")
    args = parser.parse_args()
    if hasattr(os, "sched_setaffinity"):
        available = sorted(os.sched_getaffinity(0))
        os.sched_setaffinity(0, available[: args.cores])  # the kernels inherit it
    print(f"cores: {len(os.sched_getaffinity(0)) if hasattr(os, 'sched_getaffinity') else os.cpu_count()}")
    for chapter in args.chapters or CHAPTERS:
        path = CHAPTERS[chapter].path
        nb = nbformat.read(path, as_version=4)
        start = time.perf_counter()
        NotebookClient(nb, timeout=600, kernel_name="python3", resources={"metadata": {"path": str(path.parent)}}).execute()
        seconds = time.perf_counter() - start
        budget = BUDGET_S.get(chapter)
        verdict = "no budget" if budget is None else ("ok" if seconds <= budget else "OVER BUDGET")
        print(f"{chapter:<22} {seconds:6.1f} s   budget {budget or '-':>4} s   {verdict}", flush=True)


if __name__ == "__main__":
    main()
