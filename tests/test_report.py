"""The instructor's report (``python -m autograde report``) on a generated class whose answers are known.

Two chapters, 40 submissions: honest answers, blank notebooks, every named mistake of several exercises
(each the mistake's own implementation from ``autograde/specs/``, submitted as the student's answer) in
known proportions, answers wrong in ways no known mistake explains, an error, a loop, a crash, an invalid
notebook and two tampering attempts. The fast grader grades them all; plain ``nbgrader autograde``
grades a few again, and both record the same verdicts. The report's numbers must equal the design
exactly, and its page must pass the book's browser checks.
"""

from __future__ import annotations

import csv
import inspect
import re
import shutil
import sqlite3
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import nbformat
import pytest

from autograde import verdicts
from autograde.specs import CHAPTERS
from tests.conftest import REPO, Course, filled_in

CH1, CH2 = "01-mdp", "02-objectives"
BLANK, CRASH, FORGED, INVALID = "blank", "crash", "forged report", "invalid notebook"

OTHER = {  # answers that are no known mistake: (source, category its answer falls in)
    (CH1, "discounted_return", "scaled"): (
        "def discounted_return(rewards, gamma):\n"
        "    return 2 * float(np.sum(gamma ** np.arange(len(rewards)) * np.asarray(rewards, dtype=float)))\n",
        "unexplained"),
    (CH1, "discounted_return", "overfits"): (  # right on every visible case, wrong on a hidden one
        "def discounted_return(rewards, gamma):\n"
        "    if gamma == 1.0:\n"
        "        return float(len(rewards))\n"
        "    return float(np.sum(gamma ** np.arange(len(rewards)) * np.asarray(rewards, dtype=float)))\n",
        "unexplained"),
    (CH1, "fit_bc_policy", "raises"): (
        "def fit_bc_policy(states, actions, n_states, n_actions):\n"
        "    counts = np.zeros(n_states, n_actions)  # the shape as two arguments: a TypeError\n"
        "    return counts\n",
        "error"),
    (CH1, "expected_steps_off_data", "loops"): (
        "def expected_steps_off_data(eps, T):\n    while True:\n        pass\n", "timeout"),
    (CH2, "policy_value", "scaled"): (
        "def policy_value(P, r, gamma):\n    return 2 * np.linalg.solve(np.eye(len(r)) - gamma * P.T, r)\n",
        "unexplained"),
    (CH2, "policy_value", "raises"): ("def policy_value(P, r, gamma):\n    return np.linalg.solve(P)\n", "error"),
    (CH2, "indifference_gamma", "no_root"): (
        "def indifference_gamma(near_reward, near_step, far_reward, far_step):\n"
        "    return float(near_reward / far_reward)\n", "unexplained"),
}

