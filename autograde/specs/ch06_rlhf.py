"""Exercises of Chapter 6: cases, points and the plausible mistakes each check must catch."""

import math

import torch
import torch.nn.functional as F

from autograde.spec import Chapter, Exercise, Mistake, variant
from rlcourse.reference import ch06_rlhf as shared
from solutions import ch06_rlhf as ref


# ----- messages that more than one mistake gives (each written once) ----------------------------
NAIVE_LOG_SIGMOID = ("log(sigmoid(x)) underflows to log(0) = -inf for a large negative margin; use "
                     "torch.nn.functional.logsigmoid.")
"""log(sigmoid(...)) computed in two steps (the reward model's and DPO's losses)."""


# ----- wrong implementations -------------------------------------------------------------------
def _rank_variant(rewards, ranking, reduce="prompt", reverse=False, adjacent=False, naive=False, keep_padding=False,
                  gather_padding=False):
    valid = ranking >= 0
    if keep_padding:
        valid = torch.ones_like(valid)
    ranked = rewards.gather(1, ranking if gather_padding else ranking.clamp(min=0))  # -1 raises in gather
    margin = ranked[:, :, None] - ranked[:, None, :]
    if reverse:
        margin = -margin
    K = rewards.shape[1]
    better = torch.ones(K, K, dtype=torch.bool).triu(diagonal=1)
    if adjacent:
        better = torch.zeros(K, K, dtype=torch.bool)
        better[torch.arange(K - 1), torch.arange(1, K)] = True
    pairs = (better & valid[:, :, None] & valid[:, None, :]).to(rewards.dtype)
    per_pair = (-torch.log(torch.sigmoid(margin)) if naive else -F.logsigmoid(margin)) * pairs
    if reduce == "sum":
        return per_pair.sum(dim=(1, 2)).mean()
    if reduce == "flat":
        return per_pair.sum() / pairs.sum()
    return (per_pair.sum(dim=(1, 2)) / pairs.sum(dim=(1, 2))).mean()


def _rank_negated(rewards, ranking):
    return -shared.ranking_loss(rewards, ranking)


def _shaped_variant(score, logp, ref_logp, mask, beta, where="last", sign=1.0, use_mask=True):
    m = mask.to(logp.dtype)
    rewards = sign * beta * (ref_logp - logp) * (m if use_mask else 1.0)
    B, T = m.shape
    if where == "every":
        return rewards + score[:, None] * m
    if where == "first":
        at = m.argmax(dim=1)
    elif where == "row_end":
        at = torch.full((B,), T - 1)
    else:
        at = (m * torch.arange(1, T + 1)).argmax(dim=1)
    rewards = rewards.clone()
    rewards[torch.arange(B), at] += score
    return rewards


def _gae_variant(rewards, values, mask, gamma=1.0, lam=0.95, bootstrap_padding=False, returns_rtg=False):
    m = mask.to(rewards.dtype)
    B, T = rewards.shape
    adv = torch.zeros_like(rewards)
    next_value, next_adv = torch.zeros(B), torch.zeros(B)
    for t in reversed(range(T)):
        delta = rewards[:, t] + gamma * next_value - values[:, t]
        next_adv = (delta + gamma * lam * next_adv) * m[:, t]
        next_value = values[:, t] if bootstrap_padding else values[:, t] * m[:, t]
        adv[:, t] = next_adv
    if returns_rtg:
        ret = torch.zeros_like(rewards)
        running = torch.zeros(B)
        for t in reversed(range(T)):
            running = (rewards[:, t] + gamma * running) * m[:, t]
            ret[:, t] = running
        return adv, ret
    return adv, (adv + values) * m


def _gae_no_gamma_in_trace(rewards, values, mask, gamma=1.0, lam=0.95):
    return _gae_variant(rewards, values, mask, gamma, lam / gamma if gamma else lam)


def _gae_reads_past_end(rewards, values, mask, gamma=1.0, lam=0.95):
    m = mask.to(rewards.dtype)
    adv, next_adv = torch.zeros_like(rewards), torch.zeros(rewards.shape[0])
    for t in reversed(range(rewards.shape[1])):
        delta = rewards[:, t] + gamma * values[:, t + 1] * m[:, t + 1] - values[:, t]  # IndexError at the last t
        next_adv = (delta + gamma * lam * next_adv) * m[:, t]
        adv[:, t] = next_adv
    return adv, (adv + values) * m


