"""Reference implementations for Chapter 3 (policy gradients). Copied into
``book/03-policy-gradients/policy_gradients.ipynb`` by ``python -m autograde sync``.

The estimator follows the on-policy algorithm of the chapter (Achiam, 2018, simplified): rewards-to-go
``Q_hat[i, t] = sum_{t' >= t} r[i, t']`` (undiscounted), one scalar baseline ``b`` = the mean of every
``Q_hat`` in the batch, and ``g_hat = 1/N sum_i sum_t grad log pi(a_it | s_it) (Q_hat[i, t] - b)``, with
``N`` the number of trajectories (not of time steps).

A batch of ``N`` trajectories of lengths ``T_1, ..., T_N`` is stored flat, trajectory after trajectory:
``obs`` is (sum_i T_i, ...), ``actions`` is (sum_i T_i,), while ``rewards`` keeps one array per trajectory
because the rewards-to-go must stop at each trajectory's end.
"""

import numpy as np
import torch


def categorical_log_prob(logits, actions):
    """Log-probabilities ``log pi(a | s)`` of a softmax (categorical) policy, for a batch.

    ``pi(a | s) = exp(logits[a]) / sum_a' exp(logits[a'])``, so
    ``log pi(a | s) = logits[a] - logsumexp(logits)``, computed without overflow for large logits.

    Args:
        logits: (B, A) float tensor, one row of action scores per state.
        actions: (B,) int64 tensor, the action taken in each row.

    Returns:
        logp: (B,) tensor, ``logp[i] = log pi(actions[i] | row i)``; differentiable w.r.t. ``logits``.

    Example:
        >>> categorical_log_prob(torch.zeros(2, 4), torch.tensor([0, 3]))  # uniform: log(1/4)
        tensor([-1.3863, -1.3863])
    """
    log_pi = logits - torch.logsumexp(logits, dim=1, keepdim=True)  # (B, A), rows: log-softmax
    return log_pi.gather(1, actions.long().unsqueeze(1)).squeeze(1)  # (B,)


def reward_to_go(rewards):
    """Rewards-to-go ``Q_hat[t] = sum_{t'=t}^{T-1} r[t']`` of every trajectory in a batch.

    Args:
        rewards: list of N 1-D arrays, ``rewards[i]`` of length ``T_i`` (lengths may differ, may be 0).

    Returns:
        list of N float arrays, the i-th of length ``T_i``.

    Example:
        >>> reward_to_go([np.array([1., 2., 3.]), np.array([5.])])
        [array([6., 5., 3.]), array([5.])]
    """
    q_hat = []
    for r in rewards:
        r = np.asarray(r, dtype=float)
        q_hat.append(np.cumsum(r[::-1])[::-1].copy())  # sum over t' >= t, within this trajectory only
    return q_hat


def batch_baseline(q_hat):
    """The batch baseline ``b``: the mean of every ``Q_hat[i, t]`` over all time steps of all trajectories.

    ``b = (sum_i sum_t Q_hat[i, t]) / (sum_i T_i)``: every time step counts once, so long trajectories
    weigh more than short ones.

    Args:
        q_hat: list of N 1-D arrays of rewards-to-go, the i-th of length ``T_i`` (at least one step in all).

    Returns:
        b: float.

    Example:
        >>> batch_baseline([np.array([6., 5., 3.]), np.array([2.])])
        4.0
    """
    steps = np.concatenate([np.asarray(q, dtype=float) for q in q_hat])  # (sum_i T_i,)
    if steps.size == 0:
        raise ValueError("the batch has no time steps")
    return float(steps.mean())


def optimal_constant_baseline(scores, returns):
    """The constant baseline that makes the REINFORCE estimate least noisy on a batch.

    Each trajectory ``i`` contributes ``g_i (R_i - b)`` to the estimate, with ``g_i`` its score vector
    (``sum_t grad log pi(a_t | s_t)``, flattened) and ``R_i`` its return. Find the ``b`` that minimises
    the mean squared length of the contributions, ``1/N sum_i ||g_i (R_i - b)||^2``, over the batch:
    the objective is a quadratic in ``b``, so set its derivative to zero. When every score vector is
    zero, any ``b`` gives the same value: return the mean return.

    Args:
        scores: (N, P) array, row ``i`` the score vector ``g_i`` of trajectory ``i``.
        returns: (N,) array, the returns ``R_i``.

    Returns:
        b: float.

    Example:
        >>> optimal_constant_baseline(np.array([[1., 0.], [0., 2.]]), np.array([1., 6.]))
        5.0
    """
    weights = (np.asarray(scores, dtype=float) ** 2).sum(axis=1)   # (N,) ||g_i||^2
    returns = np.asarray(returns, dtype=float)                      # (N,)
    if weights.sum() == 0:
        return float(returns.mean())
    return float((weights * returns).sum() / weights.sum())       # b* = sum ||g||^2 R / sum ||g||^2

