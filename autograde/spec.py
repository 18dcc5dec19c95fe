"""What an auto-graded exercise is, for the instructor side: reference, cases, points, known mistakes.

One ``Chapter`` per notebook lists its ``Exercise``s (see ``autograde/specs/``). From it,
``autograde.sync`` writes the visible cases (with expected outputs and the outputs of every known
mistake, so a check can name the mistake) into ``rlcourse/checks/snapshots/<chapter>.json``, packs the
hidden cases into the notebook's hidden test cells, and copies the reference into the solution cell.
The test suite uses the same mistakes as the plausible wrong answers that must lose points.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from rlcourse.checks import adapters
from rlcourse.checks.encoding import decode, encode

REPO = Path(__file__).resolve().parent.parent


@dataclass
class Mistake:
    """A plausible wrong implementation, and the sentence that names it for the student."""

    name: str
    """Short identifier, e.g. ``"swapped_axes"``."""
    message: str
    """What the student probably did, addressed to them."""
    impl: Callable
    """The wrong implementation (same signature as the reference)."""


@dataclass
class Exercise:
    """One auto-graded function."""

    reference: Callable
    """The reference implementation in ``solutions/``; its ``__name__`` is the exercise's name."""
    visible: list[dict]
    """Keyword arguments of the cases students see and check themselves."""
    hidden: list[dict]
    """Keyword arguments of the further cases that only grading runs."""
    mistakes: list[Mistake] = field(default_factory=list)
    """Plausible wrong answers; each must fail a check, and a visible failure should name it."""
    points: tuple[int, int] = (1, 1)
    """Points of the visible test cell and of the hidden test cell."""
    rtol: float = 1e-6
    """Relative tolerance of the comparison."""
    atol: float = 1e-8
    """Absolute tolerance of the comparison."""
    adapter: str | None = None
    """Name of a ``rlcourse.checks.adapters`` adapter, when the output is not the return value."""

    @property
    def name(self) -> str:
        return self.reference.__name__


@dataclass
class Chapter:
    """A chapter notebook and its exercises."""

    id: str
    """The chapter's folder under ``book/``, which is also the nbgrader assignment id."""
    notebook: str
    """File name of the chapter notebook inside its folder."""
    exercises: list[Exercise]
    """Auto-graded exercises, in the order of the notebook."""

    @property
    def path(self) -> Path:
        return REPO / "book" / self.id / self.notebook

    def exercise(self, name: str) -> Exercise:
        return next(e for e in self.exercises if e.name == name)


def run(fn: Callable, ex: Exercise, args: dict):
    """Call ``fn`` on a stored case exactly as the student-facing check does."""
    return adapters.get(ex.adapter)(fn, decode(encode(args)))


def build_cases(ex: Exercise, kind: str) -> dict:
    """Encoded cases of ``ex`` (``kind`` is "visible" or "hidden"), as the checks read them."""
    cases = []
    for args in (ex.visible if kind == "visible" else ex.hidden):
        case = {"args": encode(args), "order": list(args), "expected": encode(run(ex.reference, ex, args))}
        if kind == "visible":  # fingerprints of known mistakes, so the check can name them
            case["mistakes"] = {}
            for m in ex.mistakes:
                try:
                    case["mistakes"][m.name] = encode(run(m.impl, ex, args))
                except Exception:  # a mistake that crashes on this case leaves no fingerprint
                    pass
        cases.append(case)
    spec = {"cases": cases, "rtol": ex.rtol, "atol": ex.atol}
    if ex.adapter:
        spec["adapter"] = ex.adapter
    if kind == "visible":
        spec["mistake_messages"] = {m.name: m.message for m in ex.mistakes}
    return spec