def _value_variant(values, old_values, returns, mask, clip_eps=0.2, combine=torch.maximum, clipped=True, half=0.5,
                   use_mask=True):
    m = mask.to(values.dtype) if use_mask else torch.ones_like(values)
    v_clip = old_values + torch.clamp(values - old_values, -clip_eps, clip_eps)
    loss = (values - returns) ** 2
    if clipped:
        loss = combine(loss, (v_clip - returns) ** 2)
    return half * (loss * m).sum() / m.sum()


def _value_clipped_only(values, old_values, returns, mask, clip_eps=0.2):
    m = mask.to(values.dtype)
    v_clip = old_values + torch.clamp(values - old_values, -clip_eps, clip_eps)
    return 0.5 * (((v_clip - returns) ** 2) * m).sum() / m.sum()


def _ptx_plus(rl_loss, pretrain_logp, pretrain_mask, ptx_coef):
    return 2 * rl_loss - shared.ptx_loss(rl_loss, pretrain_logp, pretrain_mask, ptx_coef)


def _ptx_sum(rl_loss, pretrain_logp, pretrain_mask, ptx_coef):
    return rl_loss - ptx_coef * (pretrain_logp * pretrain_mask).sum()


def _ptx_unmasked(rl_loss, pretrain_logp, pretrain_mask, ptx_coef):
    return rl_loss - ptx_coef * (pretrain_logp * pretrain_mask).mean()


def _ptx_per_document(rl_loss, pretrain_logp, pretrain_mask, ptx_coef, reduce="mean"):
    m = pretrain_mask.to(pretrain_logp.dtype)
    per_doc = (pretrain_logp * m).sum(dim=1)  # (B,) each document's log-likelihood
    if reduce == "mean":
        per_doc = per_doc / m.sum(dim=1)  # (B,) each document's mean per token
    return rl_loss - ptx_coef * per_doc.mean()


def _ptx_coef_on_rl(rl_loss, pretrain_logp, pretrain_mask, ptx_coef):
    m = pretrain_mask.to(pretrain_logp.dtype)
    return ptx_coef * rl_loss - (pretrain_logp * m).sum() / m.sum()


def _dpo_no_reference(logp_w, logp_l, ref_logp_w, ref_logp_l, beta=0.1):
    return -F.logsigmoid(beta * (logp_w - logp_l)).mean()


def _dpo_swapped(logp_w, logp_l, ref_logp_w, ref_logp_l, beta=0.1):
    return shared.dpo_loss(logp_l, logp_w, ref_logp_l, ref_logp_w, beta)


def _dpo_beta_outside(logp_w, logp_l, ref_logp_w, ref_logp_l, beta=0.1):
    return -beta * F.logsigmoid((logp_w - ref_logp_w) - (logp_l - ref_logp_l)).mean()


def _dpo_naive(logp_w, logp_l, ref_logp_w, ref_logp_l, beta=0.1):
    return -torch.log(torch.sigmoid(beta * ((logp_w - ref_logp_w) - (logp_l - ref_logp_l)))).mean()


def _dpo_sum(logp_w, logp_l, ref_logp_w, ref_logp_l, beta=0.1):
    return shared.dpo_loss(logp_w, logp_l, ref_logp_w, ref_logp_l, beta) * len(logp_w)


def _dpo_negated(logp_w, logp_l, ref_logp_w, ref_logp_l, beta=0.1):
    return -shared.dpo_loss(logp_w, logp_l, ref_logp_w, ref_logp_l, beta)


def _margin_variant(p, beta, log_odds=torch.logit, scale="divide", sign=1.0):
    h = sign * log_odds(p)
    return h if scale == "none" else h * beta if scale == "multiply" else h / beta


def _margin_majority(p, beta):
    return torch.where(p > 0.5, math.inf, torch.where(p < 0.5, -math.inf, 0.0)).to(p.dtype)


def _margin_finite(p, beta):
    return torch.logit(p.clamp(1e-6, 1 - 1e-6)) / beta


def _opt_no_reference(ref_probs, rewards, beta):
    return torch.softmax(rewards / beta, dim=-1)


def _opt_beta_multiplies(ref_probs, rewards, beta):
    return torch.softmax(torch.log(ref_probs) + beta * rewards, dim=-1)


def _opt_unnormalised(ref_probs, rewards, beta):
    return ref_probs * torch.exp(rewards / beta)


def _opt_overflows(ref_probs, rewards, beta):
    w = ref_probs * torch.exp(rewards / beta)
    return w / w.sum(dim=-1, keepdim=True)


def _opt_minus(ref_probs, rewards, beta):
    return torch.softmax(torch.log(ref_probs) - rewards / beta, dim=-1)


