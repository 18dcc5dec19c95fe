"""Exercises of Chapter 2: cases, points and the plausible mistakes each check must catch."""

import numpy as np

from autograde.spec import Chapter, Exercise, Mistake
from solutions import ch02_objectives as ref


def random_mdp(seed: int, S: int, A: int):
    """(T, R, pi, p0) of a random MDP with dense dynamics (so every chain is ergodic)."""
    rng = np.random.default_rng(seed)
    T = rng.dirichlet(np.ones(S), size=(S, A)).transpose(2, 0, 1)  # (S', S, A), columns sum to 1
    R = rng.normal(size=(S, A)).round(3)
    pi = rng.dirichlet(np.ones(A), size=S)
    p0 = rng.dirichlet(np.ones(S))
    return T, R, pi, p0


def random_chain(seed: int, S: int):
    T, R, pi, _ = random_mdp(seed, S, 2)
    return ref.policy_markov_chain(T, R, pi)


# ----- wrong implementations -------------------------------------------------------------------
def _marg_starts_one_step_late(T, pi, p0, H):
    p0_next = np.einsum("ijk,jk->i", T, np.asarray(p0)[:, None] * pi)
    return ref.state_action_marginals(T, pi, p0_next, H)


def _marg_transposed_T(T, pi, p0, H):
    return ref.state_action_marginals(T.transpose(1, 0, 2), pi, p0, H)


def _marg_state_only(T, pi, p0, H):
    p = ref.state_action_marginals(T, pi, p0, H)
    return np.repeat(p.sum(axis=2, keepdims=True), pi.shape[1], axis=2)  # p_t(s) in every action


def _chain_pi_of_next_state(T, R, pi):
    return np.einsum("ijk,ik->ij", T, pi), np.sum(pi * R, axis=1)


def _chain_reward_ignores_pi(T, R, pi):
    return np.einsum("ijk,jk->ij", T, pi), R.mean(axis=1)


def _chain_row_stochastic(T, R, pi):
    P, r = ref.policy_markov_chain(T, R, pi)
    return P.T, r


def _stat_transposed(P):
    return ref.stationary_distribution(P.T / P.T.sum(axis=0, keepdims=True))


def _stat_unit_norm(P):
    mu = ref.stationary_distribution(P)
    return mu / np.linalg.norm(mu)


def _stat_few_power_steps(P):
    mu = np.full(P.shape[0], 1.0 / P.shape[0])
    for _ in range(2):
        mu = P @ mu
    return mu


def _value_P_not_transposed(P, r, gamma):
    return np.linalg.solve(np.eye(len(r)) - gamma * P, r)


def _value_one_step(P, r, gamma):
    return r + gamma * P.T @ r


def _value_no_discount_in_solve(P, r, gamma):
    return r / (1 - gamma)


def _two_state(a, b):
    return np.array([[1 - a, b], [a, 1 - b]])


def _ig_inverted(near_reward, near_step, far_reward, far_step):
    return float((far_reward / near_reward) ** (1.0 / (far_step - near_step)))


def _ig_power_not_root(near_reward, near_step, far_reward, far_step):
    return float((near_reward / far_reward) ** (far_step - near_step))


def _ig_sum_of_steps(near_reward, near_step, far_reward, far_step):
    return float((near_reward / far_reward) ** (1.0 / (far_step + near_step)))


def _ig_far_step_only(near_reward, near_step, far_reward, far_step):
    return float((near_reward / far_reward) ** (1.0 / (far_step - 1)))


