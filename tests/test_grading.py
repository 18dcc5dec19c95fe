"""Real nbgrader, end to end: release, autograde, feedback and export, on throw-away course folders,
and the fast grader (``python -m autograde grade``) on copies of the same folders.

Per chapter: the instructor's notebook earns full marks, the untouched student notebook zero and a
half-right one the points of its right half, through plain nbgrader and through the fast grader, with
the same scores. (Broken and adversarial submissions: tests/test_grading_adversarial.py.)
"""

from __future__ import annotations

import inspect

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


def test_every_graded_cell_is_exactly_one_check():
    """A graded cell is judged outside the kernel only through its one `check(...)` line; any other graded
    cell (an assert-style test, a second check, a graded answer cell) is refused, never judged in the kernel."""
    from autograde.nbgrader_ext import UngradableCell, graded_check

    for chapter, spec in CHAPTERS.items():
        nb = nbformat.read(spec.path, as_version=4)
        calls = [graded_check(c) for c in nb.cells]
        assert sum(call is not None for call in calls) == 2 * len(spec.exercises), chapter
    meta = {"nbgrader": {"grade": True, "grade_id": "test_x", "points": 1}}
    bad = ["assert transition_tensor(env).shape == (3, 3, 4)",
           'check(transition_tensor, "01-mdp/transition_tensor")\ncheck(transition_tensor, "01-mdp/transition_tensor")',
           'check(transition_tensor, "01-mdp/transition_tensor")\nassert False',
           "print('no check here')"]
    for source in bad:
        cell = nbformat.v4.new_code_cell(source, metadata=meta)
        with pytest.raises(UngradableCell):
            graded_check(cell)
    answer = nbformat.v4.new_code_cell("x = 1", metadata={"nbgrader": {**meta["nbgrader"], "solution": True}})
    with pytest.raises(UngradableCell):
        graded_check(answer)
