"""Number display equations per chapter: (5.3) is the third numbered equation of Chapter 5.

Jupyter Book 1 numbers equations with Sphinx's ``numfig``; the table of contents is not numbered
(chapter titles carry their own numbers), so Sphinx counts equations across the whole book and
Chapter 5 started at (28). This extension keeps Sphinx's machinery and only renames the numbers it
assigned: after Sphinx has numbered the figures and equations of every page in table-of-contents
order, each page under ``book/NN-name/`` gets the chapter number ``NN`` and a count that runs over
that chapter's pages in the same order. Equations elsewhere (none today) keep Sphinx's numbers.
Equation references (``{eq}``) read the same table, so they change with the numbers.
"""

from __future__ import annotations

import re

CHAPTER = re.compile(r"^book/(\d+)-[^/]+/")


def _renumber(app, env):
    numbers = env.toc_fignumbers  # docname -> figtype -> node id -> number tuple, in book order
    found = []
    for docname, figtypes in numbers.items():
        match = CHAPTER.match(docname)
        if match:
            for node_id, number in figtypes.get("displaymath", {}).items():
                found.append((int(match.group(1)), tuple(number), docname, node_id))
    count: dict[int, int] = {}
    changed = set()
    for chapter, _, docname, node_id in sorted(found):  # Sphinx's global numbers give the book order
        count[chapter] = count.get(chapter, 0) + 1
        new = (chapter, count[chapter])
        if numbers[docname]["displaymath"][node_id] != new:
            numbers[docname]["displaymath"][node_id] = new
            changed.add(docname)
    return sorted(changed)


def setup(app):
    app.connect("env-get-updated", _renumber, priority=900)  # after Sphinx's own figure numbering
    return {"parallel_read_safe": True, "parallel_write_safe": True}
