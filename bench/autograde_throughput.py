"""Seconds per submission of plain ``nbgrader autograde`` from the CLI (the baseline later grading
work is compared against).

    .venv/bin/python bench/autograde_throughput.py [--chapter 01-mdp] [--copies 8]

Makes a throw-away course folder, releases the chapter, submits N copies of a correct answer
(the student notebook filled in with the reference solutions), grades them all with one
``nbgrader autograde`` call and prints the wall time per submission.
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--chapter", default="01-mdp")
    parser.add_argument("--copies", type=int, default=8)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        course = Course(Path(tmp) / "course")
        answer = filled_in(nbformat.read(course.release(args.chapter), as_version=4), args.chapter)
        for i in range(args.copies):
            course.submit(f"student{i:03d}", args.chapter, answer)
        start = time.perf_counter()
        course.run("autograde", args.chapter, "--create")
        elapsed = time.perf_counter() - start
        scores = course.scores(args.chapter)
    assert len(scores) == args.copies and all(s[0] == s[1] for s in scores.values()), scores
    print(f"chapter {args.chapter}: {args.copies} submissions graded by `nbgrader autograde` (CLI) "
          f"in {elapsed:.1f} s")
    print(f"seconds per submission: {elapsed / args.copies:.2f}  (cpu cores: {os.cpu_count()})")


if __name__ == "__main__":
    main()
