"""Keep every chapter notebook, its stored checks and the reference solutions in agreement.

    python -m autograde sync           # rewrite what is out of date
    python -m autograde sync --check   # exit 1 if anything is out of date (the test suite runs this)

Exercise cells in a chapter notebook are marked with tags; this tool fills in their source and their
nbgrader metadata, so an author never edits either by hand:

=======================  ====================================================================
tag                      the cell becomes
=======================  ====================================================================
``setup``                the locked setup cell (imports); collapsed in the book
``stub:NAME``            a markdown cell showing the exercise's signature and docstring with an
                         empty body; shown in the book, dropped from the student notebook
``solution:NAME``        the solution cell: the function from ``solutions/``, its body between
                         ``### BEGIN SOLUTION`` / ``### END SOLUTION``; its input is hidden in the book
``tests:NAME``           the visible test cell (checks the stored visible cases)
``hidden-tests:NAME``    the hidden test cell (packed hidden cases); removed from the book
=======================  ====================================================================
"""

from __future__ import annotations

import argparse
import ast
import inspect
import json
import sys
import textwrap
from pathlib import Path

import nbformat

from autograde.spec import REPO, Chapter, Exercise, build_cases
from rlcourse.checks.encoding import pack

SNAPSHOT_DIR = REPO / "rlcourse" / "checks" / "snapshots"
ROLES = ("stub", "solution", "tests", "hidden-tests")
BOOK_ONLY = "book-only"  # dropped from the student notebook by autograde.nbgrader_ext.RemoveBookOnlyCells


def split_function(fn) -> tuple[str, str]:
    """(header, body) of ``fn``'s source: the header is the ``def`` line(s) and the docstring."""
    src = textwrap.dedent(inspect.getsource(fn))
    node = ast.parse(src).body[0]
    if not (node.body and isinstance(node.body[0], ast.Expr) and isinstance(node.body[0].value, ast.Constant)):
        raise ValueError(f"{fn.__name__} needs a docstring: it is the exercise's statement")
    lines = src.splitlines()
    cut = node.body[0].end_lineno
    return "\n".join(lines[:cut]), "\n".join(lines[cut:])


def _indent_of(body: str) -> str:
    first = next(line for line in body.splitlines() if line.strip())
    return first[: len(first) - len(first.lstrip())]


def solution_source(fn) -> str:
    header, body = split_function(fn)
    pad = _indent_of(body)
    return f"{header}\n{pad}### BEGIN SOLUTION\n{body.rstrip()}\n{pad}### END SOLUTION"


def stub_markdown(fn) -> str:
    header, body = split_function(fn)
    pad = _indent_of(body)
    return ("```python\n" + f"{header}\n{pad}# YOUR CODE HERE\n{pad}raise NotImplementedError()\n" + "```")


def visible_test_source(chapter: Chapter, ex: Exercise) -> str:
    return f'check({ex.name}, "{chapter.id}/{ex.name}")'


def hidden_test_source(chapter: Chapter, ex: Exercise) -> str:
    blob = pack(build_cases(ex, "hidden"))
    return (f"# Hidden tests: more cases for {ex.name}, run when your notebook is graded.\n"
            "### BEGIN HIDDEN TESTS\n"
            f'check({ex.name}, "{chapter.id}/{ex.name}", hidden="{blob}")\n'
            "### END HIDDEN TESTS")


def _role(cell) -> tuple[str, str] | None:
    for tag in cell.get("metadata", {}).get("tags", []):
        role, _, name = tag.partition(":")
        if role in ROLES and name:
            return role, name
    return None


def _set_tags(cell, add: list[str]) -> None:
    tags = [t for t in cell.metadata.get("tags", []) if t not in ("remove-input", "remove-cell", "hide-input", BOOK_ONLY)]
    cell.metadata["tags"] = tags + add


def _nbgrader(grade_id: str, *, grade=False, solution=False, locked=False, points=None) -> dict:
    md = {"grade": grade, "grade_id": grade_id, "locked": locked, "schema_version": 3, "solution": solution}
    if points is not None:
        md["points"] = points
    return md


