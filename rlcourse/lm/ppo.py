"""Chapter 6's RL loop: PPO against a reward model with a per-token KL penalty from the SFT model,
optionally with pretraining gradients mixed in (PPO-ptx), as in InstructGPT (Ouyang et al., 2022).

One step:

1. sample one reply to each of ``batch_size`` prompts from the policy (temperature 1, KV cache);
2. score each reply with the reward model; compute the log-probabilities of its tokens under the
   policy and the frozen SFT model, and the value function's estimates;
3. shape the rewards: ``-beta (log pi - log pi_SFT)`` at every token, the score at the last one;
   generalised advantage estimation (``gamma = 1``, ``lam = 0.95``) gives advantages and returns;
4. ``epochs`` passes over the batch in ``minibatches``: the clipped surrogate loss on the policy, the
   clipped value loss on the value function, and, with ``ptx_coef > 0``, minus ``ptx_coef`` times the
   log-likelihood of a batch of pretraining documents;
5. with ``target_kl`` set, adapt ``beta`` towards that KL (Ziegler et al., 2019).

Simplifications of the published algorithm, stated up front: nano models and replies of at most 12
tokens; one reply per prompt per step; a separate value model initialised from the reward model (as
InstructGPT); advantages whitened per batch; no entropy bonus; the reward model is frozen; the
gold reward is only logged, never used.

The loop is built from the exercise functions of Chapters 5 and 6, passed in as ``pieces`` (defaults:
the references).
"""

from __future__ import annotations

import copy
import math
from dataclasses import dataclass, field
from typing import Callable

import numpy as np
import torch

from rlcourse.lm.preferences import gold_reward, pretraining_documents
from rlcourse.lm.reward_model import ScalarModel, encode_replies
from rlcourse.lm.rollouts import sample_groups
from rlcourse.lm.training import document_tokens, pad_batch


@dataclass
class PPOConfig:
    """One PPO run on the replies task. Defaults: Chapter 6's runs, sized for one CPU core."""

    steps: int = 60
    """Batches of fresh samples."""
    batch_size: int = 64
    """Replies sampled per step (prompts drawn with replacement; 4 replies share a prompt's cache)."""
    epochs: int = 2
    """Passes over each batch (PPO reuses a batch; the clipped objective keeps the steps small)."""
    minibatches: int = 2
    """Gradient steps per pass."""
    lr: float = 1e-3
    """Adam's learning rate of the policy (constant)."""
    value_lr: float = 1e-3
    """Adam's learning rate of the value function."""
    beta: float = 0.02
    """KL coefficient of the per-token penalty (InstructGPT: 0.02)."""
    target_kl: float | None = None
    """With a value, ``beta`` adapts so that the KL per reply approaches it (Ziegler et al., 2019)."""
    kl_horizon: float = 5.0
    """Steps over which the adaptive ``beta`` reacts: each step multiplies it by ``1 + e / kl_horizon``,
    with ``e = clip(KL / target_kl - 1, -0.2, 0.2)``."""
    gamma: float = 1.0
    """Discount of GAE (InstructGPT: 1)."""
    lam: float = 0.95
    """GAE's lambda."""
    clip_eps: float = 0.2
    """Clip range of the policy ratio."""
    value_clip: float = 0.2
    """Clip range of the value function's change per batch."""
    ptx_coef: float = 0.0
    """Weight of the pretraining log-likelihood (PPO-ptx; 0: plain PPO)."""
    ptx_batch: int = 32
    """Pretraining documents per gradient step when ``ptx_coef > 0``."""
    max_new_tokens: int = 12
    """Longest reply in tokens, ``<|eos|>`` included."""
    max_grad_norm: float = 1.0
    """Gradient norm clip of the policy and of the value function."""
    seed: int = 0
    """Seed of the prompts, the samples and the minibatch order."""


@dataclass(kw_only=True)
class Pieces:
    """The exercise functions the loop is made of (defaults: the references of Chapters 5 and 6).

    Built by keyword only, ``Pieces(gae=gae, ...)``: given by position, a reordering of the fields
    would silently hand one function another's place.
    """

    token_logprobs: Callable | None = None
    shaped_rewards: Callable | None = None
    gae: Callable | None = None
    clipped_surrogate_loss: Callable | None = None
    clipped_value_loss: Callable | None = None
    ptx_loss: Callable | None = None

    def __post_init__(self):
        from rlcourse.reference import ch05_rlvr, ch06_rlhf

        for name in ("token_logprobs", "clipped_surrogate_loss"):
            setattr(self, name, getattr(self, name) or getattr(ch05_rlvr, name))
        for name in ("shaped_rewards", "gae", "clipped_value_loss", "ptx_loss"):
            setattr(self, name, getattr(self, name) or getattr(ch06_rlhf, name))


