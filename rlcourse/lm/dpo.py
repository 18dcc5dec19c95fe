"""Direct preference optimisation (Rafailov et al., 2023) on Chapter 6's comparisons: no reward model,
no sampling during training; the policy is trained on the labelled pairs themselves.

Every ranked group of K replies gives its C(K, 2) (preferred, rejected) pairs, as for the reward
model. Each step takes ``prompts_per_step`` groups, computes the sequence log-probability of each of
their replies once under the policy and under the frozen SFT model, and minimises Chapter 6's
``dpo_loss`` over all their pairs (each pair weighs the same).
Simplifications: nano models, a constant learning rate, no label smoothing.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from typing import Callable

import numpy as np
import torch

from rlcourse.lm.reward_model import Comparison, encode_replies


@dataclass
class DPOConfig:
    """One DPO run. Defaults: Chapter 6's, sized for one CPU core."""

    epochs: int = 1
    """Passes over the comparisons."""
    lr: float = 3e-4
    """Adam's learning rate (constant)."""
    beta: float = 0.1
    """Strength of the implicit KL constraint (the paper's default 0.1)."""
    prompts_per_step: int = 16
    """Comparisons per gradient step; all C(K, 2) pairs of each, every reply run once (as for the
    reward model)."""
    seed: int = 0
    """Seed of the order of the comparisons."""


@dataclass
class DPOHistory:
    loss: list[float] = field(default_factory=list)
    """Training loss of every step."""


def sequence_logprobs(model, tokenizer, prompts: list[str], replies: list[str]) -> torch.Tensor:
    """(B,) log pi(reply | prompt), summed over the reply's tokens (``<|eos|>`` included)."""
    from rlcourse.reference.ch05_rlvr import token_logprobs

    enc = encode_replies(tokenizer, prompts, replies)
    logits = model(input_ids=enc.input_ids, attention_mask=enc.attention_mask, position_ids=enc.position_ids).logits
    return token_logprobs(logits, enc.input_ids, enc.mask).sum(dim=1)


def train_dpo(sft_model, tokenizer, comparisons: list[Comparison], config: DPOConfig,
              loss_fn: Callable | None = None, progress=None, callback: Callable | None = None,
              reference_cache: dict | None = None):
    """DPO from ``sft_model`` (also the reference; left unchanged). Returns ``(policy, history)``.

    ``callback(step, policy)`` runs after every step (e.g. to measure the KL along the way).
    ``reference_cache``: a dict shared by runs from the same ``sft_model`` on the same ``comparisons``
    (e.g. with other values of ``beta``): the reference log-probabilities of a batch are stored there
    and read back by a later run that draws the same batch, the same numbers without the forward pass.
    """
    from rlcourse.reference.ch06_rlhf import dpo_loss

    loss_fn = loss_fn or dpo_loss
    policy, reference = copy.deepcopy(sft_model), copy.deepcopy(sft_model).eval()
    optimizer = torch.optim.Adam(policy.parameters(), lr=config.lr, foreach=True)
    rng = np.random.default_rng(config.seed)
    n = config.prompts_per_step
    batches = [order[i:i + n] for _ in range(config.epochs)
               for order in [rng.permutation(len(comparisons))] for i in range(0, len(comparisons), n)]
    history = DPOHistory()
    policy.train()
    for step, batch in enumerate(progress(batches) if progress else batches, start=1):
        group = [comparisons[j] for j in batch]
        prompts = [c.prompt for c in group for _ in c.replies]
        replies = [r for c in group for r in c.replies]
        offsets = np.cumsum([0] + [len(c.replies) for c in group])
        win = torch.tensor([offsets[i] + w for i, c in enumerate(group) for w, _ in c.pairs()])
        lose = torch.tensor([offsets[i] + l for i, c in enumerate(group) for _, l in c.pairs()])
        logp = sequence_logprobs(policy, tokenizer, prompts, replies)  # (rows,) each reply once
        key = (id(sft_model), id(comparisons), tuple(batch.tolist()))  # the same model, data and batch
        if reference_cache is not None and key in reference_cache:
            ref_logp = reference_cache[key]
        else:
            with torch.no_grad():
                ref_logp = sequence_logprobs(reference, tokenizer, prompts, replies)
            if reference_cache is not None:
                reference_cache[key] = ref_logp
        loss = loss_fn(logp[win], logp[lose], ref_logp[win], ref_logp[lose], config.beta)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        history.loss.append(loss.item())
        if callback is not None:
            callback(step, policy)
    return policy.eval(), history
