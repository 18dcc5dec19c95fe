"""Chapter 5's RL loop: GRPO-style policy gradients from a verifier's reward, on a chat model.

One step:

1. draw ``n_prompts`` training prompts (never the held-out ones) and sample ``group_size``
   completions of each at ``temperature``, with the KV cache (``rlcourse.lm.rollouts``);
2. score every completion with the verifier and turn the scores into group-relative advantages;
3. compute the log-probabilities of the sampled tokens under the model (with gradients) and under the
   frozen starting model (without);
4. take one gradient step on the policy-gradient loss plus ``beta`` times the mean ``k3`` KL, with
   the gradient norm clipped and the learning rate decaying linearly to 0.

Simplifications of the published GRPO (Shao et al., 2024), stated up front: one gradient step per
batch (so the clipped ratio is always 1 and is left out: its gradient would be the same), the KL
term in the loss as GRPO does, token-level loss normalisation, and no reward model (a verifier).

The loop is built from Chapter 5's exercise functions, passed in as ``pieces``: the chapter's
notebook passes its own (the student's) functions, the benchmarks pass the references.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Callable

import numpy as np
import torch

from rlcourse.lm.checkpoints import held_out_problems
from rlcourse.lm.evaluate import exact_match
from rlcourse.lm.rollouts import sample_groups
from rlcourse.lm.tasks import addition_problems


@dataclass
class GRPOConfig:
    """One RL run on the addition task. Defaults: Chapter 5's runs, sized for one CPU core."""

    steps: int = 60
    """Gradient steps (one batch of fresh samples each)."""
    lr: float = 5e-4
    """Adam's learning rate at the start; it decays linearly to 0 at the last step."""
    n_prompts: int = 16
    """Prompts per step (N)."""
    group_size: int = 8
    """Completions sampled per prompt (K); the group mean is each completion's baseline."""
    beta: float = 0.0
    """Weight of the k3 KL penalty to the starting model in the loss."""
    temperature: float = 1.0
    """Sampling temperature of the rollouts."""
    max_new_tokens: int = 7
    """Longest completion (a 3-digit sum plus ``<|eos|>`` needs 5)."""
    max_grad_norm: float | None = 1.0
    """Gradient norm clip (``None``: no clipping)."""
    digits: tuple[int, ...] = (2, 3)
    """Operand lengths of the training prompts."""
    eval_every: int = 20
    """Steps between two greedy exact-match evaluations on the held-out problems (the last step is
    always evaluated)."""
    seed: int = 0
    """Seed of the prompts drawn and of the sampling."""


@dataclass(kw_only=True)
class Pieces:
    """Chapter 5's exercise functions the loop is made of (defaults: the references).

    Built by keyword only, ``Pieces(verifier_reward=verifier_reward, ...)``: given by position, a
    reordering of the fields would silently hand one function another's place.
    """

    verifier_reward: Callable | None = None
    group_advantages: Callable | None = None
    token_logprobs: Callable | None = None
    policy_gradient_loss: Callable | None = None
    kl_estimate: Callable | None = None

    def __post_init__(self):
        from rlcourse.reference import ch05_rlvr

        for name in ("verifier_reward", "group_advantages", "token_logprobs", "policy_gradient_loss", "kl_estimate"):
            if getattr(self, name) is None:
                setattr(self, name, getattr(ch05_rlvr, name))


@dataclass
class History:
    """What a run measured: one entry per step, and the held-out exact match every ``eval_every`` steps."""

    reward: list[float] = field(default_factory=list)
    """Mean reward of the step's samples."""
    all_fail: list[float] = field(default_factory=list)
    """Fraction of the step's groups with no correct sample (their advantages are all 0)."""
    kl: list[float] = field(default_factory=list)
    """Mean k3 KL estimate to the starting model over the completion tokens."""
    eval_step: list[int] = field(default_factory=list)
    exact_match: list[float] = field(default_factory=list)


@lru_cache(maxsize=1)
def _held_out_questions() -> frozenset[str]:
    return frozenset(p["question"] for p in held_out_problems())


