"""Chapter 7's references and machinery behave as the text says (properties, not stored values)."""

from collections import Counter

import numpy as np
import pytest
import torch

from rlcourse import verifiers
from rlcourse.lm import constitution
from rlcourse.lm.ai_feedback import JudgeConfig, ai_comparisons, first_is_better, train_judge
from rlcourse.lm.checkpoints import load_checkpoint
from rlcourse.lm.preferences import RUDE, gold_reward, prompts
from rlcourse.lm.reward_model import Comparison, RewardModelConfig, score_replies, train_reward_model
from rlcourse.reference.ch06_rlhf import ranking_loss
from rlcourse.reference.ch07_beyond_rlhf import (best_of_n, debiased_preference, first_error_labels, majority_vote,
                                                 prm_score, soft_preference_loss)
from solutions.ch07_beyond_rlhf import labeler_agreement, majority_vote_accuracy


def test_debiased_preference_does_not_depend_on_the_order_asked():
    gen = torch.Generator().manual_seed(0)
    p_ab, p_ba = 0.01 + 0.98 * torch.rand(50, generator=gen), 0.01 + 0.98 * torch.rand(50, generator=gen)
    for how in ("average", "log-odds"):
        p = debiased_preference(p_ab, p_ba, how)
        assert torch.allclose(p + debiased_preference(p_ba, p_ab, how), torch.ones(50), atol=1e-6)  # P(A>B) + P(B>A)
    same_verdict = (debiased_preference(p_ab, p_ba) > 0.5) == (debiased_preference(p_ab, p_ba, "log-odds") > 0.5)
    assert same_verdict.all()  # the two recipes differ in confidence, never in the verdict
    with pytest.raises(ValueError):
        debiased_preference(p_ab, p_ba, "geometric")


def test_log_odds_recover_a_labeler_with_a_fixed_lean_and_averaging_shrinks_it():
    m = torch.linspace(-3, 3, 13)  # the labeler's log-odds that A is better, free of the bias
    shrink = []
    for b in (-1.0, 0.0, 0.7, 3.0):  # its lean towards the first slot
        p_ab, p_ba = torch.sigmoid(m + b), torch.sigmoid(-m + b)
        fitted, averaged = debiased_preference(p_ab, p_ba, "log-odds"), debiased_preference(p_ab, p_ba)
        assert torch.allclose(fitted, torch.sigmoid(m), atol=1e-5)
        assert torch.allclose(torch.logit(p_ab) - torch.logit(fitted), torch.full_like(m, b), atol=1e-4)
        assert torch.allclose(averaged, 1 - averaged.flip(0), atol=1e-6) and torch.all(torch.diff(averaged) > 0)
        assert torch.all((averaged - 0.5).abs() <= (fitted - 0.5).abs() + 1e-6)  # averaging pulls towards 1/2
        shrink.append(float((averaged - 0.5).abs().sum() / (fitted - 0.5).abs().sum()))
    assert shrink[1] == pytest.approx(1.0) and shrink[3] < shrink[2] < 1.0  # exact without a lean, worse the more


def test_soft_preference_loss_is_a_cross_entropy_minimised_at_the_label():
    gen = torch.Generator().manual_seed(4)
    rewards, p = torch.randn(40, 2, generator=gen) * 3, torch.rand(40, generator=gen)
    loss = soft_preference_loss(rewards, p)
    swapped = soft_preference_loss(rewards.flip(1), 1 - p)  # B and A swap places, the label with them
    assert torch.allclose(loss, swapped, atol=1e-6)
    hard = (p > 0.5).float()  # at p in {0, 1} it is Chapter 6's loss on the hard label
    winner_first = torch.where(hard[:, None] > 0, rewards, rewards.flip(1))
    assert torch.allclose(soft_preference_loss(rewards, hard), ranking_loss(winner_first, torch.tensor([[0, 1]] * 40)))
    for label in (0.1, 0.5, 0.8):  # minimised over the margin where sigmoid(margin) = p
        margin = torch.zeros(1, requires_grad=True)
        opt = torch.optim.SGD([margin], lr=2.0)
        for _ in range(300):
            opt.zero_grad()
            soft_preference_loss(torch.stack([margin, torch.zeros(1)], dim=1), torch.tensor([label])).backward()
            opt.step()
        assert margin.item() == pytest.approx(float(torch.logit(torch.tensor(label))), abs=1e-3)
    big = soft_preference_loss(torch.tensor([[200.0, 0.0], [0.0, 200.0]]), torch.tensor([0.0, 1.0]))
    assert torch.isfinite(big) and big.item() == pytest.approx(200.0)  # stable for any margin


