"""What an auto-graded exercise is, for the instructor side: reference, cases, points, known mistakes.

Specs are data. One ``Chapter`` per notebook lists its ``Exercise``s (``autograde/specs/chNN_*.py``);
``autograde.sync`` turns them into the stored cases and the notebook's exercise cells, and the test
suite uses the same mistakes as the plausible wrong answers that must lose points.

Each known mistake is declared once, where its exercise lists it: ``Mistake(name, message, impl)``.
Mistakes that differ only by one setting of a shared wrong implementation give that setting with
:func:`variant` instead of a wrapper function each.
"""

from __future__ import annotations

import functools
import inspect
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

REPO = Path(__file__).resolve().parent.parent
BOOK = REPO / "book"


@dataclass
class Mistake:
    """A plausible wrong implementation, and the sentence that names it for the student."""

    name: str
    """Short identifier, e.g. ``"swapped_axes"``."""
    message: str
    """What the student probably did, addressed to them."""
    impl: Callable
    """The wrong implementation (same signature as the reference). It may raise on a case (a slip that
    crashes): a check then names it for an answer that raises the same exception type with the same
    message on that case."""


def variant(impl: Callable, /, **settings) -> Callable:
    """``impl`` called with ``settings`` in place of the arguments of those names: one known mistake
    made from a wrong implementation that several share, e.g. ``variant(_gae_variant, lam=1.0)``.

    A setting wins however the check passes that argument, by position or by keyword, so it may also
    pin one of the exercise's own arguments (``lam`` here); with ``functools.partial`` the case's own
    value would win.

    >>> def power(x, p=2, negate=False):
    ...     return -x ** p if negate else x ** p
    >>> cube = variant(power, p=3)
    >>> cube(2), cube(2, 5), cube(x=2, p=5), variant(power, negate=True)(3)
    (8, 8, 8, -9)
    """
    signature = inspect.signature(impl)
    signature.bind_partial(**settings)  # a misspelt setting fails when the spec is read, not on a case

    @functools.wraps(impl)
    def wrong(*args, **kwargs):
        bound = signature.bind_partial(*args, **kwargs)
        bound.arguments.update(settings)
        return impl(*bound.args, **bound.kwargs)

    return wrong


@dataclass
class Exercise:
    """One auto-graded function."""

    reference: Callable
    """The reference implementation (in ``solutions/``, or in ``rlcourse.reference`` when a later chapter
    or a benchmark reuses it); its ``__name__`` is the exercise's name."""
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
        return BOOK / self.id / self.notebook

    def exercise(self, name: str) -> Exercise:
        return next(e for e in self.exercises if e.name == name)
