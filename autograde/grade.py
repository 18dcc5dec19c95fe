"""The fast grader: every submission of a chapter, in parallel on Dask, into the course's gradebook.

    python -m autograde grade CHAPTER [--workers N] [--scheduler ADDRESS] [--force] [--timeout S]

Grades ``autograde/submitted/*/CHAPTER/`` with exactly the scores ``nbgrader autograde CHAPTER
--create`` gives, so ``nbgrader generate_feedback`` and ``nbgrader export`` work as before. What
changes is where the time goes:

- **Only what the grades need runs.** Plain nbgrader re-runs every demonstration of the chapter
  (training runs, plots) for every student. Here each submission runs the cells the graded checks
  depend on (:mod:`autograde.plan`) in a light cell runner (``autograde/runner.py``) inside the same
  bubblewrap sandbox as nbgrader's kernels; a cell past the time limit is interrupted as nbgrader
  interrupts it. If that run is not clean (a cell did not stop when interrupted, the process died, a
  name was missing, the runner's output was not well-formed), the submission's whole notebook runs
  through nbgrader's own ``Execute`` with the sandboxed kernel instead, so unusual submissions are
  graded exactly as plain nbgrader grades them.
- **In parallel, on Dask distributed.** Runs are Dask tasks: on a local cluster (one worker per core)
  by default, or on the cluster whose scheduler ``--scheduler`` names (started by your site, e.g.
  with dask-jobqueue on Slurm/PBS or dask-kubernetes; its workers need this repository's
  environment and ``PYTHONPATH`` set to the repository). Workers see cell sources, never the
  gradebook.
- **One writer, never half-written.** Only this process writes the gradebook. Each run grades into
  a working copy (nbgrader's own preprocessors, with the workers' outputs in place of ``Execute``:
  ``autograde.nbgrader_ext.ReplayExecution``), and after every submission the copy replaces
  ``gradebook.db`` atomically (SQLite backup, then rename). Interrupt a batch and run the command
  again: the gradebook holds every submission graded before the interrupt, complete, and nothing
  of the one in progress; the rerun skips the submissions already graded and unchanged.

At the end it prints a table: student, score, and what went wrong (invalid notebook, crash, timeout,
tampering detected), and exits 1 if any submission could not be graded.
"""

from __future__ import annotations

import argparse
import collections
import contextlib
import fcntl
import hashlib
import json
import os
import queue
import socket
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
RUNNER = HERE / "runner.py"
STARTUP_S = 120
"""How long the sandboxed runner may take to start (Python, IPython) before its first cell."""
INTERRUPT_GRACE_S = 10
"""How long an interrupted cell may take to stop before the runner is killed."""
MAX_CHANNEL_BYTES = 256 * 2**20
"""A runner that sends more than this (a flood written past the output cap) is stopped."""
STATE_TABLE = "rlcourse_fast_grader"


# ----- the workers' side ------------------------------------------------------------------------------
def execute(job: dict) -> dict:
    """Run one submission (a Dask task). Returns the outputs of the cells that ran, by index.

    ``job``: ``student``, ``chapter``, ``notebook`` (the notebook as nbgrader would execute it, JSON),
    ``plan`` (``[[index, code]]``), ``execute`` (the course's ``Execute`` settings).
    """
    start = time.perf_counter()
    result, why = _run_planned(job)
    if result is None:
        result = _run_notebook(job)
        result["fallback"] = why
    result["seconds"] = time.perf_counter() - start
    result["worker"] = f"worker pid {os.getpid()} on {socket.gethostname()}"
    result["sources"] = {i: _digest(src) for i, src in _code_cells(job["notebook"])}
    return result


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def _code_cells(notebook: dict):
    return [(i, c["source"]) for i, c in enumerate(notebook["cells"]) if c["cell_type"] == "code"]


@contextlib.contextmanager
def _scratch(chapter: str):
    """A private folder named after the chapter (the sandbox masks its references by that name)."""
    with tempfile.TemporaryDirectory(prefix="rlcourse-grade-") as tmp:
        cwd, private = Path(tmp) / chapter, Path(tmp) / "private"
        cwd.mkdir()
        private.mkdir()
        yield str(cwd), str(private)


