"""The student notebooks as a student meets them: plain Jupyter Markdown, not the book's MyST.

Every chapter is released (``nbgrader generate_assignment``, as ``python -m autograde release`` does)
into a throw-away course folder. Its markdown must hold no MyST (roles, directives, targets, labelled
``$$``), its equations must carry the numbers the book gives them, and, rendered by nbconvert's HTML
exporter and opened in headless Chromium with the network cut off (MathJax 3 from a local copy, set up
as Jupyter sets it up: ``$``/``$$`` delimiters and no macros of the book's own), every formula must
typeset and every link must lead somewhere: a page of the book and an anchor on it, or an element of
the notebook itself. All chapters share one release and one browser session.
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path
from urllib.parse import unquote, urlsplit

import nbformat
import pytest

from autograde.specs import CHAPTERS
from tests.conftest import REPO, Course

# ----- MyST, as the test recognises it (independently of autograde/plain_markdown.py) --------------
FENCED_CODE = re.compile(r"^[ \t>]*(`{3,})[^`\n{]*\n.*?^[ \t>]*\1[ \t]*$", re.M | re.S)
MYST = {
    "role": re.compile(r"\{[A-Za-z][\w:.+-]*\}`[^`]*`"),
    "directive": re.compile(r"^[ \t>]*(?:`{3,}|:{3,})[ \t]*\{[\w:.-]+\}.*$", re.M),
    "directive option": re.compile(r"^[ \t>]*:(?:label|class|name|tags|caption|nonumber|dropdown):.*$", re.M),
    "target": re.compile(r"^[ \t>]*\([^()\s]+\)=[ \t]*$", re.M),
    "labelled maths": re.compile(r"\$\$[ \t]*\([^()\s]+\)[ \t]*$", re.M),
    "comment": re.compile(r"^[ \t>]*%.*$", re.M),
    "block break": re.compile(r"^\+\+\+.*$", re.M),
}
EQUATION_LABEL = re.compile(r"```\{math\}[^\n]*\n[ \t]*:label:[ \t]*(\S+)|\$\$[ \t]*\(([^()\s]+)\)[ \t]*$", re.M)
PROOF_LABEL = re.compile(r"```\{prf:\w+\}[^\n]*\n[ \t]*:label:[ \t]*(\S+)")
SECTION_LABEL = re.compile(r"^\(([^()\s]+)\)=[ \t]*$", re.M)
HREF = re.compile(r'<a\b[^>]*?\bhref="([^"]*)"', re.I)
REMOTE = re.compile(r'<(?:script|link|img|iframe)\b[^>]*\b(?:src|href)="(?:https?:)?//[^"]*"', re.I)
IDS = re.compile(r'\bid="([^"]+)"')


def markdown(nb) -> str:
    return "\n\n".join(c.source for c in nb.cells if c.cell_type == "markdown")


def leftover_myst(text: str) -> dict[str, list[str]]:
    """MyST syntax in Markdown ``text``, by kind (code blocks are code: what they hold is not looked at)."""
    found = {kind: pattern.findall(text) for kind, pattern in MYST.items() if kind in ("directive", "labelled maths")}
    prose = FENCED_CODE.sub("", text)
    found.update({kind: pattern.findall(prose) for kind, pattern in MYST.items() if kind not in found})
    return {kind: hits for kind, hits in found.items() if hits}


def book_source(page: str) -> str:
    """A page of the book as its author wrote it (a notebook's markdown cells, or the MyST file)."""
    path = REPO / f"{page}.ipynb"
    if path.exists():
        return markdown(nbformat.read(path, as_version=4))
    return (REPO / f"{page}.md").read_text()


def book_anchors(page: str) -> set[str]:
    """The ids the built page has for the labels its source defines (Sphinx's ``equation-`` prefix
    for equations, the label itself for sections and theorems)."""
    text = book_source(page)
    return ({f"equation-{a or b}" for a, b in EQUATION_LABEL.findall(text)}
            | set(PROOF_LABEL.findall(text)) | set(SECTION_LABEL.findall(text)))


def toc_pages() -> set[str]:
    return {re.sub(r"\.(md|ipynb)$", "", p) for p in re.findall(r"(?:root|file):\s*(\S+)", (REPO / "_toc.yml").read_text())}


def source_notebook(chapter: str) -> Path:
    return REPO / "book" / chapter / CHAPTERS[chapter].notebook


# ----- the released notebooks ------------------------------------------------------------------------
@pytest.fixture(scope="module")
def released(tmp_path_factory) -> dict[str, Path]:
    course = Course(tmp_path_factory.mktemp("student-notebooks") / "course")
    return {chapter: course.release(chapter) for chapter in CHAPTERS}


@pytest.mark.parametrize("chapter", list(CHAPTERS))
def test_no_myst_is_left(released, chapter):
    source = markdown(nbformat.read(source_notebook(chapter), as_version=4))
    assert leftover_myst(source)["role"], "the detector finds nothing in the book's own MyST"
    text = markdown(nbformat.read(released[chapter], as_version=4))
    assert not leftover_myst(text), leftover_myst(text)
    links = re.findall(r"\]\(([^)\s]*)\)", text)
    assert links and not [url for url in links if ".ipynb" in url], links  # never the notebook itself
    assert re.search(r"^> \*\*Working on the exercises\*\*$", text, re.M), "the tip box, as a blockquote"


@pytest.mark.parametrize("chapter", list(CHAPTERS))
def test_equations_carry_the_book_numbers(released, chapter):
    """The chapter's notebook is its first page, so the book numbers its equations (N.1), (N.2), ...
    in order; the released notebook tags them so, and every reference to one shows its number."""
    number = int(chapter.split("-")[0])
    labels = [a or b for a, b in EQUATION_LABEL.findall(markdown(nbformat.read(source_notebook(chapter), as_version=4)))]
    expected = {label: f"{number}.{i}" for i, label in enumerate(labels, start=1)}
    text = markdown(nbformat.read(released[chapter], as_version=4))
    assert re.findall(r"\\tag\{([^}]*)\}", text) == list(expected.values())
    references = re.findall(r"\[\((\d+\.\d+)\)\]\([^)#]*#equation-([^)\s]+)\)", text)
    assert references or not labels
    for shown, label in references:
        assert label not in expected or shown == expected[label], (label, shown, expected[label])


def test_citations_read_author_and_year():
    from autograde.plain_markdown import Converter, load_book

    converter = Converter(load_book(), "book/06-rlhf/rlhf")
    assert converter.convert("{cite}`bradley1952rank`, {cite:t}`ouyang2022instructgpt`, "
                             "{cite}`levine2021policygradients,achiam2018spinningup`, {cite}`ross2011dagger`") == (
        "(Bradley and Terry, 1952), Ouyang et al. (2022), (Levine, 2021; Achiam, 2018a), (Ross et al., 2011)")


def test_links_can_point_at_the_published_book():
    """``PlainMarkdown.book_url`` (default: ``html.baseurl`` of _config.yml) puts the book's address
    before every link; MyST that has no plain Markdown stops the release instead of reaching a student."""
    from autograde.plain_markdown import Converter, load_book

    converter = Converter(load_book(), "book/06-rlhf/rlhf", "https://example.org/course/")
    assert re.fullmatch(r"see \[\(6\.\d+\)\]\(https://example\.org/course/book/06-rlhf/rlhf\.html#equation-eq-gae\) "
                        r"and \[6\.\d+ [^]]+\]\(https://example\.org/course/book/06-rlhf/ppo\.html\)",
                        converter.convert("see {eq}`eq-gae` and {doc}`ppo`"))
    for myst in ("{abbr}`RL (reinforcement learning)`", "```{figure} x.png\n```", "{eq}`eq-no-such-label`"):
        with pytest.raises(ValueError):
            converter.convert(myst)


# ----- rendered by nbconvert, opened in Chromium -----------------------------------------------------
STUDENT_TEMPLATE = r"""{%- extends 'lab/index.html.j2' -%}
{%- block html_head_js_requirejs -%}{%- endblock html_head_js_requirejs -%}
{%- block html_head_js_mermaidjs -%}{%- endblock html_head_js_mermaidjs -%}
{%- block html_head_js_mathjax -%}
<script>
window.MathJax = {tex: {inlineMath: [['$', '$'], ['\\(', '\\)']], displayMath: [['$$', '$$'], ['\\[', '\\]']],
                        processEscapes: true, processEnvironments: true,
                        packages: {'[-]': ['noundefined']}}};  // an unknown macro is an error, not red text
</script>
<script src="{{ resources.mathjax_url }}"></script>
{%- endblock html_head_js_mathjax -%}
"""
"""nbconvert's lab template with Jupyter's MathJax settings, loaded from a local MathJax 3 (the template's
own loads MathJax 2 and require.js from a CDN)."""


@pytest.fixture(scope="module")
def rendered(released, tmp_path_factory) -> dict[str, Path]:
    """Each student notebook as HTML, beside a copy of MathJax 3 (the one the book serves)."""
    import jinja2
    from nbconvert import HTMLExporter

    from _ext.offline_mathjax import COMPONENTS, mathjax_es5

    folder = tmp_path_factory.mktemp("rendered")
    for part in COMPONENTS:
        source, target = mathjax_es5() / part, folder / "mathjax" / part
        if source.is_dir():
            shutil.copytree(source, target)
        else:
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target)
    exporter = HTMLExporter(extra_loaders=[jinja2.DictLoader({"student.html.j2": STUDENT_TEMPLATE})],
                            template_file="student.html.j2", mathjax_url="mathjax/tex-chtml.js")
    pages = {}
    for chapter, path in released.items():
        html, _ = exporter.from_notebook_node(nbformat.read(path, as_version=4))
        pages[chapter] = folder / f"{path.stem}.html"
        pages[chapter].write_text(html)
    return pages


