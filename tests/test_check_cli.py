"""The student's command: exits non-zero while a check fails, zero when all pass, and says which."""

import subprocess
import sys
from pathlib import Path

import nbformat

from tests.conftest import filled_in


def check(path: Path):
    cli = Path(sys.executable).parent / "rlcourse-check"
    return subprocess.run([str(cli), str(path)], capture_output=True, text=True)


def test_check_command(course, tmp_path):
    release_nb = nbformat.read(course.release("01-mdp"), as_version=4)

    blank = tmp_path / "blank.ipynb"
    nbformat.write(release_nb, blank)
    proc = check(blank)
    assert proc.returncode == 1
    assert "0 of 4 visible checks passed" in proc.stdout and "not implemented yet" in proc.stdout

    def discounted_return(rewards, gamma):
        """Forgot the discount."""
        return float(sum(rewards))

    wrong = tmp_path / "wrong.ipynb"
    nbformat.write(filled_in(release_nb, "01-mdp", {"discounted_return": discounted_return}), wrong)
    proc = check(wrong)
    assert proc.returncode == 1
    assert "3 of 4 visible checks passed" in proc.stdout
    assert "✗ test_discounted_return" in proc.stdout and "expected 1.75, got 3" in proc.stdout
    assert "Likely mistake: the rewards are summed without the discount" in proc.stdout

    done = tmp_path / "done.ipynb"
    nbformat.write(filled_in(release_nb, "01-mdp"), done)
    proc = check(done)
    assert proc.returncode == 0, proc.stdout
    assert "4 of 4 visible checks passed" in proc.stdout


def test_check_command_rejects_a_broken_file(tmp_path):
    bad = tmp_path / "bad.ipynb"
    bad.write_text("{ not json")
    proc = check(bad)
    assert proc.returncode == 2 and "not a readable notebook" in proc.stderr
