"""The book builds with -W (every notebook executed, any error or warning fails), and the built HTML
holds no solution code and no hidden test, while each chapter offers its student notebook.

The suite builds it with other floating-point kernels than this machine's own (``OTHER_KERNELS``), as
another CPU would, so every claim a page asserts is checked there too; ``make book`` builds it with
the machine's own."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import jupytext
import nbformat
import pytest

from autograde.book import pages
from autograde.specs import CHAPTERS
from autograde.sync import split_function
from tests.conftest import OTHER_KERNELS, PACKED_HIDDEN_CASES, REPO


@pytest.fixture(scope="module")
def html() -> Path:
    """The book, built by the README's command into the README's place (``_build/html``), with other
    floating-point kernels than this machine's own. ``RLCOURSE_BUILT_BOOK=1`` tests the book already in
    ``_build/html`` instead (after ``make book``, to re-run these tests in a minute)."""
    if os.environ.get("RLCOURSE_BUILT_BOOK") == "1":
        assert (REPO / "_build" / "html" / "index.html").exists(), "no built book in _build/html: run `make book`"
        return REPO / "_build" / "html"
    proc = subprocess.run([sys.executable, "-m", "autograde", "release"], cwd=REPO, capture_output=True, text=True)
    assert proc.returncode == 0, f"releasing the student notebooks failed:\n{proc.stdout}\n{proc.stderr}"
    proc = subprocess.run([sys.executable, "-m", "autograde", "book"],  # what `make book` runs
                          cwd=REPO, capture_output=True, text=True, env={**os.environ, **OTHER_KERNELS})
    assert proc.returncode == 0, f"book build failed:\n{proc.stdout[-6000:]}\n{proc.stderr[-4000:]}"
    executed = re.findall(r"\[\s*\d+/(\d+)\] (\S+)\s+[\d.]+ s$", proc.stdout, re.M)
    assert len(executed) == len(pages()) == int(executed[0][0]), proc.stdout[-3000:]
    assert "Executing notebook" not in proc.stdout + proc.stderr, "the build executed a page the parallel run had run"
    assert proc.stdout.count("Using cached notebook") == len(pages())
    return REPO / "_build" / "html"


def all_text(html: Path) -> str:
    return "\n".join(p.read_text(errors="replace") for p in html.rglob("*")
                     if p.is_file() and p.suffix in (".html", ".js", ".txt", ".json", ".ipynb", ".py"))


def solution_lines(fn) -> list[str]:
    """Distinctive lines of a reference solution's body (long enough not to appear by chance)."""
    header, body = split_function(fn)  # lines the docstring quotes are part of the statement
    return [line.strip() for line in body.splitlines()
            if len(line.strip()) >= 25 and not line.strip().startswith("#") and line.strip() not in header]


def test_every_chapter_page_is_built(html):
    for chapter in CHAPTERS.values():
        page = html / "book" / chapter.id / (Path(chapter.notebook).stem + ".html")
        assert page.exists(), page


def test_every_page_of_the_table_of_contents_is_built(html):
    files = re.findall(r"file:\s*(\S+)", (REPO / "_toc.yml").read_text())
    assert "book/04-text-to-assistant/limitations" in files
    for file in files:
        assert (html / (file + ".html")).exists(), file


def test_pages_without_exercises_show_their_measurements(html):
    page = (html / "book" / "04-text-to-assistant" / "limitations.html").read_text()
    measured = re.findall(r"held-out accuracy after \d+ steps (\d\.\d\d)", page)  # printed by the cells
    assert len(measured) == 5 and "<img" in page, measured


CHAPTER_6_MEASUREMENTS = {  # a line each page prints from its own run (a page whose cell failed has none)
    "reward_model": r"held-out pairwise accuracy: reward model 0\.\d{3}, 0\.\d{3}, 0\.\d{3} \(seeds 0, 1, 2\) \| another labeler 0\.\d{3}",
    "ppo": r"gold gain: mean \+\d\.\d{3}, smallest \+\d\.\d{3}",
    "overoptimisation": r"best-of-n alpha -?\d\.\d{2}, beta -?\d\.\d{2} \(R\^2 -?\d\.\d{2}\)",
    "alignment_tax": r"cloze cross-entropy: the tax \+\d\.\d{3}, \+\d\.\d{3} nats by seed",
    "scale_and_dpo": r"small RLHF beats large SFT in \d+\.\d%",
}


