"""Student notebooks in plain Jupyter Markdown: the book's MyST resolved when a chapter is released.

The book's pages are MyST (Jupyter Book 1): roles such as {eq}`eq-gae`, directives such as
```{math}, targets such as (ch-rlhf)=. Jupyter, VS Code and Colab render plain Markdown and $...$
maths only, so a student would read the raw markup. :class:`PlainMarkdown`, a step of
``nbgrader generate_assignment`` (autograde/nbgrader_config.py), rewrites every markdown cell of the
student notebook; the book's own pages stay MyST. It reads only this repository (``_toc.yml``,
``_config.yml``, ``references.bib`` and the book's pages), so a release is offline and deterministic.

What becomes of each construct:

- Display maths (```{math} with ``:label:``, ``$$ ... $$ (label)``) -> ``$$ ... \\tag{6.5} $$`` with
  the number the book shows: chapter number and count over the chapter's pages in table-of-contents
  order, as ``_ext/chapter_equation_numbers.py`` renumbers them. Lines broken with ``\\\\`` outside an
  environment get the ``split`` environment Sphinx wraps them in, and the book's MathJax macros
  (``_config.yml``, e.g. ``\\E``) are expanded everywhere in maths, since Jupyter does not know them.
- {eq}, {ref}, {numref}, {prf:ref} and {doc} -> the text the book shows ("(6.5)", the section's or
  page's title, "Lemma 3") as a link to the book's page.
- {cite} -> "(Ouyang et al., 2022)" and {cite:t} -> "Ouyang et al. (2022)", from ``references.bib``.
- Admonitions, theorems and proofs -> a blockquote whose first line is the title in bold. Maths
  inside one (display or inline) is written on a single line: Jupyter takes the maths out before it
  parses the Markdown, so the ``>`` of every further line would end up in the TeX.
- ```{code-block} python -> ```python; ``(label)=`` targets and ``%`` comments are dropped.
- A {download} of the student notebook itself: the sentence that holds it is dropped (the student
  has the notebook open), and a next sentence that starts "It ..." starts "This notebook ..."
  instead. Any other download keeps its text, without a link.

Any other MyST (an unknown role or directive, a reference to a label the book does not define)
stops the release with an error that names it, as it stops the book's build (``-W -n``).

Links (a decision: the book has no published address yet): they point at the book's HTML pages,
relative to the root of the built site, as ``_build/html`` lays them out
(``book/06-rlhf/rlhf.html#equation-eq-gae``), prefixed by ``PlainMarkdown.book_url`` when that is set. Its
default is ``html: baseurl:`` in ``_config.yml``, Jupyter Book's setting for the address the book is
published at (empty today): set it there once the book is online, and every student notebook links to
the published pages. A link never points at a notebook.
"""

from __future__ import annotations

import functools
import posixpath
import re
import textwrap
from dataclasses import dataclass, field
from pathlib import Path

from nbgrader.preprocessors import NbGraderPreprocessor
from traitlets import Unicode

REPO = Path(__file__).resolve().parent.parent

CHAPTER_PAGE = re.compile(r"^book/(\d+)-[^/]+/")
"""A chapter's pages, as ``_ext/chapter_equation_numbers.py`` recognises them."""

ADMONITIONS = {"admonition", "note", "tip", "hint", "important", "attention", "caution", "warning",
               "danger", "error", "seealso", "topic", "sidebar", "margin", "dropdown"}
CODE = {"code-block", "code", "sourcecode", "code-cell"}

