"""Grades a learning management system can import: the gradebook CSV of Canvas and of Moodle.

    python -m autograde export --lms canvas|moodle [CHAPTER ...] [--roster FILE] [--to FILE]
                               [--missing zero|blank] [--title CHAPTER=TITLE ...] [--root DIR]

(from the repository root), or as nbgrader exporter plugins, from ``autograde/`` (nbgrader imports a
plugin from the folder it runs in, where this file is ``lms``; ``autograde.lms`` is not importable
when nbgrader reads its command line):

    nbgrader export --exporter=lms.CanvasExport --to=canvas.csv [--LMSExport.roster=FILE]
    nbgrader export --exporter=lms.MoodleExport --to=moodle.csv [--LMSExport.roster=FILE]

and the same options: ``--LMSExport.missing=blank``,
``--LMSExport.titles="{'01-mdp': 'Chapter 1 (123456)'}"``.

One row per student, one column per chapter (assignment), from the nbgrader gradebook:

- **the score** is nbgrader's, as ``nbgrader export`` computes it: the submission's score (manual
  scores entered in formgrader replace automatic ones, extra credit included) minus its late
  penalty, never below 0, rounded to 2 decimals (the precision Canvas keeps);
- **late work** carries the penalty nbgrader's ``AssignLatePenalties`` recorded when it was graded
  (from the submission's ``timestamp.txt`` and the assignment's due date, see the README); nothing
  else is taken off here, so leave the LMS's own late policy off for these columns;
- **resubmitted work**: the gradebook holds one submission per student and chapter, the one graded
  last (grading a new version replaces the old one), and that is what is exported;
- **missing work** (no submission in the gradebook) is 0 by default, as in ``nbgrader export``; with
  ``missing="blank"`` the cell is left empty, which both LMSes read as "no grade" (an empty cell
  also clears a grade already entered there);
- submissions still flagged for manual grading are exported with their current score, and listed
  on stderr (review them in formgrader and export again).

Who is who: the optional roster is a CSV with nbgrader's student id in a column ``id`` (the file
``nbgrader db student import`` reads: ``id, first_name, last_name, email, lms_user_id``, so one class
list serves both) plus the LMS's own identifiers, in columns named as the LMS names them:
Canvas's ``SIS User ID``, ``SIS Login ID`` and ``Section``, Moodle's ``ID number`` and ``Username``.
A roster value wins over the gradebook's; students of the roster the gradebook lacks get a row too
(their work is missing). Without a roster, names, e-mail and ``lms_user_id`` come from the gradebook.
"""

from __future__ import annotations

import argparse
import csv
import sys
from pathlib import Path

from nbgrader.api import Gradebook, MissingEntry
from nbgrader.plugins import ExportPlugin
from traitlets import Dict, Enum, Unicode

HERE = Path(__file__).resolve().parent

# Canvas's gradebook import (instructure/canvas-lms, lib/gradebook_importer.rb; the teacher's view:
# teaching.resources.osu.edu "Import a CSV file into Carmen grades"): the header starts with
# "Student" and "ID"; "SIS User ID" and "SIS Login ID" may follow, and "Section" must close the
# student columns; every later column is an assignment, matched by the Canvas assignment id in
# parentheses at the end of its title ("Chapter 1 (123456)"), else by its exact title, else created
# as a new assignment. A row whose first cell is "Points Possible" gives each column's points. A
# student is found by "ID" (the Canvas user id), else "SIS User ID", else "SIS Login ID", else by
# name ("Last, First" or "First Last"). An empty cell or "-" means no score.
CANVAS_STUDENT_COLUMNS = ("Student", "ID", "SIS User ID", "SIS Login ID", "Section")

# Moodle's grade import from CSV (docs.moodle.org/en/Grade_import: "the import file format is the same
# as the corresponding export format"; moodle/moodle, grade/import/csv/classes/load_data.php): the
# teacher maps one column ("Map from") to the user field that identifies students ("Map to": username,
# useridnumber, useremail or userid) and each other column to a grade item, a new grade item or
# "ignore". These are the user columns of Moodle's own CSV export, named as it names them (the
# default export has no "Username"; it is here so the import can map by username). An empty cell
# or "-" means no grade; a value that is not a number aborts the whole import. The export's column
# "Last downloaded from this course" is left out: when present, the import refuses grades changed
# in Moodle since that time.
MOODLE_STUDENT_COLUMNS = ("First name", "Last name", "ID number", "Username", "Email address")


