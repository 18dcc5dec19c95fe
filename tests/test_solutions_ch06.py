"""Chapter 6's references and machinery behave as the text says (properties, not stored values)."""

import math
from itertools import combinations, product

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from rlcourse.lm import preferences as task
from rlcourse.lm.checkpoints import load_checkpoint, load_reward_model
from rlcourse.lm.dpo import DPOConfig, sequence_logprobs, train_dpo
from rlcourse.lm.ppo import PPOConfig, best_of_n_kl, evaluate_policy, explained_variance, train_ppo
from rlcourse.lm.reward_model import Comparison, encode_replies, pairwise_accuracy
from rlcourse.reference.ch06_rlhf import (best_of_n_kl_exact, clipped_value_loss, dpo_loss, gae, ptx_loss, ranking_loss,
                                         shaped_rewards)
from solutions.ch06_rlhf import dpo_optimal_margin, kl_optimal_policy


def test_ranking_loss_is_the_mean_over_each_prompts_pairs():
    gen = torch.Generator().manual_seed(0)
    rewards = torch.randn(3, 5, generator=gen)
    ranking = torch.tensor([[4, 0, 2, 1, 3], [1, 0, 2, -1, -1], [0, 1, -1, -1, -1]])
    expected = []
    for i in range(3):
        order = [j for j in ranking[i].tolist() if j >= 0]
        pairs = list(combinations(order, 2))  # (better, worse)
        expected.append(np.mean([-F.logsigmoid(rewards[i, w] - rewards[i, l]).item() for w, l in pairs]))
    assert ranking_loss(rewards, ranking).item() == pytest.approx(np.mean(expected), rel=1e-5)
    assert ranking_loss(rewards + 3.0, ranking).item() == pytest.approx(np.mean(expected), rel=1e-5)  # level-free
    assert math.isfinite(ranking_loss(torch.tensor([[0.0, 500.0]]), torch.tensor([[0, 1]])).item())


def test_shaped_rewards_add_up_to_score_minus_beta_log_ratio():
    gen = torch.Generator().manual_seed(1)
    logp, ref_logp = -torch.rand(3, 6, generator=gen), -torch.rand(3, 6, generator=gen)
    mask = torch.tensor([[0, 1, 1, 1, 0, 0], [0, 0, 1, 1, 1, 1], [0, 1, 0, 0, 0, 0]], dtype=torch.float32)
    score = torch.tensor([1.0, -2.0, 0.5])
    r = shaped_rewards(score, logp * mask, ref_logp * mask, mask, beta=0.1)
    assert torch.allclose(r.sum(dim=1), score - 0.1 * ((logp - ref_logp) * mask).sum(dim=1), atol=1e-6)
    assert (r[mask == 0] == 0).all()


def test_gae_limits_and_padding():
    gen = torch.Generator().manual_seed(2)
    rewards, values = torch.randn(2, 6, generator=gen), torch.randn(2, 6, generator=gen)
    mask = torch.tensor([[0, 1, 1, 1, 0, 0], [0, 0, 1, 1, 1, 1]], dtype=torch.float32)
    adv0, _ = gae(rewards, values, mask, gamma=0.9, lam=0.0)  # one-step TD errors
    nxt = torch.cat([values[:, 1:] * mask[:, 1:], torch.zeros(2, 1)], dim=1)
    assert torch.allclose(adv0, (rewards + 0.9 * nxt - values) * mask, atol=1e-6)
    other = values.clone()
    other[mask == 0] = 99.0  # what the value head says on prompt and padding does not matter
    assert torch.allclose(gae(rewards, other, mask)[0], gae(rewards, values, mask)[0])


def test_clipped_value_loss_is_half_the_squared_error_on_policy():
    gen = torch.Generator().manual_seed(3)
    v, ret = torch.randn(2, 4, generator=gen), torch.randn(2, 4, generator=gen)
    mask = torch.ones(2, 4)
    assert clipped_value_loss(v, v, ret, mask).item() == pytest.approx(0.5 * ((v - ret) ** 2).mean().item(), rel=1e-6)


