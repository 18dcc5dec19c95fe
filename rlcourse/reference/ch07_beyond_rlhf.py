"""Chapter 7's reference implementations that its pages and the support package reuse
(``rlcourse.verifiers``, ``rlcourse.lm.ai_feedback``); ``python -m autograde sync`` copies them into the
chapter's solution cells.

Shapes: ``B`` solutions or pairs, ``S`` steps of a solution (padded; ``mask`` is 1 on real steps),
``P`` problems with ``N`` sampled solutions each.
"""

import torch


def debiased_preference(p_first_ab, p_first_ba, how="average"):
    """An AI labeler's preference for reply A over reply B with its position bias removed.

    The labeler is asked twice: once with A shown first (``p_first_ab``: its probability that the
    first reply is better, i.e. A) and once with B shown first (``p_first_ba``: its probability that
    the first reply, now B, is better). Two ways to combine its answers:

    - ``"average"``, as Lee et al. (2023) do: the mean of the two estimates of ``P(A better than B)``.
    - ``"log-odds"``: take the labeler to add a fixed position bias ``b`` to the log-odds of the
      reply it reads first: its log-odds that the first reply is better are ``m + b`` with A first
      and ``-m + b`` with B first, where ``m`` is its log-odds that A is better, free of the bias.
      Recover ``m`` from the two answers and return ``sigmoid(m)``.

    Args:
        p_first_ab: (B,) tensor, P(first is better) with A first, strictly between 0 and 1.
        p_first_ba: (B,) tensor, P(first is better) with B first, strictly between 0 and 1.
        how: ``"average"`` or ``"log-odds"``.

    Returns:
        (B,) tensor, the debiased ``P(A better than B)``.

    Example:
        >>> p_ab, p_ba = torch.tensor([0.9]), torch.tensor([0.5])
        >>> debiased_preference(p_ab, p_ba), debiased_preference(p_ab, p_ba, "log-odds")
        (tensor([0.7000]), tensor([0.7500]))
    """
    if how == "average":
        return 0.5 * (p_first_ab + (1.0 - p_first_ba))
    if how == "log-odds":
        m = 0.5 * (torch.logit(p_first_ab) - torch.logit(p_first_ba))  # (m + b) - (-m + b) = 2m
        return torch.sigmoid(m)
    raise ValueError(f"how must be 'average' or 'log-odds', not {how!r}")


def soft_preference_loss(rewards, p):
    """The Bradley-Terry loss of a reward model on soft labels: an AI labeler's P(A better than B).

    Lee et al. (2023) train the reward model on the labeler's preference probability, not on a hard
    verdict: with the margin ``m = r(x, A) - r(x, B)`` and the model's ``P(A better) = sigmoid(m)``,
    the loss is the cross-entropy from the label ``p`` to the model,
    ``-[p log sigmoid(m) + (1 - p) log sigmoid(-m)]``, averaged over the pairs. It is smallest where
    ``sigmoid(m) = p``; for ``p`` in {0, 1} it is Chapter 6's loss on a hard label. Compute it stably:
    the margins of a trained reward model can be large.

    Args:
        rewards: (B, 2) float tensor, the reward model's scores of reply A (column 0) and reply B
            (column 1) of each pair.
        p: (B,) float tensor, the labeler's probability that A is the better reply.

    Returns:
        scalar tensor, differentiable w.r.t. ``rewards``.

    Example:
        >>> soft_preference_loss(torch.tensor([[1.0, 0.0]]), torch.tensor([0.3]))  # 0.3 log(1 + 1/e) + 0.7 log(1 + e)
        tensor(1.0133)
    """
    margin = rewards[:, 0] - rewards[:, 1]  # (B,)
    logsigmoid = torch.nn.functional.logsigmoid  # log sigmoid computed stably, never log(0)
    return -(p * logsigmoid(margin) + (1.0 - p) * logsigmoid(-margin)).mean()


def first_error_labels(correct, mask):
    """Step labels as in PRM800K (Lightman et al., 2023): every step up to the first wrong one.

    Steps before the first wrong step are labelled 1, the first wrong step 0; the steps after it get
    no label (-100, the value PyTorch's losses ignore): once a solution has gone wrong, whether a later
    step is "right" is ill-defined, and the raters stopped there. Padding (``mask`` 0) gets no label
    either.

    Args:
        correct: (B, S) bool tensor, the checker's verdict on every step.
        mask: (B, S) tensor, 1 on the solution's steps, 0 on padding.

    Returns:
        (B, S) int64 tensor of 1, 0 and -100.

    Example:
        >>> first_error_labels(torch.tensor([[True, False, True]]), torch.ones(1, 3))
        tensor([[   1,    0, -100]])
    """
    real = mask.bool()
    wrong = ~correct.bool() & real
    errors_before = torch.cumsum(wrong.long(), dim=1) - wrong.long()  # wrong steps strictly before t
    labels = torch.where(wrong, 0, 1)
    return torch.where(real & (errors_before == 0), labels, -100)


