"""A synthetic web crawl: what a pretraining data pipeline starts from, generated offline and seeded.

Real crawls (FineWeb, Penedo et al. 2024) are HTML pages with navigation and footer boilerplate,
scripts, exact and near duplicates, spam, personal data, and many languages. ``web_pages`` makes
small pages with all of these, from sentence templates in four languages, so every stage of a
curation pipeline has something measurable to remove.
"""

from __future__ import annotations

import numpy as np

TOPICS = ["the river", "a small bakery", "the old library", "our garden", "the mountain trail", "a jazz club",
          "the train station", "a fishing village", "the science museum", "a chess tournament"]

SENTENCES = {
    "en": ["{topic} opened again after the long winter.", "Visitors say {topic} is worth the trip.",
           "In spring, {topic} is busy from early morning.", "Nobody expected {topic} to change so quickly.",
           "The history of {topic} goes back two hundred years.", "Local children love {topic}.",
           "Prices near {topic} have gone up this year.", "Photographers come to {topic} at sunset."],
    "de": ["Im Sommer ist es am Fluss sehr ruhig.", "Die Bibliothek hat neue Bücher bekommen.",
           "Viele Besucher kommen am Wochenende.", "Der Bahnhof wurde letztes Jahr renoviert."],
    "fr": ["Le musée est ouvert tous les jours sauf le lundi.", "La boulangerie vend du pain frais le matin.",
           "Les enfants jouent dans le jardin après l'école.", "Le village de pêcheurs est très calme en hiver."],
    "es": ["La biblioteca abre a las nueve de la mañana.", "El museo de ciencias tiene una sala nueva.",
           "Muchos turistas visitan el pueblo en verano.", "El club de jazz cierra muy tarde."],
}
NAMES = ["anna", "ben", "chloe", "david", "emma", "felix", "grace", "hugo"]
DOMAINS = ["example.org", "mail.example.com", "post.example.net"]
SPAM = "BUY CHEAP WATCHES NOW!!! Best prices, click here, limited offer!!! "
NAV = '<nav><a href="/">Home</a> | <a href="/about">About</a> | <a href="/contact">Contact</a></nav>'
FOOTER = "<footer>Copyright 2024. All rights reserved. Privacy policy | Terms of use</footer>"
SCRIPT = "<script>var tracker = initAnalytics('UA-0000'); tracker.send('pageview');</script>"
STYLE = "<style>body { font-family: sans-serif; } .ad { display: none; }</style>"
BLOCKED_DOMAINS = ("cheap-watches.example", "casino-bonus.example")
"""Domains a URL filter drops (a block list, as real pipelines use)."""


def _paragraph(rng: np.random.Generator, lang: str, n: int) -> str:
    topic = TOPICS[rng.integers(len(TOPICS))]
    picks = rng.choice(len(SENTENCES[lang]), size=n, replace=True)
    text = " ".join(SENTENCES[lang][i].format(topic=topic) for i in picks)
    return text[0].upper() + text[1:]


def _contact(rng: np.random.Generator) -> str:
    name = NAMES[rng.integers(len(NAMES))]
    email = f"{name}.{rng.integers(10, 99)}@{DOMAINS[rng.integers(len(DOMAINS))]}"
    phone = (f"+44 20 {rng.integers(1000, 9999)} {rng.integers(1000, 9999)}" if rng.random() < 0.5
             else f"(555) {rng.integers(100, 999)}-{rng.integers(1000, 9999)}")
    return f"Questions? Write to {email} or call {phone}."


def web_pages(n: int, seed: int) -> list[dict]:
    """``n`` crawled pages as dicts with ``url`` and ``html``, seeded.

    About 60% English, 40% German, French or Spanish; about 10% spam from blocked domains; about 15%
    exact copies of an earlier page (often at another URL) and 10% near copies (an earlier page with
    one more sentence); about a third carry an e-mail address and a phone number.

    Example:
        >>> pages = web_pages(200, seed=0)
        >>> pages[0]["html"][:14]
        '<html><head><t'
    """
    rng = np.random.default_rng(seed)
    pages: list[dict] = []
    for i in range(n):
        r = rng.random()
        if pages and r < 0.15:  # exact duplicate, maybe at another address
            src = pages[rng.integers(len(pages))]
            url = src["url"] if rng.random() < 0.5 else f"https://mirror.example.com/page{i}"
            pages.append({"url": url, "html": src["html"]})
            continue
        if pages and r < 0.25:  # near duplicate: an earlier page with one more sentence
            src = pages[rng.integers(len(pages))]
            extra = f"<p>{_paragraph(rng, 'en', 1)}</p>"
            pages.append({"url": f"https://news.example.com/copy{i}", "html": src["html"].replace("</main>", extra + "</main>")})
            continue
        if r < 0.35:  # spam from a blocked domain
            domain = BLOCKED_DOMAINS[rng.integers(len(BLOCKED_DOMAINS))]
            body = f"<p>{SPAM * int(rng.integers(3, 8))}</p>"
            pages.append({"url": f"https://{domain}/offer{i}", "html": _page("Offer", body, rng)})
            continue
        lang = "en" if rng.random() < 0.6 else ["de", "fr", "es"][rng.integers(3)]
        paragraphs = [f"<p>{_paragraph(rng, lang, int(rng.integers(2, 5)))}</p>" for _ in range(int(rng.integers(1, 4)))]
        if rng.random() < 0.35:
            paragraphs.append(f"<p>{_contact(rng)}</p>")
        title = TOPICS[rng.integers(len(TOPICS))].title()
        pages.append({"url": f"https://{['blog', 'news', 'www'][rng.integers(3)]}.example.com/{lang}/{i}",
                      "html": _page(title, "".join(paragraphs), rng)})
    return pages


def _page(title: str, body: str, rng: np.random.Generator) -> str:
    head = f"<head><title>{title}</title>{STYLE if rng.random() < 0.5 else ''}</head>"
    body = body.replace("'", "&#39;").replace(" & ", " &amp; ")
    return f"<html>{head}<body>{NAV}<main>{body}</main>{SCRIPT if rng.random() < 0.7 else ''}{FOOTER}</body></html>"
