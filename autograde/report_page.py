"""The report's page (``autograde/report.py`` counts, this shows): one self-contained HTML file.

Inline style, no script, figures drawn with matplotlib (no pyplot: no global state) and embedded as
base64 PNG, each with alt text that states what it shows; nothing is fetched from anywhere, so the
page opens offline from ``file://``. Tables turn into a list of cards on a phone, so nothing scrolls
sideways. Everything a student could have written (ids, error messages, examples) is escaped.
"""

from __future__ import annotations

import base64
import html
import io
import statistics
import time

from autograde.report import CATEGORIES, Chapter, Course, course_summary, percent, share, summary


# ----- figures ----------------------------------------------------------------------------------
def figure_png(fig) -> str:
    """A matplotlib figure as a base64 PNG (no pyplot: no global state, no display needed)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    FigureCanvasAgg(fig)
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=100, bbox_inches="tight")
    return base64.b64encode(buffer.getvalue()).decode()


def _figure(width: float, height: float):
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width, height))
    return fig, fig.add_subplot()


def scores_figure(scores: list, max_score: float, threshold: float, what: str) -> tuple[str, str]:
    """A histogram of the totals (one bar per point), with the threshold; its PNG and its alt text."""
    from matplotlib.ticker import MaxNLocator

    fig, ax = _figure(7, 2.6)
    edges = [x - 0.5 for x in range(int(max_score) + 2)]
    ax.hist(scores, bins=edges, color="#0072B2", edgecolor="white")
    ax.axvline(threshold * max_score, color="#D55E00", linestyle="--", label=f"threshold ({percent(threshold)})")
    ax.set_xlabel(f"score (of {max_score:g} points)")
    ax.set_ylabel("students")
    ax.yaxis.set_major_locator(MaxNLocator(integer=True))
    ax.legend(loc="lower right", bbox_to_anchor=(1.0, 1.0), frameon=False)
    ax.spines[["top", "right"]].set_visible(False)
    below = sum(x < threshold * max_score for x in scores)
    median = statistics.median(scores) if scores else 0
    alt = (f"Histogram of the scores of {len(scores)} students in {what}, out of {max_score:g} points: median "
           f"{median:g}, {below} below the threshold of {threshold * max_score:g} points.")
    return figure_png(fig), alt


def outcomes_figure(chapter: Chapter, numbers: dict) -> tuple[str, str]:
    """Per exercise, the share of the class in each outcome, as stacked bars; its PNG and alt text."""
    n = max(1, len(chapter.submissions))
    fig, ax = _figure(7, 0.45 * len(chapter.exercises) + 1.4)
    labels = [f"{ex.number} {ex.name}" for ex in chapter.exercises][::-1]
    left = [0.0] * len(labels)
    for key, (label, colour) in CATEGORIES.items():
        widths = [numbers[ex.name]["categories"][key] / n for ex in chapter.exercises][::-1]
        if any(widths):
            ax.barh(labels, widths, left=left, color=colour, label=label, edgecolor="white")
            left = [a + b for a, b in zip(left, widths)]
    ax.set_xlim(0, 1)
    ax.xaxis.set_major_formatter(lambda x, _: percent(x))
    ax.set_xlabel("share of the class")
    ax.legend(loc="lower center", bbox_to_anchor=(0.5, 1.0), ncol=4, frameon=False, fontsize="small")
    ax.spines[["top", "right"]].set_visible(False)
    parts = []
    for ex in chapter.exercises:
        cats = numbers[ex.name]["categories"]
        parts.append(f"{ex.number} {ex.name}: " + ", ".join(
            f"{percent(cats[k] / n)} {CATEGORIES[k][0]}" for k in CATEGORIES if cats[k]))
    return figure_png(fig), "Share of the class by outcome for each exercise. " + "; ".join(parts) + "."


def mistakes_figure(ranked: list, what: str) -> tuple[str, str]:
    """The most common named mistakes as bars (``ranked``: (label, share) pairs, most common first)."""
    fig, ax = _figure(7, 0.4 * len(ranked) + 1.0)
    ax.barh([label for label, _ in ranked][::-1], [s for _, s in ranked][::-1], color="#E69F00")
    ax.xaxis.set_major_formatter(lambda x, _: percent(x))
    ax.set_xlabel("share of the class")
    ax.spines[["top", "right"]].set_visible(False)
    alt = f"The most common named mistakes in {what}: " + "; ".join(f"{label}, {percent(s)}" for label, s in ranked)
    alt += "."
    return figure_png(fig), alt


def full_marks_figure(course: Course) -> tuple[str, str]:
    exercises = course.exercises()
    fig, ax = _figure(7, 0.32 * len(exercises) + 1.0)
    ax.barh([f"{ex.number} {ex.name}" for _, ex, _, _ in exercises][::-1], [s for _, _, s, _ in exercises][::-1],
            color=CATEGORIES["passed"][1])
    ax.set_xlim(0, 1)
    ax.xaxis.set_major_formatter(lambda x, _: percent(x))
    ax.set_xlabel("share of the submissions with full marks")
    ax.spines[["top", "right"]].set_visible(False)
    alt = "Share of the submissions with full marks, per exercise: " + "; ".join(
        f"{ex.number} {ex.name} {percent(s)}" for _, ex, s, _ in exercises) + "."
    return figure_png(fig), alt


# ----- the page ---------------------------------------------------------------------------------
STYLE = """
:root { color-scheme: light; --ink: #1b1b1b; --muted: #5b5b5b; --line: #d9d9d9; --accent: #0072B2; }
* { box-sizing: border-box; }
body { margin: 0; font: 16px/1.5 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: var(--ink);
       background: #fff; }
main { max-width: 62rem; margin: 0 auto; padding: 1.5rem 1rem 4rem; overflow-wrap: break-word; }
h1 { font-size: 1.6rem; margin: 0 0 .5rem; } h2 { font-size: 1.3rem; margin-top: 2.2rem; }
h3 { font-size: 1.1rem; margin: 1.6rem 0 .4rem; }
.summary { font-size: 1.12rem; border-left: 4px solid var(--accent); padding: .4rem .9rem; background: #f3f8fb; }
.muted, figcaption { color: var(--muted); font-size: .92rem; }
figure { margin: 1rem 0; } figure img { display: block; max-width: 100%; height: auto; }
.table-wrapper { overflow-x: auto; }
table { border-collapse: collapse; width: 100%; font-size: .95rem; }
th, td { text-align: left; padding: .35rem .5rem; border-bottom: 1px solid var(--line); vertical-align: top; }
th { font-weight: 600; background: #f6f6f6; }
td.n, th.n { text-align: right; white-space: nowrap; }
code { font-family: ui-monospace, "SFMono-Regular", Menlo, Consolas, monospace; font-size: .9em; }
ul.examples { padding-left: 1.2rem; } ul.examples li { margin: .25rem 0; overflow-wrap: anywhere; }
@media (max-width: 40rem) {
  table.cards thead { display: none; }
  table.cards tr { display: block; border: 1px solid var(--line); border-radius: 6px; margin: .6rem 0;
                   padding: .2rem .5rem; }
  table.cards td { display: flex; justify-content: space-between; gap: 1rem; border: 0; padding: .2rem 0;
                   text-align: right; overflow-wrap: anywhere; }
  table.cards td.n { white-space: normal; }
  table.cards td::before { content: attr(data-label); font-weight: 600; text-align: left; flex: 0 0 40%; }
}
"""


def _esc(x) -> str:
    return html.escape(str(x), quote=True)


def table(headers: list, rows: list, numeric: set = frozenset()) -> str:
    """An HTML table that becomes a list of cards on a phone (no sideways scrolling)."""
    head = "".join(f'<th{" class=n" if i in numeric else ""} scope="col">{_esc(h)}</th>' for i, h in enumerate(headers))
    body = "".join("<tr>" + "".join(f'<td{" class=n" if i in numeric else ""} data-label="{_esc(headers[i])}">'
                                    f"<span>{cell}</span></td>" for i, cell in enumerate(r)) + "</tr>\n" for r in rows)
    return (f'<div class="table-wrapper"><table class="cards"><thead><tr>{head}</tr></thead>'
            f"<tbody>\n{body}</tbody></table></div>")


def figure(png: str, alt: str, caption: str) -> str:
    return (f'<figure><img src="data:image/png;base64,{png}" alt="{_esc(alt)}">'
            f"<figcaption>{_esc(caption)}</figcaption></figure>")


def page(title: str, body: str) -> str:
    return (f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
            f'<meta name="viewport" content="width=device-width, initial-scale=1">'
            f'<link rel="icon" href="data:,"><title>{_esc(title)}</title><style>{STYLE}</style></head>\n'
            f"<body><main>\n{body}\n</main></body></html>\n")


def count_share(count: float, total: float) -> str:
    return f"{count:g} ({percent(share(count, total))})"


def chapter_page(chapter: Chapter, numbers: dict, attention: list, threshold: float) -> str:
    n = len(chapter.submissions)
    scores = [s.score for s in chapter.submissions]
    parts = [f"<h1>What the class got wrong: {_esc(chapter.id)}</h1>",
             f'<p class="summary">{_esc(summary(chapter, numbers, attention))}</p>',
             f'<p class="muted">{n} submissions, {chapter.max_score:g} points; students of the gradebook '
             f'without a submission: {len(chapter.missing)}. Made by '
             f'<code>python -m autograde report</code> on {time.strftime("%Y-%m-%d %H:%M")}.</p>']
    png, alt = scores_figure(scores, chapter.max_score, threshold, chapter.id)
    parts.append(figure(png, alt, "Scores of the class, with the threshold below which a student needs attention."))

    parts.append("<h2>Per exercise</h2>")
    rows = []
    for ex in chapter.exercises:
        num = numbers[ex.name]
        dist = ", ".join(f"{p:g}&nbsp;pts:&nbsp;{c}" for p, c in sorted(num["points"].items()))
        rows.append([f"{ex.number} <code>{_esc(ex.name)}</code>", dist, count_share(num["full marks"], n),
                     count_share(num["visible passed, hidden failed"], n), count_share(num["raised an error"], n),
                     count_share(num["timed out"], n)])
    parts.append(table(["exercise", "points (students)", "full marks", "visible passed, hidden failed",
                        "raised an error", "timed out"], rows, numeric={2, 3, 4, 5}))
    png, alt = outcomes_figure(chapter, numbers)
    parts.append(figure(png, alt, "Each answer by the first case it fails (visible checks first): the category "
                                  "the student's feedback names first."))
    ranked = sorted(((f"{ex.number} {m}", share(c, n)) for ex in chapter.exercises
                     for m, c in numbers[ex.name]["mistakes"]),
                    key=lambda t: -t[1])[:10]
    if ranked:
        png, alt = mistakes_figure(ranked, chapter.id)
        parts.append(figure(png, alt, "The ten most common named mistakes of the chapter."))

    parts.append("<h2>Mistakes, by exercise</h2>")
    for ex in chapter.exercises:
        num = numbers[ex.name]
        parts.append(f"<h3>Exercise {ex.number}: <code>{_esc(ex.name)}</code></h3>")
        if num["mistakes"]:
            parts.append(table(["mistake", "what the student is told", "students"],
                               [[f"<code>{_esc(m)}</code>", _esc(ex.messages.get(m, "")), count_share(c, n)]
                                for m, c in num["mistakes"]], numeric={2}))
        else:
            parts.append('<p class="muted">No named mistake.</p>')
        cats = num["categories"]
        parts.append(f"<p>Wrong in a way no known mistake explains: {count_share(cats['unexplained'], n)}; "
                     f"an error no known mistake raises: {count_share(cats['error'], n)}.</p>")
        if num["examples"]:
            parts.append('<ul class="examples">' + "".join(
                f"<li>{_esc(CATEGORIES[cat][0])} (&times;{c}): <code>{_esc(example)}</code></li>"
                for (cat, example), c in num["examples"]) + "</ul>")

    parts.append("<h2>Students who need attention</h2>")
    if attention:
        parts.append(table(["student", "score", "why"],
                           [[_esc(s.student), f"{s.score:g} / {chapter.max_score:g}", _esc("; ".join(reasons))]
                            for s, reasons in attention], numeric={1}))
    else:
        parts.append('<p class="muted">None.</p>')
    return page(f"Report: {chapter.id}", "\n".join(parts))


def course_page(course: Course, threshold: float) -> str:
    ids = [c.id for c in course.chapters]
    parts = ["<h1>What the class got wrong: the course</h1>", f'<p class="summary">{_esc(course_summary(course))}</p>',
             f'<p class="muted">{len(ids)} chapters graded ({_esc(", ".join(ids))}), {len(course.scores)} students, '
             f'{course.max_score:g} points. Made by <code>python -m autograde report --all</code> on '
             f'{time.strftime("%Y-%m-%d %H:%M")}; each chapter has its own report in '
             f"<code>reports/CHAPTER/</code>.</p>"]
    png, alt = full_marks_figure(course)
    parts.append(figure(png, alt, "Each exercise's share of full marks among the students who submitted its chapter."))
    parts.append("<h2>Exercises</h2>")
    parts.append(table(["exercise", "full marks", "most common mistake"], [
        [f"{ex.number} <code>{_esc(ex.name)}</code>", percent(full),
         f"<code>{_esc(top[0])}</code> ({top[1]} of {len(c.submissions)})" if top else "none"]
        for c, ex, full, top in course.exercises()], numeric={1}))
    parts.append("<h2>The hardest mistakes</h2>")
    hardest = course.hardest()
    parts.append(table(["exercise", "mistake", "what the student is told", "share"], [
        [f"{ex.number} <code>{_esc(ex.name)}</code>", f"<code>{_esc(m)}</code>", _esc(ex.messages.get(m, "")),
         f"{percent(made)} ({count} of {len(c.submissions)})"] for made, count, c, ex, m in hardest], numeric={3})
                 if hardest else '<p class="muted">No named mistake.</p>')
    parts.append("<h2>Students</h2>")
    totals = {s: course.total(s) for s in course.scores}
    png, alt = scores_figure(list(totals.values()), course.max_score, threshold, "the course")
    parts.append(figure(png, alt, "Each student's total over the graded chapters (a chapter not submitted counts 0)."))
    parts.append(table(["student", *ids, "total"], [
        [_esc(s), *("&ndash;" if scores[c] is None else f"{scores[c]:g}" for c in ids),
         f"{totals[s]:g} / {course.max_score:g}" + (" (below threshold)" * (totals[s] < threshold * course.max_score))]
        for s, scores in course.scores.items()], numeric=set(range(1, len(ids) + 2))))
    return page("Report: the course", "\n".join(parts))