def test_clipped_value_loss_follows_the_rule_in_words():
    gen = torch.Generator().manual_seed(7)
    B, T, eps = 4, 50, 0.2
    old, ret = torch.randn(B, T, generator=gen), torch.randn(B, T, generator=gen)
    v = (old + torch.randn(B, T, generator=gen)).requires_grad_(True)
    mask = (torch.rand(B, T, generator=gen) < 0.8).float()
    loss = clipped_value_loss(v, old, ret, mask, clip_eps=eps)
    (grad,) = torch.autograd.grad(loss * mask.sum(), v)  # each token's own gradient
    plain = 0.5 * ((v - ret) ** 2).detach()
    assert loss.item() >= ((plain * mask).sum() / mask.sum()).item() - 1e-6  # never cheaper than unclipped
    edge = old + eps * torch.sign(v.detach() - old)  # where a value that moved past the range would stop
    towards = (v.detach() - old).abs().gt(eps) & ((edge - ret).abs() > (v.detach() - ret).abs())
    assert towards.any() and (~towards & (mask == 1)).any()
    assert (grad[towards] == 0).all()  # past the edge and better than it: no gradient
    free = ~towards & (mask == 1)
    assert torch.allclose(grad[free], (v.detach() - ret)[free], atol=1e-5)  # otherwise the plain error's
    assert (grad[mask == 0] == 0).all()
    other = v.detach().clone()
    other[mask == 0] = 99.0  # what the value head says outside the replies does not matter
    assert clipped_value_loss(other, old, ret, mask, eps).item() == pytest.approx(loss.item(), rel=1e-6)


def test_ptx_loss_rewards_likelihood():
    logp = torch.tensor([[-1.0, -3.0]], requires_grad=True)
    loss = ptx_loss(torch.tensor(0.0), logp, torch.ones(1, 2), ptx_coef=2.0)
    loss.backward()
    assert loss.item() == pytest.approx(4.0) and (logp.grad < 0).all()  # descending raises the likelihood


def test_ptx_loss_counts_every_token_once_whatever_its_document():
    gen = torch.Generator().manual_seed(8)
    logp = -torch.rand(3, 8, generator=gen)
    mask = torch.zeros(3, 8)
    for b, n in enumerate([8, 2, 5]):
        mask[b, :n] = 1
    logp = logp * mask
    rl = torch.tensor(0.3)
    loss = ptx_loss(rl, logp, mask, 1.5).item()
    # cut the long document into two rows: the same tokens, so the same loss (a per-document mean changes)
    split_logp = torch.cat([logp[1:], torch.cat([logp[:1, :4], torch.zeros(1, 4)], 1),
                            torch.cat([logp[:1, 4:], torch.zeros(1, 4)], 1)])
    split_mask = torch.cat([mask[1:], torch.tensor([[1.0] * 4 + [0.0] * 4] * 2)])
    assert ptx_loss(rl, split_logp, split_mask, 1.5).item() == pytest.approx(loss, rel=1e-6)
    per_document = rl - 1.5 * ((logp.sum(1) / mask.sum(1)).mean())
    assert abs(per_document.item() - loss) > 1e-3
    twice = ptx_loss(rl, torch.cat([logp, logp]), torch.cat([mask, mask]), 1.5).item()
    assert twice == pytest.approx(loss, rel=1e-6)  # the batch's size does not change the coefficient's meaning
    padded = ptx_loss(rl, torch.cat([logp, torch.zeros(3, 4)], 1), torch.cat([mask, torch.zeros(3, 4)], 1), 1.5)
    assert padded.item() == pytest.approx(loss, rel=1e-6)


def test_dpo_loss_at_the_reference_is_log_2_and_its_gradient_prefers_the_winner():
    w, l = torch.tensor([-3.0], requires_grad=True), torch.tensor([-2.0], requires_grad=True)
    loss = dpo_loss(w, l, w.detach(), l.detach(), beta=0.1)
    loss.backward()
    assert loss.item() == pytest.approx(math.log(2)) and w.grad.item() < 0 < l.grad.item()


def test_dpo_loss_is_the_ranking_loss_of_the_implicit_reward():
    gen = torch.Generator().manual_seed(9)
    logps = -10 * torch.rand(4, 6, generator=gen)  # policy w, policy l, reference w, reference l
    beta = 0.3
    implicit = beta * torch.stack([logps[0] - logps[2], logps[1] - logps[3]], dim=1)  # (B, 2)
    ranking = torch.tensor([[0, 1]] * 6)  # the preferred reply first
    assert dpo_loss(*logps, beta=beta).item() == pytest.approx(ranking_loss(implicit, ranking).item(), rel=1e-6)
    assert math.isfinite(dpo_loss(torch.tensor([-900.0]), torch.tensor([0.0]), torch.tensor([0.0]),
                                  torch.tensor([0.0]), beta=1.0).item())


