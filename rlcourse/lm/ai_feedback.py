"""Preferences from an AI labeler, for Chapter 7 (RLAIF, Lee et al., 2023; Constitutional AI, Bai et al., 2022).

The **judge** reads a prompt and two replies, shown in an order, and gives the probability that the
reply shown *first* is better:

    P(first better) = sigmoid(s(x, y_first) - s(x, y_second) + delta)

``s`` is a language model with a scalar head (it starts from the larger SFT model,
``replies-sft-large``, the ``micro`` preset) and ``delta`` is one learned number, the judge's leaning
towards the first slot. The judge learns from a small set of comparisons labelled by the gold
preference itself (careful labels, no noise): the stand-in for a strong model's judgement.
Simplifications: a real AI labeler is a large model *prompted* with instructions and examples, not
trained on labels of the task, and it reads both replies in one context; ours scores each reply with
the same network and adds the order term, the simplest judge that can have an order effect. Since it
had to learn the task, the labels it needed are part of its cost.

**Position bias.** The judge learns from soft labels, the probability that careful raters prefer the
first reply they read: ``sigmoid((g_first - g_second) / label_scale + lean)``, with ``g`` the gold
reward and ``lean`` a primacy effect (when two replies are close, the one read first tends to win).
The judge learns the lean with the task (``delta``), so its verdict can change when the replies swap
places. With ``sampled`` the judge sees one rater's verdict per pair instead of the probability, a
label as noisy as one of Chapter 6's people gives (the control that shows what clean labels are
worth). Large LLM labelers show such order effects without being taught them; here the cause is
planted and known, so its removal can be measured.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import torch
from torch import nn

from rlcourse.lm.preferences import gold_reward
from rlcourse.lm.reward_model import Comparison, ScalarModel, encode_replies


class Judge(nn.Module):
    """A reply scorer ``s`` and an order term ``delta``: ``forward`` gives the logit of P(first better)."""

    def __init__(self, lm):
        super().__init__()
        self.scorer = ScalarModel(lm)
        self.delta = nn.Parameter(torch.zeros(()))

    def forward(self, first, second) -> torch.Tensor:
        """(B,) logits; ``first`` and ``second`` are batches of :func:`encode_replies`."""
        return self.scorer.score(first) - self.scorer.score(second) + self.delta


@dataclass
class JudgeConfig:
    """Training of the AI labeler. Defaults sized for a laptop CPU (seconds)."""

    label_scale: float = 0.5
    """Gold-reward difference that moves the raters' probability by one logit (smaller: more decisive)."""
    lean: float = 1.0
    """The raters' lean towards the reply they read first, in logits (the source of the position bias)."""
    sampled: bool = False
    """``False``: the judge learns the raters' probability itself (a label free of noise); ``True``: one
    verdict per pair, drawn from that probability, as one of Chapter 6's labelers gives."""
    epochs: int = 3
    """Passes over the labelled pairs."""
    lr: float = 3e-4
    """Adam's learning rate of the scorer."""
    delta_lr: float = 0.05
    """Adam's learning rate of the order term (one number; at the scorer's rate it would barely move)."""
    batch_size: int = 32
    seed: int = 0
    """Seed of the order of the replies and of the batches."""


@dataclass
class JudgeHistory:
    loss: list[float] = field(default_factory=list)
    labels: int = 0
    """Gold labels the judge learned from."""


def gold_pairs(comparisons: list[Comparison]) -> list[tuple[str, str, str]]:
    """(prompt, reply, reply) from the first two replies of each comparison (identical replies left out)."""
    return [(c.prompt, c.replies[0], c.replies[1]) for c in comparisons if c.replies[0] != c.replies[1]]


def train_judge(base_lm, tokenizer, pairs: list[tuple[str, str, str]], config: JudgeConfig) -> tuple[Judge, JudgeHistory]:
    """The judge, trained with cross-entropy on the raters' soft labels of ``(prompt, a, b)`` pairs, each
    shown in one random order."""
    torch.manual_seed(config.seed)
    rng = np.random.default_rng(config.seed)
    swap = rng.random(len(pairs)) < 0.5
    prompts = [p for p, _, _ in pairs]
    first = [b if s else a for (_, a, b), s in zip(pairs, swap)]
    second = [a if s else b for (_, a, b), s in zip(pairs, swap)]
    gap = torch.tensor([gold_reward(p, f) - gold_reward(p, s) for p, f, s in zip(prompts, first, second)])
    target = torch.sigmoid(gap / config.label_scale + config.lean)  # the raters' P(first better)
    if config.sampled:  # one rater's verdict per pair
        target = (torch.from_numpy(rng.random(len(pairs))) < target).to(target.dtype)
    firsts, seconds = encode_replies(tokenizer, prompts, first), encode_replies(tokenizer, prompts, second)
    judge = Judge(base_lm)
    optimizer = torch.optim.Adam([dict(params=judge.scorer.parameters()),
                                  dict(params=[judge.delta], lr=config.delta_lr)], lr=config.lr)
    history = JudgeHistory(labels=len(pairs))
    judge.train()
    for _ in range(config.epochs):
        order = torch.from_numpy(rng.permutation(len(pairs)))
        for i in range(0, len(order), config.batch_size):
            idx = order[i:i + config.batch_size]
            logits = judge(_rows(firsts, idx), _rows(seconds, idx))
            loss = nn.functional.binary_cross_entropy_with_logits(logits, target[idx])
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            history.loss.append(loss.item())
    return judge.eval(), history


def _rows(enc, idx):
    return type(enc)(enc.input_ids[idx], enc.attention_mask[idx], enc.position_ids[idx], enc.mask[idx])


@torch.no_grad()
def first_is_better(judge: Judge, tokenizer, prompts: list[str], firsts: list[str], seconds: list[str],
                    batch_size: int = 512) -> torch.Tensor:
    """(B,) the judge's probability that the reply shown first is the better one."""
    out = []
    for i in range(0, len(prompts), batch_size):
        chunk = slice(i, i + batch_size)
        out.append(torch.sigmoid(judge(encode_replies(tokenizer, prompts[chunk], firsts[chunk]),
                                       encode_replies(tokenizer, prompts[chunk], seconds[chunk]))))
    return torch.cat(out)


def ai_comparisons(comparisons: list[Comparison], p_a_better: torch.Tensor, soft: bool = False) -> list[Comparison]:
    """The comparisons (two replies each) re-labelled: reply 0 wins where ``P(A better) >= 0.5``; with
    ``soft``, the probability is kept as the comparison's soft label ``p`` too (Lee et al. train on it)."""
    return [Comparison(c.prompt, c.replies[:2], [0, 1] if p >= 0.5 else [1, 0], p if soft else None)
            for c, p in zip(comparisons, p_a_better.tolist())]
