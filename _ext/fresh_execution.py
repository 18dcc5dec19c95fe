"""Every page is executed by the build that shows it.

The book is built with Jupyter Book's execution cache (``execute_notebooks: cache``) so that
``python -m autograde book`` can execute the pages in parallel beforehand (see autograde/book.py).
The cache keys a page by its own cells only. This extension trusts it only when that command has
just filled it for the support package and pinned versions on disk (its stamp holds their digest),
and only for one build: otherwise it empties the cache before any page is read, so the build executes
every page itself, and when the build ends it deletes the stamp.
"""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def _cache(app) -> Path:
    return Path(app.env.mystnb_config.execution_cache_path)


def _trust_or_empty(app) -> None:
    if str(REPO) not in sys.path:
        sys.path.insert(0, str(REPO))
    from autograde.book import PAGE_INPUTS, STAMP
    from autograde.grade import code_digest

    cache = _cache(app)
    try:
        fresh = json.loads((cache / STAMP).read_text())["digest"] == code_digest(PAGE_INPUTS)
    except (OSError, ValueError, KeyError):
        fresh = False
    if not fresh and cache.exists():
        shutil.rmtree(cache)


def _spend_stamp(app, exception) -> None:
    from autograde.book import STAMP

    (_cache(app) / STAMP).unlink(missing_ok=True)


def setup(app):
    app.connect("builder-inited", _trust_or_empty, priority=900)  # after myst-nb sets the cache's path (500)
    app.connect("build-finished", _spend_stamp)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
