"""The fast grader's cell runner: runs a submission's planned cells inside the grading sandbox.

The grading worker (``autograde/worker.py``) starts ``python -c <this file's text>`` in the same
bubblewrap sandbox as nbgrader's grading kernels (``autograde/sandbox.py``) and hands it jobs. Each
job's events come back on a pipe of its own, one JSON line each: ``{"start": i}`` before cell ``i``
runs, then ``{"index": i, "outputs": [...], "execution_count": n, "status": "ok" | "error",
"ename": ...}`` in nbformat's output format, and ``{"done": true}``.

Two ways to start it:

- ``serve`` (a fork server, the default): it imports what the chapter's own cells import (numpy,
  torch, the support package; the worker names them), then waits for jobs on a Unix socket. Each job
  runs in a child forked from that state, isolated before any of the submission's code runs: new
  mount, pid and IPC namespaces (and a user namespace when the grader is not root), a fresh ``/tmp``
  and ``/proc``, a user id of its own when the grader is root, every capability dropped,
  ``no_new_privs``. The child is the first process of its pid namespace, so whatever it leaves
  running dies with it. Nothing passes from one submission to the next: memory is a fresh copy of
  the server's, which never runs a submission's code, files live in the child's own ``/tmp``, and
  processes, IPC objects and the user id end with it. The server checks that it can isolate a
  child before it says it is ready; if it cannot, the worker starts one runner per submission.
- one-shot: the job on stdin (with the pipe's descriptor in ``"channel"``), one submission, then exit.

It is what an IPython kernel does for nbclient, without the kernel's messaging: an IPython shell (so
magics, ``display`` and ``get_ipython()`` behave as in a notebook) whose displays, results, streams and
tracebacks are recorded per cell. A cell that runs past the time limit is interrupted as nbgrader
interrupts a kernel (``KeyboardInterrupt`` in the running code) and gets the error nbgrader records;
if it does not stop, the worker kills the runner (the server with it) and falls back to nbgrader.
Nothing a child sends is trusted: the student's code runs in it and could write anything to its
pipe. The worker only accepts well-formed events for the cells it asked for, and the grades come
from the reported outputs, judged in the grading process.
"""

import ctypes
import importlib
import io
import json
import os
import random
import signal
import socket
import sys

MAX_STREAM_CHARS = 2_000_000  # per cell and stream; nbgrader's LimitOutput keeps far less


def _joined(output: dict) -> dict:
    """A stream output as a notebook holds it (its pieces joined); any other output as it is."""
    if output["output_type"] != "stream":
        return output
    return {"output_type": "stream", "name": output["name"], "text": "".join(output["text"])}


def run(job: dict, channel_fd: int) -> None:
    """Run the job's cells, writing their events to ``channel_fd``; never returns."""
    channel = os.fdopen(channel_fd, "w", buffering=1)
    os.environ["MPLBACKEND"] = "Agg"

    from IPython.core.displayhook import DisplayHook
    from IPython.core.displaypub import DisplayPublisher
    from IPython.core.interactiveshell import InteractiveShell

    outputs: list[dict] = []

    class Stream(io.TextIOBase):
        def __init__(self, name):
            self.name = name

        def writable(self):
            return True

        def write(self, text):
            text = str(text)
            last = outputs[-1] if outputs else None
            if last is None or last["output_type"] != "stream" or last["name"] != self.name:
                last = {"output_type": "stream", "name": self.name, "text": [], "chars": 0}
                outputs.append(last)
            room = MAX_STREAM_CHARS - last["chars"]
            if room > 0:  # pieces, joined once per cell: adding each write to one string copied it every time
                last["text"].append(text[:room])
                last["chars"] += min(len(text), room)
            return len(text)

    class Publisher(DisplayPublisher):
        def publish(self, data, metadata=None, source=None, *, transient=None, update=False, **kwargs):
            outputs.append({"output_type": "display_data", "data": data, "metadata": metadata or {}})

        def clear_output(self, wait=False):
            outputs.clear()

    class Hook(DisplayHook):
        def start_displayhook(self):
            self._result = {"output_type": "execute_result", "data": {}, "metadata": {},
                            "execution_count": self.prompt_count}

        def write_output_prompt(self):
            pass

        def write_format_data(self, format_dict, md_dict=None):
            self._result["data"], self._result["metadata"] = format_dict, md_dict or {}

        def finish_displayhook(self):
            outputs.append(self._result)

    class Shell(InteractiveShell):
        def _showtraceback(self, etype, evalue, stb):
            outputs.append({"output_type": "error", "ename": getattr(etype, "__name__", str(etype)),
                            "evalue": str(evalue), "traceback": list(stb)})

    shell = Shell.instance(colors="NoColor", history_length=0, displayhook_class=Hook, display_pub_class=Publisher)
    shell.history_manager.enabled = False
    sys.stdout, sys.stderr = Stream("stdout"), Stream("stderr")
    timed_out = []

    def interrupt(signum, frame):  # what an interrupted kernel does: KeyboardInterrupt in the running code
        timed_out.append(True)
        raise KeyboardInterrupt

    signal.signal(signal.SIGALRM, interrupt)
    for index, source in job["cells"]:
        channel.write(json.dumps({"start": index}) + "\n")
        outputs.clear()
        timed_out.clear()
        signal.setitimer(signal.ITIMER_REAL, job["timeout"])
        try:
            result = shell.run_cell(source, store_history=True)
        finally:
            signal.setitimer(signal.ITIMER_REAL, 0)
        if timed_out:  # as nbgrader's Execute records a cell that ran past its time limit
            outputs.append({"output_type": "error", "ename": "CellTimeoutError", "evalue": "",
                            "traceback": ["\x1b[0;31mCellTimeoutError\x1b[0m: No reply from kernel before timeout"]})
        error = result.error_before_exec or result.error_in_exec
        if error is not None and not any(o["output_type"] == "error" for o in outputs):
            outputs.append({"output_type": "error", "ename": type(error).__name__, "evalue": str(error),
                            "traceback": ["ERROR: An error occurred while showtraceback was disabled"]})
        event = {"index": index, "outputs": [_joined(o) for o in outputs], "execution_count": result.execution_count,
                 "status": "ok" if error is None else "error"}
        if error is not None:
            event["ename"] = type(error).__name__
        try:
            line = json.dumps(event, default=repr)
        except (TypeError, ValueError) as exc:  # e.g. a display bundle that is not JSON
            line = json.dumps({"index": index, "outputs": [], "execution_count": result.execution_count,
                               "status": "unreadable", "ename": type(exc).__name__})
        channel.write(line + "\n")
    channel.write(json.dumps({"done": True}) + "\n")
    channel.flush()
    os._exit(0)  # no interpreter shutdown: nothing the submission registered runs after its cells


