"""Properties of Chapter 3's reference implementations and of the rollout and policy plumbing."""

import gymnasium as gym
import numpy as np
import pytest
import torch

from rlcourse.checks.encoding import decode, encode
from rlcourse.envs import GridSpec, GridWorld
from rlcourse.policies import MLPPolicy
from rlcourse.rollouts import collect_episodes
from solutions.ch03_policy_gradients import (batch_baseline, categorical_log_prob, pg_surrogate_loss,
                                             policy_update, reward_to_go)


@pytest.mark.parametrize("seed", range(3))
def test_log_probs_match_torch_categorical_and_normalise(seed):
    gen = torch.Generator().manual_seed(seed)
    logits = 5 * torch.randn(16, 4, generator=gen)
    actions = torch.randint(0, 4, (16,), generator=gen)
    logp = categorical_log_prob(logits, actions)
    assert torch.allclose(logp, torch.distributions.Categorical(logits=logits).log_prob(actions), atol=1e-6)
    every = torch.stack([categorical_log_prob(logits, torch.full((16,), a)) for a in range(4)], dim=1)
    assert torch.allclose(every.exp().sum(dim=1), torch.ones(16), atol=1e-6)


def test_log_probs_stay_finite_for_extreme_logits():
    logp = categorical_log_prob(torch.tensor([[0.0, -1e4], [1e4, 0.0]]), torch.tensor([1, 1]))
    assert torch.isfinite(logp).all() and torch.allclose(logp, torch.tensor([-1e4, -1e4]))


@pytest.mark.parametrize("seed", range(3))
def test_reward_to_go_is_a_reverse_cumulative_sum_per_trajectory(seed):
    rng = np.random.default_rng(seed)
    rewards = [rng.normal(size=n) for n in rng.integers(0, 12, size=5)]
    q_hat = reward_to_go(rewards)
    for r, q in zip(rewards, q_hat):
        assert len(q) == len(r)
        if len(r):
            assert np.isclose(q[0], r.sum()) and np.isclose(q[-1], r[-1])
            assert np.allclose(q[:-1] - q[1:], r[:-1])  # Q_t - Q_{t+1} = r_t


def test_baseline_weighs_every_time_step_once():
    q_hat = [np.array([4.0, 4.0, 4.0]), np.array([0.0])]
    assert batch_baseline(q_hat) == 3.0  # not (4 + 0) / 2
    with pytest.raises(ValueError):
        batch_baseline([np.array([])])


def test_surrogate_gradient_is_minus_the_weighted_score_sum():
    logp = torch.tensor([-0.3, -1.2, -0.7, -2.0], requires_grad=True)
    q_hat = torch.tensor([3.0, 2.0, 1.0, 5.0])
    loss = pg_surrogate_loss(logp, q_hat, b=2.5, n_traj=2)
    loss.backward()
    assert torch.allclose(logp.grad, -(q_hat - 2.5) / 2)


def test_policy_update_with_sgd_is_theta_plus_lr_times_g_hat():
    torch.manual_seed(0)
    policy = MLPPolicy(3, 2, hidden=(), discrete_obs=True, seed=1)
    obs, actions = torch.tensor([0, 1, 2, 0, 2]), torch.tensor([1, 0, 1, 1, 0])
    rewards = [np.array([1.0, 0.0, 2.0]), np.array([0.5, 1.0])]
    theta = torch.nn.utils.parameters_to_vector(policy.parameters()).detach().clone()
    # g_hat from the formula, with the score of a tabular softmax: one_hot(a) - pi(.|s) in row s
    pi = policy.probs(obs)
    q_hat = np.concatenate(reward_to_go(rewards))
    weights = torch.as_tensor(q_hat - q_hat.mean(), dtype=torch.float32) / len(rewards)
    score = torch.nn.functional.one_hot(actions, 2).float() - pi  # (M, A)
    g_weight = torch.zeros(2, 3)
    for m in range(len(obs)):
        g_weight[:, obs[m]] += weights[m] * score[m]
    g_bias = (weights[:, None] * score).sum(dim=0)
    optimizer = torch.optim.SGD(policy.parameters(), lr=0.1)
    for p in policy.parameters():
        p.grad = torch.ones_like(p)  # stale: must be cleared
    policy_update(policy, optimizer, obs, actions, rewards)
    expected = theta + 0.1 * torch.cat([g_weight.ravel(), g_bias])
    assert torch.allclose(torch.nn.utils.parameters_to_vector(policy.parameters()), expected, atol=1e-6)


def test_policy_round_trips_through_a_stored_case():
    policy = MLPPolicy(4, 3, hidden=(5,), seed=2)
    copy = decode(encode(policy))
    x = torch.randn(7, 4)
    assert torch.equal(policy(x), copy(x))
    assert not torch.equal(MLPPolicy(4, 3, hidden=(5,), seed=3)(x), policy(x))


def test_collect_episodes_records_each_episode_up_to_its_end():
    spec = GridSpec(rows=1, cols=4, start=(0, 0), goal=(0, 3), slip=0.0, max_steps=6)
    envs = gym.vector.SyncVectorEnv([lambda: GridWorld(spec) for _ in range(8)])
    policy = MLPPolicy(4, 4, hidden=(), discrete_obs=True, seed=0)
    batch = collect_episodes(envs, policy, seed=3)
    assert len(batch.rewards) == 8 and len(batch.obs) == len(batch.actions) == batch.lengths.sum()
    assert np.all((batch.lengths >= 3) & (batch.lengths <= 6))
    starts = np.concatenate([[0], np.cumsum(batch.lengths)[:-1]])
    assert np.all(batch.obs[starts].numpy() == 0)  # every episode starts at the start cell
    again = collect_episodes(envs, policy, seed=3)
    assert torch.equal(again.actions, batch.actions)  # seeded


def test_collect_episodes_on_cartpole_returns_equal_lengths():
    envs = gym.make_vec("CartPole-v1", num_envs=4, vectorization_mode="vector_entry_point")
    batch = collect_episodes(envs, MLPPolicy(4, 2, hidden=(8,), seed=0), seed=0)
    assert np.allclose(batch.returns, batch.lengths)  # reward 1 per step
    assert batch.obs.shape == (batch.lengths.sum(), 4)


def test_optimal_constant_baseline_minimises_the_mean_squared_contribution():
    from solutions.ch03_policy_gradients import optimal_constant_baseline

    rng = np.random.default_rng(0)
    for N, P in [(5, 2), (40, 6), (1, 3)]:
        g = rng.normal(size=(N, P)) * rng.uniform(0.1, 3.0, size=(N, 1))
        R = rng.normal(2.0, 1.5, size=N)
        b = optimal_constant_baseline(g, R)
        objective = lambda c: np.mean(((g * (R - c)[:, None]) ** 2).sum(axis=1))
        assert all(objective(b) <= objective(b + d) for d in (-1e-3, 1e-3, -0.5, 0.5))
        assert min(R) - 1e-12 <= b <= max(R) + 1e-12          # a weighted mean of the returns
    same = np.ones((4, 3))                                     # equal score lengths: the plain mean
    assert optimal_constant_baseline(same, np.array([1.0, 2.0, 3.0, 6.0])) == 3.0
    assert optimal_constant_baseline(np.zeros((2, 2)), np.array([1.0, 5.0])) == 3.0
