"""The fast grader's workers: run one submission in the grading sandbox, return its cells' outputs.

A grading job (a Dask task, :func:`execute`) runs the cells the submission's grades depend on
(``autograde/plan.py``) in the light cell runner (``autograde/runner.py``) inside the bubblewrap
sandbox (``autograde/sandbox.py``). If that run is not clean (a cell did not stop when interrupted,
the process died, a name was missing, the runner's output was not well-formed), the whole notebook
runs through nbgrader's own ``Execute`` with the sandboxed kernel instead, so unusual submissions
are graded exactly as plain nbgrader grades them. A worker sees cell sources and returns outputs;
it never sees the gradebook, and nothing it returns is trusted by the client
(``autograde.nbgrader_ext.ReplayExecution`` checks each cell against what was asked).
"""

from __future__ import annotations

import atexit
import contextlib
import hashlib
import json
import os
import queue
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
RUNNER = HERE / "runner.py"
STARTUP_S = 120
"""How long the sandboxed runner may take to start (Python, IPython) before its first cell."""
INTERRUPT_GRACE_S = 10
"""How long an interrupted cell may take to stop before the runner is killed."""
MAX_CHANNEL_BYTES = 256 * 2**20
"""A runner that sends more than this (a flood written past the output cap) is stopped."""


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
    result["worker"] = f"worker pid {os.getpid()} on {socket.gethostname()}, in {result.get('runner', 'an nbgrader kernel')}"
    result["sources"] = {i: _digest(src) for i, src in _code_cells(job["notebook"])}
    return result


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def _code_cells(notebook: dict):
    return [(i, c["source"]) for i, c in enumerate(notebook["cells"]) if c["cell_type"] == "code"]


@contextlib.contextmanager
def _scratch(chapter: str):
    """An empty folder named after the chapter (the sandbox masks its references by that name), where a
    sandboxed run starts; the sandbox mounts it read-only."""
    with tempfile.TemporaryDirectory(prefix="rlcourse-grade-") as tmp:
        cwd = Path(tmp) / chapter
        cwd.mkdir(mode=0o755)
        yield str(cwd)


def _run_planned(job: dict) -> tuple[dict | None, str]:
    """The planned cells in the sandboxed runner: ``(result, "")``, or ``(None, why)`` when the run is
    not clean and the whole notebook must run instead."""
    timeout = job["execute"].get("timeout") or 30
    with _fork_server(job["chapter"], tuple(job.get("preload", ()))) as server:
        if server is not None:
            cells, why = server.run(job["plan"], timeout)
        else:
            cells, why = _run_once(job, timeout)
    if why:
        return None, why
    runner = "a fork server's child" if server is not None else "a runner of its own"
    return {"engine": "planned", "runner": runner, "cells": cells, "error": None}, ""


def _run_once(job: dict, timeout: float) -> tuple[dict, str]:
    """The planned cells in a runner started for this submission alone (no fork server)."""
    from autograde.sandbox import launcher_environment, sandbox_command, sandbox_uid

    with _scratch(job["chapter"]) as cwd:
        read_fd, write_fd = os.pipe()
        cmd = sandbox_command([sys.executable, "-c", RUNNER.read_text()], cwd, assignment=job["chapter"],
                              uid=sandbox_uid())
        proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                pass_fds=(write_fd,), start_new_session=True, env=launcher_environment())
        os.close(write_fd)
        events, reader = _reader(read_fd)
        try:
            proc.stdin.write(json.dumps({"cells": job["plan"], "channel": write_fd, "timeout": timeout}).encode())
            proc.stdin.close()
        except BrokenPipeError:
            pass
        try:
            return _collect(job["plan"], events, timeout + INTERRUPT_GRACE_S)
        finally:
            proc.kill()
            proc.wait()
            reader.join(timeout=5)


def _reader(fd: int) -> tuple[queue.Queue, threading.Thread]:
    events: queue.Queue = queue.Queue()
    reader = threading.Thread(target=_read_events, args=(fd, events), daemon=True)
    reader.start()
    return events, reader


