"""Collecting a batch of episodes with a softmax policy (step (a) of the on-policy algorithm)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch


@dataclass
class Batch:
    """N complete episodes, stored flat (trajectory after trajectory) where the update needs it flat."""

    obs: torch.Tensor
    """(M, ...) observations of all M = sum_i T_i steps."""
    actions: torch.Tensor
    """(M,) int64 actions."""
    rewards: list[np.ndarray]
    """N arrays, the rewards of each episode (``len(rewards[i]) = T_i``)."""

    @property
    def returns(self) -> np.ndarray:
        """(N,) total reward of each episode."""
        return np.array([r.sum() for r in self.rewards])

    @property
    def lengths(self) -> np.ndarray:
        """(N,) number of steps of each episode."""
        return np.array([len(r) for r in self.rewards])


@torch.no_grad()
def collect_episodes(envs, policy, seed: int, max_steps: int = 10_000) -> Batch:
    """Run exactly one episode in each sub-environment of a gymnasium vector env.

    Actions are sampled from ``softmax(policy(obs))`` with a local generator seeded by ``seed``; the
    environments are reset with ``seed``. A sub-environment that has finished keeps being stepped by
    the vector env (it resets itself) but its further steps are not recorded.

    Args:
        envs: a ``gymnasium.vector.VectorEnv`` with a discrete action space; its size is N.
        policy: module mapping (N, ...) observations to (N, A) logits.
        seed: seed of the reset and of the action sampling.
        max_steps: safety limit on the episode length.

    Returns:
        a :class:`Batch` of N episodes.
    """
    gen = torch.Generator().manual_seed(seed)
    obs, _ = envs.reset(seed=seed)
    n = envs.num_envs
    alive = np.ones(n, dtype=bool)
    steps_obs, steps_act, steps_rew, steps_alive = [], [], [], []
    for _ in range(max_steps):
        obs_t = torch.as_tensor(np.asarray(obs))
        obs_t = obs_t.float() if obs_t.is_floating_point() else obs_t
        with torch.no_grad():  # sampling needs no graph; the update recomputes log-probabilities
            probs = torch.softmax(policy(obs_t), dim=-1)  # (N, A)
        actions = torch.multinomial(probs, 1, generator=gen).squeeze(1)  # (N,)
        steps_obs.append(obs_t), steps_act.append(actions), steps_alive.append(alive.copy())
        obs, reward, terminated, truncated, _ = envs.step(actions.numpy())
        steps_rew.append(np.asarray(reward, dtype=float))
        alive &= ~(terminated | truncated)
        if not alive.any():
            break
    else:
        raise RuntimeError(f"an episode ran longer than max_steps={max_steps}")
    O, Acts = torch.stack(steps_obs), torch.stack(steps_act)  # (T, N, ...), (T, N)
    Rw, alive_mask = np.stack(steps_rew), np.stack(steps_alive)  # (T, N)
    lengths = alive_mask.sum(axis=0)  # (N,) steps recorded per episode
    obs_flat = torch.cat([O[: lengths[i], i] for i in range(n)])  # (M, ...)
    act_flat = torch.cat([Acts[: lengths[i], i] for i in range(n)])  # (M,)
    return Batch(obs_flat, act_flat, [Rw[: lengths[i], i].copy() for i in range(n)])
