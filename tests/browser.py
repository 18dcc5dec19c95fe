"""Open the built book in Debian's headless Chromium, with the network cut off, as a reader would.

Driven from Python through Selenium and Debian's ``chromedriver`` (no browser is downloaded at run
time). :func:`inspect_page` loads one page at one window width and reports what a reader would
trip over: formulas left as raw TeX, console errors, broken images, elements that stick out of the
viewport, exercise statements that scroll sideways. Links are checked on the files themselves
(:func:`broken_links`), which is exact and needs no browser.
"""

from __future__ import annotations

import base64
import re
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import unquote, urlsplit

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
WIDTHS = (1280, 400)
"""A laptop and a phone, in CSS pixels."""


def available() -> str | None:
    """Why the browser test cannot run here, or ``None`` when it can."""
    for path in (CHROMIUM, CHROMEDRIVER):
        if not Path(path).exists() and not shutil.which(Path(path).name):
            return f"{path} is missing: install Debian's packages chromium and chromium-driver"
    try:
        import selenium  # noqa: F401
    except ImportError:
        return "selenium is missing: pip install -r requirements-test.txt"
    return None


def start_for_test():
    """:func:`start_browser` for a test: a test that needs the browser fails in CI when it is missing
    (CI installs it) and is skipped elsewhere, saying why."""
    import os

    import pytest

    reason = available()
    if reason:
        if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
            pytest.fail(reason)
        pytest.skip(reason)
    return start_browser()


