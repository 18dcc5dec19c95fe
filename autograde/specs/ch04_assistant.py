"""Exercises of Chapter 4 (data and tokens): cases, points and the plausible mistakes each check must catch."""

import html as html_lib
import re
from collections import Counter

from autograde.spec import Chapter, Exercise, Mistake
from rlcourse.lm.corpus import web_pages
from rlcourse.lm.tokenizers import PRETOKENIZE, merge_pair
from solutions import ch04_assistant as ref

PAGE = ('<html><head><title>Fish &amp; Chips</title><style>p { color: red; }</style></head><body>'
        '<nav><a href="/">Home</a></nav><main><p>Fish &amp; chips at the <b>harbour</b>.</p>'
        '<p>  Open daily, it&#39;s cheap.  </p></main><script>track();</script>'
        '<footer>All rights reserved</footer></body></html>')
PAGES = web_pages(60, seed=3)


# ----- wrong implementations -------------------------------------------------------------------
def _text_whole_page(html):
    return html_lib.unescape(re.sub(r"<[^>]+>", "\n", html)).strip()


def _text_variant(html, unescape=True, strip_tags=True, sep="\n"):
    main = re.search(r"<main>(.*?)</main>", html, flags=re.S)
    if main is None:
        return ""
    out = []
    for p in re.findall(r"<p>(.*?)</p>", main.group(1), flags=re.S):
        p = re.sub(r"<[^>]+>", "", p) if strip_tags else p
        out.append((html_lib.unescape(p) if unescape else p).strip())
    return sep.join(out)


def _text_no_unescape(html):
    return _text_variant(html, unescape=False)


def _text_inner_tags(html):
    return _text_variant(html, strip_tags=False)


def _text_space_joined(html):
    return _text_variant(html, sep=" ")