@dataclass
class PPOHistory:
    """What a run measured, one entry per step (on that step's samples)."""

    gold: list[float] = field(default_factory=list)
    """Mean gold reward (never seen by the loop)."""
    proxy: list[float] = field(default_factory=list)
    """Mean reward-model score."""
    kl: list[float] = field(default_factory=list)
    """Mean KL(pi || pi_SFT) per reply, estimated by the sum of ``log pi - log pi_SFT`` over its tokens."""
    beta: list[float] = field(default_factory=list)
    """The KL coefficient used."""
    explained_variance: list[float] = field(default_factory=list)
    """1 - Var(returns - V) / Var(returns) over reply tokens, before the update."""
    replies: list[list[str]] = field(default_factory=list)
    """A few sampled replies at every ``sample_every`` steps (for reading)."""


def pretraining_batch(tokenizer, n: int, seed: int) -> dict:
    """``n`` pretraining documents as padded rows: :func:`~rlcourse.lm.training.pad_batch`'s tensors
    (``loss_mask`` 1 on every real token) and ``predicted_mask``, 1 on the tokens a model predicts,
    which are all but the first: each document's ``<|bos|>`` is given, not predicted, so it has no
    log-likelihood to average."""
    docs = [document_tokens(tokenizer, d) for d in pretraining_documents(n, seed)]
    batch = pad_batch(docs, [[1] * len(d) for d in docs], tokenizer.pad_token_id)
    batch["predicted_mask"] = batch["loss_mask"].clone()
    batch["predicted_mask"][:, 0] = 0
    return batch


def explained_variance(values: torch.Tensor, returns: torch.Tensor, mask: torch.Tensor) -> float:
    """1 - Var(returns - values) / Var(returns) over the positions where ``mask`` is 1."""
    m = mask.bool()
    ret, err = returns[m], (returns - values)[m]
    var = ret.var(unbiased=False)
    return float("nan") if var == 0 else float(1 - err.var(unbiased=False) / var)


