"""The fast grader: every submission of a chapter, in parallel on Dask, into the course's gradebook.

    python -m autograde grade CHAPTER [--workers N] [--scheduler ADDRESS] [--force] [--timeout S]

Grades ``autograde/submitted/*/CHAPTER/`` with exactly the scores ``nbgrader autograde CHAPTER
--create`` gives, so ``nbgrader generate_feedback`` and ``nbgrader export`` work as before. What
changes is where the time goes:

- **Only what the grades need runs** (``autograde/worker.py``): the cells the graded checks depend
  on (:mod:`autograde.plan`), in a light cell runner inside the same bubblewrap sandbox as nbgrader's
  kernels, or the whole notebook through nbgrader's ``Execute`` when that run is not clean.
- **In parallel, on Dask distributed.** Runs are Dask tasks: on a local cluster (one worker per core)
  by default, or on the cluster whose scheduler ``--scheduler`` names (started by your site, e.g.
  with dask-jobqueue on Slurm/PBS or dask-kubernetes; its workers need this repository's
  environment and ``PYTHONPATH`` set to the repository). Workers see cell sources, never the
  gradebook.
- **nbgrader scores, one writer, nothing lost** (``autograde/store.py``). This process grades each
  run with nbgrader's own preprocessors (the workers' outputs in place of ``Execute``:
  ``autograde.nbgrader_ext.ReplayExecution``) into a working copy of the gradebook, and merges each
  submission into ``gradebook.db`` in one transaction that touches only what autograding owns: manual
  grades entered in formgrader meanwhile, new students, other chapters graded meanwhile all stay.
  Interrupt a batch and run the command again: every submission merged before the interrupt is
  complete, nothing of the one in progress is there, and the rerun skips submissions already graded
  whose fingerprint (:func:`code_digest` and the submission's files) is unchanged.

This module is the orchestration and the command line; :mod:`autograde.speedups` holds what makes
nbgrader's own steps cheaper in this process.

At the end it prints a table: student, score, and what went wrong (invalid notebook, crash, timeout,
tampering detected), and exits 1 if any submission could not be graded.
"""

from __future__ import annotations

import argparse
import collections
import contextlib
import copy
import hashlib
import json
import os
import platform
import sys
import time
from pathlib import Path

from autograde.store import STATE_TABLE, Store  # noqa: F401 (STATE_TABLE: the fingerprints' table)
from autograde.worker import close_fork_servers, execute

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
GRADE_INPUTS = ((REPO / "rlcourse", "**/*"), (HERE, "**/*.py"), (REPO / "requirements.txt", ""))
"""Everything a grade can depend on besides the submission and the chapter's notebook, as (folder or
file, pattern): the whole support package (environments, models, checkpoints, checks and their stored
cases), the grader's code and specs (its Python files only: the course folder's gradebook, releases,
submissions and exports live in ``autograde/`` too and change with every run), and the pinned
versions of what runs them."""


def code_digest(inputs=GRADE_INPUTS) -> str:
    """A digest of every file ``inputs`` name (a folder or file, or a (folder, glob pattern) pair; compiled
    bytecode, hidden and generated folders aside) and of the Python and package versions that run them:
    a change to any of them regrades every submission."""
    from importlib import metadata

    h = hashlib.sha256(f"{platform.python_version()} {sys.platform}".encode())
    for package in ("nbgrader", "numpy", "torch", "transformers", "tokenizers", "ipykernel", "ipython"):
        with contextlib.suppress(metadata.PackageNotFoundError):
            h.update(f"{package}=={metadata.version(package)};".encode())
    for entry in inputs:
        root, pattern = (Path(entry[0]), entry[1]) if isinstance(entry, tuple) else (Path(entry), "**/*")
        files = [root] if root.is_file() else sorted(root.glob(pattern))
        for path in files:
            parts = path.relative_to(root.parent).parts
            if (path.is_symlink() or not path.is_file() or path.suffix == ".pyc"
                    or any(p in ("__pycache__", "release", "submitted", "autograded", "feedback", "reports",
                                 "downloaded") or p.startswith(".") for p in parts)):
                continue
            h.update("/".join(parts).encode() + b"\0" + path.read_bytes() + b"\0")
    return h.hexdigest()


def _sanitizing(config) -> list:
    """nbgrader's own sanitizing steps of ``nbgrader autograde`` (as configured), then the course's steps
    that come before execution (``ReportInsteadOfCheck``): what turns a submission into what runs."""
    from nbgrader.converters import Autograde
    from nbgrader.preprocessors import Execute

    sanitize = (config.Autograde.sanitize_preprocessors if "sanitize_preprocessors" in config.Autograde
                else Autograde.class_traits()["sanitize_preprocessors"].default())
    steps = list(config.Autograde.autograde_preprocessors)
    return [*sanitize, *steps[:steps.index(Execute)]]


