"""nbgrader preprocessors the course adds (configured in ``autograde/nbgrader_config.py``)."""

from __future__ import annotations

import re

from nbgrader.preprocessors import NbGraderPreprocessor

HIDDEN = re.compile(r"^[ \t]*### BEGIN HIDDEN TESTS.*?### END HIDDEN TESTS[ \t]*\n?", re.S | re.M)
ANSI = re.compile(r"\x1b\[[0-9;]*m")


class RemoveBookOnlyCells(NbGraderPreprocessor):
    """Drop cells tagged ``book-only`` (e.g. the exercise stubs shown on the web page) from the
    student notebook, which has the real, editable exercise cell instead."""

    def preprocess(self, nb, resources):
        nb.cells = [c for c in nb.cells if "book-only" not in c.get("metadata", {}).get("tags", [])]
        return nb, resources


class HideHiddenTests(NbGraderPreprocessor):
    """Make feedback safe to return: no hidden test code and no traceback that could quote it.

    nbgrader's feedback shows each graded cell as it ran, hidden tests included (nbgrader issue
    #1089). This removes the hidden-test regions from every cell's source and, for any cell that
    had one, replaces an error's traceback by its last line (the check's own message, which never
    reveals hidden inputs or expected values).
    """

    def preprocess_cell(self, cell, resources, index):
        if cell.cell_type != "code" or "BEGIN HIDDEN TESTS" not in cell.source:
            return cell, resources
        cell.source = HIDDEN.sub("", cell.source).rstrip() or "# (hidden tests ran here)"
        for out in cell.get("outputs", []):
            if out.get("output_type") == "error":
                out["traceback"] = [f"{out.get('ename', 'Error')}: {ANSI.sub('', out.get('evalue', ''))}"]
        return cell, resources
