"""The grading sandbox (autograde/sandbox.py), limit by limit: each one holds against code that tries
to step around it. Every case runs a small program in the sandbox as grading runs a kernel, with
limits small enough to hit in a second; tests/test_grading_adversarial.py runs the same attacks as
submissions through both graders.
"""

from __future__ import annotations

import contextlib
import os
import py_compile
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from autograde.sandbox import launcher_environment, reference_copies, sandbox_command, sandbox_uid
from autograde.worker import ForkServer
from tests.conftest import REPO

SECRET = "rlcourse-test-secret-5f1c2"


@contextlib.contextmanager
def sandbox_limits(**limits):
    """The sandbox's limits set small enough to hit in a second (and any in ``limits``), then restored."""
    env = {"RLCOURSE_KERNEL_WALL_S": "60", "RLCOURSE_KERNEL_TMP_MB": "16", "RLCOURSE_KERNEL_PROCESSES": "64",
           "RLCOURSE_KERNEL_MEMORY_GB": "4", **limits}
    saved = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    try:
        yield
    finally:
        for k, v in saved.items():
            os.environ.pop(k) if v is None else os.environ.__setitem__(k, v)


def run_sandboxed(tmp_path, code: str, chapter: str = "06-rlhf", timeout: float = 60, **limits):
    """Run ``code`` with this interpreter in the sandbox for ``chapter``; (returncode, stdout, seconds)."""
    cwd = tmp_path / chapter
    cwd.mkdir(mode=0o755, exist_ok=True)
    with sandbox_limits(**limits):
        cmd = sandbox_command([sys.executable, "-c", textwrap.dedent(code)], str(cwd), assignment=chapter,
                              uid=sandbox_uid())
    start = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env=launcher_environment())
    return proc.returncode, proc.stdout + proc.stderr, time.perf_counter() - start


def run_forked(tmp_path, code: str, chapter: str = "06-rlhf", timeout: float = 60, **limits):
    """Run ``code`` as a cell in a child of the fast grader's fork server for ``chapter`` (started for it,
    with numpy imported); (0, or 1 if the cell raised, what it printed, seconds)."""
    with sandbox_limits(**limits):
        server = ForkServer(chapter, ("numpy",))
    try:
        assert server.isolated, server.why
        start = time.perf_counter()
        cells, why = server.run([[0, textwrap.dedent(code)]], timeout)
        seconds = time.perf_counter() - start
    finally:
        server.close()
    outputs = cells.get(0, {}).get("outputs", [])
    text = "".join(o["text"] if o["output_type"] == "stream" else f"{o.get('ename', '')}: {o.get('evalue', '')}\n"
                   for o in outputs if o["output_type"] in ("stream", "error"))
    return int(bool(why) or any(o["output_type"] == "error" for o in outputs)), text + why, seconds


@pytest.fixture(params=["process", "fork server"])
def sandboxed(request):
    """Each limit is checked in both places a submission's code runs: a sandboxed process of its own (an
    nbgrader kernel, the fast grader's one-shot runner) and a child of the fast grader's fork server."""
    return run_sandboxed if request.param == "process" else run_forked


def test_the_environment_is_an_allowlist(sandboxed, tmp_path, monkeypatch):
    monkeypatch.setenv("RLCOURSE_TEST_TOKEN", SECRET)
    code, out, _ = sandboxed(tmp_path, """
        import os
        print(sorted(os.environ))
        for pid in os.listdir("/proc"):  # the sandbox's own processes and what they started with
            if pid.isdigit():
                try:
                    print(open(f"/proc/{pid}/environ", "rb").read())
                except OSError:
                    pass
        """)
    assert code == 0, out
    assert "PATH" in out and "NBGRADER_EXECUTION" in out
    assert SECRET not in out and "RLCOURSE_TEST_TOKEN" not in out


def test_references_are_out_of_reach_as_source_and_bytecode(sandboxed, tmp_path):
    package = reference_copies()[0]
    compiled = [Path(py_compile.compile(str(module), doraise=True))  # as every import writes them on a
                for module in sorted((package / "reference").glob("ch0[67]_*.py"))]  # teacher's machine
    assert compiled and all(p.exists() for p in compiled)
    code, out, _ = sandboxed(tmp_path, """
        import importlib, marshal, pathlib, sys
        import rlcourse.reference.ch05_rlvr as earlier
        print("earlier chapter:", hasattr(earlier, "group_advantages"))
        import rlcourse.reference.ch06_rlhf as graded
        print("graded chapter:", sorted(n for n in vars(graded) if not n.startswith("_")))
        for entry in sys.path:
            for path in pathlib.Path(entry or ".").glob("rlcourse/reference/**/ch0[67]_*"):
                data = path.read_bytes()
                print("found", path, len(data))
                if path.suffix == ".pyc" and data:
                    namespace = {}
                    exec(marshal.loads(data[16:]), namespace)
                    print("recovered:", "ranking_loss" in namespace)
        """)
    assert code == 0, out
    assert "earlier chapter: True" in out, "an earlier chapter's references stay importable"
    assert "graded chapter: []" in out
    assert "recovered" not in out and all(line.endswith(" 0") for line in out.splitlines() if line.startswith("found"))


