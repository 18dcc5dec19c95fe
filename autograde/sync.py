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
``solution:NAME``        the solution cell: the reference function, its body between
                         ``### BEGIN SOLUTION`` / ``### END SOLUTION``; its input is hidden in the book
``tests:NAME``           the visible test cell (checks the stored visible cases)
``hidden-tests:NAME``    the hidden test cell (packed hidden cases); removed from the book
=======================  ====================================================================

The stored cases are the source of truth and are compared by value, never by their bytes: the last
bits of a float differ from one CPU (BLAS kernel, vector unit, thread count) to another, and so do
zlib's bytes. A stored case is up to date when its structure is exactly what the spec makes (case
count, argument names, shapes, dtypes, the names of the mistakes it fingerprints) and its inputs,
and the outputs of the reference and of every known mistake re-run on those *stored* inputs, agree
with it within a quarter of the exercise's own tolerance. Only a case that fails this is rewritten,
so running ``sync`` on another machine changes nothing, while a changed reference, spec or
corrupted file is still caught.
"""

from __future__ import annotations

import argparse
import ast
import inspect
import json
import re
import sys
import textwrap
from pathlib import Path

import nbformat
import numpy as np

from autograde.spec import REPO, Chapter, Exercise
from rlcourse.checks import adapters, error_text
from rlcourse.checks.encoding import decode, encode, pack, unpack

SNAPSHOT_DIR = REPO / "rlcourse" / "checks" / "snapshots"
ROLES = ("stub", "solution", "tests", "hidden-tests")
BOOK_ONLY = "book-only"  # dropped from the student notebook by autograde.nbgrader_ext.RemoveBookOnlyCells
TIGHTER = 0.25
"""Stored outputs must agree with a re-run within this fraction of the exercise's own tolerance."""
INPUT_RTOL, INPUT_ATOL = 1e-4, 1e-6
"""Stored inputs must agree with the spec's within these. Seeded random inputs differ from one CPU to
another by a few float32 ulps (``torch.randn``'s vectorised kernel); a changed case differs wholly.
Outputs are then recomputed on the stored inputs, so the inputs' last bits never reach a check."""
HIDDEN_BLOB = re.compile(r'hidden="([A-Za-z0-9+/=]*)"')


# ----- cases: built from the specs, compared by value ------------------------------------------
def run(fn, ex: Exercise, args):
    """Call ``fn`` on a case (keyword arguments, plain or encoded) exactly as the student's check does."""
    return adapters.get(ex.adapter)(fn, decode(encode(args)))


def difference(a, b, rtol: float, atol: float, where: str = "") -> str | None:
    """Where two encoded values differ, or ``None``.

    Structure must be identical (keys, lengths, types, dtypes, shapes, ints, strings); floats may
    differ by ``atol + rtol * |b|``.
    """
    here = where or "the value"
    if isinstance(a, dict) and isinstance(b, dict):
        if set(a) != set(b):
            return f"{here}: keys {sorted(a)} instead of {sorted(b)}"
        tag = next((t for t in ("__array__", "__tensor__") if t in a), None)
        if tag is not None:
            if (a["dtype"], a["shape"]) != (b["dtype"], b["shape"]):
                return f"{here}: {a['dtype']} {a['shape']} instead of {b['dtype']} {b['shape']}"
            x, y = np.asarray(a[tag]), np.asarray(b[tag])
            if x.dtype.kind == "f" or y.dtype.kind == "f":
                same = np.isclose(x.astype(float), y.astype(float), rtol=rtol, atol=atol, equal_nan=True).all()
            else:
                same = np.array_equal(x, y)
            return None if same else f"{here}: values differ beyond rtol={rtol:g}, atol={atol:g}"
        for k in sorted(a):
            d = difference(a[k], b[k], rtol, atol, f"{where}.{k}" if where else k)
            if d is not None:
                return d
        return None
    if isinstance(a, list) and isinstance(b, list):
        if len(a) != len(b):
            return f"{here}: {len(a)} items instead of {len(b)}"
        for i, (x, y) in enumerate(zip(a, b)):
            d = difference(x, y, rtol, atol, f"{where}[{i}]")
            if d is not None:
                return d
        return None
    if type(a) is not type(b):
        return f"{here}: {type(a).__name__} instead of {type(b).__name__}"
    if isinstance(a, float):
        return None if np.isclose(a, b, rtol=rtol, atol=atol, equal_nan=True) else f"{here}: {a!r} instead of {b!r}"
    return None if a == b else f"{here}: {a!r} instead of {b!r}"


def build_cases(ex: Exercise, kind: str, stored: dict | None = None) -> tuple[dict, str | None]:
    """The encoded cases of ``ex`` (``kind`` "visible" or "hidden"), as the checks read them.

    With ``stored`` (what is on disk), returns ``(stored, None)`` when it is up to date: its inputs
    agree with the spec's, and the reference and every known mistake, re-run on the stored inputs,
    give what it stores (all within ``TIGHTER`` times the exercise's tolerance). Otherwise returns
    freshly built cases and the first difference found.
    """
    rtol, atol = ex.rtol * TIGHTER, ex.atol * TIGHTER
    label = f"{ex.name} ({kind})"
    fresh_args = [encode(args) for args in (ex.visible if kind == "visible" else ex.hidden)]
    stored_args = [case.get("args") for case in stored["cases"]] if stored and "cases" in stored else None
    why = "nothing stored" if stored_args is None else difference(stored_args, fresh_args, INPUT_RTOL, INPUT_ATOL, f"{label} inputs")
    inputs = stored_args if why is None else fresh_args  # re-run on the stored inputs when they hold

    cases = []
    for args, plain in zip(inputs, ex.visible if kind == "visible" else ex.hidden):
        case = {"args": args, "order": list(plain), "expected": encode(run(ex.reference, ex, args))}
        if kind == "visible":  # fingerprints of known mistakes, so the check can name them
            case["mistakes"], raised = {}, {}
            for m in ex.mistakes:
                try:
                    case["mistakes"][m.name] = encode(run(m.impl, ex, args))
                except Exception as exc:  # a mistake that raises here is recognised by its error
                    raised[m.name] = error_text(exc)
            if raised:
                case["mistake_errors"] = raised
        cases.append(case)
    spec = {"cases": cases, "rtol": ex.rtol, "atol": ex.atol}
    if ex.adapter:
        spec["adapter"] = ex.adapter
    if kind == "visible":
        spec["mistake_messages"] = {m.name: m.message for m in ex.mistakes}
    if why is None:
        why = difference(stored, spec, rtol, atol, label)
    return (stored, None) if why is None else (spec, why)