@pytest.mark.parametrize("page", sorted(CHAPTER_6_MEASUREMENTS))
def test_chapter_6_pages_show_their_measurements(html, page):
    text = (html / "book" / "06-rlhf" / f"{page}.html").read_text()
    assert re.search(CHAPTER_6_MEASUREMENTS[page], text) and "<img" in text, page


def test_no_solution_code_in_html(html):
    text = all_text(html)
    for chapter in CHAPTERS.values():
        for ex in chapter.exercises:
            lines = solution_lines(ex.reference)
            assert lines, f"{ex.name}: no distinctive solution line to look for"
            for line in lines:
                escaped = line.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
                assert line not in text and escaped not in text, f"solution of {ex.name} leaks: {line}"


def test_no_hidden_tests_or_instructor_notebook_in_html(html):
    text = all_text(html)
    assert "BEGIN SOLUTION" not in text and "BEGIN HIDDEN TESTS" not in text
    assert not PACKED_HIDDEN_CASES.search(text)
    assert not list(html.rglob("_sources"))
    for nb_path in html.rglob("*.ipynb"):  # any notebook served must be a student notebook
        assert "BEGIN SOLUTION" not in nb_path.read_text()


def test_exercise_stubs_and_checks_are_shown(html):
    for chapter in CHAPTERS.values():
        page = (html / "book" / chapter.id / (Path(chapter.notebook).stem + ".html")).read_text()
        for ex in chapter.exercises:
            assert f"{ex.name}</span>" in page or f"def {ex.name}" in page
            assert "YOUR CODE HERE" in page
            assert f"✓ {ex.name}: all" in page  # the visible check ran and passed on the build


def test_each_chapter_offers_its_student_notebook(html):
    for chapter in CHAPTERS.values():
        page = (html / "book" / chapter.id / (Path(chapter.notebook).stem + ".html")).read_text()
        links = re.findall(r'href="([^"]*_downloads/[^"]*\.ipynb)"', page)
        assert links, f"{chapter.id}: no download link to the student notebook"
        served = (html / "book" / chapter.id / links[0]).resolve()
        nb = nbformat.read(served, as_version=4)
        sources = "\n".join(c.source for c in nb.cells)
        assert "raise NotImplementedError()" in sources and "BEGIN SOLUTION" not in sources


def test_pages_load_nothing_from_the_internet(html):
    """Scripts, styles and fonts (MathJax included) are served with the site: it works with no network."""
    remote = re.compile(r'<(?:script|link|img|iframe)\b[^>]*\b(?:src|href)="(?:https?:)?//[^"]*"', re.I)
    for page in html.rglob("*.html"):
        text = page.read_text(errors="replace")
        found = [m.group(0) for m in remote.finditer(text) if 'rel="canonical"' not in m.group(0)]
        assert not found, f"{page.relative_to(html)} loads {found[:3]}"
    chapter = (html / "book" / "03-policy-gradients" / "policy_gradients.html").read_text()
    assert re.search(r'<script[^>]*src="[./]*_static/mathjax/tex-chtml\.js', chapter)
    mathjax = html / "_static" / "mathjax"
    assert (mathjax / "tex-chtml.js").stat().st_size > 500_000
    assert list((mathjax / "output" / "chtml" / "fonts" / "woff-v2").glob("MathJax_Main-Regular.woff"))


def test_no_menu_offers_the_missing_sources(html):
    """The theme's download menu would link .ipynb/.md files in _sources/, which are not published."""
    for page in html.rglob("*.html"):
        text = page.read_text(errors="replace")
        assert "_sources/" not in text and "btn-download-source" not in text, page.relative_to(html)


def test_every_page_states_its_build_record(html):
    """Each executed page says when it ran and how many of its claims that run re-checked."""
    from autograde.book import pages
    from rlcourse.notebook import count_claims

    for key, path in pages().items():
        text = (html / "book" / f"{key}.html").read_text()
        found = re.search(r"Build record\.</strong> This page was executed on \d{4}-\d\d-\d\d at \d\d:\d\d UTC "
                          r"in \d+ s .*?re-checked (\d+) measured claims?", text, re.S)
        assert found, f"{key}: no build record"
        nb = jupytext.read(path) if path.suffix == ".md" else nbformat.read(path, as_version=4)
        asserts, checks = count_claims(c.source for c in nb.cells if c.cell_type == "code")
        assert int(found.group(1)) == asserts, (key, found.group(1), asserts)
        chapter = [spec for spec in CHAPTERS.values() if spec.path.resolve() == path.resolve()]
        if chapter:  # the exercises a reader sees, and the checks (visible and hidden) that ran them
            n = len(chapter[0].exercises)
            assert re.search(rf"its {n} exercises? \({checks} checks, visible and hidden", text), (key, n, checks)


