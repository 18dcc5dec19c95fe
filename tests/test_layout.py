"""A new chapter is one obvious path: every chapter folder has every part the README's "A new chapter
needs" list names, and nothing is registered that has no folder."""

import ast
import re

import pytest

from autograde.book import page_settings, pages
from autograde.specs import CHAPTERS
from tests.conftest import REPO

SPECS = sorted((REPO / "autograde" / "specs").glob("ch*.py"))
FOLDERS = sorted(p.name for p in (REPO / "book").iterdir() if p.is_dir() and not p.name.startswith((".", "_")))
TOC = set(re.findall(r"file:\s*(\S+)", (REPO / "_toc.yml").read_text()))


def test_every_chapter_folder_is_a_spec_and_every_spec_a_folder():
    assert FOLDERS and FOLDERS == sorted(CHAPTERS)


@pytest.mark.parametrize("chapter", FOLDERS)
def test_a_chapter_has_all_its_parts(chapter):
    number = chapter.split("-")[0]
    spec = CHAPTERS[chapter]
    missing = []
    if not spec.path.exists():
        missing.append(f"its notebook {spec.path.relative_to(REPO)}")
    if not list((REPO / "autograde" / "specs").glob(f"ch{number}_*.py")):
        missing.append(f"a spec autograde/specs/ch{number}_<name>.py")
    if not list((REPO / "solutions").glob(f"ch{number}_*.py")):
        missing.append(f"a reference module solutions/ch{number}_<name>.py")
    if not (REPO / "tests" / f"test_solutions_ch{number}.py").exists():
        missing.append(f"property tests tests/test_solutions_ch{number}.py")
    if not (REPO / "rlcourse" / "checks" / "snapshots" / f"{chapter}.json").exists():
        missing.append("stored cases (run `python -m autograde sync`)")
    for key, path in pages().items():
        if key.startswith(chapter + "/"):
            if f"book/{key}" not in TOC:
                missing.append(f"an entry `file: book/{key}` in _toc.yml")
            if not isinstance(page_settings(path).get("budget_s"), (int, float)):
                missing.append(f"a time budget in {path.name}'s metadata (rlcourse: budget_s)")
    assert not missing, f"{chapter} lacks: " + "; ".join(missing)


def test_the_readme_lists_what_a_new_chapter_needs():
    readme = (REPO / "README.md").read_text()
    needs = readme[readme.index("A new chapter needs"):][:1200]
    for part in ("book/", "_toc.yml", "solutions/", "autograde/specs/", "budget_s", "test_solutions_ch",
                 "autograde sync"):
        assert part in needs, part


@pytest.mark.parametrize("spec", SPECS, ids=lambda p: p.stem)
def test_a_spec_names_its_references_as_every_spec_does(spec):
    """``ref`` is always the chapter's module in ``solutions/`` and ``shared`` its module in
    ``rlcourse.reference`` (``autograde/specs/__init__.py``), never the other way round."""
    alias = {"solutions": "ref", "rlcourse.reference": "shared"}
    found = [(node.module, name.name, name.asname) for node in ast.walk(ast.parse(spec.read_text()))
             if isinstance(node, ast.ImportFrom) and node.module in alias for name in node.names]
    assert found, f"{spec.name} imports no reference module"
    for package, module, name in found:
        assert module == spec.stem, f"{spec.name} imports {package}.{module}, not its own chapter's {spec.stem}"
        assert name == alias[package], f"{spec.name} imports {package}.{module} as {name!r}, not {alias[package]!r}"


def test_the_longest_test_files_named_to_run_first_exist():
    """conftest.LONGEST_FIRST orders the suite by file name; a renamed file would silently drop out of it."""
    from tests.conftest import LONGEST_FIRST

    assert LONGEST_FIRST and all((REPO / "tests" / name).is_file() for name in LONGEST_FIRST)
    assert "--no-loadscope-reorder" in (REPO / "Makefile").read_text()  # else xdist reorders by test count
