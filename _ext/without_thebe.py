"""Drop sphinx-thebe's scripts from every page.

Jupyter Book 1 always loads the sphinx-thebe extension (live code cells run on a Binder server). This
course runs offline and shows no launch button, so the scripts only cost a reader: sphinx-thebe
registers its inline configuration script once per ``env-before-read-docs`` event, and the page ends
up declaring ``const THEBE_JS_URL`` twice, a console error on every page.
"""

from __future__ import annotations


def _is_thebe(script) -> bool:
    filename = str(getattr(script, "filename", script) or "")
    body = str(getattr(script, "attributes", {}).get("body", ""))
    return filename.endswith("sphinx-thebe.js") or "THEBE_JS_URL" in body or "unpkg.com/thebe" in filename


def _drop_thebe(app, pagename, templatename, context, doctree):
    if "script_files" in context:
        context["script_files"] = [s for s in context["script_files"] if not _is_thebe(s)]


def setup(app):
    app.connect("html-page-context", _drop_thebe, priority=900)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
