"""Exercises of Chapter 7: cases, points and the plausible mistakes each check must catch."""

from itertools import product
from math import comb, factorial

import torch
import torch.nn.functional as F

from autograde.spec import Chapter, Exercise, Mistake, variant
from rlcourse.reference import ch07_beyond_rlhf as shared
from solutions import ch07_beyond_rlhf as ref


# ----- wrong implementations -------------------------------------------------------------------
def _pref_variant(p_first_ab, p_first_ba, how="average", flip=True, orders="both", log_odds="half", combine=None):
    second = 1.0 - p_first_ba if flip else p_first_ba  # the second answer, read as P(A better)
    if orders == "first":
        return p_first_ab.clone()
    if orders == "b_over_a":
        return 1.0 - shared.debiased_preference(p_first_ab, p_first_ba, how)
    if how == "average" or combine == "average":
        return 0.5 * (p_first_ab + second)
    if combine == "geometric":  # the geometric mean of the two estimates, not normalised
        return torch.sqrt(p_first_ab * second)
    z_ab, z_ba = torch.logit(p_first_ab), torch.logit(p_first_ba)  # m + b and -m + b
    if log_odds == "no_half":
        return torch.sigmoid(z_ab - z_ba)
    if log_odds == "bias_added":
        return torch.sigmoid(z_ab + 0.5 * (z_ab + z_ba))
    return torch.sigmoid(0.5 * (z_ab - z_ba) if flip else 0.5 * (z_ab + z_ba))


def _soft_variant(rewards, p, hard=False, sign=1.0, naive=False, reduce="mean", terms="both"):
    margin = sign * (rewards[:, 0] - rewards[:, 1])
    if hard:
        p = (p >= 0.5).to(rewards.dtype)
    logsig = (lambda x: torch.log(torch.sigmoid(x))) if naive else F.logsigmoid
    if terms == "a_only":  # the (1 - p) term left out
        per_pair = -p * logsig(margin)
    elif terms == "ignores_p":  # reply A taken as the winner of every pair
        per_pair = -logsig(margin)
    elif terms == "winner_weighted":  # a hard label on the likelier reply, weighted by its probability
        a_wins = p >= 0.5
        per_pair = -torch.where(a_wins, p, 1 - p) * logsig(torch.where(a_wins, margin, -margin))
    else:
        per_pair = -(p * logsig(margin) + (1 - p) * logsig(-margin))
    return per_pair.sum() if reduce == "sum" else per_pair.mean()


def _agree_variant(gaps, noise, gold_ties="drop", pair_ties="keep", between="per_pair", signed=False, scale="divide"):
    z = gaps * noise if scale == "multiply" else gaps / noise
    p = torch.sigmoid(z)
    right = p if signed else torch.where(gaps > 0, p, 1 - p)
    decided = gaps != 0
    with_gold = right[decided].mean() if gold_ties == "drop" else torch.where(decided, right, 0.5).mean()
    keep = torch.ones_like(decided) if pair_ties == "keep" else decided
    if between == "per_pair":
        each_other = (p ** 2 + (1 - p) ** 2)[keep].mean()
    elif between == "from_average":
        each_other = with_gold ** 2 + (1 - with_gold) ** 2
    elif between == "both_right":
        each_other = (right ** 2)[keep].mean()
    else:  # "accuracy": the agreement with the gold preference again
        each_other = with_gold
    return float(with_gold), float(each_other)


def _labels_variant(correct, mask, after=-100, first=0, every=False, use_mask=True, ignore=-100):
    real = mask.bool() if use_mask else torch.ones_like(mask, dtype=torch.bool)
    wrong = ~correct.bool() & real
    before = torch.cumsum(wrong.long(), dim=1) - wrong.long()
    labels = torch.where(wrong, first, 1)
    if every:
        return torch.where(real, torch.where(wrong, 0, 1), ignore)
    labels = torch.where(real & (before > 0), after, labels)
    return torch.where(real, labels, ignore)