def test_no_capability_to_undo_the_masks(sandboxed, tmp_path):
    module = reference_copies()[0] / "reference" / "ch06_rlhf.py"
    code, out, _ = sandboxed(tmp_path, f"""
        import ctypes, os
        libc = ctypes.CDLL(None, use_errno=True)
        print("umount:", libc.umount2(b"{module}", 2), os.strerror(ctypes.get_errno()))
        print("size:", os.path.getsize("{module}"))
        print("capabilities:", open("/proc/self/status").read().split("CapEff:")[1].split()[0])
        """)
    assert code == 0, out
    assert "umount: -1" in out and "size: 0" in out and "capabilities: 0000000000000000" in out


def test_writable_space_is_capped(sandboxed, tmp_path):
    code, out, _ = sandboxed(tmp_path, """
        import os
        for path in ("/tmp/fill", "/dev/fill", "/dev/shm/fill", os.getcwd() + "/fill", "/tmp/fill2"):
            written = 0
            try:
                with open(path, "wb") as f:
                    for _ in range(64):  # 64 MB, four times the cap
                        f.write(b"x" * 2**20)
                        written += 1
                        f.flush()
            except OSError as exc:
                print(path, "stopped after", written, "MB:", exc.strerror)
            else:
                print(path, "wrote", written, "MB")
        """, RLCOURSE_KERNEL_TMP_MB="16")
    assert code == 0, out
    assert " wrote " not in out, out
    assert "/tmp/fill stopped after" in out


def test_processes_are_capped(sandboxed, tmp_path):
    code, out, _ = sandboxed(tmp_path, """
        import os, time
        children = []
        try:
            for _ in range(500):
                pid = os.fork()
                if pid == 0:
                    time.sleep(10)
                    os._exit(0)
                children.append(pid)
            print("forked", len(children))
        except OSError as exc:
            print("fork refused after", len(children), exc.strerror)
        for pid in children:
            os.kill(pid, 9)
            os.waitpid(pid, 0)
        """, RLCOURSE_KERNEL_PROCESSES="32")
    assert code == 0, out
    assert "fork refused after" in out and int(out.split("after")[1].split()[0]) < 32


def test_two_sandboxes_count_their_processes_apart(tmp_path):
    """A submission that spends its own process budget takes nothing from the one graded beside it."""
    hog = """
        import os, time
        n = 0
        try:
            while True:
                if os.fork() == 0:
                    time.sleep(8)
                    os._exit(0)
                n += 1
        except OSError:
            print("hog stopped at", n)
            time.sleep(6)
        """
    cwd = tmp_path / "hog"
    cwd.mkdir(mode=0o755)
    os.environ["RLCOURSE_KERNEL_PROCESSES"] = "32"
    try:
        cmd = sandbox_command([sys.executable, "-c", textwrap.dedent(hog)], str(cwd), assignment="06-rlhf",
                              uid=sandbox_uid())
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True, env=launcher_environment())
        time.sleep(3)  # the hog has used its budget
        code, out, _ = run_sandboxed(tmp_path, """
            import os
            pids = [os.fork() or os._exit(0) for _ in range(20)]
            print("neighbour forked", len(pids))
            """, RLCOURSE_KERNEL_PROCESSES="32")
    finally:
        os.environ.pop("RLCOURSE_KERNEL_PROCESSES")
        proc.kill()
        proc.wait()
    assert code == 0 and "neighbour forked 20" in out, out


def test_the_wall_clock_is_outside_the_sandbox(tmp_path):
    code, out, seconds = run_sandboxed(tmp_path, """
        import os, signal, time
        for pid in os.listdir("/proc"):  # try to kill every timer it can see
            if pid.isdigit() and int(pid) != os.getpid():
                try:
                    os.kill(int(pid), signal.SIGKILL)
                except OSError:
                    pass
        for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
            signal.signal(sig, signal.SIG_IGN)
        print("still here", flush=True)
        while True:
            time.sleep(0.1)
        """, RLCOURSE_KERNEL_WALL_S="3", timeout=60)
    assert "still here" in out
    assert code in (124, 137) and seconds < 20, (code, seconds)


def test_memory_is_capped(sandboxed, tmp_path):
    code, out, _ = sandboxed(tmp_path, """
        try:
            hoard = bytearray(8 * 2**30)
            print("allocated")
        except MemoryError:
            print("refused")
        """, RLCOURSE_KERNEL_MEMORY_GB="2")
    assert code == 0 and "refused" in out, out


@pytest.mark.skipif(os.geteuid() != 0, reason="only a grader run as root makes the sandbox change user")
def test_run_as_root_the_sandbox_is_not_root(sandboxed, tmp_path):
    code, out, _ = sandboxed(tmp_path, "import os; print(os.getuid(), os.getgid(), os.getgroups())")
    uid = int(out.split()[0])
    assert code == 0 and uid >= 1_000_000_000, out


