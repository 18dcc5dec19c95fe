"""What the class got wrong: a report for instructors, per chapter and across the course.

    python -m autograde report CHAPTER [--root DIR] [--threshold 0.5]
    python -m autograde report --all [--root DIR] [--threshold 0.5]

Run it after grading (``nbgrader autograde`` or ``python -m autograde grade``). It writes
``<root>/reports/CHAPTER/report.html`` (``reports/all/`` with ``--all``): one self-contained page
(inline style, figures embedded as PNG, nothing loaded from anywhere, so it opens offline from
``file://``), and ``report.csv`` beside it with the same numbers, one per row.

Where the numbers come from:

- **The judge's verdicts** (:mod:`autograde.verdicts`), which grading records as data in the gradebook:
  for every case of every check, its outcome and the known mistake the answer matches. A student's
  answer to an exercise is classified by its first failing case, visible checks first (what the
  student's feedback names first): *all checks passed*, a *named mistake*, *wrong, no known mistake*,
  *raised an error* (no known mistake raises it; or the check could not run), *timed out*, *not
  attempted* (the stub), *unreadable report* (forged or corrupted), or *not judged* (nothing recorded:
  the notebook could not be read, or the kernel died). Hidden cases carry no fingerprints of known
  mistakes (``autograde sync`` stores them for the visible cases only), so a mistake seen only by the
  hidden checks counts as *wrong, no known mistake*, with an example of how the output differs.
- **nbgrader's scores** in the gradebook: points per exercise and totals (manual scores and extra
  credit included, late penalties not subtracted: nbgrader's raw score), and the flag that a
  submission needs manual grading.
- **The submitted notebooks** in ``submitted/``: one that is not valid JSON cannot be graded, and one
  whose locked cells (the tests, the instructions) differ from the release was tampered with.

A student needs attention when the total is below ``--threshold`` (a share of the points, 0.5 by
default), the submission could not be graded or crashed, tampering was detected, or it needs
manual grading.

This module counts; :mod:`autograde.report_page` draws the page. Neither imports nbgrader (its import
alone takes seconds): the report reads the gradebook with SQLite and the notebooks as JSON, for a
class of 300 in a few seconds (``bench/report_speed.py``).
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import json
import sqlite3
import statistics
import sys
import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path

from autograde import verdicts

HERE = Path(__file__).resolve().parent

CATEGORIES = {  # an answer's outcome: label and colour (Okabe-Ito, readable with colour blindness)
    "passed": ("all checks passed", "#009E73"),
    "mistake": ("named mistake", "#E69F00"),
    "unexplained": ("wrong, no known mistake", "#CC79A7"),
    "error": ("raised an error", "#D55E00"),
    "timeout": ("timed out", "#56B4E9"),
    "not attempted": ("not attempted", "#BBBBBB"),
    "unreadable": ("unreadable report", "#000000"),
    "not judged": ("not judged", "#666666"),
}
FIRST_FAILURE = {"wrong": "unexplained", "raised": "error", "not run": "error", "timeout": "timeout",
                 "not implemented": "not attempted", "unreadable": "unreadable"}
"""The category of an answer whose first failing case has this outcome and names no known mistake."""
EXAMPLES = 3
"""How many anonymised examples of unexplained answers each exercise shows."""
COLUMNS = ("chapter", "section", "number", "exercise", "item", "count", "share", "detail")
"""The CSV's columns: one number (a count, and its share of the submissions or of the points) per row."""


# ----- reading the gradebook, the verdicts and the submissions ----------------------------------
@dataclass
class Folders:
    """Where a course folder keeps what the report reads: the layout ``autograde/nbgrader_config.py`` gives
    nbgrader (its defaults, with the chapters' sources in ``book/``). Read without nbgrader, whose import
    alone costs seconds."""

    root: Path
    gradebook: Path
    source: Path
    submitted: Path
    release: Path

    @classmethod
    def of(cls, root: Path) -> "Folders":
        root = Path(root).resolve()
        folders = cls(root, root / "gradebook.db", HERE.parent / "book", root / "submitted", root / "release")
        if not folders.gradebook.exists():
            raise SystemExit(f"no gradebook at {folders.gradebook}: grade a chapter first")
        return folders


