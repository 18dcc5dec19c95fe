"""Reference solutions of Chapter 6 that nothing else reuses (the others live in
``rlcourse/reference/ch06_rlhf.py``)."""

import torch


def kl_optimal_policy(ref_probs, rewards, beta):
    """The policy that maximises ``E_pi[r] - beta * KL(pi || pi_ref)`` over a finite set of replies.

    Derive the maximiser on paper first, then implement your result. The objective is
    ``J(pi) = sum_y pi(y) r(y) - beta * sum_y pi(y) log(pi(y) / pi_ref(y))``, maximised over the
    probability vectors ``pi`` on the ``A`` replies: add a Lagrange multiplier for ``sum_y pi(y) = 1``
    and find where the derivative with respect to each ``pi(y)`` vanishes (``J`` is concave, so that
    point is the maximum). Use your result to predict the examples below before you run them. The
    answer must stay finite when the rewards are hundreds of times larger than ``beta``, and each row
    (each index of the leading dimensions) is a problem of its own.

    Args:
        ref_probs: (..., A) tensor, the reference policy over ``A`` replies (rows sum to 1, entries > 0).
        rewards: (..., A) tensor, the reward of each reply.
        beta: the KL coefficient (> 0).

    Returns:
        (..., A) tensor of probabilities (each row sums to 1).

    Example:
        >>> ref_probs = torch.tensor([0.2, 0.8])
        >>> kl_optimal_policy(ref_probs, torch.tensor([1.0, 1.0]), beta=0.5)  # equal rewards
        tensor([0.2000, 0.8000])
        >>> kl_optimal_policy(ref_probs, torch.tensor([5.0, 0.0]), beta=0.01)  # a leash of almost nothing
        tensor([1., 0.])
    """
    logits = torch.log(ref_probs) + rewards / beta  # log pi*(y) + log Z
    return torch.softmax(logits, dim=-1)


def dpo_optimal_margin(p, beta):
    """Where DPO's loss sends a pair of replies that the labelers do not all agree on.

    Many labelers compare the same two replies ``y1`` and ``y2`` to one prompt, and a fraction ``p``
    of them prefers ``y1``. Each label is one pair of the DPO data set (``y1`` over ``y2`` for a
    fraction ``p`` of them, ``y2`` over ``y1`` for the rest), so DPO's loss averaged over the pair's
    labels is a function of one number: the policy's log-ratio margin
    ``h = log(pi(y1) / pi_ref(y1)) - log(pi(y2) / pi_ref(y2))``. Return the margin that minimises it.
    Derive it on paper from the loss of one label (``-log sigmoid`` of beta times the margin in the
    label's direction). When the labelers all agree, ask whether any finite margin minimises the
    loss; return ``inf`` or ``-inf`` there.

    Args:
        p: (B,) float tensor, the fraction of labelers who prefer ``y1`` (0 <= p <= 1), one pair each.
        beta: DPO's beta (> 0).

    Returns:
        (B,) tensor, the margin ``h`` that minimises each pair's expected loss (``inf`` or ``-inf``
        where no finite margin does).

    Example:
        >>> dpo_optimal_margin(torch.tensor([0.5, 0.75, 1.0]), beta=0.5)
        tensor([0.0000, 2.1972,    inf])
    """
    return torch.logit(p) / beta  # sigmoid(beta * h) = p: the implicit reward matches the labels' rate
