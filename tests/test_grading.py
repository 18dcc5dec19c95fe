"""Real nbgrader, end to end: release, autograde, feedback and export, on throw-away course folders,
and the fast grader (``python -m autograde grade``) on copies of the same folders.

Per chapter: the instructor's notebook earns full marks, the untouched student notebook zero and a
half-right one the points of its right half, through plain nbgrader and through the fast grader, with
the same scores. On Chapter 1, a battery of broken and adversarial submissions (invalid JSON, an error,
an infinite loop, a deleted test cell, imports of the solutions, stderr output, a killed kernel, a
million printed lines, a redefined or patched check, silenced tracebacks, a forged report, reading the
instructor's notebook, attacking classmates and the gradebook, exhausting memory) is graded beside a
correct one through both: each gets the right outcome and no honest grade changes.
"""

from __future__ import annotations

import csv
import inspect
import re

import nbformat
import pytest

from autograde.specs import CHAPTERS
from tests.conftest import PACKED_HIDDEN_CASES, filled_in


def max_points(chapter: str) -> int:
    return sum(sum(ex.points) for ex in CHAPTERS[chapter].exercises)


def wrong_answers(chapter: str) -> dict:
    """Every other exercise answered with a function that returns a wrong value (the rest right)."""
    return {ex.name: f"def {ex.name}(*args, **kwargs):\n    return None\n"
            for ex in CHAPTERS[chapter].exercises[1::2]}


@pytest.mark.parametrize("chapter", list(CHAPTERS))
def test_plain_and_fast_grading_give_the_same_scores(course, chapter):
    """The student notebook has no solution and no hidden test. The instructor's notebook earns full
    marks, the untouched student notebook zero and a half-right one the points of its right half,
    through plain `nbgrader autograde`, and the fast grader (`python -m autograde grade`) gives every
    submission exactly the same score."""
    release = course.release(chapter)
    text = release.read_text()
    assert "BEGIN HIDDEN TESTS" not in text and not PACKED_HIDDEN_CASES.search(text)
    assert "BEGIN SOLUTION" not in text and "book-only" not in text
    for ex in CHAPTERS[chapter].exercises:
        assert "raise NotImplementedError()" in text
        assert f"def {ex.name}(" in text

    release_nb = nbformat.read(release, as_version=4)
    course.submit("instructor", chapter, nbformat.read(CHAPTERS[chapter].path, as_version=4))
    course.submit("blank", chapter, release_nb)
    course.submit("half_wrong", chapter, filled_in(release_nb, chapter, wrong_answers(chapter)))
    if chapter == "07-beyond-rlhf":
        course.submit("borrows", chapter, borrowing_answers(release_nb, chapter))
    fast = course.copy("fast")
    course.run("autograde", chapter, "--create")
    scores = course.scores(chapter)
    full = max_points(chapter)
    right = sum(sum(ex.points) for ex in CHAPTERS[chapter].exercises[0::2])
    assert scores["instructor"] == (full, full, False)
    assert scores["blank"] == (0, full, False)
    assert scores["half_wrong"] == (right, full, False)
    if chapter == "07-beyond-rlhf":
        own = sum(sum(ex.points) for ex in CHAPTERS[chapter].exercises if ex.name not in BORROWED)
        assert scores["borrows"] == (own, full, False), "the chapter's own references cannot be imported"
    fast.grade(chapter)
    assert fast.scores(chapter) == scores


BORROWED = ("first_error_labels", "prm_score", "best_of_n", "majority_vote")


def borrowing_answers(release_nb, chapter: str):
    """Chapter 7's references live in the installed support package (Chapter 6's too, which Chapter 7
    builds on). Answers that import Chapter 7's own references, and one right answer that imports an
    earlier chapter's (allowed)."""
    exercises = {ex.name: ex for ex in CHAPTERS[chapter].exercises}
    assert all(exercises[name].reference.__module__ == "rlcourse.reference.ch07_beyond_rlhf" for name in BORROWED)
    answers = {name: f"from rlcourse.reference.ch07_beyond_rlhf import {name}\n" for name in BORROWED}
    earlier = "from rlcourse.reference.ch06_rlhf import ranking_loss  # an earlier chapter: allowed\n\n\n"
    answers["debiased_preference"] = earlier + inspect.getsource(exercises["debiased_preference"].reference)
    return filled_in(release_nb, chapter, answers)


LOOP = '''def transition_tensor(env):
    while True:
        pass
'''
RAISES = '''1 / 0  # this cell raises when it runs

def transition_tensor(env):
    return 1 / 0
'''
CHEAT = '''from solutions.ch01_mdp import transition_tensor
'''
EXITS = '''import os


def transition_tensor(env):
    os._exit(1)  # kills the grading kernel
'''
FLOODS = '''def transition_tensor(env):
    for i in range(1_000_000):
        print("line", i)
    raise ValueError("and wrong")
'''