class Grader:
    """Grades one chapter's submissions from a course folder into its gradebook."""

    def __init__(self, chapter: str, root: Path = HERE, timeout: int | None = None, log=print):
        from nbgrader.coursedir import CourseDirectory
        from traitlets.config.loader import PyFileConfigLoader

        self.chapter, self.root, self.log = chapter, Path(root).resolve(), log
        self.config = PyFileConfigLoader("nbgrader_config.py", path=str(HERE)).load_config()
        self.config.CourseDirectory.root = str(self.root)
        if timeout is not None:
            self.config.Execute.timeout = timeout
        coursedir = CourseDirectory(config=self.config)
        if not coursedir.db_url.startswith("sqlite:///"):
            raise SystemExit("the fast grader writes SQLite gradebooks only (CourseDirectory.db_url)")
        self.gradebook = Path(coursedir.db_url.removeprefix("sqlite:///"))
        self.store = Store(self.gradebook, chapter)
        self.source_dir = Path(coursedir.source_directory)
        self.submitted = self.root / coursedir.submitted_directory
        self.release = self.root / coursedir.release_directory / chapter
        self.failures: dict[str, str] = {}
        """nbgrader's log for each submission it could not grade."""
        self._code = None
        self._locked = None
        self._modules = None

    def fingerprint(self, folder: Path) -> str:
        """What a grade depends on: the submission's files, the chapter's source notebook and
        :func:`code_digest` (computed once per grader)."""
        if self._code is None:
            self._code = code_digest()
        h = hashlib.sha256(f"{self.chapter}\0{self._code}".encode())
        for path in sorted(folder.rglob("*")) + sorted((self.source_dir / self.chapter).glob("*.ipynb")):
            if path.is_file() and not path.is_symlink():  # a link could point anywhere (/dev/zero)
                h.update(str(path.relative_to(path.parent.parent)).encode() + b"\0" + path.read_bytes() + b"\0")
        return h.hexdigest()

    # preparing the runs
    def _release_sources(self) -> set[str]:
        import nbformat

        sources = set()
        for path in sorted((self.source_dir / self.chapter).glob("*.ipynb")) + sorted(self.release.glob("*.ipynb")):
            for cell in nbformat.read(path, as_version=4).cells:
                if cell.cell_type == "code" and not cell.metadata.get("nbgrader", {}).get("solution"):
                    sources.add(cell.source)
        return sources

    def prepare(self, student: str, release_sources: set[str]) -> tuple[dict | None, list[str]]:
        """The run of one submission (``None`` for an unreadable notebook) and any tampering seen."""
        import nbformat

        from autograde.plan import plan

        folder = self.submitted / student / self.chapter
        paths = sorted(folder.glob("*.ipynb"))
        if len(paths) != 1:
            return None, []
        try:
            nb = nbformat.read(paths[0], as_version=4)
        except Exception:
            return None, []
        tampering = self._edited_locked_cells(nb)
        resources = {"nbgrader": {"student": student, "assignment": self.chapter, "notebook": paths[0].stem,
                                  "db_url": f"sqlite:///{self.store.work}"}}
        try:  # what `nbgrader autograde` runs before executing the notebook
            for step in _sanitizing(self.config):
                nb, resources = step(config=self.config).preprocess(nb, resources)
        except Exception:
            return None, tampering
        execute = {k: v for k, v in self.config.Execute.items()}
        return {"student": student, "chapter": self.chapter, "notebook": json.loads(json.dumps(nb)),
                "plan": [list(step) for step in plan(nb.cells, release_sources)], "execute": execute,
                "preload": self._preload(release_sources)}, tampering

    def _preload(self, release_sources: set[str]) -> list[str]:
        """What the fork server imports once per chapter: the modules the instructor's own cells in the
        chapter notebook's plan import (a student who imports more pays for it in their own run)."""
        import nbformat

        from autograde.plan import imported_modules, plan

        if self._modules is None:
            sources = set()
            for path in sorted((self.source_dir / self.chapter).glob("*.ipynb")):
                cells = nbformat.read(path, as_version=4).cells
                sources.update(code for i, code in plan(cells, release_sources)
                               if not cells[i].metadata.get("nbgrader", {}).get("solution"))
            self._modules = list(imported_modules(frozenset(sources)))
        return self._modules

    def _edited_locked_cells(self, nb) -> list[str]:
        if self._locked is None:
            self._locked = locked_cells(self.release)
        return edited_locked_cells(nb.cells, self._locked)

    # grading
    def run(self, client, force: bool = False, progress: bool = True, after_each=None) -> list[dict]:
        """Grade every submission of the chapter on the Dask ``client``; a row per student.
        ``after_each(student)`` is called after each submission is merged into the gradebook."""
        from dask.distributed import as_completed
        from nbgrader.apps import NbGraderAPI
        from nbgrader.coursedir import CourseDirectory
        from nbgrader.preprocessors import Execute
        from tqdm.auto import tqdm

        from autograde.nbgrader_ext import ReplayExecution
        from autograde import speedups

        with self.store.open(), contextlib.ExitStack() as batch:
            speedups.prepare_once(self.store.work)
            batch.callback(speedups.release)
            batch.callback(client.run, close_fork_servers)
            students = sorted(p.parent.name for p in self.submitted.glob(f"*/{self.chapter}") if p.is_dir())
            done = {} if force else self.store.fingerprints()
            fingerprints = {s: self.fingerprint(self.submitted / s / self.chapter) for s in students}
            todo = [s for s in students if done.get(s) != fingerprints[s]]
            rows = {s: {"student": s, "status": "unchanged, skipped"} for s in students if s not in todo}

            config = copy.deepcopy(self.config)  # the course's, grading into the working copy
            steps = list(config.Autograde.autograde_preprocessors)
            config.Autograde.autograde_preprocessors = [ReplayExecution if s is Execute else s for s in steps]
            config.CourseDirectory.db_url = f"sqlite:///{self.store.work}"
            api = NbGraderAPI(CourseDirectory(config=config), config=config)

            release_sources = self._release_sources()
            futures, notes = {}, {}
            bar = tqdm(total=len(todo), unit="submission", disable=not progress, desc=f"grading {self.chapter}")
            try:
                for student in todo:
                    job, notes[student] = self.prepare(student, release_sources)
                    if job is None:
                        self._grade(api, student, None, notes[student], rows, fingerprints[student])
                        bar.update()
                        after_each and after_each(student)
                        continue
                    futures[client.submit(execute, job, key=f"grade-{self.chapter}-{student}-{fingerprints[student][:12]}",
                                          pure=False)] = student
                for future in as_completed(list(futures)):
                    student = futures.pop(future)
                    try:
                        result = future.result()
                    except Exception as exc:  # the worker itself failed (not the submission): not graded
                        rows[student] = {"student": student, "status": f"not graded: worker error {type(exc).__name__}: {exc}"}
                    else:
                        self._grade(api, student, result, notes[student], rows, fingerprints[student])
                    bar.update()
                    after_each and after_each(student)
            finally:
                bar.close()
                for future in futures:
                    future.cancel()
        return [rows[s] for s in students]

    def _grade(self, api, student, result, notes, rows, fingerprint) -> None:
        from autograde.nbgrader_ext import ReplayExecution

        ReplayExecution.results[student] = result
        try:
            outcome = api.autograde(self.chapter, student, force=True, create=True)
        finally:
            ReplayExecution.results.pop(student, None)
        problems = list(notes)
        if result is None:
            problems.insert(0, "invalid notebook")
        else:
            problems += _problems(result)
        if not outcome["success"]:
            self.failures[student] = (outcome.get("log") or "") + (outcome.get("error") or "")
            if result is not None and not result.get("error"):
                problems.append("grading error (nbgrader's log is printed below the table)")
        self.store.commit(student, fingerprint)
        if result is not None and result.get("fallback"):
            problems.append(f"whole notebook run ({result['fallback']})")
        rows[student] = {"student": student, "status": "; ".join(problems) or "ok",
                         "seconds": None if result is None else result["seconds"],
                         "worker": None if result is None else result["worker"]}


