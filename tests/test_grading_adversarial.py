"""Real nbgrader against broken and adversarial submissions, beside the fast grader on a copy of the same
course folder.

On Chapter 1, a battery of broken and adversarial submissions (invalid JSON, an error, an infinite
loop, a deleted test cell, imports of the solutions, stderr output, a killed kernel, a million printed
lines, a redefined or patched check, silenced tracebacks, a forged report, reading the instructor's
notebook, attacking classmates and the gradebook, exhausting memory, leaving files and processes behind
for the next submission) is graded beside a correct one through both: each gets the right outcome and
no honest grade changes. (tests/test_grading.py grades every chapter's honest submissions.)
"""

from __future__ import annotations

import csv
import html as html_lib
import inspect
import py_compile
import textwrap

from pathlib import Path

import nbformat

import rlcourse
from autograde.specs import CHAPTERS
from tests.conftest import PACKED_HIDDEN_CASES, filled_in
from tests.test_grading import max_points


LOOP = '''def transition_tensor(env):
    while True:
        pass
'''
RAISES = '''1 / 0  # this cell raises when it runs

def transition_tensor(env):
    return 1 / 0
'''
CHEAT = '''from solutions.ch01_mdp import transition_tensor
'''
EXITS = '''import os


def transition_tensor(env):
    os._exit(1)  # kills the grading kernel
'''
FLOODS = '''def transition_tensor(env):
    for i in range(1_000_000):
        print("line", i)
    raise ValueError("and wrong")
'''


WRONG = '''import numpy as np


def transition_tensor(env):
    return np.zeros((env.n_states, env.n_actions, env.n_states))
'''
TAMPERS = {  # a wrong answer, then an attempt to make the checks pass anyway
    "redefines_check": WRONG + "\n\ncheck = lambda *args, **kwargs: None\n",
    "patches_comparisons": WRONG + (
        "\n\nimport numpy\nimport torch\nimport rlcourse.checks\n\n"
        "numpy.allclose = numpy.isclose = lambda *a, **k: True\n"
        "torch.allclose = lambda *a, **k: True\n"
        "rlcourse.checks.compare = lambda *a, **k: None\n"
        "rlcourse.checks.judge_case = lambda *a, **k: None\n"),
    "silences_errors": WRONG + (
        "\n\nimport sys\nfrom IPython import get_ipython\n\n"
        "get_ipython().showtraceback = lambda *a, **k: None\n"
        "get_ipython().set_custom_exc((BaseException,), lambda *a, **k: None)\n"
        "sys.excepthook = lambda *a: None\n"),
    "fakes_a_report": WRONG + (  # replaces the function every graded check calls: every check fails
        "\n\nimport rlcourse.checks\n\n"
        "def _fake(fn, exercise, inputs):\n"
        "    from IPython.display import display\n"
        "    display({rlcourse.checks.REPORT_MIME: {'exercise': exercise, 'results': 'all passed'}}, raw=True)\n\n"
        "rlcourse.checks.report = _fake\n"),
}


READS_THE_SOURCE = WRONG + '''

import json
import pathlib

import rlcourse

_places = [pathlib.Path(rlcourse.__file__).resolve().parents[1], *pathlib.Path.cwd().resolve().parents]
for _notebook in [p / "book" / "01-mdp" / "mdp.ipynb" for p in _places] + [p / "source" / "01-mdp" / "mdp.ipynb" for p in _places]:
    try:
        _cells = json.loads(_notebook.read_text())["cells"]
    except OSError:
        continue
    for _cell in _cells:  # run the instructor's solution
        if "solution:transition_tensor" in _cell["metadata"].get("tags", []):
            exec("".join(_cell["source"]))
'''
ATTACKS = '''import pathlib
import sqlite3

for _folder in pathlib.Path.cwd().resolve().parents:
    for _path in _folder.glob("submitted/*/01-mdp/mdp.ipynb"):  # blank every classmate's work
        try:
            _path.write_text("{}")
        except OSError:
            pass
    if (_folder / "gradebook.db").exists():  # and give everyone full marks
        try:
            with sqlite3.connect(_folder / "gradebook.db") as _con:
                _con.execute("UPDATE grade SET manual_score = 1000")
        except Exception:
            pass
'''
RECOVERS_BYTECODE = WRONG + '''

import marshal
import pathlib
import sys

import rlcourse

_places = [pathlib.Path(rlcourse.__file__).parent, *(pathlib.Path(p or ".") / "rlcourse" for p in sys.path)]
for _place in _places:  # the compiled references (and any copy of their source) wherever they may lie
    for _path in sorted(_place.glob("reference/**/ch01_*")):
        _data = _path.read_bytes()
        try:
            _code = marshal.loads(_data[16:]) if _path.suffix == ".pyc" else compile(_data, str(_path), "exec")
            _namespace = {}
            exec(_code, _namespace)
            transition_tensor = _namespace.get("transition_tensor", transition_tensor)
        except Exception:
            pass
'''
PRINTS_THE_ENVIRONMENT = '''import os

print(dict(os.environ))  # a grader's token or cloud credential would land in the feedback
for _pid in os.listdir("/proc"):
    if _pid.isdigit():
        try:
            print(open(f"/proc/{_pid}/environ", "rb").read())
        except OSError:
            pass
'''
KILLS_THE_TIMER = '''import os
import signal

for _pid in os.listdir("/proc"):  # every process it can see (the old sandbox's timer among them)
    if _pid.isdigit() and int(_pid) != os.getpid():
        try:
            os.kill(int(_pid), signal.SIGKILL)
        except OSError:
            pass
'''