CHAPTER = Chapter(
    id="02-objectives",
    notebook="objectives.ipynb",
    exercises=[
        Exercise(
            reference=ref.state_action_marginals,
            visible=[dict(T=random_mdp(0, 3, 2)[0], pi=random_mdp(0, 3, 2)[2], p0=np.array([1.0, 0, 0]), H=3),
                     dict(T=random_mdp(1, 4, 3)[0], pi=random_mdp(1, 4, 3)[2], p0=random_mdp(1, 4, 3)[3], H=4)],
            hidden=[dict(T=random_mdp(2, 5, 2)[0], pi=random_mdp(2, 5, 2)[2], p0=random_mdp(2, 5, 2)[3], H=6),
                    dict(T=random_mdp(3, 2, 4)[0], pi=random_mdp(3, 2, 4)[2], p0=np.array([0.5, 0.5]), H=1)],
            mistakes=[
                Mistake("one_step_late", "p[0] must be the start distribution itself (times pi): apply the "
                        "dynamics only after computing p[t].", _marg_starts_one_step_late),
                Mistake("transposed_T", "T[s', s, a] has the next state first: p_{t+1}(s') sums "
                        "T[s', s, a] p_t(s, a) over s and a (the second and third axes).", _marg_transposed_T),
                Mistake("state_only", "p_t(s, a) is p_t(s) times pi(a | s), not p_t(s) in every action.",
                        _marg_state_only),
            ],
            points=(1, 2),
        ),
        Exercise(
            reference=ref.policy_markov_chain,
            visible=[dict(T=random_mdp(4, 3, 2)[0], R=random_mdp(4, 3, 2)[1], pi=random_mdp(4, 3, 2)[2])],
            hidden=[dict(T=random_mdp(5, 5, 3)[0], R=random_mdp(5, 5, 3)[1], pi=random_mdp(5, 5, 3)[2]),
                    dict(T=random_mdp(6, 2, 2)[0], R=random_mdp(6, 2, 2)[1], pi=np.array([[1.0, 0], [0, 1.0]]))],
            mistakes=[
                Mistake("pi_of_next_state", "the action is chosen in the current state s, so weight "
                        "T[s', s, a] by pi(a | s), not pi(a | s').", _chain_pi_of_next_state),
                Mistake("reward_ignores_pi", "r[s] is the reward expected under the policy, "
                        "sum_a pi(a | s) R[s, a], not a plain average over actions.", _chain_reward_ignores_pi),
                Mistake("row_stochastic", "P is transposed: keep the convention of T, P[s', s] = p(s' | s), "
                        "so that every column sums to one.", _chain_row_stochastic),
            ],
            points=(1, 1),
        ),
        Exercise(
            reference=ref.stationary_distribution,
            visible=[dict(P=_two_state(0.1, 0.5)), dict(P=random_chain(7, 4)[0])],
            hidden=[dict(P=random_chain(8, 6)[0]), dict(P=_two_state(0.5, 0.5)),
                    dict(P=np.roll(np.eye(3), 1, axis=0) * 0.8 + 0.2 / 3)],
            mistakes=[
                Mistake("transposed", "P[s', s] is column-stochastic: solve P mu = mu, not mu P = mu "
                        "(which is for row-stochastic matrices).", _stat_transposed),
                Mistake("unit_norm", "mu is a distribution: normalise it to sum to one, not to unit length.",
                        _stat_unit_norm),
                Mistake("not_converged", "a few steps of P^k mu_0 have not converged: solve P mu = mu "
                        "exactly (linear system or eigenvector for eigenvalue 1).", _stat_few_power_steps),
            ],
            points=(1, 2),
        ),
        Exercise(
            reference=ref.policy_value,
            visible=[dict(P=_two_state(0.1, 0.5), r=np.array([1.0, -1.0]), gamma=0.9),
                     dict(P=random_chain(9, 4)[0], r=random_chain(9, 4)[1], gamma=0.5)],
            hidden=[dict(P=random_chain(10, 6)[0], r=random_chain(10, 6)[1], gamma=0.99),
                    dict(P=random_chain(11, 3)[0], r=random_chain(11, 3)[1], gamma=0.0)],
            mistakes=[
                Mistake("P_not_transposed", "V(s) averages over the next states s' of s, i.e. over the "
                        "column P[:, s]: the system is (I - gamma P^T) V = r.", _value_P_not_transposed),
                Mistake("one_step", "this is only the first two terms of the series; V = r + gamma P^T V "
                        "must be solved exactly (np.linalg.solve).", _value_one_step),
                Mistake("ignores_dynamics", "r / (1 - gamma) is the value only if the state never changed; "
                        "solve (I - gamma P^T) V = r.", _value_no_discount_in_solve),
            ],
            points=(1, 2),
        ),
        Exercise(
            reference=ref.indifference_gamma,
            visible=[dict(near_reward=1.0, near_step=2, far_reward=4.0, far_step=4),
                     dict(near_reward=2.0, near_step=1, far_reward=3.0, far_step=6)],
            hidden=[dict(near_reward=1.0, near_step=2, far_reward=10.0, far_step=7),
                    dict(near_reward=0.5, near_step=3, far_reward=8.0, far_step=4),
                    dict(near_reward=5.0, near_step=10, far_reward=5.5, far_step=30)],
            mistakes=[
                Mistake("inverted_ratio", "the ratio is upside down (the result is above 1): the far reward "
                        "wins once gamma^(far_step - near_step) > near_reward / far_reward.", _ig_inverted),
                Mistake("power_not_root", "gamma^d = near_reward / far_reward is solved by the d-th root, "
                        "(near_reward / far_reward)^(1/d), not the d-th power.", _ig_power_not_root),
                Mistake("sum_of_steps", "only the extra delay of the far reward matters: the exponent is "
                        "1 / (far_step - near_step).", _ig_sum_of_steps),
                Mistake("near_delay_ignored", "the near reward is discounted too, by gamma^(near_step - 1): "
                        "the exponent is 1 / (far_step - near_step).", _ig_far_step_only),
            ],
            points=(1, 1),
            rtol=1e-9, atol=1e-12,
        ),
    ],
)
