"""The judge's verdicts as data: what each graded check found, in a table beside nbgrader's in the gradebook.

Grading judges every test cell outside the student's kernel (``autograde.nbgrader_ext.JudgeReports``,
for ``nbgrader autograde`` and the fast grader alike). Besides the message a student reads, it writes
here one row per case of every graded check: the outcome and, for a wrong answer, the *name* of the
known mistake the answer matches, so the instructor's report (``autograde/report.py``) counts mistakes
from data, never from feedback text.

The table ``rlcourse_verdict`` lives in the gradebook (``gradebook.db``), next to nbgrader's tables:

==========  ==========================================================================================
student     nbgrader's student id
assignment  the chapter (nbgrader assignment), e.g. ``01-mdp``
notebook    the notebook's name without ``.ipynb``
cell        the test cell's ``grade_id`` (``test_NAME`` for the visible checks, ``hidden_test_NAME``)
exercise    the exercise (function) name
kind        ``visible`` or ``hidden``
case_index  the case, from 1; 0 for a cell none of whose cases could be judged
outcome     ``passed``, ``wrong``, ``raised``, ``not implemented`` (per case); ``timeout``, ``not run``
            (no report: the function is missing, the cell raised first), ``unreadable`` (a report or an
            output the grader refuses to decode: forged or corrupted; per cell, or per case)
mistake     the known mistake's name (``Mistake.name`` in ``autograde/specs/``), or NULL
detail      for the instructor, only where no known mistake explains a wrong answer or an error: how the
            output differs (expected values of hidden cases included) or the error, without the student's
            id or code; for ``not run``, the error that stopped the cell
==========  ==========================================================================================

Only the grading process writes it: the rows of one notebook are replaced in one transaction each
time the notebook is judged. A submission the judge never reached (an invalid notebook, a kernel that
died) keeps what an earlier grading recorded, as nbgrader keeps its earlier scores then. The fast
grader judges into its working copy of the gradebook, and :class:`autograde.store.Store` merges these
rows in the same transaction as the submission's grades.
"""

from __future__ import annotations

import contextlib
import sqlite3
from pathlib import Path
from typing import NamedTuple

TABLE = "rlcourse_verdict"
SCHEMA = (f"CREATE TABLE IF NOT EXISTS {TABLE} (student TEXT NOT NULL, assignment TEXT NOT NULL, "
          "notebook TEXT NOT NULL, cell TEXT NOT NULL, exercise TEXT NOT NULL, kind TEXT NOT NULL, "
          "case_index INTEGER NOT NULL, outcome TEXT NOT NULL, mistake TEXT, detail TEXT, "
          "PRIMARY KEY (student, assignment, notebook, cell, case_index))")
BUSY_TIMEOUT_S = 120
"""How long a write waits for another writer of the gradebook."""

FAILED_CELL = ("timeout", "not run", "unreadable")
"""Outcomes of a whole cell (``case_index`` 0) none of whose cases could be judged."""


class Verdict(NamedTuple):
    """One row of the table (see the module docstring)."""

    student: str
    assignment: str
    notebook: str
    cell: str
    exercise: str
    kind: str
    case_index: int
    outcome: str
    mistake: str | None = None
    detail: str | None = None


def sqlite_path(db_url: str) -> Path | None:
    """The file of an SQLite gradebook URL (``sqlite:///path``), ``None`` for any other database."""
    return Path(db_url.removeprefix("sqlite:///")) if db_url.startswith("sqlite:///") else None


def create(db: sqlite3.Connection, schema: str = "main") -> None:
    db.execute(SCHEMA.replace(f"EXISTS {TABLE}", f"EXISTS {schema}.{TABLE}"))


def record(gradebook: Path, student: str, assignment: str, notebook: str, verdicts: list[Verdict]) -> None:
    """Replace the verdicts of one judged notebook by ``verdicts``, in one transaction."""
    with contextlib.closing(sqlite3.connect(gradebook, timeout=BUSY_TIMEOUT_S, isolation_level=None)) as db:
        create(db)
        db.execute("BEGIN IMMEDIATE")
        try:
            db.execute(f"DELETE FROM {TABLE} WHERE student = ? AND assignment = ? AND notebook = ?",
                       (student, assignment, notebook))
            db.executemany(f"INSERT INTO {TABLE} VALUES ({', '.join('?' * len(Verdict._fields))})", verdicts)
            db.execute("COMMIT")
        except BaseException:
            db.execute("ROLLBACK")
            raise


def merge(db: sqlite3.Connection, student: str, assignment: str) -> None:
    """Inside the caller's transaction, on a connection to the gradebook (``main``) with a working copy
    attached as ``w``: make ``student``'s verdicts on ``assignment`` those of the working copy."""
    create(db, "main")
    db.execute(f"DELETE FROM main.{TABLE} WHERE student = ? AND assignment = ?", (student, assignment))
    has_table = db.execute("SELECT 1 FROM w.sqlite_master WHERE type = 'table' AND name = ?", (TABLE,)).fetchone()
    if has_table:
        db.execute(f"INSERT INTO main.{TABLE} SELECT * FROM w.{TABLE} WHERE student = ? AND assignment = ?",
                   (student, assignment))


def load(gradebook: Path, assignment: str | None = None) -> list[Verdict]:
    """Every recorded verdict (of ``assignment``, or of all of them), in a stable order."""
    with contextlib.closing(sqlite3.connect(f"file:{gradebook}?mode=ro", uri=True)) as db:
        if not db.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?", (TABLE,)).fetchone():
            return []
        where, args = ("WHERE assignment = ?", (assignment,)) if assignment else ("", ())
        rows = db.execute(f"SELECT * FROM {TABLE} {where} ORDER BY student, assignment, notebook, cell, case_index",
                          args).fetchall()
    return [Verdict(*row) for row in rows]
