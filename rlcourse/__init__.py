"""Support package of the course "Reinforcement Learning for LLM Post-Training".

Only plumbing lives here (environments, seeding, plotting, the exercise checks); everything a reader
is meant to learn stays visible in the chapter notebooks.
"""

from rlcourse.seeding import set_seed

__all__ = ["set_seed"]
__version__ = "0.1.0"