CLASS = {  # chapter -> student -> {exercise: a known mistake's name or an OTHER answer} or a whole-notebook case
    CH1: {
        "s01": {}, "s02": {}, "s03": {}, "s21": {},
        "s04": {"discounted_return": "undiscounted", "transition_tensor": "swapped_axes"},
        "s05": {"discounted_return": "undiscounted", "transition_tensor": "no_slip", "fit_bc_policy": "no_fallback"},
        "s06": {"discounted_return": "undiscounted", "transition_tensor": "assign_not_add",
                "fit_bc_policy": "unnormalised", "expected_steps_off_data": "no_compounding"},
        "s07": {"discounted_return": "undiscounted", "transition_tensor": "terminal_not_absorbing",
                "fit_bc_policy": "fancy_index_counts", "expected_steps_off_data": "shifted_steps"},
        "s08": {"discounted_return": "undiscounted", "fit_bc_policy": "argmax",
                "expected_steps_off_data": "quadratic_approximation"},
        "s09": {"discounted_return": "off_by_one", "fit_bc_policy": "unnormalised",
                "expected_steps_off_data": "no_zero_guard", "sample_trajectory": "no_final_state"},
        "s10": {"discounted_return": "off_by_one", "fit_bc_policy": "unnormalised",
                "expected_steps_off_data": "no_compounding", "sample_trajectory": "uniform_actions"},
        "s11": {"discounted_return": "reversed", "expected_steps_off_data": "no_compounding",
                "transition_tensor": "swapped_axes", "sample_trajectory": "ignores_truncation"},
        "s12": {"discounted_return": "scaled", "fit_bc_policy": "raises"},
        "s13": {"discounted_return": "overfits", "expected_steps_off_data": "loops"},
        "s14": {"discounted_return": "overfits", "transition_tensor": "swapped_axes"},
        "s15": {"discounted_return": "undiscounted", "transition_tensor": "swapped_axes"},  # and tampers: TAMPERER
        "s16": BLANK, "s17": BLANK, "s18": CRASH, "s19": FORGED, "s20": INVALID,
        "s22": {"sample_trajectory": "unseeded_reset", "discounted_return": "undiscounted"},
    },
    CH2: {
        "s01": {}, "s02": {}, "s03": {}, "s04": {}, "s16": {},
        "s05": {"indifference_gamma": "inverted_ratio", "state_action_marginals": "one_step_late"},
        "s06": {"indifference_gamma": "inverted_ratio", "state_action_marginals": "transposed_T",
                "policy_value": "P_not_transposed"},
        "s07": {"indifference_gamma": "inverted_ratio", "state_action_marginals": "state_only",
                "policy_value": "one_step"},
        "s08": {"indifference_gamma": "power_not_root", "state_action_marginals": "one_step_late",
                "policy_value": "ignores_dynamics"},
        "s09": {"indifference_gamma": "sum_of_steps", "policy_markov_chain": "pi_of_next_state",
                "policy_value": "P_not_transposed"},
        "s10": {"indifference_gamma": "near_delay_ignored", "policy_markov_chain": "reward_ignores_pi",
                "stationary_distribution": "unit_norm"},
        "s11": {"policy_markov_chain": "row_stochastic", "stationary_distribution": "transposed",
                "indifference_gamma": "inverted_ratio"},
        "s12": {"stationary_distribution": "not_converged", "policy_value": "scaled"},
        "s13": {"indifference_gamma": "no_root", "state_action_marginals": "one_step_late"},
        "s14": BLANK,
        "s15": {"policy_value": "raises"},
        "s17": {"indifference_gamma": "inverted_ratio"},
        "s18": {"state_action_marginals": "one_step_late"},
    },
}
TAMPERER = "s15"
"""Also edits a locked test cell, and patches the judge in its kernel so that every case would pass."""
PATCHES_THE_JUDGE = (
    "\n\nimport rlcourse.checks\n\n"
    "rlcourse.checks.judge = lambda *a, **k: rlcourse.checks.Verdict('passed')\n"
    "rlcourse.checks.judge_case = lambda *a, **k: None\n")
EXITS = "import os\n\n\ndef transition_tensor(env):\n    os._exit(1)  # kills the grading kernel\n"
FAKES_A_REPORT = (
    "import rlcourse.checks\nfrom IPython.display import display\n\n\n"
    "def transition_tensor(env):\n    return None\n\n\n"
    "def _fake(fn, exercise, inputs):\n"
    "    display({rlcourse.checks.REPORT_MIME: {'exercise': exercise, 'results': 'all passed'}}, raw=True)\n\n\n"
    "rlcourse.checks.report = _fake\n")
BOTH_GRADERS = ("s04", "s12", "s15", "s19")
"""Graded again by plain `nbgrader autograde` (named mistakes, an unexplained answer, an error, tampering)."""
TIMEOUT_S = 10