def _pii_emails_only(text):
    return re.sub(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+", "<EMAIL>", text)


def _pii_simple_email(text):
    text = re.sub(r"\w+@\w+\.\w+", "<EMAIL>", text)
    text = re.sub(r"\+\d(?: ?\d){7,}", "<PHONE>", text)
    return re.sub(r"\(\d{3}\) \d{3}-\d{4}", "<PHONE>", text)


def _pii_any_digits(text):
    text = re.sub(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+", "<EMAIL>", text)
    return re.sub(r"[+(]?\d[\d ()-]{2,}\d", "<PHONE>", text)


def _pii_us_phones_only(text):
    text = re.sub(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+", "<EMAIL>", text)
    return re.sub(r"\(\d{3}\) \d{3}-\d{4}", "<PHONE>", text)


def _train_variant(text, n_merges, weighted=True, pretokenize=True, ties_to_first=True):
    pieces = Counter(PRETOKENIZE.findall(text)) if pretokenize else Counter([text])
    order = {c: i for i, c in enumerate(sorted(set("".join(pieces))))}
    splits = {p: list(p) for p in pieces}
    merges = []
    for _ in range(n_merges):
        counts = Counter()
        for piece, freq in pieces.items():
            for pair in zip(splits[piece], splits[piece][1:]):
                counts[pair] += freq if weighted else 1
        if not counts:
            break
        sign = -1 if ties_to_first else 1
        best = max(counts, key=lambda p: (counts[p], sign * order[p[0]], sign * order[p[1]]))
        merges.append(best)
        order[best[0] + best[1]] = len(order)
        splits = {piece: merge_pair(s, best) for piece, s in splits.items()}
    return merges


def _train_unweighted(text, n_merges):
    return _train_variant(text, n_merges, weighted=False)


def _train_no_pretokenize(text, n_merges):
    return _train_variant(text, n_merges, pretokenize=False)


def _train_ties_to_last(text, n_merges):
    return _train_variant(text, n_merges, ties_to_first=False)


def _encode_longest_match(text, merges):
    vocab = {a + b for a, b in merges}
    tokens = []
    for piece in PRETOKENIZE.findall(text):
        i = 0
        while i < len(piece):
            j = next(j for j in range(len(piece), i, -1) if j == i + 1 or piece[i:j] in vocab)
            tokens.append(piece[i:j])
            i = j
    return tokens


def _encode_first_occurrence(text, merges):
    tokens = []
    for piece in PRETOKENIZE.findall(text):
        symbols = list(piece)
        for a, b in merges:  # fuses only the first occurrence of each pair
            for i in range(len(symbols) - 1):
                if (symbols[i], symbols[i + 1]) == (a, b):
                    symbols[i:i + 2] = [a + b]
                    break
        tokens += symbols
    return tokens


def _encode_characters(text, merges):
    return list(text)


# ----- cases ------------------------------------------------------------------------------------
CORPUS = "\n".join(ref.extract_text(p["html"]) for p in PAGES)
SMALL = "low lower lowest newer newest wider widest low low"

CHAPTER = Chapter(
    id="04-text-to-assistant",
    notebook="data_and_tokens.ipynb",
    exercises=[
        Exercise(
            reference=ref.extract_text,
            visible=[dict(html=PAGE), dict(html=PAGES[0]["html"])],
            hidden=[dict(html=PAGES[i]["html"]) for i in (4, 9, 17)] +
                   [dict(html="<html><body><p>no main here</p></body></html>"),
                    dict(html="<main><p>a <i>b</i> &amp; c</p><div>skip</div><p>d</p></main>")],
            mistakes=[
                Mistake("whole_page", "text from the whole page is kept (title, navigation, script, footer): "
                        "keep only the <p> paragraphs inside <main>.", _text_whole_page),
                Mistake("no_unescape", "HTML entities are left as they are: decode them (html.unescape), "
                        "so '&amp;' becomes '&'.", _text_no_unescape),
                Mistake("inner_tags", "tags inside a paragraph (like <b>) are still there: remove every "
                        "<...> from the paragraph text.", _text_inner_tags),
                Mistake("space_joined", "paragraphs are joined with spaces; join them with newlines.",
                        _text_space_joined),
            ],
            points=(1, 1),
        ),
        Exercise(
            reference=ref.remove_pii,
            visible=[dict(text="Mail anna.12@example.org or call (555) 123-4567 before 1890 ends."),
                     dict(text="Write to ben.41@mail.example.com, call +44 20 1234 5678 or (555) 987-6543.")],
            hidden=[dict(text=ref.extract_text(p["html"])) for p in PAGES if "@" in p["html"]][:4] +
                   [dict(text="No personal data here: 2024, 12 apples, version 3.10."),
                    dict(text="a+b@x.io, (555) 000-1111 and +1 2345 6789 0.")],
            mistakes=[
                Mistake("emails_only", "phone numbers are still there: replace them by <PHONE> too.",
                        _pii_emails_only),
                Mistake("simple_email", "only part of an e-mail address was replaced: names may contain dots "
                        "and domains several dots (anna.12@mail.example.com).", _pii_simple_email),
                Mistake("any_digits", "ordinary numbers (like a year) were replaced as phone numbers: match "
                        "only the two phone formats.", _pii_any_digits),
                Mistake("us_phones_only", "international numbers (+44 20 1234 5678) are still there.",
                        _pii_us_phones_only),
            ],
            points=(1, 1),
        ),
        Exercise(
            reference=ref.bpe_train,
            visible=[dict(text="aaab", n_merges=2), dict(text="ab ab ab", n_merges=3), dict(text=SMALL, n_merges=8)],
            hidden=[dict(text=CORPUS[:3000], n_merges=40), dict(text="ab cd", n_merges=3),
                    dict(text="x", n_merges=5), dict(text=SMALL + " " + SMALL.upper(), n_merges=12)],
            mistakes=[
                Mistake("unweighted", "each distinct piece was counted once; a piece that occurs k times "
                        "contributes its pairs k times.", _train_unweighted),
                Mistake("no_pretokenize", "pairs were counted across piece boundaries: pre-tokenize with "
                        "PRETOKENIZE first and count pairs only inside pieces.", _train_no_pretokenize),
                Mistake("ties_to_last", "ties went to the most recently created symbols; they go to the "
                        "earliest (sorted characters first, then merges in the order learned).",
                        _train_ties_to_last),
            ],
            points=(1, 2),
        ),
        Exercise(
            reference=ref.bpe_encode,
            visible=[dict(text="aaab", merges=[("a", "a"), ("aa", "a")]),
                     dict(text="abc aaaa", merges=[("b", "c"), ("a", "b"), ("a", "a")]),
                     dict(text="lowest newer", merges=ref.bpe_train(SMALL, 8))],
            hidden=[dict(text=CORPUS[3000:3600], merges=ref.bpe_train(CORPUS[:3000], 40)),
                    dict(text="", merges=[("a", "b")]), dict(text="abab", merges=[("b", "a"), ("a", "b")])],
            mistakes=[
                Mistake("longest_match", "this is greedy longest-match, not BPE: apply the learned merges, "
                        "earliest-learned first.", _encode_longest_match),
                Mistake("first_occurrence_only", "each merge fused only its first occurrence in a piece; "
                        "fuse every occurrence.", _encode_first_occurrence),
                Mistake("characters", "no merge was applied: these are single characters.", _encode_characters),
            ],
            points=(1, 1),
        ),
    ],
)