def start_browser():
    """Headless Chromium that can reach nothing but files: every host name resolves to nowhere."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = shutil.which("chromium") or CHROMIUM
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync",
                 "--no-first-run", "--disable-quic", "--hide-scrollbars",
                 "--host-resolver-rules=MAP * ~NOTFOUND",  # no network: any host lookup fails
                 "--allow-file-access-from-files"):
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    service = Service(executable_path=shutil.which("chromedriver") or CHROMEDRIVER)
    driver = webdriver.Chrome(options=options, service=service)
    driver.set_page_load_timeout(60)
    driver.set_script_timeout(60)
    return driver


# What a page looks like to a reader, measured in the page itself once MathJax has finished.
MEASURE = r"""
const done = arguments[arguments.length - 1];
const settle = () => new Promise(r => setTimeout(r, 50));
(async () => {
  if (window.MathJax && MathJax.startup && MathJax.startup.promise) { await MathJax.startup.promise; }
  await settle();
  const out = {};
  const maths = [...document.querySelectorAll('.math, span.math, div.math')];
  out.formulas = maths.length;
  out.untypeset = maths.filter(m => !m.querySelector('mjx-container')).map(m => m.textContent.slice(0, 80));
  out.tex_errors = [...document.querySelectorAll('mjx-merror')].map(e => e.textContent.slice(0, 80));
  out.mathjax_version = window.MathJax && MathJax.version || null;
  out.broken_images = [...document.images].filter(i => !(i.complete && i.naturalWidth > 0))
                        .map(i => i.getAttribute('src'));
  const described = i => { const alt = (i.getAttribute('alt') || '').trim();   // a file name is no description
                           return (alt && !/\.(png|svg|jpe?g|gif)$/i.test(alt)) || i.closest('figure'); };
  out.images_without_text = [...document.querySelectorAll('main img')].filter(i => !described(i))
                        .map(i => i.getAttribute('src'));
  const W = document.documentElement.clientWidth;
  out.viewport = W;
  out.page_scroll_width = document.documentElement.scrollWidth;
  const scrolls = el => { const s = getComputedStyle(el).overflowX; return s === 'auto' || s === 'scroll'; };
  const clipped = el => { const s = getComputedStyle(el).overflowX; return s === 'hidden' || s === 'clip'; };
  const shown = el => { const r = el.getBoundingClientRect(); const s = getComputedStyle(el);
                        return r.width > 0 && r.height > 0 && s.visibility !== 'hidden' && s.display !== 'none'
                               && !el.closest('mjx-assistive-mml'); };  // MathML for screen readers, clipped to 1 px
  // An element sticking out of the viewport is fine only inside a box that scrolls and itself fits:
  // code, cell outputs and tables may scroll sideways in their own box; equations are counted apart.
  const SCROLLER = 'pre, .highlight, .cell_output, .output, .pst-scrollable-table-container, .table-wrapper';
  out.too_wide = [];
  out.scrolling_other = [];
  for (const el of document.querySelectorAll('main *')) {
    if (!shown(el)) continue;
    const r = el.getBoundingClientRect();
    if (r.right <= W + 1 && r.left >= -1) continue;
    let box = null;  // the nearest box around it that scrolls or clips and itself fits the screen
    for (let a = el.parentElement; a && a.closest('main'); a = a.parentElement) {
      if ((scrolls(a) || clipped(a)) && a.getBoundingClientRect().right <= W + 1) { box = a; break; }
    }
    const name = e => e.tagName.toLowerCase() + (typeof e.className === 'string' && e.className.trim()
                      ? '.' + e.className.trim().split(/\s+/).join('.') : '');
    const label = name(el) + ' "' + (el.textContent || '').trim().slice(0, 60) + '"';
    if (!box) { out.too_wide.push(label); continue; }
    if (!box.closest(SCROLLER) && !box.closest('.math, mjx-container')) {
      out.scrolling_other.push(label + ' in ' + name(box));
    }
  }
  // Display maths that scrolls sideways: a reader has to swipe to read the equation. MathJax's own
  // container may scroll inside a box that fits (with an equation number beside it, the container is
  // narrower than the box), so every level is measured.
  const overflows = el => el && el.scrollWidth > el.clientWidth + 2;
  out.scrolling_equations = [...document.querySelectorAll('mjx-container[display="true"]')]
      .filter(e => { const box = e.closest('div.math') || e.parentElement;
                     const math = e.querySelector('mjx-math') || e;
                     const width = math.getBoundingClientRect().width;
                     return width > box.clientWidth + 2 || width > e.clientWidth + 2 || overflows(e) || overflows(box); })
      .map(e => { const m = e.closest('div.math'); return (m && m.id) || (m && m.textContent || '').slice(0, 60); });
  out.scrolling_stubs = [...document.querySelectorAll('.exercise-stub pre')]
      .filter(p => p.scrollWidth > p.clientWidth + 2).map(p => p.textContent.split('\n')[0]);
  out.stubs = document.querySelectorAll('.exercise-stub pre').length;
  // What a cell printed (a measured result) wraps: nobody should swipe to read a number.
  out.scrolling_results = [...document.querySelectorAll('div.cell_output div.output.stream pre, div.cell_output div.output.text_plain pre')]
      .filter(p => shown(p) && p.scrollWidth > p.clientWidth + 2).map(p => p.textContent.trim().slice(0, 80));
  done(out);
})().catch(e => done({script_error: String(e)}));
"""


@dataclass
class PageReport:
    page: str
    width: int
    formulas: int = 0
    untypeset: list = field(default_factory=list)
    tex_errors: list = field(default_factory=list)
    console_errors: list = field(default_factory=list)
    broken_images: list = field(default_factory=list)
    images_without_text: list = field(default_factory=list)
    too_wide: list = field(default_factory=list)
    scrolling_other: list = field(default_factory=list)
    page_scroll_width: int = 0
    viewport: int = 0
    scrolling_equations: list = field(default_factory=list)
    scrolling_stubs: list = field(default_factory=list)
    scrolling_results: list = field(default_factory=list)
    stubs: int = 0
    mathjax_version: str | None = None
    script_error: str | None = None


def inspect_page(driver, html_root: Path, page: Path, width: int, screenshot: Path | None = None) -> PageReport:
    """Load ``page`` from disk at ``width`` CSS pixels and measure it; optionally save a full-page PNG."""
    from selenium.common.exceptions import TimeoutException

    driver.set_window_size(width, 900)
    driver.get("about:blank")
    driver.get_log("browser")  # drop what an earlier page logged
    for attempt in (1, 2):  # a page load stalled once on a loaded 2-core CI machine: one retry, then fail
        try:
            driver.get(page.resolve().as_uri())
            driver.execute_async_script("""const done = arguments[0];
                const ready = () => document.readyState === 'complete' ? done() : setTimeout(ready, 20); ready();""")
            break
        except TimeoutException as exc:
            if attempt == 2:
                raise AssertionError(f"{page.name} at {width} px did not finish loading twice") from exc
            driver.get("about:blank")
    found = driver.execute_async_script(MEASURE)
    report = PageReport(page=str(page.relative_to(html_root)), width=width,
                        **{k: v for k, v in found.items() if k in PageReport.__dataclass_fields__})
    report.console_errors = [e["message"] for e in driver.get_log("browser") if e.get("level") == "SEVERE"]
    if screenshot is not None:
        save_full_page(driver, width, screenshot)
    return report


TILE = 12000
"""Height of one screenshot in CSS pixels (Chromium cannot capture much more than 16,000 at once)."""


def save_full_page(driver, width: int, path: Path) -> list[Path]:
    """The whole page as PNGs: ``path`` for the top, ``<stem>-2.png``, ``-3.png``... for what follows."""
    path.parent.mkdir(parents=True, exist_ok=True)
    height = int(driver.execute_script("return document.documentElement.scrollHeight"))
    saved = []
    for i, top in enumerate(range(0, height, TILE)):
        shot = driver.execute_cdp_cmd("Page.captureScreenshot", {
            "format": "png", "captureBeyondViewport": True,
            "clip": {"x": 0, "y": top, "width": width, "height": min(TILE, height - top), "scale": 1}})
        target = path if i == 0 else path.with_name(f"{path.stem}-{i + 1}.png")
        target.write_bytes(base64.b64decode(shot["data"]))
        saved.append(target)
    return saved


HREF = re.compile(r'<(?:a|link)\b[^>]*?\bhref="([^"]*)"', re.I)
SRC = re.compile(r'<(?:img|script|source)\b[^>]*?\bsrc="([^"]*)"', re.I)
IDS = re.compile(r'\bid="([^"]+)"')


def site_pages(html_root: Path) -> list[Path]:
    """The pages a reader can reach: every HTML file except the theme's template fragments in ``_static``."""
    return sorted(p for p in html_root.rglob("*.html") if "_static" not in p.relative_to(html_root).parts)