def test_labeler_agreement_matches_simulated_labelers():
    rng = np.random.default_rng(5)
    gaps = np.round(rng.normal(size=400) * 1.5 * 4) / 4  # some ties
    noise = 0.85
    with_gold, each_other = labeler_agreement(torch.tensor(gaps), noise)
    picks_a = rng.random((2, 20, 400)) < 1 / (1 + np.exp(-gaps / noise))  # two labelers, 20 rounds
    decided = gaps != 0
    assert with_gold == pytest.approx(float((picks_a[0] == (gaps > 0))[:, decided].mean()), abs=0.01)
    assert each_other == pytest.approx(float((picks_a[0] == picks_a[1]).mean()), abs=0.01)
    assert with_gold > each_other  # people who agree 73% of the time are each right more often
    assert each_other >= with_gold ** 2 + (1 - with_gold) ** 2 - 0.01  # not from the average accuracy
    assert labeler_agreement(torch.tensor([1e-9, 30.0]), 0.1) == pytest.approx((0.75, 0.75), abs=1e-6)
    assert labeler_agreement(torch.tensor([2.0, -2.0]), 1.0) == labeler_agreement(torch.tensor([-2.0, 2.0]), 1.0)


def test_soft_labels_train_a_reward_model():
    sft, tokenizer, _ = load_checkpoint("replies-sft")
    pairs = [Comparison("brief river", ["water boats .", "stupid ."], [0, 1])] * 32
    with pytest.raises(ValueError):
        train_reward_model(sft, tokenizer, pairs[:1] + ai_comparisons(pairs[1:], torch.full((31,), 0.9), soft=True),
                           RewardModelConfig())
    for p in (0.9, 0.1):
        soft = ai_comparisons(pairs, torch.full((32,), p), soft=True)
        assert soft[0].p == pytest.approx(p) and soft[0].ranking == ([0, 1] if p > 0.5 else [1, 0])
        rm, history = train_reward_model(sft, tokenizer, soft, RewardModelConfig(lr=1e-3, epochs=3))
        a, b = score_replies(rm, tokenizer, ["brief river"] * 2, ["water boats .", "stupid ."])
        assert (a - b > 0) == (p > 0.5) and history.loss[-1] < history.loss[0]


def test_first_error_labels_stop_at_the_first_wrong_step():
    gen = torch.Generator().manual_seed(1)
    correct = torch.rand(40, 6, generator=gen) > 0.3
    lengths = torch.randint(1, 7, (40,), generator=gen)
    mask = (torch.arange(6)[None, :] < lengths[:, None]).float()
    labels = first_error_labels(correct, mask)
    for b in range(40):
        verdicts = correct[b, :lengths[b]].tolist()
        first = verdicts.index(False) if False in verdicts else len(verdicts)
        expected = [1] * first + ([0] if first < len(verdicts) else []) + [-100] * (6 - min(first + 1, len(verdicts)))
        assert labels[b].tolist() == expected
    assert torch.nn.functional.binary_cross_entropy_with_logits(  # the -100 entries drop out of a masked loss
        torch.zeros(40, 6), labels.clamp(min=0).float(), weight=(labels >= 0).float()).isfinite()


