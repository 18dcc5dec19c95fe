"""The grading kernels' sandbox: each student's kernel runs inside bubblewrap (``bwrap``).

nbgrader starts a kernel per submission with the grader's own permissions; a submission could read
the instructor's notebooks and the reference solutions, or rewrite ``gradebook.db`` and other
students' files. :class:`SandboxedKernelManager` (set as nbgrader's kernel manager in
``autograde/nbgrader_config.py``) starts every kernel inside a bubblewrap sandbox in which it sees:

- read-only: the system's ``/usr``, the Python environment (``sys.prefix``), the course's support
  package ``rlcourse`` (with the reference implementations of the graded chapter and of every later
  chapter replaced by empty files), and its own submission folder;
- read-write: a private, empty ``/tmp`` (its scratch space and ``HOME``) and the folder of its own
  connection file and sockets;
- nothing else: not ``book/``, ``solutions/``, ``autograde/`` (gradebook, releases, other students'
  submissions and feedback), no network (``--unshare-all``: no network interfaces but its own
  loopback), no other process;
- limits: address space ``RLCOURSE_KERNEL_MEMORY_GB`` (default 8), wall clock
  ``RLCOURSE_KERNEL_WALL_S`` (default 1800 s) for the whole kernel; nbgrader adds a time limit per
  cell and a cap on output.

The kernel talks to nbgrader over ZeroMQ on Unix sockets (``ipc``) in a folder of its own, since a
network namespace has no route to the grader's TCP loopback, and is interrupted by message (a cell
that runs past nbgrader's time limit), since signals to the sandbox do not reach its session.
"""

from __future__ import annotations

import os
import re
import shutil
import sys
import tempfile
from pathlib import Path

from jupyter_client.manager import AsyncKernelManager

REPO = Path(__file__).resolve().parent.parent
CHAPTER = re.compile(r"^(\d\d)-")


class SandboxUnavailable(RuntimeError):
    pass


def bwrap() -> str:
    path = shutil.which("bwrap")
    if path is None:
        raise SandboxUnavailable("bubblewrap (bwrap) is not installed; grading kernels must run in its sandbox. "
                                 "Install it with `make sandbox` (Debian's package bubblewrap).")
    return path


def masked_references(package: Path, assignment: str | None) -> list[Path]:
    """The reference modules a kernel grading ``assignment`` may not import: its chapter's and later ones'
    (all of them when the chapter is unknown)."""
    match = CHAPTER.match(assignment or "")
    number = int(match[1]) if match else 0
    return sorted(p for p in (package / "reference").glob("ch*.py") if int(p.name[2:4]) >= number)


def sandbox_command(kernel_cmd: list[str], cwd: str, private: str, assignment: str | None = None) -> list[str]:
    """``kernel_cmd`` wrapped in bubblewrap (see the module docstring for what it may see)."""
    import rlcourse

    package = Path(rlcourse.__file__).resolve().parent
    memory = int(float(os.environ.get("RLCOURSE_KERNEL_MEMORY_GB", "8")) * 2**30)
    wall = int(os.environ.get("RLCOURSE_KERNEL_WALL_S", "1800"))
    args = [bwrap(), "--die-with-parent", "--new-session", "--unshare-all",
            "--ro-bind", "/usr", "/usr", "--symlink", "usr/lib", "/lib", "--symlink", "usr/bin", "/bin",
            "--symlink", "usr/sbin", "/sbin", "--proc", "/proc", "--dev", "/dev", "--tmpfs", "/tmp"]
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
    for module in masked_references(package, assignment):
        args += ["--ro-bind", "/dev/null", str(module)]
    args += ["--ro-bind", cwd, cwd, "--bind", private, private, "--chdir", cwd,
             "--setenv", "HOME", "/tmp", "--setenv", "MPLCONFIGDIR", "/tmp", "--setenv", "TMPDIR", "/tmp",
             "--setenv", "HF_HUB_OFFLINE", "1", "--setenv", "NBGRADER_EXECUTION", "autograde",
             "--unsetenv", "PYTHONPATH", "--"]
    return args + ["/usr/bin/timeout", "--kill-after=5", str(wall), "/usr/bin/prlimit", f"--as={memory}", "--",
                   *kernel_cmd]


class SandboxedKernelManager(AsyncKernelManager):
    """nbgrader's kernel manager for grading: every kernel starts inside :func:`sandbox_command`."""

    async def _async_pre_start_kernel(self, **kw):
        self.transport = "ipc"
        private = tempfile.mkdtemp(prefix="rlcourse-kernel-")
        self.connection_file = os.path.join(private, "kernel.json")
        self.ip = os.path.join(private, "ipc")
        self._rlcourse_private = private
        kernel_cmd, kw = await super()._async_pre_start_kernel(**kw)
        # Interrupts (nbgrader's per-cell timeout) as a message the kernel acts on: a signal to the
        # sandbox's process group would not reach the kernel's own session.
        self.kernel_spec.interrupt_mode = "message"
        cwd = os.path.realpath(kw.get("cwd") or os.getcwd())
        return sandbox_command(kernel_cmd, cwd, private, assignment=Path(cwd).name), kw

    async def _async_cleanup_resources(self, restart: bool = False) -> None:
        await super()._async_cleanup_resources(restart=restart)
        private = getattr(self, "_rlcourse_private", None)
        if private and not restart:
            shutil.rmtree(private, ignore_errors=True)
