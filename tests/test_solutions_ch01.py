"""Properties of Chapter 1's reference implementations and of the grid world they describe."""

import numpy as np
import pytest

from rlcourse.envs import GridSpec, GridWorld, shortest_path_policy
from solutions.ch01_mdp import discounted_return, fit_bc_policy, sample_trajectory, transition_tensor

ROOM = GridWorld(GridSpec(rows=4, cols=5, start=(3, 0), goal=(0, 4), pits=((1, 3),), walls=((1, 1), (2, 3)),
                          slip=0.2, max_steps=25))


@pytest.mark.parametrize("slip", [0.0, 0.1, 0.5, 1.0])
def test_columns_are_distributions(slip):
    env = GridWorld.from_spec({**ROOM.to_spec(), "slip": slip})
    T = transition_tensor(env)
    assert T.shape == (env.n_states, env.n_states, env.n_actions)
    assert np.all(T >= 0) and np.allclose(T.sum(axis=0), 1.0)


def test_no_slip_is_deterministic_and_matches_move():
    env = GridWorld.from_spec({**ROOM.to_spec(), "slip": 0.0})
    T = transition_tensor(env)
    assert np.all((T == 0) | (T == 1))
    for s in range(env.n_states):
        if not env.is_terminal(s) and s not in env.wall_states:
            for a in range(4):
                assert T[env.move(s, a), s, a] == 1.0


def test_terminals_absorb():
    T = transition_tensor(ROOM)
    for s in [ROOM.goal_state, *ROOM.pit_states]:
        assert np.all(T[s, s, :] == 1.0)


def test_tensor_matches_simulated_frequencies():
    """The tensor predicts what env.step does: compare with 4000 simulated steps from one state."""
    T = transition_tensor(ROOM)
    s0, a = ROOM.state_of(2, 2), 0
    counts = np.zeros(ROOM.n_states)
    ROOM.reset(seed=0)
    for _ in range(4000):
        ROOM._state, ROOM._steps = s0, 0
        counts[ROOM.step(a)[0]] += 1
    assert np.abs(counts / 4000 - T[:, s0, a]).max() < 0.03


def test_trajectory_is_seeded_and_consistent_with_dynamics():
    pi = np.full((ROOM.n_states, 4), 0.25)
    T = transition_tensor(ROOM)
    states, actions, rewards = sample_trajectory(ROOM, pi, seed=4)
    again = sample_trajectory(ROOM, pi, seed=4)
    assert all(np.array_equal(x, y) for x, y in zip((states, actions, rewards), again))
    assert len(states) == len(actions) + 1 == len(rewards) + 1
    assert states[0] == ROOM.start_state
    assert all(T[s2, s, a] > 0 for s, a, s2 in zip(states[:-1], actions, states[1:]))
    assert ROOM.is_terminal(states[-1]) or len(actions) == ROOM.layout.max_steps


def test_expert_reaches_goal_without_slip():
    env = GridWorld.from_spec({**ROOM.to_spec(), "slip": 0.0})
    states, actions, rewards = sample_trajectory(env, shortest_path_policy(env), seed=0)
    assert states[-1] == env.goal_state and rewards.sum() == pytest.approx(1.0)


@pytest.mark.parametrize("gamma", [0.0, 0.5, 0.99, 1.0])
def test_return_satisfies_the_recursion(gamma):
    r = np.random.default_rng(1).normal(size=20)
    assert discounted_return(r, gamma) == pytest.approx(r[0] + gamma * discounted_return(r[1:], gamma))
    assert discounted_return(np.array([]), gamma) == 0.0


def test_bc_policy_is_the_empirical_distribution():
    rng = np.random.default_rng(0)
    states, actions = rng.integers(0, 5, 500), rng.integers(0, 3, 500)
    pi = fit_bc_policy(states, actions, 7, 3)
    assert np.allclose(pi.sum(axis=1), 1.0)
    assert np.allclose(pi[5:], 1 / 3)  # never visited
    s = 2
    assert np.allclose(pi[s], np.bincount(actions[states == s], minlength=3) / (states == s).sum())


def test_env_rejects_bad_input():
    with pytest.raises(ValueError, match="slip"):
        GridSpec(slip=1.5)
    with pytest.raises(ValueError, match="outside"):
        GridSpec(rows=2, cols=2, goal=(5, 5), start=(0, 0))
    env = GridWorld(GridSpec(rows=1, cols=2, start=(0, 0), goal=(0, 1)))
    env.reset(seed=0)
    with pytest.raises(ValueError, match="action"):
        env.step(7)
    env.step(1)
    with pytest.raises(RuntimeError, match="reset"):
        env.step(1)


def test_expected_steps_off_data_matches_enumeration_and_simulation():
    from solutions.ch01_mdp import expected_steps_off_data

    for eps, T in [(0.3, 1), (0.3, 7), (0.05, 40), (1.0, 4), (0.0, 9)]:
        exact = sum(1 - (1 - eps) ** t for t in range(T))            # sum over t = 0..T-1
        assert expected_steps_off_data(eps, T) == pytest.approx(exact, abs=1e-9)
    rng = np.random.default_rng(0)
    eps, T, n = 0.1, 20, 20000
    leave = rng.random((n, T)) < eps                                 # a slip at step t takes it off from t+1
    first = np.where(leave.any(axis=1), leave.argmax(axis=1) + 1, T)
    simulated = np.maximum(T - first, 0).mean()
    assert simulated == pytest.approx(expected_steps_off_data(eps, T), abs=0.1)
