"""nbgrader configuration of the course. Run nbgrader commands from this folder (see README).

The assignments are the chapters: ``source/<assignment>`` is ``book/<chapter>``, so the notebook the
book shows is the one nbgrader releases and grades.
"""

import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))  # for autograde.nbgrader_ext (this process only, not the kernels)

from nbconvert.preprocessors import ClearMetadataPreprocessor, CSSHTMLHeaderPreprocessor  # noqa: E402
from nbgrader.preprocessors import (AssignLatePenalties, CheckCellMetadata, ClearHiddenTests,  # noqa: E402
                                    ClearMarkScheme, ClearOutput, ClearSolutions, ComputeChecksums, Execute,
                                    GetGrades, IgnorePattern, IncludeHeaderFooter, InstantiateTests,
                                    LimitOutput, LockCells, SaveAutoGrades, SaveCells)

from autograde.nbgrader_ext import (HideHiddenTests, JudgeReports, RemoveBookOnlyCells,  # noqa: E402
                                    ReportInsteadOfCheck)
from autograde.plain_markdown import PlainMarkdown  # noqa: E402

c = get_config()  # noqa: F821 (provided by traitlets when this file is loaded)

c.CourseDirectory.course_id = "rl-llm-post-training"
c.CourseDirectory.root = str(HERE)
c.CourseDirectory.source_directory = str(HERE.parent / "book")
c.CourseDirectory.ignore = [".ipynb_checkpoints", "*.pyc", "__pycache__", "feedback", "_build", "*.md"]

# Student notebooks: nbgrader's own steps, after dropping the book-only cells.
c.GenerateAssignment.preprocessors = [
    RemoveBookOnlyCells, PlainMarkdown, IncludeHeaderFooter, InstantiateTests, LockCells, ClearSolutions, ClearOutput,
    CheckCellMetadata, ComputeChecksums, SaveCells, ClearHiddenTests, ClearMarkScheme, ComputeChecksums,
    CheckCellMetadata,
]
c.ClearSolutions.code_stub = {"python": "# YOUR CODE HERE\nraise NotImplementedError()"}

# Grading. No grade is decided in the student's kernel: each test cell's check is replaced by a call
# that only runs the student's function on the cases' inputs and reports the outputs; the grading
# process compares them with the expected values (which never enter the kernel) and writes the
# verdict into the cell, which nbgrader then scores (autograde.nbgrader_ext).
c.Autograde.autograde_preprocessors = [
    ReportInsteadOfCheck, Execute, JudgeReports, IgnorePattern, ClearMetadataPreprocessor, LimitOutput,
    SaveAutoGrades, AssignLatePenalties, CheckCellMetadata,
]
# Every grading kernel runs in a bubblewrap sandbox: it sees the Python environment, the support package
# (without the graded chapter's references) and its own submission, read-only, and nothing else; no
# network; memory and time limits (autograde/sandbox.py).
c.Execute.kernel_manager_class = "autograde.sandbox.SandboxedKernelManager"
# A cell gets this long; a submission that loops forever costs it once per cell that calls
# the looping function. Chapter cells are sized to run in well under a minute on 2 CPU cores.
c.Execute.timeout = 180
c.Execute.interrupt_on_timeout = True
# nbgrader scores a test cell 0 when it has ANY stderr output, even for a correct answer. Only the
# checks' outcomes may decide a grade (a failing check raises, which is an error output, not stderr),
# so every stderr output is dropped before grading: warnings, library log lines, a student's debug
# print or logging call.
c.IgnorePattern.enabled = True
c.IgnorePattern.pattern = r"[\s\S]"  # matches any non-empty text
# A deleted test cell is put back (and run) instead of scoring 0 and waiting for manual grading.
c.OverwriteCells.add_missing_cells = True

# Feedback returned to students never shows hidden tests.
c.GenerateFeedback.preprocessors = [HideHiddenTests, GetGrades, CSSHTMLHeaderPreprocessor]
