"""Every ``>>>`` example an exercise statement shows runs, and prints what it shows.

The examples live in the reference docstrings (``solutions/chNN_*.py`` and
``rlcourse/reference/chNN_*.py``); ``python -m autograde sync`` copies each docstring into its chapter
notebook as the exercise's statement. An example runs here as a student would run it in that notebook,
with no more than the function itself and the modules the notebook's setup cell imports with a plain
``import`` (``np``, ``torch``, ...): anything else it uses, it imports or builds itself. A warning
counts as a failure. The examples run once with this machine's floating-point kernels and once with
others (``OTHER_KERNELS``), so a float must be printed rounded enough to hold on another CPU.
"""

from __future__ import annotations

import ast
import doctest
import importlib
import inspect
import os
import subprocess
import sys
import warnings
from functools import cache
from pathlib import Path

import nbformat
import pytest

REPO = Path(__file__).resolve().parent.parent
FOLDERS = {"solutions": "solutions", "rlcourse/reference": "rlcourse.reference"}
"""Where the reference implementations live: folder -> package."""


def reference_modules() -> list[str]:
    """Dotted names of every chapter module of references, e.g. ``solutions.ch01_mdp``."""
    return [f"{package}.{path.stem}" for folder, package in FOLDERS.items()
            for path in sorted((REPO / folder).glob("ch[0-9][0-9]_*.py"))]


def chapter_of(module: str):
    from autograde.specs import CHAPTERS

    number = module.rsplit(".", 1)[1][2:4]  # "solutions.ch06_rlhf" -> "06"
    return next(c for cid, c in CHAPTERS.items() if cid.startswith(number + "-"))


@cache
def notebook_modules(chapter_id: str) -> dict:
    """The names that the chapter notebook's setup cell binds with plain ``import`` statements."""
    from autograde.specs import CHAPTERS

    nb = nbformat.read(CHAPTERS[chapter_id].path, as_version=4)
    setup = next(c for c in nb.cells if "setup" in c.metadata.get("tags", []))
    names = {}
    for node in ast.parse(setup.source).body:
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.asname:  # import torch.nn.functional as F
                    names[alias.asname] = importlib.import_module(alias.name)
                else:  # import a.b binds a
                    top = alias.name.split(".")[0]
                    importlib.import_module(alias.name)
                    names[top] = importlib.import_module(top)
    return names


def functions_of(module) -> list:
    """The public functions a module defines (not those it imports)."""
    return [fn for name, fn in inspect.getmembers(module, inspect.isfunction)
            if fn.__module__ == module.__name__ and not name.startswith("_")]


def example_problems(fn, names: dict) -> list[str]:
    """What is wrong with ``fn``'s docstring examples, run with ``names`` and ``fn`` as the only globals
    (an empty list when there are examples and every one prints what it shows)."""
    globs = {**names, fn.__name__: fn}
    tests = doctest.DocTestFinder(recurse=False).find(fn, fn.__name__, globs=globs)
    report: list[str] = []
    runner = doctest.DocTestRunner(verbose=False, optionflags=0)
    attempted = failed = 0
    for test in tests:
        with warnings.catch_warnings():
            warnings.simplefilter("error")  # an example that warns is not what the student should see
            result = runner.run(test, out=report.append, clear_globs=True)
        attempted, failed = attempted + result.attempted, failed + result.failed
    if attempted == 0:
        return [f"{fn.__module__}.{fn.__name__}: its docstring shows no example"]
    return [f"{fn.__module__}.{fn.__name__}: {failed} of {attempted} examples fail\n" + "".join(report)] if failed else []


def module_problems(module_name: str) -> list[str]:
    module = importlib.import_module(module_name)
    names = notebook_modules(chapter_of(module_name).id)
    problems = []
    for fn in functions_of(module):
        problems += example_problems(fn, names)
    return problems


def main() -> int:
    """Run every example; print what fails. Used to run them under other floating-point kernels."""
    problems = [p for m in reference_modules() for p in module_problems(m)]
    print("\n".join(problems) or f"every example of {len(reference_modules())} modules holds")
    return 1 if problems else 0


# ----- the tests --------------------------------------------------------------------------------
def test_there_are_modules_to_check():
    assert len(reference_modules()) >= 7


@pytest.mark.parametrize("module_name", reference_modules())
def test_every_example_runs_and_is_true(module_name):
    problems = module_problems(module_name)
    assert not problems, "\n\n".join(problems)


def test_the_examples_hold_with_other_floating_point_kernels():
    from tests.conftest import OTHER_KERNELS

    proc = subprocess.run([sys.executable, "-c", "import sys; from tests.test_docstring_examples import main; "
                           "sys.exit(main())"], cwd=REPO, capture_output=True, text=True,
                          env={**os.environ, **OTHER_KERNELS})
    assert proc.returncode == 0, proc.stdout + proc.stderr


def _stub_docstring(chapter, name: str) -> str:
    nb = nbformat.read(chapter.path, as_version=4)
    cell = next(c for c in nb.cells if f"stub:{name}" in c.metadata.get("tags", []))
    code = cell.source.split(":class: exercise-stub\n", 1)[1].split("```", 1)[0]
    return ast.get_docstring(ast.parse(code).body[0])


def test_every_exercise_statement_shows_its_reference_examples():
    """Each exercise's reference is in a module checked above, and the statement in its notebook shows
    exactly the reference's examples (``autograde sync`` copies them; this says so directly)."""
    from autograde.specs import CHAPTERS

    checked = {(m, fn.__name__) for m in reference_modules() for fn in functions_of(importlib.import_module(m))}
    parser = doctest.DocTestParser()
    for chapter in CHAPTERS.values():
        for ex in chapter.exercises:
            assert (ex.reference.__module__, ex.name) in checked, f"{ex.name}'s reference is not in {list(FOLDERS)}"
            shown = [(e.source, e.want) for e in parser.get_examples(_stub_docstring(chapter, ex.name))]
            written = [(e.source, e.want) for e in parser.get_examples(inspect.getdoc(ex.reference))]
            assert shown and shown == written, f"{chapter.id}/{ex.name}: the statement's examples are not the reference's"


# ----- the check itself can fail ---------------------------------------------------------------
def _wrong_output():
    """
    >>> 1 + 1
    3
    """


def _undefined_name():
    """
    >>> env.reset()
    0
    """


def _module_not_imported_by_the_notebook():
    """
    >>> np.zeros(1)
    array([0.])
    """


def _warns():
    """
    >>> import warnings; warnings.warn("careful")
    """


def _no_example():
    """Says what it does, shows nothing."""


def _fine():
    """
    >>> _fine.__name__
    '_fine'
    """


@pytest.mark.parametrize("fn", [_wrong_output, _undefined_name, _module_not_imported_by_the_notebook, _warns,
                                _no_example])
def test_a_wrong_missing_or_unrunnable_example_is_caught(fn):
    problems = example_problems(fn, {})
    assert len(problems) == 1 and fn.__name__ in problems[0]


def test_a_true_example_passes():
    assert example_problems(_fine, {}) == []


def test_only_plain_imports_of_the_setup_cell_are_given():
    names = notebook_modules("01-mdp")
    assert "np" in names and "plt" in names
    assert "GridWorld" not in names and "check" not in names  # from-imports: an example imports them itself
