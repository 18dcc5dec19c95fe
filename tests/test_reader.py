"""What a reader of the built book and a student who downloads a notebook meet, checked on the sources:
each exercise is introduced by prose, each chapter says how to run its student notebook, and each page
ends with its build record. (tests/test_book.py checks the built pages, in a browser too.)"""

from __future__ import annotations

import re

import jupytext
import nbformat
import pytest

from autograde.book import pages
from autograde.specs import CHAPTERS
from rlcourse.notebook import count_claims
from tests.conftest import REPO

INSTALL = "pip install -r requirements.txt -e ."


def _prose_sentences(markdown: str) -> list[str]:
    """Sentences of running text after the last heading of a markdown cell."""
    lines = markdown.splitlines()
    headings = [i for i, line in enumerate(lines) if line.startswith("#")]
    after = lines[headings[-1] + 1:] if headings else lines
    text = " ".join(line for line in after if line.strip() and not line.lstrip().startswith(("$$", "```")))
    return [s for s in re.split(r"(?<=[.!?])\s+", text) if len(s.split()) >= 4]


@pytest.mark.parametrize("chapter", sorted(CHAPTERS))
def test_every_exercise_statement_follows_a_sentence_of_prose(chapter):
    nb = nbformat.read(CHAPTERS[chapter].path, as_version=4)
    for before, cell in zip(nb.cells, nb.cells[1:]):
        stub = [t for t in cell.metadata.get("tags", []) if t.startswith("stub:")]
        if stub:
            assert before.cell_type == "markdown" and _prose_sentences(before.source), \
                f"{chapter}: {stub[0]} follows {before.source[-120:]!r}, not a sentence of prose"


def test_the_prose_rule_can_fail():
    assert not _prose_sentences("Some text before.\n\n### Exercise 1.3: the discounted return")
    assert _prose_sentences("### Exercise 1.3: the return\n\nTurn a list of rewards into its return.")


@pytest.mark.parametrize("chapter", sorted(CHAPTERS))
def test_each_chapter_says_how_to_run_its_student_notebook(chapter):
    spec = CHAPTERS[chapter]
    nb = nbformat.read(spec.path, as_version=4)
    tip = next((c.source for c in nb.cells[:4] if "Working on the exercises" in c.source), "")
    assert "{download}`student version of this notebook" in tip, chapter
    assert INSTALL in tip and "{ref}`running-notebooks`" in tip, chapter
    assert f"rlcourse-check {spec.path.name}" in tip, chapter


def test_the_running_page_gives_the_install_command_and_the_check():
    text = (REPO / "running.md").read_text()
    assert text.startswith("(running-notebooks)=") and INSTALL in text and "rlcourse-check" in text
    assert "file: running" in (REPO / "_toc.yml").read_text()


@pytest.mark.parametrize("key", sorted(pages()))
def test_every_page_ends_with_its_build_record(key):
    path = pages()[key]
    nb = jupytext.read(path) if path.suffix == ".md" else nbformat.read(path, as_version=4)
    last = nb.cells[-1]
    assert last.cell_type == "code" and last.source.strip().endswith("build_record()"), key
    assert "remove-input" in last.metadata.get("tags", []), key
    if path.suffix == ".ipynb":  # not part of the student notebook
        assert "book-only" in last.metadata.get("tags", []), key
    asserts, _ = count_claims(c.source for c in nb.cells if c.cell_type == "code")
    assert asserts >= 1, f"{key} asserts none of its claims"


def test_claims_are_counted_where_they_run():
    asserts, checks = count_claims([
        "assert x > 0, 'top level'\nfor s in seeds:\n    assert s >= 0",
        "def helper():\n    assert False  # not run by defining it\ncheck(f, 'ch/f')",
    ])
    assert (asserts, checks) == (2, 1)
