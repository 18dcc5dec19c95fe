"""The book's executed pages, and building the book with its pages executed in parallel.

    python -m autograde book [--jobs N]     # what `make book` runs

The pages are each chapter's notebook (its nbgrader assignment) and its pages without exercises
(MyST notebooks, ``book/<chapter>/<name>.md``). A page carries its own settings in its notebook
metadata, under ``rlcourse``:

    budget_s: seconds the page may take to execute on 2 CPU cores when the book is built
    start_rank: optional; pages that have one start first, lowest first (pages whose runs later pages
        reuse through ``rlcourse.lm.run_cache``, so that those find them)

Jupyter Book 1 executes the pages one after another. ``book`` first empties Jupyter Book's execution
cache (``_build/.jupyter_cache``, jupyter-cache), executes every page into it, ``--jobs`` at a time
(default: one per CPU core; each kernel then gets one thread, so the cores are not oversubscribed),
the longest-budgeted first (after the pages with a ``start_rank``), printing each page as it finishes,
and then runs the build, which finds every page executed. A run that several pages train (the same
PPO run on several pages of Chapters 6 and 7) is trained once per build: the kernels find a folder
for ``rlcourse.lm.run_cache`` in ``RLCOURSE_RUN_CACHE``, under ``_build/`` (never in the repository or
the built site), empty before the pages run and deleted after. Every page is still executed by the
build that shows it: the execution cache is trusted only for the code it was filled with, once.
``_ext/fresh_execution.py`` empties it at the start of any build that does not find the stamp this
command writes (a plain ``jupyter-book build``, changed code in ``rlcourse/``) and deletes the stamp
when the build ends. A page that fails here is left out of the cache, so the build executes it again
and fails on it with its traceback.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from concurrent.futures import ProcessPoolExecutor, as_completed
from pathlib import Path

from autograde.grade import code_digest
from autograde.spec import REPO

CACHE = REPO / "_build" / ".jupyter_cache"
"""Jupyter Book's execution cache (its default place, myst-nb's ``nb_execution_cache_path``)."""
RUN_CACHE = CACHE.parent / ".run_cache"
"""The runs several pages share during :func:`execute_pages` (``rlcourse.lm.run_cache``), beside its
execution cache; exists only while the pages execute."""
RUN_CACHE_ENV = "RLCOURSE_RUN_CACHE"
"""``rlcourse.lm.run_cache.ENV``, named here so that this process need not import torch."""
STAMP = "rlcourse-executed.json"
"""Written into the cache by :func:`execute_pages`; read and deleted by ``_ext/fresh_execution.py``."""
ONE_THREAD = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")
PAGE_INPUTS = ((REPO / "rlcourse", "**/*"), (REPO / "requirements.txt", ""))
"""What a page's outputs depend on besides its own cells (the cache keys a page by those already): the
support package, code and shipped checkpoints, and the pinned versions; digested by
:func:`autograde.grade.code_digest`, as the grader digests what a grade depends on."""


def pages() -> dict[str, Path]:
    """Every executed page of the book: ``"<chapter>/<name>"`` -> path, in order."""
    found = {}
    for path in sorted((REPO / "book").glob("*/*")):
        if path.suffix == ".ipynb" or (path.suffix == ".md" and "kernelspec:" in path.read_text()[:600]):
            found[f"{path.parent.name}/{path.stem}"] = path
    return found


def page_settings(path: Path) -> dict:
    """The ``rlcourse`` block of a page's notebook metadata (``{}`` if it has none)."""
    import jupytext
    import nbformat

    nb = jupytext.read(path) if path.suffix == ".md" else nbformat.read(path, as_version=4)
    return dict(nb.metadata.get("rlcourse", {}))


def _read_data(path: Path) -> dict:
    """How jupyter-cache reads a page: as myst-nb reads it for the build, so the two hash alike."""
    if path.suffix == ".md":
        return {"type": "plugin", "name": "myst_nb_md"}
    return {"type": "plugin", "name": "nbformat"}


