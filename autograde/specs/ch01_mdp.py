"""Exercises of Chapter 1: cases, points and the plausible mistakes each check must catch."""

import numpy as np

from autograde.spec import Chapter, Exercise, Mistake, variant
from rlcourse.envs import GridSpec, GridWorld, shortest_path_policy
from solutions import ch01_mdp as ref


def _grid(**kw) -> GridWorld:
    return GridWorld(GridSpec(**kw))


SMALL = _grid(rows=2, cols=3, start=(1, 0), goal=(0, 2), slip=0.2, max_steps=8)
WALLED = _grid(rows=3, cols=3, start=(2, 0), goal=(0, 2), pits=((1, 2),), walls=((1, 1),), slip=0.1,
               step_reward=-0.04, max_steps=12)
CORRIDOR = _grid(rows=1, cols=4, start=(0, 0), goal=(0, 3), slip=0.0, max_steps=6)


# ----- wrong implementations -------------------------------------------------------------------
def _tt_swapped_axes(env):
    return ref.transition_tensor(env).transpose(1, 0, 2)  # T[s, s', a]


def _tt_no_slip(env):
    return ref.transition_tensor(GridWorld.from_spec({**env.to_spec(), "slip": 0.0}))


def _tt_variant(env, accumulate=True, absorb_terminals=True):
    """The reference loop with one of its two subtle points done wrong."""
    S, A, slip = env.n_states, env.n_actions, env.layout.slip
    T = np.zeros((S, S, A))
    for s in range(S):
        for a in range(A):
            if (absorb_terminals and env.is_terminal(s)) or s in env.wall_states:
                T[s, s, a] = 1.0
                continue
            for d, p in ((a, 1 - slip), ((a - 1) % 4, slip / 2), ((a + 1) % 4, slip / 2)):
                T[env.move(s, d), s, a] = T[env.move(s, d), s, a] * accumulate + p
    return T


def _traj_no_final_state(env, pi, seed):
    states, actions, rewards = ref.sample_trajectory(env, pi, seed)
    return states[:-1], actions, rewards


def _traj_variant(env, pi, seed, reset_seed=True, stop_on_truncation=True):
    """The reference loop with its seeding or its stopping rule done wrong."""
    rng = np.random.default_rng(seed)
    if not reset_seed:
        env.reset(seed=seed + 1)  # seeded elsewhere: the slips differ from the reference's
    s, _ = env.reset(seed=seed if reset_seed else None)
    states, actions, rewards = [s], [], []
    for _ in range(1000):
        a = int(rng.choice(env.n_actions, p=pi[s]))
        s, r, terminated, truncated, _ = env.step(a)
        states.append(s), actions.append(a), rewards.append(r)
        if terminated or (truncated and stop_on_truncation):
            break
    return np.array(states), np.array(actions), np.array(rewards, dtype=float)


def _traj_uniform_actions(env, pi, seed):
    uniform = np.full_like(pi, 1.0 / pi.shape[1])
    return ref.sample_trajectory(env, uniform, seed)


def _ret_undiscounted(rewards, gamma):
    return float(np.sum(rewards))


def _ret_off_by_one(rewards, gamma):
    return float(np.sum(gamma ** np.arange(1, len(rewards) + 1) * np.asarray(rewards, dtype=float)))


def _ret_reversed(rewards, gamma):
    return ref.discounted_return(np.asarray(rewards)[::-1], gamma)


def _bc_no_fallback(states, actions, n_states, n_actions):
    counts = np.zeros((n_states, n_actions))
    np.add.at(counts, (states, actions), 1.0)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.nan_to_num(counts / counts.sum(axis=1, keepdims=True))


def _bc_counts(states, actions, n_states, n_actions):
    counts = np.zeros((n_states, n_actions))
    np.add.at(counts, (states, actions), 1.0)
    return counts