def read_roster(path) -> dict[str, dict[str, str]]:
    """nbgrader student id -> the roster's row (empty cells dropped), from a CSV with a column ``id``."""
    if not path:
        return {}
    with open(path, newline="", encoding="utf-8-sig") as f:
        reader = csv.DictReader(f)
        if "id" not in (reader.fieldnames or []):
            raise ValueError(f"{path}: the roster needs a column 'id' (the nbgrader student id)")
        return {row["id"].strip(): {k.strip(): v.strip() for k, v in row.items() if k and v and v.strip()}
                for row in reader if row["id"] and row["id"].strip()}


def final_score(submission) -> float:
    """What a submission counts for, as ``nbgrader export`` computes it: score minus late penalty, >= 0."""
    return max(0.0, submission.score - submission.late_submission_penalty)


def gradebook_table(gradebook: Gradebook, assignments=(), students=(), roster=None):
    """The grades to export, read from ``gradebook``.

    Returns ``(assignments, people, scores, flagged)``: the exported nbgrader assignments (name and
    maximum score), one dict per student (``id``, ``first_name``, ``last_name``, ``email``,
    ``lms_user_id`` and the roster's LMS columns), ``scores[(student, assignment)]`` (absent where
    nothing was submitted), and the ``(student, assignment)`` pairs still flagged for manual grading.
    """
    roster = roster or {}
    chosen = [a for a in gradebook.assignments if not assignments or a.name in assignments]
    people = {}
    for student in gradebook.students:
        people[student.id] = {"id": student.id, "first_name": student.first_name or "",
                              "last_name": student.last_name or "", "email": student.email or "",
                              "lms_user_id": student.lms_user_id or ""}
    for sid, row in roster.items():
        people[sid] = {**people.get(sid, {"id": sid}), **row}
    chosen_people = [people[s] for s in sorted(people) if not students or s in students]
    scores, flagged = {}, []
    for assignment in chosen:
        for person in chosen_people:
            try:
                submission = gradebook.find_submission(assignment.name, person["id"])
            except MissingEntry:
                continue
            scores[(person["id"], assignment.name)] = final_score(submission)
            if submission.needs_manual_grade:
                flagged.append((person["id"], assignment.name))
    return [(a.name, a.max_score) for a in chosen], chosen_people, scores, flagged


def _number(x: float) -> str:
    """A score as the LMSes read it: at most 2 decimals, no trailing zeros (12.5, 13, 0)."""
    return f"{round(x, 2):.2f}".rstrip("0").rstrip(".")


def canvas_rows(assignments, people, scores, missing="zero", titles=None):
    """Canvas's gradebook CSV, as a list of rows (header, "Points Possible", one row per student)."""
    titles = titles or {}
    header = [*CANVAS_STUDENT_COLUMNS, *(titles.get(name, name) for name, _ in assignments)]
    rows = [header, ["Points Possible", "", "", "", "", *(_number(m) for _, m in assignments)]]
    for p in people:
        last_first = ", ".join(x for x in (p.get("last_name"), p.get("first_name")) if x)
        info = [last_first or p["id"], p.get("lms_user_id") or p["id"], p.get("SIS User ID", ""),
                p.get("SIS Login ID", ""), p.get("Section", "")]
        rows.append(info + [_cell(scores.get((p["id"], name)), missing) for name, _ in assignments])
    return rows


def moodle_rows(assignments, people, scores, missing="zero", titles=None):
    """Moodle's grade import CSV, as a list of rows (header, one row per student)."""
    titles = titles or {}
    rows = [[*MOODLE_STUDENT_COLUMNS, *(titles.get(name, name) for name, _ in assignments)]]
    for p in people:
        info = [p.get("first_name", ""), p.get("last_name", ""), p.get("ID number", ""),
                p.get("Username") or p["id"], p.get("email", "")]
        rows.append(info + [_cell(scores.get((p["id"], name)), missing) for name, _ in assignments])
    return rows