@dataclass
class Exercise:
    """One exercise of a chapter, as the report names and scores it."""

    number: str
    """"1.3": the chapter's number and the exercise's place in the notebook."""
    name: str
    cells: dict
    """(notebook, grade_id) -> "visible" or "hidden" for the exercise's two test cells."""
    max_points: float = 0.0
    messages: dict = field(default_factory=dict)
    """Known mistake -> the message that names it."""


@dataclass
class Answer:
    """One student's answer to one exercise, as its verdicts and scores say."""

    points: float
    category: str
    mistake: str | None = None
    example: str | None = None
    """How the first failing case differs (or the error), where no known mistake explains it."""
    hidden_only: bool = False
    """Every visible case passed and a hidden one failed."""
    raised: bool = False
    timed_out: bool = False


@dataclass
class Submission:
    """One student's graded submission of a chapter."""

    student: str
    score: float
    answers: dict
    problems: list = field(default_factory=list)
    """Why it needs attention besides its score: not gradable, crash, tampering, manual grading."""


@dataclass
class Chapter:
    """A chapter's exercises and its graded submissions."""

    id: str
    max_score: float
    exercises: list
    submissions: list
    missing: list
    """Students in the gradebook without a submission of this chapter."""


def chapter_exercises(folders: Folders, chapter: str) -> list[Exercise]:
    """The chapter's exercises in the order of its notebook: its graded cells, each one ``check(...)`` of an
    exercise of the chapter's stored checks (``autograde.nbgrader_ext.graded_check``), hidden or not."""
    from rlcourse.checks import _snapshot

    stored = _snapshot(chapter)["exercises"]
    prefix = chapter.split("-", 1)[0]
    exercises: dict[str, Exercise] = {}
    for path in sorted((folders.source / chapter).glob("*.ipynb")):
        for cell in json.loads(path.read_text())["cells"]:
            grading = cell.get("metadata", {}).get("nbgrader", {})
            source = "".join(cell.get("source", ""))
            name = next((n for n in stored if f'"{chapter}/{n}"' in source), None)
            if not grading.get("grade") or name is None:
                continue
            if name not in exercises:
                number = f"{int(prefix)}.{len(exercises) + 1}" if prefix.isdigit() else str(len(exercises) + 1)
                exercises[name] = Exercise(number, name, {}, messages=stored[name].get("mistake_messages", {}))
            kind = "hidden" if 'hidden="' in source else "visible"
            exercises[name].cells[(path.stem, grading["grade_id"])] = kind
    if not exercises:
        raise SystemExit(f"no graded exercise in {folders.source / chapter}")
    return list(exercises.values())


def _rows(db, sql: str, args=()) -> list:
    return db.execute(sql, args).fetchall()