def _prm_variant(step_probs, mask, how="product", padding=False, product_as="log_sum", min_as="log_min",
                 mask_by="where"):
    real = torch.ones_like(mask, dtype=torch.bool) if padding else mask.bool()
    if mask_by == "multiply":  # the mask applied after the log: 0 * log 0 = nan on zero padding
        logp = mask * torch.log(step_probs)
    else:
        logp = torch.log(torch.where(real, step_probs, torch.ones_like(step_probs)))
    if how == "min":
        if min_as == "last":
            last = (real.long() * torch.arange(1, real.shape[1] + 1)).argmax(dim=1)
            return logp.gather(1, last[:, None]).squeeze(1)
        smallest = torch.where(real, logp, torch.full_like(logp, float("inf"))).amin(dim=1)
        return smallest.exp() if min_as == "probability" else smallest
    if product_as == "sum_p":
        return torch.where(real, step_probs, torch.zeros_like(step_probs)).sum(dim=1)
    if product_as == "product":
        return torch.where(real, step_probs, torch.ones_like(step_probs)).prod(dim=1)
    if product_as == "log_of_product":
        return torch.log(torch.where(real, step_probs, torch.ones_like(step_probs)).prod(dim=1))
    if product_as == "mean_log":
        return logp.sum(dim=1) / real.sum(dim=1)
    return logp.sum(dim=1)


def _bon_variant(scores, answers, how="max", pick="highest", ties="first", vote="sum"):
    if how == "max" or vote == "max":
        if pick == "index":
            return torch.argmax(scores, dim=1)
        if pick == "lowest":
            return answers.gather(1, torch.argmin(scores, dim=1)[:, None]).squeeze(1)
        if ties == "last":
            return shared.best_of_n(scores.flip(1), answers.flip(1))
        return shared.best_of_n(scores, answers)
    if vote == "count":  # every solution one vote, whatever its score
        return shared.majority_vote(answers)
    same = (answers[:, :, None] == answers[:, None, :]).float()  # (P, N, N)
    totals = (same * scores[:, None, :]).sum(dim=2)  # (P, N)
    if vote == "mean":
        totals = totals / same.sum(dim=2)
    if ties == "last":
        return shared.best_of_n(scores.flip(1), answers.flip(1), "vote")
    if ties == "smallest":
        top = totals == totals.max(dim=1, keepdim=True).values
        return torch.where(top, answers, torch.iinfo(answers.dtype).max).min(dim=1).values
    return answers.gather(1, torch.argmax(totals, dim=1)[:, None]).squeeze(1)


def _vote_smallest(answers):
    return torch.mode(answers, dim=1).values


def _vote_first(answers):
    return answers[:, 0].clone()


def _vote_ties_last(answers):
    return shared.majority_vote(answers.flip(1))


def _vote_highest_answer(answers):
    votes = (answers[:, :, None] == answers[:, None, :]).sum(dim=2)
    top = votes == votes.max(dim=1, keepdim=True).values
    return torch.where(top, answers, torch.iinfo(answers.dtype).min).max(dim=1).values


def _acc_variant(probs, n, tie=None, rule="plurality"):
    total = 0.0
    for counts in product(range(n + 1), repeat=len(probs)):
        if sum(counts) != n:
            continue
        chance = factorial(n)
        for p, c in zip(probs, counts):
            chance = chance * p ** c / factorial(c)
        top = max(counts)
        if rule == "majority":
            total += chance if 2 * counts[0] > n else 0.0
        elif counts[0] == top:
            ties = counts.count(top)
            total += chance * (1.0 if ties == 1 else {"win": 1.0, "lose": 0.0}.get(tie, 1.0 / ties))
    return float(total)


def _acc_right_vs_rest(probs, n):
    p = probs[0]
    total = 0.0
    for k in range(n + 1):
        chance = comb(n, k) * p ** k * (1 - p) ** (n - k)
        total += chance if 2 * k > n else 0.5 * chance if 2 * k == n else 0.0
    return float(total)


def _acc_pass_at_n(probs, n):
    return float(1 - (1 - probs[0]) ** n)


