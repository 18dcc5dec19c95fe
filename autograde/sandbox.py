"""The grading kernels' sandbox: each student's kernel runs inside bubblewrap (``bwrap``).

nbgrader starts a kernel per submission with the grader's own permissions; a submission could read
the instructor's notebooks and the reference solutions, or rewrite ``gradebook.db`` and other
students' files. :class:`SandboxedKernelManager` (set as nbgrader's kernel manager in
``autograde/nbgrader_config.py``) starts every kernel inside :func:`sandbox_command`, and the fast
grader starts its cell runner the same way. Inside, a submission sees:

- read-only: the system's ``/usr``, the Python environment (``sys.prefix``), the course's support
  package ``rlcourse``, and its own submission folder. Of the support package's reference modules,
  those of the graded chapter and of every later chapter are empty files, in every copy of the
  package on the Python path, and every ``reference/__pycache__`` folder is empty (compiled
  bytecode is as good as source);
- read-write: a private ``/tmp`` of ``RLCOURSE_KERNEL_TMP_MB`` (default 256) megabytes, its
  ``HOME``; an nbgrader kernel also writes its connection sockets into a folder of its own (the
  fast grader's runner has no writable folder but ``/tmp``);
- nothing else: not ``book/``, ``solutions/``, ``autograde/`` (gradebook, releases, other students'
  submissions and feedback), no network (its own loopback only), no other process, no capability
  (a process that could unmount the masks above would read the references);
- an environment of its own: only the variables :func:`kernel_environment` lists, never the
  grader's (a token or a cloud credential in the grading shell would end up in the feedback);
- limits, each enforced by the kernel where the submission cannot lift it: address space per
  process ``RLCOURSE_KERNEL_MEMORY_GB`` (default 8), size of any file it writes (the ``/tmp``
  size), processes and threads ``RLCOURSE_KERNEL_PROCESSES`` (default 256), and wall clock
  ``RLCOURSE_KERNEL_WALL_S`` (default 1800 s) for the whole kernel, timed by ``timeout`` *outside*
  the sandbox (killing it kills the sandbox); nbgrader adds a time limit per cell and a cap on output.

The fast grader runs its cells in a fork server started once per chapter and worker in this same
sandbox (``fork_server=True``; ``autograde/runner.py``): it imports what the chapter's cells import,
then forks one child per submission and isolates it before any of the submission's code runs, with
new mount, pid and IPC namespaces, a fresh ``/tmp`` of the same size and a fresh ``/proc``, its own
user id (run as root) and no capability, so nothing one submission leaves reaches the next. Run as
root, the server keeps the four capabilities that takes (:data:`FORK_SERVER_CAPS`) and no submission
ever holds them. The worker times each cell outside the sandbox and kills the whole server when one
does not stop.

The process limit counts the processes of one user: run unprivileged, bubblewrap puts the sandbox in
a user namespace of its own, where the count is the sandbox's own. Run as root (a container, CI),
processes of uid 0 are never counted, so the sandbox drops to a user id of its own, chosen at random
among unused high ids, after bubblewrap has set it up (``setpriv``).

The kernel talks to nbgrader over ZeroMQ on Unix sockets (``ipc``) in a folder of its own, since a
network namespace has no route to the grader's TCP loopback, and is interrupted by message (a cell
that runs past nbgrader's time limit), since signals to the sandbox do not reach its session.
"""

from __future__ import annotations

import atexit
import functools
import os
import random
import re
import shutil
import sys
import tempfile
from pathlib import Path

from jupyter_client.manager import AsyncKernelManager

REPO = Path(__file__).resolve().parent.parent
CHAPTER = re.compile(r"^(\d\d)-")
PASSED_THROUGH = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS", "OPENBLAS_CORETYPE",
                  "ATEN_CPU_CAPABILITY", "PYTHONHASHSEED", "TZ")
