"""The book's executed pages, found on disk: each chapter's notebook (its nbgrader assignment) and its
pages without exercises (MyST notebooks, ``book/<chapter>/<name>.md``). A page carries its own
settings in its notebook metadata, under ``rlcourse``:

    budget_s: seconds the page may take to execute on 2 CPU cores when the book is built
"""

from __future__ import annotations

from pathlib import Path

from autograde.spec import REPO


def pages() -> dict[str, Path]:
    """Every executed page of the book: ``"<chapter>/<name>"`` -> path, in order."""
    found = {}
    for path in sorted((REPO / "book").glob("*/*")):
        if path.suffix == ".ipynb" or (path.suffix == ".md" and "kernelspec:" in path.read_text()[:600]):
            found[f"{path.parent.name}/{path.stem}"] = path
    return found


def page_settings(path: Path) -> dict:
    """The ``rlcourse`` block of a page's notebook metadata (``{}`` if it has none)."""
    import jupytext
    import nbformat

    nb = jupytext.read(path) if path.suffix == ".md" else nbformat.read(path, as_version=4)
    return dict(nb.metadata.get("rlcourse", {}))
