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