def test_prm_scores_are_logs_of_the_product_and_the_minimum():
    probs = torch.tensor([[0.9, 0.8, 0.5, 0.0], [0.9, 0.8, 0.3, 0.7]])  # padding may hold a zero
    mask = torch.tensor([[1.0, 1, 1, 0], [1, 1, 1, 1]])
    assert prm_score(probs, mask, "product").exp().tolist() == pytest.approx([0.36, 0.1512])
    assert prm_score(probs, mask, "min").exp().tolist() == pytest.approx([0.5, 0.3])
    assert torch.all(prm_score(probs, mask, "min") >= prm_score(probs, mask, "product"))  # min >= product of <= 1
    long = prm_score(torch.full((1, 400), 0.1), torch.ones(1, 400))  # its product underflows to 0 in float32
    assert torch.isfinite(long).all() and long.item() == pytest.approx(400 * np.log(0.1), rel=1e-5)
    gen = torch.Generator().manual_seed(3)
    probs = 0.05 + 0.95 * torch.rand(30, 8, generator=gen)
    lengths = torch.randint(1, 9, (30,), generator=gen)
    mask = (torch.arange(8)[None, :] < lengths[:, None]).float()
    junk = torch.where(mask.bool(), probs, torch.rand(30, 8, generator=gen))  # other values on padding
    for how in ("product", "min"):
        assert torch.equal(prm_score(probs, mask, how), prm_score(junk, mask, how))  # padding never counts
    assert torch.all(prm_score(probs, mask, "product") <= 0)
    with pytest.raises(ValueError):
        prm_score(probs, mask, "sum")


def test_best_of_n_and_majority_vote_break_ties_by_the_first_sample():
    gen = torch.Generator().manual_seed(2)
    answers = torch.randint(0, 5, (200, 9), generator=gen)
    scores = torch.randint(0, 3, (200, 9), generator=gen).float() / 2
    chosen, voted = best_of_n(scores, answers), best_of_n(scores, answers, "vote")
    for p in range(200):
        first_best = scores[p].tolist().index(scores[p].max().item())
        assert chosen[p] == answers[p, first_best]
        counts = Counter(answers[p].tolist())
        top = max(counts.values())
        assert majority_vote(answers[p:p + 1]).item() == next(a for a in answers[p].tolist() if counts[a] == top)
        totals = Counter()
        for a, s in zip(answers[p].tolist(), scores[p].tolist()):
            totals[a] += s
        best = max(totals.values())
        assert voted[p].item() == next(a for a in answers[p].tolist() if totals[a] == best)
    assert torch.equal(best_of_n(torch.ones(200, 9), answers, "vote"), majority_vote(answers))  # equal weights
    assert torch.equal(best_of_n(scores[:, :1], answers[:, :1], "vote"), answers[:, 0])  # one solution: its answer
    with pytest.raises(ValueError):
        best_of_n(scores, answers, "mean")


def test_majority_vote_accuracy_matches_simulation_and_limits():
    rng = np.random.default_rng(3)
    probs, n = [0.4, 0.35, 0.25], 5
    draws = rng.choice(3, size=(20000, n), p=probs)
    wins = 0.0
    for row in draws:
        counts = np.bincount(row, minlength=3)
        tied = np.flatnonzero(counts == counts.max())
        wins += (0 in tied) / len(tied)
    assert majority_vote_accuracy(probs, n) == pytest.approx(wins / len(draws), abs=0.01)
    assert majority_vote_accuracy([0.3, 0.5, 0.2], 9) < majority_vote_accuracy([0.3, 0.5, 0.2], 1)  # a wrong mode
    assert majority_vote_accuracy([0.5, 0.3, 0.2], 9) > majority_vote_accuracy([0.5, 0.3, 0.2], 1)
    assert majority_vote_accuracy([0.3, 0.7], 1) == pytest.approx(0.3)


def test_solver_slips_and_the_checker_sees_them():
    pool = verifiers.sample_pool(verifiers.problems(300, seed=0), 4, verifiers.Solver(), seed=0)
    assert all(len(s.steps) >= len(s.problem) - 1 for s in pool)
    right = [s for s in pool if all(verifiers.step_correct(s))]
    assert all(verifiers.final_correct(s) for s in right)
    assert 0.3 < len(right) / len(pool) < 0.6  # the habit (40%) and the accidents
    assert verifiers.add_without_carry(18, 5) == 13 and verifiers.add_without_carry(45, 9) == 44
    careful = verifiers.sample_pool(verifiers.problems(50, seed=1), 4, verifiers.Solver(careless=0.0, slip=0.0), seed=1)
    assert all(all(verifiers.step_correct(s)) for s in careful)