WRONG = '''import numpy as np


def transition_tensor(env):
    return np.zeros((env.n_states, env.n_actions, env.n_states))
'''
TAMPERS = {  # a wrong answer, then an attempt to make the checks pass anyway
    "redefines_check": WRONG + "\n\ncheck = lambda *args, **kwargs: None\n",
    "patches_comparisons": WRONG + (
        "\n\nimport numpy\nimport torch\nimport rlcourse.checks\n\n"
        "numpy.allclose = numpy.isclose = lambda *a, **k: True\n"
        "torch.allclose = lambda *a, **k: True\n"
        "rlcourse.checks.compare = lambda *a, **k: None\n"
        "rlcourse.checks.judge_case = lambda *a, **k: None\n"),
    "silences_errors": WRONG + (
        "\n\nimport sys\nfrom IPython import get_ipython\n\n"
        "get_ipython().showtraceback = lambda *a, **k: None\n"
        "get_ipython().set_custom_exc((BaseException,), lambda *a, **k: None)\n"
        "sys.excepthook = lambda *a: None\n"),
    "fakes_a_report": WRONG + (  # replaces the function every graded check calls: every check fails
        "\n\nimport rlcourse.checks\n\n"
        "def _fake(fn, exercise, inputs):\n"
        "    from IPython.display import display\n"
        "    display({rlcourse.checks.REPORT_MIME: {'exercise': exercise, 'results': 'all passed'}}, raw=True)\n\n"
        "rlcourse.checks.report = _fake\n"),
}


READS_THE_SOURCE = WRONG + '''

import json
import pathlib

import rlcourse

_places = [pathlib.Path(rlcourse.__file__).resolve().parents[1], *pathlib.Path.cwd().resolve().parents]
for _notebook in [p / "book" / "01-mdp" / "mdp.ipynb" for p in _places] + [p / "source" / "01-mdp" / "mdp.ipynb" for p in _places]:
    try:
        _cells = json.loads(_notebook.read_text())["cells"]
    except OSError:
        continue
    for _cell in _cells:  # run the instructor's solution
        if "solution:transition_tensor" in _cell["metadata"].get("tags", []):
            exec("".join(_cell["source"]))
'''
ATTACKS = '''import pathlib
import sqlite3

for _folder in pathlib.Path.cwd().resolve().parents:
    for _path in _folder.glob("submitted/*/01-mdp/mdp.ipynb"):  # blank every classmate's work
        try:
            _path.write_text("{}")
        except OSError:
            pass
    if (_folder / "gradebook.db").exists():  # and give everyone full marks
        try:
            with sqlite3.connect(_folder / "gradebook.db") as _con:
                _con.execute("UPDATE grade SET manual_score = 1000")
        except Exception:
            pass
'''
EXHAUSTS_MEMORY = '''def transition_tensor(env):
    hoard = bytearray(64 * 2**30)  # more memory than the grading kernel may have
    return hoard
'''


def noisy(fn) -> str:
    """The source of a correct answer that also writes to stderr: a debug print and a log line."""
    correct = inspect.getsource(fn).replace(f"def {fn.__name__}(", "def _correct(", 1)
    return (f"import logging\nimport sys\n\nlogging.basicConfig(level=logging.INFO, force=True)\n\n{correct}\n\n"
            f"def {fn.__name__}(*args, **kwargs):\n"
            f"    print('debugging {fn.__name__}', file=sys.stderr)\n"
            f"    logging.getLogger('student').info('called with %d arguments', len(args))\n"
            f"    return _correct(*args, **kwargs)\n")


