"""Environments used by the chapters (all speak the ``gymnasium.Env`` API)."""

from rlcourse.envs.gridworld import (ACTION_NAMES, DOWN, LEFT, RIGHT, UP, GridSpec, GridWorld,
                                     shortest_path_policy)
from rlcourse.envs.tabular import TabularMDP

__all__ = ["TabularMDP", "GridWorld", "GridSpec", "shortest_path_policy", "UP", "RIGHT", "DOWN", "LEFT", "ACTION_NAMES"]