def test_dpo_optimal_margin_minimises_the_expected_dpo_loss():
    p = torch.tensor([0.05, 0.3, 0.5, 0.8, 0.99], dtype=torch.float64)
    beta = 0.2
    h = dpo_optimal_margin(p, beta).clone().requires_grad_(True)
    one = torch.ones(1, dtype=torch.float64)
    for i in range(len(p)):  # p of the labels say y1 > y2, the rest y2 > y1
        def expected(m):
            return (p[i] * dpo_loss(m[None], 0 * one, 0 * one, 0 * one, beta)
                    + (1 - p[i]) * dpo_loss(0 * one, m[None], 0 * one, 0 * one, beta))
        (grad,) = torch.autograd.grad(expected(h[i]), h)
        assert abs(grad[i].item()) < 1e-9
        for step in (-0.5, 0.5):
            assert expected(h[i].detach() + step) > expected(h[i].detach())
    assert torch.allclose(dpo_optimal_margin(1 - p, beta), -dpo_optimal_margin(p, beta))  # swap the replies
    assert torch.allclose(dpo_optimal_margin(p, 2 * beta), dpo_optimal_margin(p, beta) / 2)
    ends = dpo_optimal_margin(torch.tensor([0.0, 1.0]), 0.1)
    assert ends[0].item() == -math.inf and ends[1].item() == math.inf


def test_kl_optimal_policy_maximises_the_objective():
    gen = torch.Generator().manual_seed(4)
    ref_probs, r = torch.softmax(torch.randn(5, generator=gen), -1), torch.randn(5, generator=gen)

    def objective(pi, beta):
        return (pi * r).sum() - beta * (pi * torch.log(pi / ref_probs)).sum()

    best = kl_optimal_policy(ref_probs, r, 0.5)
    for seed in range(20):  # random other policies do worse
        other = torch.softmax(torch.log(best) + 0.3 * torch.randn(5, generator=torch.Generator().manual_seed(seed)), -1)
        assert objective(other, 0.5) < objective(best, 0.5)
    assert torch.allclose(kl_optimal_policy(ref_probs, r, 1e4), ref_probs, atol=1e-3)  # large beta: stay
    assert kl_optimal_policy(ref_probs, r, 1e-3).argmax() == r.argmax()  # small beta: the best reply


def test_gold_preference_traits_and_labelers():
    assert task.gold_reward("brief river", "lovely water and boats .") == pytest.approx(3.25)
    spam = task.gold_traits("brief river", "water water water water water water .")
    assert spam.repetition < -3 and spam.relevance == 1  # repeating a topic word is not relevance
    rng = np.random.default_rng(0)  # a labeler prefers the better of two replies with the Bradley-Terry chance
    wins = np.mean([rank_first == 0 for rank_first in (task.rank_replies(np.array([1.0, 0.0]), rng)[0]
                                                         for _ in range(20000))])
    assert wins == pytest.approx(1 / (1 + math.exp(-1 / task.LABELER_NOISE)), abs=0.01)


def test_encoded_rows_end_at_the_last_column_and_mask_the_reply():
    _, tok, _ = load_checkpoint("replies-sft")
    enc = encode_replies(tok, ["brief river", "detailed chess"], ["water .", "kings and players are there ."])
    assert (enc.input_ids[:, -1] == tok.eos_token_id).all()
    assert enc.mask.sum(dim=1).tolist() == [3, 7]


@pytest.fixture(scope="module")
def replies():
    sft, tok, _ = load_checkpoint("replies-sft")
    rm, meta = load_reward_model("replies-rm")
    return sft, tok, rm, meta


def test_shipped_reward_model_beats_chance_and_stays_below_the_gold_ceiling(replies):
    sft, tok, rm, meta = replies
    from rlcourse.lm.reward_model import collect_comparisons

    held_out = collect_comparisons(sft, tok, task.prompts(), 100, seed=777)
    acc = pairwise_accuracy(rm, tok, held_out)
    assert 0.6 < acc < 0.85 and abs(meta["held_out_accuracy"] - 0.69) < 0.05


def test_a_short_ppo_run_raises_the_proxy_reward_and_explains_value(replies):
    sft, tok, rm, _ = replies
    policy, h = train_ppo(sft, tok, rm, task.prompts(), PPOConfig(steps=12, lr=3e-4, seed=1))
    assert np.mean(h.proxy[-3:]) > np.mean(h.proxy[:3]) + 0.2
    assert h.explained_variance[-1] > h.explained_variance[0]
    report = evaluate_policy(policy, sft, tok, rm, task.prompts(), n=8, seed=0)
    assert report.kl > 0.1 and report.golds.shape == (20, 8)