def locked_cells(release: Path) -> dict[str, str]:
    """grade_id -> source of every locked cell of the released notebook in the folder ``release``."""
    released = sorted(Path(release).glob("*.ipynb"))
    if not released:
        return {}
    cells = json.loads(released[0].read_text())["cells"]  # written by nbgrader: no need to validate it
    return {c["metadata"]["nbgrader"]["grade_id"]: "".join(c["source"]) for c in cells
            if c.get("metadata", {}).get("nbgrader", {}).get("locked")}


def edited_locked_cells(cells: list, locked: dict[str, str]) -> list[str]:
    """What a submission's ``cells`` (as nbformat reads them, or as plain JSON) changed of the released
    ``locked`` cells (:func:`locked_cells`): "locked cell ID edited" or "removed"."""
    def grade_id(cell):  # a submission's metadata may be anything
        meta = cell.get("metadata") if isinstance(cell, dict) else None
        grading = meta.get("nbgrader") if isinstance(meta, dict) else None
        return grading.get("grade_id") if isinstance(grading, dict) else None

    def source(cell) -> str:
        text = cell.get("source", "") if isinstance(cell, dict) else ""
        return "".join(map(str, text)) if isinstance(text, list) else text

    seen = {grade_id(c): source(c) for c in cells}
    changed = sorted(k for k, src in locked.items() if seen.get(k) != src)
    return [f"locked cell {k} {'removed' if k not in seen else 'edited'}" for k in changed]