def test_broken_submissions_do_not_disturb_the_batch(course):
    chapter = "01-mdp"
    release_nb = nbformat.read(course.release(chapter), as_version=4)
    good = filled_in(release_nb, chapter)
    course.submit("good", chapter, good)
    course.submit("invalid_json", chapter, '{"cells": [ this is not json')
    course.submit("raises", chapter, filled_in(release_nb, chapter, {"transition_tensor": RAISES}))
    course.submit("loops", chapter, filled_in(release_nb, chapter, {"transition_tensor": LOOP}))
    course.submit("cheats", chapter, filled_in(release_nb, chapter, {"transition_tensor": CHEAT}))
    transition_tensor = CHAPTERS[chapter].exercise("transition_tensor").reference
    course.submit("noisy", chapter, filled_in(release_nb, chapter, {"transition_tensor": noisy(transition_tensor)}))
    course.submit("exits", chapter, filled_in(release_nb, chapter, {"transition_tensor": EXITS}))
    course.submit("floods", chapter, filled_in(release_nb, chapter, {"transition_tensor": FLOODS}))
    deleted = filled_in(release_nb, chapter)
    deleted.cells = [c for c in deleted.cells
                     if c.metadata.get("nbgrader", {}).get("grade_id") != "test_discounted_return"]
    course.submit("deleted_cell", chapter, deleted)
    for student, answer in TAMPERS.items():
        course.submit(student, chapter, filled_in(release_nb, chapter, {"transition_tensor": answer}))
    course.submit("reads_the_source", chapter, filled_in(release_nb, chapter, {"transition_tensor": READS_THE_SOURCE}))
    attacker = filled_in(release_nb, chapter)  # right answers, then attacks on the others' files and grades
    attacker.cells.insert(1, nbformat.v4.new_code_cell(ATTACKS))
    course.submit("aa_attacker", chapter, attacker)  # graded first
    course.submit("exhausts_memory", chapter, filled_in(release_nb, chapter, {"transition_tensor": EXHAUSTS_MEMORY}))
    fast = course.copy("fast")

    proc = course.run("autograde", chapter, "--create", "--Execute.timeout=10", check=False)
    assert proc.returncode == 1, "nbgrader reports the invalid notebook with exit status 1"
    assert "invalid_json" in proc.stdout + proc.stderr
    scores = course.scores(chapter)
    full = max_points(chapter)
    lost = sum(CHAPTERS[chapter].exercise("transition_tensor").points)
    assert scores["good"] == (full, full, False)
    assert scores["noisy"] == (full, full, False), "output on stderr (a debug print, a log line) costs nothing"
    assert scores["deleted_cell"] == (full, full, False), "the deleted test cell is restored and run"
    assert scores["raises"][0] == full - lost
    assert scores["loops"][0] == full - lost
    assert scores["cheats"][0] == full - lost, "solutions/ must not be importable while grading"
    assert scores["invalid_json"][0] == 0, "the invalid notebook is recorded as a submission scoring 0"
    assert scores["exits"][0] == 0 and scores["exits"][2], "a kernel that dies scores 0 and is flagged"
    assert scores["floods"][0] == full - lost, "a million printed lines cost only the wrong answer"
    for student in TAMPERS:  # the checks' outcome is decided outside the kernel: tampering earns nothing
        assert scores[student][0] == (0 if student == "fakes_a_report" else full - lost), student
    # the sandbox: no instructor file to read, no classmate's file or gradebook to write, bounded memory
    assert scores["reads_the_source"][0] == full - lost, "the instructor's notebook is out of the kernel's reach"
    assert scores["aa_attacker"] == (full, full, False), "the attacker's own right answers count, nothing more"
    assert scores["exhausts_memory"][0] == full - lost, "a kernel out of memory loses only that exercise"

    # feedback: generated for every graded student, and it never shows hidden tests
    course.run("generate_feedback", chapter, check=False)
    for student in ("good", "raises", "loops"):
        html = (course.root / "feedback" / student / chapter / "mdp.html").read_text()
        assert "BEGIN HIDDEN TESTS" not in html and not PACKED_HIDDEN_CASES.search(html)
        assert "Hidden tests" in html  # the cell itself is still there, with its score
    raised = (course.root / "feedback" / "raises" / chapter / "mdp.html").read_text()
    assert re.search(r"hidden case \d of \d", raised) or "ZeroDivisionError" in raised

    # export: one row per student and assignment
    course.run("export", f"--to={course.root / 'grades.csv'}")
    rows = {r["student_id"]: r for r in csv.DictReader(open(course.root / "grades.csv"))}
    assert float(rows["good"]["raw_score"]) == full
    assert float(rows["raises"]["raw_score"]) == full - lost

    # the same batch through the fast grader: the same score for everyone, and a table that says why
    proc = fast.grade(chapter, "--timeout=10", check=False)
    assert proc.returncode == 1, "the invalid notebook makes the run exit 1"
    assert fast.scores(chapter) == scores
    status = {line.split()[0]: line for line in proc.stdout.splitlines()[2:] if line.strip()}
    assert status["good"].endswith("ok") and status["noisy"].endswith("ok")
    assert "invalid notebook" in status["invalid_json"]
    assert "crash" in status["exits"] and "needs manual grading" in status["exits"]
    assert "timeout" in status["loops"]
    assert "tampering detected" in status["fakes_a_report"]
    assert "locked cell test_discounted_return removed" in status["deleted_cell"]
    fast.run("generate_feedback", chapter, check=False)
    html = (fast.root / "feedback" / "raises" / chapter / "mdp.html").read_text()
    assert "BEGIN HIDDEN TESTS" not in html and not PACKED_HIDDEN_CASES.search(html) and "Hidden tests" in html
    fast.run("export", f"--to={fast.root / 'grades.csv'}")
    assert {r["student_id"]: r["raw_score"] for r in csv.DictReader(open(fast.root / "grades.csv"))} == \
        {student: row["raw_score"] for student, row in rows.items()}