def read_chapter(folders: Folders, chapter: str, inspect_submissions: bool = True) -> Chapter:
    """Everything the chapter's report shows, read from the gradebook, its verdicts and ``submitted/``."""
    exercises = chapter_exercises(folders, chapter)
    of_cell = {cell: (ex, kind) for ex in exercises for cell, kind in ex.cells.items()}
    with contextlib.closing(sqlite3.connect(f"file:{folders.gradebook}?mode=ro", uri=True)) as db:
        if not _rows(db, "SELECT 1 FROM assignment WHERE name = ?", (chapter,)):
            raise SystemExit(f"{chapter} is not in the gradebook {folders.gradebook}")
        for notebook, cell, max_score in _rows(db, (
                "SELECT n.name, bc.name, gc.max_score FROM grade_cells gc JOIN base_cell bc ON bc.id = gc.id "
                "JOIN notebook n ON n.id = bc.notebook_id JOIN assignment a ON a.id = n.assignment_id "
                "WHERE a.name = ?"), (chapter,)):
            if (notebook, cell) in of_cell:
                of_cell[(notebook, cell)][0].max_points += max_score
        max_score = _rows(db, (
            "SELECT COALESCE(SUM(gc.max_score), 0) FROM grade_cells gc JOIN base_cell bc ON bc.id = gc.id "
            "JOIN notebook n ON n.id = bc.notebook_id JOIN assignment a ON a.id = n.assignment_id "
            "WHERE a.name = ?"), (chapter,))[0][0]
        grades = _rows(db, (
            "SELECT sa.student_id, n.name, bc.name, CASE WHEN g.manual_score IS NOT NULL THEN g.manual_score "
            "WHEN g.auto_score IS NOT NULL THEN g.auto_score ELSE 0 END + COALESCE(g.extra_credit, 0), "
            "g.needs_manual_grade FROM submitted_assignment sa JOIN assignment a ON a.id = sa.assignment_id "
            "JOIN submitted_notebook sn ON sn.assignment_id = sa.id JOIN notebook n ON n.id = sn.notebook_id "
            "JOIN grade g ON g.notebook_id = sn.id JOIN base_cell bc ON bc.id = g.cell_id WHERE a.name = ?"),
            (chapter,))
        submitted = [s for (s,) in _rows(db, (
            "SELECT sa.student_id FROM submitted_assignment sa JOIN assignment a ON a.id = sa.assignment_id "
            "WHERE a.name = ? ORDER BY sa.student_id"), (chapter,))]
        everyone = [s for (s,) in _rows(db, "SELECT id FROM student ORDER BY id")]

    points, totals, manual = defaultdict(float), defaultdict(float), set()
    for student, notebook, cell, score, needs_manual in grades:
        totals[student] += score
        if needs_manual:
            manual.add(student)
        if (notebook, cell) in of_cell:
            points[(student, of_cell[(notebook, cell)][0].name)] += score
    judged = defaultdict(list)
    for v in verdicts.load(folders.gradebook, chapter):
        if (v.notebook, v.cell) in of_cell:
            judged[(v.student, v.exercise)].append(v)
    anything_judged = {student for student, _ in judged}

    locked = None
    submissions = []
    for student in submitted:
        problems = []
        if inspect_submissions:
            if locked is None:
                from autograde.grade import locked_cells

                locked = locked_cells(folders.release / chapter)
            problems = _inspect(folders.submitted / student / chapter, locked)
        if student not in anything_judged and not any(p.startswith("not gradable") for p in problems):
            problems.append("crash: nothing was judged (the kernel died or grading failed)")
        answers = {ex.name: classify(judged[(student, ex.name)], points[(student, ex.name)]) for ex in exercises}
        if any(a.category == "unreadable" for a in answers.values()):
            problems.append("tampering detected: a check report the grader could not read")
        if student in manual:
            problems.append("needs manual grading")
        submissions.append(Submission(student, totals[student], answers, problems))
    return Chapter(chapter, max_score, exercises, submissions, [s for s in everyone if s not in set(submitted)])


def _inspect(folder: Path, locked: dict) -> list[str]:
    """What the submitted notebook(s) in ``folder`` show: not gradable, or tampered with."""
    from autograde.grade import edited_locked_cells

    if not folder.is_dir():
        return []  # submissions cleaned up after grading: nothing to say
    paths = sorted(folder.glob("*.ipynb"))
    if not paths:
        return ["not gradable: no notebook submitted"]
    problems = []
    for path in paths:
        try:
            nb = json.loads(path.read_text(errors="replace"))
            cells = nb["cells"]
            if not isinstance(cells, list):
                raise TypeError("cells is not a list")
        except Exception:
            return [f"not gradable: {path.name} is not a readable notebook"]
        problems += [f"tampering detected: {what}" for what in edited_locked_cells(cells, locked)]
    return problems