def training_prompts(n: int, rng: np.random.Generator, digits: tuple[int, ...] = (2, 3)) -> list[dict]:
    """``n`` fresh addition problems (answers reversed) drawn with ``rng``, none of them held out."""
    problems = addition_problems(2 * n, seed=int(rng.integers(2**31)), digits=digits, reverse=True)
    return [p for p in problems if p["question"] not in _held_out_questions()][:n]


def prompt_batches(config: GRPOConfig) -> list[list[dict]]:
    """The training prompts of every step of a run (seeded by ``config.seed``)."""
    rng = np.random.default_rng(config.seed)
    return [training_prompts(config.n_prompts, rng, config.digits) for _ in range(config.steps)]


def train_grpo(start, tokenizer, config: GRPOConfig, pieces: Pieces | None = None,
               eval_problems: list[dict] | None = None, progress=None, start_exact_match: float | None = None):
    """RL from the model ``start`` (left unchanged); returns the trained model and its :class:`History`.

    Args:
        start: a chat model (e.g. the ``addition-sft`` checkpoint).
        tokenizer: its tokenizer (left padding).
        config: the run's settings.
        pieces: the exercise functions to use (default: Chapter 5's references).
        eval_problems: held-out problems for exact match (default: the 500 of ``held_out_problems``;
            an empty list skips evaluation).
        progress: wraps the range of steps, e.g. ``lambda steps: rlcourse.notebook.progress(steps, "RL")``.
        start_exact_match: the exact match of ``start`` on ``eval_problems``, if already measured (it is
            then not measured again at step 0).
    """
    f = pieces or Pieces()
    eval_problems = held_out_problems() if eval_problems is None else eval_problems
    model, reference = copy.deepcopy(start), copy.deepcopy(start).eval()
    optimizer = torch.optim.Adam(model.parameters(), lr=config.lr, foreach=True)  # = the default loop, fewer calls
    schedule = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda i: 1 - i / config.steps)  # linear decay to 0
    generator = torch.Generator().manual_seed(config.seed)
    history = History()

    def evaluate(step):
        if eval_problems:
            history.eval_step.append(step)
            history.exact_match.append(start_exact_match if step == 0 and start_exact_match is not None
                                       else exact_match(model, tokenizer, eval_problems, reverse=True))

    evaluate(0)
    steps = range(1, config.steps + 1)
    for step, problems in zip(progress(steps) if progress else steps, prompt_batches(config)):
        model.eval()
        rollouts = sample_groups(model, tokenizer, [p["question"] for p in problems], config.group_size,
                                 max_new_tokens=config.max_new_tokens, temperature=config.temperature,
                                 generator=generator)
        values = [p["value"] for p in problems for _ in range(config.group_size)]
        rewards = torch.tensor([f.verifier_reward(r, v) for r, v in zip(rollouts.replies, values)])
        rewards = rewards.view(-1, config.group_size)  # (N, K)
        advantages = f.group_advantages(rewards, normalize=True).view(-1)  # (B,)

        model.train()
        logp = f.token_logprobs(rollouts.forward_logits(model), rollouts.input_ids, rollouts.mask)  # (B, T)
        with torch.no_grad():
            ref_logp = f.token_logprobs(rollouts.forward_logits(reference), rollouts.input_ids, rollouts.mask)
        kl = f.kl_estimate(logp, ref_logp, rollouts.mask, "k3").sum() / rollouts.mask.sum()
        loss = f.policy_gradient_loss(logp, advantages, rollouts.mask, "token") + config.beta * kl
        optimizer.zero_grad()
        loss.backward()
        if config.max_grad_norm is not None:
            torch.nn.utils.clip_grad_norm_(model.parameters(), config.max_grad_norm)
        optimizer.step()
        schedule.step()

        history.reward.append(rewards.mean().item())
        history.all_fail.append((rewards.sum(dim=1) == 0).float().mean().item())
        history.kl.append(kl.item())
        if step % config.eval_every == 0 or step == config.steps:
            evaluate(step)
    return model.eval(), history