def prm_score(step_probs, mask, how="product"):
    """The logarithm of a solution's score from a process reward model's step probabilities.

    Lightman et al. (2023) score a solution by the probability that *every* step is right, the
    product of the step probabilities (``"product"``), and report the minimum (``"min"``) as nearly
    as good. Return the *logarithm* of the score: a solution of hundreds of steps has a product too
    small for a float, yet its logarithm is an ordinary number, and best-of-N ranks solutions the
    same way by either. The values on padding are arbitrary, zero included.

    Args:
        step_probs: (B, S) tensor, the PRM's probability that step ``i`` is right, in (0, 1] on real
            steps and any value in [0, 1] on padding.
        mask: (B, S) tensor, 1 on real steps (every solution has at least one), 0 on padding.
        how: ``"product"`` or ``"min"``.

    Returns:
        (B,) tensor, the log of the score (at most 0).

    Example:
        >>> prm_score(torch.tensor([[0.5, 0.25, 0.0]]), torch.tensor([[1.0, 1.0, 0.0]]))  # log(1/8)
        tensor([-2.0794])
    """
    real = mask.bool()
    logp = torch.log(torch.where(real, step_probs, torch.ones_like(step_probs)))  # (B, S), 0 on padding
    if how == "product":
        return logp.sum(dim=1)  # log of the product = sum of the logs, with no product to underflow
    if how == "min":
        return torch.where(real, logp, torch.full_like(logp, float("inf"))).amin(dim=1)
    raise ValueError(f"how must be 'product' or 'min', not {how!r}")


def best_of_n(scores, answers, how="max"):
    """Choose each problem's answer from ``N`` sampled solutions and a verifier's scores of them.

    - ``"max"``, best-of-N: the final answer of the highest-scoring solution.
    - ``"vote"``, a verifier-weighted vote (Uesato et al., 2022; Li et al., 2023): every solution
      votes for its final answer with its score as the weight, and the answer with the largest total
      wins.

    In either, ties go to the solution (or the answer) sampled first.

    Args:
        scores: (P, N) tensor, a verifier's score of each of ``N`` solutions per problem: the
            probability, 0 to 1, that the solution is right.
        answers: (P, N) int64 tensor, each solution's final answer.
        how: ``"max"`` or ``"vote"``.

    Returns:
        (P,) int64 tensor, the chosen answers.

    Example:
        >>> scores, answers = torch.tensor([[0.2, 0.9, 0.5, 0.5]]), torch.tensor([[5, 7, 8, 8]])
        >>> best_of_n(scores, answers), best_of_n(scores, answers, "vote")  # 8 totals 1.0, 7 0.9
        (tensor([7]), tensor([8]))
    """
    if how == "max":
        best = torch.argmax(scores, dim=1)  # the first maximal index
    elif how == "vote":
        same = answers[:, :, None] == answers[:, None, :]  # (P, N, N): solutions n and k give one answer
        totals = (same * scores[:, None, :]).sum(dim=2)  # (P, N): the total score of solution n's answer
        best = torch.argmax(totals, dim=1)  # the first solution whose answer has the largest total
    else:
        raise ValueError(f"how must be 'max' or 'vote', not {how!r}")
    return answers.gather(1, best[:, None]).squeeze(1)


def majority_vote(answers):
    """Majority voting (self-consistency): for every problem, the answer its solutions give most often.

    Ties go to the tied answer that was sampled first.

    Args:
        answers: (P, N) int64 tensor of final answers.

    Returns:
        (P,) int64 tensor.

    Example:
        >>> majority_vote(torch.tensor([[9, 4, 4, 9, 2]]))  # 9 and 4 tie; 9 came first
        tensor([9])
    """
    same = answers[:, :, None] == answers[:, None, :]  # (P, N, N)
    votes = same.sum(dim=2)  # (P, N): how often solution n's answer occurs
    first = torch.argmax(votes, dim=1)  # the first solution whose answer has the most votes
    return answers.gather(1, first[:, None]).squeeze(1)
