"""Properties of Chapter 5's reference solutions, checked independently of the stored cases."""

import itertools
import math

import numpy as np
import pytest
import torch

from rlcourse.lm.tasks import parse_answer
from rlcourse.lm.training import causal_lm_loss
from rlcourse.reference.ch05_rlvr import (clipped_surrogate_loss, group_advantages, kl_estimate, policy_gradient_loss,
                                          token_logprobs, verifier_reward)
from solutions.ch05_rlvr import pass_at_k


def test_verifier_scores_any_text_without_raising():
    rng = np.random.default_rng(0)
    alphabet = list("0123456789 +-=x\n\t.") + ["<|eos|>", "٣", "½"]
    for _ in range(2000):
        reply = "".join(rng.choice(alphabet, size=rng.integers(0, 8)))
        assert verifier_reward(reply, int(rng.integers(0, 2000)), 0.1) in (0.0, 0.1, 1.0)
    assert verifier_reward("0001", 1000) == 1.0 and verifier_reward("572", 275, 0.3) == 1.0


def test_the_metric_and_the_verifier_read_answers_alike():
    """exact_match (via parse_answer) counts a reply right exactly when the verifier rewards it 1."""
    rng = np.random.default_rng(1)
    alphabet = list("0123456789 +-x\n") + ["٣"]
    for _ in range(3000):
        reply = "".join(rng.choice(alphabet, size=rng.integers(0, 6)))
        value = parse_answer(reply, reverse=True)
        target = value if value is not None and rng.random() < 0.5 else int(rng.integers(0, 1000))
        assert (verifier_reward(reply, target) == 1.0) == (value == target), reply
    assert parse_answer("572+1", reverse=True) is None and verifier_reward("572+1", 275) == 0.0


def test_group_advantages_center_each_group_and_normalise():
    rewards = torch.rand(6, 5, generator=torch.Generator().manual_seed(0))
    rewards[2] = 1.0  # a group with no signal
    adv = group_advantages(rewards)
    torch.testing.assert_close(adv.sum(dim=1), torch.zeros(6), atol=1e-6, rtol=0)
    norm = group_advantages(rewards, normalize=True)
    assert torch.all(norm[2] == 0)
    others = [0, 1, 3, 4, 5]
    torch.testing.assert_close(norm[others].std(dim=1, unbiased=False), torch.ones(5), atol=1e-4, rtol=0)


def test_token_logprobs_agree_with_the_masked_next_token_loss():
    gen = torch.Generator().manual_seed(1)
    logits, ids = torch.randn(3, 7, 11, generator=gen), torch.randint(0, 11, (3, 7), generator=gen)
    mask = torch.tensor([[0, 0, 1, 1, 1, 0, 0], [0, 1, 1, 1, 1, 1, 1], [0, 0, 0, 0, 1, 1, 0]]).float()
    logp = token_logprobs(logits, ids, mask)
    torch.testing.assert_close(-logp.sum() / mask[:, 1:].sum(), causal_lm_loss(logits, ids, mask))
    assert torch.all(logp[mask == 0] == 0) and torch.all(logp[mask == 1] < 0)


def test_policy_gradient_step_raises_the_likelihood_of_better_completions():
    torch.manual_seed(0)
    logits = torch.randn(4, 6, 9, requires_grad=True)
    ids, mask = torch.randint(0, 9, (4, 6)), torch.tensor([[0, 0, 1, 1, 1, 1]] * 4).float()
    adv = torch.tensor([1.0, -1.0, 0.5, -0.5])
    for normalization in ("token", "sequence"):
        logp = token_logprobs(logits, ids, mask)
        loss = policy_gradient_loss(logp, adv, mask, normalization)
        (grad,) = torch.autograd.grad(loss, logits)
        after = token_logprobs(logits - 0.5 * grad, ids, mask).sum(dim=1)
        change = (after - logp.sum(dim=1)).detach()
        assert torch.all(torch.sign(change) == torch.sign(adv))
    same_length = [policy_gradient_loss(token_logprobs(logits, ids, mask), adv, mask, n) for n in ("token", "sequence")]
    torch.testing.assert_close(*same_length)  # equal when every completion has the same length


def test_kl_estimators_are_unbiased_and_k3_is_never_negative():
    gen = torch.Generator().manual_seed(2)
    p = torch.softmax(torch.randn(6, generator=gen), 0)
    q = torch.softmax(torch.randn(6, generator=gen), 0)
    exact = float((p * (p.log() - q.log())).sum())
    tokens = torch.multinomial(p, 200_000, replacement=True, generator=gen)[None]  # sampled from the policy
    logp, ref_logp, mask = p.log()[tokens], q.log()[tokens], torch.ones(1, tokens.shape[1])
    k1, k3 = (kl_estimate(logp, ref_logp, mask, e) for e in ("k1", "k3"))
    assert abs(float(k1.mean()) - exact) < 0.02 and abs(float(k3.mean()) - exact) < 0.02
    assert torch.all(k3 >= 0) and float(k3.std()) < float(k1.std())