def _run_planned(job: dict) -> tuple[dict | None, str]:
    """The planned cells in the sandboxed runner: ``(result, "")``, or ``(None, why)`` when the run is
    not clean and the whole notebook must run instead."""
    from autograde.sandbox import sandbox_command

    timeout = job["execute"].get("timeout") or 30
    with _scratch(job["chapter"]) as (cwd, private):
        read_fd, write_fd = os.pipe()
        cmd = sandbox_command([sys.executable, "-c", RUNNER.read_text()], cwd, private, assignment=job["chapter"])
        proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                pass_fds=(write_fd,), start_new_session=True)
        os.close(write_fd)
        events: queue.Queue = queue.Queue()
        reader = threading.Thread(target=_read_events, args=(read_fd, events), daemon=True)
        reader.start()
        try:
            proc.stdin.write(json.dumps({"cells": job["plan"], "channel": write_fd, "timeout": timeout}).encode())
            proc.stdin.close()
        except BrokenPipeError:
            pass
        try:
            cells, why = _collect(job["plan"], events, timeout + INTERRUPT_GRACE_S)
        finally:
            proc.kill()
            proc.wait()
            reader.join(timeout=5)
    if why:
        return None, why
    return {"engine": "planned", "cells": cells, "error": None}, ""


def _read_events(fd: int, events: queue.Queue) -> None:
    total = 0
    with os.fdopen(fd, "rb") as channel:
        for line in channel:
            total += len(line)
            if total > MAX_CHANNEL_BYTES:
                events.put(("overflow", None))
                return
            try:
                events.put(("event", json.loads(line)))
            except ValueError:
                events.put(("garbage", None))
    events.put(("closed", None))


def _collect(plan: list, events: queue.Queue, timeout: float) -> tuple[dict, str]:
    """The runner's results for ``plan``, in order, or the reason to run the whole notebook instead."""
    cells: dict[int, dict] = {}
    for position, (index, _) in enumerate(plan):
        for expected in ("start", "result"):
            limit = STARTUP_S if position == 0 and expected == "start" else timeout
            try:
                kind, event = events.get(timeout=limit)
            except queue.Empty:
                return cells, f"cell {index} ran past {limit:g} s"
            if kind != "event" or not isinstance(event, dict):
                return cells, "the run ended early" if kind == "closed" else "the runner's output was not readable"
            if expected == "start":
                if event != {"start": index}:
                    return cells, "the runner's output was out of order"
                continue
            if event.get("index") != index or not isinstance(event.get("outputs"), list) or event.get("status") == "unreadable":
                return cells, "the runner's output was out of order"
            outputs = [o for o in event["outputs"] if _well_formed(o)]
            if len(outputs) != len(event["outputs"]):
                return cells, "the runner's output was not readable"
            if any(_missing_name(o) for o in outputs):
                return cells, f"cell {index} needed a name the plan left out"
            count = event.get("execution_count")
            cells[index] = {"outputs": outputs, "execution_count": count if isinstance(count, int) else None}
    try:
        kind, event = events.get(timeout=timeout)
    except queue.Empty:
        return cells, "the run did not finish"
    if kind != "event" or event != {"done": True}:
        return cells, "the run did not finish"
    return cells, ""


def _well_formed(output) -> bool:
    if not isinstance(output, dict):
        return False
    kind = output.get("output_type")
    if kind == "stream":
        return output.get("name") in ("stdout", "stderr") and isinstance(output.get("text"), str)
    if kind in ("display_data", "execute_result"):
        return isinstance(output.get("data"), dict) and isinstance(output.get("metadata", {}), dict)
    if kind == "error":
        return (isinstance(output.get("ename"), str) and isinstance(output.get("evalue"), str)
                and isinstance(output.get("traceback"), list))
    return False


def _missing_name(output: dict) -> bool:
    """A ``NameError`` in the cell, or inside a checked function (reported as a case's error)."""
    from rlcourse.checks import REPORT_MIME

    if output["output_type"] == "error":
        return output["ename"] in ("NameError", "UnboundLocalError")
    report = output.get("data", {}).get(REPORT_MIME)
    results = report.get("results") if isinstance(report, dict) else None
    return isinstance(results, list) and any(
        isinstance(r, dict) and str(r.get("error", "")).startswith(("NameError", "UnboundLocalError")) for r in results)


def _run_notebook(job: dict) -> dict:
    """The whole notebook through nbgrader's ``Execute``, with the course's settings (sandboxed kernel)."""
    import nbformat
    from nbgrader.preprocessors import Execute
    from traitlets.config import Config

    nb = nbformat.from_dict(job["notebook"])
    config = Config({"Execute": job["execute"]})
    error = None
    with _scratch(job["chapter"]) as (cwd, _):
        try:
            Execute(config=config).preprocess(nb, {"metadata": {"path": cwd}})
        except Exception as exc:  # the kernel died or stopped answering: nbgrader gives up on the notebook
            error = f"{type(exc).__name__}: {exc}"
    cells = {i: {"outputs": [dict(o) for o in c.get("outputs", [])], "execution_count": c.get("execution_count")}
             for i, c in enumerate(nb.cells) if c.cell_type == "code"}
    return {"engine": "notebook", "cells": json.loads(json.dumps(cells, default=repr)), "error": error}