def _bon_variant(probs, scores, n, tie="level", mass="difference", direction="forward", log=torch.log, order=1.0,
                 zero_safe=True):
    """best_of_n_kl_exact with one thing done differently."""
    if tie in ("level", "whole"):  # the reference: outcomes that score the same form one level
        levels, level = torch.unique(order * scores, return_inverse=True)
        p = torch.zeros(len(levels), dtype=probs.dtype).index_add_(0, level, probs)
    else:  # each outcome its own level, tied ones ordered by their position
        idx = torch.sort(order * scores, stable=True).indices
        p = probs[idx]
    at_most = torch.cumsum(p, dim=0)
    below = torch.cat([at_most.new_zeros(1), at_most[:-1]])
    if mass == "cdf":
        p_bon = at_most ** n
    elif mass == "density":
        p_bon = n * p * at_most ** (n - 1)
    else:
        p_bon = at_most ** n - below ** n
    if tie == "whole":  # every tied outcome gets the whole level's chance
        p_bon, p = p_bon[level], probs
    if direction == "reverse":
        return float((p * log(p / p_bon)).sum())
    if zero_safe:
        return float(torch.where(p_bon > 0, p_bon * log(p_bon / p), torch.zeros_like(p)).sum())
    return float((p_bon * log(p_bon / p)).sum())


def _bon_bound(probs, scores, n):
    return math.log(n) - (n - 1) / n


# ----- cases ------------------------------------------------------------------------------------
def _rank_case(seed, ks, scale=1.0):
    """N prompts with ks[i] replies each (padded to max K), random scores and a random ranking."""
    gen = torch.Generator().manual_seed(seed)
    K = max(ks)
    rewards = torch.round(scale * torch.randn(len(ks), K, generator=gen) * 100) / 100
    ranking = torch.full((len(ks), K), -1, dtype=torch.long)
    for i, k in enumerate(ks):
        ranking[i, :k] = torch.randperm(k, generator=gen)
    return dict(rewards=rewards, ranking=ranking)


def _rows(B, T, prompts, replies):
    mask = torch.zeros(B, T)
    for b, (p, c) in enumerate(zip(prompts, replies)):
        mask[b, p:p + c] = 1.0
    return mask


def _shaped_case(seed, prompts, replies, T=7, beta=0.1):
    gen = torch.Generator().manual_seed(seed)
    B = len(prompts)
    logp = torch.log(torch.rand(B, T, generator=gen).clamp_min(0.05))
    return dict(score=torch.round(torch.randn(B, generator=gen) * 100) / 100, logp=logp,
                ref_logp=logp + 0.5 * torch.randn(B, T, generator=gen), mask=_rows(B, T, prompts, replies), beta=beta)


def _gae_case(seed, prompts, replies, T=7, gamma=1.0, lam=0.95):
    gen = torch.Generator().manual_seed(seed)
    B = len(prompts)
    return dict(rewards=torch.round(torch.randn(B, T, generator=gen) * 100) / 100,
                values=torch.round(torch.randn(B, T, generator=gen) * 100) / 100,
                mask=_rows(B, T, prompts, replies), gamma=gamma, lam=lam)


def _value_case(seed, prompts, replies, T=6, spread=0.5, clip_eps=0.2):
    gen = torch.Generator().manual_seed(seed)
    B = len(prompts)
    old = torch.randn(B, T, generator=gen)
    return dict(values=old + spread * torch.randn(B, T, generator=gen), old_values=old,
                returns=old + torch.randn(B, T, generator=gen), mask=_rows(B, T, prompts, replies), clip_eps=clip_eps)


def _ptx_case(seed, lengths, T=8, coef=0.5):
    gen = torch.Generator().manual_seed(seed)
    B = len(lengths)
    mask = _rows(B, T, [1] * B, lengths)
    return dict(rl_loss=torch.tensor(float(torch.randn(1, generator=gen))),
                pretrain_logp=torch.log(torch.rand(B, T, generator=gen).clamp_min(0.05)) * mask,
                pretrain_mask=mask, ptx_coef=coef)


def _value_moves_case():
    """One row, old value 0 and return 1: inside the range, past the edge towards the return, away from
    it, overshooting it; then the same four moves below a return of -1 in a second row; and a masked
    token whose value says anything."""
    values = torch.tensor([[0.1, 0.5, -0.5, 2.0, 9.0], [-0.05, -0.6, 0.7, -3.0, -9.0]])
    mask = torch.tensor([[1.0, 1.0, 1.0, 1.0, 0.0], [1.0, 1.0, 1.0, 1.0, 0.0]])
    return dict(values=values, old_values=torch.zeros(2, 5), returns=torch.tensor([[1.0] * 5, [-1.0] * 5]),
                mask=mask, clip_eps=0.2)