def leaves_a_process(answer: str) -> str:
    """A cell that leaves ``answer`` (a right one) in /tmp for whoever is graded next in the same place,
    and a process behind it that, once its own kernel has gone, kills whatever it can see for a minute."""
    return f'''import os
import time

with open("/tmp/planted_answer.py", "w") as _f:
    _f.write({"import numpy as np" + chr(10) * 3 + answer!r})
_kernel = os.getpid()
if os.fork() == 0:
    os.setsid()
    while os.getppid() == _kernel:
        time.sleep(0.05)
    _end = time.time() + 60
    while time.time() < _end:
        for _pid in os.listdir("/proc"):
            if _pid.isdigit() and int(_pid) != os.getpid():
                try:
                    os.kill(int(_pid), 9)
                except OSError:
                    pass
        time.sleep(0.05)
    os._exit(0)
'''


USES_WHAT_WAS_LEFT = WRONG + '''

import sys

sys.path.insert(0, "/tmp")
try:  # what an earlier submission graded in the same place may have left
    from planted_answer import transition_tensor
except ImportError:
    pass
'''


def _then_correct(fn, before: str) -> str:
    """The source of a right answer that first runs ``before`` (which should fail inside the sandbox)."""
    correct = inspect.getsource(fn).replace(f"def {fn.__name__}(", "def _correct(", 1)
    body = textwrap.indent(textwrap.dedent(before).strip(), "    ")
    return f"import os\nimport time\n\n{correct}\n\ndef {fn.__name__}(*args, **kwargs):\n{body}\n" \
           f"    return _correct(*args, **kwargs)\n"


FILLS_TMP = """
with open("/tmp/fill", "wb") as f:  # 2 GB of the grading machine's memory, if /tmp had no size
    for _ in range(2048):
        f.write(b"x" * 2**20)
"""
FORKS = """
children = []
try:
    for _ in range(500):  # far more processes than a kernel may have
        pid = os.fork()
        if pid == 0:  # a child never returns into the kernel's code (an interrupt reaches it too)
            try:
                time.sleep(5)
            finally:
                os._exit(0)
        children.append(pid)
finally:
    for pid in children:
        os.kill(pid, 9)
        os.waitpid(pid, 0)
"""
FORGES_OUTPUTS = WRONG + '''

import rlcourse.checks
from IPython.display import display
from rlcourse.checks.encoding import unpack

_report = rlcourse.checks.report


def _forged(fn, exercise, inputs):  # outputs the grading process would choke on, for this exercise only
    if not exercise.endswith("/transition_tensor"):
        return _report(fn, exercise, inputs)
    n = len(unpack(inputs)["args"])
    huge = {"__array__": ["x"] * 50_000, "dtype": "U100000", "shape": [50_000]}  # 20 GB as a U100000 array
    module = {"__object__": "rlcourse.lm.make_checkpoints:main", "spec": {}}
    display({rlcourse.checks.REPORT_MIME: {"exercise": exercise,
                                           "results": [{"output": huge if i % 2 else module} for i in range(n)]}},
            raw=True)


rlcourse.checks.report = _forged
'''
EXHAUSTS_MEMORY = '''def transition_tensor(env):
    hoard = bytearray(64 * 2**30)  # more memory than the grading kernel may have
    return hoard
'''


def noisy(fn) -> str:
    """The source of a correct answer that also writes to stderr: a debug print and a log line."""
    correct = inspect.getsource(fn).replace(f"def {fn.__name__}(", "def _correct(", 1)
    return (f"import logging\nimport sys\n\nlogging.basicConfig(level=logging.INFO, force=True)\n\n{correct}\n\n"
            f"def {fn.__name__}(*args, **kwargs):\n"
            f"    print('debugging {fn.__name__}', file=sys.stderr)\n"
            f"    logging.getLogger('student').info('called with %d arguments', len(args))\n"
            f"    return _correct(*args, **kwargs)\n")