MEASURE = r"""
const done = arguments[arguments.length - 1];
(async () => {
  // the page's load event can come before MathJax has replaced its configuration with itself (seen once
  // on a busy machine): wait for it, up to 30 s (the script's own limit is 60 s)
  for (let waited = 0; !(window.MathJax && MathJax.startup && MathJax.startup.promise); waited += 100) {
    if (waited > 30000) throw new Error('MathJax did not start within 30 s');
    await new Promise(resolve => setTimeout(resolve, 100));
  }
  await MathJax.startup.promise;
  const out = {version: MathJax.version};
  const display = [...document.querySelectorAll('mjx-container[display="true"]')];
  out.display = display.length;
  out.inline = document.querySelectorAll('mjx-container:not([display="true"])').length;
  out.errors = [...document.querySelectorAll('mjx-merror')]
      .map(e => e.getAttribute('data-mjx-error') || e.textContent.slice(0, 80));
  out.tags = display.map(e => [...e.querySelectorAll('mjx-assistive-mml mlabeledtr > mtd:first-child')]
      .map(t => t.textContent.trim())).flat();
  // TeX a reader would see raw: maths delimiters left in the page's text, outside code
  const skip = 'pre, code, script, style, textarea, mjx-container';
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT,
      {acceptNode: n => n.parentElement.closest(skip) ? NodeFilter.FILTER_REJECT : NodeFilter.FILTER_ACCEPT});
  out.raw = [];
  while (walker.nextNode()) {
    const text = walker.currentNode.textContent;
    if (/\$|\\\(|\\\[|\\begin\{|\\tag\{/.test(text)) out.raw.push(text.trim().slice(0, 80));
  }
  done(out);
})().catch(e => done({script_error: String(e)}));
"""