def classify(rows: list, points: float) -> Answer:
    """One answer from its verdicts: the category of its first failing case, visible cases first."""
    if not rows:
        return Answer(points, "not judged")
    rows = sorted(rows, key=lambda v: (v.kind != "visible", v.cell, v.case_index))
    failing = [v for v in rows if v.outcome != "passed"]
    answer = Answer(points, "passed")
    answer.hidden_only = bool(failing) and all(v.kind == "hidden" for v in failing)
    answer.raised = any(v.outcome in ("raised", "not run") for v in rows)
    answer.timed_out = any(v.outcome == "timeout" for v in rows)
    if failing:
        first = failing[0]
        if first.mistake:
            answer.category, answer.mistake = "mistake", first.mistake
        else:
            answer.category, answer.example = FIRST_FAILURE.get(first.outcome, "unexplained"), first.detail
    return answer


# ----- the numbers ------------------------------------------------------------------------------
def share(count: float, total: float) -> float:
    return count / total if total else 0.0


def percent(x: float) -> str:
    return f"{100 * x:.0f}%"


def exercise_numbers(chapter: Chapter, ex: Exercise) -> dict:
    """What the report says of one exercise, as numbers."""
    answers = [s.answers[ex.name] for s in chapter.submissions]
    unexplained = Counter((a.category, a.example) for a in answers
                          if a.category in ("unexplained", "error") and a.example)
    return {
        "points": Counter(a.points for a in answers),
        "full marks": sum(a.points >= ex.max_points for a in answers),
        "visible passed, hidden failed": sum(a.hidden_only for a in answers),
        "raised an error": sum(a.raised for a in answers),
        "timed out": sum(a.timed_out for a in answers),
        "categories": Counter(a.category for a in answers),
        "mistakes": sorted(Counter(a.mistake for a in answers if a.mistake).items(), key=lambda kv: (-kv[1], kv[0])),
        "examples": sorted(unexplained.items(), key=lambda kv: (-kv[1], kv[0]))[:EXAMPLES],
    }


def needing_attention(chapter: Chapter, threshold: float) -> list[tuple[Submission, list[str]]]:
    out = []
    for s in chapter.submissions:
        reasons = list(s.problems)
        if s.score < threshold * chapter.max_score:
            reasons.append(f"below {percent(threshold)} of the points")
        if reasons:
            out.append((s, reasons))
    return sorted(out, key=lambda item: (item[0].score, item[0].student))


def summary(chapter: Chapter, numbers: dict, attention: list) -> str:
    """One sentence: how many submitted, how many need attention, and the class's most common mistake."""
    n = len(chapter.submissions)
    full = sum(s.score >= chapter.max_score for s in chapter.submissions)
    head = (f"Of {n} submission{'s' * (n != 1)} of {chapter.id}, {full} earned full marks and "
            f"{len(attention)} need{'s' * (len(attention) == 1)} attention")
    top = max(((count, ex, mistake) for ex in chapter.exercises for mistake, count in numbers[ex.name]["mistakes"]),
              default=None, key=lambda t: t[0])
    if top is None:
        return head + "; no known mistake was made."
    count, ex, mistake = top
    what = f"in Exercise {ex.number} ({ex.name}): {ex.messages.get(mistake, mistake)}"
    if count > n / 2:
        return f"{head}; most of the class ({percent(share(count, n))}) made the same mistake {what}"
    return f"{head}; the most common mistake ({count} of {n}, {percent(share(count, n))}) is {what}"


