"""The fast grader's gradebook: grades reach ``gradebook.db`` one submission at a time, in one
transaction each, without losing anything anyone else writes meanwhile.

nbgrader's own autograding writes a submission in several commits (the submission, then each grade
and comment), so a batch interrupted midway would leave a half-graded submission. The fast grader
therefore lets nbgrader grade into a *working copy* of the gradebook (taken when the batch starts)
and then merges each graded submission into the real gradebook in a single SQLite transaction
(:meth:`Store.commit`). The merge writes only what autograding owns, with nbgrader's own rules:

- a submission new to the gradebook is copied whole (its notebooks, grades and comments);
- a submission already there gets the new timestamp, late penalties, automatic scores and automatic
  comments; manual scores, extra credit, manual comments, extensions and flags stay as they are in
  the real gradebook *now*, so a manual grade a TA enters in formgrader while a batch runs survives
  it. As nbgrader does, a grade that has a manual score is flagged for review when it is autograded
  again;
- a student the batch grades for the first time is added; nothing else of the gradebook (other
  students, other assignments, what another tool writes meanwhile) is touched.

SQLite's locking serialises the merge with other writers (formgrader, ``nbgrader autograde`` of
another chapter); a lock file keeps a second fast grader off the same gradebook. The fingerprint
of each graded submission (what decides "unchanged, skipped" on the next run) is written in the
same transaction as its grades, and so are the judge's verdicts on it (:mod:`autograde.verdicts`:
the outcome of every case and the known mistake behind each wrong answer), which replace the ones an
earlier grading recorded.
"""

from __future__ import annotations

import contextlib
import fcntl
import sqlite3
from pathlib import Path

from autograde import verdicts

STATE_TABLE = "rlcourse_fast_grader"
BUSY_TIMEOUT_S = 120
"""How long a merge waits for another writer (formgrader saving a grade) to finish."""


class GradebookChanged(RuntimeError):
    """The assignment's structure changed in the gradebook during the batch (released again)."""


