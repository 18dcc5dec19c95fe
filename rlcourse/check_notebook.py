"""Check a filled-in exercise notebook from the command line.

    rlcourse-check mdp.ipynb            (or: python -m rlcourse.check_notebook mdp.ipynb)

Runs the notebook top to bottom in a fresh kernel (in its own folder, without changing the file),
then prints the result of every check cell, in notebook order with the other code cells that raised
an error (a check after one may fail because of it), and exits with status 1 if any check failed, 0
if all passed. Unlike ``nbgrader validate``, the exit status tells a script whether the work is done.
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

KERNEL_ARGS = ["--IPKernelApp.log_level=ERROR"]
"""The kernel's own start-up warnings (e.g. that it talks to this process over local TCP without
encryption) are not about the student's work; the cells' own output is captured either way."""

HIDDEN_NOTE = ("Checks marked · are hidden: more cases of the same exercises (other inputs, edge cases) that are "
               "not in your notebook. They run only when your instructor grades it.")


def run_checks(path: Path, timeout: int = 180) -> list[dict]:
    """Execute the notebook and return, in notebook order, one result per graded cell (kind "check":
    grade_id, points, passed, hidden_only, message) and per other code cell that raised an error
    (kind "cell": number among the code cells, first line of code, error)."""
    nb = nbformat.read(path, as_version=4)
    client = NotebookClient(nb, timeout=timeout, allow_errors=True, kernel_name="python3",
                            extra_arguments=KERNEL_ARGS, resources={"metadata": {"path": str(path.parent)}})
    client.execute()
    results = []
    code_cells = [cell for cell in nb.cells if cell.cell_type == "code"]
    for number, cell in enumerate(code_cells, start=1):
        md = cell.get("metadata", {}).get("nbgrader", {})
        errors = [o for o in cell.get("outputs", []) if o.get("output_type") == "error"]
        if not md.get("grade"):
            if errors:
                results.append({"kind": "cell", "number": number, "code": _first_line(cell.source),
                                "error": _error_text(errors[0])})
            continue
        # stderr (a warning, a log line, a debug print) never fails a check: grading drops it too
        printed = "".join(o.get("text", "") for o in cell.get("outputs", [])
                          if o.get("output_type") == "stream" and o.get("name") == "stdout")
        hidden_only = "check(" not in cell.source
        if errors:
            message = ANSI.sub("", errors[0].get("evalue", "")) or errors[0].get("ename", "error")
            if errors[0].get("ename") not in ("CheckFailed", "AssertionError"):
                message = _error_text(errors[0])
        else:
            message = "hidden tests run when the notebook is graded" if hidden_only else printed.strip()
        results.append({"kind": "check", "grade_id": md.get("grade_id", "?"), "points": md.get("points", 0),
                        "passed": not errors, "hidden_only": hidden_only, "message": message})
    return results


def _first_line(source: str, limit: int = 60) -> str:
    """The cell's first line of code (not a comment), shortened: how the student finds the cell."""
    lines = [line.strip() for line in source.splitlines() if line.strip()]
    line = next((line for line in lines if not line.startswith("#")), lines[0] if lines else "")
    return line if len(line) <= limit else line[: limit - 3] + "..."


def _error_text(error: dict) -> str:
    """'NameError: name 'x' is not defined' for an error output."""
    ename, evalue = error.get("ename", "Error"), ANSI.sub("", error.get("evalue", "")).strip()
    if ename == "NotImplementedError" and not evalue:
        return "NotImplementedError (it calls an exercise that is not filled in yet?)"
    return f"{ename}: {evalue}" if evalue else ename


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
    checks = [r for r in results if r["kind"] == "check"]
    if not checks:
        print(f"rlcourse-check: {args.notebook} has no check cells (is it a course exercise notebook?)",
              file=sys.stderr)
        return 2
    for r in results:
        if r["kind"] == "cell":
            print(f"! code cell {r['number']} (`{r['code']}`) raised {r['error']}")
            continue
        mark = "·" if r["hidden_only"] and r["passed"] else ("✓" if r["passed"] else "✗")
        print(f"{mark} {r['grade_id']} ({r['points']} pt)")
        if not r["passed"] or not r["hidden_only"]:
            for line in r["message"].splitlines():
                print(f"    {line}")
    visible = [r for r in checks if not r["hidden_only"]]
    n_pass = sum(r["passed"] for r in visible)
    print(f"\n{n_pass} of {len(visible)} visible checks passed"
          + ("." if n_pass == len(visible) else "; fix the ones marked ✗ and run again."))
    failed_cells = [r for r in results if r["kind"] == "cell"]
    if failed_cells:
        print(f"{len(failed_cells)} other code cell{'s' * (len(failed_cells) > 1)} raised an error (marked !); "
              "a check after such a cell may fail because of it.")
    if len(visible) < len(checks):
        print(HIDDEN_NOTE)
    return 0 if all(r["passed"] for r in checks) else 1


if __name__ == "__main__":
    sys.exit(main())
