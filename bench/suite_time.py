"""Wall time of the test suite as CI runs it: a fresh clone, ``CI=true make test`` (target: 15 min).

    .venv/bin/python bench/suite_time.py [--ref HEAD] [--other-kernels] [--keep] [--top 25]

Clones the committed ``--ref`` of this repository into a temporary folder (what is not committed is
not measured), runs the README's test command there as CI does (``CI=true``: the slow tests too; the
clone installs its own ``.venv`` from the package registries' caches) with pytest's ``--durations``,
and prints the wall time of ``make test`` (install and release included), the wall time pytest
reports, and the slowest tests. ``--other-kernels`` sets ``OPENBLAS_CORETYPE=Prescott
ATEN_CPU_CAPABILITY=default OMP_NUM_THREADS=1`` for the whole run, as the standards ask before a
commit. Exits with the command's status. Figures, not a test: they depend on the machine (CI has 2
cores). Takes as long as the suite (about half an hour); run nothing else heavy beside it.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
OTHER_KERNELS = {"OPENBLAS_CORETYPE": "Prescott", "ATEN_CPU_CAPABILITY": "default", "OMP_NUM_THREADS": "1"}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--ref", default="HEAD", help="commit to measure (default: HEAD)")
    parser.add_argument("--other-kernels", action="store_true", help="force other floating-point kernels")
    parser.add_argument("--keep", action="store_true", help="keep the clone and print where it is")
    parser.add_argument("--top", type=int, default=25, help="slowest tests to print (default 25)")
    args = parser.parse_args()

    folder = Path(tempfile.mkdtemp(prefix="rlcourse-suite-"))
    clone = folder / "course"
    subprocess.run(["git", "clone", "--quiet", str(REPO), str(clone)], check=True)
    subprocess.run(["git", "checkout", "--quiet", args.ref], cwd=clone, check=True)
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=clone, capture_output=True, text=True,
                            check=True).stdout.strip()
    env = {**os.environ, "CI": "true", "PYTEST_ADDOPTS": f"--durations={args.top} -rf"}
    env.pop("VIRTUAL_ENV", None)
    if args.other_kernels:
        env.update(OTHER_KERNELS)
    log = folder / "make-test.log"
    print(f"commit {commit}, {os.cpu_count()} CPU cores{', other floating-point kernels' if args.other_kernels else ''}; "
          f"log: {log}", flush=True)
    start = time.perf_counter()
    with open(log, "w") as out:
        status = subprocess.run(["make", "test"], cwd=clone, env=env, stdout=out, stderr=subprocess.STDOUT).returncode
    seconds = time.perf_counter() - start
    text = log.read_text(errors="replace")
    summary = re.findall(r"^=+ (.*? in [\d.]+s(?: \([\d:]+\))?) =+$", text, re.M)
    durations = re.search(r"^=+ slowest \d+ durations =+\n(.*?)^=", text, re.M | re.S)
    print(f"make test: {seconds / 60:.1f} min (exit status {status})")
    print(f"pytest: {summary[-1] if summary else 'no summary line (see the log)'}")
    if durations:
        print("slowest:\n" + durations.group(1).rstrip())
    if args.keep:
        print(f"clone kept in {clone}")
    else:
        shutil.rmtree(folder) if status == 0 else print(f"failed: clone and log kept in {folder}")
    return status


if __name__ == "__main__":
    sys.exit(main())
