"""Reference solutions of Chapter 6 that nothing else reuses (the others live in
``rlcourse/reference/ch06_rlhf.py``)."""

import torch


def kl_optimal_policy(ref_probs, rewards, beta):
    """The policy that maximises ``E_pi[r] - beta * KL(pi || pi_ref)`` over a finite set of replies.

    Every RLHF objective of this chapter has this maximiser: ``pi*(y) = pi_ref(y) exp(r(y) / beta) / Z``
    (derive it: set the derivative of the Lagrangian with ``sum_y pi(y) = 1`` to zero). Rewards far
    larger than ``beta`` must not overflow: compute it in log space.

    Args:
        ref_probs: (..., A) tensor, the reference policy over ``A`` replies (rows sum to 1, entries > 0).
        rewards: (..., A) tensor, the reward of each reply.
        beta: the KL coefficient (> 0).

    Returns:
        (..., A) tensor of probabilities (each row sums to 1).

    Example:
        >>> kl_optimal_policy(torch.tensor([0.5, 0.5]), torch.tensor([0.0, 1.0]), beta=1.0)
        tensor([0.2689, 0.7311])
    """
    logits = torch.log(ref_probs) + rewards / beta  # log pi*(y) + log Z
    return torch.softmax(logits, dim=-1)