# ----- the client's side ------------------------------------------------------------------------------
class _PreparedSchemas:
    """nbgrader validates every graded cell's metadata with ``jsonschema.validate``, which checks its
    own (constant) schema again on each call: most of nbgrader's time per submission once execution is
    fast. The same validation with the schema checked once (installed by :func:`_prepare_once`)."""

    def __init__(self):
        import jsonschema

        self._jsonschema, self._validators = jsonschema, {}

    def __getattr__(self, name):
        return getattr(self._jsonschema, name)

    def validate(self, instance, schema):
        key = json.dumps(schema, sort_keys=True)
        validator = self._validators.get(key)
        if validator is None:
            cls = self._jsonschema.validators.validator_for(schema)
            cls.check_schema(schema)
            validator = self._validators[key] = cls(schema)
        error = self._jsonschema.exceptions.best_match(validator.iter_errors(instance))
        if error is not None:
            raise error


def _prepare_once(work: Path) -> None:
    """What the grading process sets up once: nbgrader's metadata schemas checked once, and no disk
    flush on the gradebook's working copy (it is thrown away on a crash; the real gradebook is written
    whole and flushed at each checkpoint)."""
    from nbgrader.nbgraderformat import common
    from sqlalchemy import event
    from sqlalchemy.engine import Engine

    if not isinstance(common.jsonschema, _PreparedSchemas):
        common.jsonschema = _PreparedSchemas()

    @event.listens_for(Engine, "connect")
    def _no_flush(connection, _):
        if isinstance(connection, sqlite3.Connection):
            files = [row[2] for row in connection.execute("PRAGMA database_list")]
            if str(work) in files:
                connection.execute("PRAGMA synchronous = OFF")


