"""Write the student notebooks: ``nbgrader generate_assignment`` for every chapter.

    python -m autograde release [CHAPTER ...] [--root DIR]

The student notebooks land in ``<root>/release/<chapter>/`` (default root: this folder), which is
where the book's download links point.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent


def nbgrader(*args: str, root: Path = HERE, check: bool = True) -> subprocess.CompletedProcess:
    """Run an nbgrader command with the course's configuration, on the course folder ``root``."""
    cmd = [sys.executable, "-m", "nbgrader", *args, f"--CourseDirectory.root={root}"]
    # nbgrader runs `alembic` and `jupyter` from PATH: put this interpreter's bin folder first
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"}
    proc = subprocess.run(cmd, cwd=HERE, capture_output=True, text=True, env=env)
    if check and proc.returncode != 0:
        raise RuntimeError(f"{' '.join(args)} failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr}")
    return proc


def release(chapters, root: Path = HERE) -> None:
    """Write the student notebooks of ``chapters`` under ``root/release``.

    The cell records nbgrader keeps while releasing go to a throw-away gradebook, so releasing for the
    book is repeatable and never touches (or trips over) the instructor's ``gradebook.db``.
    """
    with tempfile.TemporaryDirectory(prefix="rlcourse-release-") as tmp:
        db = f"--CourseDirectory.db_url=sqlite:///{Path(tmp) / 'gradebook.db'}"
        for chapter in chapters:
            nbgrader("generate_assignment", chapter, "--force", db, root=root)


def main(argv=None) -> int:
    from autograde.specs import CHAPTERS

    parser = argparse.ArgumentParser(prog="python -m autograde release", description=__doc__.split("\n")[0])
    parser.add_argument("chapters", nargs="*", help="chapter ids (default: all)")
    parser.add_argument("--root", type=Path, default=HERE, help="nbgrader course folder")
    args = parser.parse_args(argv)
    release(args.chapters or list(CHAPTERS), args.root.resolve())
    for chapter in args.chapters or CHAPTERS:
        print(f"released: {args.root / 'release' / chapter}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