@pytest.fixture(scope="module")
def seen(rendered) -> dict[str, dict]:
    """Each rendered notebook in headless Chromium (one session for all), measured once MathJax is done."""
    from tests import browser

    driver = browser.start_for_test()
    reports = {}
    try:
        driver.set_window_size(1280, 900)
        for chapter, page in rendered.items():
            driver.get("about:blank")
            driver.get_log("browser")
            driver.get(page.as_uri())
            report = driver.execute_async_script(MEASURE)
            report["console_errors"] = [e["message"] for e in driver.get_log("browser") if e.get("level") == "SEVERE"]
            reports[chapter] = report
    finally:
        driver.quit()
    return reports


@pytest.mark.parametrize("chapter", list(CHAPTERS))
def test_every_formula_typesets(released, seen, chapter):
    report = seen[chapter]
    assert "script_error" not in report, report
    assert report["version"] == "3.2.2"  # the local copy, with no network to reach a CDN
    assert not report["errors"], report["errors"]
    assert not report["raw"], report["raw"]
    text = markdown(nbformat.read(released[chapter], as_version=4))
    assert report["display"] == len(re.findall(r"\$\$", FENCED_CODE.sub("", text))) // 2 > 0
    assert report["inline"] > 0
    assert report["tags"] == [f"({n})" for n in re.findall(r"\\tag\{([^}]*)\}", text)]
    assert not report["console_errors"], report["console_errors"]


@pytest.mark.parametrize("chapter", list(CHAPTERS))
def test_no_link_is_broken(rendered, chapter):
    """A link leads to a page of the book (its path in the built site) and an anchor that page has, or
    to an element of the notebook itself; nothing is loaded from the internet, no link is a notebook."""
    page = rendered[chapter]
    html = page.read_text()
    assert not REMOTE.findall(html), REMOTE.findall(html)
    pages, own_ids, broken, to_book = toc_pages(), set(IDS.findall(html)), [], 0
    for href in HREF.findall(html):
        url = urlsplit(href)
        if url.scheme in ("http", "https", "mailto"):
            continue  # not followed: the notebook must work without them
        assert not url.path.endswith(".ipynb"), href
        if not url.path:  # a browser matches the fragment as written, then percent-decoded
            if not {url.fragment, unquote(url.fragment)} & own_ids:
                broken.append(f"{href} (no such anchor in the notebook)")
            continue
        if (page.parent / unquote(url.path)).exists():
            continue
        book_page = unquote(url.path).removesuffix(".html")
        if book_page not in pages:
            broken.append(f"{href} (no such file, and not a page of the book)")
        elif url.fragment and url.fragment not in book_anchors(book_page):
            broken.append(f"{href} (the book's page defines no such label)")
        else:
            to_book += 1
    assert not broken, broken
    assert to_book > 0  # every chapter links to the page on running the notebooks, at least