# The fork server ------------------------------------------------------------------------------------

CLONE_NEWNS, CLONE_NEWIPC, CLONE_NEWUSER, CLONE_NEWPID = 0x00020000, 0x08000000, 0x10000000, 0x20000000
MS_NOSUID, MS_NODEV, MS_NOEXEC, MS_BIND, MS_REC, MS_PRIVATE = 2, 4, 8, 4096, 16384, 1 << 18
PR_SET_PDEATHSIG, PR_CAPBSET_DROP, PR_SET_NO_NEW_PRIVS, PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL = 1, 24, 38, 47, 4
NOT_ISOLATED = 111
"""The exit status of a child that could not isolate itself (it ran nothing of the submission)."""


class _CapHeader(ctypes.Structure):
    _fields_ = [("version", ctypes.c_uint32), ("pid", ctypes.c_int)]


class _CapData(ctypes.Structure):
    _fields_ = [("effective", ctypes.c_uint32), ("permitted", ctypes.c_uint32), ("inheritable", ctypes.c_uint32)]


def _libc():
    libc = ctypes.CDLL(None, use_errno=True)

    def call(name, *args):
        if getattr(libc, name)(*args) != 0:
            err = ctypes.get_errno()
            raise OSError(err, f"{name}: {os.strerror(err)}")
    return call


