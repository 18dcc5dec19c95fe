"""A finite MDP given by its arrays, behind the ``gymnasium.Env`` interface."""

from __future__ import annotations

import gymnasium as gym
import numpy as np


class TabularMDP(gym.Env):
    """Samples an MDP given as arrays: ``T[s', s, a]``, ``R[s, a]`` and a start distribution ``p0``.

    Episodes never terminate on their own; they are truncated after ``max_steps`` (use a large value
    for continuing tasks). The reward of a step is ``R[s, a]``.

    Example:
        >>> T = np.zeros((2, 2, 2))
        >>> T[0, :, 0] = T[1, :, 1] = 1.0  # action a leads to state a
        >>> env = TabularMDP(T, R=np.array([[0.0, 1.0], [0.0, 1.0]]), p0=np.array([1.0, 0.0]), max_steps=100)
        >>> env.reset(seed=0)
        (0, {})
        >>> env.step(1)  # (next state, reward, terminated, truncated, info)
        (1, 1.0, False, False, {})
    """

    def __init__(self, T: np.ndarray, R: np.ndarray, p0: np.ndarray, max_steps: int = 1000):
        T, R, p0 = (np.asarray(x, dtype=float) for x in (T, R, p0))
        S, S2, A = T.shape
        if S != S2 or R.shape != (S, A) or p0.shape != (S,):
            raise ValueError(f"shapes must be T (S, S, A), R (S, A), p0 (S,); got {T.shape}, {R.shape}, {p0.shape}")
        if not (np.allclose(T.sum(axis=0), 1.0) and np.all(T >= 0)):
            raise ValueError("every column T[:, s, a] must be a probability distribution")
        if not (np.isclose(p0.sum(), 1.0) and np.all(p0 >= 0)):
            raise ValueError("p0 must be a probability distribution")
        self.T, self.R, self.p0, self.max_steps = T, R, p0, max_steps
        self.n_states, self.n_actions = S, A
        self.observation_space = gym.spaces.Discrete(S)
        self.action_space = gym.spaces.Discrete(A)
        self._state, self._steps = 0, 0

    def reset(self, *, seed: int | None = None, options: dict | None = None):
        super().reset(seed=seed)
        self._state, self._steps = int(self.np_random.choice(self.n_states, p=self.p0)), 0
        return self._state, {}

    def step(self, action: int):
        s, a = self._state, int(action)
        s_next = int(self.np_random.choice(self.n_states, p=self.T[:, s, a]))
        self._state, self._steps = s_next, self._steps + 1
        return s_next, float(self.R[s, a]), False, self._steps >= self.max_steps, {}
