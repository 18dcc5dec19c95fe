"""Reference implementations for Chapter 2 (the RL objective: finite horizon, average reward,
discounted). Copied into ``book/02-objectives/objectives.ipynb`` by ``python -m autograde sync``.

Conventions: ``T[s', s, a] = p(s' | s, a)``; a Markov chain ``P[s', s] = p(s' | s)`` is column-stochastic
(every column sums to one), like the transition tensor it comes from.
"""

import numpy as np


def state_action_marginals(T, pi, p0, H):
    """State-action marginals ``p_t(s, a)`` of a policy for ``t = 0, ..., H-1``.

    ``p_0(s) = p0(s)``; ``p_t(s, a) = p_t(s) pi(a | s)``; ``p_{t+1}(s') = sum_{s,a} T[s', s, a] p_t(s, a)``.

    Args:
        T: (S, S, A) transition tensor.
        pi: (S, A) policy, ``pi[s, a] = pi(a | s)``.
        p0: (S,) start distribution.
        H: horizon (number of time steps).

    Returns:
        p: (H, S, A) array; ``p[t]`` sums to one for every t.

    Example:
        >>> T = np.zeros((2, 2, 2))
        >>> T[0, :, 0] = T[1, :, 1] = 1.0  # action a leads to state a, from either state
        >>> pi = np.array([[0.5, 0.5], [0.0, 1.0]])
        >>> p = state_action_marginals(T, pi, p0=np.array([1.0, 0.0]), H=3)
        >>> p.shape
        (3, 2, 2)
        >>> p[1]  # p_1(s) = (0.5, 0.5), times pi(a | s)
        array([[0.25, 0.25],
               [0.  , 0.5 ]])
    """
    S, A = pi.shape
    p = np.zeros((H, S, A))
    p_s = np.asarray(p0, dtype=float)
    for t in range(H):
        p[t] = p_s[:, None] * pi  # p_t(s, a) = p_t(s) pi(a|s)
        p_s = np.einsum("ijk,jk->i", T, p[t])  # p_{t+1}(s') = sum_{s,a} T[s', s, a] p_t(s, a)
    return p


def policy_markov_chain(T, R, pi):
    """The Markov chain and the reward a fixed policy induces.

    Args:
        T: (S, S, A) transition tensor.
        R: (S, A) rewards.
        pi: (S, A) policy.

    Returns:
        (P, r): P is (S, S) with ``P[s', s] = sum_a T[s', s, a] pi(a | s)``; r is (S,) with
        ``r[s] = sum_a pi(a | s) R[s, a]``.

    Example:
        >>> T = np.zeros((2, 2, 2))
        >>> T[0, :, 0] = T[1, :, 1] = 1.0  # action a leads to state a, from either state
        >>> R = np.array([[1.0, 0.0], [0.0, 2.0]])
        >>> P, r = policy_markov_chain(T, R, np.array([[0.5, 0.5], [0.0, 1.0]]))
        >>> P  # column s is the distribution of the next state
        array([[0.5, 0. ],
               [0.5, 1. ]])
        >>> r
        array([0.5, 2. ])
    """
    P = np.einsum("ijk,jk->ij", T, pi)  # P[s', s] = sum_a T[s', s, a] pi(a|s)
    r = np.sum(pi * R, axis=1)  # r[s] = sum_a pi(a|s) R(s, a)
    return P, r


def stationary_distribution(P):
    """Stationary distribution ``mu`` of a column-stochastic Markov chain: ``P mu = mu``, ``sum(mu) = 1``.

    Args:
        P: (S, S) array, ``P[s', s] = p(s' | s)``; assume the chain has a unique stationary distribution.

    Returns:
        mu: (S,) array of non-negative entries summing to one.

    Example:
        >>> stationary_distribution(np.array([[0.9, 0.5], [0.1, 0.5]]))
        array([0.83333333, 0.16666667])
    """
    S = P.shape[0]
    # (P - I) mu = 0 has a one-dimensional solution space; the row of ones pins down sum(mu) = 1
    lhs = np.vstack([P - np.eye(S), np.ones((1, S))])
    rhs = np.concatenate([np.zeros(S), [1.0]])
    mu, *_ = np.linalg.lstsq(lhs, rhs, rcond=None)
    return mu


def policy_value(P, r, gamma):
    """Exact discounted value ``V`` of a policy from its Markov chain: ``V = r + gamma P^T V``.

    Args:
        P: (S, S) column-stochastic chain of the policy, ``P[s', s] = p(s' | s)``.
        r: (S,) expected reward per state under the policy.
        gamma: discount factor in [0, 1).

    Returns:
        V: (S,) array, ``V[s] = E[sum_t gamma^t r_t | s_0 = s]``.

    Example:
        >>> policy_value(np.eye(2), np.array([1.0, 0.0]), 0.5)
        array([2., 0.])
    """
    S = len(r)
    # V(s) = r(s) + gamma sum_s' P[s', s] V(s')  <=>  (I - gamma P^T) V = r
    return np.linalg.solve(np.eye(S) - gamma * P.T, r)


def indifference_gamma(near_reward, near_step, far_reward, far_step):
    """The discount factor at which a near, small reward and a far, large one are worth the same.

    Two first moves end an episode with a single reward each: the near one pays ``near_reward`` on
    step ``near_step`` (counting the first step as 1), the far one pays ``far_reward`` on step
    ``far_step``, later. A reward on step ``k`` is discounted by ``gamma ** (k - 1)``. Below the
    returned ``gamma`` the near reward is the better move, above it the far one. Derive it; no
    value iteration is needed.

    Args:
        near_reward: float, ``0 < near_reward < far_reward``.
        near_step: int >= 1.
        far_reward: float.
        far_step: int, ``far_step > near_step``.

    Returns:
        gamma: float in (0, 1).

    Example:
        >>> round(indifference_gamma(1.0, 2, 4.0, 4), 6)  # 1 * gamma = 4 * gamma^3
        0.5
    """
    if not 0 < near_reward < far_reward or not 1 <= near_step < far_step:
        raise ValueError("needs 0 < near_reward < far_reward and 1 <= near_step < far_step")
    # near_reward * gamma^(near_step - 1) = far_reward * gamma^(far_step - 1)
    return float((near_reward / far_reward) ** (1.0 / (far_step - near_step)))