class Store:
    """The gradebook at ``gradebook`` as the fast grader writes it, for one chapter."""

    def __init__(self, gradebook: Path, chapter: str):
        self.gradebook, self.chapter = Path(gradebook), chapter
        self.work = self.gradebook.with_name(".gradebook-grading.db")
        self.lock_path = self.gradebook.with_name(".gradebook.lock")

    def _connect(self, path: Path | None = None) -> sqlite3.Connection:
        return sqlite3.connect(path or self.gradebook, timeout=BUSY_TIMEOUT_S, isolation_level=None)

    @contextlib.contextmanager
    def open(self):
        """Hold the fast grader's lock on the gradebook and a fresh working copy of it while in use."""
        with open(self.lock_path, "w") as lock:
            try:
                fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                raise SystemExit("another fast grader is writing this gradebook") from None
            if not self.gradebook.exists():
                raise SystemExit(f"no gradebook at {self.gradebook}: run `nbgrader generate_assignment "
                                 f"{self.chapter}` first")
            db = self._connect()
            try:
                db.execute(f"CREATE TABLE IF NOT EXISTS {STATE_TABLE} (student TEXT, assignment TEXT, "
                           "fingerprint TEXT, PRIMARY KEY (student, assignment))")
                verdicts.create(db)
                known = db.execute("SELECT 1 FROM assignment WHERE name = ?", (self.chapter,)).fetchone()
                if known is None:
                    raise SystemExit(f"{self.chapter} is not in the gradebook: run `nbgrader generate_assignment "
                                     f"{self.chapter}` first")
                self.work.unlink(missing_ok=True)
                with contextlib.closing(self._connect(self.work)) as copy:
                    db.backup(copy)  # a consistent snapshot, even while others write
            finally:
                db.close()
            try:
                yield self
            finally:
                self.work.unlink(missing_ok=True)

    def fingerprints(self) -> dict:
        """student -> fingerprint of the submission last graded, for the students graded in the gradebook."""
        with contextlib.closing(self._connect()) as db:
            graded = {row[0] for row in db.execute(
                "SELECT student_id FROM submitted_assignment JOIN assignment ON assignment.id = assignment_id "
                "WHERE assignment.name = ?", (self.chapter,))}
            rows = db.execute(f"SELECT student, fingerprint FROM {STATE_TABLE} WHERE assignment = ?", (self.chapter,))
            return {student: fp for student, fp in rows if student in graded}

    def commit(self, student: str, fingerprint: str) -> bool:
        """Merge ``student``'s graded submission from the working copy into the gradebook, with its
        fingerprint, in one transaction (see the module docstring). ``False`` if nbgrader recorded no
        submission (nothing is written then)."""
        db = self._connect()
        try:
            db.execute("ATTACH DATABASE ? AS w", (str(self.work),))
            db.execute("BEGIN IMMEDIATE")
            try:
                merged = self._merge(db, student)
                if merged:
                    verdicts.merge(db, student, self.chapter)
                    db.execute(f"INSERT OR REPLACE INTO main.{STATE_TABLE} VALUES (?, ?, ?)",
                               (student, self.chapter, fingerprint))
                db.execute("COMMIT")
            except BaseException:
                db.execute("ROLLBACK")
                raise
            return merged
        finally:
            db.close()

    def _merge(self, db: sqlite3.Connection, student: str) -> bool:
        def one(sql, args=()):
            row = db.execute(sql, args).fetchone()
            return None if row is None else row[0]

        find = ("SELECT sa.id FROM {0}.submitted_assignment sa JOIN {0}.assignment a ON a.id = sa.assignment_id "
                "WHERE a.name = ? AND sa.student_id = ?")
        work_sub = one(find.format("w"), (self.chapter, student))
        if work_sub is None:
            return False
        db.execute("INSERT OR IGNORE INTO main.student SELECT * FROM w.student WHERE id = ?", (student,))
        main_sub = one(find.format("main"), (self.chapter, student))
        notebooks = db.execute("SELECT id, notebook_id, late_submission_penalty FROM w.submitted_notebook "
                               "WHERE assignment_id = ?", (work_sub,)).fetchall()
        if main_sub is None:
            self._same_structure(db, work_sub)
            db.execute("INSERT INTO main.submitted_assignment SELECT * FROM w.submitted_assignment WHERE id = ?",
                       (work_sub,))
            db.execute("INSERT INTO main.submitted_notebook SELECT * FROM w.submitted_notebook WHERE assignment_id = ?",
                       (work_sub,))
            for table in ("grade", "comment"):
                db.execute(f"INSERT INTO main.{table} SELECT * FROM w.{table} WHERE notebook_id IN "
                           "(SELECT id FROM w.submitted_notebook WHERE assignment_id = ?)", (work_sub,))
            return True
        db.execute("UPDATE main.submitted_assignment SET timestamp = "
                   "(SELECT timestamp FROM w.submitted_assignment WHERE id = ?) WHERE id = ?", (work_sub, main_sub))
        for work_nb, notebook_id, penalty in notebooks:
            main_nb = one("SELECT id FROM main.submitted_notebook WHERE assignment_id = ? AND notebook_id = ?",
                          (main_sub, notebook_id))
            if main_nb is None:
                raise GradebookChanged(f"{self.chapter} was released again during the batch; grade it again")
            db.execute("UPDATE main.submitted_notebook SET late_submission_penalty = ? WHERE id = ?", (penalty, main_nb))
            grades = db.execute("SELECT cell_id, auto_score, manual_score, needs_manual_grade FROM w.grade "
                                "WHERE notebook_id = ?", (work_nb,)).fetchall()
            for cell_id, auto, manual_then, needs_then in grades:
                # nbgrader's rule (SaveAutoGrades): a grade with a manual score, or without an automatic
                # one, needs a look; applied to the manual score as it is now, unless it has not changed
                changed = db.execute(
                    "UPDATE main.grade SET auto_score = ?, needs_manual_grade = CASE WHEN manual_score IS ? THEN ? "
                    "ELSE (manual_score IS NOT NULL OR ? IS NULL) END WHERE notebook_id = ? AND cell_id = ?",
                    (auto, manual_then, needs_then, auto, main_nb, cell_id)).rowcount
                if changed != 1:
                    raise GradebookChanged(f"{self.chapter} was released again during the batch; grade it again")
            for cell_id, comment in db.execute("SELECT cell_id, auto_comment FROM w.comment WHERE notebook_id = ?",
                                               (work_nb,)).fetchall():
                db.execute("UPDATE main.comment SET auto_comment = ? WHERE notebook_id = ? AND cell_id = ?",
                           (comment, main_nb, cell_id))
        return True

    def _same_structure(self, db: sqlite3.Connection, work_sub: str) -> None:
        """The assignment, notebooks and cells a new submission refers to exist in the gradebook."""
        missing = db.execute(
            "SELECT 1 FROM w.submitted_assignment WHERE id = ? AND assignment_id NOT IN (SELECT id FROM main.assignment) "
            "UNION ALL SELECT 1 FROM w.submitted_notebook WHERE assignment_id = ? AND notebook_id NOT IN "
            "(SELECT id FROM main.notebook) "
            "UNION ALL SELECT 1 FROM w.grade JOIN w.submitted_notebook sn ON sn.id = w.grade.notebook_id "
            "WHERE sn.assignment_id = ? AND w.grade.cell_id NOT IN (SELECT id FROM main.grade_cells) "
            "UNION ALL SELECT 1 FROM w.comment JOIN w.submitted_notebook sn ON sn.id = w.comment.notebook_id "
            "WHERE sn.assignment_id = ? AND w.comment.cell_id NOT IN (SELECT id FROM main.base_cell)",
            (work_sub,) * 4).fetchone()
        if missing:
            raise GradebookChanged(f"{self.chapter} was released again during the batch; grade it again")
