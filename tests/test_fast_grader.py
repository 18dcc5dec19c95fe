"""The fast grader (``python -m autograde grade``) beyond what tests/test_grading.py compares with plain
nbgrader: what it runs, a real Dask cluster of separate processes, and a batch interrupted and resumed.
"""

from __future__ import annotations

import json
import os
import re
import signal
import sqlite3
import subprocess
import sys
import time

import nbformat
import pytest

from autograde.grade import GRADE_INPUTS, STATE_TABLE, Grader, code_digest, dask_client
from autograde.plan import plan
from autograde.specs import CHAPTERS
from tests.conftest import REPO, filled_in, stop

CHAPTER = "01-mdp"


def full_marks() -> int:
    return sum(sum(ex.points) for ex in CHAPTERS[CHAPTER].exercises)


def test_the_plan_runs_answers_and_checks_not_demonstrations():
    nb = nbformat.read(CHAPTERS[CHAPTER].path, as_version=4)
    released = {c.source for c in nb.cells if c.cell_type == "code" and not c.metadata.get("nbgrader", {}).get("solution")}
    kept = dict(plan(nb.cells, released))
    graded = [i for i, c in enumerate(nb.cells) if c.metadata.get("nbgrader", {}).get("grade")]
    answers = [i for i, c in enumerate(nb.cells) if c.metadata.get("nbgrader", {}).get("solution")]
    assert set(graded) | set(answers) <= set(kept)
    assert all(kept[i] == nb.cells[i].source for i in graded + answers), "answers and checks run whole"
    setup = next(i for i, c in enumerate(nb.cells) if "setup" in c.metadata.get("tags", []))
    assert "check" in kept[setup] and "plt" not in kept[setup], "only the imports the checks and answers read"
    demos = [i for i, c in enumerate(nb.cells) if c.cell_type == "code" and i not in graded + answers + [setup]]
    assert demos and not set(demos) & set(kept), "no demonstration runs"


def test_the_plan_keeps_what_a_students_code_reads():
    cells = [nbformat.v4.new_code_cell(src) for src in (
        "import numpy as np\nimport matplotlib.pyplot as plt",    # the instructor's setup
        "room = make_room()\nplt.plot([1, 2])",                  # a demonstration
        "scale = 2.0\nother = 3",                                # another
        "def answer(x):\n    return scale * np.asarray(x) + len(room)",  # the student's answer
    )]
    released = {c.source for c in cells[:3]}
    kept = dict(plan(cells, released))
    assert kept[0] == "import numpy as np\n"
    assert kept[1] == "room = make_room()\n" and kept[2] == "scale = 2.0\n" and kept[3] == cells[3].source
    edited = [*cells[:2], nbformat.v4.new_code_cell("scale = 5.0  # changed by the student\nother = 3"), cells[3]]
    assert dict(plan(edited, released))[2] == edited[2].source, "a cell the student changed runs whole"


def test_the_plan_keeps_statements_that_change_what_it_reads():
    """An instructor statement that changes a needed object without rebinding its name runs too, so the
    planned run computes what the whole notebook computes (nbgrader's scores by construction)."""
    setup = ("import random\nimport numpy as np\ncfg = Config()\nd = {}\nxs = []\nys = [3, 1, 2]\n"
             "unused = [1]")
    changes = ("cfg.lr = 0.1\nd[0] = 1\nxs.append(3)\nrandom.shuffle(ys)\nnp.random.seed(0)\n"
               "x = np.zeros(3)\nunused.append(2)\nprint(len(xs))\nmean = np.mean(ys)\n"
               "def helper():\n    xs.append(4)\n")  # a body runs when called: defining helper changes nothing
    answer = "def answer(v):\n    return cfg.lr * v + d[0] + sum(xs) + ys[0] + np.random.rand()"
    cells = [nbformat.v4.new_code_cell(src) for src in (setup, changes, answer)]
    kept = dict(plan(cells, {setup, changes}))
    # kept: every statement that may change cfg, d, xs, ys or numpy's state (passing xs to len counts:
    # the rule does not know which functions change their arguments); not: new names nobody reads
    assert kept[1] == ("cfg.lr = 0.1\nd[0] = 1\nxs.append(3)\nrandom.shuffle(ys)\nnp.random.seed(0)\n"
                       "print(len(xs))\nmean = np.mean(ys)\n")
    assert "unused" not in kept[0] and "Config()" in kept[0] and "import random" in kept[0]