# ----- MyST blocks ----------------------------------------------------------------------------------
FENCE = re.compile(r"^(?P<indent>[ \t]*)(?P<fence>`{3,}|:{3,})(?P<info>.*)$")
DIRECTIVE = re.compile(r"^\s*\{(?P<name>[\w:.-]+)\}\s*(?P<argument>.*?)\s*$")
OPTION = re.compile(r"^:(?P<key>[\w-]+):\s*(?P<value>.*?)\s*$")
TARGET = re.compile(r"^[ \t]*\((?P<label>[^()\s]+)\)=\s*$")
COMMENT = re.compile(r"^[ \t]*%")
DOLLARS = re.compile(r"^(?P<indent>[ \t]*)\$\$(?P<rest>.*)$")
DOLLARS_END = re.compile(r"^(?P<tex>.*?)\$\$[ \t]*(?:\((?P<label>[^()\s]+)\))?[ \t]*$")
HEADING = re.compile(r"^#{1,6}[ \t]+(?P<title>.+?)[ \t]*#*[ \t]*$")


@dataclass
class Block:
    """One block of MyST source: ``text`` (Markdown lines), ``fence`` (a plain code block, kept as it
    is), ``directive`` (```{name} argument, its options and body), ``dollars`` ($$ display maths),
    ``target`` (``(label)=``) or ``comment``."""

    kind: str
    lines: list[str]
    indent: str = ""
    name: str = ""
    argument: str = ""
    options: dict = field(default_factory=dict)
    body: list[str] = field(default_factory=list)
    label: str = ""


def _closing(lines: list[str], start: int, fence: str) -> int:
    """Index of the line that closes a fence opened before ``start`` (``len(lines)`` if none does)."""
    for j in range(start, len(lines)):
        stripped = lines[j].strip()
        if len(stripped) >= len(fence) and stripped == fence[0] * len(stripped):
            return j
    return len(lines)


def _dedent(lines: list[str], indent: str) -> list[str]:
    return [line[len(indent):] if line.startswith(indent) else line.lstrip() for line in lines]


def blocks(lines: list[str]):
    """The blocks of MyST source ``lines``, in order."""
    i = 0
    while i < len(lines):
        line = lines[i]
        fence = FENCE.match(line)
        if fence:
            indent, mark = fence["indent"], fence["fence"]
            end = _closing(lines, i + 1, mark)
            directive = DIRECTIVE.match(fence["info"])
            if not directive:
                yield Block("fence", lines[i:end + 1])
            else:
                body = _dedent(lines[i + 1:end], indent)
                options = {}
                while body and OPTION.match(body[0]):
                    option = OPTION.match(body.pop(0))
                    options[option["key"]] = option["value"]
                while body and not body[0].strip():
                    body.pop(0)
                yield Block("directive", lines[i:end + 1], indent, directive["name"], directive["argument"],
                            options, body)
            i = end + 1
            continue
        dollars = DOLLARS.match(line)
        if dollars:
            block = _dollars(lines, i, dollars)
            if block is not None:
                yield block
                i += len(block.lines)
                continue
        if TARGET.match(line):
            yield Block("target", [line], label=TARGET.match(line)["label"])
        elif COMMENT.match(line):
            yield Block("comment", [line])
        else:
            yield Block("text", [line])
        i += 1


def _dollars(lines: list[str], i: int, opening) -> Block | None:
    """The ``$$`` display maths that starts on line ``i``, or ``None`` when text follows its end."""
    indent, rest = opening["indent"], opening["rest"]
    single = DOLLARS_END.match(rest) if "$$" in rest else None
    if single:
        return Block("dollars", [lines[i]], indent, body=[single["tex"]], label=single["label"] or "")
    if "$$" in rest:
        return None
    for j in range(i + 1, len(lines)):
        if "$$" in lines[j]:
            end = DOLLARS_END.match(lines[j])
            if not end:
                return None
            body = [rest, *lines[i + 1:j], end["tex"]]
            return Block("dollars", lines[i:j + 1], indent, body=body, label=end["label"] or "")
    return None


# ----- what the book shows for each label -----------------------------------------------------------
@dataclass(frozen=True)
class Target:
    page: str       # the page's docname, e.g. "book/06-rlhf/rlhf"
    anchor: str     # the element's id on that page ("" for the page itself)
    text: str | None  # what a reference to it shows


@dataclass
class Proof:
    kind: str       # "lemma", "theorem", ...
    title: str
    label: str
    number: int


