"""Properties of Chapter 2's reference implementations."""

import numpy as np
import pytest

from autograde.specs.ch02_objectives import random_mdp
from rlcourse.envs import TabularMDP
from solutions.ch02_objectives import (policy_markov_chain, policy_value, state_action_marginals,
                                       stationary_distribution)


@pytest.mark.parametrize("seed", range(3))
def test_marginals_are_distributions_and_match_simulation(seed):
    T, R, pi, p0 = random_mdp(seed, 4, 3)
    p = state_action_marginals(T, pi, p0, 5)
    assert np.allclose(p.sum(axis=(1, 2)), 1.0) and np.all(p >= 0)
    assert np.allclose(p[0], p0[:, None] * pi)
    env, rng = TabularMDP(T, R, p0), np.random.default_rng(seed)
    counts = np.zeros((4, 3))
    for i in range(3000):  # frequency of (s_2, a_2)
        s, _ = env.reset(seed=i)
        for t in range(3):
            a = rng.choice(3, p=pi[s])
            if t == 2:
                counts[s, a] += 1
            s = env.step(a)[0]
    assert np.abs(counts / 3000 - p[2]).max() < 0.04


def test_chain_is_column_stochastic_and_deterministic_policy_picks_a_slice():
    T, R, pi, _ = random_mdp(0, 5, 3)
    P, r = policy_markov_chain(T, R, pi)
    assert np.allclose(P.sum(axis=0), 1.0)
    det = np.eye(3)[[0, 2, 1, 1, 0]]
    P, r = policy_markov_chain(T, R, det)
    for s, a in enumerate([0, 2, 1, 1, 0]):
        assert np.allclose(P[:, s], T[:, s, a]) and r[s] == R[s, a]


@pytest.mark.parametrize("seed", range(3))
def test_stationary_distribution_is_fixed_point_and_power_limit(seed):
    T, R, pi, _ = random_mdp(seed, 6, 2)
    P, _ = policy_markov_chain(T, R, pi)
    mu = stationary_distribution(P)
    assert np.isclose(mu.sum(), 1.0) and np.all(mu >= -1e-12)
    assert np.allclose(P @ mu, mu)
    assert np.allclose(np.linalg.matrix_power(P, 200) @ np.eye(6)[0], mu)


@pytest.mark.parametrize("gamma", [0.0, 0.5, 0.95])
def test_policy_value_is_the_discounted_series(gamma):
    T, R, pi, _ = random_mdp(1, 4, 2)
    P, r = policy_markov_chain(T, R, pi)
    V = policy_value(P, r, gamma)
    series = sum(gamma**t * np.linalg.matrix_power(P.T, t) @ r for t in range(600))
    assert np.allclose(V, series)
    assert np.allclose(V, r + gamma * P.T @ V)


def test_tabular_env_rejects_bad_arrays():
    T, R, pi, p0 = random_mdp(0, 3, 2)
    with pytest.raises(ValueError, match="shapes"):
        TabularMDP(T, R.T, p0)
    with pytest.raises(ValueError, match="column"):
        TabularMDP(T * 2, R, p0)


def test_indifference_gamma_equalises_the_two_discounted_rewards():
    from solutions.ch02_objectives import indifference_gamma

    for near, k_near, far, k_far in [(1.0, 2, 10.0, 7), (0.3, 1, 0.9, 3), (5.0, 10, 5.5, 30)]:
        g = indifference_gamma(near, k_near, far, k_far)
        assert 0 < g < 1
        assert near * g ** (k_near - 1) == pytest.approx(far * g ** (k_far - 1), rel=1e-9)
        worth = lambda gamma: far * gamma ** (k_far - 1) - near * gamma ** (k_near - 1)
        assert worth(g - 1e-3) < 0 < worth(g + 1e-3)  # near wins below, far above
    with pytest.raises(ValueError):
        indifference_gamma(2.0, 1, 1.0, 3)