def chapter_rows(chapter: Chapter, numbers: dict, attention: list) -> list[dict]:
    """The CSV's rows for one chapter: the same numbers the page shows."""
    n = len(chapter.submissions)
    rows = []

    def row(section, item, count, of=n, ex=None, detail=""):
        rows.append({"chapter": chapter.id, "section": section, "number": ex.number if ex else "",
                     "exercise": ex.name if ex else "", "item": item, "count": f"{count:g}",
                     "share": f"{share(count, of):.4f}", "detail": detail})

    scores = [s.score for s in chapter.submissions]
    row("class", "submissions", n)
    row("class", "full marks", sum(x >= chapter.max_score for x in scores))
    row("class", "median score", statistics.median(scores) if scores else 0, of=chapter.max_score)
    row("class", "points", chapter.max_score, of=chapter.max_score)
    row("class", "no submission", len(chapter.missing), of=n + len(chapter.missing))
    row("class", "need attention", len(attention))
    for ex in chapter.exercises:
        num = numbers[ex.name]
        for points, count in sorted(num["points"].items()):
            row("points", f"{points:g} of {ex.max_points:g}", count, ex=ex)
        for item in ("full marks", "visible passed, hidden failed", "raised an error", "timed out"):
            row("exercise", item, num[item], ex=ex)
        for key, (label, _) in CATEGORIES.items():
            row("outcome", label, num["categories"][key], ex=ex)
        for mistake, count in num["mistakes"]:
            row("mistake", mistake, count, ex=ex, detail=ex.messages.get(mistake, ""))
        for (category, example), count in num["examples"]:
            row("unexplained example", CATEGORIES[category][0], count, ex=ex, detail=example)
    for s, reasons in attention:
        row("attention", s.student, s.score, of=chapter.max_score, detail="; ".join(reasons))
    return rows