# ----- cases ------------------------------------------------------------------------------------
def _pref_case(seed, B, how="average", bias=None):
    gen = torch.Generator().manual_seed(seed)
    if bias is not None:  # a labeler of the kind "log-odds" assumes: log-odds m + bias in either order
        m = 2.0 * torch.randn(B, generator=gen)
        return dict(p_first_ab=torch.sigmoid(m + bias), p_first_ba=torch.sigmoid(-m + bias), how=how)
    p = 0.02 + 0.96 * torch.rand(2, B, generator=gen)  # strictly inside (0, 1)
    return dict(p_first_ab=p[0], p_first_ba=p[1], how=how)


def _soft_case(seed, B, scale=1.0, levels=None):
    gen = torch.Generator().manual_seed(seed)
    rewards = torch.round(scale * torch.randn(B, 2, generator=gen) * 100) / 100
    p = torch.rand(B, generator=gen)
    if levels is not None:  # labels at a few levels: 0, 1/2 and 1 occur
        p = torch.round(p * levels) / levels
    return dict(rewards=rewards, p=p)


def _agree_case(seed, B, noise, ties=0.2, step=0.25):
    gen = torch.Generator().manual_seed(seed)
    gaps = torch.round(torch.randn(B, generator=gen) * 1.5 / step) * step  # gold gaps come in steps
    gaps = torch.where(torch.rand(B, generator=gen) < ties, torch.zeros(B), gaps)
    gaps[0] = step  # at least one pair the gold preference decides
    return dict(gaps=gaps, noise=noise)


def _labels_case(seed, lengths, S=6, p_wrong=0.3):
    gen = torch.Generator().manual_seed(seed)
    mask = torch.zeros(len(lengths), S)
    for b, n in enumerate(lengths):
        mask[b, :n] = 1.0
    correct = torch.rand(len(lengths), S, generator=gen) > p_wrong  # padding holds junk verdicts too
    return dict(correct=correct, mask=mask)


def _prm_case(seed, lengths, how, S=6):
    gen = torch.Generator().manual_seed(seed)
    mask = torch.zeros(len(lengths), S)
    for b, n in enumerate(lengths):
        mask[b, :n] = 1.0
    probs = 0.05 + 0.95 * torch.rand(len(lengths), S, generator=gen)  # padding holds junk values too,
    probs[0] = torch.where(mask[0].bool(), probs[0], torch.zeros(S))  # zeros on the first row's padding
    return dict(step_probs=probs, mask=mask, how=how)


def _prm_long_case(steps=400, p=0.1):
    probs = torch.full((2, steps), p)
    mask = torch.zeros(2, steps)
    mask[0] = 1.0  # hundreds of steps
    mask[1, :3] = 1.0  # three steps
    return dict(step_probs=probs, mask=mask, how="product")