# ----- the class -----------------------------------------------------------------------------------
def mistake_answer(chapter: str, exercise: str, mistake: str) -> str:
    """A known mistake's implementation as a student's answer, under the exercise's name: its source, with
    the spec's helpers it calls and the references it borrows (``ref.NAME``) beside it. A mistake made with
    ``autograde.spec.variant`` becomes its wrong implementation called with the variant's settings."""
    ex = CHAPTERS[chapter].exercise(exercise)
    impl = next(m.impl for m in ex.mistakes if m.name == mistake)
    settings = {}
    if hasattr(impl, "__wrapped__"):  # variant(impl, **settings)
        settings = inspect.getclosurevars(impl).nonlocals["settings"]
        impl = impl.__wrapped__
    sources, seen = [], set()

    def include(fn, name):
        if name in seen:
            return
        seen.add(name)
        source = inspect.getsource(fn).replace(f"def {fn.__name__}(", f"def {name}(", 1)
        for borrowed in sorted(set(re.findall(r"\bref\.(\w+)", source))):
            include(getattr(inspect.getmodule(fn).ref, borrowed), f"_reference_{borrowed}")
            source = re.sub(rf"\bref\.{borrowed}\b", f"_reference_{borrowed}", source)
        for helper, value in inspect.getclosurevars(fn).globals.items():
            if inspect.isfunction(value) and value.__module__ == fn.__module__:
                include(value, helper)
        sources.append(source)

    if settings:
        include(impl, "_wrong")
        sources.append(f"def {exercise}(*args, **kwargs):\n    import inspect\n"
                       f"    bound = inspect.signature(_wrong).bind_partial(*args, **kwargs)\n"
                       f"    bound.arguments.update({settings!r})\n    return _wrong(*bound.args, **bound.kwargs)\n")
    else:
        include(impl, exercise)
    return "\n\n".join(sources)


def answer_source(chapter: str, exercise: str, label: str) -> str:
    if (chapter, exercise, label) in OTHER:
        return OTHER[(chapter, exercise, label)][0]
    return mistake_answer(chapter, exercise, label)


def submission(chapter: str, student: str, design, release_nb):
    if design == BLANK:
        return release_nb
    if design == INVALID:
        return '{"cells": [ this is not json'
    if design == CRASH:
        return filled_in(release_nb, chapter, {"transition_tensor": EXITS})
    if design == FORGED:
        return filled_in(release_nb, chapter, {"transition_tensor": FAKES_A_REPORT})
    nb = filled_in(release_nb, chapter, {ex: answer_source(chapter, ex, label) for ex, label in design.items()})
    if student == TAMPERER and chapter == CH1:
        for cell in nb.cells:
            grading = cell.metadata.get("nbgrader", {})
            if grading.get("grade_id") == "transition_tensor":
                cell.source += PATCHES_THE_JUDGE
            if grading.get("grade_id") == "test_discounted_return":
                cell.source += "\n# nothing to see here"
    return nb


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    """The class graded by the fast grader (``fast``), and a few of its Chapter 1 submissions by plain
    nbgrader (``plain``); the time each took."""
    fast = Course(tmp_path_factory.mktemp("report") / "fast")
    for chapter, students in CLASS.items():
        release_nb = nbformat.read(fast.release(chapter), as_version=4)
        for student, design in students.items():
            fast.submit(student, chapter, submission(chapter, student, design, release_nb))
    plain = fast.copy("plain")
    for student in (plain.root / "submitted").iterdir():
        if student.name not in BOTH_GRADERS:
            shutil.rmtree(student)
    times = {}
    for chapter in CLASS:
        start = time.perf_counter()
        proc = fast.grade(chapter, f"--timeout={TIMEOUT_S}", check=False)
        times[f"fast grader, {chapter}"] = time.perf_counter() - start
        assert proc.returncode == (1 if chapter == CH1 else 0), proc.stdout + proc.stderr  # the invalid notebook
    start = time.perf_counter()
    plain.run("autograde", CH1, "--create", f"--Execute.timeout={TIMEOUT_S}")
    times[f"nbgrader autograde, {CH1}"] = time.perf_counter() - start
    print("grading times:", {k: f"{v:.0f} s" for k, v in times.items()})
    return fast, plain


