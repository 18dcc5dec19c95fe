"""A term, as the README's "Grading a term, start to finish" walks through it, on a generated class, and
the grades it exports for Canvas and Moodle.

The class (Chapter 1, real nbgrader, the README's commands): a class list imported from CSV; a due
date and nbgrader's "zero" late penalty; submissions collected with ``nbgrader zip_collect`` from a zip
named and laid out as Canvas's "Download Submissions" makes it; one on time whose score a TA changes
in formgrader (Jupyter started as the README says), one late (its ``timestamp.txt`` after the due
date), one resubmitted (blank, then right, collected from a second download and graded again) and
one missing. Feedback is generated, then both exports are parsed back and compared with the
gradebook, through nbgrader's own ``nbgrader export``.
"""

from __future__ import annotations

import contextlib
import csv
import io
import json
import os
import secrets
import shlex
import socket
import subprocess
import sys
import time
import urllib.request
import zipfile
from pathlib import Path

import nbformat
import pytest
from nbgrader.api import Gradebook

from autograde.lms import read_roster
from autograde.specs import CHAPTERS
from tests.conftest import PACKED_HIDDEN_CASES, REPO, Course, filled_in, stop

CHAPTER = "01-mdp"
README = (REPO / "README.md").read_text()

CLASS_LIST = """\
id,first_name,last_name,email,SIS User ID,SIS Login ID,Section,Username,ID number
1001,Ada,Lovelace,ada@uni.example,S1001,alovelace,RL-01,alovelace,S1001
1002,Grace,Hopper,grace@uni.example,S1002,ghopper,RL-01,ghopper,S1002
1003,Alan,Turing,alan@uni.example,S1003,aturing,RL-02,aturing,S1003
1004,Emmy,Noether,emmy@uni.example,S1004,enoether,RL-02,enoether,S1004
"""
ON_TIME, LATE, RESUBMITS, MISSING = "1001", "1002", "1003", "1004"
LATE_CONFIG = 'c.LateSubmissionPlugin.penalty_method = "zero"'
LATE_TIMESTAMP = 'echo "2025-03-15 09:30:00 UTC" > submitted/1002/01-mdp/timestamp.txt'
ON_TIME_STAMP = "2025-03-14 16:59:00 UTC"
CANVAS_TITLE = "Chapter 1 (123456)"

# The README's commands, as it shows them (run in autograde/, here on a throw-away course folder).
IMPORT = "nbgrader db student import class.csv"
RELEASE = "nbgrader generate_assignment 01-mdp"
DUEDATE = 'nbgrader db assignment add 01-mdp --duedate="2025-03-14 17:00:00 UTC"'
COLLECT = (r"nbgrader zip_collect 01-mdp --FileNameCollectorPlugin.named_regexp="
           r"'.*_(?P<student_id>\d+)_\d+_(?P<file_id>.+?)(-\d+)?\.ipynb$'")
MOODLE_REGEX = r"'.*/(?P<student_id>[^/]+)_\d+_assignsubmission_file_/(?P<file_id>[^/]+)\.ipynb$'"
AUTOGRADE = "nbgrader autograde 01-mdp"
REGRADE = "nbgrader autograde 01-mdp --student=1003 --force"
FEEDBACK = "nbgrader generate_feedback 01-mdp"
FORMGRADER = "jupyter lab --no-browser"
CANVAS_EXPORT = "nbgrader export --exporter=lms.CanvasExport --to=canvas.csv --LMSExport.roster=class.csv"
MOODLE_EXPORT = "nbgrader export --exporter=lms.MoodleExport --to=moodle.csv --LMSExport.roster=class.csv"
CANVAS_FROM_ROOT = ('python -m autograde export --lms canvas --roster autograde/class.csv --to autograde/canvas.csv '
                    '--title 01-mdp="Chapter 1 (123456)"')
COMMANDS = [IMPORT, RELEASE, DUEDATE, COLLECT, AUTOGRADE, REGRADE, FEEDBACK, FORMGRADER, CANVAS_EXPORT,
            MOODLE_EXPORT, CANVAS_FROM_ROOT, LATE_CONFIG, LATE_TIMESTAMP, MOODLE_REGEX]

FILES = ("class.csv", "canvas.csv", "moodle.csv")
"""The nbgrader command lines' file arguments, relative to autograde/ in the README; here in the course folder."""


def run_readme(course: Course, command: str, *extra: str, check: bool = True):
    """Run one of the README's nbgrader command lines on ``course`` (nbgrader's CLI, with the course's
    configuration and the course folder as its root), its file arguments taken in the course folder."""
    assert command in README, f"the README no longer shows: {command}"
    args = shlex.split(command)
    assert args[0] == "nbgrader"
    return course.run(*(_in_course(course, a) for a in args[1:]), *extra, check=check)