def render_chapter(chapter: Chapter) -> tuple[str, str]:
    """The chapter's notebook text and snapshot text as they should be on disk."""
    nb = nbformat.read(chapter.path, as_version=4)
    seen: dict[tuple[str, str], int] = {}
    for cell in nb.cells:
        tags = cell.get("metadata", {}).get("tags", [])
        if "setup" in tags:
            cell.metadata["nbgrader"] = _nbgrader("setup", locked=True)
            _set_tags(cell, ["hide-input"])
            cell.id = "setup"
            continue
        role = _role(cell)
        if role is None:
            continue
        kind, name = role
        seen[role] = seen.get(role, 0) + 1
        try:
            ex = chapter.exercise(name)
        except StopIteration:
            raise ValueError(f"{chapter.path.name}: tag {kind}:{name} names no exercise of {chapter.id}") from None
        if kind == "stub":
            cell.cell_type, cell.source = "markdown", stub_markdown(ex.reference)
            cell.pop("outputs", None), cell.pop("execution_count", None)
            cell.metadata.pop("nbgrader", None)
            _set_tags(cell, [BOOK_ONLY])
        elif kind == "solution":
            cell.source = solution_source(ex.reference)
            cell.metadata["nbgrader"] = _nbgrader(name, solution=True)
            _set_tags(cell, ["remove-input"])
        elif kind == "tests":
            cell.source = visible_test_source(chapter, ex)
            cell.metadata["nbgrader"] = _nbgrader(f"test_{name}", grade=True, locked=True, points=ex.points[0])
            _set_tags(cell, [])
        else:
            cell.source = hidden_test_source(chapter, ex)
            cell.metadata["nbgrader"] = _nbgrader(f"hidden_test_{name}", grade=True, locked=True,
                                                  points=ex.points[1])
            _set_tags(cell, ["remove-cell"])
        cell.id = f"{kind}-{name}".replace("_", "-")
        if cell.cell_type == "code":
            cell.outputs, cell.execution_count = [], None
    for ex in chapter.exercises:
        for kind in ROLES:
            if seen.get((kind, ex.name), 0) != 1:
                raise ValueError(f"{chapter.path.name} needs exactly one cell tagged {kind}:{ex.name}, "
                                 f"found {seen.get((kind, ex.name), 0)}")
    for cell in nb.cells:  # the notebook is stored clean: outputs come from the build
        if cell.cell_type == "code":
            cell.outputs, cell.execution_count = [], None
    nb.metadata["kernelspec"] = {"display_name": "Python 3", "language": "python", "name": "python3"}
    snapshot = {"chapter": chapter.id,
                "exercises": {ex.name: build_cases(ex, "visible") for ex in chapter.exercises}}
    return (nbformat.writes(nb) + "\n",
            json.dumps(snapshot, indent=1, sort_keys=True) + "\n")


def sync(chapters, check: bool = False) -> list[Path]:
    """Bring notebooks and snapshots up to date; return the files that were (or would be) changed."""
    stale = []
    for chapter in chapters:
        nb_text, snap_text = render_chapter(chapter)
        for path, text in ((chapter.path, nb_text), (SNAPSHOT_DIR / f"{chapter.id}.json", snap_text)):
            if not path.exists() or path.read_text() != text:
                stale.append(path)
                if not check:
                    path.write_text(text)
    return stale


def main(argv=None) -> int:
    from autograde.specs import CHAPTERS

    parser = argparse.ArgumentParser(prog="python -m autograde sync", description=__doc__.split("\n")[0])
    parser.add_argument("chapters", nargs="*", help="chapter ids (default: all)")
    parser.add_argument("--check", action="store_true", help="change nothing; exit 1 if anything is stale")
    args = parser.parse_args(argv)
    unknown = set(args.chapters) - set(CHAPTERS)
    if unknown:
        parser.error(f"unknown chapter(s) {sorted(unknown)}; known: {sorted(CHAPTERS)}")
    stale = sync([CHAPTERS[c] for c in (args.chapters or CHAPTERS)], check=args.check)
    for path in stale:
        print(f"{'stale' if args.check else 'updated'}: {path.relative_to(REPO)}")
    if args.check and stale:
        print("Run `python -m autograde sync` and commit the result.", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
