"""``python -m autograde <command>``: the course's instructor commands (run from the repository root).

    sync      keep notebooks, stored checks and solutions in agreement (see autograde/sync.py)
    release   write the student notebooks (nbgrader generate_assignment) into autograde/release/
    grade     grade a chapter's submissions in parallel into the gradebook (see autograde/grade.py)
"""

import sys


def main(argv=None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    commands = {"sync": "autograde.sync", "release": "autograde.release", "grade": "autograde.grade"}
    if not argv or argv[0] not in commands:
        print(__doc__)
        return 2
    module = __import__(commands[argv[0]], fromlist=["main"])
    return module.main(argv[1:])


if __name__ == "__main__":
    sys.exit(main())
