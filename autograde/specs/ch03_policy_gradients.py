"""Exercises of Chapter 3: cases, points and the plausible mistakes each check must catch."""

import numpy as np
import torch

from autograde.spec import Chapter, Exercise, Mistake, variant
from rlcourse.policies import MLPPolicy
from solutions import ch03_policy_gradients as ref


# ----- wrong implementations -------------------------------------------------------------------
def _lp_raw_logits(logits, actions):
    return logits.gather(1, actions.long().unsqueeze(1)).squeeze(1)


def _lp_naive(logits, actions):
    return torch.log(torch.softmax(logits, dim=1)).gather(1, actions.long().unsqueeze(1)).squeeze(1)


def _lp_wrong_dim(logits, actions):
    return torch.log_softmax(logits, dim=0).gather(1, actions.long().unsqueeze(1)).squeeze(1)


def _lp_probs(logits, actions):
    return torch.softmax(logits, dim=1).gather(1, actions.long().unsqueeze(1)).squeeze(1)


def _rtg_total_return(rewards):
    return [np.full(len(r), np.sum(r), dtype=float) for r in rewards]


def _rtg_forward(rewards):
    return [np.cumsum(np.asarray(r, dtype=float)) for r in rewards]


def _rtg_across_trajectories(rewards):
    flat = np.concatenate([np.asarray(r, dtype=float) for r in rewards])
    q = np.cumsum(flat[::-1])[::-1]
    return np.split(q, np.cumsum([len(r) for r in rewards])[:-1])


def _rtg_excludes_current(rewards):
    return [q - np.asarray(r, dtype=float) for q, r in zip(ref.reward_to_go(rewards), rewards)]


def _b_mean_of_means(q_hat):
    return float(np.mean([np.mean(q) for q in q_hat if len(q)]))


def _b_mean_return(q_hat):
    return float(np.mean([q[0] for q in q_hat if len(q)]))


def _b_per_trajectory(q_hat):
    return float(sum(np.sum(q) for q in q_hat) / len(q_hat))


def _ob_mean_return(scores, returns):
    return float(np.mean(returns))


def _ob_norm_weights(scores, returns):
    w = np.sqrt((np.asarray(scores, dtype=float) ** 2).sum(axis=1))
    return float((w * returns).sum() / w.sum()) if w.sum() else float(np.mean(returns))


def _ob_per_coordinate(scores, returns):
    g2 = np.asarray(scores, dtype=float) ** 2                       # (N, P)
    return (g2 * np.asarray(returns, dtype=float)[:, None]).sum(axis=0) / np.maximum(g2.sum(axis=0), 1e-300)


def _ob_no_zero_guard(scores, returns):
    w = (np.asarray(scores, dtype=float) ** 2).sum(axis=1)
    return float((w * returns).sum() / max(w.sum(), 1e-300))


def _ob_case(seed, N, P, zero_rows=0):
    rng = np.random.default_rng(seed)
    scores = rng.normal(size=(N, P)) * rng.uniform(0.2, 2.0, size=(N, 1))
    scores[:zero_rows] = 0.0
    return dict(scores=scores, returns=np.round(rng.normal(3.0, 2.0, size=N), 2))


def _loss_variant(logp, q_hat, b, n_traj, sign=-1.0, per_step=False, baseline=True, detach=False):
    adv = torch.as_tensor(q_hat, dtype=logp.dtype) - (b if baseline else 0.0)
    logp = logp.detach() if detach else logp
    total = sign * (logp * adv).sum()
    return total / (len(adv) if per_step else n_traj)


def _update_variant(policy, optimizer, obs, actions, rewards, zero_grad=True, sign=-1.0, causal=True,
                    baseline=True):
    q_hat = ref.reward_to_go(rewards) if causal else _rtg_total_return(rewards)
    b = ref.batch_baseline(q_hat) if baseline else 0.0
    logp = ref.categorical_log_prob(policy(obs), actions)
    loss = -sign * ref.pg_surrogate_loss(logp, torch.as_tensor(np.concatenate(q_hat)), b, len(rewards))
    if zero_grad:
        optimizer.zero_grad()
    loss.backward()
    optimizer.step()
    return float(loss.detach())


# ----- cases ------------------------------------------------------------------------------------
def _logits(seed, B, A, scale=2.0):
    gen = torch.Generator().manual_seed(seed)
    logits = scale * torch.randn(B, A, generator=gen)
    actions = torch.randint(0, A, (B,), generator=gen)
    return dict(logits=logits, actions=actions)