def _margin_case(seed, B, labelers=20, beta=0.1, dtype=torch.float32):
    """B pairs, each labelled by `labelers` people: rates in steps of 1 / labelers, 0 and 1 included."""
    gen = torch.Generator().manual_seed(seed)
    wins = torch.randint(0, labelers + 1, (B,), generator=gen)
    wins[:2] = torch.tensor([0, labelers])
    return dict(p=(wins.double() / labelers).to(dtype), beta=beta)


def _dpo_case(seed, B, spread=3.0, beta=0.1):
    gen = torch.Generator().manual_seed(seed)
    base = -10 * torch.rand(4, B, generator=gen)
    return dict(logp_w=base[0] + spread * torch.randn(B, generator=gen), logp_l=base[1],
                ref_logp_w=base[2], ref_logp_l=base[3], beta=beta)


def _opt_case(seed, shape, scale=1.0, beta=0.5):
    gen = torch.Generator().manual_seed(seed)
    ref_probs = torch.softmax(torch.randn(*shape, generator=gen), dim=-1)
    return dict(ref_probs=ref_probs, rewards=scale * torch.randn(*shape, generator=gen), beta=beta)


def _bon_case(seed, A, n, levels=None, zipf=0.0):
    """A outcomes with random probabilities (Zipf-like when zipf > 0); scores drawn from `levels`
    values (ties) or all distinct."""
    gen = torch.Generator().manual_seed(seed)
    weights = torch.rand(A, generator=gen, dtype=torch.float64) + 0.05
    if zipf:
        weights = weights * torch.arange(1, A + 1, dtype=torch.float64) ** -zipf
    if levels:
        scores = torch.randint(0, levels, (A,), generator=gen).double() / 4
    else:
        scores = torch.round(torch.randn(A, generator=gen, dtype=torch.float64) * 1000) / 1000
    return dict(probs=weights / weights.sum(), scores=scores, n=n)


def _bon_samples_case(seed, N, A, n, levels):
    """What a page measures: N samples of a Zipf-like policy over A replies, duplicates merged."""
    gen = torch.Generator().manual_seed(seed)
    pi = torch.arange(1, A + 1, dtype=torch.float64) ** -1.0
    counts = torch.bincount(torch.multinomial(pi / pi.sum(), N, replacement=True, generator=gen), minlength=A)
    seen = counts > 0
    scores = torch.randint(0, levels, (A,), generator=gen).double() / 8
    return dict(probs=counts[seen].double() / N, scores=scores[seen], n=n)


