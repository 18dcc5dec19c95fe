"""Serve MathJax 3 with the site, so formulas typeset with no network at all (even from ``file://``).

Jupyter Book 1 loads MathJax from a CDN. This extension points Sphinx's ``mathjax_path`` at a copy in
the site's ``_static/mathjax/`` instead, taken from PyPI's ``django-static-mathjax`` (MathJax 3.2.2,
installed by ``requirements.txt``): the combined ``tex-chtml.js``, the CHTML fonts, and the TeX
extensions, accessibility and menu components it loads on demand (~3.5 MB, not the whole 35 MB
package). Nothing is downloaded when the book is built or read.
"""

from __future__ import annotations

import shutil
from pathlib import Path

COMPONENTS = ["tex-chtml.js", "input/tex", "output/chtml", "a11y", "ui"]
"""What the pages need of MathJax's ``es5/`` folder."""


def mathjax_es5() -> Path:
    import mathjax  # django-static-mathjax's package

    folder = Path(mathjax.__file__).resolve().parent / "static" / "mathjax" / "es5"
    if not (folder / "tex-chtml.js").exists():
        raise FileNotFoundError(f"MathJax is not where django-static-mathjax puts it: {folder}")
    return folder


def _use_local_copy(app, config):
    config.mathjax_path = "mathjax/tex-chtml.js"  # relative to _static/


def _copy(app, exception):
    if exception is not None or app.builder.format != "html":
        return
    source, target = mathjax_es5(), Path(app.outdir) / "_static" / "mathjax"
    for part in COMPONENTS:
        src, dst = source / part, target / part
        if src.is_dir():
            shutil.copytree(src, dst, dirs_exist_ok=True)
        else:
            dst.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, dst)


def setup(app):
    app.connect("config-inited", _use_local_copy, priority=900)  # after Jupyter Book has set its CDN URL
    app.connect("build-finished", _copy)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
