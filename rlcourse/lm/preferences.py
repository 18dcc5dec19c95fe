"""A generation task with no verifier, for Chapters 6 and 7: short replies about a topic, judged by taste.

A prompt asks for a *brief* or a *detailed* reply about one of the topics of Chapter 4's corpus
(``"brief river"``); a reply is a few words from a small vocabulary, ending with ``.``
(``"lovely water and boats ."``). No program can say that a reply is *right*; there is only a
preference between replies.

The **gold preference** (:func:`gold_reward`) stands in for what people actually want. It adds up
traits a reader can name (:func:`gold_traits`): relevance (distinct words of the prompt's topic, up
to two), no words of other topics, no rudeness, the requested length, no repeated words, some warmth
(one friendly word, not a string of them), and a finished sentence. It is used only to simulate the
labelers and to evaluate; the policies and the reward models never see it.

The **labelers** (:func:`rank_replies`) rank the K replies to a prompt by the gold reward plus
Gumbel noise of scale ``LABELER_NOISE``. For any two replies, the chance that a labeler prefers the
first is then exactly the Bradley-Terry probability ``sigmoid((g_1 - g_2) / LABELER_NOISE)``, and the
ranking of all K is a Plackett-Luce draw. The noise scale is set so that two labelers agree on about
73% of pairs of the SFT model's replies, as InstructGPT's labelers did (Ouyang et al., 2022).

The **demonstrators** (:func:`demonstration`) write replies of mixed quality, as a crowd does; the SFT
model imitates them and the base model is pretrained on short documents about the same topics
(:func:`pretraining_documents`), the text whose likelihood measures the alignment tax.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

TOPIC_WORDS = {
    "river": ("water", "boats", "fish", "bridge"),
    "bakery": ("bread", "cakes", "ovens", "flour"),
    "library": ("books", "readers", "shelves", "quiet"),
    "garden": ("flowers", "roses", "trees", "bees"),
    "trail": ("hikers", "peaks", "paths", "views"),
    "jazz": ("music", "saxophone", "songs", "drums"),
    "station": ("trains", "tickets", "platforms", "clocks"),
    "village": ("nets", "harbour", "fishermen", "cottages"),
    "museum": ("fossils", "exhibits", "science", "robots"),
    "chess": ("players", "moves", "kings", "boards"),
}
"""The topics (from Chapter 4's synthetic crawl) and the words that are *about* each."""
TOPICS = tuple(TOPIC_WORDS)
FILLER = ("it", "has", "is", "the", "and", "with", "many", "some", "very", "old", "big", "there", "are", "at")
FRIENDLY = ("lovely", "great", "wonderful", "charming")
RUDE = ("stupid", "boring", "awful", "ugly")
STYLES = {"brief": 4, "detailed": 8}
"""The two kinds of request and the number of words each asks for."""
END = "."
VOCABULARY = (*TOPICS, *STYLES, *sorted({w for ws in TOPIC_WORDS.values() for w in ws}), *FILLER, *FRIENDLY,
              *RUDE, END)
"""Every word a prompt, a reply or a pretraining document can contain (one token each)."""
MAX_REPLY_WORDS = 10
"""Longest reply the demonstrators write, the final ``.`` not counted."""
LABELER_NOISE = 0.85
"""Scale of the labelers' Gumbel noise, in units of gold reward (two labelers agree on ~73% of pairs)."""

_TOPIC_OF = {w: t for t, ws in TOPIC_WORDS.items() for w in ws}


def prompts() -> list[str]:
    """All 20 prompts: a style and a topic, e.g. ``"brief river"``."""
    return [f"{style} {topic}" for topic in TOPICS for style in STYLES]


@dataclass(frozen=True)
class Traits:
    """The named traits of a reply that the gold preference adds up (see :func:`gold_reward`)."""

    relevance: float
    """+1 per distinct word of the prompt's topic, at most 2."""
    off_topic: float
    """-0.75 per word of another topic."""
    rudeness: float
    """-1.5 per rude word."""
    length: float
    """-0.4 per word away from the requested length (4 brief, 8 detailed)."""
    repetition: float
    """-0.75 per word that repeats an earlier one."""
    warmth: float
    """+0.75 for a friendly word, -0.5 for every friendly word after the first."""
    finished: float
    """+0.5 when the reply ends with ``.`` (a cut-off reply does not)."""

    @property
    def total(self) -> float:
        return (self.relevance + self.off_topic + self.rudeness + self.length + self.repetition + self.warmth
                + self.finished)


def gold_traits(prompt: str, reply: str) -> Traits:
    """The gold preference's view of ``reply`` to ``prompt``, trait by trait.

    Example:
        >>> gold_traits("brief river", "lovely water and boats .").total
        3.25
    """
    style, topic = prompt.split()
    tokens = reply.split()
    finished = bool(tokens) and tokens[-1] == END
    words = [w for w in tokens if w != END]
    own = {w for w in words if _TOPIC_OF.get(w) == topic}
    friendly = sum(w in FRIENDLY for w in words)
    return Traits(
        relevance=float(min(len(own), 2)),
        off_topic=-0.75 * sum(w in _TOPIC_OF and _TOPIC_OF[w] != topic for w in words),
        rudeness=-1.5 * sum(w in RUDE for w in words),
        length=-0.4 * abs(len(words) - STYLES[style]),
        repetition=-0.75 * (len(words) - len(set(words))),
        warmth=(0.75 - 0.5 * (friendly - 1)) if friendly else 0.0,
        finished=0.5 if finished else 0.0,
    )


def gold_reward(prompt: str, reply: str) -> float:
    """The hidden gold preference: the sum of :func:`gold_traits`. Higher is better."""
    return gold_traits(prompt, reply).total


def demonstration(prompt: str, rng: np.random.Generator) -> str:
    """A reply written by one of a crowd of demonstrators of mixed care.

    The length is drawn around the requested one; each word is one of the topic's (35%), a filler word
    (35%), another topic's (12%), a friendly (10%) or a rude one (8%); 85% of replies end with ``.``.
    """
    style, topic = prompt.split()
    target = STYLES[style]
    n = int(np.clip(target + rng.integers(-3, 4), 1, MAX_REPLY_WORDS))
    pools = [TOPIC_WORDS[topic], FILLER, tuple(_TOPIC_OF), FRIENDLY, RUDE]
    kinds = rng.choice(len(pools), size=n, p=[0.35, 0.35, 0.12, 0.10, 0.08])
    words = [pools[k][rng.integers(len(pools[k]))] for k in kinds]
    return " ".join(words + ([END] if rng.random() < 0.85 else []))


_TEMPLATES = ("the {t} has {a} and {b} .", "there are many {a} at the {t} .", "it is a {f} {t} with {a} .",
              "the {a} at the {t} are {g} .", "some {a} and {b} are there .", "the {t} is {f} .")


def pretraining_documents(n: int, seed: int) -> list[str]:
    """``n`` short web-like documents (two to four sentences about one topic), the base model's corpus."""
    rng = np.random.default_rng(seed)
    docs = []
    for _ in range(n):
        topic = TOPICS[rng.integers(len(TOPICS))]
        sentences = []
        for _ in range(rng.integers(2, 5)):
            a, b = rng.choice(TOPIC_WORDS[topic], size=2, replace=False)
            f = (FRIENDLY + RUDE)[rng.integers(len(FRIENDLY + RUDE))]
            g = ("old", "big", "lovely", "great", "boring")[rng.integers(5)]
            sentences.append(_TEMPLATES[rng.integers(len(_TEMPLATES))].format(t=topic, a=a, b=b, f=f, g=g))
        docs.append(" ".join(sentences))
    return docs


def rank_replies(golds: np.ndarray, rng: np.random.Generator, noise: float = LABELER_NOISE) -> np.ndarray:
    """One labeler's ranking of K replies: their indices, best first.

    The labeler sorts ``gold + noise * Gumbel``: each pair is ordered with the Bradley-Terry probability
    ``sigmoid((g_i - g_j) / noise)``, and the whole ranking is a Plackett-Luce draw.

    Args:
        golds: (K,) gold rewards of the replies.
        rng: the labeler's random generator.
        noise: scale of the noise (0: a perfect labeler).

    Returns:
        (K,) int array, a permutation of ``range(K)``.
    """
    perceived = np.asarray(golds, dtype=float) + noise * rng.gumbel(size=len(golds))
    return np.argsort(-perceived, kind="stable")


def pair_agreement(ranking_a: np.ndarray, ranking_b: np.ndarray) -> tuple[int, int]:
    """(pairs ordered the same way by two rankings of the same replies, number of pairs)."""
    pos_a, pos_b = np.argsort(ranking_a), np.argsort(ranking_b)  # position of each reply in each ranking
    K = len(pos_a)
    same = sum((pos_a[i] < pos_a[j]) == (pos_b[i] < pos_b[j]) for i in range(K) for j in range(i + 1, K))
    return int(same), K * (K - 1) // 2


def follows_length(prompt: str, reply: str, slack: int = 1) -> bool:
    """Whether ``reply`` obeys the prompt's explicit constraint: the requested length, to within ``slack`` words.

    The final ``.`` is not counted, as in :func:`gold_traits`.

    Example:
        >>> follows_length("brief river", "lovely water and boats ."), follows_length("detailed river", "water .")
        (True, False)
    """
    style = prompt.split()[0]
    words = [w for w in reply.split() if w != END]
    return abs(len(words) - STYLES[style]) <= slack


class GoldScorer:
    """The gold preference behind a reward model's interface, so that PPO can optimise it directly.

    A verifier in place of a learned reward model (Chapter 5's RLVR): ``rlcourse.lm.ppo.train_ppo`` calls
    ``reward_model.eval()`` and ``reward_model.score(batch)`` on rows built by
    ``rlcourse.lm.reward_model.encode_replies``; this object decodes each row back into its prompt and
    reply and returns their :func:`gold_reward`. It has no value head: pass the loop a ``value_start``.
    """

    def __init__(self, tokenizer):
        self.tokenizer = tokenizer

    def eval(self) -> "GoldScorer":
        return self

    def score(self, batch):
        """(B,) float tensor: the gold reward of each row's (prompt, reply)."""
        import torch

        golds = []
        for ids, attn, mask in zip(batch.input_ids, batch.attention_mask, batch.mask):
            reply = self.tokenizer.decode(ids[mask.bool()], skip_special_tokens=True)
            prompt = self.tokenizer.decode(ids[attn.bool() & ~mask.bool()], skip_special_tokens=True)
            golds.append(gold_reward(prompt, reply))
        return torch.tensor(golds, dtype=torch.float32)


CLOZE_FRAMES = (("{a} with {b} .", "b"), ("many {a} and many {b} .", "b"), ("{a} and {b} are old .", "b"),
                ("there are {a} and {b} .", "b"), ("the {t} is very old with {a} and {b} .", "b"),
                ("{a} and {b} are at the {t} .", "t"), ("the {a} are old and the {t} is big .", "t"),
                ("the {t} is big . it is old . some {a} are there .", "a"),
                ("the {t} is big . it is old . it is very old . the {a} are there .", "a"))
"""Sentence frames that no pretraining document contains, each with the blank a cloze question asks about:
``b``, a word of the same topic as ``a``; ``t``, the topic of the words; ``a``, a word of the topic named
sentences before. The knowledge needed (which words go with which topic) is in the pretraining documents;
these sentences are not. The frames are all those tried that the ``replies-base`` model answers right at
least 95% of the time (the skill must come from pretraining): a rule that looks at no fine-tuned model.
Three frames failed it; one more was left out because pretraining sentences contain it."""


@dataclass(frozen=True)
class ClozeQuestion:
    """A multiple-choice question answered by a language model's likelihoods (as HellaSwag is)."""

    frame: int
    """Index in :data:`CLOZE_FRAMES`."""
    choices: tuple[str, ...]
    """One sentence per topic: the blank filled with that topic (or one of its words)."""
    answer: int
    """Index of the right choice."""


def cloze_questions(n: int, seed: int) -> list[ClozeQuestion]:
    """``n`` questions per frame of :data:`CLOZE_FRAMES`, each with ten choices (one per topic; chance 10%).

    Example:
        >>> qs = cloze_questions(2, seed=0)
        >>> len(qs), len(qs[0].choices), qs[-1].choices[qs[-1].answer].split()[1] in TOPICS
        (18, 10, True)
    """
    rng = np.random.default_rng(seed)
    out = []
    for f, (frame, blank) in enumerate(CLOZE_FRAMES):
        for _ in range(n):
            topic = TOPICS[rng.integers(len(TOPICS))]
            a, b = rng.choice(TOPIC_WORDS[topic], size=2, replace=False)
            choices = []
            for other in TOPICS:
                fill = {"t": topic, "a": a, "b": b}
                if other != topic:
                    words = TOPIC_WORDS[other]
                    fill[blank] = other if blank == "t" else words[rng.integers(len(words))]
                choices.append(frame.format(**fill))
            out.append(ClozeQuestion(f, tuple(choices), TOPICS.index(topic)))
    return out
