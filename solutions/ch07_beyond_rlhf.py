"""Reference solutions of Chapter 7 that nothing else reuses (the others live in
``rlcourse/reference/ch07_beyond_rlhf.py``)."""


def majority_vote_accuracy(probs, n):
    """The chance that majority voting over ``n`` sampled solutions picks the right answer.

    Each solution's final answer is drawn independently: answer ``a`` with probability ``probs[a]``;
    answer 0 is the right one. The vote goes to the answer given most often (a plurality, not
    necessarily more than half); when several answers tie for the most votes, one of them is picked
    uniformly at random. Think about what happens as ``n`` grows when a wrong answer is more likely
    than the right one.

    Args:
        probs: sequence of ``A`` probabilities (they sum to 1), ``probs[0]`` the right answer's.
        n: the number of samples (>= 1).

    Returns:
        float, the probability that the vote is right.

    Example:
        >>> round(majority_vote_accuracy([0.5, 0.3, 0.2], 2), 4)  # both right, or one right and a tie
        0.5
    """
    from itertools import product
    from math import factorial

    A = len(probs)
    total = 0.0
    for counts in product(range(n + 1), repeat=A):  # every way to split n votes over A answers
        if sum(counts) != n:
            continue
        chance = factorial(n)  # the multinomial probability of these counts
        for p, c in zip(probs, counts):
            chance = chance * p ** c / factorial(c)
        top = max(counts)
        if counts[0] == top:
            total += chance / counts.count(top)  # a tie is broken uniformly at random
    return float(total)


def labeler_agreement(gaps, noise):
    """How often a noisy labeler agrees with the gold preference, and how often two such labelers agree.

    Each pair of replies has a gold-reward gap ``gaps[i] = g(A) - g(B)``. A labeler (Chapter 6's
    simulated people) prefers A with the Bradley-Terry probability ``sigmoid(gaps[i] / noise)``, and
    labelers decide independently of each other. Return the expected agreement with the gold
    preference, over the pairs the gold preference decides (``gaps[i] != 0``; a pair it rates equal
    has no right answer), and the expected agreement of two labelers on the same pair, over all
    pairs (two labelers label every pair, ties included). Think about pairs of different difficulty.

    Args:
        gaps: (B,) float tensor of gold-reward gaps, at least one of them not 0.
        noise: the labelers' noise scale (> 0), in units of gold reward.

    Returns:
        (agreement with the gold preference, agreement of two labelers), two floats.

    Example:
        >>> import torch
        >>> [round(a, 4) for a in labeler_agreement(torch.tensor([0.0, 1.0, -2.0]), 2.0)]
        [0.6768, 0.5456]
    """
    import torch

    p = torch.sigmoid(gaps / noise)  # (B,) P(the labeler prefers A)
    decided = gaps != 0
    with_gold = torch.where(gaps > 0, p, 1 - p)[decided].mean()  # picks the reply the gold prefers
    each_other = (p ** 2 + (1 - p) ** 2).mean()  # both pick A, or both pick B
    return float(with_gold), float(each_other)
