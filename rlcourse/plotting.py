"""Plot helpers shared by the chapters (one consistent look, no styles fetched from anywhere)."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np

from rlcourse.envs.gridworld import MOVES

STYLE = {
    "figure.figsize": (6.0, 3.6),
    "figure.dpi": 100,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.grid": True,
    "grid.alpha": 0.3,
    "font.size": 10,
}


def use_course_style() -> None:
    """Apply the course's matplotlib defaults."""
    plt.rcParams.update(STYLE)


def plot_grid(env, ax=None, values=None, path=None, policy=None, title=None, cmap="viridis"):
    """Draw a ``GridWorld``: walls, start, goal, pits, optional state values, a path and a policy.

    Args:
        env: the ``GridWorld``.
        ax: matplotlib axes (a new figure if ``None``).
        values: optional (S,) array drawn as cell colours.
        path: optional sequence of visited states, drawn as a line from the first to the last.
        policy: optional (S, A) array; the most likely action of each cell is drawn as an arrow.
        title: optional axes title.

    Returns:
        The axes.
    """
    L = env.layout
    if ax is None:
        _, ax = plt.subplots(figsize=(0.8 * L.cols + 1, 0.8 * L.rows + 0.4))
    grid = np.zeros((L.rows, L.cols))
    if values is not None:
        grid = np.asarray(values, dtype=float).reshape(L.rows, L.cols)
        im = ax.imshow(grid, cmap=cmap)
        plt.colorbar(im, ax=ax, fraction=0.046, pad=0.04)
    else:
        ax.imshow(grid, cmap="Greys", vmin=0, vmax=1)
    for s in range(env.n_states):
        r, c = env.cell_of(s)
        if s in env.wall_states:
            ax.add_patch(plt.Rectangle((c - 0.5, r - 0.5), 1, 1, color="0.25"))
        label = ("G" if s == env.goal_state else "X" if s in env.pit_states else
                 "S" if s == env.start_state else "")
        if label:
            ax.text(c, r, label, ha="center", va="center", fontsize=14, fontweight="bold",
                    color={"G": "tab:green", "X": "tab:red", "S": "tab:blue"}[label])
        if policy is not None and label in ("", "S") and s not in env.wall_states:
            dr, dc = MOVES[int(np.argmax(policy[s]))]
            ax.arrow(c - 0.2 * dc, r - 0.2 * dr, 0.3 * dc, 0.3 * dr, head_width=0.12, color="0.35")
    if path is not None and len(path) > 0:
        cells = np.array([env.cell_of(s) for s in path], dtype=float)
        jitter = np.random.default_rng(0).uniform(-0.12, 0.12, size=cells.shape)  # separate revisits
        ax.plot(cells[:, 1] + jitter[:, 1], cells[:, 0] + jitter[:, 0], "-o", color="tab:orange",
                markersize=3, linewidth=1.5, alpha=0.8)
    ax.set_xticks(range(L.cols))
    ax.set_yticks(range(L.rows))
    ax.set_xticks(np.arange(-0.5, L.cols), minor=True)
    ax.set_yticks(np.arange(-0.5, L.rows), minor=True)
    ax.grid(which="minor", color="0.6", linewidth=0.8)
    ax.grid(which="major", visible=False)
    ax.tick_params(which="both", length=0)
    if title:
        ax.set_title(title)
    return ax


def plot_curves(ax, x, curves: dict, ylabel: str, xlabel: str = "iteration"):
    """Mean curve with a shaded band (min to max over seeds) for each entry of ``curves``.

    Args:
        ax: matplotlib axes.
        x: (N,) x values.
        curves: label -> (n_seeds, N) array.
    """
    for label, ys in curves.items():
        ys = np.atleast_2d(np.asarray(ys, dtype=float))
        line, = ax.plot(x, ys.mean(axis=0), label=label)
        if ys.shape[0] > 1:
            ax.fill_between(x, ys.min(axis=0), ys.max(axis=0), color=line.get_color(), alpha=0.2)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.legend()
    return ax