def pg_surrogate_loss(logp, q_hat, b, n_traj):
    """The loss whose gradient is minus the policy-gradient estimate ``g_hat``.

    ``L(theta) = -1/N sum_{i,t} logp[i, t] (Q_hat[i, t] - b)``: only ``logp`` depends on theta, so
    ``grad L = -g_hat`` and a gradient-*descent* step on ``L`` is the ascent step on ``J``.

    Args:
        logp: (M,) tensor of ``log pi(a_t | s_t)`` for all M time steps of the batch, with gradients.
        q_hat: (M,) tensor of the rewards-to-go of the same time steps (no gradient).
        b: float, the baseline.
        n_traj: int, the number N of trajectories in the batch.

    Returns:
        loss: scalar tensor; ``loss.backward()`` puts ``-g_hat`` into the parameters' ``.grad``.

    Example:
        >>> logp = torch.tensor([-1.0, -2.0, -0.5], requires_grad=True)  # 3 steps of 2 trajectories
        >>> loss = pg_surrogate_loss(logp, torch.tensor([4.0, 1.0, 3.0]), b=2.0, n_traj=2)
        >>> loss.item()
        0.25
        >>> loss.backward()
        >>> logp.grad  # -(Q_hat - b) / N
        tensor([-1.0000,  0.5000, -0.5000])
    """
    adv = torch.as_tensor(q_hat, dtype=logp.dtype) - b  # (M,) Q_hat - b, a constant w.r.t. theta
    return -(logp * adv).sum() / n_traj


def policy_update(policy, optimizer, obs, actions, rewards):
    """One on-policy update of a softmax policy from a batch of N trajectories (steps b-e of the algorithm).

    Computes the rewards-to-go, the batch baseline, ``log pi(a | s)`` under ``policy`` and the surrogate
    loss, then takes one optimizer step (with ``torch.optim.SGD`` this is ``theta + lr * g_hat``).
    Gradients left over from earlier calls must not leak into this step.

    Args:
        policy: ``torch.nn.Module`` mapping (M, ...) observations to (M, A) logits.
        optimizer: a ``torch.optim`` optimizer over ``policy.parameters()``.
        obs: (M, ...) float tensor, the observations of all M = sum_i T_i steps, trajectory after trajectory.
        actions: (M,) int64 tensor, the actions taken.
        rewards: list of N 1-D arrays, the rewards of each trajectory (``len(rewards[i]) = T_i``).

    Returns:
        loss: float, the surrogate loss before the step.

    Example:
        >>> policy = torch.nn.Linear(2, 3)  # logits of 3 actions from 2 features
        >>> _ = torch.nn.init.zeros_(policy.weight), torch.nn.init.zeros_(policy.bias)  # uniform policy
        >>> obs, actions = torch.ones(3, 2), torch.tensor([0, 1, 2])  # 2 steps, then 1 step
        >>> rewards = [np.array([1.0, 1.0]), np.array([0.0])]  # Q_hat = (2, 1), (0); b = 1
        >>> loss = policy_update(policy, torch.optim.SGD(policy.parameters(), lr=0.1), obs, actions, rewards)
        >>> policy.bias.detach()  # action 0 (Q_hat - b = +1) gained, action 2 (-1) lost
        tensor([ 0.0500,  0.0000, -0.0500])
    """
    q_hat = reward_to_go(rewards)
    b = batch_baseline(q_hat)
    logp = categorical_log_prob(policy(obs), actions)  # (M,)
    loss = pg_surrogate_loss(logp, torch.as_tensor(np.concatenate(q_hat)), b, len(rewards))
    optimizer.zero_grad()
    loss.backward()
    optimizer.step()
    return float(loss.detach())