@dataclass
class Book:
    """What the built book shows, read from its sources: page titles, section targets, equation and
    theorem numbers, MathJax macros and the bibliography."""

    pages: list[str]
    baseurl: str = ""
    titles: dict[str, str] = field(default_factory=dict)
    sections: dict[str, Target] = field(default_factory=dict)
    equations: dict[str, Target] = field(default_factory=dict)
    proofs: dict[str, Target] = field(default_factory=dict)
    page_proofs: dict[str, list[Proof]] = field(default_factory=dict)
    macros: dict[str, str] = field(default_factory=dict)
    citations: dict[str, tuple[str, str]] = field(default_factory=dict)  # key -> (authors, year)


def _toc_pages(toc: dict) -> list[str]:
    pages = [toc["root"]]

    def walk(entries):
        for entry in entries or []:
            if "file" in entry:
                pages.append(entry["file"])
            walk(entry.get("sections"))
            walk(entry.get("chapters"))

    walk(toc.get("parts"))
    walk(toc.get("chapters"))
    walk(toc.get("sections"))
    return [posixpath.splitext(page)[0] for page in pages]


def page_source(repo: Path, page: str) -> list[str]:
    """The MyST text of a page (a notebook's markdown cells; a Markdown page without its front matter)."""
    import nbformat

    if (repo / f"{page}.ipynb").exists():
        nb = nbformat.read(repo / f"{page}.ipynb", as_version=4)
        return "\n\n".join(c.source for c in nb.cells if c.cell_type == "markdown").splitlines()
    text = (repo / f"{page}.md").read_text()
    front = re.match(r"^---\n.*?\n---\n", text, re.S)
    return text[front.end() if front else 0:].splitlines()


def _authors(persons) -> str:
    """Last names as an author-year citation shows them: "Sutton and Barto", "Ouyang et al."."""
    from pybtex.backends.plaintext import Backend
    from pybtex.richtext import Text

    text = Backend()  # what render_as("text") finds through the package's entry points, at 30 ms a call

    def last(person) -> str:
        return Text.from_latex(" ".join(person.prelast_names + person.last_names)).render(text)

    names = [last(p) for p in persons if str(p) != "others"]
    if len(persons) == 1:
        return names[0]
    if len(persons) == 2 and len(names) == 2:
        return f"{names[0]} and {names[1]}"
    return f"{names[0]} et al."


@functools.lru_cache(maxsize=None)
def load_book(repo: Path = REPO) -> Book:
    import pybtex.database
    import yaml

    config = yaml.safe_load((repo / "_config.yml").read_text())
    book = Book(pages=_toc_pages(yaml.safe_load((repo / "_toc.yml").read_text())),
                baseurl=(config.get("html") or {}).get("baseurl") or "")
    tex = config.get("sphinx", {}).get("config", {}).get("mathjax3_config", {}).get("tex", {})
    for name, body in (tex.get("macros") or {}).items():
        if not isinstance(body, str):
            raise ValueError(f"_config.yml: the MathJax macro \\{name} takes arguments; only plain ones are expanded")
        book.macros[name] = body
    for key, entry in pybtex.database.parse_file(str(repo / "references.bib")).entries.items():
        book.citations[key] = (_authors(entry.persons["author"]), entry.fields["year"])

    equations, proofs = [], []  # in book order
    for page in book.pages:
        _scan(page_source(repo, page), page, book, equations, proofs)
    per_chapter: dict[int, int] = {}
    for count, (page, label) in enumerate(equations, start=1):
        chapter = CHAPTER_PAGE.match(page)
        if chapter:  # (6.5): the fifth numbered equation of Chapter 6's pages
            number = int(chapter.group(1))
            per_chapter[number] = per_chapter.get(number, 0) + 1
            shown = f"{number}.{per_chapter[number]}"
        else:  # elsewhere Sphinx's own number, counted through the whole book
            shown = str(count)
        book.equations[label] = Target(page, f"equation-{label}", shown)
    per_kind: dict[str, int] = {}
    for page, proof in proofs:  # sphinx-proof counts each kind through the whole book
        per_kind[proof.kind] = per_kind.get(proof.kind, 0) + 1
        proof.number = per_kind[proof.kind]
        book.page_proofs.setdefault(page, []).append(proof)
        if proof.label:
            book.proofs[proof.label] = Target(page, proof.label, f"{proof.kind.title()} {proof.number}")
    return book


