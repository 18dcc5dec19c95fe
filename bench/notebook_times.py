"""Wall time of executing each notebook of the book, against its time budget.

    .venv/bin/python bench/notebook_times.py [PAGE ...] [--cores 2]

Executes the instructor notebooks (reference solutions filled in) and the pages without exercises
(MyST notebooks, ``book/<chapter>/*.md``) one after the other, as the book build does (pages found by
``autograde.book.pages``, each with its budget in its own metadata), pinned to ``--cores`` CPU cores where the OS allows it (the budgets are for 2 cores), and
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

import jupytext  # noqa: E402
import nbformat  # noqa: E402
from nbclient import NotebookClient  # noqa: E402

from autograde.book import page_settings, pages  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("pages", nargs="*", help="pages as <chapter>/<name> or chapter ids (default: all)")
    parser.add_argument("--cores", type=int, default=2, help="CPU cores to run on (default 2)")
    args = parser.parse_args()
    if hasattr(os, "sched_setaffinity"):
        available = sorted(os.sched_getaffinity(0))
        os.sched_setaffinity(0, available[: args.cores])  # the kernels inherit it
    print(f"cores: {len(os.sched_getaffinity(0)) if hasattr(os, 'sched_getaffinity') else os.cpu_count()}")
    selected = {k: p for k, p in pages().items()
                if not args.pages or k in args.pages or k.split("/")[0] in args.pages}
    for page, path in selected.items():
        nb = jupytext.read(path) if path.suffix == ".md" else nbformat.read(path, as_version=4)
        start = time.perf_counter()
        NotebookClient(nb, timeout=600, kernel_name="python3", resources={"metadata": {"path": str(path.parent)}}).execute()
        seconds = time.perf_counter() - start
        budget = page_settings(path).get("budget_s")
        verdict = "no budget" if budget is None else ("ok" if seconds <= budget else "OVER BUDGET")
        print(f"{page:<40} {seconds:6.1f} s   budget {budget or '-':>4} s   {verdict}", flush=True)


if __name__ == "__main__":
    main()