def _cell(score, missing: str) -> str:
    if score is None:
        return "0" if missing == "zero" else ""
    return _number(score)


FORMATS = {"canvas": canvas_rows, "moodle": moodle_rows}


def export(gradebook: Gradebook, lms: str, to, roster_path="", assignments=(), students=(), missing="zero",
           titles=None, log=None) -> list[tuple[str, str]]:
    """Write ``lms``'s CSV of ``gradebook`` to ``to``; returns the submissions still flagged for manual grading."""
    table = gradebook_table(gradebook, assignments, students, read_roster(roster_path))
    rows = FORMATS[lms](*table[:3], missing=missing, titles=titles)
    with open(to, "w", newline="", encoding="utf-8") as f:
        csv.writer(f).writerows(rows)
    flagged = table[3]
    if flagged and log:
        log(f"{len(flagged)} submission(s) still flagged for manual grading, exported with their current "
            f"score: " + ", ".join(f"{s} ({a})" for s, a in flagged))
    return flagged


class LMSExport(ExportPlugin):
    """nbgrader exporter of an LMS's gradebook CSV (``lms`` names the format)."""

    lms = ""
    roster = Unicode("", help="CSV with nbgrader's student id in a column 'id' and the LMS's identifiers"
                     ).tag(config=True)
    missing = Enum(("zero", "blank"), default_value="zero",
                   help="what missing work (no submission) exports as: 0, or an empty cell (no grade)"
                   ).tag(config=True)
    titles = Dict(help="assignment id -> the column's title in the LMS, e.g. {'01-mdp': 'Chapter 1 (123456)'}"
                  ).tag(config=True)

    def export(self, gradebook: Gradebook) -> None:
        dest = self.to or f"{self.lms}-grades.csv"
        self.log.info("Exporting %s grades to %s", self.lms, dest)
        export(gradebook, self.lms, dest, self.roster, [str(a) for a in self.assignment],
               [str(s) for s in self.student], self.missing, self.titles, log=self.log.warning)


class CanvasExport(LMSExport):
    """Canvas's gradebook import CSV: Student, ID, SIS User ID, SIS Login ID, Section, one column per chapter."""

    lms = "canvas"


class MoodleExport(LMSExport):
    """Moodle's grade import CSV: First name, Last name, ID number, Username, Email address, one column per chapter."""

    lms = "moodle"


def main(argv=None) -> int:
    from nbgrader.coursedir import CourseDirectory
    from traitlets.config.loader import PyFileConfigLoader

    parser = argparse.ArgumentParser(prog="python -m autograde export", description=__doc__.split("\n")[0])
    parser.add_argument("chapters", nargs="*", help="chapter ids (default: every assignment in the gradebook)")
    parser.add_argument("--lms", choices=sorted(FORMATS), required=True, help="the import format")
    parser.add_argument("--roster", default="", help="CSV: nbgrader id in 'id', and the LMS's identifiers")
    parser.add_argument("--to", type=Path, help="output file (default: <lms>-grades.csv in the course folder)")
    parser.add_argument("--missing", choices=("zero", "blank"), default="zero",
                        help="missing work as 0 (default) or an empty cell")
    parser.add_argument("--title", action="append", default=[], metavar="CHAPTER=TITLE",
                        help="the chapter's column title in the LMS (Canvas: 'Chapter 1 (123456)', its assignment id)")
    parser.add_argument("--root", type=Path, default=HERE, help="nbgrader course folder")
    args = parser.parse_args(argv)
    titles = dict(t.split("=", 1) for t in args.title)
    config = PyFileConfigLoader("nbgrader_config.py", path=str(HERE)).load_config()
    config.CourseDirectory.root = str(args.root.resolve())
    coursedir = CourseDirectory(config=config)
    to = args.to or args.root / f"{args.lms}-grades.csv"
    with Gradebook(coursedir.db_url, coursedir.course_id) as gb:
        export(gb, args.lms, to, args.roster, args.chapters, (), args.missing, titles,
               log=lambda message: print(message, file=sys.stderr))
    print(f"exported: {to}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
