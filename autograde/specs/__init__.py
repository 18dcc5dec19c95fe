"""The auto-graded exercises of every chapter, keyed by chapter id (= folder under ``book/``).

Discovered, not listed: every module ``chNN_<name>.py`` here defines one ``CHAPTER``. Every spec names
things the same way (``tests/test_layout.py`` checks the first point):

- ``ref`` is the chapter's module in ``solutions/``, and ``shared`` its module in ``rlcourse.reference``
  (the references that a later chapter, the support package or a benchmark reuses), so
  ``reference=shared.kl_estimate`` says where a reference lives;
- a wrong implementation is a private function ``_<exercise>_<what is wrong>``; mistakes that differ
  only by one setting share one ``_<exercise>_variant`` and each gives its setting with
  :func:`autograde.spec.variant`: ``Mistake("monte_carlo", "...", variant(_gae_variant, lam=1.0))``;
- a message that more than one mistake gives is a constant at the top of the spec, written once.
"""

from __future__ import annotations

import importlib
import pkgutil

from autograde.spec import Chapter


def _discover() -> dict[str, Chapter]:
    chapters = {}
    for info in sorted(pkgutil.iter_modules(__path__), key=lambda m: m.name):
        if not info.name.startswith("ch"):
            continue
        chapter = importlib.import_module(f"{__name__}.{info.name}").CHAPTER
        if chapter.id in chapters:
            raise ValueError(f"two spec modules define chapter {chapter.id!r}")
        chapters[chapter.id] = chapter
    return dict(sorted(chapters.items()))


CHAPTERS = _discover()