def test_a_change_anywhere_in_the_support_package_regrades(tmp_path):
    """The fingerprint that skips unchanged submissions covers all of rlcourse/ (not only its checks),
    the grader, and the pinned versions: a fix in rlcourse/lm/ changes it."""
    assert (REPO / "rlcourse", "**/*") in GRADE_INPUTS and (REPO / "autograde", "**/*.py") in GRADE_INPUTS
    import shutil

    copy = tmp_path / "rlcourse"
    shutil.copytree(REPO / "rlcourse", copy, ignore=shutil.ignore_patterns("__pycache__", "checkpoints"))
    before = code_digest([copy])
    assert code_digest([copy]) == before, "the same files give the same digest"
    for changed in (copy / "lm" / "ppo.py", copy / "envs" / "gridworld.py"):
        text = changed.read_text()
        changed.write_text(text + "\n# a fix\n")
        assert code_digest([copy]) != before, changed
        changed.write_text(text)
    assert code_digest([copy]) == before
    # the course folder (autograde/) holds the gradebook and exports, which change with every run: only
    # its code counts
    course = tmp_path / "autograde"
    course.mkdir()
    (course / "nbgrader_config.py").write_text("c = get_config()\n")
    code = code_digest([(course, "**/*.py")])
    (course / "gradebook.db").write_bytes(b"grades")
    (course / "grades.csv").write_text("student,score\n")
    assert code_digest([(course, "**/*.py")]) == code
    (course / "nbgrader_config.py").write_text("c = get_config()\nc.Execute.timeout = 10\n")
    assert code_digest([(course, "**/*.py")]) != code


def _submissions(course, n):
    release_nb = nbformat.read(course.release(CHAPTER), as_version=4)
    for i in range(n):
        course.submit(f"student{i:02d}", CHAPTER, filled_in(release_nb, CHAPTER))
    return release_nb


