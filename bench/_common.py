"""What the benchmarks against TRL share: the process set-up and the Chapter 6 data they train on.

Imported by ``bench/dpo_throughput.py`` and ``bench/reward_model_throughput.py`` after they have put the
repository on ``sys.path`` (each script runs on its own: ``.venv/bin/python bench/<script>.py``).
"""

from __future__ import annotations

import os
import warnings

import torch

from rlcourse.lm.checkpoints import EVAL_SEED
from rlcourse.lm.preferences import prompts
from rlcourse.lm.reward_model import collect_comparisons


def pin_cores(cores: int) -> None:
    """Run this process (and what it starts) on ``cores`` CPU cores where the OS allows it, with as many
    torch threads; silence the renamings TRL's arguments warn about and the datasets progress bars."""
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, sorted(os.sched_getaffinity(0))[:cores])
    torch.set_num_threads(cores)
    warnings.filterwarnings("ignore", category=FutureWarning)  # transformers' renamings of TrainingArguments
    import datasets

    datasets.disable_progress_bars()


def page_comparisons(sft, tokenizer, n: int):
    """The reward-model page's ``n`` training comparisons (seed 1) and its 300 held-out ones."""
    return (collect_comparisons(sft, tokenizer, prompts(), n, seed=1),
            collect_comparisons(sft, tokenizer, prompts(), 300, seed=EVAL_SEED))


def pairs_per_trl_step(comparisons, config) -> tuple[int, int, int]:
    """(pairs, course steps, pairs per TRL step): TRL's batch holds as many pairs as a course step does on
    average, so both take the same number of optimiser steps over the same pairs."""
    n_pairs = sum(len(c.pairs()) for c in comparisons)
    course_steps = -(-len(comparisons) // config.prompts_per_step) * config.epochs
    return n_pairs, course_steps, round(n_pairs / course_steps)
