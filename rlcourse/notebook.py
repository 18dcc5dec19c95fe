"""What every chapter's setup cell calls once: quiet, deterministic, same look."""

from __future__ import annotations

import logging
import os
import re
import sys
import time
import warnings

_started: float | None = None
"""When :func:`setup_notebook` ran in this kernel (for :func:`build_record`)."""


def setup_notebook(seed: int = 0):
    """Prepare a chapter notebook and return ``np.random.default_rng(seed)``.

    * Seeds Python, NumPy and PyTorch if imported (:func:`rlcourse.set_seed`).
    * Keeps everything offline (``HF_HUB_OFFLINE=1``) and silences the stderr logging of
      transformers and of warnings: nbgrader scores a test cell 0 when anything reaches stderr.
    * Applies the course's plot style.
    * Runs PyTorch on one thread: the course's models are too small to gain from more, and several
      notebooks often run at once (grading, tests, the book build), where threads that spin-wait for
      each other on shared cores slow everything down many times over.
    """
    global _started
    _started = time.monotonic()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    warnings.filterwarnings("ignore", category=DeprecationWarning)
    warnings.filterwarnings("ignore", category=FutureWarning)
    warnings.filterwarnings("ignore", category=UserWarning)
    for name in ("transformers", "datasets", "torch"):
        logging.getLogger(name).setLevel(logging.ERROR)
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")  # transformers' bars ("Loading weights") use stderr
    from rlcourse.plotting import use_course_style
    from rlcourse.seeding import set_seed

    use_course_style()
    torch = sys.modules.get("torch")  # imported by the chapters that use it, before this call
    if torch is not None:
        torch.set_num_threads(1)
    return set_seed(seed)


def progress(iterable, desc: str = "", total: int | None = None):
    """A tqdm progress bar written to stdout (stderr would look like an error in the book and in grading)."""
    import sys

    from tqdm import tqdm

    return tqdm(iterable, desc=desc, total=total, file=sys.stdout, ncols=80, mininterval=2.0, ascii=True)


def show_source(obj):
    """The source code of a function or class of the support package, shown highlighted in the notebook.

    What a chapter teaches stays visible in its page even when the code lives once, in the package.
    """
    import inspect

    from IPython.display import Code

    return Code(inspect.getsource(obj), language="python")


def count_claims(sources) -> tuple[int, int]:
    """``(asserts, checks)`` in cell sources: ``assert`` statements outside function bodies (each ran
    when its cell ran) and calls of ``check(...)`` (an exercise check, visible or hidden)."""
    import ast

    asserts = checks = 0

    def visit(node, in_function: bool):
        nonlocal asserts, checks
        for child in ast.iter_child_nodes(node):
            inner = in_function or isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda))
            if isinstance(child, ast.Assert) and not in_function:
                asserts += 1
            if (isinstance(child, ast.Call) and isinstance(child.func, ast.Name) and child.func.id == "check"
                    and not in_function):
                checks += 1
            visit(child, inner)

    for source in sources:
        try:
            visit(ast.parse(source), False)
        except SyntaxError:  # IPython magics; the course's pages have none
            continue
    return asserts, checks


def build_record():
    """The note that ends every page of the book: when the page was executed, how long it took, and
    how many of its measured claims and exercise checks that run re-checked.

    A measured claim is an ``assert`` in the page's cells: the book is built with ``-W``, so one that
    failed would have stopped the build, and every claim counted here held on this run. Counted from
    the cells this kernel executed (IPython's input history), so nothing is counted that did not run.
    """
    import datetime
    import importlib.metadata
    import platform

    from IPython import get_ipython
    from IPython.display import Markdown

    shell = get_ipython()
    sources = shell.user_ns.get("In", [])[1:] if shell is not None else []
    asserts, checks = count_claims(sources[:-1])  # the last input is the cell calling this
    when = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d at %H:%M UTC")
    took = f" in {time.monotonic() - _started:.0f} s" if _started is not None else ""
    try:  # the installed version, without importing torch into a page that has no use for it
        versions = f"Python {platform.python_version()}, PyTorch {importlib.metadata.version('torch').split('+')[0]}"
    except importlib.metadata.PackageNotFoundError:
        versions = f"Python {platform.python_version()}"
    claims = f"{asserts} measured claim{'s' * (asserts != 1)}"
    exercises = len(set(re.findall(r'^\s*check\(\w+, "([\w.-]+/\w+)"', "\n".join(sources[:-1]), re.M)))
    exercise = (f" and the reference solutions of its {exercises} exercise{'s' * (exercises != 1)} "
                f"({checks} check{'s' * (checks != 1)}, visible and hidden cases)") if checks else ""
    return Markdown(
        f"**Build record.** This page was executed on {when}{took} of wall time on the machine that built "
        f"the book, which may have been running other work ({versions}, {os.cpu_count()} CPU cores). That run "
        f"re-checked {claims} of the page (the `assert` statements in its cells){exercise}; a claim that had "
        "failed would have stopped the build.")
