"""Grading throughput: plain ``nbgrader autograde`` against the fast grader, side by side, in one run.

    .venv/bin/python bench/autograde_throughput.py [--chapters 01-mdp 05-rlvr] [--copies 24 6] [--workers 2]

For each chapter: a throw-away course folder, the chapter released, a class of N submissions (in turn
a right answer, a right answer, a half-wrong one, an untouched one), copied to a second folder. One
folder is graded with one ``nbgrader autograde CHAPTER --create`` call (the README's command), the
other with ``python -m autograde grade CHAPTER --workers W`` (its Dask local cluster started inside
the timed command), and a third copy with the fast grader's fork server turned off
(``RLCOURSE_FORK_SERVER=0``: a sandboxed runner started, and torch and the support package imported,
for every submission). Prints the wall time per submission of each, the ratio of nbgrader's to the
fast grader's, and whether every submission got the same score from all three. Both use the course's configuration (the same sandbox, time
limits and checks); the machine should be otherwise idle.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
os.environ.setdefault("HF_HUB_OFFLINE", "1")

import nbformat  # noqa: E402

from tests.conftest import Course, filled_in  # noqa: E402
from tests.test_grading import wrong_answers  # noqa: E402


def bench(chapter: str, copies: int, workers: int, tmp: Path) -> dict:
    plain = Course(tmp / chapter / "plain")
    release_nb = nbformat.read(plain.release(chapter), as_version=4)
    kinds = [filled_in(release_nb, chapter), filled_in(release_nb, chapter),
             filled_in(release_nb, chapter, wrong_answers(chapter)), release_nb]
    for i in range(copies):
        plain.submit(f"student{i:03d}", chapter, kinds[i % len(kinds)])
    fast, unforked = plain.copy("fast"), plain.copy("unforked")
    start = time.perf_counter()
    plain.run("autograde", chapter, "--create")
    t_plain = time.perf_counter() - start
    start = time.perf_counter()
    fast.grade(chapter, f"--workers={workers}")
    t_fast = time.perf_counter() - start
    os.environ["RLCOURSE_FORK_SERVER"] = "0"
    try:
        start = time.perf_counter()
        unforked.grade(chapter, f"--workers={workers}")
        t_unforked = time.perf_counter() - start
    finally:
        del os.environ["RLCOURSE_FORK_SERVER"]
    return {"chapter": chapter, "copies": copies, "plain": t_plain / copies, "fast": t_fast / copies,
            "unforked": t_unforked / copies,
            "same": plain.scores(chapter) == fast.scores(chapter) == unforked.scores(chapter)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--chapters", nargs="+", default=["01-mdp", "05-rlvr"])
    parser.add_argument("--copies", nargs="+", type=int, default=[24, 6], help="submissions per chapter")
    parser.add_argument("--workers", type=int, default=2, help="the fast grader's local workers")
    args = parser.parse_args()
    copies = args.copies + [args.copies[-1]] * (len(args.chapters) - len(args.copies))
    print(f"{os.cpu_count()} CPU cores; fast grader with {args.workers} local workers")
    print(f"{'chapter':<24} {'class':>5} {'nbgrader s/sub':>15} {'fast s/sub':>11} {'ratio':>7} "
          f"{'no fork server s/sub':>21}  same scores")
    with tempfile.TemporaryDirectory() as tmp:
        for chapter, n in zip(args.chapters, copies):
            r = bench(chapter, n, args.workers, Path(tmp))
            print(f"{chapter:<24} {n:>5} {r['plain']:>15.2f} {r['fast']:>11.2f} {r['plain'] / r['fast']:>6.1f}x "
                  f"{r['unforked']:>21.2f}  {'yes' if r['same'] else 'NO'}", flush=True)


if __name__ == "__main__":
    main()