def test_the_submission_folder_is_read_only(sandboxed, tmp_path):
    code, out, _ = sandboxed(tmp_path, """
        import os
        try:
            open("answer.txt", "w")
            print("wrote")
        except OSError as exc:
            print(exc.strerror)
        print(os.listdir(os.path.dirname(os.getcwd())))
        """)
    assert code == 0 and "wrote" not in out and REPO.name not in out


PLANTS = """
import ctypes, os, subprocess, time
import numpy
print("uid", os.getuid())
open("/tmp/planted.py", "w").write("def answer():\\n    return 42\\n")
libc = ctypes.CDLL(None, use_errno=True)
print("shm", libc.shmget(0x5EED, 4096, 0o1666))  # IPC_CREAT | 0o666: outlives its process
os.environ["PLANTED"] = "1"
numpy.pi = 3.0  # the module as the next submission would import it
if os.fork() == 0:  # a process left behind, that would keep interfering
    os.setsid()
    while True:
        time.sleep(0.05)
        for pid in filter(str.isdigit, os.listdir("/proc")):
            try:
                os.kill(int(pid), 9)
            except OSError:
                pass
time.sleep(0.2)
"""
HARVESTS = """
import ctypes, os, time
import numpy
time.sleep(0.5)  # time for anything left behind to act
libc = ctypes.CDLL(None, use_errno=True)
print("uid", os.getuid())
print("file", os.path.exists("/tmp/planted.py"))
print("shm", libc.shmget(0x5EED, 4096, 0o666), open("/proc/sysvipc/shm").read().count("\\n") - 1)
print("env", "PLANTED" in os.environ, "pi", numpy.pi)
print("processes", sorted(int(p) for p in os.listdir("/proc") if p.isdigit()))
"""


def test_nothing_passes_from_one_forked_submission_to_the_next():
    """The fork server's children run one after another from the same server: what one submission leaves
    (a file in /tmp, a shared-memory segment, a changed module or variable, a process that kills what it
    sees) reaches neither the next one nor the server."""
    with sandbox_limits():
        server = ForkServer("06-rlhf", ("numpy",))
    try:
        assert server.isolated, server.why
        planted, why = server.run([[0, PLANTS]], 30)
        assert not why and "shm -1" not in planted[0]["outputs"][0]["text"], planted
        harvested, why = server.run([[0, HARVESTS]], 30)
        assert not why, why
        assert server.alive(), "the server survives what its children did"
    finally:
        server.close()
    out = harvested[0]["outputs"][0]["text"]
    assert "file False" in out and "shm -1 0" in out and "env False pi 3.14159" in out, out
    assert "processes [1]" in out, "the left-behind process died with its submission"
    if os.geteuid() == 0:
        first, second = (int(run[0]["outputs"][0]["text"].split()[1]) for run in (planted, harvested))
        assert first != second and min(first, second) >= 1_000_000_000
        left = subprocess.run(["pgrep", "-u", str(first)], capture_output=True, text=True)
        assert left.stdout == "", "nothing runs under the first submission's user id"


def test_a_runaway_child_takes_its_fork_server_with_it():
    """A child that ignores the interrupt and never ends is stopped by the worker, outside the sandbox:
    it kills the whole server (and the child with it) after the grace period, and the next submission
    gets a new server."""
    with sandbox_limits():
        server = ForkServer("06-rlhf", ("numpy",))
    start = time.perf_counter()
    try:
        assert server.isolated, server.why
        cells, why = server.run([[0, "import signal, time\nsignal.signal(signal.SIGALRM, signal.SIG_IGN)\n"
                                      "while True:\n    time.sleep(0.1)\n"]], 2)
        seconds = time.perf_counter() - start
        assert why.startswith("cell 0 ran past") and seconds < 30, (why, seconds)
        assert not server.alive() and server.proc.poll() is not None
    finally:
        server.close()


def test_a_flood_of_printed_lines_is_capped_and_costs_no_more_than_the_printing():
    """The fast grader's runner keeps a cell's first MAX_STREAM_CHARS characters of each stream, and the
    cap costs nothing per write: 400,000 printed lines (4.8 million characters) finish well inside a
    10 s limit. Appending each write to one string took minutes before the cap was reached."""
    import re

    runner = (REPO / "autograde" / "runner.py").read_text()  # a script: importing it would run it
    cap = int(re.search(r"^MAX_STREAM_CHARS = ([\d_]+)", runner, re.M).group(1))
    with sandbox_limits():
        server = ForkServer("01-mdp", ("numpy",))
    try:
        assert server.isolated, server.why
        start = time.perf_counter()
        cells, why = server.run([[0, "for i in range(400_000):\n    print('line', i)\n"]], 10)
        seconds = time.perf_counter() - start
    finally:
        server.close()
    outputs = cells[0]["outputs"]
    assert not why and [o["output_type"] for o in outputs] == ["stream"], (why, [o.get("ename") for o in outputs])
    (stream,) = outputs
    assert stream["name"] == "stdout" and len(stream["text"]) == cap
    assert stream["text"].startswith("line 0\nline 1\n") and seconds < 10