CHAPTER = Chapter(
    id="06-rlhf",
    notebook="rlhf.ipynb",
    exercises=[
        Exercise(
            reference=shared.ranking_loss,
            visible=[dict(rewards=torch.tensor([[0.0, 1.0]]), ranking=torch.tensor([[1, 0]])),
                     _rank_case(0, [4, 4]), _rank_case(1, [5, 3]),
                     dict(rewards=torch.tensor([[0.0, 150.0, 40.0]]), ranking=torch.tensor([[0, 2, 1]]))],
            hidden=[_rank_case(2, [9, 4, 6, 9]), _rank_case(3, [2]), _rank_case(4, [7, 5], scale=60.0),
                    _rank_case(5, [4, 8, 8])],
            mistakes=[
                Mistake("sum_not_mean", "the pairs of a prompt are summed; InstructGPT divides by their number "
                        "C(K, 2), so a prompt with many replies does not weigh more than one with few.",
                        variant(_rank_variant, reduce="sum")),
                Mistake("flat_mean", "the mean runs over all pairs of the batch at once; average each prompt's "
                        "pairs first (one batch element per prompt), then the prompts.",
                        variant(_rank_variant, reduce="flat")),
                Mistake("reversed", "the margin is the wrong way round: the loss is -log sigmoid(r(y_w) - "
                        "r(y_l)), with y_w the reply ranked higher (earlier in `ranking`).",
                        variant(_rank_variant, reverse=True)),
                Mistake("adjacent_only", "only neighbouring replies of the ranking are compared; every one of "
                        "the C(K, 2) pairs counts (1st vs 3rd too).", variant(_rank_variant, adjacent=True)),
                Mistake("naive_log_sigmoid", NAIVE_LOG_SIGMOID, variant(_rank_variant, naive=True)),
                Mistake("padding_counted", "the -1 entries that pad a short ranking are treated as replies; "
                        "pairs involving padding must be left out.", variant(_rank_variant, keep_padding=True)),
                Mistake("gathers_padding", "the -1 entries that pad a short ranking are used as indices, which "
                        "gather rejects; gather with ranking.clamp(min=0), then leave out the pairs that involve "
                        "padding.", variant(_rank_variant, gather_padding=True)),
                Mistake("negated_loss", "the loss has the wrong sign: it is -log sigmoid(r(y_w) - r(y_l)), "
                        "positive, so that minimising it raises the score of the reply ranked higher.",
                        _rank_negated),
            ],
            points=(1, 1),
            rtol=1e-5, atol=1e-6,
            adapter="loss_and_grad_rewards",
        ),
        Exercise(
            reference=shared.shaped_rewards,
            visible=[dict(score=torch.tensor([2.0]), logp=torch.tensor([[0.0, -1.0, -1.0, 0.0]]),
                          ref_logp=torch.tensor([[0.0, -2.0, -1.0, 0.0]]), mask=torch.tensor([[0.0, 1.0, 1.0, 0.0]]),
                          beta=0.5),
                     _shaped_case(0, prompts=[2, 1, 3], replies=[3, 5, 2])],
            hidden=[_shaped_case(1, prompts=[1, 2], replies=[6, 1], beta=0.02),
                    _shaped_case(2, prompts=[3, 1, 1, 2], replies=[4, 2, 6, 3], T=8, beta=1.0),
                    _shaped_case(3, prompts=[4], replies=[3])],
            mistakes=[
                Mistake("score_at_every_token", "the reward model's score is added at every reply token; it "
                        "scores the whole reply, so it comes once, at the reply's last token.",
                        variant(_shaped_variant, where="every")),
                Mistake("score_at_first_token", "the score is placed at the reply's first token; it belongs at "
                        "the last one (the reply is only complete there).", variant(_shaped_variant, where="first")),
                Mistake("score_at_row_end", "the score is placed at the last column of the row, which may be "
                        "padding; put it at the last position where mask is 1.",
                        variant(_shaped_variant, where="row_end")),
                Mistake("kl_sign", "the KL penalty has the wrong sign: the reward is -beta * (logp - ref_logp), "
                        "so moving away from the SFT model costs reward.", variant(_shaped_variant, sign=-1.0)),
                Mistake("unmasked", "the prompt and padding positions get a KL penalty; only reply tokens "
                        "(mask 1) are actions of the policy.", variant(_shaped_variant, use_mask=False)),
            ],
            points=(1, 1),
            rtol=1e-5, atol=1e-6,
        ),
        Exercise(
            reference=shared.gae,
            visible=[dict(rewards=torch.tensor([[0.0, 0.0, 1.0]]), values=torch.tensor([[0.0, 0.5, 0.5]]),
                          mask=torch.tensor([[0.0, 1.0, 1.0]]), gamma=1.0, lam=1.0),
                     _gae_case(0, prompts=[1, 2], replies=[4, 3]),
                     _gae_case(1, prompts=[2, 1, 1], replies=[3, 5, 2], gamma=0.9, lam=0.8)],
            hidden=[_gae_case(2, prompts=[1, 3, 2], replies=[6, 2, 1], T=8, gamma=0.99, lam=0.95),
                    _gae_case(3, prompts=[2], replies=[4], lam=0.0),
                    _gae_case(4, prompts=[1, 1], replies=[5, 3], gamma=0.5, lam=0.5)],
            mistakes=[
                Mistake("bootstraps_from_padding", "after a reply's last token the episode is over: V there is 0, "
                        "not the value the model outputs at the padding next to it.",
                        variant(_gae_variant, bootstrap_padding=True)),
                Mistake("monte_carlo", "lam is ignored (as if lam = 1): A_t = delta_t + gamma * lam * A_{t+1}.",
                        variant(_gae_variant, lam=1.0)),
                Mistake("one_step_td", "only the one-step TD error delta_t is used (as if lam = 0); add gamma * "
                        "lam * A_{t+1}.", variant(_gae_variant, lam=0.0)),
                Mistake("returns_are_rewards_to_go", "the returns are the discounted rewards-to-go; the value "
                        "function's targets in PPO are advantages + values (the lambda-return).",
                        variant(_gae_variant, returns_rtg=True)),
                Mistake("no_gamma_in_trace", "the trace is multiplied by lam only; it is gamma * lam * A_{t+1}.",
                        _gae_no_gamma_in_trace),
                Mistake("reads_past_the_end", "values[:, t + 1] is read at the last position, where there is no "
                        "next token; carry the next value backwards through the loop instead, starting from 0 "
                        "(the episode is over after the last token).", _gae_reads_past_end),
            ],
            points=(1, 1),
            rtol=1e-5, atol=1e-6,
        ),
        Exercise(
            reference=shared.clipped_value_loss,
            visible=[dict(values=torch.tensor([[0.1, 0.5, -0.5, 2.0]]), old_values=torch.zeros(1, 4),
                          returns=torch.ones(1, 4), mask=torch.ones(1, 4), clip_eps=0.2),
                     _value_case(0, prompts=[1, 2], replies=[4, 3]),
                     dict(values=torch.tensor([[1.0]]), old_values=torch.tensor([[0.0]]),
                          returns=torch.tensor([[2.0]]), mask=torch.tensor([[1.0]]), clip_eps=0.2)],
            hidden=[_value_moves_case(),
                    _value_case(1, prompts=[2, 1, 3], replies=[3, 5, 2], spread=0.05),
                    _value_case(2, prompts=[1], replies=[5], spread=2.0, clip_eps=0.5),
                    _value_case(3, prompts=[3, 1], replies=[2, 4], spread=0.3, clip_eps=0.1)],
            mistakes=[
                Mistake("min_not_max", "past the edge of the range the smaller of the two errors is charged, "
                        "so a value that moves away from its return is charged only the error at the edge, "
                        "and nothing pulls it back; the loss charges the larger one (torch.maximum).",
                        variant(_value_variant, combine=torch.minimum)),
                Mistake("edge_error_everywhere", "every value past the edge is charged the error at the edge, "
                        "with no gradient; that is right only while the edge is the worse of the two. A value "
                        "that moved away from its return, or overshot it, is charged its own error, which is "
                        "larger: take the larger of the two errors.", _value_clipped_only),
                Mistake("unclipped", "the clip is missing: a value that moves past the edge towards its return "
                        "keeps earning; charge it the error at the edge, the larger of the two.",
                        variant(_value_variant, clipped=False)),
                Mistake("no_half", "the factor 0.5 of the plain loss 0.5 * (values - returns)^2 is missing.",
                        variant(_value_variant, half=1.0)),
                Mistake("unmasked", "prompt and padding positions are counted: average over reply tokens only.",
                        variant(_value_variant, use_mask=False)),
            ],
            points=(1, 1),
            rtol=1e-5, atol=1e-6,
            adapter="loss_and_grad_values",
        ),
        Exercise(
            reference=shared.ptx_loss,
            visible=[dict(rl_loss=torch.tensor(2.0), pretrain_logp=torch.tensor([[-1.0, -1.0, -1.0], [-2.0, 0.0, 0.0]]),
                          pretrain_mask=torch.tensor([[1.0, 1.0, 1.0], [1.0, 0.0, 0.0]]), ptx_coef=0.5),
                     _ptx_case(0, lengths=[5, 2, 7])],
            hidden=[_ptx_case(1, lengths=[1, 6], coef=27.8), _ptx_case(2, lengths=[3, 3, 3, 7], coef=0.0),
                    _ptx_case(3, lengths=[4], coef=2.0), _ptx_case(4, lengths=[7, 1, 1, 1], coef=1.0)],
            mistakes=[
                Mistake("plus_sign", "the pretraining log-likelihood is added to the loss; it is to be "
                        "maximised, so the loss subtracts ptx_coef times it.", _ptx_plus),
                Mistake("per_document_mean", "each document's mean log-likelihood is taken first, then the "
                        "mean over documents: a token of a short document then weighs more than a token of a "
                        "long one. Pretraining counts every real token of the batch once: divide the batch's "
                        "total by its number of real tokens.", variant(_ptx_per_document, reduce="mean")),
                Mistake("per_document_sum", "this is the mean over documents of each document's whole "
                        "log-likelihood, the objective's log pi(x) taken literally; its size grows with the "
                        "documents' length, so ptx_coef would mean something else for every corpus. Use the "
                        "log-likelihood per token.", variant(_ptx_per_document, reduce="sum")),
                Mistake("sum_not_mean", "the log-likelihood is summed over the batch's tokens; use its mean per "
                        "token, so ptx_coef does not depend on the batch size.", _ptx_sum),
                Mistake("unmasked_mean", "the mean runs over the padding too; divide by the number of real "
                        "tokens, pretrain_mask.sum().", _ptx_unmasked),
                Mistake("coef_on_rl_loss", "ptx_coef multiplies the RL loss; it weighs the pretraining term.",
                        _ptx_coef_on_rl),
            ],
            points=(1, 1),
            rtol=1e-5, atol=1e-6,
        ),
        Exercise(
            reference=shared.dpo_loss,
            visible=[dict(logp_w=torch.tensor([-1.0]), logp_l=torch.tensor([-3.0]), ref_logp_w=torch.tensor([-2.0]),
                          ref_logp_l=torch.tensor([-2.0]), beta=1.0),
                     _dpo_case(0, 4), dict(_dpo_case(1, 3, spread=400.0), beta=1.0)],
            hidden=[_dpo_case(2, 6, beta=0.5), _dpo_case(3, 1, spread=0.1), dict(_dpo_case(4, 5, spread=900.0), beta=0.5)],
            mistakes=[
                Mistake("no_reference", "the reference model is left out: the implicit reward is beta * (log pi - "
                        "log pi_ref), for both replies.", _dpo_no_reference),
                Mistake("swapped", "the preferred and the rejected reply are swapped: the loss falls when the "
                        "preferred reply's implicit reward rises.", _dpo_swapped),
                Mistake("beta_outside", "beta multiplies the loss instead of the margin inside the sigmoid: "
                        "-log sigmoid(beta * (...)).", _dpo_beta_outside),
                Mistake("naive_log_sigmoid", NAIVE_LOG_SIGMOID, _dpo_naive),
                Mistake("sum_not_mean", "the losses of the pairs are summed; average them, so the learning rate "
                        "does not depend on the batch size.", _dpo_sum),
                Mistake("negated_loss", "the loss has the wrong sign: it is -log sigmoid(...), positive, so that "
                        "minimising it makes the preferred reply more likely than the rejected one.", _dpo_negated),
            ],
            points=(1, 1),
            rtol=1e-5, atol=1e-6,
            adapter="loss_and_grad_policy_logps",
        ),
        Exercise(
            reference=ref.dpo_optimal_margin,
            visible=[dict(p=torch.tensor([0.5, 0.75, 1.0]), beta=0.5), dict(p=torch.tensor([0.0, 0.2, 0.9]), beta=0.1),
                     _margin_case(0, 6)],
            hidden=[_margin_case(1, 8, labelers=5, beta=1.0), _margin_case(2, 5, labelers=100, beta=0.05),
                    _margin_case(3, 10, labelers=7, beta=0.3, dtype=torch.float64)],
            mistakes=[
                Mistake("forgets_beta", "this is the margin of the implicit rewards, beta * h; the log-ratio "
                        "margin h is that divided by beta (a smaller beta lets the policy move further).",
                        variant(_margin_variant, scale="none")),
                Mistake("beta_multiplies", "beta multiplies the log-odds; the loss depends on beta * h, so the "
                        "optimal h is the log-odds divided by beta.", variant(_margin_variant, scale="multiply")),
                Mistake("log_not_logit", "the optimum satisfies sigmoid(beta * h) = p, so beta * h is the log-odds "
                        "log(p / (1 - p)), not log p.", variant(_margin_variant, log_odds=torch.log)),
                Mistake("majority_label", "each pair is given its majority's label, which sends the margin to "
                        "infinity whenever p is not 1/2; the loss averages over all the labels, and the "
                        "minority's pull balances the majority's where sigmoid(beta * h) = p.", _margin_majority),
                Mistake("finite_at_certainty", "when every labeler prefers the same reply, -log sigmoid(beta * h) "
                        "keeps falling as h grows, so no finite margin minimises the loss: return inf (or -inf "
                        "when p = 0), not a large finite number.", _margin_finite),
                Mistake("swapped", "the sign is flipped: p is the fraction who prefer y1, and h is y1's log-ratio "
                        "minus y2's, so h > 0 when p > 1/2.", variant(_margin_variant, sign=-1.0)),
            ],
            points=(1, 1),
            rtol=1e-6, atol=1e-6,
            adapter="with_infinities",
        ),
        Exercise(
            reference=ref.kl_optimal_policy,
            visible=[dict(ref_probs=torch.tensor([0.5, 0.5]), rewards=torch.tensor([0.0, 1.0]), beta=1.0),
                     _opt_case(0, (2, 4)), dict(ref_probs=torch.tensor([0.9, 0.1]),
                                                rewards=torch.tensor([0.0, 500.0]), beta=0.1)],
            hidden=[_opt_case(1, (3, 5), beta=0.05, scale=10.0), _opt_case(2, (6,), beta=10.0),
                    _opt_case(3, (2, 2, 3), beta=1.0)],
            mistakes=[
                Mistake("ignores_reference", "the reference policy is missing: pi*(y) is proportional to "
                        "pi_ref(y) * exp(r(y) / beta), not to exp(r(y) / beta) alone.", _opt_no_reference),
                Mistake("beta_multiplies", "the reward is multiplied by beta; it is divided by it (a larger beta "
                        "keeps pi* closer to pi_ref).", _opt_beta_multiplies),
                Mistake("unnormalised", "the probabilities do not sum to 1: divide by Z = sum_y pi_ref(y) exp(r(y) "
                        "/ beta).", _opt_unnormalised),
                Mistake("overflows", "exp(r / beta) overflows for large rewards; add log pi_ref and r / beta "
                        "first and normalise with a softmax (log space).", _opt_overflows),
                Mistake("minus_sign", "the sign is flipped: a higher reward must make a reply more likely.",
                        _opt_minus),
            ],
            points=(1, 1),
            rtol=1e-5, atol=1e-6,
        ),
        Exercise(
            reference=shared.best_of_n_kl_exact,
            visible=[dict(probs=torch.tensor([0.5, 0.5], dtype=torch.float64),
                          scores=torch.tensor([0.0, 1.0], dtype=torch.float64), n=2),
                     dict(probs=torch.tensor([0.2, 0.3, 0.5], dtype=torch.float64),
                          scores=torch.tensor([1.0, 1.0, 1.0], dtype=torch.float64), n=4),
                     dict(probs=torch.tensor([0.1, 0.4, 0.2, 0.3], dtype=torch.float64),
                          scores=torch.tensor([2.0, -1.0, 0.5, 0.5], dtype=torch.float64), n=3),
                     _bon_case(0, A=8, n=5, levels=4),
                     _bon_samples_case(1, N=256, A=60, n=256, levels=40)],
            hidden=[_bon_case(1, A=12, n=1, levels=3), _bon_case(2, A=30, n=7, levels=6),
                    _bon_case(3, A=400, n=16), _bon_case(4, A=50, n=100, zipf=1.5),
                    _bon_samples_case(5, N=256, A=200, n=256, levels=100),
                    _bon_samples_case(6, N=128, A=20, n=128, levels=3)],
            mistakes=[
                Mistake("analytic_bound", "this is log n - (n - 1) / n, the value Gao et al. use: an upper bound "
                        "that only a policy spread over very many outcomes, all with different scores, reaches. "
                        "Compute the KL of the distribution that best-of-n has on these outcomes.", _bon_bound),
                Mistake("ties_ordered", "outcomes with equal scores are ranked as if one beat the other (by their "
                        "position); best-of-n cannot tell them apart: among tied draws it picks one at random, "
                        "so outcomes that score the same act as one outcome.", variant(_bon_variant, tie="order")),
                Mistake("ties_counted_whole", "each of the outcomes that share a score gets the whole chance that "
                        "the best draw scores that much; they share it, in proportion to their probabilities "
                        "(best-of-n's probabilities must sum to 1).", variant(_bon_variant, tie="whole")),
                Mistake("cdf_not_differenced", "F(s)^n, with F the distribution function of the score, is the "
                        "chance that the best of n draws scores at most s, not exactly s.",
                        variant(_bon_variant, mass="cdf")),
                Mistake("continuous_density", "n F^(n-1) p is the density of the maximum of n draws of a "
                        "continuous score; with discrete outcomes its values are not a distribution (they do "
                        "not sum to 1).", variant(_bon_variant, mass="density")),
                Mistake("worst_of_n", "the scores are ordered the wrong way round: this is the KL of "
                        "worst-of-n, which keeps the lowest-scored draw.", variant(_bon_variant, order=-1.0)),
                Mistake("reverse_kl", "this is KL(pi || pi_bon), the other direction; how far best-of-n moves "
                        "from pi is KL(pi_bon || pi), the expectation under best-of-n of log(pi_bon / pi), the "
                        "direction of PPO's KL penalty.", variant(_bon_variant, direction="reverse")),
                Mistake("bits_not_nats", "the KL is in bits (log base 2); the course measures KL in nats "
                        "(the natural log), as log n - (n - 1) / n does.", variant(_bon_variant, log=torch.log2)),
                Mistake("nan_for_unreached_outcomes", "a low-scored outcome that n draws almost never leave at "
                        "the top has best-of-n probability 0 in floating point (F^n underflows), and 0 * log 0 is "
                        "nan; such a term adds 0 to the KL (torch.xlogy computes x * log y with 0 where x is 0).",
                        variant(_bon_variant, zero_safe=False)),
            ],
            points=(1, 1),
            rtol=1e-6, atol=1e-9,
        ),
    ],
)