def _in_course(course: Course, arg: str) -> str:
    for name in FILES:
        if arg == name or arg.endswith("=" + name):
            return arg[:len(arg) - len(name)] + str(course.root / Path(name).name)
    return arg


def canvas_zip(path: Path, files: dict[str, str]) -> Path:
    """A zip laid out as Canvas's "Download Submissions" makes it: every student's files at the top,
    each named ``<sortable name>[_LATE]_<user id>_<attachment id>_<file name as uploaded>``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(path, "w") as z:
        for name, text in files.items():
            z.writestr(name, text)
    return path


@contextlib.contextmanager
def formgrader(root: Path):
    """Jupyter started in the course folder as the README starts it, with nbgrader's formgrader, on a free
    local port; yields ``put(path, body)``, a request to formgrader's API as its page makes it."""
    assert FORMGRADER in README
    token = secrets.token_hex(16)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    cmd = [sys.executable, "-m", *shlex.split(FORMGRADER), f"--port={port}", "--ServerApp.port_retries=0",
           "--ServerApp.ip=127.0.0.1", f"--IdentityProvider.token={token}"]
    if os.geteuid() == 0:  # a container, CI
        cmd.append("--allow-root")
    env = {**os.environ, "JUPYTER_RUNTIME_DIR": str(root.parent / "jupyter-runtime"),
           "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"}
    log = open(root.parent / "jupyter.log", "w")
    server = subprocess.Popen(cmd, cwd=root, env=env, stdout=log, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"

    def request(path: str, body=None, method: str = "GET"):
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(base + path, data=data, method=method,
                                     headers={"Authorization": f"token {token}", "Content-Type": "application/json"})
        with urllib.request.urlopen(req, timeout=30) as response:
            return json.loads(response.read() or "null")

    try:
        deadline = time.monotonic() + 180
        while True:
            assert server.poll() is None, (root.parent / "jupyter.log").read_text()
            with contextlib.suppress(OSError):
                request("/api/status")
                break
            assert time.monotonic() < deadline, "Jupyter did not start"
            time.sleep(1)
        yield lambda path, body: request(path, body, "PUT")
    finally:
        stop(server, timeout=30)
        log.close()


def max_points() -> float:
    return float(sum(sum(ex.points) for ex in CHAPTERS[CHAPTER].exercises))


WRONG_TRANSITIONS = '''import numpy as np


def transition_tensor(env):
    return np.zeros((env.n_states, env.n_actions, env.n_states))
'''


@pytest.fixture(scope="module")
def term(tmp_path_factory):
    """The README's term, run once: the course, each student's scores after the first grading, and the
    score each should end with."""
    course = Course(tmp_path_factory.mktemp("lms") / "course")
    root = course.root
    (root / "class.csv").write_text(CLASS_LIST)
    # the course folder's own nbgrader_config.py: what the README adds to autograde/nbgrader_config.py
    (root / "nbgrader_config.py").write_text(f"c = get_config()  # noqa: F821\n{LATE_CONFIG}\n")

    run_readme(course, IMPORT)
    run_readme(course, RELEASE)
    run_readme(course, DUEDATE)
    release = nbformat.read(root / "release" / CHAPTER / "mdp.ipynb", as_version=4)
    right = nbformat.writes(filled_in(release, CHAPTER))
    wrong = nbformat.writes(filled_in(release, CHAPTER, {"transition_tensor": WRONG_TRANSITIONS}))
    blank = nbformat.writes(release)

    archive = root / "downloaded" / CHAPTER / "archive"
    canvas_zip(archive / "rl-llm-post-training-01-mdp_submissions.zip", {
        "lovelaceada_1001_5001_mdp.ipynb": wrong,
        "hoppergrace_LATE_1002_5002_mdp.ipynb": right,
        "turingalan_1003_5003_mdp.ipynb": blank,
        "turingalan_1003_5003_notes.txt": "not a notebook: skipped",
    })
    run_readme(course, COLLECT)
    for student in (ON_TIME, LATE, RESUBMITS):
        assert (root / "submitted" / student / CHAPTER / "mdp.ipynb").is_file(), student
    assert not (root / "submitted" / MISSING).exists()
    late_stamp = shlex.split(LATE_TIMESTAMP)
    (root / late_stamp[-1]).write_text(late_stamp[1] + "\n")
    (root / "submitted" / ON_TIME / CHAPTER / "timestamp.txt").write_text(ON_TIME_STAMP + "\n")

    run_readme(course, AUTOGRADE)
    first = course.scores(CHAPTER)

    # a TA gives the on-time student the hidden check's points in formgrader (the request its page sends)
    lost = float(sum(CHAPTERS[CHAPTER].exercise("transition_tensor").points))
    with Gradebook(f"sqlite:///{root / 'gradebook.db'}") as gb:
        grade = gb.find_grade("hidden_test_transition_tensor", "mdp", CHAPTER, ON_TIME)
        grade_id, hidden_points = grade.id, grade.max_score
    with formgrader(root) as put:
        put(f"/formgrader/api/grade/{grade_id}", {"manual_score": hidden_points, "extra_credit": None})

    # the student resubmits; the next download (the resubmitted file renamed by Canvas) replaces the first
    (archive / "rl-llm-post-training-01-mdp_submissions.zip").unlink()
    canvas_zip(archive / "rl-llm-post-training-01-mdp_submissions-2.zip",
               {"turingalan_1003_5006_mdp-1.ipynb": right})
    run_readme(course, COLLECT, "--force")
    run_readme(course, REGRADE)
    run_readme(course, FEEDBACK)

    run_readme(course, CANVAS_EXPORT)
    run_readme(course, MOODLE_EXPORT)
    course.run("export", f"--to={root / 'grades.csv'}")  # nbgrader's own export, to compare with
    expected = {ON_TIME: max_points() - lost + hidden_points, LATE: 0.0, RESUBMITS: max_points(), MISSING: 0.0}
    return {"course": course, "first": first, "expected": expected, "lost": lost}


def read_csv(path: Path) -> list[list[str]]:
    with open(path, newline="", encoding="utf-8") as f:
        return list(csv.reader(f))


def nbgrader_scores(course: Course) -> dict[str, dict]:
    return {r["student_id"]: r for r in csv.DictReader(open(course.root / "grades.csv"))
            if r["assignment"] == CHAPTER}


def test_the_term_is_graded_as_the_readme_says(term):
    """Late work loses its points through the due date, timestamp.txt and the penalty configured; the
    resubmission's grade replaces the first; the class list's student without work has none."""
    course = term["course"]
    full = max_points()
    assert term["first"][ON_TIME] == (full - term["lost"], full, False)
    assert term["first"][RESUBMITS] == (0.0, full, False), "the first submission was blank"
    rows = nbgrader_scores(course)
    assert float(rows[LATE]["raw_score"]) == full, "the late work is right ..."
    assert float(rows[LATE]["late_submission_penalty"]) == full, "... and late, so it scores 0"
    assert float(rows[ON_TIME]["late_submission_penalty"]) == 0, "a minute before the due date is on time"
    assert float(rows[RESUBMITS]["score"]) == full, "the resubmission, graded last, counts"
    assert rows[MISSING]["timestamp"] == "" and float(rows[MISSING]["score"]) == 0
    assert {s: float(r["score"]) for s, r in rows.items()} == term["expected"]
    names = {s: (r["first_name"], r["last_name"], r["email"]) for s, r in rows.items()}
    assert names[ON_TIME] == ("Ada", "Lovelace", "ada@uni.example"), "the class list was imported"


def test_feedback_for_every_submission_without_hidden_tests(term):
    root = term["course"].root
    for student in (ON_TIME, LATE, RESUBMITS):
        html = (root / "feedback" / student / CHAPTER / "mdp.html").read_text()
        assert "BEGIN HIDDEN TESTS" not in html and not PACKED_HIDDEN_CASES.search(html), student
    assert not (root / "feedback" / MISSING).exists()


def test_canvas_export_has_canvas_columns_and_round_trips(term):
    """Exactly Canvas's columns, the points possible, the class list's identifiers, and parsed back the
    gradebook's scores (as nbgrader's own export gives them)."""
    course = term["course"]
    rows = read_csv(course.root / "canvas.csv")
    assert rows[0] == ["Student", "ID", "SIS User ID", "SIS Login ID", "Section", CHAPTER]
    assert rows[1][0] == "Points Possible" and float(rows[1][5]) == max_points()
    students = {r[1]: r for r in rows[2:]}
    assert sorted(students) == [ON_TIME, LATE, RESUBMITS, MISSING]
    assert students[ON_TIME][:5] == ["Lovelace, Ada", ON_TIME, "S1001", "alovelace", "RL-01"]
    parsed = {sid: float(r[5]) for sid, r in students.items()}
    assert parsed == term["expected"]
    assert parsed == {s: float(r["score"]) for s, r in nbgrader_scores(course).items()}


def test_moodle_export_has_moodle_columns_and_round_trips(term):
    course = term["course"]
    rows = read_csv(course.root / "moodle.csv")
    assert rows[0] == ["First name", "Last name", "ID number", "Username", "Email address", CHAPTER]
    by_username = {r[3]: r for r in rows[1:]}
    assert by_username["alovelace"][:5] == ["Ada", "Lovelace", "S1001", "alovelace", "ada@uni.example"]
    usernames = {r["id"]: r["Username"] for r in csv.DictReader(io.StringIO(CLASS_LIST))}
    parsed = {sid: float(by_username[name][5]) for sid, name in usernames.items()}
    assert parsed == term["expected"]
    assert parsed == {s: float(r["score"]) for s, r in nbgrader_scores(course).items()}


def test_export_from_the_repository_root_titles_columns_and_leaves_missing_work_blank(term, tmp_path):
    """``python -m autograde export``: the chapter's column titled as the LMS's assignment, missing work
    blank on request, and a submission still flagged for manual grading named on the terminal."""
    course = term["course"]
    with Gradebook(f"sqlite:///{course.root / 'gradebook.db'}") as gb:  # as when a kernel died
        grade = gb.find_grade("test_discounted_return", "mdp", CHAPTER, RESUBMITS)
        grade.needs_manual_grade = True
        gb.db.commit()
    try:
        assert CANVAS_FROM_ROOT in README
        files = {"autograde/class.csv": str(course.root / "class.csv"),
                 "autograde/canvas.csv": str(tmp_path / "canvas.csv")}
        args = [files.get(a, a) for a in shlex.split(CANVAS_FROM_ROOT)]
        assert args[:3] == ["python", "-m", "autograde"]
        proc = subprocess.run([sys.executable, *args[1:], f"--root={course.root}", "--missing=blank"], cwd=REPO,
                              capture_output=True, text=True)
    finally:
        with Gradebook(f"sqlite:///{course.root / 'gradebook.db'}") as gb:
            gb.find_grade("test_discounted_return", "mdp", CHAPTER, RESUBMITS).needs_manual_grade = False
            gb.db.commit()
    assert proc.returncode == 0, proc.stderr
    assert f"{RESUBMITS} ({CHAPTER})" in proc.stderr, "the flagged submission is named"
    rows = read_csv(tmp_path / "canvas.csv")
    assert rows[0] == ["Student", "ID", "SIS User ID", "SIS Login ID", "Section", CANVAS_TITLE]
    cells = {r[1]: r[5] for r in rows[2:]}
    assert cells[MISSING] == "", "missing work is blank on request"
    assert {s: float(c) for s, c in cells.items() if c} == {s: x for s, x in term["expected"].items() if s != MISSING}


def test_zip_collect_takes_moodle_folders(tmp_path):
    """Moodle's download, one folder per student named ``<full name>_<participant number>_assignsubmission_file_``:
    the README's expression collects each notebook under the student's full name."""
    course = Course(tmp_path / "course")
    archive = course.root / "downloaded" / CHAPTER / "archive"
    canvas_zip(archive / "RL-01-mdp-12345.zip", {
        "Ada Lovelace_481516_assignsubmission_file_/mdp.ipynb": "{}",
        "Grace Hopper_481517_assignsubmission_file_/mdp.ipynb": "{}",
    })
    assert MOODLE_REGEX in README
    course.run("zip_collect", CHAPTER, f"--FileNameCollectorPlugin.named_regexp={shlex.split(MOODLE_REGEX)[0]}")
    collected = sorted(p.relative_to(course.root / "submitted").as_posix()
                       for p in (course.root / "submitted").rglob("*.ipynb"))
    assert collected == ["Ada Lovelace/01-mdp/mdp.ipynb", "Grace Hopper/01-mdp/mdp.ipynb"]


def test_the_readme_shows_every_command_tested_here():
    missing = [c for c in COMMANDS if c not in README]
    assert not missing, f"the README no longer shows: {missing}"


def test_student_work_stays_out_of_git():
    """The folders the walkthrough fills with student work and grades are ignored by git."""
    paths = ["autograde/downloaded/01-mdp/archive/x.zip", "autograde/submitted/1001/01-mdp/mdp.ipynb",
             "autograde/autograded/1001/01-mdp/mdp.ipynb", "autograde/feedback/1001/01-mdp/mdp.html",
             "autograde/gradebook.db", "autograde/class.csv", "autograde/canvas.csv"]
    proc = subprocess.run(["git", "check-ignore", "--no-index", *paths], cwd=REPO, capture_output=True, text=True)
    if proc.returncode == 128:
        pytest.skip("not a git checkout")
    assert sorted(proc.stdout.split()) == sorted(paths)


def test_roster_needs_the_nbgrader_id(tmp_path):
    path = tmp_path / "roster.csv"
    path.write_text("ID,SIS User ID\n1001,S1001\n")  # a Canvas export as is: its ID is not nbgrader's id
    with pytest.raises(ValueError, match="column 'id'"):
        read_roster(path)
    path.write_text("id,Section\n1001 , RL-01\n,RL-02\n")
    assert read_roster(path) == {"1001": {"id": "1001", "Section": "RL-01"}}