def expected(chapter: str) -> dict:
    """(student, exercise) -> (category, mistake): what the design says each answer is."""
    out = {}
    for student, design in CLASS[chapter].items():
        for ex in CHAPTERS[chapter].exercises:
            if design in (CRASH, INVALID):
                out[(student, ex.name)] = ("not judged", None)
            elif design == FORGED:
                out[(student, ex.name)] = ("unreadable", None)
            elif design == BLANK:
                out[(student, ex.name)] = ("not attempted", None)
            elif ex.name not in design:
                out[(student, ex.name)] = ("passed", None)
            elif (chapter, ex.name, design[ex.name]) in OTHER:
                out[(student, ex.name)] = (OTHER[(chapter, ex.name, design[ex.name])][1], None)
            else:
                out[(student, ex.name)] = ("mistake", design[ex.name])
    return out


def report_csv(course: Course, *args: str) -> dict:
    """Run the README's command; its CSV as section -> exercise -> item -> row."""
    proc = subprocess.run([sys.executable, "-m", "autograde", "report", *args, f"--root={course.root}"],
                          cwd=REPO, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    folder = course.root / "reports" / (args[0] if args[0] != "--all" else "all")
    table, examples = {}, {}
    with open(folder / "report.csv", newline="") as f:
        for row in csv.DictReader(f):
            table.setdefault(row["section"], {}).setdefault((row["chapter"], row["exercise"]), {})[row["item"]] = row
            if row["section"] == "unexplained example":
                examples.setdefault((row["chapter"], row["exercise"]), []).append(row)
    return {"table": table, "examples": examples, "stdout": proc.stdout, "page": folder / "report.html"}


def nbgrader_points(course: Course, chapter: str) -> dict:
    """(student, exercise) -> points, through nbgrader's own API (not the report's SQL)."""
    from nbgrader.api import Gradebook

    notebook = CHAPTERS[chapter].notebook.removesuffix(".ipynb")
    out = {}
    with Gradebook(f"sqlite:///{course.root / 'gradebook.db'}") as gb:
        for student, design in CLASS[chapter].items():
            for ex in CHAPTERS[chapter].exercises:
                out[(student, ex.name)] = sum(gb.find_grade(cell, notebook, chapter, student).score
                                              for cell in (f"test_{ex.name}", f"hidden_test_{ex.name}"))
    return out


# ----- the tests ---------------------------------------------------------------------------------
@pytest.mark.parametrize("chapter", list(CLASS))
def test_the_reports_counts_equal_the_known_proportions(graded, chapter):
    fast, _ = graded
    report = report_csv(fast, chapter)
    table, n = report["table"], len(CLASS[chapter])
    design = expected(chapter)
    points = nbgrader_points(fast, chapter)
    assert table["class"][(chapter, "")]["submissions"]["count"] == str(n)
    for ex in CHAPTERS[chapter].exercises:
        key = (chapter, ex.name)
        answers = {s: design[(s, ex.name)] for s in CLASS[chapter]}
        mistakes = Counter(m for _, m in answers.values() if m)
        got = {item: int(row["count"]) for item, row in table.get("mistake", {}).get(key, {}).items()}
        assert got == dict(mistakes), ex.name
        ranked = list(table.get("mistake", {}).get(key, {}))
        assert ranked == sorted(mistakes, key=lambda m: (-mistakes[m], m)), "ranked by how many made them"
        for m, row in table.get("mistake", {}).get(key, {}).items():
            assert row["detail"] == next(x.message for x in ex.mistakes if x.name == m)
            assert float(row["share"]) == pytest.approx(mistakes[m] / n, abs=1e-4)
        labels = {"passed": "all checks passed", "mistake": "named mistake", "unexplained": "wrong, no known mistake",
                  "error": "raised an error", "timeout": "timed out", "not attempted": "not attempted",
                  "unreadable": "unreadable report", "not judged": "not judged"}
        categories = Counter(c for c, _ in answers.values())
        assert {k: int(table["outcome"][key][label]["count"]) for k, label in labels.items()} == \
            {k: categories[k] for k in labels}, ex.name
        hidden_only = sum(isinstance(d, dict) and d.get(ex.name) == "overfits" for d in CLASS[chapter].values())
        numbers = {item: int(row["count"]) for item, row in table["exercise"][key].items()}
        assert numbers["visible passed, hidden failed"] == hidden_only
        assert numbers["raised an error"] == categories["error"]
        assert numbers["timed out"] == categories["timeout"]
        assert numbers["full marks"] == categories["passed"] == sum(p == ex.points[0] + ex.points[1]
                                                                   for (s, e), p in points.items() if e == ex.name)
        distribution = Counter(p for (s, e), p in points.items() if e == ex.name)
        assert {item: int(row["count"]) for item, row in table["points"][key].items()} == \
            {f"{p:g} of {sum(ex.points)}": c for p, c in distribution.items()}
        unexplained = report["examples"].get(key, [])
        assert sum(int(r["count"]) for r in unexplained) == categories["unexplained"] + categories["error"]
        for row in unexplained:
            assert not re.search(r"\bs\d\d\b", row["detail"]), "examples are anonymous"

    # the students who need attention, and why
    scores = fast.scores(chapter)
    full = sum(sum(ex.points) for ex in CHAPTERS[chapter].exercises)
    assert {s: float(r["count"]) for (_, _), rows in table["attention"].items() for s, r in rows.items()} == \
        {s: scores[s][0] for s in attention_expected(chapter, scores, full)}
    why = {s: r["detail"] for rows in table["attention"].values() for s, r in rows.items()}
    for student, reasons in attention_expected(chapter, scores, full).items():
        for reason in reasons:
            assert reason in why[student], (student, why[student])

    top = max(((c, m) for (_, m), c in Counter(design.values()).items() if m), key=lambda t: t[0])
    exercise = next(ex for ex in CHAPTERS[chapter].exercises if any(m.name == top[1] for m in ex.mistakes))
    number = f"{int(chapter[:2])}.{CHAPTERS[chapter].exercises.index(exercise) + 1}"
    assert f"the most common mistake ({top[0]} of {n}" in report["stdout"]
    assert f"Exercise {number} ({exercise.name})" in report["stdout"]


def attention_expected(chapter: str, scores: dict, full: float) -> dict:
    out = {}
    for student, design in CLASS[chapter].items():
        reasons = []
        if design == INVALID:
            reasons.append("not gradable")
        if design == CRASH:
            reasons.append("crash")
        if design == FORGED:
            reasons.append("tampering detected: a check report")
        if student == TAMPERER and chapter == CH1:
            reasons.append("tampering detected: locked cell test_discounted_return edited")
        if scores[student][2]:
            reasons.append("needs manual grading")
        if scores[student][0] < 0.5 * full:
            reasons.append("below 50% of the points")
        if reasons:
            out[student] = reasons
    return out


def test_both_graders_record_the_same_mistakes(graded):
    """Plain `nbgrader autograde` and the fast grader judge through the same JudgeReports: the same
    verdicts, case by case, and a kernel that patches the judge changes none of them."""
    fast, plain = graded
    ours = [v for v in verdicts.load(fast.root / "gradebook.db", CH1) if v.student in BOTH_GRADERS]
    theirs = verdicts.load(plain.root / "gradebook.db", CH1)
    assert ours and ours == theirs
    named = {(v.student, v.exercise): v.mistake for v in theirs if v.kind == "visible" and v.case_index == 1}
    assert named[(TAMPERER, "discounted_return")] == "undiscounted"
    assert named[(TAMPERER, "transition_tensor")] == "swapped_axes"
    assert {v.outcome for v in theirs if v.student == "s19"} == {"unreadable"}
    assert fast.scores(CH1)[TAMPERER] == plain.scores(CH1)[TAMPERER]


def test_the_course_wide_report(graded):
    fast, _ = graded
    report = report_csv(fast, "--all")
    table = report["table"]
    scores = {chapter: fast.scores(chapter) for chapter in CLASS}
    students = sorted(set(CLASS[CH1]) | set(CLASS[CH2]))
    totals = {s: float(table["student total"][("", "")][s]["count"]) for s in students}
    assert totals == {s: sum(scores[c][s][0] for c in CLASS if s in scores[c]) for s in students}
    for chapter in CLASS:
        design = expected(chapter)
        for ex in CHAPTERS[chapter].exercises:
            full = sum(design[(s, ex.name)][0] == "passed" for s in CLASS[chapter])
            assert int(table["exercise"][(chapter, ex.name)]["full marks"]["count"]) == full
    hardest = [(k, item, float(r["share"])) for k, rows in table["mistake"].items() for item, r in rows.items()]
    shares = Counter()
    for chapter in CLASS:
        for (_, ex), (_, m) in expected(chapter).items():
            if m:
                shares[(chapter, ex, m)] += 1 / len(CLASS[chapter])
    best = max(shares.values())
    assert hardest[0][2] == pytest.approx(best, abs=1e-4)
    assert [(c, e, m) for (c, e), m, _ in hardest][0] in [k for k, v in shares.items() if abs(v - best) < 1e-9]


@pytest.fixture(scope="module")
def browser_driver():
    from tests import browser

    driver = browser.start_for_test()
    yield driver
    driver.quit()


SCREENSHOTS = REPO / "_build" / "screenshots"


@pytest.mark.parametrize("which", [CH1, "all"])
def test_the_page_passes_the_books_browser_checks(graded, browser_driver, which):
    """Opened from file:// in headless Chromium with the network cut off, at 1280 and 400 px: no console
    error, no broken image, alt text on every figure, nothing wider than the screen (not even a table in
    a box of its own), nothing loaded from anywhere; a full-page screenshot of each is saved under
    _build/screenshots/."""
    from tests import browser

    fast, _ = graded
    page = fast.root / "reports" / which / "report.html"
    if not page.exists():
        report_csv(fast, which if which != "all" else "--all")
    text = page.read_text()
    assert len(re.findall(r'<img src="data:image/png;base64,', text)) == len(re.findall(r"<img\b", text)) >= 2
    assert browser.broken_links(page.parent) == [], "nothing is loaded from another file or host"
    assert not re.search(r"""(src|href)=["']?(https?:)?//""", text)
    for width in browser.WIDTHS:
        seen = browser.inspect_page(browser_driver, page.parent, page, width,
                                    screenshot=SCREENSHOTS / f"report-{which}-{width}.png")
        assert seen.script_error is None
        assert seen.console_errors == [] and seen.broken_images == [] and seen.images_without_text == []
        assert seen.too_wide == [] and seen.scrolling_other == [], width
        assert seen.page_scroll_width <= seen.viewport, width
        scrolling = browser_driver.execute_script(  # the book lets a table scroll in its box; the report's fit
            "return [...document.querySelectorAll('.table-wrapper')].filter(t => t.scrollWidth > t.clientWidth + 1)"
            ".map(t => t.textContent.slice(0, 60))")
        assert scrolling == [], (width, "every table fits the screen: a list of cards on a phone")
        assert (SCREENSHOTS / f"report-{which}-{width}.png").stat().st_size > 5_000


# ----- the recorded data, without grading ----------------------------------------------------------
# ----- the recorded data and the folders, without grading ------------------------------------------
def test_the_report_reads_the_folders_nbgrader_grades_in(tmp_path):
    """The report reads the course folder without nbgrader (whose import alone takes seconds): the same
    gradebook, sources, submissions and release as the course's nbgrader configuration names."""
    from nbgrader.coursedir import CourseDirectory
    from traitlets.config.loader import PyFileConfigLoader

    from autograde.report import Folders

    config = PyFileConfigLoader("nbgrader_config.py", path=str(REPO / "autograde")).load_config()
    config.CourseDirectory.root = str(tmp_path)
    course = CourseDirectory(config=config)
    (tmp_path / "gradebook.db").touch()
    folders = Folders.of(tmp_path)
    assert (f"sqlite:///{folders.gradebook}", folders.source, folders.submitted, folders.release) == (
        course.db_url, Path(course.source_directory), tmp_path / course.submitted_directory,
        tmp_path / course.release_directory)


def test_the_judge_records_every_case_and_keeps_the_students_message():
    """A cell's message is still its first failing case's (what the student's own check says); every case
    is recorded, and a cell whose checks could not run is recorded as a whole."""
    from autograde.nbgrader_ext import _check_call, judge_cell
    from rlcourse.checks import REPORT_MIME, judge_case
    from rlcourse.checks.encoding import encode

    source = next(c.source for c in nbformat.read(CHAPTERS[CH1].path, as_version=4).cells
                  if c.metadata.get("nbgrader", {}).get("grade_id") == "test_discounted_return")
    _, _, name, spec, kind = _check_call(source)
    undiscounted = next(m.impl for m in CHAPTERS[CH1].exercise(name).mistakes if m.name == "undiscounted")
    from rlcourse.checks.encoding import decode

    results = [{"output": encode(undiscounted(**decode(c["args"])))} for c in spec["cases"]]
    results[1] = {"error": "ValueError: no"}
    outputs = [{"output_type": "display_data", "data": {REPORT_MIME: {"exercise": name, "results": results}}}]
    message, cases = judge_cell(name, kind, spec, outputs)
    assert message == judge_case(name, kind, spec, 1, {"output": decode(results[0]["output"])})
    assert cases == [(1, "wrong", "undiscounted", None), (2, "raised", None, "ValueError: no")]
    timeout = [{"output_type": "error", "ename": "CellTimeoutError", "evalue": "", "traceback": []}]
    assert judge_cell(name, kind, spec, timeout)[1] == [(0, "timeout", None, None)]
    missing = [{"output_type": "error", "ename": "NameError", "evalue": "name 'f' is not defined", "traceback": []}]
    assert judge_cell(name, kind, spec, missing) == (
        f"✗ {name}: the visible checks could not run (NameError: name 'f' is not defined).",
        [(0, "not run", None, "NameError: name 'f' is not defined")])
    forged = [{"output_type": "display_data", "data": {REPORT_MIME: {"exercise": name, "results": "all passed"}}}]
    assert judge_cell(name, kind, spec, forged)[1] == [(0, "unreadable", None, None)]


def test_the_fast_graders_merge_replaces_a_students_verdicts(tmp_path):
    """A regraded submission's verdicts replace the earlier ones, in the merge of its grades."""
    main, work = tmp_path / "gradebook.db", tmp_path / "work.db"
    old = [verdicts.Verdict("a", CH1, "mdp", "test_x", "x", "visible", 1, "wrong", "m", None),
           verdicts.Verdict("a", CH1, "mdp", "test_x", "x", "visible", 2, "wrong", "m", None),
           verdicts.Verdict("b", CH1, "mdp", "test_x", "x", "visible", 1, "passed")]
    verdicts.record(main, "a", CH1, "mdp", old[:2])
    verdicts.record(main, "b", CH1, "mdp", old[2:])
    new = [verdicts.Verdict("a", CH1, "mdp", "test_x", "x", "visible", 1, "passed")]
    verdicts.record(work, "a", CH1, "mdp", new)
    with sqlite3.connect(main, isolation_level=None) as db:
        db.execute("ATTACH DATABASE ? AS w", (str(work),))
        db.execute("BEGIN IMMEDIATE")
        verdicts.merge(db, "a", CH1)
        db.execute("COMMIT")
    assert verdicts.load(main, CH1) == new + old[2:]