SECRET = "rlcourse-grader-secret-7d41"


def test_broken_submissions_do_not_disturb_the_batch(course, monkeypatch):
    chapter = "01-mdp"
    monkeypatch.setenv("RLCOURSE_GRADER_TOKEN", SECRET)  # in both graders' environment, as a real token is
    monkeypatch.setenv("RLCOURSE_KERNEL_PROCESSES", "64")  # a fork bomb hits the cap soon, even on a busy machine
    package = Path(rlcourse.__file__).resolve().parent
    for module in (package / "reference").glob("ch*.py"):  # as every import writes them on a teacher's machine
        py_compile.compile(str(module), doraise=True)
    release_nb = nbformat.read(course.release(chapter), as_version=4)
    good = filled_in(release_nb, chapter)
    course.submit("good", chapter, good)
    course.submit("invalid_json", chapter, '{"cells": [ this is not json')
    course.submit("raises", chapter, filled_in(release_nb, chapter, {"transition_tensor": RAISES}))
    course.submit("loops", chapter, filled_in(release_nb, chapter, {"transition_tensor": LOOP}))
    course.submit("cheats", chapter, filled_in(release_nb, chapter, {"transition_tensor": CHEAT}))
    transition_tensor = CHAPTERS[chapter].exercise("transition_tensor").reference
    course.submit("noisy", chapter, filled_in(release_nb, chapter, {"transition_tensor": noisy(transition_tensor)}))
    course.submit("exits", chapter, filled_in(release_nb, chapter, {"transition_tensor": EXITS}))
    course.submit("floods", chapter, filled_in(release_nb, chapter, {"transition_tensor": FLOODS}))
    deleted = filled_in(release_nb, chapter)
    deleted.cells = [c for c in deleted.cells
                     if c.metadata.get("nbgrader", {}).get("grade_id") != "test_discounted_return"]
    course.submit("deleted_cell", chapter, deleted)
    for student, answer in TAMPERS.items():
        course.submit(student, chapter, filled_in(release_nb, chapter, {"transition_tensor": answer}))
    course.submit("reads_the_source", chapter, filled_in(release_nb, chapter, {"transition_tensor": READS_THE_SOURCE}))
    attacker = filled_in(release_nb, chapter)  # right answers, then attacks on the others' files and grades
    attacker.cells.insert(1, nbformat.v4.new_code_cell(ATTACKS))
    course.submit("aa_attacker", chapter, attacker)  # graded first
    course.submit("exhausts_memory", chapter, filled_in(release_nb, chapter, {"transition_tensor": EXHAUSTS_MEMORY}))
    course.submit("recovers_bytecode", chapter, filled_in(release_nb, chapter, {"transition_tensor": RECOVERS_BYTECODE}))
    snoop = filled_in(release_nb, chapter)  # right answers, and the grader's environment printed
    snoop.cells.insert(1, nbformat.v4.new_code_cell(PRINTS_THE_ENVIRONMENT))
    course.submit("prints_the_environment", chapter, snoop)
    killer = filled_in(release_nb, chapter)
    killer.cells.insert(1, nbformat.v4.new_code_cell(KILLS_THE_TIMER))
    course.submit("kills_the_timer", chapter, killer)
    course.submit("fills_tmp", chapter, filled_in(release_nb, chapter, {
        "transition_tensor": _then_correct(transition_tensor, FILLS_TMP)}))
    course.submit("forks", chapter, filled_in(release_nb, chapter, {
        "transition_tensor": _then_correct(transition_tensor, FORKS)}))
    course.submit("forges_outputs", chapter, filled_in(release_nb, chapter, {"transition_tensor": FORGES_OUTPUTS}))
    leaver = filled_in(release_nb, chapter)  # right answers, and traces left for the next submission
    leaver.cells.insert(1, nbformat.v4.new_code_cell(leaves_a_process(inspect.getsource(transition_tensor))))
    course.submit("ab_leaves_a_process", chapter, leaver)  # graded right after the attacker
    course.submit("ac_uses_what_was_left", chapter, filled_in(release_nb, chapter, {"transition_tensor": USES_WHAT_WAS_LEFT}))
    fast = course.copy("fast")

    proc = course.run("autograde", chapter, "--create", "--Execute.timeout=10", check=False)
    assert proc.returncode == 1, "nbgrader reports the invalid notebook with exit status 1"
    assert "invalid_json" in proc.stdout + proc.stderr
    scores = course.scores(chapter)
    full = max_points(chapter)
    lost = sum(CHAPTERS[chapter].exercise("transition_tensor").points)
    assert scores["good"] == (full, full, False)
    assert scores["noisy"] == (full, full, False), "output on stderr (a debug print, a log line) costs nothing"
    assert scores["deleted_cell"] == (full, full, False), "the deleted test cell is restored and run"
    assert scores["raises"][0] == full - lost
    assert scores["loops"][0] == full - lost
    assert scores["cheats"][0] == full - lost, "solutions/ must not be importable while grading"
    assert scores["invalid_json"][0] == 0, "the invalid notebook is recorded as a submission scoring 0"
    assert scores["exits"][0] == 0 and scores["exits"][2], "a kernel that dies scores 0 and is flagged"
    assert scores["floods"][0] == full - lost, "a million printed lines cost only the wrong answer"
    for student in TAMPERS:  # the checks' outcome is decided outside the kernel: tampering earns nothing
        assert scores[student][0] == (0 if student == "fakes_a_report" else full - lost), student
    # the sandbox: no instructor file to read, no classmate's file or gradebook to write, bounded memory
    assert scores["reads_the_source"][0] == full - lost, "the instructor's notebook is out of the kernel's reach"
    assert scores["aa_attacker"] == (full, full, False), "the attacker's own right answers count, nothing more"
    assert scores["exhausts_memory"][0] == full - lost, "a kernel out of memory loses only that exercise"
    assert scores["recovers_bytecode"][0] == full - lost, "no reference of the graded chapter, compiled or not"
    assert scores["prints_the_environment"] == (full, full, False)
    assert scores["kills_the_timer"] == (full, full, False), "nothing outside the sandbox to kill"
    assert scores["fills_tmp"][0] == full - lost, "/tmp is capped: the write fails, the answer with it"
    assert scores["forks"][0] == full - lost, "processes are capped: the forks fail, the answer with it"
    assert scores["forges_outputs"][0] == full - lost, "outputs the grader will not decode fail their case"
    assert scores["ab_leaves_a_process"] == (full, full, False)
    assert scores["ac_uses_what_was_left"][0] == full - lost, "nothing one submission leaves reaches another"
    for folder in ("autograded", "feedback"):
        assert SECRET not in "".join(p.read_text(errors="replace") for p in (course.root / folder).rglob("*.*")
                                     if p.is_file()), f"the grader's environment leaked into {folder}/"

    # feedback: generated for every graded student, and it never shows hidden tests
    course.run("generate_feedback", chapter, check=False)
    for student in ("good", "raises", "loops"):
        html = (course.root / "feedback" / student / chapter / "mdp.html").read_text()
        assert "BEGIN HIDDEN TESTS" not in html and not PACKED_HIDDEN_CASES.search(html)
        assert "Hidden tests" in html  # the cell itself is still there, with its score
    raised = html_lib.unescape((course.root / "feedback" / "raises" / chapter / "mdp.html").read_text())
    # the answer cell raised before defining the function: the hidden check's verdict says so
    assert "the hidden checks could not run (NameError: name 'transition_tensor' is not defined)" in raised

    # export: one row per student and assignment
    course.run("export", f"--to={course.root / 'grades.csv'}")
    rows = {r["student_id"]: r for r in csv.DictReader(open(course.root / "grades.csv"))}
    assert float(rows["good"]["raw_score"]) == full
    assert float(rows["raises"]["raw_score"]) == full - lost

    # the same batch through the fast grader: the same score for everyone, and a table that says why
    proc = fast.grade(chapter, "--timeout=10", check=False)
    assert proc.returncode == 1, "the invalid notebook makes the run exit 1"
    assert fast.scores(chapter) == scores
    status = {line.split()[0]: line for line in proc.stdout.splitlines()[2:] if line.strip()}
    assert status["good"].endswith("ok") and status["noisy"].endswith("ok")
    assert "invalid notebook" in status["invalid_json"]
    assert "crash" in status["exits"] and "needs manual grading" in status["exits"]
    assert "timeout" in status["loops"]
    assert "tampering detected" in status["fakes_a_report"]
    assert "locked cell test_discounted_return removed" in status["deleted_cell"]
    assert SECRET not in proc.stdout + proc.stderr
    fast.run("generate_feedback", chapter, check=False)
    assert SECRET not in "".join(p.read_text(errors="replace") for p in (fast.root / "feedback").rglob("*.html"))
    html = (fast.root / "feedback" / "raises" / chapter / "mdp.html").read_text()
    assert "BEGIN HIDDEN TESTS" not in html and not PACKED_HIDDEN_CASES.search(html) and "Hidden tests" in html
    fast.run("export", f"--to={fast.root / 'grades.csv'}")
    assert {r["student_id"]: r["raw_score"] for r in csv.DictReader(open(fast.root / "grades.csv"))} == \
        {student: row["raw_score"] for student, row in rows.items()}