def train_ppo(policy_start, tokenizer, reward_model: ScalarModel, prompts: list[str], config: PPOConfig,
              pieces: Pieces | None = None, value_start: ScalarModel | None = None, progress=None,
              sample_every: int = 0, callback: Callable | None = None):
    """PPO from ``policy_start`` (the SFT model, also the KL reference; left unchanged).

    Args:
        policy_start: the SFT chat model.
        tokenizer: its tokenizer.
        reward_model: the frozen reward model (normalised so SFT replies score 0).
        prompts: the prompts to draw from.
        config: the run's settings.
        pieces: the exercise functions (default: the references).
        value_start: the value function's initialisation (default: a copy of ``reward_model``).
        progress: wraps the range of steps (a progress bar).
        sample_every: keep 4 sampled replies every this many steps (0: never).
        callback: ``callback(step, policy)`` after every step (e.g. to evaluate).

    Returns:
        ``(policy, history)``.
    """
    f = pieces or Pieces()
    policy, reference = copy.deepcopy(policy_start), copy.deepcopy(policy_start).eval()
    value = copy.deepcopy(value_start if value_start is not None else reward_model)
    reward_model.eval()
    # foreach: the same updates to the last bit as the default per-tensor loop, in fewer Python calls
    pol_opt = torch.optim.Adam(policy.parameters(), lr=config.lr, foreach=True)
    val_opt = torch.optim.Adam(value.parameters(), lr=config.value_lr, foreach=True)
    generator = torch.Generator().manual_seed(config.seed)
    rng = np.random.default_rng(config.seed)
    beta, history = config.beta, PPOHistory()
    group = 4  # replies per drawn prompt: they share the prompt's KV cache when sampling
    steps = range(1, config.steps + 1)
    for step in (progress(steps) if progress else steps):
        # 1-2. sample, score, and everything the update compares against
        chosen = [prompts[i] for i in rng.integers(len(prompts), size=config.batch_size // group)]
        policy.eval()
        ro = sample_groups(policy, tokenizer, chosen, group, max_new_tokens=config.max_new_tokens,
                           temperature=1.0, generator=generator)
        row_prompts = [p for p in chosen for _ in range(group)]
        with torch.no_grad():
            score = reward_model.score(encode_replies(tokenizer, row_prompts, ro.replies))  # (B,)
            old_logp = f.token_logprobs(ro.forward_logits(policy), ro.input_ids, ro.mask)  # (B, T)
            ref_logp = f.token_logprobs(ro.forward_logits(reference), ro.input_ids, ro.mask)
            old_values = value.values(ro) * ro.mask  # (B, T)
            # 3. the per-token reward and the advantages
            rewards = f.shaped_rewards(score, old_logp, ref_logp, ro.mask, beta)
            adv, ret = f.gae(rewards, old_values, ro.mask, config.gamma, config.lam)
            m = ro.mask.bool()
            adv = (adv - adv[m].mean()) / (adv[m].std() + 1e-8) * ro.mask  # whitened over the batch
        kl = ((old_logp - ref_logp) * ro.mask).sum(dim=1).mean().item()
        history.gold.append(float(np.mean([gold_reward(p, r) for p, r in zip(row_prompts, ro.replies)])))
        history.proxy.append(score.mean().item())
        history.kl.append(kl)
        history.beta.append(beta)
        history.explained_variance.append(explained_variance(old_values, ret, ro.mask))
        if sample_every and step % sample_every == 0:
            history.replies.append([f"{p}: {r}" for p, r in zip(row_prompts[::group], ro.replies[::group])][:4])

        # 4. several passes over the batch
        policy.train()
        value.train()
        B = len(ro.replies)
        for _ in range(config.epochs):
            order = torch.from_numpy(rng.permutation(B // group))  # minibatches of whole groups
            for chunk in order.chunk(config.minibatches):
                rows = (chunk[:, None] * group + torch.arange(group)).reshape(-1)  # (b,)
                sub = _subset(ro, rows)
                logp = f.token_logprobs(sub.forward_logits(policy), sub.input_ids, sub.mask)
                loss = f.clipped_surrogate_loss(logp, old_logp[rows], adv[rows], sub.mask, config.clip_eps)
                if config.ptx_coef > 0:
                    docs = pretraining_batch(tokenizer, config.ptx_batch, int(rng.integers(2**31)))
                    logits = policy(input_ids=docs["input_ids"], attention_mask=docs["attention_mask"]).logits
                    pre_logp = f.token_logprobs(logits, docs["input_ids"], docs["predicted_mask"])
                    loss = f.ptx_loss(loss, pre_logp, docs["predicted_mask"], config.ptx_coef)
                pol_opt.zero_grad()
                loss.backward()
                torch.nn.utils.clip_grad_norm_(policy.parameters(), config.max_grad_norm)
                pol_opt.step()

                v_loss = f.clipped_value_loss(value.values(sub) * sub.mask, old_values[rows], ret[rows], sub.mask,
                                              config.value_clip)
                val_opt.zero_grad()
                v_loss.backward()
                torch.nn.utils.clip_grad_norm_(value.parameters(), config.max_grad_norm)
                val_opt.step()
        # 5. the adaptive KL coefficient (a proportional controller on log KL)
        if config.target_kl is not None:
            error = float(np.clip(kl / config.target_kl - 1, -0.2, 0.2))
            beta *= 1 + error / config.kl_horizon
        if callback is not None:
            callback(step, policy)
    return policy.eval(), history


def _subset(ro, rows: torch.Tensor):
    """The rows ``rows`` of a batch of rollouts (whole groups, so the shared-prompt forward still holds)."""
    return type(ro)(ro.input_ids[rows], ro.attention_mask[rows], ro.position_ids[rows], ro.mask[rows],
                    [ro.replies[i] for i in rows.tolist()], ro.group_size, ro.prompt_length)


def best_of_n_kl(n: int) -> float:
    """``log n - (n - 1) / n``: the KL(best-of-n || pi) that Gao et al. (2022) use for best-of-n sampling.

    Beirami et al. (2024) show it is an upper bound, reached only when ``pi`` spreads over very many
    outcomes that all score differently; ties and repeated replies keep the true KL below it.
    :func:`rlcourse.reference.ch06_rlhf.best_of_n_kl_exact` computes the exact value for a finite
    distribution (Exercise 6.8).
    """
    return math.log(n) - (n - 1) / n


@dataclass
class PolicyReport:
    """A policy measured on fresh samples: what every comparison of Chapter 6 reads."""

    gold: float
    """Mean gold reward."""
    proxy: float
    """Mean reward-model score."""
    kl: float
    """Mean KL(pi || pi_SFT) per reply (sum of ``log pi - log pi_SFT`` over the sampled tokens)."""
    golds: np.ndarray
    """(P, n) gold reward of each sample, prompt by prompt."""
    replies: list[str]
    """The samples, prompt after prompt."""


@torch.no_grad()
def evaluate_policy(policy, reference, tokenizer, reward_model: ScalarModel | None, prompts: list[str], n: int = 32,
                    seed: int = 0, max_new_tokens: int = 12) -> PolicyReport:
    """Sample ``n`` replies to each prompt (temperature 1) and measure gold, proxy and KL to ``reference``."""
    from rlcourse.reference.ch05_rlvr import token_logprobs

    ro = sample_groups(policy, tokenizer, prompts, n, max_new_tokens=max_new_tokens, temperature=1.0,
                       generator=torch.Generator().manual_seed(seed))
    rows = [p for p in prompts for _ in range(n)]
    logp = token_logprobs(ro.forward_logits(policy), ro.input_ids, ro.mask)
    ref_logp = logp if reference is policy else token_logprobs(ro.forward_logits(reference), ro.input_ids, ro.mask)
    golds = np.array([gold_reward(p, r) for p, r in zip(rows, ro.replies)]).reshape(len(prompts), n)
    proxy = 0.0
    if reward_model is not None:
        proxy = reward_model.score(encode_replies(tokenizer, rows, ro.replies)).mean().item()
    kl = ((logp - ref_logp) * ro.mask).sum(dim=1).mean().item()
    return PolicyReport(float(golds.mean()), proxy, kl, golds, ro.replies)