def _rewards(seed, lengths, low=-1.0, high=2.0):
    rng = np.random.default_rng(seed)
    return [np.round(rng.uniform(low, high, size=n), 2) for n in lengths]


def _loss_case(seed, lengths):
    gen = torch.Generator().manual_seed(seed)
    q_hat = ref.reward_to_go(_rewards(seed, lengths))
    M = sum(lengths)
    logp = torch.log(torch.rand(M, generator=gen).clamp_min(0.05))
    return dict(logp=logp, q_hat=torch.as_tensor(np.concatenate(q_hat)), b=ref.batch_baseline(q_hat),
                n_traj=len(lengths))


def _update_case(seed, lengths, obs_dim=3, n_actions=2, hidden=(4,), discrete=False, lr=0.05):
    gen = torch.Generator().manual_seed(seed)
    M = sum(lengths)
    obs = torch.randint(0, obs_dim, (M,), generator=gen) if discrete else torch.randn(M, obs_dim, generator=gen)
    return dict(policy=MLPPolicy(obs_dim, n_actions, hidden, discrete_obs=discrete, seed=seed), lr=lr, obs=obs,
                actions=torch.randint(0, n_actions, (M,), generator=gen), rewards=_rewards(seed, lengths, 0.0, 1.0))


CHAPTER = Chapter(
    id="03-policy-gradients",
    notebook="policy_gradients.ipynb",
    exercises=[
        Exercise(
            reference=ref.categorical_log_prob,
            visible=[dict(logits=torch.tensor([[0.0, 0.0], [1.0, 2.0], [3.0, -1.0]]), actions=torch.tensor([0, 1, 0])),
                     dict(logits=torch.tensor([[0.0, -120.0, 5.0]]), actions=torch.tensor([1])),
                     _logits(0, 4, 3)],
            hidden=[_logits(1, 1, 6), _logits(2, 32, 4, scale=30.0), _logits(3, 8, 2),
                    dict(logits=torch.tensor([[1000.0, 0.0], [0.0, -1000.0]]), actions=torch.tensor([1, 1]))],
            mistakes=[
                Mistake("raw_logits", "the logits are returned as they are: log pi(a|s) = logits[a] - "
                        "logsumexp(logits), so the row must be normalised.", _lp_raw_logits),
                Mistake("naive_log_softmax", "log(softmax(logits)) underflows: a very unlikely action gets "
                        "probability 0 and log-probability -inf. Use logits - torch.logsumexp(logits, dim=1, "
                        "keepdim=True) (or torch.log_softmax).", _lp_naive),
                Mistake("wrong_dim", "the softmax is normalised over the batch (dim=0); each row (state) is "
                        "its own distribution over actions: use dim=1.", _lp_wrong_dim),
                Mistake("probs_not_log", "these are probabilities pi(a|s), not log-probabilities.", _lp_probs),
            ],
            points=(1, 1),
            rtol=1e-5, atol=1e-5,
            adapter="logp_and_grad",
        ),
        Exercise(
            reference=ref.reward_to_go,
            visible=[dict(rewards=[np.array([1.0, 2.0, 3.0]), np.array([5.0])]),
                     dict(rewards=_rewards(0, [4, 2, 5]))],
            hidden=[dict(rewards=_rewards(1, [1, 7, 3, 3])), dict(rewards=[np.array([]), np.array([1.0, -1.0])]),
                    dict(rewards=[np.ones(500)]), dict(rewards=_rewards(2, [20, 1]))],
            mistakes=[
                Mistake("total_return", "every step got the whole trajectory's return; the reward-to-go of "
                        "step t sums only the rewards from t on (causality).", _rtg_total_return),
                Mistake("forward_cumsum", "these are the rewards *up to* t (a forward cumulative sum); the "
                        "reward-to-go sums the rewards from t to the end.", _rtg_forward),
                Mistake("across_trajectories", "the sum runs past the end of a trajectory into the next one: "
                        "each trajectory's rewards-to-go stop at its own last step.", _rtg_across_trajectories),
                Mistake("excludes_current", "the reward of step t itself is missing: the sum starts at t' = t.",
                        _rtg_excludes_current),
            ],
            points=(1, 1),
        ),
        Exercise(
            reference=ref.batch_baseline,
            visible=[dict(q_hat=[np.array([6.0, 5.0, 3.0]), np.array([2.0])]),
                     dict(q_hat=ref.reward_to_go(_rewards(3, [5, 2, 8])))],
            hidden=[dict(q_hat=[np.array([4.0])]), dict(q_hat=ref.reward_to_go(_rewards(4, [1, 30, 4, 9]))),
                    dict(q_hat=[np.array([]), np.array([1.0, 2.0])])],
            mistakes=[
                Mistake("mean_of_means", "this averages each trajectory's mean; b averages over all time steps, "
                        "so a long trajectory counts with all of its steps.", _b_mean_of_means),
                Mistake("mean_return", "this is the mean total return (Q_hat at t = 0 only); b averages Q_hat "
                        "over every time step.", _b_mean_return),
                Mistake("divide_by_n", "the sum is divided by the number of trajectories N; b divides by the "
                        "number of time steps, sum_i |tau_i|.", _b_per_trajectory),
            ],
            points=(1, 1),
        ),
        Exercise(
            reference=ref.optimal_constant_baseline,
            visible=[dict(scores=np.array([[1.0, 0.0], [0.0, 2.0]]), returns=np.array([1.0, 6.0])),
                     _ob_case(0, N=6, P=4)],
            hidden=[_ob_case(1, N=20, P=6, zero_rows=3), _ob_case(2, N=3, P=1),
                    dict(scores=np.zeros((4, 3)), returns=np.array([1.0, 2.0, 3.0, 6.0]))],
            mistakes=[
                Mistake("mean_return", "the mean return is the natural baseline, not the least noisy one: a "
                        "trajectory whose score vector is long contributes more noise, so it counts more.",
                        _ob_mean_return),
                Mistake("norm_weights", "the weights are the squared lengths ||g_i||^2 (the objective is "
                        "quadratic in g_i), not the lengths.", _ob_norm_weights),
                Mistake("per_coordinate", "b is one number for all coordinates: sum the squared scores over "
                        "the coordinates too.", _ob_per_coordinate),
                Mistake("no_zero_guard", "when every score vector is zero the weights sum to 0: return the "
                        "mean return there.", _ob_no_zero_guard),
            ],
            points=(1, 1),
            rtol=1e-9, atol=1e-12,
        ),
        Exercise(
            reference=ref.pg_surrogate_loss,
            visible=[dict(logp=torch.tensor([-0.5, -1.0, -0.2]), q_hat=torch.tensor([3.0, 1.0, 2.0]), b=2.0, n_traj=2),
                     _loss_case(0, [3, 5])],
            hidden=[_loss_case(1, [1]), _loss_case(2, [10, 2, 7, 1]), _loss_case(3, [6, 6, 6])],
            mistakes=[
                Mistake("wrong_sign", "the sign is flipped: optimizers *minimise*, so the loss is minus the "
                        "objective, and its gradient is -g_hat.", variant(_loss_variant, sign=1.0)),
                Mistake("mean_over_steps", "the sum is divided by the number of time steps; g_hat divides by "
                        "the number N of trajectories (n_traj).", variant(_loss_variant, per_step=True)),
                Mistake("no_baseline", "the baseline b is not subtracted from Q_hat.",
                        variant(_loss_variant, baseline=False)),
                Mistake("detached_logp", "the loss does not depend on logp through autograd (was it detached, "
                        "or computed in NumPy?), so backward() sends no gradient to the policy.",
                        variant(_loss_variant, detach=True)),
            ],
            points=(1, 1),
            rtol=1e-5, atol=1e-6,
            adapter="loss_and_grad",
        ),
        Exercise(
            reference=ref.policy_update,
            visible=[_update_case(0, [3, 1, 4]), _update_case(1, [2, 6], obs_dim=5, n_actions=4, hidden=(),
                                                               discrete=True, lr=0.5)],
            hidden=[_update_case(2, [1]), _update_case(3, [9, 3, 7, 2], obs_dim=4, n_actions=3, hidden=(8, 8)),
                    _update_case(4, [5, 5], obs_dim=6, n_actions=2, hidden=(), discrete=True, lr=1.0)],
            mistakes=[
                Mistake("no_zero_grad", "gradients from earlier calls leaked into this step: call "
                        "optimizer.zero_grad() before loss.backward().", variant(_update_variant, zero_grad=False)),
                Mistake("descends_J", "the step went downhill on J: minimise the *negative* surrogate "
                        "(pg_surrogate_loss), so that the optimizer's descent is ascent on J.",
                        variant(_update_variant, sign=1.0)),
                Mistake("total_return", "every step was weighted by its trajectory's total return; use the "
                        "rewards-to-go (reward_to_go).", variant(_update_variant, causal=False)),
                Mistake("no_baseline", "the baseline is missing: subtract b = batch_baseline(q_hat).",
                        variant(_update_variant, baseline=False)),
            ],
            points=(1, 2),
            rtol=1e-4, atol=1e-6,
            adapter="policy_update",
        ),
    ],
)