def _bon_case(seed, P, N, levels=4, how="max"):
    gen = torch.Generator().manual_seed(seed)
    scores = torch.randint(0, levels + 1, (P, N), generator=gen).float() / levels  # few levels: ties happen
    answers = torch.randint(10, 10 + max(2, N // 2), (P, N), generator=gen)  # answers repeat: votes add up
    return dict(scores=scores, answers=answers, how=how)


def _vote_case(seed, P, N, values=4):
    gen = torch.Generator().manual_seed(seed)
    return dict(answers=torch.randint(0, values, (P, N), generator=gen) * 7 + 3)


CHAPTER = Chapter(
    id="07-beyond-rlhf",
    notebook="beyond_rlhf.ipynb",
    exercises=[
        Exercise(
            reference=shared.debiased_preference,
            visible=[dict(p_first_ab=torch.tensor([0.9]), p_first_ba=torch.tensor([0.7])),
                     dict(p_first_ab=torch.tensor([0.9, 0.8]), p_first_ba=torch.tensor([0.5, 0.4]), how="log-odds"),
                     _pref_case(0, 5), _pref_case(3, 6, "log-odds")],
            hidden=[_pref_case(1, 8, "log-odds"), _pref_case(4, 6, "log-odds", bias=3.0), _pref_case(2, 3),
                    dict(p_first_ab=torch.tensor([1.0, 0.0, 0.5]), p_first_ba=torch.tensor([1.0, 0.0, 0.5])),
                    _pref_case(5, 4, "log-odds", bias=-1.0)],
            mistakes=[
                Mistake("no_flip", "the second answer is the probability that the reply shown first, B, is better; "
                        "about A it says 1 - p_first_ba (in log-odds, -logit(p_first_ba)). Unflipped, the log-odds "
                        "of the two orders add up to the bias, not to the preference.",
                        variant(_pref_variant, flip=False)),
                Mistake("first_order_only", "only the A-first answer is used; it holds the bias. Use both orders, "
                        "so that the order effect cancels.", variant(_pref_variant, orders="first")),
                Mistake("b_over_a", "this is the preference for B over A; return P(A better than B).",
                        variant(_pref_variant, orders="b_over_a")),
                Mistake("averaged_probabilities", "with how=\"log-odds\" the two probabilities are averaged. "
                        "The bias adds to the log-odds, logit(p_first_ab) = m + b and logit(p_first_ba) = -m + b; "
                        "solve those for m and return sigmoid(m). (Averaging probabilities pulls a strongly biased "
                        "labeler's preference towards 1/2.)", variant(_pref_variant, combine="average")),
                Mistake("log_odds_not_halved", "the difference of the two log-odds, (m + b) - (-m + b), is 2m, "
                        "not m; halve it before the sigmoid. (It is also what multiplying the two orders' odds, as "
                        "independent evidence, gives: the same labeler is counted twice.)",
                        variant(_pref_variant, log_odds="no_half")),
                Mistake("bias_added", "the bias b = (logit(p_first_ab) + logit(p_first_ba)) / 2 is added to the "
                        "A-first log-odds; they already hold it: m = logit(p_first_ab) - b.",
                        variant(_pref_variant, log_odds="bias_added")),
                Mistake("unnormalised_geometric_mean", "the geometric mean of the two estimates of P(A better) is "
                        "not a probability: it and the same mean for B do not add up to 1. Work in log-odds "
                        "instead.", variant(_pref_variant, combine="geometric")),
            ],
            points=(1, 1),
            rtol=1e-5, atol=1e-6,
        ),
        Exercise(
            reference=shared.soft_preference_loss,
            visible=[dict(rewards=torch.tensor([[1.0, 0.0]]), p=torch.tensor([0.3])),
                     dict(rewards=torch.tensor([[0.0, 2.0], [1.5, 0.5]]), p=torch.tensor([0.8, 0.3])),
                     _soft_case(0, 6), dict(rewards=torch.tensor([[150.0, 0.0], [0.0, 150.0]]), p=torch.tensor([0.9, 0.0]))],
            hidden=[_soft_case(1, 9, levels=2), _soft_case(2, 5, scale=80.0), _soft_case(3, 1),
                    dict(rewards=torch.tensor([[3.0, -1.0], [-120.0, 40.0], [0.5, 0.5]]), p=torch.tensor([1.0, 0.25, 0.6]))],
            mistakes=[
                Mistake("hard_label", "the label is thresholded at 1/2 before the loss; the point of a soft label is "
                        "to keep the labeler's confidence: use p itself.", variant(_soft_variant, hard=True)),
                Mistake("swapped_sign", "the margin is r(B) - r(A); p is the probability that A is better, so "
                        "it multiplies log sigmoid(r(A) - r(B)).", variant(_soft_variant, sign=-1.0)),
                Mistake("naive_log_sigmoid", "log(sigmoid(m)) underflows to log(0) = -inf for a large negative "
                        "margin; use torch.nn.functional.logsigmoid (or binary_cross_entropy_with_logits).",
                        variant(_soft_variant, naive=True)),
                Mistake("sum_not_mean", "the pairs' losses are summed; average them, so the loss (and the step "
                        "size it calls for) does not grow with the batch.", variant(_soft_variant, reduce="sum")),
                Mistake("missing_b_term", "only p log sigmoid(m) is kept; the label also says B is better with "
                        "probability 1 - p, the term (1 - p) log sigmoid(-m).", variant(_soft_variant, terms="a_only")),
                Mistake("ignores_p", "p is not used: every pair is scored as if reply A had won. p is the "
                        "probability that A is better: weight log sigmoid(r(A) - r(B)) by p and "
                        "log sigmoid(r(B) - r(A)) by 1 - p.", variant(_soft_variant, terms="ignores_p")),
                Mistake("confidence_weighted_hard_label", "the likelier reply is treated as the winner and its "
                        "probability as a weight; the soft label is a target, not a weight: the loss is the "
                        "cross-entropy between p and sigmoid(m), smallest at sigmoid(m) = p.",
                        variant(_soft_variant, terms="winner_weighted")),
            ],
            points=(1, 1),
            rtol=1e-5, atol=1e-6,
            adapter="loss_and_grad_rewards",
        ),
        Exercise(
            reference=ref.labeler_agreement,
            visible=[dict(gaps=torch.tensor([0.0, 1.0, -2.0]), noise=2.0), dict(gaps=torch.tensor([2.0, -2.0, 0.5]), noise=0.5),
                     _agree_case(0, 12, 0.85)],
            hidden=[_agree_case(1, 30, 0.85), _agree_case(2, 8, 2.0, ties=0.4), _agree_case(3, 20, 0.3),
                    dict(gaps=torch.tensor([-1.0]), noise=0.85)],
            mistakes=[
                Mistake("agreement_is_accuracy", "the labelers' agreement with each other is returned as their agreement "
                        "with the gold; two labelers agree when both pick the better reply or both pick the worse: "
                        "p^2 + (1 - p)^2 per pair.", variant(_agree_variant, between="accuracy")),
                Mistake("both_right_only", "two labelers also agree when both are wrong: add (1 - p)^2 to p^2.",
                        variant(_agree_variant, between="both_right")),
                Mistake("from_average", "the labelers' agreement is computed from the average accuracy a, as "
                        "a^2 + (1 - a)^2; pairs differ in difficulty, so compute p^2 + (1 - p)^2 for every pair "
                        "and then average (an easy and a hard pair do not make two medium ones).",
                        variant(_agree_variant, between="from_average")),
                Mistake("gold_ties_counted", "pairs the gold preference rates equal (gap 0) are counted in the "
                        "agreement with the gold; they have no right answer: leave them out of that average.",
                        variant(_agree_variant, gold_ties="half")),
                Mistake("pair_ties_dropped", "pairs with gap 0 are left out of the labelers' agreement; two labelers "
                        "label those too, and agree on half of them by chance.", variant(_agree_variant, pair_ties="drop")),
                Mistake("signed_gap", "sigmoid(gap / noise) is the chance that a labeler picks A; it agrees with the "
                        "gold when it picks the reply with the higher gold reward, which is B when the gap is negative.",
                        variant(_agree_variant, signed=True)),
                Mistake("noise_multiplies", "the gap is multiplied by the noise scale; it is divided by it (more "
                        "noise: probabilities closer to 1/2).", variant(_agree_variant, scale="multiply")),
            ],
            points=(1, 1),
            rtol=1e-5, atol=1e-7,
        ),
        Exercise(
            reference=shared.first_error_labels,
            visible=[dict(correct=torch.tensor([[True, False, True]]), mask=torch.ones(1, 3)),
                     _labels_case(0, [6, 3, 4])],
            hidden=[_labels_case(1, [5, 6, 2, 1], p_wrong=0.2), _labels_case(2, [6], p_wrong=0.6),
                    dict(correct=torch.ones(2, 4, dtype=torch.bool), mask=torch.tensor([[1.0, 1, 1, 1], [1, 1, 0, 0]]))],
            mistakes=[
                Mistake("every_step", "every step is labelled by the checker; labels stop at the first wrong step "
                        "(-100 after it).", variant(_labels_variant, every=True)),
                Mistake("zero_after_error", "the steps after the first wrong one are labelled 0; they get no label "
                        "(-100): whether they are right is ill-defined.", variant(_labels_variant, after=0)),
                Mistake("first_error_unlabelled", "the first wrong step gets no label; it is labelled 0, the most "
                        "useful label of the solution.", variant(_labels_variant, first=-100)),
                Mistake("minus_one", "-1 marks the unlabelled steps; use -100, the value PyTorch's losses ignore "
                        "(-1 would read as a label).", variant(_labels_variant, ignore=-1, after=-1)),
                Mistake("padding_labelled", "padding (mask 0) gets labels; it is not a step: -100.",
                        variant(_labels_variant, use_mask=False)),
            ],
            points=(1, 1),
        ),
        Exercise(
            reference=shared.prm_score,
            visible=[dict(step_probs=torch.tensor([[0.5, 0.25, 0.0]]), mask=torch.tensor([[1.0, 1.0, 0.0]]), how="product"),
                     _prm_long_case(), _prm_case(0, [4, 2, 6], "product"), _prm_case(1, [3, 5], "min")],
            hidden=[_prm_case(3, [2, 6, 5, 1], "product"), _prm_case(4, [1, 4], "min"), _prm_long_case(300, 0.05),
                    _prm_case(6, [3, 6], "min"), _prm_case(7, [6, 6, 6], "product")],
            mistakes=[
                Mistake("sum_of_probabilities", "the step probabilities are added up; that sum grows with every "
                        "extra step, right or wrong, and is not the log of the product. Add their logarithms: "
                        "log(p_1 p_2 ... p_n) = log p_1 + ... + log p_n.", variant(_prm_variant, product_as="sum_p")),
                Mistake("product_not_log", "the product itself is returned; return its logarithm, the sum of the "
                        "steps' log-probabilities.", variant(_prm_variant, product_as="product")),
                Mistake("padding_included", "padding steps (mask 0) are scored too; only real steps count (and a "
                        "padding value may be 0, whose log is -inf).", variant(_prm_variant, padding=True)),
                Mistake("mask_multiplies_log", "the log-probabilities are multiplied by the mask; on padding that "
                        "holds 0 this is 0 * log 0 = 0 * (-inf) = nan. Choose the real steps (torch.where) before "
                        "taking the log.", variant(_prm_variant, mask_by="multiply")),
                Mistake("log_of_product", "the product is taken first and its log afterwards; a long solution's "
                        "product underflows to 0, whose log is -inf (0.1 ** 400 is far below the smallest float). "
                        "Sum the logarithms instead.", variant(_prm_variant, product_as="log_of_product")),
                Mistake("mean_of_logs", "the log-probabilities are averaged (the log of a geometric mean), which "
                        "excuses a long solution its extra chances to go wrong; the probability that every step "
                        "is right is the product: sum the logs.", variant(_prm_variant, product_as="mean_log")),
                Mistake("min_not_log", "\"min\" returns the smallest probability itself; return its logarithm, "
                        "as for \"product\".", variant(_prm_variant, min_as="probability")),
                Mistake("min_is_last", "\"min\" reads the last step; it is the smallest over all real steps.",
                        variant(_prm_variant, min_as="last")),
            ],
            points=(1, 1),
            rtol=1e-5, atol=1e-6,
        ),
        Exercise(
            reference=shared.best_of_n,
            visible=[dict(scores=torch.tensor([[0.2, 0.9, 0.9]]), answers=torch.tensor([[5, 7, 8]])),
                     dict(scores=torch.tensor([[0.2, 0.9, 0.5, 0.5], [0.9, 0.2, 0.3, 0.1], [0.6, 0.9, 0.1, 0.0]]),
                          answers=torch.tensor([[5, 7, 8, 8], [7, 8, 8, 6], [4, 6, 6, 9]]), how="vote"),
                     dict(scores=torch.tensor([[0.5, 0.5, 0.25, 0.25]]), answers=torch.tensor([[6, 2, 9, 9]]), how="vote"),
                     _bon_case(0, 3, 5), _bon_case(4, 4, 6, how="vote")],
            hidden=[_bon_case(1, 6, 8), _bon_case(2, 2, 16, levels=2), _bon_case(3, 4, 1),
                    _bon_case(5, 6, 8, how="vote"), _bon_case(6, 3, 16, levels=2, how="vote"),
                    _bon_case(7, 4, 1, how="vote")],
            mistakes=[
                Mistake("returns_index", "the index of the best solution is returned; return its final answer.",
                        variant(_bon_variant, pick="index")),
                Mistake("lowest_score", "the lowest-scored solution is chosen; the verifier's highest score wins.",
                        variant(_bon_variant, pick="lowest")),
                Mistake("ties_to_last", "a tie goes to the solution sampled last; it goes to the first "
                        "(torch.argmax returns the first maximal index).", variant(_bon_variant, ties="last")),
                Mistake("vote_is_max", "with how=\"vote\" the single best-scored solution decides; in a vote every "
                        "solution adds its score to its answer's total, and the largest total wins.",
                        variant(_bon_variant, vote="max")),
                Mistake("vote_ignores_scores", "every solution counts as one vote, a plain majority vote; weight "
                        "each vote by the verifier's score.", variant(_bon_variant, vote="count")),
                Mistake("vote_mean_score", "each answer gets the mean score of its solutions; that forgets how many "
                        "solutions reached it. Sum the scores.", variant(_bon_variant, vote="mean")),
                Mistake("vote_tie_to_smallest", "a tie between two answers' totals goes to the smaller answer (as "
                        "torch.unique, which sorts, leads to); it goes to the tied answer sampled first.",
                        variant(_bon_variant, ties="smallest")),
            ],
            points=(1, 1),
        ),
        Exercise(
            reference=shared.majority_vote,
            visible=[dict(answers=torch.tensor([[9, 4, 4, 9, 2]])), dict(answers=torch.tensor([[2, 6, 6, 1]])),
                     dict(answers=torch.tensor([[30, 10, 20, 10, 30, 20]])), dict(answers=torch.tensor([[5, 8, 8, 5]])),
                     _vote_case(0, 4, 5)],
            hidden=[_vote_case(1, 6, 8), _vote_case(2, 3, 12, values=6), _vote_case(3, 2, 1),
                    dict(answers=torch.tensor([[30, 10, 20, 10, 30, 20]]))],
            mistakes=[
                Mistake("smallest_on_tie", "a tie goes to the smallest answer (as torch.mode breaks ties); it goes "
                        "to the tied answer that was sampled first.", _vote_smallest),
                Mistake("first_sample", "the first sample's answer is returned whatever the votes.", _vote_first),
                Mistake("ties_to_last", "a tie goes to the tied answer sampled last; it goes to the one sampled "
                        "first.", _vote_ties_last),
                Mistake("highest_on_tie", "a tie goes to the largest answer; it goes to the tied answer that was "
                        "sampled first.", _vote_highest_answer),
            ],
            points=(1, 1),
        ),
        Exercise(
            reference=ref.majority_vote_accuracy,
            visible=[dict(probs=[0.5, 0.3, 0.2], n=4), dict(probs=[0.5, 0.3, 0.2], n=2),
                     dict(probs=[0.4, 0.45, 0.15], n=5), dict(probs=[0.35, 0.2, 0.2, 0.25], n=4)],
            hidden=[dict(probs=[0.3, 0.5, 0.2], n=9), dict(probs=[0.6, 0.4], n=6), dict(probs=[0.25, 0.25, 0.25, 0.25], n=3),
                    dict(probs=[0.45, 0.15, 0.15, 0.25], n=7), dict(probs=[1.0], n=3)],
            mistakes=[
                Mistake("ties_win", "a tie for the most votes always goes to the right answer; it is broken "
                        "uniformly at random (the right answer wins 1 / (number tied) of the time).",
                        variant(_acc_variant, tie="win")),
                Mistake("ties_lose", "a tie for the most votes is counted as a loss; it is broken uniformly at "
                        "random.", variant(_acc_variant, tie="lose")),
                Mistake("strict_majority", "the right answer needs more than half the votes here; the vote is a "
                        "plurality: the most frequent answer wins, even below half.",
                        variant(_acc_variant, rule="majority")),
                Mistake("right_against_rest", "all wrong answers are lumped into one; they are different answers "
                        "and split their votes.", _acc_right_vs_rest),
                Mistake("pass_at_n", "this is the chance that some sample is right (pass@n); the vote must also "
                        "rank the right answer first.", _acc_pass_at_n),
            ],
            points=(1, 1),
            rtol=1e-6, atol=1e-9,
        ),
    ],
)
