"""Reference implementations for Chapter 1 (Markov decision processes; RL vs imitation learning).

Each function here is the single source of the solution region of the exercise of the same name in
``book/01-mdp/mdp.ipynb``: ``python -m autograde sync`` copies it into the notebook, and a test fails
when the two differ. Only names the notebook's setup cell imports (``np``) may be used.
"""

import numpy as np


def transition_tensor(env):
    """Transition tensor of a slippery grid world.

    Args:
        env: a ``GridWorld``. Use ``env.n_states``, ``env.n_actions``, ``env.layout.slip``,
            ``env.move(s, direction)`` (where a move lands, without slipping), ``env.is_terminal(s)``
            and ``env.wall_states``.

    Returns:
        T: (S, S, A) array with ``T[i, j, k] = p(s' = i | s = j, a = k)``. Action ``k`` moves in
        direction ``k`` with probability ``1 - slip`` and in each perpendicular direction
        ``(k - 1) % 4`` and ``(k + 1) % 4`` with probability ``slip / 2``. Terminal and wall cells
        are absorbing: every action keeps the agent where it is.

    Example:
        >>> from rlcourse.envs import GridWorld
        >>> T = transition_tensor(GridWorld(rows=1, cols=2, start=(0, 0), goal=(0, 1), slip=0.2))
        >>> T.shape
        (2, 2, 4)
        >>> T[:, 0, 1]  # "right" from the start: the goal, unless it slips up or down into the border
        array([0.2, 0.8])
    """
    S, A, slip = env.n_states, env.n_actions, env.layout.slip
    T = np.zeros((S, S, A))
    for s in range(S):
        for a in range(A):
            if env.is_terminal(s) or s in env.wall_states:
                T[s, s, a] = 1.0
                continue
            # two outcomes can land in the same cell (e.g. both slips hit a wall): add, don't assign
            for direction, p in ((a, 1.0 - slip), ((a - 1) % 4, slip / 2), ((a + 1) % 4, slip / 2)):
                T[env.move(s, direction), s, a] += p
    return T


def sample_trajectory(env, pi, seed):
    """Run one episode of policy ``pi`` in ``env``.

    Reset the environment with ``env.reset(seed=seed)``; draw every action with
    ``rng.choice(env.n_actions, p=pi[s])`` from ``rng = np.random.default_rng(seed)``; stop when
    ``env.step`` reports ``terminated`` or ``truncated``.

    Args:
        env: a ``gymnasium.Env`` with discrete states and actions.
        pi: (S, A) array, ``pi[s, a] = pi(a | s)``.
        seed: integer seed for both the environment and the action draws.

    Returns:
        (states, actions, rewards): int arrays of shapes (T+1,) and (T,), and a float array of
        shape (T,), where T is the episode's length. ``states`` ends with the final state.

    Example:
        >>> from rlcourse.envs import GridWorld
        >>> env = GridWorld(rows=1, cols=3, start=(0, 0), goal=(0, 2))  # no slip
        >>> pi = np.tile([0.0, 1.0, 0.0, 0.0], (3, 1))  # always "right"
        >>> sample_trajectory(env, pi, seed=0)
        (array([0, 1, 2]), array([1, 1]), array([0., 1.]))
    """
    rng = np.random.default_rng(seed)
    s, _ = env.reset(seed=seed)
    states, actions, rewards = [s], [], []
    while True:
        a = int(rng.choice(env.n_actions, p=pi[s]))
        s, r, terminated, truncated, _ = env.step(a)
        states.append(s)
        actions.append(a)
        rewards.append(r)
        if terminated or truncated:
            break
    return np.array(states), np.array(actions), np.array(rewards, dtype=float)


def discounted_return(rewards, gamma):
    """Discounted return of one trajectory, ``G = sum_t gamma^t r_t`` with ``t = 0, 1, ...``.

    Args:
        rewards: (T,) array of the rewards r_0, ..., r_{T-1}.
        gamma: discount factor in [0, 1].

    Returns:
        G: a float.

    Example:
        >>> discounted_return(np.array([1.0, 1.0, 1.0]), 0.5)
        1.75
    """
    rewards = np.asarray(rewards, dtype=float)
    # G = sum_t gamma^t r_t
    return float(np.sum(gamma ** np.arange(len(rewards)) * rewards))


def fit_bc_policy(states, actions, n_states, n_actions):
    """Behavioural cloning for a tabular policy: the expert's action frequencies in every state.

    Args:
        states: (N,) int array of the states in the demonstrations.
        actions: (N,) int array of the expert's action in each of those states.
        n_states: S, the number of states.
        n_actions: A, the number of actions.

    Returns:
        pi: (S, A) array; row ``s`` is the empirical distribution of the expert's actions in ``s``,
        and the uniform distribution for states the demonstrations never visit.

    Example:
        >>> fit_bc_policy(np.array([0, 0]), np.array([1, 1]), 2, 2)
        array([[0. , 1. ],
               [0.5, 0.5]])
    """
    counts = np.zeros((n_states, n_actions))
    np.add.at(counts, (states, actions), 1.0)  # counts[s, a] += 1 for every pair, repeats included
    seen = counts.sum(axis=1, keepdims=True)
    uniform = np.full((n_states, n_actions), 1.0 / n_actions)
    return np.where(seen > 0, counts / np.maximum(seen, 1.0), uniform)


def expected_steps_off_data(eps, T):
    """How many of T steps a clone expects to spend off its demonstrations, when errors compound.

    The clone starts on a demonstrated state. At each step on the demonstrations it leaves them with
    probability ``eps`` (a slip, or a wrong action), and once off them it never finds its way back.
    Count the expected number of steps ``t = 0, ..., T-1`` at which it is off the data. Derive it; a
    closed form needs no loop, but a loop is fine.

    Args:
        eps: probability in [0, 1] of leaving the demonstrations at a step spent on them.
        T: number of steps, an int >= 0.

    Returns:
        a float in [0, T].

    Example:
        >>> expected_steps_off_data(0.5, 3)  # off at t = 1 w.p. 1/2, at t = 2 w.p. 3/4
        1.25
    """
    if eps == 0:
        return 0.0
    # P(still on the data at step t) = (1 - eps)^t, so E[off steps] = sum_t (1 - (1 - eps)^t)
    return float(T - (1.0 - (1.0 - eps) ** T) / eps)