def _isolated_child(settings: dict, body) -> None:
    """In a child just forked from the server: isolate it (see the module docstring), then ``body()``.
    Never returns; exits with :data:`NOT_ISOLATED` if any step fails, before ``body`` runs."""
    call = _libc()
    try:
        call("prctl", PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
        as_root = os.geteuid() == 0
        uid, gid = os.geteuid(), os.getegid()
        call("unshare", CLONE_NEWNS | CLONE_NEWPID | CLONE_NEWIPC | (0 if as_root else CLONE_NEWUSER))
        if not as_root:  # the same user inside as outside, with the namespace's capabilities for now
            for name, text in (("setgroups", "deny"), ("uid_map", f"{uid} {uid} 1"), ("gid_map", f"{gid} {gid} 1")):
                with open(f"/proc/self/{name}", "w") as f:
                    f.write(text)
        pid = os.fork()  # its child is the first process of the new pid namespace
    except BaseException:
        os._exit(NOT_ISOLATED)
    if pid:
        for fd in settings.get("close", ()):
            os.close(fd)
        _, status = os.waitpid(pid, 0)
        os._exit(os.waitstatus_to_exitcode(status) & 0xFF)
    try:
        call("prctl", PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
        call("mount", None, b"/", None, MS_REC | MS_PRIVATE, None)
        call("mount", b"proc", b"/proc", b"proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, None)
        # What the sandbox mounted under /tmp (the Python environment, the support package with its
        # masks, the working folder, when they live there) is carried over to the fresh /tmp as it is:
        # the same mounts, read-only and masked as before (a recursive bind copies each one's flags).
        cwd = os.getcwd()
        carried = [(point, os.open(point, os.O_PATH), os.path.isdir(point)) for point in _mounts_under("/tmp")]
        call("mount", b"tmpfs", b"/tmp", b"tmpfs", MS_NOSUID | MS_NODEV, f"size={settings['tmp']},mode=1777".encode())
        for point, fd, is_dir in carried:
            os.makedirs(point if is_dir else os.path.dirname(point), mode=0o755, exist_ok=True)
            if not is_dir:
                open(point, "x").close()
            call("mount", f"/proc/self/fd/{fd}".encode(), point.encode(), None, MS_BIND | MS_REC, None)
            os.close(fd)
        os.chdir(cwd)
        last = int(open("/proc/sys/kernel/cap_last_cap").read())
        for cap in range(last + 1):
            call("prctl", PR_CAPBSET_DROP, cap, 0, 0, 0)
        if as_root:  # a user id of its own: no file, process or process count shared with another child
            uid = gid = random.SystemRandom().randrange(*settings["uids"])
            os.setgroups([])
        os.setresgid(gid, gid, gid)
        os.setresuid(uid, uid, uid)
        call("prctl", PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0)
        call("capset", ctypes.byref(_CapHeader(0x20080522, 0)), (_CapData * 2)())
        call("prctl", PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0)
        status = dict(line.split(":\t", 1) for line in open("/proc/self/status").read().splitlines() if ":\t" in line)
        if any(int(status[k], 16) for k in ("CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb")) or os.getpid() != 1:
            raise OSError("the child kept a capability")
        keep = settings.get("keep", -1)  # the job's pipe; nothing else of the server's stays open
        os.closerange(3, keep) if keep >= 3 else None
        os.closerange(max(3, keep + 1), os.sysconf("SC_OPEN_MAX"))
    except BaseException:
        os._exit(NOT_ISOLATED)
    body()
    os._exit(0)


def _mounts_under(folder: str) -> list[str]:
    """The outermost mount points below ``folder`` (``/proc/self/mountinfo``, octal escapes decoded)."""
    import re

    points = set()
    with open("/proc/self/mountinfo") as f:
        for line in f:
            point = re.sub(r"\\([0-7]{3})", lambda m: chr(int(m[1], 8)), line.split()[4])
            if point.startswith(folder + "/"):
                points.add(point)
    return sorted(p for p in points if not any(p.startswith(q + "/") for q in points))


def _self_test(settings: dict) -> str:
    """Isolate a child that runs nothing: ``""`` if it could (and still sees the Python environment, the
    support package and its working folder), else why not."""
    visible = [p for p in sys.path if p and os.path.isdir(p)] + [os.getcwd()]
    pid = os.fork()
    if pid == 0:
        def body():
            ok = (open("/tmp/probe", "x").write("x") == 1 and os.getuid() != 0 and os.getpid() == 1
                  and all(os.path.isdir(p) for p in visible) and os.listdir(os.getcwd()) is not None)
            os._exit(0 if ok else NOT_ISOLATED)
        _isolated_child(settings, body)
    _, status = os.waitpid(pid, 0)
    code = os.waitstatus_to_exitcode(status)
    return "" if code == 0 else f"a test child could not be isolated (exit status {code})"


def _receive(control: socket.socket):
    """The next job and its pipe's descriptor, or ``None`` when the worker has gone."""
    header, fds, _, _ = socket.recv_fds(control, 8, 1)
    while 0 < len(header) < 8:
        more = control.recv(8 - len(header))
        if not more:
            return None
        header += more
    if len(header) < 8 or len(fds) != 1:
        return None
    size, data = int.from_bytes(header, "big"), bytearray()
    while len(data) < size:
        chunk = control.recv(min(size - len(data), 1 << 20))
        if not chunk:
            return None
        data += chunk
    return json.loads(data), fds[0]


def serve(control_fd: int, settings: dict) -> None:
    """The fork server: import, test isolation, then one isolated child per job, one job at a time."""
    os.environ["MPLBACKEND"] = "Agg"
    for name in ["IPython.core.interactiveshell", *settings["preload"]]:
        try:
            importlib.import_module(name)
        except Exception:
            pass  # the submission's own import reports it, as it would without the server
    control = socket.socket(fileno=control_fd)
    why = _self_test(settings)
    control.sendall(json.dumps({"ready": True, "isolated": not why, "why": why}).encode() + b"\n")
    if why:
        os._exit(0)
    while True:
        received = _receive(control)
        if received is None:
            os._exit(0)
        job, channel = received
        pid = os.fork()
        if pid == 0:
            control.close()
            _isolated_child({**settings, "close": [channel], "keep": channel}, lambda: run(job, channel))
        os.close(channel)
        _, status = os.waitpid(pid, 0)
        control.sendall(json.dumps({"finished": os.waitstatus_to_exitcode(status)}).encode() + b"\n")


def main() -> None:
    if sys.argv[1:2] == ["serve"]:
        serve(int(sys.argv[2]), json.loads(sys.argv[3]))
    job = json.loads(sys.stdin.read())
    run(job, job["channel"])


main()
