"""Exercises of Chapter 5: cases, points and the plausible mistakes each check must catch."""

import re

import numpy as np
import torch

from autograde.spec import Chapter, Exercise, Mistake, variant
from rlcourse.reference import ch05_rlvr as shared
from solutions import ch05_rlvr as ref


# ----- messages that more than one mistake gives (each written once) ----------------------------
NOT_MASKED = "prompt and padding positions must be 0: multiply by the mask."
"""A per-token output that is not 0 at the prompt and padding positions."""
UNMASKED_MEAN = "prompt and padding positions are counted: sum (and count) only where mask is 1."
"""A loss averaged over every position instead of over the completion tokens."""


# ----- wrong implementations -------------------------------------------------------------------
def _reward_not_reversed(reply, value, format_bonus=0.0):
    match = re.fullmatch(r"\s*(\d+)\s*", reply)
    if match is None:
        return 0.0
    return 1.0 if int(match.group(1)) == value else float(format_bonus)


def _reward_prefix(reply, value, format_bonus=0.0):  # reads a leading number, ignores what follows
    match = re.match(r"\s*(\d+)", reply)
    if match is None:
        return 0.0
    return 1.0 if int(match.group(1)[::-1]) == value else float(format_bonus)


def _reward_bonus_always(reply, value, format_bonus=0.0):
    return shared.verifier_reward(reply, value, 0.0) or float(format_bonus)


def _reward_no_strip(reply, value, format_bonus=0.0):
    if not reply.isdigit():
        return 0.0
    return 1.0 if int(reply[::-1]) == value else float(format_bonus)


def _adv_batch_mean(rewards, normalize=False, eps=1e-6):
    adv = rewards - rewards.mean()
    return adv / (rewards.std(unbiased=False) + eps) if normalize else adv


def _adv_no_eps(rewards, normalize=False, eps=1e-6):
    adv = rewards - rewards.mean(dim=1, keepdim=True)
    return adv / rewards.std(dim=1, unbiased=False, keepdim=True) if normalize else adv


def _adv_unbiased_std(rewards, normalize=False, eps=1e-6):
    adv = rewards - rewards.mean(dim=1, keepdim=True)
    return adv / (rewards.std(dim=1, keepdim=True) + eps) if normalize else adv


def _adv_no_baseline(rewards, normalize=False, eps=1e-6):
    return rewards / (rewards.std(dim=1, unbiased=False, keepdim=True) + eps) if normalize else rewards


def _lp_no_shift(logits, input_ids, mask):
    picked = torch.log_softmax(logits, dim=-1).gather(-1, input_ids.unsqueeze(-1)).squeeze(-1)
    return picked * mask


def _lp_not_masked(logits, input_ids, mask):
    return shared.token_logprobs(logits, input_ids, torch.ones_like(mask))


def _lp_probs(logits, input_ids, mask):
    probs = torch.softmax(logits[:, :-1], dim=-1).gather(-1, input_ids[:, 1:].unsqueeze(-1)).squeeze(-1)
    return torch.cat([torch.zeros_like(probs[:, :1]), probs], dim=1) * mask


def _pg_variant(logp, advantages, mask, normalization="token", sign=-1.0, use_mask=True, per_position=False):
    m = mask.to(logp.dtype) if use_mask else torch.ones_like(logp)
    weighted = advantages[:, None] * logp * m
    if per_position:
        return sign * weighted.sum() / logp.numel()
    if normalization == "token":
        return sign * weighted.sum() / m.sum()
    return sign * (weighted.sum(dim=1) / m.sum(dim=1)).mean()


def _pg_swapped(logp, advantages, mask, normalization="token"):
    return _pg_variant(logp, advantages, mask, "sequence" if normalization == "token" else "token")


def _kl_k1_sign(logp, ref_logp, mask, estimator="k3"):
    return shared.kl_estimate(logp, ref_logp, mask, estimator) * (-1.0 if estimator == "k1" else 1.0)


def _kl_k3_reversed(logp, ref_logp, mask, estimator="k3"):
    if estimator == "k1":
        return shared.kl_estimate(logp, ref_logp, mask, estimator)
    log_ratio = logp - ref_logp
    return (torch.exp(log_ratio) - 1 - log_ratio) * mask


def _kl_unmasked(logp, ref_logp, mask, estimator="k3"):
    return shared.kl_estimate(logp, ref_logp, torch.ones_like(mask), estimator)