# ----- the built book in a real browser, with no network ------------------------------------------
SCREENSHOTS = REPO / "_build" / "screenshots"


@pytest.fixture(scope="module")
def seen(html):
    """Every built page opened in headless Chromium at 1280 and 400 px with the network cut off; a
    full-page screenshot of each is saved under ``_build/screenshots/`` for a person to look at."""
    from tests import browser

    driver = browser.start_for_test()
    reports = []
    try:
        for page in browser.site_pages(html):
            name = str(page.relative_to(html).with_suffix("")).replace("/", "__")
            for width in browser.WIDTHS:
                reports.append(browser.inspect_page(driver, html, page, width, SCREENSHOTS / f"{name}-{width}.png"))
    finally:
        driver.quit()
    return reports


def _problems(seen, attribute: str, width: int | None = None) -> dict:
    return {f"{r.page} @{r.width}px": getattr(r, attribute) for r in seen
            if getattr(r, attribute) and (width is None or r.width == width)}


def test_the_browser_opened_every_page(html, seen):
    from tests import browser

    pages = browser.site_pages(html)
    assert len(pages) >= 15 and len(seen) == 2 * len(pages)
    assert not _problems(seen, "script_error")
    for report in seen:
        shot = SCREENSHOTS / f"{report.page[:-5].replace('/', '__')}-{report.width}.png"
        assert shot.stat().st_size > 5_000, shot


def test_every_formula_is_typeset_offline(seen):
    assert sum(r.formulas for r in seen if r.width == 1280) > 300
    assert {r.mathjax_version for r in seen if r.formulas} == {"3.2.2"}
    assert not _problems(seen, "untypeset")
    assert not _problems(seen, "tex_errors")


def test_no_console_error(seen):
    assert not _problems(seen, "console_errors")


def test_no_broken_image_or_link(html, seen):
    from tests import browser

    assert not _problems(seen, "broken_images")
    assert browser.broken_links(html) == []


def test_every_figure_has_a_caption_or_alt_text(seen):
    assert not _problems(seen, "images_without_text")


@pytest.mark.parametrize("width", [1280, 400])
def test_nothing_is_wider_than_the_screen(seen, width):
    """Only code and cell outputs may scroll sideways (in their own box); the page never does."""
    assert not {k: v for k, v in _problems(seen, "too_wide", width).items()}
    assert not _problems(seen, "scrolling_other", width)
    assert all(r.page_scroll_width <= r.viewport for r in seen if r.width == width), \
        {r.page: r.page_scroll_width for r in seen if r.width == width and r.page_scroll_width > r.viewport}


@pytest.mark.parametrize("width", [1280, 400])
def test_display_equations_fit_the_screen(seen, width):
    """No display equation has to be scrolled sideways, on a laptop or a phone (the longest are broken
    by hand: MathJax 3 does not break lines)."""
    assert not _problems(seen, "scrolling_equations", width)


@pytest.mark.parametrize("width", [1280, 400])
def test_printed_results_wrap(seen, width):
    """A line a page prints (a measured result) wraps at the text column instead of running past it."""
    assert not _problems(seen, "scrolling_results", width)


def test_exercise_statements_are_readable_without_scrolling(seen):
    stubs = {r.page: r.stubs for r in seen if r.width == 400 and r.stubs}
    assert sum(stubs.values()) == sum(len(c.exercises) for c in CHAPTERS.values()), stubs
    assert not _problems(seen, "scrolling_stubs")


def test_equations_are_numbered_per_chapter(html):
    """(5.1) is the first numbered equation of Chapter 5, on its page and wherever it is referenced."""
    for chapter in CHAPTERS.values():
        number = str(int(chapter.id.split("-")[0]))
        text = (html / "book" / chapter.id / (Path(chapter.notebook).stem + ".html")).read_text()
        shown = re.findall(r'<span class="eqno">\((\d+)\.(\d+)\)', text)
        assert shown and shown[0] == (number, "1"), (chapter.id, shown[:3])
        assert all(c == number for c, _ in shown) and [int(k) for _, k in shown] == list(range(1, len(shown) + 1))
    ppo = (html / "book" / "06-rlhf" / "ppo.html").read_text()
    assert re.search(r'href="rlhf\.html#equation-eq-gae">\(6\.\d+\)', ppo)