def broken_links(html_root: Path) -> list[str]:
    """Every link, image and script of every page that points at a missing file or a missing anchor.

    Links to other hosts are not followed (the book must work without them); they are listed as broken
    only if a page *loads* something from another host, which the pages never should.
    """
    broken, ids = [], {}

    def anchors(path: Path) -> set[str]:
        if path not in ids:
            ids[path] = set(IDS.findall(path.read_text(errors="replace"))) if path.suffix == ".html" else set()
        return ids[path]

    for page in site_pages(html_root):
        text = page.read_text(errors="replace")
        for kind, pattern in (("link", HREF), ("source", SRC)):
            for target in pattern.findall(text):
                url = urlsplit(target)
                if url.scheme in ("http", "https", "mailto") or target.startswith("//"):
                    if kind == "source":
                        broken.append(f"{page.relative_to(html_root)}: loads {target} from the internet")
                    continue
                if url.scheme or target.startswith("javascript:"):
                    continue
                path = page if not url.path else (page.parent / unquote(url.path)).resolve()
                if path.is_dir():
                    path = path / "index.html"
                if not path.exists():
                    broken.append(f"{page.relative_to(html_root)}: {target} (no such file)")
                elif url.fragment and path.suffix == ".html" and unquote(url.fragment) not in anchors(path):
                    broken.append(f"{page.relative_to(html_root)}: {target} (no such anchor)")
    return broken
