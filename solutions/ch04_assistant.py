"""Reference implementations for Chapter 4 (from raw text to an assistant): data and tokens. The
ones later chapters reuse (the loss, sampling, the chat format) are in
``rlcourse/reference/ch04_assistant.py``. Copied into
``book/04-text-to-assistant/text_to_assistant.ipynb`` by ``python -m autograde sync``.
"""

import html as html_lib
import re
from collections import Counter

import numpy as np

from rlcourse.lm.tokenizers import PRETOKENIZE, merge_pair

def extract_text(html):
    """The main text of a crawled page: its paragraphs, without markup.

    Keeps only the ``<p>...</p>`` paragraphs inside ``<main>...</main>`` (navigation, footer, head,
    scripts and styles are boilerplate), removes any tags inside them, decodes HTML entities such as
    ``&amp;`` and ``&#39;``, strips each paragraph and joins them with newlines.

    Args:
        html: the page, a string.

    Returns:
        str; ``""`` for a page without ``<main>``.

    Example:
        >>> extract_text('<nav>Home</nav><main><p>Fish &amp; chips</p><p> <b>Open</b></p></main>')
        'Fish & chips\\nOpen'
    """
    main = re.search(r"<main>(.*?)</main>", html, flags=re.S)
    if main is None:
        return ""
    paragraphs = re.findall(r"<p>(.*?)</p>", main.group(1), flags=re.S)
    return "\n".join(html_lib.unescape(re.sub(r"<[^>]+>", "", p)).strip() for p in paragraphs)


def remove_pii(text):
    """Replace e-mail addresses by ``<EMAIL>`` and phone numbers by ``<PHONE>``.

    E-mail: ``name@domain.tld``, where the name may hold letters, digits and ``. _ + -`` and the
    domain has at least one dot. Phone: international ``+44 20 1234 5678`` (a ``+``, then digits and
    single spaces, at least 8 digits in all) or US style ``(555) 123-4567``.

    Args:
        text: a string.

    Returns:
        the text with every match replaced.

    Example:
        >>> remove_pii("Mail anna.12@example.org or call (555) 123-4567.")
        'Mail <EMAIL> or call <PHONE>.'
    """
    text = re.sub(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+", "<EMAIL>", text)
    text = re.sub(r"\+\d(?: ?\d){7,}", "<PHONE>", text)  # +44 20 1234 5678
    return re.sub(r"\(\d{3}\) \d{3}-\d{4}", "<PHONE>", text)  # (555) 123-4567


def bpe_train(text, n_merges):
    """Learn byte-pair-encoding merges from ``text`` (characters as the initial symbols).

    Pre-tokenize with ``PRETOKENIZE``; start with every piece split into characters; then
    ``n_merges`` times: count every adjacent pair of symbols inside pieces (a piece that occurs k
    times counts k times), take the most frequent pair, record it, and fuse it everywhere. Ties go to
    the pair whose symbols were created first: the initial characters in sorted order, then merged
    symbols in the order they were made, comparing the left symbol first. Stop early when no pair
    is left.

    Args:
        text: training text.
        n_merges: number of merges to learn.

    Returns:
        merges: list of ``(left, right)`` string pairs, in the order learned.

    Example:
        >>> bpe_train("aaab", 2)  # then ('aa', 'a') and ('a', 'b') tie; 'a' was created before 'aa'
        [('a', 'a'), ('a', 'b')]
    """
    pieces = Counter(PRETOKENIZE.findall(text))
    order = {c: i for i, c in enumerate(sorted(set("".join(pieces))))}  # creation order of symbols
    splits = {p: list(p) for p in pieces}
    merges = []
    for _ in range(n_merges):
        counts = Counter()
        for piece, freq in pieces.items():
            symbols = splits[piece]
            for pair in zip(symbols, symbols[1:]):
                counts[pair] += freq
        if not counts:
            break
        best = max(counts, key=lambda p: (counts[p], -order[p[0]], -order[p[1]]))
        merges.append(best)
        order[best[0] + best[1]] = len(order)
        splits = {piece: merge_pair(symbols, best) for piece, symbols in splits.items()}
    return merges


def bpe_encode(text, merges):
    """Split ``text`` into BPE tokens (strings) with learned ``merges``.

    Pre-tokenize with ``PRETOKENIZE``; within each piece start from characters and repeatedly apply
    the *earliest-learned* merge that occurs in it, until none applies.

    Args:
        text: a string.
        merges: list of ``(left, right)`` pairs from :func:`bpe_train`.

    Returns:
        list of token strings; ``"".join(tokens) == text``.

    Example:
        >>> bpe_encode("aaab", [("a", "a"), ("a", "b")])  # a a a b -> aa a b -> aa ab
        ['aa', 'ab']
    """
    rank = {pair: i for i, pair in enumerate(merges)}
    tokens = []
    for piece in PRETOKENIZE.findall(text):
        symbols = list(piece)
        while len(symbols) > 1:
            pairs = [p for p in zip(symbols, symbols[1:]) if p in rank]
            if not pairs:
                break
            symbols = merge_pair(symbols, min(pairs, key=rank.__getitem__))
        tokens += symbols
    return tokens


def bits_per_character(loss, n_tokens, n_characters):
    """A language model's loss in a unit that does not depend on its tokenizer.

    ``loss`` is the mean next-token loss, in nats per predicted token, on a text of ``n_characters``
    characters that the tokenizer turned into ``n_tokens`` predicted tokens. Two tokenizers cut the
    same text into different numbers of tokens, so per-token losses of two models cannot be compared;
    what can is the information the model needs for the whole text. Return it per character, in bits.

    Args:
        loss: float, mean loss in nats per token.
        n_tokens: int, the number of tokens the loss was averaged over.
        n_characters: int, the number of characters of the same text.

    Returns:
        float, bits per character.

    Example:
        >>> round(bits_per_character(2 * np.log(2), n_tokens=10, n_characters=20), 6)  # 20 bits, 20 chars
        1.0
    """
    total_nats = loss * n_tokens                       # the text's total negative log-likelihood
    return float(total_nats / np.log(2) / n_characters)
