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


# ----- grading outside the student's kernel --------------------------------------------------------
CHECK_CALL = re.compile(r'^check\((?P<fn>[A-Za-z_]\w*), "(?P<exercise>[\w.-]+/\w+)"'
                        r'(?:, hidden="(?P<blob>[A-Za-z0-9+/=]*)")?\)[ \t]*$', re.M)
MAX_REPORT_CHARS = 20_000_000
"""A report larger than this (a function that returns a huge value) is not decoded: the case fails."""


class ReportInsteadOfCheck(NbGraderPreprocessor):
    """Before execution: in every graded test cell, replace ``check(fn, "chapter/name"[, hidden=...])``
    by ``report(fn, "chapter/name", inputs)``.

    The kernel then receives the cases' inputs only; it runs the student's function on them and sends
    the outputs back as a display output. The expected values, the known mistakes and the comparison
    stay in the grading process (:class:`JudgeReports`). The test cells' sources are the instructor's
    (nbgrader's ``OverwriteCells`` restores them before this runs), so a student cannot change what
    is asked.

    Every graded cell must be a test cell with exactly one such check (:func:`graded_check`): a
    graded cell of any other kind (an ``assert``, a second check) would be judged in the kernel, so
    grading refuses it instead of scoring it.
    """

    def preprocess_cell(self, cell, resources, index):
        from rlcourse.checks import inputs_only

        call = graded_check(cell)
        if call is None:
            return cell, resources
        fn, exercise, _, spec, kind = call
        cell.metadata["rlcourse_grading"] = {"source": cell.source, "kind": kind}
        cell.source = (f"from rlcourse.checks import report as _rlcourse_report\n"
                       f'_rlcourse_report({fn}, "{exercise}", "{inputs_only(spec)}")')
        return cell, resources


class UngradableCell(ValueError):
    """A graded cell the course's grading cannot judge outside the kernel."""


def graded_check(cell):
    """The check of a graded cell (as :func:`_check_call` gives it), ``None`` for a cell that is not
    graded; raises :class:`UngradableCell` for a graded cell that is not one check call."""
    grading = cell.get("metadata", {}).get("nbgrader", {})
    if not grading.get("grade"):
        return None
    where = f"graded cell {grading.get('grade_id')!r}"
    if cell.get("cell_type") != "code" or grading.get("solution"):
        raise UngradableCell(f"{where} is not a test cell: the course grades test cells only")
    code = [line for line in cell.source.splitlines() if line.strip() and not line.lstrip().startswith("#")]
    call = _check_call(cell.source)
    if len(code) != 1 or call is None or not CHECK_CALL.fullmatch(code[0].rstrip()):
        raise UngradableCell(f"{where} must hold exactly one line of code, `check(fn, \"chapter/name\"[, hidden=...])` "
                             f"(comments aside); it holds {len(code)} line(s)")
    return call


def _check_call(source: str):
    """``(function name, exercise, exercise name, its spec, "visible" or "hidden")`` of the ``check(...)``
    call in a test cell's source, or ``None``. The spec holds the expected values: the grader's own
    stored visible cases, or the hidden cases packed in the instructor's cell."""
    from rlcourse.checks import _snapshot
    from rlcourse.checks.encoding import unpack

    match = CHECK_CALL.search(source)
    if match is None:
        return None
    chapter, _, name = match["exercise"].partition("/")
    if match["blob"]:
        return match["fn"], match["exercise"], name, unpack(match["blob"]), "hidden"
    return match["fn"], match["exercise"], name, _snapshot(chapter)["exercises"][name], "visible"


class JudgeReports(NbGraderPreprocessor):
    """After execution: judge each prepared test cell by the outputs its kernel reported.

    The cell's own outputs are replaced by the verdict: the check's message on success (stdout), or
    a ``CheckFailed`` error naming the failing case and the likely mistake, which nbgrader scores 0.
    A cell that reported nothing (the function is missing, the kernel died, the cell timed out) fails.
    The original test code is put back, so feedback shows what the student's checks show.

    Every case is judged (the message names the first that fails, as the student's own check does), and
    what each case gave is recorded as data in the gradebook that nbgrader grades into
    (:mod:`autograde.verdicts`): the outcome and the name of the known mistake behind a wrong answer.
    """

    def preprocess(self, nb, resources):
        from autograde import verdicts

        self._verdicts = []
        nb, resources = super().preprocess(nb, resources)
        info = resources.get("nbgrader", {})
        gradebook = verdicts.sqlite_path(info.get("db_url", ""))
        if gradebook is None:
            self.log.warning("the judge's verdicts are recorded in SQLite gradebooks only; none recorded")
        else:
            verdicts.record(gradebook, info["student"], info["assignment"], info["notebook"],
                            [verdicts.Verdict(info["student"], info["assignment"], info["notebook"], *v)
                             for v in self._verdicts])
        return nb, resources

    def preprocess_cell(self, cell, resources, index):
        from nbformat.v4 import new_output

        from rlcourse.checks import passed_message

        meta = cell.get("metadata", {}).pop("rlcourse_grading", None)
        if meta is None:
            return cell, resources
        cell.source = meta["source"]
        _, _, name, spec, _ = _check_call(cell.source)
        kind = meta["kind"]
        message, cases = judge_cell(name, kind, spec, cell.get("outputs", []))
        grade_id = cell.metadata.get("nbgrader", {}).get("grade_id", "")
        self._verdicts += [(grade_id, name, kind, i, outcome, mistake, detail) for i, outcome, mistake, detail in cases]
        if message is None:
            text = passed_message(name, kind, len(spec["cases"])) + "\n"
            cell.outputs = [new_output("stream", name="stdout", text=text)]
        else:
            cell.outputs = [new_output("error", ename="CheckFailed", evalue=message,
                                       traceback=[f"CheckFailed: {message}"])]
        return cell, resources