def _scan(lines: list[str], page: str, book: Book, equations: list, proofs: list) -> None:
    """Record the titles, targets, numbered equations and theorems of one page's source, in order."""
    targets = []  # (label)= lines waiting for what they point at
    for block in blocks(lines):
        if block.kind == "target":
            targets.append(block.label)
            continue
        if block.kind == "text":
            heading = HEADING.match(block.lines[0])
            if heading:
                book.titles.setdefault(page, heading["title"])
            if heading or block.lines[0].strip():
                for label in targets:
                    book.sections[label] = Target(page, label, heading["title"] if heading else None)
                targets = []
            continue
        for label in targets:
            book.sections[label] = Target(page, label, None)
        targets = []
        if block.kind == "dollars" and block.label:
            equations.append((page, block.label))
        elif block.kind == "directive" and block.name == "math" and block.options.get("label"):
            equations.append((page, block.options["label"]))
        elif block.kind == "directive" and block.name.startswith("prf:") and block.name != "prf:proof":
            if "nonumber" not in block.options:
                proofs.append((page, Proof(block.name[4:], block.argument, block.options.get("label", ""), 0)))
            _scan(block.body, page, book, equations, proofs)
        elif block.kind == "directive" and (block.name in ADMONITIONS or block.name == "prf:proof"):
            _scan(block.body, page, book, equations, proofs)


# ----- the conversion -------------------------------------------------------------------------------
INLINE = re.compile(
    r"\{(?P<role>[A-Za-z][\w:.+-]*)\}`(?P<content>[^`]+)`"            # a MyST role
    r"|(?P<code>`+)(?P<code_text>.+?)(?<!`)(?P=code)(?!`)"             # a code span, left as it is
    r"|(?<![\\$])\$\$(?P<display>.+?)\$\$"                             # display maths within text
    r"|(?<![\\$])\$(?P<math>(?:[^$\\\n]|\\.|\n(?![ \t]*\n))+?)\$",     # inline maths
    re.S)
EXPLICIT = re.compile(r"^(?P<text>.*?)\s*<(?P<target>[^<>]+)>$", re.S)
DROP = "\x00"
"""Stands for a link to the notebook itself until the sentence that holds it is dropped."""
SENTENCE_END = re.compile(r"[.!?](?=\s|$)")
SENTENCE_START = re.compile(r"[.!?]\s+|\n[ \t]*\n")