def _execute_one(cache_path: str, pk: int, timeout: int) -> tuple[int, float, str | None]:
    """Execute one page of the cache's project and cache its outputs: (pk, seconds, error or None)."""
    from jupyter_cache import get_cache
    from jupyter_cache.executors.utils import create_cache_bundle, single_nb_execution

    cache = get_cache(cache_path)
    project_nb = cache.get_project_notebook(pk)
    result = single_nb_execution(project_nb.nb, cwd=str(Path(project_nb.uri).parent), timeout=timeout,
                                 allow_errors=False)
    if result.err is not None:
        return pk, result.time, result.exc_string or repr(result.err)
    cache.cache_notebook_bundle(create_cache_bundle(project_nb, result.cwd, None, result.time, None),
                                check_validity=False, overwrite=True)
    return pk, result.time, None


def execute_pages(jobs: int | None = None, cache_path: Path = CACHE, timeout: int = 300,
                  selected: dict[str, Path] | None = None, log=print) -> dict[str, str]:
    """Empty the execution cache and execute every page into it, ``jobs`` at a time, the runs they share
    kept beside it meanwhile (:data:`RUN_CACHE`); returns ``{page: error}`` for the pages that failed
    (empty when all ran)."""
    from jupyter_cache import get_cache

    selected = pages() if selected is None else selected
    jobs = max(1, min(jobs or os.cpu_count() or 1, len(selected)))
    if jobs > 1:
        for name in ONE_THREAD:  # the kernels inherit it; a grader's or user's own setting wins
            os.environ.setdefault(name, "1")
    shutil.rmtree(cache_path, ignore_errors=True)
    cache = get_cache(str(cache_path))
    settings = {k: page_settings(path) for k, path in selected.items()}
    order = sorted(selected, key=lambda k: (settings[k].get("start_rank", float("inf")),  # reused runs first,
                                            -(settings[k].get("budget_s") or 0)))  # then the longest first
    records = {cache.add_nb_to_project(str(selected[k]), read_data=_read_data(selected[k])).pk: k for k in order}
    log(f"executing {len(records)} pages, {jobs} at a time")
    failed, start = {}, time.perf_counter()
    run_cache = cache_path.parent / RUN_CACHE.name
    shutil.rmtree(run_cache, ignore_errors=True)
    before = os.environ.get(RUN_CACHE_ENV)
    os.environ[RUN_CACHE_ENV] = str(run_cache)  # the kernels inherit it: this build's runs, shared by its pages
    try:
        with ProcessPoolExecutor(max_workers=jobs) as pool:
            futures = [pool.submit(_execute_one, str(cache_path), pk, timeout) for pk in records]
            for done, future in enumerate(as_completed(futures), 1):
                pk, seconds, error = future.result()
                page = records[pk]
                if error is not None:
                    failed[page] = error
                log(f"[{done:2d}/{len(records)}] {page:<40} {seconds:6.1f} s{'   FAILED' if error else ''}",
                    flush=True)
    finally:
        if before is None:
            del os.environ[RUN_CACHE_ENV]
        else:
            os.environ[RUN_CACHE_ENV] = before
        shutil.rmtree(run_cache, ignore_errors=True)
    log(f"all pages executed in {time.perf_counter() - start:.0f} s")
    (cache_path / STAMP).write_text(json.dumps({"digest": code_digest(PAGE_INPUTS)}))
    return failed


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m autograde book", description="Execute every page in "
                                     "parallel, then build the book into _build/html (as `make book` does).")
    parser.add_argument("--jobs", type=int, default=None, help="pages executed at once (default: CPU cores)")
    args = parser.parse_args(argv)
    start = time.perf_counter()
    failed = execute_pages(args.jobs)
    for page, error in failed.items():
        print(f"\n{page} failed (the build will execute it again and report it):\n{error[-3000:]}")
    jb = Path(sys.executable).parent / "jupyter-book"
    rc = subprocess.call([str(jb), "build", "--all", "-W", "-n", "--keep-going", str(REPO)], cwd=REPO)
    print(f"book built in {time.perf_counter() - start:.0f} s" if rc == 0 else f"book build failed (exit {rc})")
    return rc
