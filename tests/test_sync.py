"""One source of truth: the notebooks' exercise cells and the stored checks are what
``python -m autograde sync`` makes from ``solutions/`` and ``autograde/specs/``."""

import inspect

import nbformat
import pytest

from autograde.specs import CHAPTERS
from autograde.sync import main as sync_main, render_chapter, split_function


def test_notebooks_and_snapshots_are_in_sync():
    assert sync_main(["--check"]) == 0, "run `python -m autograde sync` and commit the result"


@pytest.mark.parametrize("chapter", list(CHAPTERS))
def test_solution_cell_is_the_reference(chapter):
    nb = nbformat.read(CHAPTERS[chapter].path, as_version=4)
    cells = {c.metadata["nbgrader"]["grade_id"]: c.source for c in nb.cells
             if c.metadata.get("nbgrader", {}).get("solution")}
    for ex in CHAPTERS[chapter].exercises:
        src = cells[ex.name]
        _, body = split_function(ex.reference)
        region = src.split("### BEGIN SOLUTION\n", 1)[1].rsplit("\n", 1)[0]
        assert region.rstrip() == body.rstrip()


def test_sync_detects_a_drifted_solution(monkeypatch):
    chapter = CHAPTERS["01-mdp"]
    ex = chapter.exercise("discounted_return")
    before, _ = render_chapter(chapter)

    def discounted_return(rewards, gamma):
        """Drifted."""
        return 0.0

    monkeypatch.setattr(ex, "reference", discounted_return)
    after, _ = render_chapter(chapter)
    assert before != after


def test_notebooks_are_stored_without_outputs():
    for chapter in CHAPTERS.values():
        nb = nbformat.read(chapter.path, as_version=4)
        assert all(not c.get("outputs") for c in nb.cells if c.cell_type == "code")
