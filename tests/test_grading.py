"""Real nbgrader, end to end: release, autograde, feedback and export, on throw-away course folders.

Per chapter: the instructor's notebook earns full marks, the untouched student notebook earns zero
without crashing the grader. On Chapter 1, a batch of broken submissions (invalid JSON, an error, an
infinite loop, a deleted test cell, an attempt to import the solutions, a correct answer that writes
to stderr, an answer that kills the kernel, one that prints a million lines) is graded beside a correct
one, which still gets full marks.
"""

from __future__ import annotations

import csv
import re

import nbformat
import pytest

from autograde.specs import CHAPTERS
from tests.conftest import PACKED_HIDDEN_CASES, filled_in


def max_points(chapter: str) -> int:
    return sum(sum(ex.points) for ex in CHAPTERS[chapter].exercises)


@pytest.mark.parametrize("chapter", list(CHAPTERS))
def test_source_notebook_full_marks_and_student_notebook_zero(course, chapter):
    release = course.release(chapter)
    course.submit("instructor", chapter, nbformat.read(CHAPTERS[chapter].path, as_version=4))
    course.submit("blank", chapter, nbformat.read(release, as_version=4))
    course.run("autograde", chapter, "--create")
    scores = course.scores(chapter)
    assert scores["instructor"] == (max_points(chapter), max_points(chapter), False)
    assert scores["blank"][0] == 0 and scores["blank"][1] == max_points(chapter)


@pytest.mark.parametrize("chapter", list(CHAPTERS))
def test_student_notebook_has_no_solution_and_no_hidden_test(course, chapter):
    text = course.release(chapter).read_text()
    assert "BEGIN HIDDEN TESTS" not in text and not PACKED_HIDDEN_CASES.search(text)
    assert "BEGIN SOLUTION" not in text and "book-only" not in text
    for ex in CHAPTERS[chapter].exercises:
        assert "raise NotImplementedError()" in text
        assert f"def {ex.name}(" in text


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


def noisy(fn) -> str:
    """The source of a correct answer that also writes to stderr: a debug print and a log line."""
    import inspect

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