# ----- cells --------------------------------------------------------------------------------------
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


STUB_NOTE = ("*The cell below checks your function against stored cases and names the likely mistake. "
             "On this page it checked the course's reference solution when the book was built; in your "
             "notebook it checks yours.*")
"""Said under every exercise statement in the book, so the check's output is read for what it is."""


def stub_markdown(fn) -> str:
    """The exercise as the book shows it: signature and docstring, an empty body (the class lets the
    page wrap long lines instead of scrolling them sideways), and what the check cell below does."""
    header, body = split_function(fn)
    pad = _indent_of(body)
    return ("```{code-block} python\n:class: exercise-stub\n\n"
            + f"{header}\n{pad}# YOUR CODE HERE\n{pad}raise NotImplementedError()\n" + "```\n\n" + STUB_NOTE)


def visible_test_source(chapter: Chapter, ex: Exercise) -> str:
    return f'check({ex.name}, "{chapter.id}/{ex.name}")'


def hidden_test_source(chapter: Chapter, ex: Exercise, blob: str) -> str:
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


def _stored_snapshot(chapter: Chapter, snapshot_dir: Path) -> dict:
    path = snapshot_dir / f"{chapter.id}.json"
    try:
        return json.loads(path.read_text()).get("exercises", {})
    except (OSError, ValueError, AttributeError):
        return {}


def _hidden_blob(cell) -> str | None:
    match = HIDDEN_BLOB.search(cell.source)
    return match.group(1) if match else None


def render_chapter(chapter: Chapter, snapshot_dir: Path = SNAPSHOT_DIR) -> tuple[str, str, list[str]]:
    """The chapter's notebook text and snapshot text as they should be on disk, and why any stored
    case had to be rebuilt (empty when every stored case is up to date)."""
    nb = nbformat.read(chapter.path, as_version=4)
    stored_visible = _stored_snapshot(chapter, snapshot_dir)
    reasons: list[str] = []
    seen: dict[tuple[str, str], int] = {}
    for cell in nb.cells:
        tags = cell.get("metadata", {}).get("tags", [])
        if cell.cell_type == "code":  # the notebook is stored clean: outputs come from the build
            cell.outputs, cell.execution_count = [], None
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
            old_blob = _hidden_blob(cell)
            try:
                old = unpack(old_blob) if old_blob else None
            except ValueError:  # not a blob this tool wrote: rebuild it
                old = None
            cases, why = build_cases(ex, "hidden", old)
            if why is not None:
                reasons.append(f"{chapter.id}/{name}: {why}")
            cell.source = hidden_test_source(chapter, ex, old_blob if why is None else pack(cases))
            cell.metadata["nbgrader"] = _nbgrader(f"hidden_test_{name}", grade=True, locked=True,
                                                  points=ex.points[1])
            _set_tags(cell, ["remove-cell"])
        cell.id = f"{kind}-{name}".replace("_", "-")
    for ex in chapter.exercises:
        for kind in ROLES:
            if seen.get((kind, ex.name), 0) != 1:
                raise ValueError(f"{chapter.path.name} needs exactly one cell tagged {kind}:{ex.name}, "
                                 f"found {seen.get((kind, ex.name), 0)}")
    nb.metadata["kernelspec"] = {"display_name": "Python 3", "language": "python", "name": "python3"}
    visible = {}
    for ex in chapter.exercises:
        visible[ex.name], why = build_cases(ex, "visible", stored_visible.get(ex.name))
        if why is not None:
            reasons.append(f"{chapter.id}/{ex.name}: {why}")
    snapshot = {"chapter": chapter.id, "exercises": visible}
    return (nbformat.writes(nb) + "\n", json.dumps(snapshot, indent=1, sort_keys=True) + "\n", reasons)


def sync(chapters, check: bool = False, snapshot_dir: Path = SNAPSHOT_DIR) -> list[tuple[Path, list[str]]]:
    """Bring notebooks and snapshots up to date; return the files that were (or would be) changed,
    each with the reasons found (an empty list: the cells' text or metadata changed)."""
    stale = []
    for chapter in chapters:
        nb_text, snap_text, reasons = render_chapter(chapter, snapshot_dir)
        for path, text in ((chapter.path, nb_text), (snapshot_dir / f"{chapter.id}.json", snap_text)):
            if not path.exists() or path.read_text() != text:
                stale.append((path, [r for r in reasons if ("(hidden)" in r) == (path.suffix == ".ipynb")]))
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
    for path, reasons in stale:
        print(f"{'stale' if args.check else 'updated'}: {path.relative_to(REPO)}")
        for reason in reasons[:5]:
            print(f"  {reason}")
    if args.check and stale:
        print("Run `python -m autograde sync` and commit the result.", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