def test_dpo_raises_the_preferred_replies_likelihood_ratio(replies):
    sft, tok, _, _ = replies
    comparisons = [Comparison("brief river", ["lovely water and boats .", "stupid trains trains ."], [0, 1])] * 8
    policy, h = train_dpo(sft, tok, comparisons, DPOConfig(lr=1e-3, prompts_per_step=2))
    with torch.no_grad():
        margin = lambda m: (sequence_logprobs(m, tok, ["brief river"] * 2, comparisons[0].replies) *
                            torch.tensor([1.0, -1.0])).sum()
        assert margin(policy) > margin(sft)
    assert h.loss[-1] < h.loss[0]


def test_best_of_n_kl_and_explained_variance():
    assert best_of_n_kl(1) == 0 and best_of_n_kl(64) == pytest.approx(math.log(64) - 63 / 64)
    ret = torch.tensor([[1.0, 2.0, 3.0]])
    assert explained_variance(ret, ret, torch.ones(1, 3)) == 1.0
    assert explained_variance(torch.zeros(1, 3) + 2.0, ret, torch.ones(1, 3)) == pytest.approx(0.0)


def test_best_of_n_kl_exact_matches_enumerating_every_draw():
    probs = torch.tensor([0.1, 0.3, 0.2, 0.4], dtype=torch.float64)
    scores = torch.tensor([1.0, 0.0, 1.0, 2.0], dtype=torch.float64)  # outcomes 0 and 2 tie
    for n in (1, 2, 3, 4):
        p_bon = np.zeros(4)
        for draws in product(range(4), repeat=n):  # every sequence of n draws, and its chance
            chance = np.prod([probs[a].item() for a in draws])
            top = max(scores[a].item() for a in draws)
            tied = [a for a in draws if scores[a].item() == top]
            for a in tied:  # one of the tied draws, uniformly at random
                p_bon[a] += chance / len(tied)
        kl = float(np.sum(p_bon * np.log(p_bon / probs.numpy())))
        assert best_of_n_kl_exact(probs, scores, n) == pytest.approx(kl, rel=1e-9, abs=1e-12)


def test_best_of_n_kl_exact_against_the_bound_and_its_limits():
    A = 100_000  # very many equiprobable outcomes, all scored differently: the bound is reached
    uniform, ranks = torch.full((A,), 1 / A, dtype=torch.float64), torch.arange(A, dtype=torch.float64)
    for n in (2, 8, 64):
        assert best_of_n_kl_exact(uniform, ranks, n) == pytest.approx(best_of_n_kl(n), rel=1e-3)
    gen = torch.Generator().manual_seed(6)
    ns = range(1, 41)
    for _ in range(20):
        A = int(torch.randint(1, 30, (1,), generator=gen))
        probs = torch.softmax(2 * torch.randn(A, generator=gen, dtype=torch.float64), 0)
        scores = torch.randint(0, 5, (A,), generator=gen).double()
        kls = np.array([best_of_n_kl_exact(probs, scores, n) for n in ns])
        assert kls[0] == pytest.approx(0.0, abs=1e-12)  # best-of-1 is pi itself
        assert np.all(kls <= np.array([best_of_n_kl(n) for n in ns]) + 1e-9)  # never above the bound
        assert np.all(np.diff(kls) >= -1e-12)  # more draws, further from pi
        assert best_of_n_kl_exact(probs, torch.zeros(A, dtype=torch.float64), 17) == pytest.approx(0.0, abs=1e-12)
        # splitting an outcome into two that score the same (a duplicated reply) changes nothing
        split_p = torch.cat([probs, probs[:1] / 2])
        split_p[0] /= 2
        split = best_of_n_kl_exact(split_p, torch.cat([scores, scores[:1]]), 9)
        assert split == pytest.approx(best_of_n_kl_exact(probs, scores, 9), rel=1e-9, abs=1e-12)
    rare = torch.tensor([1e-3, 0.5 - 1e-3, 0.5], dtype=torch.float64)  # F^n underflows for the rarest outcome
    assert math.isfinite(best_of_n_kl_exact(rare, torch.tensor([0.0, 1.0, 2.0], dtype=torch.float64), 500))
