"""A small slippery grid world behind the standard ``gymnasium.Env`` interface.

States are the cells of a ``rows x cols`` grid, numbered row by row: ``s = row * cols + col``, with
row 0 at the top. Actions are the four compass moves ``UP, RIGHT, DOWN, LEFT`` (0..3).

Dynamics (the rules Chapter 1 turns into a transition tensor):

* With probability ``1 - slip`` the agent moves in the chosen direction; with probability
  ``slip / 2`` each it slips to one of the two perpendicular directions instead.
* A move into a wall or off the grid leaves the agent where it is.
* Goal and pit cells are terminal: entering one ends the episode. In the tensor view they are
  absorbing (every action keeps the agent there, with no further reward).
* The reward is ``step_reward`` for every move, plus ``goal_reward`` on entering the goal or
  ``pit_reward`` on entering a pit.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

import gymnasium as gym
import numpy as np

UP, RIGHT, DOWN, LEFT = 0, 1, 2, 3
ACTION_NAMES = ("up", "right", "down", "left")
# (d_row, d_col) of each action
MOVES = ((-1, 0), (0, 1), (1, 0), (0, -1))


@dataclass(frozen=True)
class GridSpec:
    """Layout and rules of a grid world. All cells are given as (row, col)."""

    rows: int = 4
    """Number of rows."""
    cols: int = 4
    """Number of columns."""
    start: tuple[int, int] = (3, 0)
    """Where every episode starts."""
    goal: tuple[int, int] = (0, 3)
    """Terminal cell with reward ``goal_reward``."""
    pits: tuple[tuple[int, int], ...] = ()
    """Terminal cells with reward ``pit_reward``."""
    walls: tuple[tuple[int, int], ...] = ()
    """Blocked cells; moving into one leaves the agent in place."""
    slip: float = 0.0
    """Probability of moving perpendicular to the chosen direction (split evenly between the two)."""
    step_reward: float = 0.0
    """Reward of every move (negative values are a cost of time)."""
    goal_reward: float = 1.0
    """Extra reward on entering the goal."""
    pit_reward: float = -1.0
    """Extra reward on entering a pit."""
    max_steps: int = 50
    """Episodes are truncated after this many steps."""

    def __post_init__(self):
        if self.rows < 1 or self.cols < 1:
            raise ValueError(f"the grid needs at least one cell, got {self.rows}x{self.cols}")
        if not 0.0 <= self.slip <= 1.0:
            raise ValueError(f"slip must be a probability, got {self.slip}")
        for name in ("start", "goal"):
            r, c = getattr(self, name)
            if not (0 <= r < self.rows and 0 <= c < self.cols):
                raise ValueError(f"{name} {getattr(self, name)} lies outside the {self.rows}x{self.cols} grid")
        if self.start in self.walls or self.goal in self.walls:
            raise ValueError("start and goal cannot be walls")


class GridWorld(gym.Env):
    """The grid world of Chapter 1, as a ``gymnasium.Env`` with discrete observations and actions.

    Example:
        >>> env = GridWorld(GridSpec(rows=3, cols=3, start=(2, 0), goal=(0, 2), slip=0.1))
        >>> s, info = env.reset(seed=0)
        >>> s, r, terminated, truncated, info = env.step(RIGHT)
    """

    metadata = {"render_modes": ["ansi"]}

    def __init__(self, spec: GridSpec | None = None, **kwargs):
        if spec is None:
            spec = GridSpec(**kwargs)
        elif kwargs:
            raise TypeError("pass either a GridSpec or keyword arguments, not both")
        self.layout = spec
        self.n_states = spec.rows * spec.cols
        self.n_actions = 4
        self.observation_space = gym.spaces.Discrete(self.n_states)
        self.action_space = gym.spaces.Discrete(self.n_actions)
        self.start_state = self.state_of(*spec.start)
        self.goal_state = self.state_of(*spec.goal)
        self.pit_states = frozenset(self.state_of(*p) for p in spec.pits)
        self.wall_states = frozenset(self.state_of(*w) for w in spec.walls)
        self._state = self.start_state
        self._steps = 0

    # ----- geometry -------------------------------------------------------------------------
    def state_of(self, row: int, col: int) -> int:
        """State index of cell ``(row, col)``."""
        return row * self.layout.cols + col

    def cell_of(self, s: int) -> tuple[int, int]:
        """Cell ``(row, col)`` of state ``s``."""
        return divmod(int(s), self.layout.cols)

    def is_terminal(self, s: int) -> bool:
        """True for the goal and the pits."""
        return s == self.goal_state or s in self.pit_states

    def move(self, s: int, direction: int) -> int:
        """Where a move in ``direction`` (0..3) from ``s`` lands, ignoring slips and terminals.

        Walls and the border stop the move: the agent stays in ``s``.
        """
        r, c = self.cell_of(s)
        dr, dc = MOVES[direction]
        r2, c2 = r + dr, c + dc
        if not (0 <= r2 < self.layout.rows and 0 <= c2 < self.layout.cols):
            return int(s)
        s2 = self.state_of(r2, c2)
        return int(s) if s2 in self.wall_states else s2

    def reward(self, s: int, a: int, s_next: int) -> float:
        """Reward of the transition ``s --a--> s_next`` (zero once the episode has ended)."""
        if self.is_terminal(s):
            return 0.0
        r = self.layout.step_reward
        if s_next == self.goal_state:
            r += self.layout.goal_reward
        elif s_next in self.pit_states:
            r += self.layout.pit_reward
        return float(r)

    # ----- gymnasium API --------------------------------------------------------------------
    def reset(self, *, seed: int | None = None, options: dict | None = None):
        super().reset(seed=seed)
        self._state = self.start_state
        self._steps = 0
        return self._state, {}

    def step(self, action: int):
        if not self.action_space.contains(int(action)):
            raise ValueError(f"action must be one of 0..3 (up, right, down, left), got {action!r}")
        if self.is_terminal(self._state):
            raise RuntimeError("the episode has ended: call reset() before step()")
        slip = self.layout.slip
        # 0: as chosen, 1: slip to the left of it, 2: slip to the right of it
        outcome = self.np_random.choice(3, p=[1.0 - slip, slip / 2, slip / 2])
        direction = (int(action) + (0, -1, 1)[outcome]) % 4
        s, s_next = self._state, self.move(self._state, direction)
        self._state, self._steps = s_next, self._steps + 1
        terminated = self.is_terminal(s_next)
        truncated = (not terminated) and self._steps >= self.layout.max_steps
        return s_next, self.reward(s, action, s_next), terminated, truncated, {}

    def render(self) -> str:
        """Text picture of the grid: S start, G goal, X pit, # wall, A agent."""
        rows = []
        for r in range(self.layout.rows):
            row = ""
            for c in range(self.layout.cols):
                s = self.state_of(r, c)
                row += ("A" if s == self._state else
                        "G" if s == self.goal_state else
                        "X" if s in self.pit_states else
                        "#" if s in self.wall_states else
                        "S" if s == self.start_state else ".")
            rows.append(row)
        return "\n".join(rows)

    # ----- serialisation (used by the exercise checks to store cases) -----------------------
    def to_spec(self) -> dict:
        """JSON-friendly description from which ``GridWorld(GridSpec(**d))`` rebuilds the world."""
        d = asdict(self.layout)
        return {k: [list(x) for x in v] if k in ("pits", "walls") else (list(v) if isinstance(v, tuple) else v)
                for k, v in d.items()}

    @classmethod
    def from_spec(cls, d: dict) -> "GridWorld":
        d = dict(d)
        for k in ("start", "goal"):
            d[k] = tuple(d[k])
        for k in ("pits", "walls"):
            d[k] = tuple(tuple(x) for x in d.get(k, ()))
        return cls(GridSpec(**d))

    def __repr__(self) -> str:
        L = self.layout
        return f"GridWorld({L.rows}x{L.cols}, slip={L.slip})"


def shortest_path_policy(env: GridWorld) -> np.ndarray:
    """A deterministic expert: from every cell, a move along a shortest wall-avoiding path to the goal
    that never steps into a pit (ties broken by the order up, right, down, left).

    Returns:
        pi: (S, A) array with one 1 per row (uniform rows for cells that cannot reach the goal).
    """
    S, A = env.n_states, env.n_actions
    dist = np.full(S, np.inf)
    dist[env.goal_state] = 0
    frontier = [env.goal_state]
    while frontier:  # breadth-first search backwards from the goal
        nxt = []
        for s2 in frontier:
            for s in range(S):
                if s in env.wall_states or env.is_terminal(s) or np.isfinite(dist[s]):
                    continue
                if any(env.move(s, a) == s2 for a in range(A)):
                    dist[s] = dist[s2] + 1
                    nxt.append(s)
        frontier = nxt
    pi = np.full((S, A), 1.0 / A)
    for s in range(S):
        if np.isfinite(dist[s]) and dist[s] > 0:
            a = min(range(A), key=lambda a: (dist[env.move(s, a)], a))
            pi[s] = np.eye(A)[a]
    return pi
