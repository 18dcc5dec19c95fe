"""One source of truth: the notebooks' exercise cells and the stored checks are what
``python -m autograde sync`` makes from the references and ``autograde/specs/``, compared by value, so
that they hold on every CPU and still catch real drift."""

import base64
import json
import os
import shutil
import subprocess
import sys
import zlib

import nbformat
import pytest

import autograde.spec
from autograde.specs import CHAPTERS
from autograde.sync import HIDDEN_BLOB, main as sync_main, render_chapter, split_function, sync
from rlcourse.checks.encoding import pack, unpack
from tests.conftest import OTHER_KERNELS, REPO


def test_notebooks_and_snapshots_are_in_sync():
    assert sync_main(["--check"]) == 0, "run `python -m autograde sync` and commit the result"


def test_in_sync_with_other_floating_point_kernels():
    """The stored cases hold where the last bits of every float differ (another CPU's kernels)."""
    proc = subprocess.run([sys.executable, "-m", "autograde", "sync", "--check"], cwd=REPO, capture_output=True,
                          text=True, env={**os.environ, **OTHER_KERNELS})
    assert proc.returncode == 0, proc.stdout + proc.stderr


@pytest.fixture
def copy_of_chapter(tmp_path, monkeypatch):
    """Chapter 5's notebook and snapshot copied to tmp, where a test may corrupt them."""
    chapter = CHAPTERS["05-rlvr"]
    book, snapshots = tmp_path / "book", tmp_path / "snapshots"
    (book / chapter.id).mkdir(parents=True)
    snapshots.mkdir()
    shutil.copy(chapter.path, book / chapter.id / chapter.notebook)
    shutil.copy(REPO / "rlcourse" / "checks" / "snapshots" / f"{chapter.id}.json", snapshots)
    monkeypatch.setattr(autograde.spec, "BOOK", book)
    assert sync([chapter], check=True, snapshot_dir=snapshots) == []
    return chapter, snapshots


def _hidden_cell(nb, name):
    return next(c for c in nb.cells if f"hidden-tests:{name}" in c.metadata.get("tags", []))


def test_a_corrupted_visible_expected_value_is_caught(copy_of_chapter):
    chapter, snapshots = copy_of_chapter
    path = snapshots / f"{chapter.id}.json"
    snap = json.loads(path.read_text())
    expected = snap["exercises"]["group_advantages"]["cases"][2]["expected"]["__tensor__"]
    expected[1][2] += 1e-4  # far below what a student would notice, far above float noise
    path.write_text(json.dumps(snap, indent=1, sort_keys=True) + "\n")
    stale = sync([chapter], check=True, snapshot_dir=snapshots)
    assert [p.name for p, _ in stale] == [path.name]
    assert "group_advantages (visible).cases[2].expected" in stale[0][1][0]


def test_a_corrupted_hidden_case_is_caught_and_rewritten(copy_of_chapter):
    chapter, snapshots = copy_of_chapter
    nb = nbformat.read(chapter.path, as_version=4)
    cell = _hidden_cell(nb, "kl_estimate")
    blob = HIDDEN_BLOB.search(cell.source).group(1)
    cases = unpack(blob)
    cases["cases"][0]["expected"]["__tensor__"][0][1] *= 1.001
    cell.source = cell.source.replace(blob, pack(cases))
    nbformat.write(nb, chapter.path)
    stale = sync([chapter], check=True, snapshot_dir=snapshots)
    assert [p for p, _ in stale] == [chapter.path]
    assert "kl_estimate (hidden).cases[0].expected" in stale[0][1][0]
    sync([chapter], snapshot_dir=snapshots)  # rewrites it ...
    assert sync([chapter], check=True, snapshot_dir=snapshots) == []  # ... and then it holds


def test_hidden_cases_are_compared_by_content_not_bytes(copy_of_chapter):
    """Other zlib bytes (another zlib, another level) of the same cases are not a change."""
    chapter, snapshots = copy_of_chapter
    nb = nbformat.read(chapter.path, as_version=4)
    cell = _hidden_cell(nb, "pass_at_k")
    blob = HIDDEN_BLOB.search(cell.source).group(1)
    other = base64.b64encode(zlib.compress(zlib.decompress(base64.b64decode(blob)), 1)).decode()
    assert other != blob
    cell.source = cell.source.replace(blob, other)
    nbformat.write(nb, chapter.path)
    before = chapter.path.read_text()
    assert sync([chapter], snapshot_dir=snapshots) == []
    assert chapter.path.read_text() == before  # nothing rewritten


def test_a_changed_case_in_the_spec_is_caught(copy_of_chapter, monkeypatch):
    chapter, snapshots = copy_of_chapter
    ex = chapter.exercise("pass_at_k")
    monkeypatch.setattr(ex, "visible", [*ex.visible[:-1], dict(n=20, c=3, k=10)])
    stale = sync([chapter], check=True, snapshot_dir=snapshots)
    assert stale and "pass_at_k (visible) inputs" in stale[0][1][0]


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
    before, _, _ = render_chapter(chapter)

    def discounted_return(rewards, gamma):
        """Drifted."""
        return 0.0

    monkeypatch.setattr(ex, "reference", discounted_return)
    after, _, reasons = render_chapter(chapter)
    assert before != after
    assert any("discounted_return (visible).cases[0].expected" in r for r in reasons)


def test_notebooks_are_stored_without_outputs():
    for chapter in CHAPTERS.values():
        nb = nbformat.read(chapter.path, as_version=4)
        assert all(not c.get("outputs") for c in nb.cells if c.cell_type == "code")