def _problems(result: dict) -> list[str]:
    from rlcourse.checks import REPORT_MIME

    out = []
    if result.get("error"):
        out.append(f"crash ({result['error'].splitlines()[0][:80]})")
    outputs = [o for cell in result["cells"].values() for o in cell["outputs"]]
    if any(o.get("output_type") == "error" and o.get("ename") == "CellTimeoutError" for o in outputs) or \
            "ran past" in result.get("fallback", ""):
        out.append("timeout")
    reports = [o["data"][REPORT_MIME] for o in outputs if REPORT_MIME in o.get("data", {})]
    if any(not isinstance(r, dict) or not isinstance(r.get("results"), list) for r in reports):
        out.append("tampering detected: a forged check report")
    return out


def scores(gradebook: Path, chapter: str) -> dict:
    """student -> (score, max score, needs manual grading) for every graded submission of ``chapter``."""
    from nbgrader.api import Gradebook, MissingEntry

    out = {}
    with Gradebook(f"sqlite:///{gradebook}") as gb:
        for student in gb.students:
            try:
                sub = gb.find_submission(chapter, student.id)
            except MissingEntry:
                continue
            out[student.id] = (sub.score, sub.max_score, sub.needs_manual_grade)
    return out


def table(rows: list[dict], grades: dict) -> str:
    lines = [f"{'student':<24} {'score':>12}  status", f"{'-' * 24} {'-' * 12}  {'-' * 30}"]
    for row in rows:
        score, max_score, manual = grades.get(row["student"], (None, None, False))
        shown = "-" if score is None else f"{score:g} / {max_score:g}"
        status = row["status"] + ("; needs manual grading" if manual else "")
        lines.append(f"{row['student']:<24} {shown:>12}  {status}")
    return "\n".join(lines)


@contextlib.contextmanager
def dask_client(workers: int | None = None, scheduler: str | None = None):
    """A Dask client: on the cluster at ``scheduler``, or on a local cluster with ``workers`` workers
    (default: one per core) that run as threads of this process (each submission runs in its own
    sandboxed process anyway)."""
    from dask.distributed import Client, LocalCluster

    if scheduler:
        with Client(scheduler) as client:
            yield client
        return
    n = workers or os.cpu_count() or 1
    with LocalCluster(n_workers=n, threads_per_worker=1, processes=False, dashboard_address=None) as cluster, \
            Client(cluster) as client:
        yield client


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m autograde grade", description=__doc__.split("\n")[0])
    parser.add_argument("chapter", help="the chapter (nbgrader assignment), e.g. 01-mdp")
    parser.add_argument("--workers", type=int, help="local workers (default: one per core)")
    parser.add_argument("--scheduler", help="address of a running Dask scheduler, e.g. tcp://10.0.0.5:8786")
    parser.add_argument("--root", type=Path, default=HERE, help="the nbgrader course folder (default: autograde/)")
    parser.add_argument("--force", action="store_true", help="grade again submissions already graded and unchanged")
    parser.add_argument("--timeout", type=int, help="seconds a cell may run (default: the course's Execute.timeout)")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    args = parser.parse_args(argv)
    if args.workers is not None and args.scheduler:
        parser.error("--workers applies to the local cluster only")
    if args.workers is not None and args.workers < 1:
        parser.error("--workers must be at least 1")
    if args.timeout is not None and args.timeout < 1:
        parser.error("--timeout must be at least 1 second")
    grader = Grader(args.chapter, args.root, timeout=args.timeout)
    start = time.perf_counter()
    with dask_client(args.workers, args.scheduler) as client:
        rows = grader.run(client, force=args.force, progress=not args.quiet)
    print(table(rows, scores(grader.gradebook, args.chapter)))
    for student, log in grader.failures.items():
        print(f"\n----- nbgrader's log for {student} -----\n{log.strip()}", file=sys.stderr)
    workers = collections.Counter(r["worker"] for r in rows if r.get("worker"))
    for worker, n in sorted(workers.items()):
        print(f"ran on {worker}: {n} submission{'s' * (n != 1)}")
    print(f"{sum(r['status'] != 'unchanged, skipped' for r in rows)} graded, "
          f"{sum(r['status'] == 'unchanged, skipped' for r in rows)} unchanged, in {time.perf_counter() - start:.1f} s")
    return 1 if any(r["status"].startswith(("invalid", "not graded", "grading error")) for r in rows) else 0


if __name__ == "__main__":
    sys.exit(main())