def judge_cell(name: str, kind: str, spec: dict, outputs: list) -> tuple[str | None, list[tuple]]:
    """Judge a test cell's outputs: the message of its first failing case (``None`` if all passed) and,
    per case, ``(case_index, outcome, mistake, detail)`` as :mod:`autograde.verdicts` records them
    (a single ``(0, outcome, None, detail)`` when no case could be judged)."""
    from rlcourse.checks import REPORT_MIME, Verdict, judge
    from rlcourse.checks.encoding import decode_untrusted

    bundles = [o for o in outputs
               if o.get("output_type") in ("display_data", "execute_result") and REPORT_MIME in o.get("data", {})]
    unreadable = f"✗ {name}: the {kind} checks reported an unreadable result."
    if not bundles:
        errors = [o for o in outputs if o.get("output_type") == "error"]
        why = f"{errors[-1].get('ename')}: {ANSI.sub('', errors[-1].get('evalue', ''))}" if errors else "no output"
        timed_out = any(o.get("ename") == "CellTimeoutError" for o in errors)
        return (f"✗ {name}: the {kind} checks could not run ({why}).",
                [(0, "timeout" if timed_out else "not run", None, None if timed_out else why[:200])])
    report = bundles[-1]["data"][REPORT_MIME]
    results = report.get("results") if isinstance(report, dict) else None
    if not isinstance(results, list) or len(results) != len(spec["cases"]) or len(str(results)) > MAX_REPORT_CHARS:
        return unreadable, [(0, "unreadable", None, None)]
    message, cases = None, []
    for i, result in enumerate(results, start=1):
        if not isinstance(result, dict) or not ({"output"} == set(result) or {"error"} == set(result)):
            verdict = Verdict("unreadable", unreadable)
        else:
            try:
                result = {"output": decode_untrusted(result["output"])} if "output" in result else result
                verdict = judge(name, kind, spec, i, result)
            except Exception as exc:  # an output the grader cannot rebuild or compare
                verdict = Verdict("unreadable", f"✗ {name}, {kind} case {i}: the output cannot be compared "
                                  f"({type(exc).__name__}).")
        cases.append((i, verdict.outcome, verdict.mistake, verdict.detail))
        if message is None:
            message = verdict.message
    return message, cases


class ReplayExecution(NbGraderPreprocessor):
    """The fast grader's stand-in for ``Execute`` (``autograde/grade.py``): puts in the outputs a grading
    worker computed for this submission, so every other step (judging, scoring, saving) is nbgrader's own.

    ``results`` maps a student to the worker's result for the notebook being graded. The worker ran
    the notebook this same sanitizing produced; each cell it ran is checked by its source's digest. If
    the worker's run ended as nbgrader's ``Execute`` would have raised (the kernel died), this raises
    too, and nbgrader records the submission as it does then.
    """

    results: dict = {}

    def preprocess(self, nb, resources):
        import hashlib

        from nbformat import from_dict

        result = self.results.get(resources["nbgrader"]["student"])
        if result is None:
            raise RuntimeError("the fast grader has no run of this submission")
        for index, cell in enumerate(nb.cells):
            if cell.cell_type != "code":
                continue
            digest = hashlib.sha256(cell.source.encode()).hexdigest()
            if result["sources"].get(index, result["sources"].get(str(index))) != digest:
                raise RuntimeError(f"cell {index} is not the cell the grading worker ran")
            ran = result["cells"].get(index, result["cells"].get(str(index)))
            if ran is not None:
                cell.outputs = [from_dict(o) for o in ran["outputs"]]
                cell.execution_count = ran["execution_count"]
        if result.get("error"):
            raise RuntimeError(f"the grading kernel failed: {result['error']}")
        return nb, resources
