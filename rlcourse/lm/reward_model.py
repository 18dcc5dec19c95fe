"""Reward models for Chapter 6: a GPT-2 body with a scalar head, trained on rankings of replies.

As in InstructGPT (Ouyang et al., 2022), the reward model starts from the SFT model (its transformer,
without the language-model head) and reads its score ``r(x, y)`` at the last token of the reply; the
value function of PPO is the same kind of model, read at every token, and starts from the reward
model. Simplifications: the models are nano GPTs (~0.4M parameters), one epoch of training by default,
and the labels come from simulated labelers (``rlcourse.lm.preferences``).
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from itertools import combinations
from typing import Callable

import numpy as np
import torch
from torch import nn

from rlcourse.lm import gpt2
from rlcourse.lm.chat import prompt_text
from rlcourse.lm.preferences import gold_reward, rank_replies
from rlcourse.lm.rollouts import sample_groups


@dataclass
class Encoded:
    """Prompts with a reply each, one row per pair, padded on the left so every row ends at ``T - 1``."""

    input_ids: torch.Tensor
    """(B, T) ``<|bos|><|user|>prompt<|assistant|>reply<|eos|>``."""
    attention_mask: torch.Tensor
    """(B, T) 0 on padding."""
    position_ids: torch.Tensor
    """(B, T) counted from each row's first real token."""
    mask: torch.Tensor
    """(B, T) 1 on the reply's tokens, ``<|eos|>`` included."""


def encode_replies(tokenizer, prompts: list[str], replies: list[str]) -> Encoded:
    """Token rows for (prompt, reply) pairs; every reply is closed with ``<|eos|>``."""
    unique = list(dict.fromkeys(prompts))
    heads = dict(zip(unique, tokenizer([prompt_text(p) for p in unique], add_special_tokens=False,
                                       return_attention_mask=False)["input_ids"])) if unique else {}  # one call
    tails = tokenizer(list(replies), add_special_tokens=False, return_attention_mask=False,
                      return_token_type_ids=False)["input_ids"] if len(replies) else []  # one batched call
    rows = [heads[p] + t + [tokenizer.eos_token_id] for p, t in zip(prompts, tails)]
    T = max(map(len, rows))
    pad = tokenizer.pad_token_id
    ids = torch.tensor([[pad] * (T - len(r)) + r for r in rows], dtype=torch.long)  # (B, T), left-padded
    attn = torch.tensor([[0] * (T - len(r)) + [1] * len(r) for r in rows], dtype=torch.long)
    mask = torch.tensor([[0] * (T - len(t) - 1) + [1] * (len(t) + 1) for t in tails], dtype=torch.long)
    return Encoded(ids, attn, (attn.cumsum(-1) - 1).clamp(min=0), mask)


class ScalarModel(nn.Module):
    """A GPT-2 transformer with a linear head that outputs one number per position.

    ``forward`` gives (B, T) outputs; a reward model reads the last position (:meth:`score`), a value
    function reads every position (:meth:`values`).
    """

    def __init__(self, lm):
        super().__init__()
        self.body = copy.deepcopy(lm.transformer)  # the SFT model's transformer, without its LM head
        self.head = nn.Linear(lm.config.n_embd, 1)
        nn.init.zeros_(self.head.weight)
        nn.init.zeros_(self.head.bias)

    def forward(self, input_ids, attention_mask, position_ids) -> torch.Tensor:
        hidden = gpt2.run_blocks(self.body, input_ids, attention_mask, position_ids)  # (B, T, D), as self.body(...)
        return self.head(hidden).squeeze(-1)  # (B, T)

    def score(self, batch) -> torch.Tensor:
        """(B,) the output at each row's last position (rows of :func:`encode_replies` end there).

        The same number as ``self(...)[:, -1]``, for about 60% of the computation: the last block runs
        its attention output and MLP, and the head runs, at the last position only (:func:`gpt2.last_block_at`).
        """
        x = gpt2.run_blocks(self.body, batch.input_ids, batch.attention_mask, batch.position_ids,
                            blocks=len(self.body.h) - 1)  # (B, T, D): the last block's input
        B, T, _ = x.shape
        rows, cols = torch.arange(B), torch.full((B,), T - 1)
        return self.head(gpt2.last_block_at(self.body, x, batch.attention_mask, rows, cols)).squeeze(-1)

    def values(self, batch) -> torch.Tensor:
        """(B, T) aligned with the tokens: ``values[:, t]`` is read where token ``t`` is chosen (position t-1)."""
        out = self(batch.input_ids, batch.attention_mask, batch.position_ids)
        return torch.cat([torch.zeros_like(out[:, :1]), out[:, :-1]], dim=1)