class ForkServer:
    """The cell runner started once per chapter and worker as a fork server (``autograde/runner.py``):
    it imports what the chapter's cells import, inside the chapter's sandbox, and runs each submission
    in a fresh isolated child. Saves a Python start and the imports (``import torch`` alone is about a
    second) per submission. A server that misbehaves (a child that does not finish, no answer) is
    killed, and the next submission gets a new one."""

    def __init__(self, chapter: str, preload: tuple[str, ...]):
        from autograde.sandbox import SANDBOX_UIDS, launcher_environment, limits, sandbox_command, sandbox_uid

        self.folder = tempfile.mkdtemp(prefix="rlcourse-grade-")
        cwd = Path(self.folder) / chapter  # the sandbox masks the chapter's references by this name
        cwd.mkdir(mode=0o755)
        Path(self.folder).chmod(0o755)
        ours, theirs = socket.socketpair()
        settings = {"preload": list(preload), "tmp": limits()["tmp"], "uids": list(SANDBOX_UIDS)}
        cmd = sandbox_command([sys.executable, "-c", RUNNER.read_text(), "serve", str(theirs.fileno()),
                               json.dumps(settings)], str(cwd), assignment=chapter, uid=sandbox_uid(), fork_server=True)
        self.started = time.monotonic()
        self.control, self._buffer = ours, b""
        self.proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                     stderr=subprocess.DEVNULL, pass_fds=(theirs.fileno(),), start_new_session=True,
                                     env=launcher_environment())
        theirs.close()
        hello = self._message(STARTUP_S)
        self.isolated = bool(hello and hello.get("ready") and hello.get("isolated"))
        self.why = "" if self.isolated else (hello or {}).get("why") or "the fork server did not start"

    def alive(self) -> bool:
        from autograde.sandbox import limits

        young = time.monotonic() - self.started < limits()["wall"] / 2  # its whole-sandbox limit is far off
        return self.proc.poll() is None and self.isolated and young

    def run(self, plan: list, timeout: float) -> tuple[dict, str]:
        read_fd, write_fd = os.pipe()
        try:
            payload = json.dumps({"cells": plan, "timeout": timeout}).encode()
            socket.send_fds(self.control, [len(payload).to_bytes(8, "big")], [write_fd])
            self.control.sendall(payload)
        except OSError:
            self.close()
        finally:
            os.close(write_fd)
        events, reader = _reader(read_fd)
        cells, why = _collect(plan, events, timeout + INTERRUPT_GRACE_S)
        finished = None if why else self._message(INTERRUPT_GRACE_S)
        if not (finished and "finished" in finished):  # a child still running (or a dead server): end it all
            self.close()
        reader.join(timeout=5)
        return cells, why

    def _message(self, timeout: float) -> dict | None:
        """The server's next line (its own messages: no child holds this socket), or ``None``."""
        deadline = time.monotonic() + timeout
        while b"\n" not in self._buffer:
            left = deadline - time.monotonic()
            if left <= 0:
                return None
            self.control.settimeout(left)
            try:
                chunk = self.control.recv(4096)
            except (OSError, TimeoutError):
                return None
            if not chunk:
                return None
            self._buffer += chunk
        line, self._buffer = self._buffer.split(b"\n", 1)
        try:
            return json.loads(line)
        except ValueError:
            return None

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()  # the sandbox dies with its parent, every child with the sandbox
        self.proc.wait()
        self.isolated = False
        self.control.close()
        shutil.rmtree(self.folder, ignore_errors=True)


_SERVERS: dict[tuple, list[ForkServer]] = {}
_SERVERS_LOCK = threading.Lock()
_NO_SERVER: set[str] = set()
"""Chapters whose fork server could not isolate a child on this worker: their runs start one runner each."""


@contextlib.contextmanager
def _fork_server(chapter: str, preload: tuple[str, ...]):
    """An idle fork server for ``chapter`` (started if none is), or ``None`` when isolation is not possible
    here or ``RLCOURSE_FORK_SERVER=0``. One submission at a time per server."""
    if os.environ.get("RLCOURSE_FORK_SERVER", "1") == "0" or chapter in _NO_SERVER:
        yield None
        return
    key = (chapter, preload)
    with _SERVERS_LOCK:
        idle = _SERVERS.setdefault(key, [])
        server = idle.pop() if idle else None
    if server is not None and not server.alive():
        server.close()
        server = None
    if server is None:
        server = ForkServer(chapter, preload)
        if not server.isolated:
            server.close()
            _NO_SERVER.add(chapter)
            yield None
            return
    try:
        yield server
    finally:
        if server.alive():
            with _SERVERS_LOCK:
                _SERVERS[key].append(server)
        else:
            server.close()


def close_fork_servers() -> None:
    """Stop every idle fork server of this process (the end of a batch; they also stop when it exits)."""
    with _SERVERS_LOCK:
        servers = [s for idle in _SERVERS.values() for s in idle]
        _SERVERS.clear()
    for server in servers:
        server.close()


atexit.register(close_fork_servers)


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
    with _scratch(job["chapter"]) as cwd:
        try:
            Execute(config=config).preprocess(nb, {"metadata": {"path": cwd}})
        except Exception as exc:  # the kernel died or stopped answering: nbgrader gives up on the notebook
            error = f"{type(exc).__name__}: {exc}"
    cells = {i: {"outputs": [dict(o) for o in c.get("outputs", [])], "execution_count": c.get("execution_count")}
             for i, c in enumerate(nb.cells) if c.cell_type == "code"}
    return {"engine": "notebook", "cells": json.loads(json.dumps(cells, default=repr)), "error": error}