"""The grader's variables a kernel inherits (when set): those that choose numerical kernels and thread
counts, so a submission computes what the grader's own checks computed. Nothing else passes."""
ONE_THREAD = {"OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
"""Thread counts a kernel gets unless the grader sets its own: submissions run side by side, one per
core, and a kernel that started a thread per core (OpenBLAS, PyTorch) on a large machine would spend
its process budget on threads. The course's results hold single-threaded (checked in the suite)."""
SANDBOX_UIDS = (1_000_000_000, 2_000_000_000)
"""Where a sandbox started by root takes its user id (far above any account or subordinate id range)."""


class SandboxUnavailable(RuntimeError):
    pass


def bwrap() -> str:
    path = shutil.which("bwrap")
    if path is None:
        raise SandboxUnavailable("bubblewrap (bwrap) is not installed; grading kernels must run in its sandbox. "
                                 "Install it with `make sandbox` (Debian's package bubblewrap).")
    return path


def limits() -> dict:
    """The sandbox's limits, from the environment (see the module docstring)."""
    return {"memory": int(float(os.environ.get("RLCOURSE_KERNEL_MEMORY_GB", "8")) * 2**30),
            "tmp": int(float(os.environ.get("RLCOURSE_KERNEL_TMP_MB", "256")) * 2**20),
            "processes": int(os.environ.get("RLCOURSE_KERNEL_PROCESSES", "256")),
            "wall": int(os.environ.get("RLCOURSE_KERNEL_WALL_S", "1800"))}


def kernel_environment() -> dict:
    """Every variable a sandboxed kernel sees."""
    env = {"PATH": f"{Path(sys.prefix) / 'bin'}:/usr/bin:/bin", "HOME": "/tmp", "TMPDIR": "/tmp",
           "MPLCONFIGDIR": "/tmp", "LANG": "C.UTF-8", "HF_HUB_OFFLINE": "1", "PYTHONDONTWRITEBYTECODE": "1",
           "NBGRADER_EXECUTION": "autograde", **ONE_THREAD}
    env.update({k: os.environ[k] for k in PASSED_THROUGH if k in os.environ})
    return env


def launcher_environment() -> dict:
    """The environment ``timeout`` and ``bwrap`` start with: nothing of the grader's but where programs are
    (``bwrap`` clears even this for the kernel; a clean start keeps the grader's variables out of the
    sandbox's own processes, whose start-up environment the kernel could read in ``/proc``)."""
    return {"PATH": "/usr/bin:/bin", "LANG": "C.UTF-8"}


def masked_references(package: Path, assignment: str | None) -> list[Path]:
    """The reference modules a kernel grading ``assignment`` may not import: its chapter's and later ones'
    (all of them when the chapter is unknown)."""
    match = CHAPTER.match(assignment or "")
    number = int(match[1]) if match else 0
    return sorted(p for p in (package / "reference").glob("ch*.py") if int(p.name[2:4]) >= number)


@functools.lru_cache(maxsize=1)
def reference_copies() -> tuple[Path, ...]:
    """Every ``rlcourse`` package folder a kernel could import from: the imported one, and any copy on
    the Python path (a non-editable install beside an editable one, a stale build)."""
    import rlcourse

    found = {Path(rlcourse.__file__).resolve().parent}
    for entry in sys.path:
        candidate = Path(entry or ".") / "rlcourse"
        if (candidate / "reference").is_dir():
            found.add(candidate.resolve())
    return tuple(sorted(found))


@functools.lru_cache(maxsize=1)
def _blanks() -> tuple[str, str]:
    """An empty file and an empty folder, readable by anyone, to mount over what a kernel may not see."""
    folder = Path(tempfile.mkdtemp(prefix="rlcourse-blank-"))
    atexit.register(shutil.rmtree, folder, True)
    (folder / "empty").touch()
    (folder / "dir").mkdir()
    folder.chmod(0o755)
    return str(folder / "empty"), str(folder / "dir")


def sandbox_uid() -> int | None:
    """The user id the sandboxed process takes when the grader runs as root, else ``None``."""
    return random.SystemRandom().randrange(*SANDBOX_UIDS) if os.geteuid() == 0 else None


FORK_SERVER_CAPS = ("CAP_SYS_ADMIN", "CAP_SETUID", "CAP_SETGID", "CAP_SETPCAP")
"""What the fast grader's fork server keeps when the grader is root: enough to give each child new
namespaces, a fresh ``/tmp``, a user id of its own, and to drop every capability in the child
(``autograde/runner.py``). The server runs only the course's code; no submission runs with them."""


def sandbox_command(kernel_cmd: list[str], cwd: str, private: str | None = None, assignment: str | None = None,
                    uid: int | None = None, fork_server: bool = False) -> list[str]:
    """``kernel_cmd`` wrapped in bubblewrap (see the module docstring for what it may see).

    ``cwd``: the submission's folder (read-only); ``private``: a writable folder (an nbgrader kernel's
    connection file and sockets), or ``None``; ``assignment``: the chapter, whose references and later
    ones are masked; ``uid``: the user the process runs as when the grader is root (:func:`sandbox_uid`);
    ``fork_server``: the process is the fast grader's fork server, which isolates every child it forks
    itself (run as root, it stays root with :data:`FORK_SERVER_CAPS` and needs no ``uid``).
    """
    import rlcourse

    package = Path(rlcourse.__file__).resolve().parent
    limit = limits()
    as_root = os.geteuid() == 0
    if as_root and uid is None and not fork_server:
        raise ValueError("run as root, a sandbox needs a user id of its own (sandbox_uid())")
    # as root: no user namespace (the process count of uid 0 is never limited); setpriv drops to `uid`
    namespaces = (["--unshare-pid", "--unshare-net", "--unshare-ipc", "--unshare-uts", "--unshare-cgroup-try"]
                  if as_root else ["--unshare-all", "--cap-drop", "ALL"])
    if as_root and fork_server:
        namespaces += [arg for cap in FORK_SERVER_CAPS for arg in ("--cap-add", cap)]
    args = [bwrap(), "--die-with-parent", "--new-session", *namespaces, "--clearenv",
            "--ro-bind", "/usr", "/usr", "--symlink", "usr/lib", "/lib", "--symlink", "usr/bin", "/bin",
            "--symlink", "usr/sbin", "/sbin", "--proc", "/proc", "--dev", "/dev", "--remount-ro", "/dev",
            "--size", str(limit["tmp"]), "--perms", "1777", "--tmpfs", "/tmp"]
    if Path("/usr/lib64").exists():
        args += ["--symlink", "usr/lib64", "/lib64"]
    for etc in ("/etc/ld.so.cache", "/etc/localtime", "/etc/passwd", "/etc/group", "/etc/nsswitch.conf"):
        if Path(etc).exists():
            args += ["--ro-bind", etc, etc]
    prefixes = {Path(sys.prefix).resolve(), Path(sys.base_prefix).resolve()}
    for prefix in sorted(prefixes):
        if not str(prefix).startswith("/usr"):
            args += ["--ro-bind", str(prefix), str(prefix)]
    if not any(package.is_relative_to(p) for p in prefixes):  # an editable install: the package's own folder
        args += ["--ro-bind", str(package), str(package)]
    empty_file, empty_dir = _blanks()
    for copy in reference_copies():
        if not any(copy.is_relative_to(p) for p in [*prefixes, package]):
            continue  # not mounted in the sandbox at all
        for module in masked_references(copy, assignment):
            args += ["--ro-bind", empty_file, str(module)]
        if (copy / "reference" / "__pycache__").is_dir():
            args += ["--ro-bind", empty_dir, str(copy / "reference" / "__pycache__")]
    args += ["--ro-bind", cwd, cwd, "--chdir", cwd]
    if private is not None:
        args += ["--bind", private, private]
    args = _with_open_parents(args)
    for key, value in kernel_environment().items():
        args += ["--setenv", key, value]
    args += ["--"]
    if as_root and not fork_server:
        args += ["/usr/bin/setpriv", f"--reuid={uid}", f"--regid={uid}", "--clear-groups", "--inh-caps=-all",
                 "--bounding-set=-all", "--no-new-privs", "--"]
    args += ["/usr/bin/prlimit", f"--as={limit['memory']}", f"--fsize={limit['tmp']}",
             f"--nproc={limit['processes']}", "--", *kernel_cmd]
    return ["/usr/bin/timeout", "--kill-after=5", str(limit["wall"]), *args]


def _with_open_parents(args: list[str]) -> list[str]:
    """``args`` with every folder above a mount point made first, readable by anyone (bubblewrap would
    make them readable by root only, which the unprivileged sandbox user could not pass through)."""
    out, made = [], {"/"}
    i = 0
    while i < len(args):
        if args[i] in ("--ro-bind", "--bind"):
            for parent in reversed(Path(args[i + 2]).parents):
                if str(parent) not in made and str(parent) not in ("/usr", "/tmp", "/dev", "/proc"):
                    made.add(str(parent))
                    out += ["--perms", "0755", "--dir", str(parent)]
            out += args[i:i + 3]
            i += 3
        else:
            out.append(args[i])
            i += 1
    return out


def give_to(path: str, uid: int | None) -> None:
    """Let the sandbox's user (run as root: ``uid``) write ``path``, a folder made for it, and read its files."""
    if uid is None:
        return
    for root, dirs, files in os.walk(path):
        for name in [root, *(os.path.join(root, d) for d in dirs), *(os.path.join(root, f) for f in files)]:
            os.chown(name, uid, uid)


class SandboxedKernelManager(AsyncKernelManager):
    """nbgrader's kernel manager for grading: every kernel starts inside :func:`sandbox_command`."""

    async def _async_pre_start_kernel(self, **kw):
        self.transport = "ipc"
        private = tempfile.mkdtemp(prefix="rlcourse-kernel-")
        self.connection_file = os.path.join(private, "kernel.json")
        self.ip = os.path.join(private, "ipc")
        self._rlcourse_private = private
        kernel_cmd, kw = await super()._async_pre_start_kernel(**kw)  # writes the connection file
        # Interrupts (nbgrader's per-cell timeout) as a message the kernel acts on: a signal to the
        # sandbox's process group would not reach the kernel's own session.
        self.kernel_spec.interrupt_mode = "message"
        cwd = os.path.realpath(kw.get("cwd") or os.getcwd())
        uid = sandbox_uid()
        give_to(private, uid)
        kw["env"] = launcher_environment()
        return sandbox_command(kernel_cmd, cwd, private, assignment=Path(cwd).name, uid=uid), kw

    async def _async_cleanup_resources(self, restart: bool = False) -> None:
        await super()._async_cleanup_resources(restart=restart)
        private = getattr(self, "_rlcourse_private", None)
        if private and not restart:
            shutil.rmtree(private, ignore_errors=True)