class Grader:
    """Grades one chapter's submissions from a course folder, writing its gradebook alone."""

    def __init__(self, chapter: str, root: Path = HERE, timeout: int | None = None, log=print):
        from nbgrader.coursedir import CourseDirectory
        from traitlets.config.loader import PyFileConfigLoader

        self.chapter, self.root, self.log = chapter, Path(root).resolve(), log
        self.config = PyFileConfigLoader("nbgrader_config.py", path=str(HERE)).load_config()
        self.config.CourseDirectory.root = str(self.root)
        if timeout is not None:
            self.config.Execute.timeout = timeout
        coursedir = CourseDirectory(config=self.config)
        self.gradebook = Path(coursedir.db_url.removeprefix("sqlite:///"))
        if not coursedir.db_url.startswith("sqlite:///"):
            raise SystemExit("the fast grader writes SQLite gradebooks only (CourseDirectory.db_url)")
        self.work = self.gradebook.with_name(".gradebook-grading.db")
        self.source_dir = Path(coursedir.source_directory)
        self.submitted = self.root / coursedir.submitted_directory
        self.release = self.root / coursedir.release_directory / chapter
        self.failures: dict[str, str] = {}
        """nbgrader's log for each submission it could not grade."""

    # the gradebook: a working copy, and the real one replaced whole after each submission
    def _open_work(self) -> None:
        if not self.gradebook.exists():
            raise SystemExit(f"no gradebook at {self.gradebook}: run `nbgrader generate_assignment {self.chapter}` first")
        with sqlite3.connect(self.gradebook) as src, sqlite3.connect(self.work) as dst:
            src.backup(dst)
        with sqlite3.connect(self.work) as db:
            db.execute(f"CREATE TABLE IF NOT EXISTS {STATE_TABLE} (student TEXT, assignment TEXT, "
                       "fingerprint TEXT, PRIMARY KEY (student, assignment))")
            known = db.execute("SELECT 1 FROM assignment WHERE name = ?", (self.chapter,)).fetchone()
        if known is None:
            raise SystemExit(f"{self.chapter} is not in the gradebook: run `nbgrader generate_assignment {self.chapter}` first")

    def _checkpoint(self) -> None:
        tmp = self.gradebook.with_name(".gradebook-checkpoint.db")
        tmp.unlink(missing_ok=True)
        with sqlite3.connect(self.work) as src, sqlite3.connect(tmp) as dst:
            src.backup(dst)
        with open(tmp, "rb") as f:
            os.fsync(f.fileno())
        os.replace(tmp, self.gradebook)

    def _fingerprints(self) -> dict:
        with sqlite3.connect(self.work) as db:
            rows = db.execute(f"SELECT student, fingerprint FROM {STATE_TABLE} WHERE assignment = ?", (self.chapter,))
            graded = {r[0] for r in db.execute(
                "SELECT student_id FROM submitted_assignment JOIN assignment ON assignment.id = assignment_id "
                "WHERE assignment.name = ?", (self.chapter,))}
            return {student: fp for student, fp in rows if student in graded}

    def _record(self, student: str, fingerprint: str) -> None:
        with sqlite3.connect(self.work) as db:
            db.execute(f"INSERT OR REPLACE INTO {STATE_TABLE} VALUES (?, ?, ?)", (student, self.chapter, fingerprint))

    def fingerprint(self, folder: Path) -> str:
        """What a grade depends on: the submission's files, the chapter's source notebook and the grader."""
        h = hashlib.sha256(self.chapter.encode())
        checks = REPO / "rlcourse" / "checks"
        grader = sorted(HERE.glob("*.py")) + sorted(checks.glob("*.py")) + sorted(checks.glob(f"snapshots/{self.chapter}.json"))
        for path in sorted(folder.rglob("*")) + sorted((self.source_dir / self.chapter).glob("*.ipynb")) + grader:
            if path.is_file():
                h.update(str(path.name).encode() + b"\0" + path.read_bytes() + b"\0")
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
        from nbgrader.preprocessors import ClearOutput, DeduplicateIds, OverwriteCells, OverwriteKernelspec

        from autograde.nbgrader_ext import ReportInsteadOfCheck
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
                                  "db_url": f"sqlite:///{self.work}"}}
        try:
            # nbgrader's sanitizing, as in `nbgrader autograde` (whose own run of it validates the metadata)
            for step in (ClearOutput, DeduplicateIds, OverwriteKernelspec, OverwriteCells, ReportInsteadOfCheck):
                nb, resources = step(config=self.config).preprocess(nb, resources)
        except Exception:
            return None, tampering
        execute = {k: v for k, v in self.config.Execute.items()}
        return {"student": student, "chapter": self.chapter, "notebook": json.loads(json.dumps(nb)),
                "plan": [list(step) for step in plan(nb.cells, release_sources)], "execute": execute}, tampering

    def _edited_locked_cells(self, nb) -> list[str]:
        import nbformat

        released = sorted(self.release.glob("*.ipynb"))
        if not released:
            return []
        locked = {c.metadata["nbgrader"]["grade_id"]: c.source for c in nbformat.read(released[0], as_version=4).cells
                  if c.metadata.get("nbgrader", {}).get("locked")}
        seen = {c.metadata.get("nbgrader", {}).get("grade_id"): c.source for c in nb.cells}
        changed = sorted(k for k, src in locked.items() if seen.get(k) != src)
        return [f"locked cell {k} {'removed' if k not in seen else 'edited'}" for k in changed]

    # grading
    def run(self, client, force: bool = False, progress: bool = True) -> list[dict]:
        from dask.distributed import as_completed
        from nbgrader.apps import NbGraderAPI
        from nbgrader.coursedir import CourseDirectory
        from tqdm.auto import tqdm
        from traitlets.config.loader import PyFileConfigLoader

        from autograde.nbgrader_ext import ReplayExecution

        lock_path = self.gradebook.with_name(".gradebook.lock")
        with open(lock_path, "w") as lock:
            try:
                fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                raise SystemExit("another fast grader is writing this gradebook") from None
            self._open_work()
            _prepare_once(self.work)
            students = sorted(p.parent.name for p in self.submitted.glob(f"*/{self.chapter}") if p.is_dir())
            done = {} if force else self._fingerprints()
            fingerprints = {s: self.fingerprint(self.submitted / s / self.chapter) for s in students}
            todo = [s for s in students if done.get(s) != fingerprints[s]]
            rows = {s: {"student": s, "status": "unchanged, skipped"} for s in students if s not in todo}

            config = PyFileConfigLoader("nbgrader_config.py", path=str(HERE)).load_config()
            config.CourseDirectory.root = str(self.root)
            config.Execute.timeout = self.config.Execute.timeout
            steps = list(config.Autograde.autograde_preprocessors)
            config.Autograde.autograde_preprocessors = [ReplayExecution if s.__name__ == "Execute" else s for s in steps]
            config.CourseDirectory.db_url = f"sqlite:///{self.work}"
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
            finally:
                bar.close()
                for future in futures:
                    future.cancel()
                with contextlib.suppress(FileNotFoundError):
                    self.work.unlink()
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
        self._record(student, fingerprint)
        self._checkpoint()
        if result is not None and result.get("fallback"):
            problems.append(f"whole notebook run ({result['fallback']})")
        rows[student] = {"student": student, "status": "; ".join(problems) or "ok",
                         "seconds": None if result is None else result["seconds"],
                         "worker": None if result is None else result["worker"]}


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