def test_a_prm_learns_to_check_steps():
    train = verifiers.sample_pool(verifiers.problems(800, seed=4), 4, verifiers.Solver(), seed=4)
    prm, history = verifiers.train_scorer(train, verifiers.ScorerConfig(kind="prm", epochs=8))
    test = verifiers.sample_pool(verifiers.problems(100, seed=5), 8, verifiers.Solver(), seed=5)
    probs, mask = verifiers.step_probabilities(prm, test)
    scores = prm_score(probs, mask, "product").exp()  # the product of the step probabilities
    right = torch.tensor([all(verifiers.step_correct(s)) for s in test])
    assert scores[right].mean() > scores[~right].mean() + 0.5
    assert history.labels > len(train)  # a label per step, up to the first wrong one


def test_constitution_checkers_and_revision():
    words = "water stupid bread water .".split()
    by_name = {p.name: p for p in constitution.CONSTITUTION}
    assert by_name["no insults"].offending("brief river", words) == [1]
    assert by_name["on topic"].offending("brief river", words) == [2]
    assert by_name["no repetition"].offending("brief river", words) == [3]
    assert constitution.ENGAGE.breaches("brief river", words) == 1  # one distinct topic word of two
    sft, tokenizer, _ = load_checkpoint("replies-sft")
    asked = ["brief river"] * 20
    rude = ["water stupid boats ."] * 20
    revised = constitution.revise(sft, tokenizer, asked, rude, [by_name["no insults"]] * 20,
                                  generator=torch.Generator().manual_seed(0))
    assert all(r.startswith("water") and not set(r.split()) & set(RUDE) for r in revised)
    assert constitution.revise(sft, tokenizer, ["brief river"], ["water boats ."], [by_name["no insults"]],
                               generator=torch.Generator().manual_seed(0)) == ["water boats ."]
    pairs = [Comparison("brief river", ["water stupid .", "water ."], [0, 1])] * 30
    labelled = constitution.constitutional_comparisons(pairs, np.random.default_rng(0))
    assert labelled and all(c.ranking == [1, 0] for c in labelled)  # only the insult principle tells them apart


def test_judge_learns_the_order_term_from_a_leaning_rater():
    sft, tokenizer, _ = load_checkpoint("replies-sft")
    rng = np.random.default_rng(0)
    from rlcourse.lm.preferences import demonstration

    pairs = [(p, demonstration(p, rng), demonstration(p, rng)) for p in rng.choice(prompts(), 300)]
    judge, _ = train_judge(sft, tokenizer, pairs, JudgeConfig(lean=1.5, epochs=2))
    assert judge.delta.item() > 0.2
    prompt_list, a, b = zip(*pairs[:50])
    p_ab = first_is_better(judge, tokenizer, list(prompt_list), list(a), list(b))
    p_ba = first_is_better(judge, tokenizer, list(prompt_list), list(b), list(a))
    assert (p_ab + p_ba).mean() > 1.05  # the first slot wins more than its share
    assert torch.allclose(debiased_preference(p_ab, p_ba) + debiased_preference(p_ba, p_ab), torch.ones(50))
    fitted = debiased_preference(p_ab, p_ba, "log-odds")  # the judge's lean is a fixed term in its log-odds
    assert torch.allclose(torch.logit(p_ab) - torch.logit(fitted), judge.delta.detach().expand(50), atol=0.02)
    assert gold_reward("brief river", "water boats .") > gold_reward("brief river", "stupid .")


def test_constitution_restraint_never_prefers_saying_more_and_engage_is_relevance():
    from rlcourse.lm.preferences import gold_traits

    rng = np.random.default_rng(0)
    vocab = sorted({w for ws in constitution.TOPIC_WORDS.values() for w in ws} | set(RUDE))
    for prompt in prompts():
        for _ in range(20):
            words = list(rng.choice(vocab, size=int(rng.integers(1, 8)))) + ["."]
            reply = " ".join(words)
            # an empty reply breaks no principle of restraint: restraint alone can reward saying nothing
            assert all(p.breaches(prompt, ["."]) <= p.breaches(prompt, words) for p in constitution.CONSTITUTION)
            # the engagement principle is the gold preference's relevance term, read backwards
            assert constitution.ENGAGE.breaches(prompt, words) == 2 - gold_traits(prompt, reply).relevance
            evasive = constitution.harm_report([prompt], [reply])["evasive"]
            assert evasive == (constitution.ENGAGE.breaches(prompt, words) == 2)
