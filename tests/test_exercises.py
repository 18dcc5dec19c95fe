"""For every exercise of every chapter, run the notebook's own test cells (visible and hidden)
directly against the reference, the untouched stub and every plausible wrong answer.

This is the fast half of the grading proof: no notebook is executed, so a chapter's training cells
never run once per wrong answer. ``test_grading.py`` runs real nbgrader on the whole notebooks.
"""

from __future__ import annotations

import nbformat
import pytest

from autograde.specs import CHAPTERS
from rlcourse.checks import CheckFailed

CASES = [(ch.id, ex.name) for ch in CHAPTERS.values() for ex in ch.exercises]
MISTAKES = [(ch.id, ex.name, m.name) for ch in CHAPTERS.values() for ex in ch.exercises for m in ex.mistakes]


def grade_cells(chapter: str, name: str) -> dict[str, str]:
    """grade_id -> source of the test cells of one exercise, hidden parts included."""
    nb = nbformat.read(CHAPTERS[chapter].path, as_version=4)
    cells = {c.metadata["nbgrader"]["grade_id"]: c.source for c in nb.cells
             if c.metadata.get("nbgrader", {}).get("grade")}
    out = {gid: src for gid, src in cells.items() if gid in (f"test_{name}", f"hidden_test_{name}")}
    assert len(out) == 2, f"{chapter}: expected a visible and a hidden test cell for {name}, found {sorted(out)}"
    return out


def run_cells(chapter: str, name: str, fn) -> dict[str, BaseException | None]:
    """Run each test cell with ``fn`` bound to the exercise's name; grade_id -> the error or None."""
    from rlcourse.checks import check

    results = {}
    for gid, src in grade_cells(chapter, name).items():
        namespace = {"check": check, name: fn}
        try:
            exec(compile(src, gid, "exec"), namespace)
            results[gid] = None
        except Exception as exc:  # noqa: BLE001 - any error fails the cell, as in nbgrader
            results[gid] = exc
    return results


@pytest.mark.parametrize("chapter,name", CASES)
def test_reference_passes_every_test_cell(chapter, name):
    ex = CHAPTERS[chapter].exercise(name)
    results = run_cells(chapter, name, ex.reference)
    assert all(err is None for err in results.values()), results


@pytest.mark.parametrize("chapter,name", CASES)
def test_untouched_stub_fails_every_test_cell(chapter, name):
    def stub(*args, **kwargs):
        raise NotImplementedError()

    results = run_cells(chapter, name, stub)
    assert all(isinstance(err, CheckFailed) for err in results.values()), results
    assert "not implemented yet" in str(results[f"test_{name}"])


@pytest.mark.parametrize("chapter,name,mistake", MISTAKES)
def test_wrong_answer_loses_points(chapter, name, mistake):
    ex = CHAPTERS[chapter].exercise(name)
    m = next(m for m in ex.mistakes if m.name == mistake)
    results = run_cells(chapter, name, m.impl)
    failed = {gid: err for gid, err in results.items() if err is not None}
    assert failed, f"the wrong answer {mistake!r} passes every test cell of {name}"
    visible = results[f"test_{name}"]
    if visible is not None:  # the visible check names the mistake, so the student knows what to fix
        assert m.message in str(visible), f"message does not name {mistake!r}:\n{visible}"


@pytest.mark.parametrize("chapter,name", CASES)
def test_every_exercise_has_two_plausible_mistakes_caught_by_visible_checks(chapter, name):
    ex = CHAPTERS[chapter].exercise(name)
    assert len(ex.mistakes) >= 2
    named = [m.name for m in ex.mistakes if run_cells(chapter, name, m.impl)[f"test_{name}"] is not None]
    assert len(named) >= 2, f"only {named} of the mistakes of {name} are caught by the visible check"


def test_hidden_failure_reveals_no_expected_values():
    ex = CHAPTERS["01-mdp"].exercise("discounted_return")
    results = run_cells("01-mdp", "discounted_return", lambda rewards, gamma: 123.0)
    hidden = str(results["hidden_test_discounted_return"])
    assert "hidden case" in hidden and "expected" not in hidden and "rewards=" not in hidden
    visible = str(results["test_discounted_return"])
    assert "expected 1.75, got 123" in visible and "rewards=[1., 1., 1.]" in visible
    assert ex.visible  # the visible message above is about the first stored visible case
