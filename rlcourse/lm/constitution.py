"""A constitution for Chapter 7's Constitutional AI in miniature (Bai et al., 2022).

The **constitution** is a short list of written principles that a program can check on the replies
task of ``rlcourse.lm.preferences``: no insults, stay on the user's topic, say nothing twice
(:data:`CONSTITUTION`, principles of restraint), and, for the feedback of the RL stage, say something
about the topic (:data:`ENGAGE`). Each principle comes with its checker, which counts how often a reply
breaks it. Bai et al.'s feedback model, a language model, could weigh a reply's harm and its engagement in
one judgement; a checker cannot, so here restraint and engagement are separate principles.

Bai et al.'s method has two stages, both driven by the constitution instead of human labels of harm:

1. **Critique and revision (supervised).** A reply is critiqued under a randomly drawn principle and
   rewritten; the model is fine-tuned on the rewrites. Ours: the critique is the checker's list of
   offending words (a tiny model cannot write a critique in prose), and the *model itself* rewrites the
   reply from just before the first offending word, with the words the principle forbids masked out
   of its choices (:func:`revise`).
2. **AI feedback (RL).** A feedback model compares two replies under a randomly drawn principle; its
   preferences, mixed with human labels of helpfulness, train the reward model for PPO. Ours: the
   feedback is the checker of the drawn principle (fewer offending words wins; a tie gives no label),
   where Bai et al. asked a language model which reply better follows the principle.

Helpfulness and harm are measured with the gold preference's traits: relevance, length and a
finished sentence are *helpfulness*; a rude word is *harm*; a reply with no word of its topic is
*evasive*.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np
import torch

from rlcourse.lm.chat import prompt_text
from rlcourse.lm.preferences import END, RUDE, TOPIC_WORDS, gold_traits
from rlcourse.lm.reward_model import Comparison

_TOPIC_OF = {w: t for t, ws in TOPIC_WORDS.items() for w in ws}


@dataclass(frozen=True)
class Principle:
    name: str
    text: str
    """The principle as written in the constitution."""
    breaches: Callable[[str, list[str]], int]
    """``(prompt, words) -> how many times`` the reply breaks it (what the feedback model compares)."""
    offending: Callable[[str, list[str]], list[int]] | None = None
    """``(prompt, words) -> positions`` of the words that break it (the critique), if words are to blame."""
    forbidden: Callable[[str, list[str]], set[str]] | None = None
    """``(prompt, words so far) -> words`` a revision may not write next."""


def _rude(prompt, words):
    return [i for i, w in enumerate(words) if w in RUDE]


def _off_topic(prompt, words):
    topic = prompt.split()[1]
    return [i for i, w in enumerate(words) if w in _TOPIC_OF and _TOPIC_OF[w] != topic]


def _repeated(prompt, words):
    return [i for i, w in enumerate(words) if w != END and w in words[:i]]


def _restraint(name, text, offending, forbidden):
    return Principle(name, text, lambda p, w: len(offending(p, w)), offending, forbidden)


CONSTITUTION = (
    _restraint("no insults", "Choose the reply that insults no one and nothing.", _rude, lambda p, w: set(RUDE)),
    _restraint("on topic", "Choose the reply that stays on the topic the user asked about.", _off_topic,
               lambda p, w: {x for x, t in _TOPIC_OF.items() if t != p.split()[1]}),
    _restraint("no repetition", "Choose the reply that does not say the same thing twice.", _repeated,
               lambda p, w: set(w) - {END}),
)
"""The principles, each with the checker that reads it: all of them ask for restraint."""

ENGAGE = Principle("engage", "Choose the reply that says more about what the user asked about.",
                   lambda p, w: 2 - min(2, len({x for x in w if _TOPIC_OF.get(x) == p.split()[1]})))
"""A principle that asks for engagement: a reply breaks it once for each of two distinct words about its
topic that it lacks. There is no word to blame, so it guides feedback, not revision."""


def violations(prompt: str, reply: str, principles=CONSTITUTION) -> int:
    """How many words of ``reply`` break any of ``principles``."""
    words = reply.split()
    return sum(p.breaches(prompt, words) for p in principles)


@torch.no_grad()
def revise(model, tokenizer, prompts: list[str], replies: list[str], principles: list[Principle],
           generator: torch.Generator, max_new_tokens: int = 12) -> list[str]:
    """Critique every reply under its principle and let ``model`` rewrite it from the first offending word.

    Replies that do not break their principle come back unchanged. The rewrite keeps the words before
    the first offending one and samples the rest (temperature 1) up to the end of the sentence, never
    choosing a word the principle forbids at that point.
    """
    out = list(replies)
    todo = []  # (row, the words kept before the first offending one)
    for i, (prompt, reply, principle) in enumerate(zip(prompts, replies, principles)):
        words = reply.split()
        bad = principle.offending(prompt, words)
        if bad:
            todo.append((i, words[:bad[0]]))
    if not todo:
        return out
    vocab = tokenizer.get_vocab()
    rows = [tokenizer(prompt_text(prompts[i]) + " ".join(kept), add_special_tokens=False)["input_ids"]
            for i, kept in todo]
    written = [list(kept) for _, kept in todo]
    done = [False] * len(todo)
    for _ in range(max_new_tokens):
        T = max(map(len, rows))
        ids = torch.full((len(rows), T), tokenizer.pad_token_id, dtype=torch.long)
        attn = torch.zeros_like(ids)
        for r, row in enumerate(rows):  # left-padded, so every row's next token is read at position T - 1
            ids[r, T - len(row):], attn[r, T - len(row):] = torch.tensor(row), 1
        position_ids = (attn.cumsum(-1) - 1).clamp(min=0)
        logits = model(input_ids=ids, attention_mask=attn, position_ids=position_ids).logits[:, -1]  # (R, V)
        for r, (i, _) in enumerate(todo):  # the principle's forbidden words are never chosen
            banned = [vocab[w] for w in principles[i].forbidden(prompts[i], written[r])]
            logits[r, banned] = -float("inf")
        tokens = torch.multinomial(torch.softmax(logits, dim=-1), 1, generator=generator).squeeze(1)  # (R,)
        for r, token in enumerate(tokens.tolist()):
            if done[r]:
                continue
            if token == tokenizer.eos_token_id or len(written[r]) >= max_new_tokens - 1:
                done[r] = True
                continue
            rows[r].append(token)
            written[r].append(tokenizer.convert_ids_to_tokens(token))
            done[r] = written[r][-1] == END  # a reply is one sentence
        if all(done):
            break
    for (i, _), words in zip(todo, written):
        out[i] = " ".join(words)
    return out


def constitutional_comparisons(comparisons: list[Comparison], rng: np.random.Generator,
                               principles=CONSTITUTION) -> list[Comparison]:
    """AI feedback on pairs of replies: under a drawn principle, the reply with fewer offending words wins.

    Pairs that the drawn principle cannot tell apart get no label and are left out.
    """
    out = []
    for c in comparisons:
        principle = principles[rng.integers(len(principles))]
        a, b = (principle.breaches(c.prompt, r.split()) for r in c.replies[:2])
        if a != b:
            out.append(Comparison(c.prompt, c.replies[:2], [0, 1] if a < b else [1, 0]))
    return out


def helpfulness(prompt: str, reply: str) -> float:
    """The gold preference's helpful traits: relevance, requested length, a finished sentence."""
    t = gold_traits(prompt, reply)
    return t.relevance + t.length + t.finished


def harm_report(prompts: list[str], replies: list[str]) -> dict[str, float]:
    """Rates over replies: rude (a rude word), off topic, evasive (no word of its topic), and mean helpfulness."""
    rude = off = evasive = helpful = 0.0
    for prompt, reply in zip(prompts, replies):
        words = reply.split()
        rude += bool(_rude(prompt, words))
        off += bool(_off_topic(prompt, words))
        evasive += not any(_TOPIC_OF.get(w) == prompt.split()[1] for w in words)
        helpful += helpfulness(prompt, reply)
    n = len(replies)
    return dict(rude=rude / n, off_topic=off / n, evasive=evasive / n, helpfulness=helpful / n)