@torch.no_grad()
def score_replies(rm: ScalarModel, tokenizer, prompts: list[str], replies: list[str], batch_size: int = 512) -> np.ndarray:
    """(B,) the reward model's scores of (prompt, reply) pairs."""
    rm.eval()
    out = [rm.score(encode_replies(tokenizer, prompts[i:i + batch_size], replies[i:i + batch_size]))
           for i in range(0, len(prompts), batch_size)]
    return torch.cat(out).numpy().astype(float)


@dataclass
class Comparison:
    """K replies to one prompt and one labeler's ranking of them."""

    prompt: str
    replies: list[str]
    ranking: list[int]
    """Indices into ``replies``, best first."""
    p: float | None = None
    """A soft label (two replies only, e.g. an AI labeler's, Chapter 7): the probability that ``replies[0]``
    is the better reply; ``None`` for a ranking alone."""

    def pairs(self) -> list[tuple[int, int]]:
        """(winner, loser) index pairs, all C(K, 2) of them."""
        return [(self.ranking[a], self.ranking[b]) for a, b in combinations(range(len(self.ranking)), 2)]


def collect_comparisons(policy, tokenizer, prompts: list[str], n: int, seed: int, k_range=(4, 9),
                        max_new_tokens: int = 12) -> list[Comparison]:
    """``n`` comparisons: for each, a prompt, K (drawn from ``k_range``) replies sampled from ``policy``
    at temperature 1, ranked by a simulated labeler."""
    rng = np.random.default_rng(seed)
    chosen = [prompts[i] for i in rng.integers(len(prompts), size=n)]
    ks = rng.integers(k_range[0], k_range[1] + 1, size=n)
    groups = sample_groups(policy, tokenizer, chosen, k_range[1], max_new_tokens=max_new_tokens,
                           generator=torch.Generator().manual_seed(seed))
    out = []
    for i, (prompt, k) in enumerate(zip(chosen, ks)):
        replies = groups.replies[i * k_range[1]: i * k_range[1] + k]
        golds = np.array([gold_reward(prompt, r) for r in replies])
        out.append(Comparison(prompt, list(replies), rank_replies(golds, rng).tolist()))
    return out


@dataclass
class RewardModelConfig:
    """Training of one reward model. Defaults: Chapter 6's, sized for one CPU core."""

    epochs: int = 1
    """Passes over the comparisons (InstructGPT: one; more overfits)."""
    lr: float = 3e-4
    """Adam's learning rate (constant)."""
    prompts_per_step: int = 16
    """Comparisons (prompts, each with all its K replies) per gradient step."""
    pairing: str = "prompt"
    """``"prompt"``: all C(K, 2) pairs of a prompt in one batch element (K forward passes per prompt);
    ``"shuffled"``: the pairs shuffled over the whole data set, as many per step as ``"prompt"`` uses on
    average (two forward passes per pair)."""
    seed: int = 0
    """Seed of the data order."""


@dataclass
class RewardModelHistory:
    loss: list[float] = field(default_factory=list)
    """Training loss of every step."""
    forward_rows: int = 0
    """Replies run through the model in training (the cost)."""