def _bc_fancy_index(states, actions, n_states, n_actions):
    counts = np.zeros((n_states, n_actions))
    counts[states, actions] += 1.0  # repeated pairs count once with fancy indexing
    seen = counts.sum(axis=1, keepdims=True)
    return np.where(seen > 0, counts / np.maximum(seen, 1.0), 1.0 / n_actions)


def _bc_argmax(states, actions, n_states, n_actions):
    pi = ref.fit_bc_policy(states, actions, n_states, n_actions)
    return np.eye(n_actions)[pi.argmax(axis=1)]


# ----- cases ------------------------------------------------------------------------------------
def _policy(env, seed, expert_weight=0.7):
    """A stochastic policy that mostly follows the expert."""
    rng = np.random.default_rng(seed)
    noise = rng.dirichlet(np.ones(env.n_actions), size=env.n_states)
    return expert_weight * shortest_path_policy(env) + (1 - expert_weight) * noise


def _demos(seed, n, S=9, A=4):
    rng = np.random.default_rng(seed)
    states = rng.integers(0, S - 2, size=n)  # the last two states are never visited
    actions = rng.integers(0, A, size=n)
    return dict(states=states, actions=actions, n_states=S, n_actions=A)


def _off_linear(eps, T):
    return float(eps * T)


def _off_shifted(eps, T):  # counts t = 1, ..., T: as if it could leave before the first step
    return float(sum(1.0 - (1.0 - eps) ** t for t in range(1, T + 1)))


def _off_quadratic(eps, T):
    return float(eps * T * T / 2)


def _off_no_zero_guard(eps, T):
    return float(T - (1.0 - (1.0 - eps) ** T) / max(eps, 1e-300))


