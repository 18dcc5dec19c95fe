"""The student's command: exits non-zero while a check fails, zero when all pass, and says which."""

import re
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

from autograde.specs import CHAPTERS
from rlcourse.check_notebook import HIDDEN_NOTE
from tests.conftest import REPO, filled_in

N = len(CHAPTERS["01-mdp"].exercises)
"""Chapter 1's exercises, one visible check cell each."""


def check(path: Path):
    cli = Path(sys.executable).parent / "rlcourse-check"
    return subprocess.run([str(cli), str(path)], capture_output=True, text=True)


def test_check_command(course, tmp_path):
    release_nb = nbformat.read(course.release("01-mdp"), as_version=4)

    blank = tmp_path / "blank.ipynb"
    nbformat.write(release_nb, blank)
    proc = check(blank)
    assert proc.returncode == 1
    assert f"0 of {N} visible checks passed" in proc.stdout and "not implemented yet" in proc.stdout
    # the demonstrations that call an exercise fail too: named, in notebook order, once each
    assert re.search(r"^! code cell \d+ \(`.+`\) raised NotImplementedError", proc.stdout, re.M), proc.stdout
    assert "raised an error (marked !); a check after such a cell may fail because of it." in proc.stdout
    assert proc.stdout.count(HIDDEN_NOTE) == 1 and "· hidden_test_discounted_return" in proc.stdout
    assert "without encryption" not in proc.stderr and "[IPKernelApp]" not in proc.stderr, proc.stderr

    def discounted_return(rewards, gamma):
        """Forgot the discount."""
        return float(sum(rewards))

    wrong = tmp_path / "wrong.ipynb"
    nbformat.write(filled_in(release_nb, "01-mdp", {"discounted_return": discounted_return}), wrong)
    proc = check(wrong)
    assert proc.returncode == 1
    assert f"{N - 1} of {N} visible checks passed" in proc.stdout
    assert "✗ test_discounted_return" in proc.stdout and "expected 1.75, got 3" in proc.stdout
    assert "Likely mistake: the rewards are summed without the discount" in proc.stdout

    done = tmp_path / "done.ipynb"
    nbformat.write(filled_in(release_nb, "01-mdp"), done)
    proc = check(done)
    assert proc.returncode == 0, proc.stdout
    assert f"{N} of {N} visible checks passed" in proc.stdout and "! code cell" not in proc.stdout

    # an ordinary cell that fails is reported with its error; the checks decide the exit status
    slip = filled_in(release_nb, "01-mdp")
    slip.cells.insert(len(slip.cells) - 1, nbformat.v4.new_code_cell("# a typo\nprint(undefined_name)"))
    nbformat.write(slip, done)
    proc = check(done)
    assert proc.returncode == 0, proc.stdout
    number = sum(c.cell_type == "code" for c in slip.cells[:-1])  # its number among the code cells
    assert (f"! code cell {number} (`print(undefined_name)`) raised NameError: name 'undefined_name' is not "
            "defined") in proc.stdout, proc.stdout
    assert "1 other code cell raised an error" in proc.stdout


def test_a_failed_check_in_jupyter_shows_the_message_not_the_course_code(tmp_path):
    """In Jupyter a failing check shows what the check says; its traceback does not run through
    rlcourse's own code (nor does the student's raising answer need it: the message quotes its line)."""
    nb = nbformat.v4.new_notebook(cells=[
        nbformat.v4.new_code_cell("from rlcourse.checks import check\n\n"
                                  "def discounted_return(rewards, gamma):\n    return float(sum(rewards))"),
        nbformat.v4.new_code_cell('check(discounted_return, "01-mdp/discounted_return")'),
    ])
    NotebookClient(nb, timeout=60, allow_errors=True, kernel_name="python3",
                   resources={"metadata": {"path": str(tmp_path)}}).execute()
    (error,) = [o for o in nb.cells[1].outputs if o.output_type == "error"]
    assert error.ename == "CheckFailed" and "Likely mistake: the rewards are summed" in error.evalue
    assert error.traceback == error.evalue.splitlines()


def test_check_command_rejects_a_broken_file(tmp_path):
    bad = tmp_path / "bad.ipynb"
    bad.write_text("{ not json")
    proc = check(bad)
    assert proc.returncode == 2 and "not a readable notebook" in proc.stderr


@pytest.mark.slow
def test_a_student_follows_the_running_page_in_a_clean_environment(course, tmp_path):
    """What the book's "Running the exercise notebooks" page tells a student, done from nothing: a copy
    of the repository, a new virtual environment, the one install command, a downloaded notebook and
    ``rlcourse-check`` (minutes: the install is real)."""
    command = "pip install -r requirements.txt -e ."
    assert command in (REPO / "running.md").read_text()
    copy = tmp_path / "course-repo"
    shutil.copytree(REPO, copy, ignore=shutil.ignore_patterns(".git", ".venv", "_build", "autograde", "tests",
                                                              "*.egg-info", "__pycache__", "book"))
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    pip = subprocess.run([str(venv / "bin" / "python"), "-m", *command.split()], cwd=copy,
                         capture_output=True, text=True)
    assert pip.returncode == 0, pip.stdout[-3000:] + pip.stderr[-3000:]

    student = tmp_path / "downloads"
    student.mkdir()
    release_nb = nbformat.read(course.release("01-mdp"), as_version=4)
    nbformat.write(release_nb, student / "mdp.ipynb")
    cli = [str(venv / "bin" / "rlcourse-check"), "mdp.ipynb"]
    proc = subprocess.run(cli, cwd=student, capture_output=True, text=True)
    assert proc.returncode == 1 and f"0 of {N} visible checks passed" in proc.stdout, proc.stdout + proc.stderr

    nbformat.write(filled_in(release_nb, "01-mdp"), student / "mdp.ipynb")
    proc = subprocess.run(cli, cwd=student, capture_output=True, text=True)
    assert proc.returncode == 0 and f"{N} of {N} visible checks passed" in proc.stdout, proc.stdout + proc.stderr