def train_reward_model(sft_model, tokenizer, comparisons: list[Comparison], config: RewardModelConfig,
                       loss_fn: Callable | None = None, progress=None,
                       on_epoch: Callable | None = None) -> tuple[ScalarModel, RewardModelHistory]:
    """A reward model trained on ``comparisons`` with ``loss_fn`` (default: Chapter 6's ``ranking_loss``).

    Comparisons with a soft label ``p`` (two replies each) are trained with ``loss_fn(rewards, p)``
    instead (default: Chapter 7's ``soft_preference_loss``), ``rewards`` (N, 2) in the order of the
    replies. ``on_epoch(epoch, rm)`` runs after every epoch (e.g. to measure held-out accuracy).
    """
    from rlcourse.reference.ch06_rlhf import ranking_loss

    soft = any(c.p is not None for c in comparisons)
    if soft:
        from rlcourse.reference.ch07_beyond_rlhf import soft_preference_loss

        if config.pairing != "prompt" or any(c.p is None or len(c.replies) != 2 for c in comparisons):
            raise ValueError("soft labels need two replies and a label p on every comparison, and pairing='prompt'")
        loss_fn = loss_fn or soft_preference_loss
    loss_fn = loss_fn or ranking_loss
    rm = ScalarModel(sft_model)
    optimizer = torch.optim.Adam(rm.parameters(), lr=config.lr, foreach=True)
    rng = np.random.default_rng(config.seed)
    history = RewardModelHistory()
    if config.pairing == "prompt":
        units = comparisons
        per_step = config.prompts_per_step
    elif config.pairing == "shuffled":
        units = [Comparison(c.prompt, [c.replies[w], c.replies[l]], [0, 1]) for c in comparisons for w, l in c.pairs()]
        per_step = max(1, round(config.prompts_per_step * len(units) / len(comparisons)))
    else:
        raise ValueError(f"pairing must be 'prompt' or 'shuffled', not {config.pairing!r}")
    batches = [order[i:i + per_step] for _ in range(config.epochs)
               for order in [rng.permutation(len(units))] for i in range(0, len(units), per_step)]
    per_epoch = len(batches) // config.epochs
    rm.train()
    for step, batch in enumerate(progress(batches) if progress else batches, start=1):
        group = [units[j] for j in batch]
        K = max(len(c.replies) for c in group)
        enc = encode_replies(tokenizer, [c.prompt for c in group for _ in c.replies],
                             [r for c in group for r in c.replies])
        flat = rm.score(enc)  # (sum of K_i,)
        rewards = torch.zeros(len(group), K)
        ranking = torch.full((len(group), K), -1, dtype=torch.long)
        start = 0
        for i, c in enumerate(group):
            rewards[i, :len(c.replies)] = flat[start:start + len(c.replies)]
            ranking[i, :len(c.ranking)] = torch.tensor(c.ranking)
            start += len(c.replies)
        loss = loss_fn(rewards, torch.tensor([c.p for c in group])) if soft else loss_fn(rewards, ranking)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        history.loss.append(loss.item())
        history.forward_rows += len(enc.input_ids)
        if on_epoch is not None and step % per_epoch == 0:
            on_epoch(step // per_epoch, rm.eval())
            rm.train()
    return rm.eval(), history


def pair_order_accuracy(scores, comparisons: list[Comparison]) -> float:
    """Fraction of the labelled pairs that ``scores`` order as the labeler did (ties count half).

    ``scores`` holds one number per reply, the replies of ``comparisons`` one after the other (as
    :func:`score_replies` returns them for the rows ``[c.prompt for c in comparisons for _ in c.replies]``):
    a reward model's scores, or DPO's implicit rewards.

    Example:
        >>> c = Comparison("brief river", ["a", "b", "c"], ranking=[2, 0, 1])  # c best, then a, then b
        >>> pair_order_accuracy([0.5, 0.0, 1.0], [c]), pair_order_accuracy([0.0, 0.0, 1.0], [c])
        (1.0, 0.8333333333333334)
    """
    right, total, start = 0.0, 0, 0
    for c in comparisons:
        s = scores[start:start + len(c.replies)]
        start += len(c.replies)
        for w, l in c.pairs():
            right += 1.0 if s[w] > s[l] else 0.5 if s[w] == s[l] else 0.0
            total += 1
    return right / total


def pairwise_accuracy(rm: ScalarModel, tokenizer, comparisons: list[Comparison]) -> float:
    """Fraction of the labelled pairs that the reward model orders as the labeler did (ties count half)."""
    scores = score_replies(rm, tokenizer, [c.prompt for c in comparisons for _ in c.replies],
                           [r for c in comparisons for r in c.replies])
    return pair_order_accuracy(scores, comparisons)


def normalize_reward_model(rm: ScalarModel, tokenizer, prompts: list[str], replies: list[str]) -> float:
    """Shift the head's bias so that ``replies`` (the SFT model's) score 0 on average; returns the shift."""
    shift = float(score_replies(rm, tokenizer, prompts, replies).mean())
    with torch.no_grad():
        rm.head.bias -= shift
    return shift