def test_clipped_loss_has_the_policy_gradient_on_policy_and_none_past_the_clip():
    gen = torch.Generator().manual_seed(3)
    logp = torch.log(torch.rand(3, 5, generator=gen)).requires_grad_(True)
    adv, mask = torch.tensor([1.0, -2.0, 0.5]), torch.ones(3, 5)
    clipped = clipped_surrogate_loss(logp, logp.detach(), adv, mask)
    plain = policy_gradient_loss(logp, adv, mask)
    torch.testing.assert_close(clipped, -(adv[:, None] * mask).sum() / mask.sum())  # ratio 1 everywhere
    torch.testing.assert_close(*(torch.autograd.grad(x, logp)[0] for x in (clipped, plain)))
    moved = logp.detach() + 0.5  # ratio e^0.5 > 1.2: for A > 0 the clip holds the gradient at 0
    moved.requires_grad_(True)
    (grad,) = torch.autograd.grad(clipped_surrogate_loss(moved, logp.detach(), adv, mask), moved)
    assert torch.all(grad[0] == 0) and torch.all(grad[2] == 0) and torch.all(grad[1] != 0)


@pytest.mark.parametrize("n,c,k", [(6, 2, 3), (7, 0, 2), (5, 4, 2), (8, 3, 1), (6, 6, 6)])
def test_pass_at_k_is_the_chance_that_k_draws_without_replacement_include_a_correct_one(n, c, k):
    samples = [1] * c + [0] * (n - c)
    draws = list(itertools.combinations(range(n), k))
    exact = sum(any(samples[i] for i in d) for d in draws) / len(draws)
    assert pass_at_k(n, c, k) == pytest.approx(exact, abs=1e-12)
    assert pass_at_k(n, c, k) == pytest.approx(1 - math.comb(n - c, k) / math.comb(n, k), abs=1e-12)


def test_expected_kl_gradients_against_closed_forms_and_sampling():
    """k1 in the loss has zero expected gradient; k3's is pi - pi_ref, the gradient of KL(pi_ref || pi);
    the KL gradients match finite differences; and the expectation is what sampled losses average to."""
    from solutions.ch05_rlvr import expected_kl_gradients

    gen = torch.Generator().manual_seed(0)
    for V in (2, 5, 9):
        logits = torch.randn(V, generator=gen, dtype=torch.float64)
        ref_logits = torch.randn(V, generator=gen, dtype=torch.float64)
        g = expected_kl_gradients(logits, ref_logits)
        pi, ref_pi = torch.softmax(logits, -1), torch.softmax(ref_logits, -1)
        assert torch.allclose(g["k1"], torch.zeros(V, dtype=torch.float64), atol=1e-12)
        assert torch.allclose(g["k3"], pi - ref_pi, atol=1e-12)
        assert torch.allclose(g["reverse_kl"], pi - ref_pi, atol=1e-12)
        kl = lambda z: float((torch.softmax(z, -1) * (torch.log_softmax(z, -1) - torch.log_softmax(ref_logits, -1))).sum())
        fd = torch.tensor([(kl(logits + 1e-6 * e) - kl(logits - 1e-6 * e)) / 2e-6
                           for e in torch.eye(V, dtype=torch.float64)], dtype=torch.float64)
        assert torch.allclose(g["kl"], fd, atol=1e-7)
        assert not torch.allclose(g["k3"], g["kl"], atol=1e-3)
    # Monte Carlo: the average gradient of k3 on sampled tokens approaches the exact expectation
    logits = torch.tensor([0.5, -1.0, 1.5, 0.0], dtype=torch.float64)
    ref_logits = torch.tensor([0.0, 0.5, -0.5, 1.0], dtype=torch.float64)
    leaf = logits.clone().requires_grad_(True)
    ys = torch.multinomial(torch.softmax(logits, -1), 20000, replacement=True, generator=gen)
    logp = torch.log_softmax(leaf, -1)[ys]
    log_r = torch.log_softmax(ref_logits, -1)[ys] - logp
    (torch.exp(log_r) - 1 - log_r).mean().backward()
    assert torch.allclose(leaf.grad, expected_kl_gradients(logits, ref_logits)["k3"], atol=0.02)