class Converter:
    """Turns the MyST of one page of the book into plain Jupyter Markdown."""

    def __init__(self, book: Book, page: str, base_url: str = ""):
        self.book, self.page = book, page
        self.base_url = base_url.rstrip("/") + "/" if base_url else ""

    def convert(self, source: str) -> str:
        return "\n".join(self._blocks(source.splitlines(), quoted=False)).strip("\n")

    # blocks
    def _blocks(self, lines: list[str], quoted: bool) -> list[str]:
        out, text = [], []

        def add(new: list[str]):  # one blank line between blocks, never two
            while out and new and not out[-1].strip() and not new[0].strip():
                new = new[1:]
            out.extend(new)

        for block in blocks(lines):
            if block.kind == "text":
                text.append(block.lines[0])
                continue
            if text:
                add(self._inline("\n".join(text), quoted).split("\n"))
                text = []
            add(self._block(block, quoted))
        if text:
            add(self._inline("\n".join(text), quoted).split("\n"))
        return out

    def _block(self, block: Block, quoted: bool) -> list[str]:
        if block.kind in ("target", "comment"):
            return []
        if block.kind == "fence":
            return block.lines
        if block.kind == "dollars":
            return self._display(textwrap.dedent("\n".join(block.body)), block.label, block.indent, quoted)
        name, indent = block.name, block.indent
        if name == "math":
            return self._display("\n".join(block.body), block.options.get("label", ""), indent, quoted)
        if name in CODE:
            body = "\n".join(block.body).rstrip("\n")
            longest = max((len(run) for run in re.findall(r"`+", body)), default=0)
            mark = "`" * max(3, longest + 1)
            language = block.argument.split()[0] if block.argument else ""
            return [indent + line if line else "" for line in [mark + language, *body.split("\n"), mark]]
        if name in ADMONITIONS:
            title = block.argument if name == "admonition" else block.argument or name.title()
            return self._quote(title, block.body, indent)
        if name == "prf:proof":
            return self._quote("Proof.", block.body, indent)
        if name.startswith("prf:"):
            return self._quote(self._proof_title(block), block.body, indent)
        raise ValueError(f"{self.page}: no plain Markdown for the MyST directive {{{name}}}")

    def _quote(self, title: str, body: list[str], indent: str) -> list[str]:
        inner = [f"**{self._inline(title, quoted=True)}**", "", *self._blocks(body, quoted=True)]
        while inner and not inner[-1].strip():
            inner.pop()
        return ["", *[f"{indent}> {line}".rstrip() for line in inner], ""]

    def _proof_title(self, block: Block) -> str:
        kind, label = block.name[4:], block.options.get("label", "")
        found = [p for p in self.book.page_proofs.get(self.page, [])
                 if (p.label == label if label else (p.kind, p.title) == (kind, block.argument))]
        number = f" {found[0].number}" if found and "nonumber" not in block.options else ""
        return f"{kind.title()}{number}" + (f" ({block.argument})" if block.argument else "")

    def _display(self, tex: str, label: str, indent: str, quoted: bool) -> list[str]:
        """Display maths as Sphinx hands it to MathJax, with the book's number as a tag."""
        parts = [part.strip() for part in re.split(r"\n[ \t]*\n", self._tex(tex)) if part.strip()]
        parts = [f"\\begin{{split}}{part}\\end{{split}}" if "\\\\" in part and not part.startswith("\\begin{")
                 else part for part in parts]
        tex = parts[0] if len(parts) == 1 else "\\begin{aligned}" + " \\\\\n".join(parts) + "\\end{aligned}"
        if label:
            if label not in self.book.equations:
                raise ValueError(f"{self.page}: the equation label {label} is not in the book's index")
            tex += f" \\tag{{{self.book.equations[label].text}}}"
        if quoted:  # one line: see the module's docstring
            return [f"{indent}$$ {_one_line(tex)} $$"]
        return [f"{indent}$$", *[f"{indent}{line}" for line in tex.split("\n")], f"{indent}$$"]

    def _tex(self, tex: str) -> str:
        for name, body in self.book.macros.items():
            tex = re.sub(rf"\\{re.escape(name)}(?![A-Za-z])", lambda _: body, tex)
        return tex

    # inline
    def _inline(self, text: str, quoted: bool = False) -> str:
        text = INLINE.sub(lambda match: self._inline_match(match, quoted), text)
        while DROP in text:  # drop the sentence that offers this very notebook
            at = text.index(DROP)
            start = max((m.end() for m in SENTENCE_START.finditer(text, 0, at)), default=0)
            end = SENTENCE_END.search(text, at)
            rest = text[end.end() if end else len(text):].lstrip(" \t")
            rest = re.sub(r"^(\n?)It ", r"\1This notebook ", rest)
            text = text[:start] + rest
        return text

    def _inline_match(self, match, quoted: bool) -> str:
        if match["role"]:
            return self._role(match["role"], " ".join(match["content"].split()))
        for delimiter, tex in (("$$", match["display"]), ("$", match["math"])):
            if tex is not None:
                tex = self._tex(tex)
                return delimiter + (_one_line(tex) if quoted else tex) + delimiter
        return match.group(0)

    def _role(self, role: str, content: str) -> str:
        explicit = EXPLICIT.match(content)
        text, target = (explicit["text"], explicit["target"]) if explicit else (None, content)
        if role == "eq":
            found = self._target(self.book.equations, target, "equation")
            return self._link(text or f"({found.text})", found)
        if role == "numref":
            if target in self.book.equations:
                found = self.book.equations[target]
                return self._link((text or "Equation (%s)").replace("%s", found.text), found)
            found = self._target(self.book.proofs, target, "numbered element")
            number = found.text.split()[-1]
            return self._link(text.replace("%s", number) if text else found.text, found)
        if role == "prf:ref":
            found = self._target(self.book.proofs, target, "theorem")
            return self._link(text or found.text, found)
        if role == "ref":
            found = self._target(self.book.sections, target, "target")
            if not (text or found.text):
                raise ValueError(f"{self.page}: {{ref}}`{target}` points at no section: give it a text")
            return self._link(text or found.text, found)
        if role == "doc":
            page = self._page(target)
            if page not in self.book.titles:
                raise ValueError(f"{self.page}: {{doc}}`{content}`: no such page in _toc.yml")
            return self._link(text or self.book.titles[page], Target(page, "", None))
        if role in ("cite", "cite:p", "cite:ps", "cite:t", "cite:ts"):
            return self._cite(role, target)
        if role == "download":
            path = posixpath.normpath(posixpath.join(posixpath.dirname(self.page), target))
            chapter, notebook = posixpath.basename(self.page.rsplit("/", 1)[0]), posixpath.basename(self.page)
            if path.endswith(f"/{chapter}/{notebook}.ipynb"):
                return DROP
            return text or posixpath.basename(target)
        if role == "math":
            return f"${self._tex(content)}$"
        raise ValueError(f"{self.page}: no plain Markdown for the MyST role {{{role}}}")

    def _cite(self, role: str, keys: str) -> str:
        cited = []
        for key in (k.strip() for k in keys.split(",")):
            if key not in self.book.citations:
                raise ValueError(f"{self.page}: {{cite}}`{key}` is not in references.bib")
            cited.append(self.book.citations[key])
        if role in ("cite:t", "cite:ts"):
            return "; ".join(f"{authors} ({year})" for authors, year in cited)
        return "(" + "; ".join(f"{authors}, {year}" for authors, year in cited) + ")"

    def _target(self, table: dict, label: str, what: str) -> Target:
        if label not in table:
            raise ValueError(f"{self.page}: the book defines no {what} labelled {label}")
        return table[label]

    def _page(self, target: str) -> str:
        target = posixpath.splitext(target)[0]
        if target.startswith("/"):
            return posixpath.normpath(target.lstrip("/"))
        return posixpath.normpath(posixpath.join(posixpath.dirname(self.page), target))

    def _link(self, text: str, target: Target) -> str:
        url = f"{self.base_url}{target.page}.html" + (f"#{target.anchor}" if target.anchor else "")
        return f"[{text}]({url})"


def _one_line(tex: str) -> str:
    """TeX on one line (for a blockquote), without its ``%`` comments."""
    return " ".join(re.sub(r"(?<!\\)%.*$", "", line).strip() for line in tex.split("\n")).strip()


class PlainMarkdown(NbGraderPreprocessor):
    """Rewrite the markdown cells of a student notebook from the book's MyST into plain Jupyter
    Markdown (see this module's docstring for what becomes of each construct)."""

    book_url = Unicode(
        None, allow_none=True,
        help="Address of the built book that links point at (default: html.baseurl of _config.yml; "
             "when that is empty too, links are relative to the site's root, e.g. book/01-mdp/mdp.html)",
    ).tag(config=True)

    def preprocess(self, nb, resources):
        book = load_book(REPO)
        info = resources["nbgrader"]
        page = f"book/{info['assignment']}/{info['notebook']}"
        converter = Converter(book, page, book.baseurl if self.book_url is None else self.book_url)
        for cell in nb.cells:
            if cell.cell_type == "markdown":
                cell.source = converter.convert(cell.source)
        return nb, resources
