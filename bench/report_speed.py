"""How long the instructor's report takes for a large class: ``python -m autograde report`` on 300 students.

    .venv/bin/python bench/report_speed.py [--chapter 01-mdp] [--students 300] [--cores 2]

Grading 300 submissions would take the better part of an hour, and the report reads only what grading
recorded, so the class is synthesised instead: a throw-away course folder with the chapter released
(``nbgrader generate_assignment``), 300 students and their submissions added to the gradebook through
nbgrader's API, each answer drawn at random (right, a known mistake of the exercise, wrong in another
way, an error, a timeout, not attempted) with the scores and the judge's verdicts, case by case, that
grading would record for it (``autograde.verdicts``), and a submitted notebook per student (a few
invalid, a few with an edited test cell). Then the README's command runs, timed from start to finish
(interpreter and imports included), pinned to ``--cores`` CPU cores. Prints the seconds against the
budget of 10 s.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sqlite3
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
os.environ.setdefault("HF_HUB_OFFLINE", "1")

import nbformat  # noqa: E402

from autograde import verdicts  # noqa: E402
from autograde.nbgrader_ext import graded_check  # noqa: E402
from autograde.specs import CHAPTERS  # noqa: E402
from tests.conftest import Course  # noqa: E402

BUDGET_S = 10.0
ANSWERS = {"passed": 0.5, "mistake": 0.3, "unexplained": 0.08, "hidden only": 0.03, "raised": 0.04,
           "timeout": 0.01, "not implemented": 0.04}
"""How often each kind of answer is drawn, per student and exercise."""


def synthesise(course: Course, chapter: str, students: int, seed: int = 0) -> None:
    """A graded class of ``students`` on ``chapter``: gradebook, verdicts and submitted notebooks."""
    from nbgrader.api import Gradebook

    rng = random.Random(seed)
    release = course.release(chapter)
    notebook = release.stem
    cells = {}  # exercise -> [(grade_id, kind, number of cases)]
    for cell in nbformat.read(CHAPTERS[chapter].path, as_version=4).cells:
        call = graded_check(cell)
        if call is not None:
            _, _, name, spec, kind = call
            cells.setdefault(name, []).append((cell.metadata["nbgrader"]["grade_id"], kind, len(spec["cases"])))
    mistakes = {ex.name: [m.name for m in ex.mistakes] for ex in CHAPTERS[chapter].exercises}
    ids = [f"student{i:03d}" for i in range(students)]
    db_url = f"sqlite:///{course.root / 'gradebook.db'}"
    with Gradebook(db_url) as gb, warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="Object of type")  # nbgrader's own SQLAlchemy warnings
        for student in ids:
            gb.add_student(student)
            gb.add_submission(chapter, student)

    rows, passed = [], set()
    for student in ids:
        for exercise, its_cells in cells.items():
            kind = rng.choices(list(ANSWERS), weights=list(ANSWERS.values()))[0]
            mistake = rng.choice(mistakes[exercise]) if kind == "mistake" else None
            for grade_id, cell_kind, n in its_cells:
                if kind == "passed" or (kind == "hidden only" and cell_kind == "visible"):
                    outcomes = [("passed", None, None)] * n
                    passed.add((student, grade_id))
                elif kind in ("timeout",):
                    outcomes = [("timeout", None, None)]
                elif kind == "mistake" and cell_kind == "visible":
                    outcomes = [("wrong", mistake, None)] * n
                elif kind == "raised":
                    outcomes = [("raised", None, f"IndexError: index {rng.randint(0, 3)} is out of bounds")] * n
                elif kind == "not implemented":
                    outcomes = [("not implemented", None, None)] * n
                else:
                    outcomes = [("wrong", None, f"{cell_kind} case {i}: expected 1.75, got {rng.choice([2, 3.5, 0])}.")
                                for i in range(1, n + 1)]
                start = 0 if outcomes[0][0] == "timeout" else 1
                rows += [verdicts.Verdict(student, chapter, notebook, grade_id, exercise, cell_kind, i, *o)
                         for i, o in enumerate(outcomes, start=start)]
    with sqlite3.connect(course.root / "gradebook.db") as db:
        verdicts.create(db)
        db.executemany(f"INSERT INTO {verdicts.TABLE} VALUES ({', '.join('?' * len(verdicts.Verdict._fields))})", rows)
        db.execute("UPDATE grade SET auto_score = 0, needs_manual_grade = 0")
        db.executemany(
            "UPDATE grade SET auto_score = (SELECT max_score FROM grade_cells WHERE grade_cells.id = grade.cell_id) "
            "WHERE cell_id = (SELECT bc.id FROM base_cell bc JOIN notebook n ON n.id = bc.notebook_id "
            "JOIN assignment a ON a.id = n.assignment_id WHERE bc.name = ? AND n.name = ? AND a.name = ?) "
            "AND notebook_id = (SELECT sn.id FROM submitted_notebook sn JOIN submitted_assignment sa "
            "ON sa.id = sn.assignment_id JOIN assignment a ON a.id = sa.assignment_id WHERE sa.student_id = ? "
            "AND a.name = ?)", [(grade_id, notebook, chapter, student, chapter) for student, grade_id in passed])

    text = release.read_text()
    for i, student in enumerate(ids):
        if i % 50 == 7:
            submitted = '{"cells": [ not json'
        elif i % 50 == 11:
            nb = json.loads(text)
            locked = next(c for c in nb["cells"] if c["metadata"].get("nbgrader", {}).get("locked"))
            locked["source"] = "".join(locked["source"]) + "\n# edited"
            submitted = json.dumps(nb)
        else:
            submitted = text
        path = course.root / "submitted" / student / chapter / release.name
        path.parent.mkdir(parents=True)
        path.write_text(submitted)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--chapter", default="01-mdp")
    parser.add_argument("--students", type=int, default=300)
    parser.add_argument("--cores", type=int, default=2, help="CPU cores to run the report on (default 2)")
    args = parser.parse_args()
    cores = None
    if hasattr(os, "sched_getaffinity"):
        cores = sorted(os.sched_getaffinity(0))[: args.cores]
    with tempfile.TemporaryDirectory() as tmp:
        course = Course(Path(tmp) / "course")
        start = time.perf_counter()
        synthesise(course, args.chapter, args.students)
        print(f"synthesised a graded class of {args.students} on {args.chapter} in {time.perf_counter() - start:.0f} s")
        cmd = [sys.executable, "-m", "autograde", "report", args.chapter, f"--root={course.root}"]
        start = time.perf_counter()
        proc = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True,
                              preexec_fn=(lambda: os.sched_setaffinity(0, cores)) if cores else None)
        seconds = time.perf_counter() - start
        if proc.returncode != 0:
            raise SystemExit(proc.stdout + proc.stderr)
        print(proc.stdout.strip())
        verdict = "ok" if seconds <= BUDGET_S else "OVER BUDGET"
        print(f"report for {args.students} students on {len(cores) if cores else os.cpu_count()} cores: "
              f"{seconds:.1f} s (budget {BUDGET_S:g} s)  {verdict}")


if __name__ == "__main__":
    main()
