"""Shared fixtures: the repository on sys.path, nbgrader course folders in tmp, submissions."""

from __future__ import annotations

import copy
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

# One thread per test process for torch and BLAS, before anything imports them: the suite runs two
# test processes on two cores (pytest -n 2), and multi-threaded kernels that spin-wait for a core the
# other process holds run many times slower (a short PPO test: 3 s alone, 75 s beside the book build).
# Subprocesses (grading kernels, the book build) inherit it. The course's results hold with it (they
# are checked with OMP_NUM_THREADS=1 among the other floating-point settings below).
os.environ.setdefault("OMP_NUM_THREADS", "1")

import nbformat  # noqa: E402
import pytest  # noqa: E402

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
os.environ.setdefault("HF_HUB_OFFLINE", "1")

from autograde.release import nbgrader  # noqa: E402
from autograde.specs import CHAPTERS  # noqa: E402


OTHER_KERNELS = {"OPENBLAS_CORETYPE": "Prescott", "ATEN_CPU_CAPABILITY": "default", "OMP_NUM_THREADS": "1"}
"""Forces other numpy (OpenBLAS) and torch (ATen) floating-point kernels and another reduction order than
a machine picks by itself: what the course computes must hold on another CPU."""

PACKED_HIDDEN_CASES = re.compile(r'hidden=(\\?"|&quot;|&#34;)')
"""The argument that carries hidden cases, ``check(..., hidden="...")``, raw, JSON-escaped or in HTML."""


def pytest_addoption(parser):
    parser.addoption("--run-slow", action="store_true", help="run the tests marked slow (CI always does)")


LONGEST_FIRST = ("test_book.py", "test_checkpoints.py", "test_grading.py", "test_check_cli.py",
                 "test_grading_adversarial.py")
"""The test files that take minutes, which run first, in this order. ``make test`` hands whole files to
its two workers in collection order (``--dist loadfile --no-loadscope-reorder``), and a worker takes
its next file when two or fewer of its tests are left. So the book build (28 tests) keeps one worker
while the other runs the checkpoint retraining, the graders and the rest; the short files fill in at
the end. Chosen by replaying that rule on the per-test durations of a run of ``bench/suite_time.py``
(2026-12-08; ``bench/suite_balance.py``): this order came within 1% of an even split of the 2,168 s,
the order by number of tests (pytest-xdist's default) 2% over, the longest first 12% over."""


def pytest_collection_modifyitems(config, items):
    """The longest test files first (``LONGEST_FIRST``); tests marked ``slow`` (minutes each) run in CI
    (``CI=true``, as CI sets it) or with --run-slow."""
    rank = {name: i for i, name in enumerate(LONGEST_FIRST)}
    items.sort(key=lambda item: rank.get(item.path.name, len(rank)))  # stable: the rest keep their order
    if config.getoption("--run-slow") or os.environ.get("CI", "").lower() in ("1", "true", "yes"):
        return
    skip = pytest.mark.skip(reason="slow: runs in CI, or locally with --run-slow")
    for item in items:
        if "slow" in item.keywords:
            item.add_marker(skip)


def pytest_sessionfinish(session, exitstatus):
    """Collecting no test is a failure, never a silent pass (pytest's exit code 5 becomes 1)."""
    if exitstatus == pytest.ExitCode.NO_TESTS_COLLECTED:
        print("\nNo tests were collected: the suite is broken, not green.", file=sys.stderr)
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


class Course:
    """A throw-away nbgrader course folder whose assignments are the book's chapters."""

    def __init__(self, root: Path):
        self.root = root
        root.mkdir(parents=True, exist_ok=True)

    def run(self, *args: str, check: bool = True):
        return nbgrader(*args, root=self.root, check=check)

    def release(self, chapter: str) -> Path:
        self.run("generate_assignment", chapter, "--force")
        return self.root / "release" / chapter / CHAPTERS[chapter].notebook

    def submit(self, student: str, chapter: str, nb_or_text) -> Path:
        path = self.root / "submitted" / student / chapter / CHAPTERS[chapter].notebook
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(nb_or_text, str):
            path.write_text(nb_or_text)
        else:
            nbformat.write(nb_or_text, path)
        return path

    def grade(self, chapter: str, *args: str, check: bool = True, quiet: bool = True) -> subprocess.CompletedProcess:
        """The fast grader, as the README runs it: ``python -m autograde grade CHAPTER``, from the repository."""
        cmd = [sys.executable, "-m", "autograde", "grade", chapter, f"--root={self.root}", *["--quiet"] * quiet, *args]
        proc = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True)
        if check and proc.returncode != 0:
            raise RuntimeError(f"grade {chapter} failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr}")
        return proc

    def copy(self, name: str) -> "Course":
        """A second course folder with the same gradebook and submissions (to grade them another way)."""
        shutil.copytree(self.root, self.root.parent / name)
        return Course(self.root.parent / name)

    def scores(self, chapter: str) -> dict:
        """student -> (score, max_score, needs_manual_grade), for every graded submission."""
        from autograde.grade import scores

        return scores(self.root / "gradebook.db", chapter)


@pytest.fixture
def course(tmp_path) -> Course:
    return Course(tmp_path / "course")


def filled_in(release_nb, chapter: str, answers: dict | None = None):
    """A copy of the student notebook with every exercise answered: by the reference, or by the code
    in ``answers[name]`` (a function or a source string)."""
    import inspect

    nb = copy.deepcopy(release_nb)
    spec = CHAPTERS[chapter]
    for cell in nb.cells:
        md = cell.metadata.get("nbgrader", {})
        if not md.get("solution"):
            continue
        ex = spec.exercise(md["grade_id"])
        answer = (answers or {}).get(ex.name, ex.reference)
        if callable(answer):
            src = inspect.getsource(answer)
            answer = src.replace(f"def {answer.__name__}(", f"def {ex.name}(", 1)
        cell.source = answer
    return nb


def stop(proc: subprocess.Popen, timeout: float = 20) -> None:
    """End a process a test started: politely, then by force if it does not stop in ``timeout`` s."""
    proc.terminate()
    try:
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


@pytest.fixture(scope="session")
def repo() -> Path:
    return REPO