def write(folder: Path, html_text: str, rows: list) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "report.html").write_text(html_text)
    with open(folder / "report.csv", "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=COLUMNS)
        writer.writeheader()
        writer.writerows(rows)
    return folder / "report.html"


def chapter_report(root: Path, chapter_id: str, threshold: float = 0.5) -> tuple[Path, str]:
    """Write the chapter's report; its page and its one-sentence summary."""
    folders = Folders.of(root)
    chapter = read_chapter(folders, chapter_id)
    if not chapter.submissions:
        raise SystemExit(f"no graded submission of {chapter_id} in {folders.gradebook}")
    numbers = {ex.name: exercise_numbers(chapter, ex) for ex in chapter.exercises}
    attention = needing_attention(chapter, threshold)
    from autograde.report_page import chapter_page

    path = write(folders.root / "reports" / chapter_id, chapter_page(chapter, numbers, attention, threshold),
                 chapter_rows(chapter, numbers, attention))
    return path, summary(chapter, numbers, attention)


# ----- the course ----------------------------------------------------------------------------------
@dataclass
class Course:
    """Every graded chapter, and each student's score in each (``None``: not submitted)."""

    chapters: list
    numbers: dict
    """chapter -> exercise -> :func:`exercise_numbers`."""
    scores: dict
    """student -> chapter -> score or ``None``."""

    @property
    def max_score(self) -> float:
        return sum(c.max_score for c in self.chapters)

    def total(self, student: str) -> float:
        """A student's total; a chapter not submitted counts 0, as in ``nbgrader export``."""
        return sum(x or 0 for x in self.scores[student].values())

    def exercises(self) -> list[tuple]:
        """(chapter, exercise, share with full marks, its most common mistake and count or None), in order."""
        return [(c, ex, share(self.numbers[c.id][ex.name]["full marks"], len(c.submissions)),
                 (self.numbers[c.id][ex.name]["mistakes"] or [None])[0]) for c in self.chapters for ex in c.exercises]

    def hardest(self, k: int = 10) -> list[tuple]:
        """The ``k`` named mistakes made by the largest share of a chapter's class: (share, count, chapter,
        exercise, mistake)."""
        made = [(share(count, len(c.submissions)), count, c, ex, mistake) for c in self.chapters
                for ex in c.exercises for mistake, count in self.numbers[c.id][ex.name]["mistakes"]]
        return sorted(made, key=lambda t: (-t[0], t[2].id, t[3].number, t[4]))[:k]


def read_course(folders: Folders) -> Course:
    with contextlib.closing(sqlite3.connect(f"file:{folders.gradebook}?mode=ro", uri=True)) as db:
        ids = [a for (a,) in db.execute("SELECT DISTINCT a.name FROM assignment a JOIN submitted_assignment sa "
                                        "ON sa.assignment_id = a.id ORDER BY a.name")]
        everyone = [s for (s,) in db.execute("SELECT id FROM student ORDER BY id")]
    if not ids:
        raise SystemExit(f"no graded submission in {folders.gradebook}")
    chapters = [read_chapter(folders, c, inspect_submissions=False) for c in ids]
    numbers = {c.id: {ex.name: exercise_numbers(c, ex) for ex in c.exercises} for c in chapters}
    by_student = {c.id: {x.student: x.score for x in c.submissions} for c in chapters}
    return Course(chapters, numbers, {s: {c.id: by_student[c.id].get(s) for c in chapters} for s in everyone})


def course_summary(course: Course) -> str:
    chapters, students = len(course.chapters), len(course.scores)
    c, ex, full, _ = min(course.exercises(), key=lambda t: t[2])
    sentence = (f"Across {chapters} chapter{'s' * (chapters != 1)} and {students} students, the hardest exercise "
                f"is {ex.number} ({ex.name}, {percent(full)} with full marks)")
    if not course.hardest(1):
        return sentence + "; no known mistake was made."
    made, _, c, ex, mistake = course.hardest(1)[0]
    return (f"{sentence}; the most common mistake ({percent(made)} of those who submitted {c.id}) is in Exercise "
            f"{ex.number} ({ex.name}): {ex.messages.get(mistake, mistake)}")


def course_rows(course: Course) -> list[dict]:
    """The CSV's rows for the course: the same numbers its page shows."""
    rows = []

    def row(chapter, section, item, count, of, ex=None, detail=""):
        rows.append({"chapter": chapter, "section": section, "number": ex.number if ex else "",
                     "exercise": ex.name if ex else "", "item": item, "count": f"{count:g}",
                     "share": f"{share(count, of):.4f}", "detail": detail})

    for c, ex, _, _ in course.exercises():
        row(c.id, "exercise", "full marks", course.numbers[c.id][ex.name]["full marks"], len(c.submissions), ex)
    for _, count, c, ex, mistake in course.hardest():
        row(c.id, "mistake", mistake, count, len(c.submissions), ex, ex.messages.get(mistake, ""))
    for student, scores in course.scores.items():
        for c in course.chapters:
            if scores[c.id] is not None:
                row(c.id, "student", student, scores[c.id], c.max_score)
        row("", "student total", student, course.total(student), course.max_score)
    return rows


def course_report(root: Path, threshold: float = 0.5) -> tuple[Path, str]:
    """Write the course-wide report; its page and its one-sentence summary."""
    folders = Folders.of(root)
    course = read_course(folders)
    from autograde.report_page import course_page

    path = write(folders.root / "reports" / "all", course_page(course, threshold), course_rows(course))
    return path, course_summary(course)


# ----- command line --------------------------------------------------------------------------------
def _threshold(text: str) -> float:
    value = float(text.rstrip("%")) / (100 if text.endswith("%") else 1)
    if not 0 <= value <= 1:
        raise argparse.ArgumentTypeError("a share of the points: 0.5 or 50%")
    return value


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m autograde report", description=__doc__.split("\n")[0])
    parser.add_argument("chapter", nargs="?", help="the chapter (nbgrader assignment), e.g. 01-mdp")
    parser.add_argument("--all", action="store_true", help="the course-wide report across every graded chapter")
    parser.add_argument("--root", type=Path, default=HERE, help="the nbgrader course folder (default: autograde/)")
    parser.add_argument("--threshold", type=_threshold, default=0.5,
                        help="a student below this share of the points needs attention (default 0.5; 0.6 or 60%%)")
    args = parser.parse_args(argv)
    if bool(args.chapter) == args.all:
        parser.error("give a CHAPTER or --all")
    start = time.perf_counter()
    if args.all:
        path, sentence = course_report(args.root, args.threshold)
    else:
        path, sentence = chapter_report(args.root, args.chapter, args.threshold)
    print(sentence)
    print(f"wrote {path} and {path.with_suffix('.csv').name} in {time.perf_counter() - start:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