def test_a_dask_cluster_of_separate_processes_grades_the_batch(course, tmp_path):
    """A scheduler and two workers started as their own processes on localhost (as a site's cluster
    would be); the grades are computed on the workers, and only the client writes the gradebook."""
    release_nb = _submissions(course, 3)
    course.submit("half_wrong", CHAPTER, filled_in(release_nb, CHAPTER, {
        "transition_tensor": "def transition_tensor(env):\n    return None\n"}))
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    dask = [sys.executable, "-m", "distributed.cli.dask_scheduler"]
    info = tmp_path / "scheduler.json"
    procs = [subprocess.Popen([*dask, "--host", "127.0.0.1", "--port", "0", "--scheduler-file", str(info),
                               "--no-dashboard"], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)]
    try:
        for _ in range(600):
            if info.exists() and info.stat().st_size:
                break
            time.sleep(0.1)
        address = json.loads(info.read_text())["address"]
        for _ in range(2):
            procs.append(subprocess.Popen(
                [sys.executable, "-m", "distributed.cli.dask_worker", address, "--nworkers", "1", "--nthreads", "1",
                 "--no-nanny", "--no-dashboard"], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
        proc = course.grade(CHAPTER, f"--scheduler={address}")
    finally:
        for p in reversed(procs):  # the workers, then the scheduler
            stop(p)
    scores = course.scores(CHAPTER)
    full = full_marks()
    assert {s: scores[s] for s in scores if s.startswith("student")} == {f"student{i:02d}": (full, full, False) for i in range(3)}
    lost = sum(CHAPTERS[CHAPTER].exercise("transition_tensor").points)
    assert scores["half_wrong"] == (full - lost, full, False)
    workers = {int(pid) for pid in re.findall(r"worker pid (\d+)", proc.stdout)}
    assert workers and workers <= {p.pid for p in procs[1:]}, "every submission ran on a worker process"
    assert "in a fork server's child: " in proc.stdout, proc.stdout


def test_without_the_fork_server_the_scores_are_the_same(course, monkeypatch):
    """Where a fork server cannot isolate its children (or ``RLCOURSE_FORK_SERVER=0``), each submission
    gets a sandboxed runner of its own, with the same scores."""
    release_nb = _submissions(course, 2)
    course.submit("half_wrong", CHAPTER, filled_in(release_nb, CHAPTER, {
        "transition_tensor": "def transition_tensor(env):\n    return None\n"}))
    course.submit("blank", CHAPTER, release_nb)
    unforked = course.copy("unforked")
    forked_run = course.grade(CHAPTER, "--workers=1")
    monkeypatch.setenv("RLCOURSE_FORK_SERVER", "0")
    unforked_run = unforked.grade(CHAPTER, "--workers=1")
    assert "in a fork server's child: 4 submissions" in forked_run.stdout, forked_run.stdout
    assert "in a runner of its own: 4 submissions" in unforked_run.stdout, unforked_run.stdout
    scores = course.scores(CHAPTER)
    assert unforked.scores(CHAPTER) == scores and scores["blank"][0] == 0 < scores["half_wrong"][0] < full_marks()


def test_an_interrupted_batch_leaves_a_whole_gradebook_and_resumes(course):
    _submissions(course, 8)
    gradebook = course.root / "gradebook.db"

    def recorded():
        if not gradebook.exists():
            return set(), set()
        with sqlite3.connect(f"file:{gradebook}?mode=ro", uri=True) as db:
            try:
                done = {r[0] for r in db.execute(f"SELECT student FROM {STATE_TABLE}")}
            except sqlite3.OperationalError:
                done = set()
            submitted = {r[0] for r in db.execute("SELECT student_id FROM submitted_assignment")}
        return done, submitted

    cmd = [sys.executable, "-m", "autograde", "grade", CHAPTER, f"--root={course.root}", "--quiet", "--workers=1"]
    proc = subprocess.Popen(cmd, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True)
    for _ in range(1200):
        if recorded()[0] or proc.poll() is not None:
            break
        time.sleep(0.05)
    os.killpg(proc.pid, signal.SIGKILL)  # no chance to clean up: as a crash or a power cut would
    proc.wait()
    done, submitted = recorded()
    assert 1 <= len(done) < 8, "killed midway"
    assert submitted == done, "every submission in the gradebook was graded whole; none half-written"
    full = full_marks()
    assert all(course.scores(CHAPTER)[s] == (full, full, False) for s in done)

    out = course.grade(CHAPTER).stdout
    skipped = {line.split()[0] for line in out.splitlines() if "unchanged, skipped" in line}
    assert skipped == done, "the rerun skips what was graded and unchanged"
    assert course.scores(CHAPTER) == {f"student{i:02d}": (full, full, False) for i in range(8)}

    path = course.root / "submitted" / "student00" / CHAPTER / CHAPTERS[CHAPTER].notebook
    nb = nbformat.read(path, as_version=4)
    for cell in nb.cells:
        if cell.metadata.get("nbgrader", {}).get("grade_id") == "discounted_return":
            cell.source = "def discounted_return(rewards, gamma):\n    return 0.0\n"
    nbformat.write(nb, path)  # a resubmission
    proc = course.grade(CHAPTER, quiet=False)
    assert sum("unchanged, skipped" in line for line in proc.stdout.splitlines()) == 7
    assert re.search(r"grading 01-mdp: .*1/1 \[\d\d:\d\d<\d\d:\d\d", proc.stderr), "a progress bar with the time left"
    lost = sum(CHAPTERS[CHAPTER].exercise("discounted_return").points)
    assert course.scores(CHAPTER)["student00"] == (full - lost, full, False)


@pytest.mark.parametrize("option", ["--workers=0", "--timeout=0"])
def test_bad_options_are_refused(course, option):
    proc = course.grade(CHAPTER, option, check=False)
    assert proc.returncode == 2 and option.split("=")[0] in proc.stderr and not any(course.root.iterdir())


def test_writes_made_during_a_batch_survive_it(course):
    """A TA grades by hand in formgrader, a student is added, and another tool writes while a batch
    runs: the fast grader merges its grades into the gradebook and loses none of that."""
    from nbgrader.api import Gradebook

    _submissions(course, 4)
    course.run("autograde", CHAPTER, "--create", "--student=student00")  # one graded before the batch
    db_url = f"sqlite:///{course.root / 'gradebook.db'}"
    cell = "test_transition_tensor"
    written, calls = [], []

    def formgrader(student):
        """After each submission the batch merges: a manual grade for every graded student (also ones the
        batch has not reached yet), a new student, an extension, a comment."""
        n = len(calls)
        calls.append(student)
        with Gradebook(db_url) as gb:
            for other in ("student00", "student01", "student02", "student03")[: n + 1]:
                try:
                    grade = gb.find_grade(cell, "mdp", CHAPTER, other)
                except Exception:
                    continue  # not in the gradebook yet
                grade.manual_score = 0.5 + n
                gb.db.commit()
                written.append((other, 0.5 + n))
            gb.update_or_create_student(f"newcomer{n}", first_name="New")
            sub = gb.find_submission(CHAPTER, "student00")
            sub.extension = None
            comment = gb.find_comment("transition_tensor", "mdp", CHAPTER, "student00")
            comment.manual_comment = f"see me ({n})"
            gb.db.commit()

    grader = Grader(CHAPTER, course.root)
    with dask_client(1) as client:
        rows = grader.run(client, force=True, progress=False, after_each=formgrader)
    assert [r["status"] for r in rows] == ["ok"] * 4
    with Gradebook(db_url) as gb:
        latest = {}
        for student, score in written:
            latest[student] = score
        assert len(latest) == 4, "every student got a manual grade during the batch"
        for student, score in latest.items():
            grade = gb.find_grade(cell, "mdp", CHAPTER, student)
            assert grade.manual_score == score, (student, "a manual grade entered during the batch survives")
            assert grade.auto_score == 1 and grade.score == score
        assert {s.id for s in gb.students} >= {f"newcomer{i}" for i in range(4)}
        assert gb.find_comment("transition_tensor", "mdp", CHAPTER, "student00").manual_comment == "see me (3)"
    full = full_marks()
    scores = course.scores(CHAPTER)
    assert all(scores[f"student{i:02d}"][1] == full for i in range(4))
