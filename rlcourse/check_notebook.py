"""Check a filled-in exercise notebook from the command line.

    rlcourse-check mdp.ipynb            (or: python -m rlcourse.check_notebook mdp.ipynb)

Runs the notebook top to bottom in a fresh kernel (in its own folder, without changing the file),
then prints the result of every check cell and exits with status 1 if any check failed, 0 if all
passed. Unlike ``nbgrader validate``, the exit status tells a script whether the work is done.
Hidden tests are not in a student's notebook; they run only when the instructor grades it.
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

import nbformat
from nbclient import NotebookClient

ANSI = re.compile(r"\x1b\[[0-9;]*m")


def run_checks(path: Path, timeout: int = 180) -> list[dict]:
    """Execute the notebook and return one result per graded cell: grade_id, points, passed, message."""
    nb = nbformat.read(path, as_version=4)
    client = NotebookClient(nb, timeout=timeout, allow_errors=True, kernel_name="python3",
                            resources={"metadata": {"path": str(path.parent)}})
    client.execute()
    results = []
    for cell in nb.cells:
        md = cell.get("metadata", {}).get("nbgrader", {})
        if cell.cell_type != "code" or not md.get("grade"):
            continue
        errors = [o for o in cell.get("outputs", []) if o.get("output_type") == "error"]
        # stderr (a warning, a log line, a debug print) never fails a check: grading drops it too
        printed = "".join(o.get("text", "") for o in cell.get("outputs", [])
                          if o.get("output_type") == "stream" and o.get("name") == "stdout")
        hidden_only = "check(" not in cell.source
        if errors:
            message = ANSI.sub("", errors[0].get("evalue", "")) or errors[0].get("ename", "error")
            if errors[0].get("ename") not in ("CheckFailed", "AssertionError"):
                message = f"{errors[0].get('ename')}: {message}"
        else:
            message = "hidden tests run when the notebook is graded" if hidden_only else printed.strip()
        results.append({"grade_id": md.get("grade_id", "?"), "points": md.get("points", 0),
                        "passed": not errors, "hidden_only": hidden_only, "message": message})
    return results


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="rlcourse-check", description=__doc__.split("\n")[0])
    parser.add_argument("notebook", type=Path)
    parser.add_argument("--timeout", type=int, default=180, help="seconds allowed per cell (default 180)")
    args = parser.parse_args(argv)
    if not args.notebook.is_file():
        print(f"rlcourse-check: no such notebook: {args.notebook}", file=sys.stderr)
        return 2
    try:
        results = run_checks(args.notebook.resolve(), args.timeout)
    except (nbformat.reader.NotJSONError, ValueError) as exc:
        print(f"rlcourse-check: {args.notebook} is not a readable notebook: {exc}", file=sys.stderr)
        return 2
    if not results:
        print(f"rlcourse-check: {args.notebook} has no check cells (is it a course exercise notebook?)",
              file=sys.stderr)
        return 2
    visible = [r for r in results if not r["hidden_only"]]
    for r in results:
        mark = "·" if r["hidden_only"] and r["passed"] else ("✓" if r["passed"] else "✗")
        print(f"{mark} {r['grade_id']} ({r['points']} pt)")
        if not r["passed"] or not r["hidden_only"]:
            for line in r["message"].splitlines():
                print(f"    {line}")
    n_pass = sum(r["passed"] for r in visible)
    print(f"\n{n_pass} of {len(visible)} visible checks passed"
          + ("" if n_pass == len(visible) else "; fix the ones marked ✗ and run again."))
    return 0 if all(r["passed"] for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