CHAPTER = Chapter(
    id="01-mdp",
    notebook="mdp.ipynb",
    exercises=[
        Exercise(
            reference=ref.transition_tensor,
            visible=[dict(env=CORRIDOR), dict(env=SMALL)],
            hidden=[dict(env=WALLED), dict(env=_grid(rows=3, cols=4, start=(2, 0), goal=(0, 3), pits=((1, 3),),
                                                     walls=((1, 1),), slip=0.3))],
            mistakes=[
                Mistake("swapped_axes", "the first two axes are swapped: T[i, j, k] is p(s'=i | s=j, a=k), "
                        "so the *next* state comes first and every column T[:, j, k] sums to 1.", _tt_swapped_axes),
                Mistake("no_slip", "the slip is missing: with probability slip/2 each, the agent moves in one "
                        "of the two perpendicular directions (a-1) % 4 and (a+1) % 4.", _tt_no_slip),
                Mistake("assign_not_add", "probabilities are assigned (=) instead of added (+=): when two "
                        "outcomes land in the same cell (e.g. both slips hit a wall) they must add up.",
                        variant(_tt_variant, accumulate=False)),
                Mistake("terminal_not_absorbing", "terminal cells are not absorbing: in the goal or a pit every "
                        "action must keep the agent there (T[s, s, a] = 1).",
                        variant(_tt_variant, absorb_terminals=False)),
            ],
            points=(1, 2),
        ),
        Exercise(
            reference=ref.sample_trajectory,
            visible=[dict(env=SMALL, pi=_policy(SMALL, 0), seed=3), dict(env=WALLED, pi=_policy(WALLED, 1), seed=7),
                     dict(env=CORRIDOR, pi=np.tile([0.1, 0.1, 0.1, 0.7], (4, 1)), seed=0)],  # truncated
            hidden=[dict(env=WALLED, pi=_policy(WALLED, 2, 0.3), seed=11),
                    dict(env=CORRIDOR, pi=_policy(CORRIDOR, 4, 0.2), seed=5),
                    dict(env=SMALL, pi=_policy(SMALL, 5, 0.0), seed=123)],
            mistakes=[
                Mistake("no_final_state", "the final state is missing: `states` has one more entry than "
                        "`actions`, ending with the state the last step led to.", _traj_no_final_state),
                Mistake("unseeded_reset", "the environment was not reset with `env.reset(seed=seed)`, so its "
                        "slips differ.", variant(_traj_variant, reset_seed=False)),
                Mistake("ignores_truncation", "the episode must stop when `env.step` returns truncated=True "
                        "(the step limit), not only when terminated=True.",
                        variant(_traj_variant, stop_on_truncation=False)),
                Mistake("uniform_actions", "actions do not follow pi: draw them with "
                        "`rng.choice(env.n_actions, p=pi[s])`.", _traj_uniform_actions),
            ],
            points=(1, 2),
        ),
        Exercise(
            reference=ref.discounted_return,
            visible=[dict(rewards=np.array([1.0, 1.0, 1.0]), gamma=0.5),
                     dict(rewards=np.array([0.0, 0.0, -1.0, 2.0]), gamma=0.9)],
            hidden=[dict(rewards=np.array([]), gamma=0.9), dict(rewards=np.array([3.0]), gamma=0.0),
                    dict(rewards=np.random.default_rng(0).normal(size=50), gamma=0.99),
                    dict(rewards=np.array([1.0, 2.0, 3.0]), gamma=1.0)],
            mistakes=[
                Mistake("undiscounted", "the rewards are summed without the discount: multiply r_t by gamma**t.",
                        _ret_undiscounted),
                Mistake("off_by_one", "the exponents start at 1; with t = 0, 1, ... the first reward is not "
                        "discounted (gamma**0 = 1).", _ret_off_by_one),
                Mistake("reversed", "the discounts are applied in reverse order: the earliest reward gets "
                        "gamma**0.", _ret_reversed),
            ],
            points=(1, 1),
        ),
        Exercise(
            reference=ref.fit_bc_policy,
            visible=[dict(states=np.array([0, 0, 1]), actions=np.array([1, 1, 0]), n_states=3, n_actions=2),
                     _demos(0, 20)],
            hidden=[_demos(1, 200), _demos(2, 3, S=5, A=3),
                    dict(states=np.array([], dtype=int), actions=np.array([], dtype=int), n_states=2, n_actions=3)],
            mistakes=[
                Mistake("no_fallback", "states the demonstrations never visit need a policy too: use the "
                        "uniform distribution 1/A there.", _bc_no_fallback),
                Mistake("unnormalised", "the rows are counts, not probabilities: divide each row by its sum.",
                        _bc_counts),
                Mistake("fancy_index_counts", "repeated (state, action) pairs were counted once: "
                        "`counts[states, actions] += 1` does not accumulate repeats; use `np.add.at`.",
                        _bc_fancy_index),
                Mistake("argmax", "the policy copies only the most frequent action; keep the full empirical "
                        "distribution of the expert's actions.", _bc_argmax),
            ],
            points=(1, 2),
        ),
        Exercise(
            reference=ref.expected_steps_off_data,
            visible=[dict(eps=0.5, T=3), dict(eps=0.05, T=30), dict(eps=0.0, T=20)],
            hidden=[dict(eps=0.01, T=100), dict(eps=1.0, T=5), dict(eps=0.2, T=0)],
            mistakes=[
                Mistake("no_compounding", "eps * T counts each step's error once, as if the clone came back "
                        "after every slip; once off the data it stays off, so P(off at t) = 1 - (1 - eps)^t.",
                        _off_linear),
                Mistake("shifted_steps", "the clone starts on the data: at t = 0 it is off with probability 0, "
                        "so sum 1 - (1 - eps)^t over t = 0, ..., T-1.", _off_shifted),
                Mistake("quadratic_approximation", "eps T^2 / 2 is the small-eps approximation (and the order "
                        "of Ross and Bagnell's bound), not the expectation.", _off_quadratic),
                Mistake("no_zero_guard", "with eps = 0 the clone never leaves: return 0 instead of dividing "
                        "by zero.", _off_no_zero_guard),
            ],
            points=(1, 1),
            rtol=1e-9, atol=1e-12,
        ),
    ],
)