def _kl_k3_without_minus_one(logp, ref_logp, mask, estimator="k3"):
    if estimator == "k1":
        return shared.kl_estimate(logp, ref_logp, mask, estimator)
    log_ratio = ref_logp - logp
    return (torch.exp(log_ratio) - log_ratio) * mask


def _kl_grads_variant(logits, ref_logits, weights="pi", wrt_logits=True, swap=False):
    leaf = logits.detach().requires_grad_(True)
    if wrt_logits:
        logp = torch.log_softmax(leaf, dim=-1)
    else:  # differentiates with respect to the probabilities instead of the logits
        leaf = torch.softmax(logits.detach(), dim=-1).requires_grad_(True)
        logp = torch.log(leaf)
    ref_logp = torch.log_softmax(ref_logits.detach(), dim=-1)
    weight = {"pi": logp.exp().detach(), "pi_differentiated": logp.exp(), "ref": ref_logp.exp()}[weights]
    log_r = ref_logp - logp
    grads = {}
    for name, k in (("k1", -log_r), ("k3", torch.exp(log_r) - 1 - log_r)):
        grads[name], = torch.autograd.grad((weight * k).sum(), leaf, retain_graph=True)
    kl = (logp.exp() * (logp - ref_logp)).sum()
    reverse = (ref_logp.exp() * (ref_logp - logp)).sum()
    grads["kl"], = torch.autograd.grad(reverse if swap else kl, leaf, retain_graph=True)
    grads["reverse_kl"], = torch.autograd.grad(kl if swap else reverse, leaf, retain_graph=True)
    return grads


def _clip_variant(logp, old_logp, advantages, mask, clip_eps=0.2, combine=torch.minimum, invert=False,
                  clipped_only=False, use_mask=True):
    m = mask.to(logp.dtype) if use_mask else torch.ones_like(logp)
    ratio = torch.exp(old_logp - logp) if invert else torch.exp(logp - old_logp)
    A = advantages[:, None]
    clipped = torch.clamp(ratio, 1 - clip_eps, 1 + clip_eps) * A
    objective = clipped if clipped_only else combine(ratio * A, clipped)
    return -(objective * m).sum() / m.sum()


def _clip_negated(logp, old_logp, advantages, mask, clip_eps=0.2):
    return -_clip_variant(logp, old_logp, advantages, mask, clip_eps)


def _pass_biased(n, c, k):
    return 1.0 - (1.0 - c / n) ** k


def _pass_fraction(n, c, k):
    return c / n


def _pass_union_bound(n, c, k):
    return min(1.0, k * c / n)


def _pass_off_by_one(n, c, k):
    if n - c < k:
        return 1.0
    return 1.0 - float(np.prod(1.0 - k / np.arange(n - c, n)))


# ----- cases ------------------------------------------------------------------------------------
def _rows(B, T, prompt_lengths, completion_lengths):
    """A (B, T) completion mask: row b is prompt_lengths[b] zeros, completion_lengths[b] ones, padding."""
    mask = torch.zeros(B, T)
    for b, (p, c) in enumerate(zip(prompt_lengths, completion_lengths)):
        mask[b, p:p + c] = 1.0
    return mask


def _lp_case(seed, B, T, V, prompts, completions, scale=2.0):
    gen = torch.Generator().manual_seed(seed)
    return dict(logits=scale * torch.randn(B, T, V, generator=gen),
                input_ids=torch.randint(0, V, (B, T), generator=gen), mask=_rows(B, T, prompts, completions))


def _loss_case(seed, prompts, completions, T=7, normalization="token"):
    gen = torch.Generator().manual_seed(seed)
    B = len(prompts)
    return dict(logp=torch.log(torch.rand(B, T, generator=gen).clamp_min(0.05)),
                advantages=torch.round(torch.randn(B, generator=gen) * 100) / 100,
                mask=_rows(B, T, prompts, completions), normalization=normalization)


def _kl_case(seed, prompts, completions, T=6, estimator="k3", spread=1.0):
    gen = torch.Generator().manual_seed(seed)
    B = len(prompts)
    logp = torch.log(torch.rand(B, T, generator=gen).clamp_min(0.05))
    return dict(logp=logp, ref_logp=logp + spread * torch.randn(B, T, generator=gen),
                mask=_rows(B, T, prompts, completions), estimator=estimator)


