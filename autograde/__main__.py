"""``python -m autograde <command>``: the course's instructor commands (run from the repository root).

    book      execute every page in parallel, then build the book (see autograde/book.py)
    sync      keep notebooks, stored checks and solutions in agreement (see autograde/sync.py)
    release   write the student notebooks (nbgrader generate_assignment) into autograde/release/
    grade     grade a chapter's submissions in parallel into the gradebook (see autograde/grade.py)
    export    the gradebook as the grade import CSV of Canvas or Moodle (see autograde/lms.py)
    report    what the class got wrong: a chapter's report, or --all the course's (see autograde/report.py)
"""

import sys


def main(argv=None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    commands = {"book": "autograde.book", "sync": "autograde.sync", "release": "autograde.release", "grade": "autograde.grade",
                "export": "autograde.lms", "report": "autograde.report"}
    if not argv or argv[0] not in commands:
        print(__doc__)
        return 2
    module = __import__(commands[argv[0]], fromlist=["main"])
    return module.main(argv[1:])


if __name__ == "__main__":
    sys.exit(main())
