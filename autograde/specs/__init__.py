"""The auto-graded exercises of every chapter, keyed by chapter id (= folder under ``book/``).

Discovered, not listed: every module ``chNN_<name>.py`` here defines one ``CHAPTER``.
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