def _kl_grad_case(seed, V, spread=1.0, same=False):
    gen = torch.Generator().manual_seed(seed)
    logits = torch.randn(V, generator=gen, dtype=torch.float64) * 1.5
    ref_logits = logits.clone() if same else logits + spread * torch.randn(V, generator=gen, dtype=torch.float64)
    return dict(logits=logits, ref_logits=ref_logits)


def _clip_case(seed, prompts, completions, T=6, spread=0.4, clip_eps=0.2):
    gen = torch.Generator().manual_seed(seed)
    B = len(prompts)
    old = torch.log(torch.rand(B, T, generator=gen).clamp_min(0.05))
    return dict(logp=old + spread * torch.randn(B, T, generator=gen), old_logp=old,
                advantages=torch.round(torch.randn(B, generator=gen) * 100) / 100,
                mask=_rows(B, T, prompts, completions), clip_eps=clip_eps)


CHAPTER = Chapter(
    id="05-rlvr",
    notebook="rlvr.ipynb",
    exercises=[
        Exercise(
            reference=shared.verifier_reward,
            visible=[dict(reply="572", value=275), dict(reply="571", value=275, format_bonus=0.1),
                     dict(reply="572+1", value=275), dict(reply="x57", value=275, format_bonus=0.1),
                     dict(reply="275", value=275),
                     dict(reply=" 81\n", value=18), dict(reply="", value=5, format_bonus=0.1)],
            hidden=[dict(reply="5722", value=275), dict(reply="00001", value=10000), dict(reply="+572", value=275),
                    dict(reply="572 572", value=275, format_bonus=0.2), dict(reply="9", value=9, format_bonus=0.5),
                    dict(reply="\u0665", value=5, format_bonus=0.3)],
            mistakes=[
                Mistake("not_reversed", "the reply's digits are read in the usual order; the chat format writes "
                        "the answer reversed (least significant digit first), so '572' means 275.",
                        _reward_not_reversed),
                Mistake("prefix_only", "a reply with more after the number ('572+1') is not well formed: the "
                        "whole reply, apart from surrounding whitespace, must be digits.", _reward_prefix),
                Mistake("bonus_for_malformed", "a malformed reply earns the format bonus; only a well-formed "
                        "(digits only) but wrong reply earns it, and a malformed one earns 0.",
                        _reward_bonus_always),
                Mistake("no_strip", "whitespace around the digits makes the reply count as malformed; strip it "
                        "first.", _reward_no_strip),
            ],
            points=(1, 1),
        ),
        Exercise(
            reference=shared.group_advantages,
            visible=[dict(rewards=torch.tensor([[1.0, 0.0, 0.0, 1.0], [1.0, 1.0, 1.0, 1.0]])),
                     dict(rewards=torch.tensor([[1.0, 0.0, 0.0, 0.0], [0.0, 0.0, 0.0, 0.0]]), normalize=True),
                     dict(rewards=torch.tensor([[0.2, 1.0, 0.0], [0.5, 0.1, 1.0], [1.0, 1.0, 0.0]]),
                          normalize=True)],
            hidden=[dict(rewards=torch.tensor([[3.0, 1.0]]), normalize=True),
                    dict(rewards=torch.rand(5, 8, generator=torch.Generator().manual_seed(0))),
                    dict(rewards=torch.rand(4, 6, generator=torch.Generator().manual_seed(1)), normalize=True,
                         eps=0.1),
                    dict(rewards=torch.ones(3, 4), normalize=True)],
            mistakes=[
                Mistake("batch_mean", "the baseline is the mean over the whole batch; GRPO subtracts each "
                        "prompt's own mean (one row of rewards), so a hard prompt is not compared with an easy "
                        "one.", _adv_batch_mean),
                Mistake("no_eps", "a group whose rewards are all equal has standard deviation 0, and 0/0 gives "
                        "nan; divide by std + eps.", _adv_no_eps),
                Mistake("unbiased_std", "the standard deviation is the unbiased one (divides by K-1); use the "
                        "population one, std(unbiased=False).", _adv_unbiased_std),
                Mistake("no_baseline", "the group mean is not subtracted: advantage = reward - mean of its "
                        "group.", _adv_no_baseline),
            ],
            points=(1, 1),
            rtol=1e-5, atol=1e-6,
        ),
        Exercise(
            reference=shared.token_logprobs,
            visible=[dict(logits=torch.zeros(1, 3, 4), input_ids=torch.tensor([[0, 1, 2]]),
                          mask=torch.tensor([[0.0, 1.0, 1.0]])),
                     _lp_case(0, 2, 5, 6, prompts=[2, 3], completions=[3, 1])],
            hidden=[_lp_case(1, 3, 8, 10, prompts=[1, 4, 2], completions=[7, 2, 3]),
                    _lp_case(2, 1, 4, 3, prompts=[1], completions=[3], scale=20.0),
                    _lp_case(3, 4, 6, 5, prompts=[5, 2, 2, 3], completions=[1, 4, 2, 0])],
            mistakes=[
                Mistake("no_shift", "logits[:, t] predicts token t + 1, not token t: score input_ids[:, 1:] "
                        "with logits[:, :-1] and put the result at positions 1..T-1.", _lp_no_shift),
                Mistake("not_masked", NOT_MASKED, _lp_not_masked),
                Mistake("probs_not_log", "these are probabilities, not log-probabilities (log_softmax).", _lp_probs),
            ],
            points=(1, 1),
            rtol=1e-5, atol=1e-5,
            adapter="output_and_grad_logits",
        ),
        Exercise(
            reference=shared.policy_gradient_loss,
            visible=[_loss_case(0, prompts=[2, 2, 3], completions=[1, 4, 2]),
                     _loss_case(1, prompts=[1, 3], completions=[5, 1], normalization="sequence")],
            hidden=[_loss_case(2, prompts=[2, 1, 1, 3], completions=[3, 5, 1, 2]),
                    _loss_case(3, prompts=[4, 1, 2], completions=[2, 6, 1], normalization="sequence"),
                    _loss_case(4, prompts=[2], completions=[3], normalization="sequence")],
            mistakes=[
                Mistake("wrong_sign", "the sign is flipped: minimising this loss must *raise* the "
                        "log-probability of completions with a positive advantage.", variant(_pg_variant, sign=1.0)),
                Mistake("normalization_swapped", "the two normalisations are swapped: 'token' divides the "
                        "batch's sum by its number of completion tokens; 'sequence' averages each "
                        "completion's mean over its own tokens.", _pg_swapped),
                Mistake("unmasked", UNMASKED_MEAN, variant(_pg_variant, use_mask=False)),
                Mistake("all_positions", "the sum is divided by every position B*T; divide by the number of "
                        "completion tokens, mask.sum().", variant(_pg_variant, per_position=True)),
            ],
            points=(1, 1),
            rtol=1e-5, atol=1e-6,
            adapter="loss_and_grad",
        ),
        Exercise(
            reference=shared.kl_estimate,
            visible=[_kl_case(0, prompts=[1, 2], completions=[3, 4], estimator="k1"),
                     _kl_case(1, prompts=[2, 1], completions=[2, 4], estimator="k3")],
            hidden=[_kl_case(2, prompts=[1, 1, 3], completions=[5, 2, 3], estimator="k3", spread=3.0),
                    _kl_case(3, prompts=[2], completions=[4], estimator="k1", spread=0.1),
                    _kl_case(4, prompts=[3, 1], completions=[1, 1], estimator="k3", spread=0.01)],
            mistakes=[
                Mistake("k1_sign", "k1 has the wrong sign: with log r = ref_logp - logp, k1 = -log r = logp - "
                        "ref_logp.", _kl_k1_sign),
                Mistake("k3_reversed", "k3 uses r = pi(token) / pi_ref(token); it is r = pi_ref / pi (the "
                        "tokens come from pi), i.e. log r = ref_logp - logp.", _kl_k3_reversed),
                Mistake("k3_missing_one", "k3 = (r - 1) - log r: the - 1 is missing (without it the estimate "
                        "is not 0 when the two models agree).", _kl_k3_without_minus_one),
                Mistake("unmasked", NOT_MASKED, _kl_unmasked),
            ],
            points=(1, 1),
            rtol=1e-5, atol=1e-6,
        ),
        Exercise(
            reference=ref.expected_kl_gradients,
            visible=[_kl_grad_case(0, V=3), _kl_grad_case(1, V=5, spread=0.5)],
            hidden=[_kl_grad_case(2, V=4, spread=2.0), _kl_grad_case(3, V=6, same=True),
                    _kl_grad_case(4, V=8, spread=0.1)],
            mistakes=[
                Mistake("weights_differentiated", "pi(y) only weights the outcomes: a loss on a sampled token "
                        "is differentiated with the sample held fixed, so detach the weights (differentiating "
                        "them gives the gradient of the expected estimate, which no sampled loss receives).",
                        variant(_kl_grads_variant, weights="pi_differentiated")),
                Mistake("reference_weights", "the tokens are sampled from pi, not from pi_ref: weight each "
                        "outcome by pi(y).", variant(_kl_grads_variant, weights="ref")),
                Mistake("gradient_wrt_probabilities", "the gradient is with respect to the logits (what the "
                        "network outputs), not the probabilities: compute log pi with log_softmax(logits).",
                        variant(_kl_grads_variant, wrt_logits=False)),
                Mistake("kl_directions_swapped", "KL(pi || pi_ref) weights log(pi / pi_ref) by pi, and "
                        "KL(pi_ref || pi) weights log(pi_ref / pi) by pi_ref: the two are swapped.",
                        variant(_kl_grads_variant, swap=True)),
            ],
            points=(1, 1),
            rtol=1e-6, atol=1e-9,
        ),
        Exercise(
            reference=shared.clipped_surrogate_loss,
            visible=[_clip_case(0, prompts=[1, 2, 1], completions=[4, 2, 3]),
                     _clip_case(1, prompts=[2, 1], completions=[3, 4], spread=1.0, clip_eps=0.1)],
            hidden=[_clip_case(2, prompts=[1, 3, 2, 1], completions=[3, 2, 4, 5], spread=0.05),
                    _clip_case(3, prompts=[2], completions=[4], spread=2.0, clip_eps=0.3),
                    _clip_case(4, prompts=[1, 1], completions=[5, 1], spread=0.6)],
            mistakes=[
                Mistake("max_not_min", "the objective takes the larger of the two terms; PPO takes the "
                        "smaller (a pessimistic bound), torch.minimum.", variant(_clip_variant, combine=torch.maximum)),
                Mistake("clipped_only", "only the clipped term is used; PPO takes min(ratio * A, clip(ratio) * "
                        "A), so a ratio that moves against the advantage is not clipped.",
                        variant(_clip_variant, clipped_only=True)),
                Mistake("ratio_inverted", "the ratio is inverted: ratio = pi / pi_old = exp(logp - old_logp).",
                        variant(_clip_variant, invert=True)),
                Mistake("unmasked", UNMASKED_MEAN, variant(_clip_variant, use_mask=False)),
                Mistake("negated_loss", "this is PPO's objective, which is maximised; optimizers minimise, so "
                        "the loss is minus the objective.", _clip_negated),
            ],
            points=(1, 1),
            rtol=1e-5, atol=1e-6,
            adapter="loss_and_grad",
        ),
        Exercise(
            reference=ref.pass_at_k,
            visible=[dict(n=10, c=1, k=1), dict(n=10, c=3, k=4), dict(n=10, c=0, k=5), dict(n=8, c=6, k=5),
                     dict(n=20, c=2, k=10)],
            hidden=[dict(n=200, c=13, k=100), dict(n=5, c=5, k=1), dict(n=1000, c=1, k=999),
                    dict(n=16, c=4, k=16), dict(n=30, c=7, k=3)],
            mistakes=[
                Mistake("biased", "1 - (1 - c/n)^k assumes the k attempts are drawn with replacement; the "
                        "unbiased estimator draws k of the n samples without replacement: 1 - C(n-c, k) / "
                        "C(n, k).", _pass_biased),
                Mistake("fraction_correct", "c / n is pass@1; pass@k is the chance that at least one of k "
                        "attempts is right.", _pass_fraction),
                Mistake("union_bound", "k * c / n adds the chances of the k attempts as if they could not "
                        "succeed together; use 1 - C(n-c, k) / C(n, k).", _pass_union_bound),
                Mistake("off_by_one", "the product runs over the wrong range: C(n-c, k) / C(n, k) = "
                        "prod_{i = n-c+1}^{n} (1 - k / i).", _pass_off_by_one),
            ],
            points=(1, 1),
            rtol=1e-9, atol=1e-12,
        ),
    ],
)
