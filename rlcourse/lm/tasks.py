"""Seeded generators of tasks whose answers a program can check (verifiable rewards)."""

from __future__ import annotations

import re

import numpy as np


def addition_problems(n: int, seed: int, digits: tuple[int, ...] = (2, 3), reverse: bool = False) -> list[dict]:
    """``n`` addition problems ``a+b`` whose operands have a number of digits drawn from ``digits``.

    Args:
        n: how many problems.
        seed: seed of a local generator (same seed, same problems).
        digits: possible operand lengths; each operand draws its own.
        reverse: write the answer's digits reversed (least significant first), the order in which
            carries are computed.

    Returns:
        list of dicts with ``"question"`` (e.g. ``"57+218"``), ``"answer"`` (``"275"``, or ``"572"``
        reversed) and ``"value"`` (the sum as an int).

    Example:
        >>> addition_problems(1, seed=0)
        [{'question': '...', 'answer': '...', 'value': ...}]
    """
    rng = np.random.default_rng(seed)
    lengths = np.asarray(digits)
    out = []
    for _ in range(n):
        d_a, d_b = rng.choice(lengths, size=2).tolist()
        a, b = int(rng.integers(10 ** (d_a - 1), 10 ** d_a)), int(rng.integers(10 ** (d_b - 1), 10 ** d_b))
        answer = str(a + b)
        out.append({"question": f"{a}+{b}", "answer": answer[::-1] if reverse else answer, "value": a + b})
    return out


def parse_answer(text: str, reverse: bool = False) -> int | None:
    """The integer a completion gives as its answer, or ``None`` if it is not well formed.

    Strict, as a verifier must be: the whole completion, apart from surrounding whitespace, is one or
    more digits (``"572+1"`` is not an answer). ``reverse`` undoes the reversed format. Chapter 5's
    ``verifier_reward`` applies the same rule, so the metric and the reward never disagree.
    """
    match = re.fullmatch(r"\s*(\d+)\s*", text)
    if match is None:
        return None
    digits = match.group(1)
    return int(digits[::-1] if reverse else digits)


def digit_sum_problems(n: int, seed: int, length: int = 6, show_steps: bool = False) -> list[dict]:
    """``n`` problems "the sum of these digits, modulo 10", e.g. ``"374951"`` -> ``"9"``.

    With ``show_steps`` the answer writes the running sum modulo 10 after each digit
    (``"304389"``), so each answer token needs one addition; its last digit is the answer.
    Returns dicts with ``"question"``, ``"answer"`` and ``"value"`` (the sum modulo 10).
    """
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(n):
        digits = rng.integers(0, 10, size=length)
        running = np.cumsum(digits) % 10
        answer = "".join(map(str, running)) if show_steps else str(running[-1])
        out.append({"question": "".join(map(str, digits)), "answer": answer, "value": int(running[-1])})
    return out


def pseudo_words(n: int, seed: int, syllables: tuple[int, int] = (3, 4)) -> list[str]:
    """``n`` distinct made-up lower-case words of consonant-vowel syllables (``"lukasu"``), sorted.

    Words that no model has seen, for character-level tasks such as spelling.
    """
    rng = np.random.default_rng(seed)
    consonants, vowels = "bcdfghklmnprstvz", "aeiou"
    words: set[str] = set()
    while len(words) < n:
        k = int(rng.integers(syllables[0], syllables[1] + 1))
        word = ""
        for _ in range(k):
            word += consonants[rng.integers(len(consonants))] + vowels[rng.integers(len(vowels))]
            if rng.random() < 0.3:
                word += consonants[rng.integers(len(consonants))]
        words.add(word)
    return sorted(words)


def add_without_carry(a: int, b: int) -> int:
    """``a + b`` computed digit by digit with every carry forgotten (``57 + 68 -> 15``): the slip an
    inattentive annotator makes. Equals ``a + b`` when no column carries."""
    result, place = 0, 1
    while a or b:
        result += ((a % 10 + b % 10) % 10) * place
        a, b, place = a // 10, b // 10, place * 10
    return result
