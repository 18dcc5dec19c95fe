"""The shipped checkpoints Chapters 5 to 7 start from, and how to load them (offline, from this folder).

Each language-model subfolder (``addition-base``, ``addition-sft-careful``, ``addition-sft``; ``replies-base``, ``replies-sft``,
``replies-sft-large`` for Chapters 6-7) holds ``model.safetensors``, ``config.json``, the
tokenizer files and ``meta.json`` (training settings and measured exact match). The reward models
``replies-rm`` and ``replies-rm-small`` hold their weights and ``meta.json``. They are written by
the script ``python -m rlcourse.lm.make_checkpoints``.
"""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path

from rlcourse.lm.tasks import addition_problems

CHECKPOINTS = Path(__file__).resolve().parent
EVAL_SEED = 12_345
"""Seed of the held-out problems every chapter evaluates on (training data uses other seeds)."""


@lru_cache(maxsize=4)
def _held_out(n: int) -> tuple[dict, ...]:
    return tuple(addition_problems(n, seed=EVAL_SEED, reverse=True))


def held_out_problems(n: int = 500) -> list[dict]:
    """The held-out addition problems (answers reversed) that checkpoints and chapters are measured on."""
    return [dict(p) for p in _held_out(n)]


def load_checkpoint(name: str, root: Path = CHECKPOINTS):
    """(model, tokenizer, meta) of a shipped checkpoint, e.g. ``load_checkpoint("addition-sft")``.

    The tokenizer pads on the left (prompts are continued); the model is in eval mode.
    """
    from transformers import GPT2LMHeadModel, PreTrainedTokenizerFast
    from transformers.utils import logging as hf_logging

    from rlcourse.lm.models import FAST_GELU, use_fast_gelu

    hf_logging.disable_progress_bar()  # its bars go to stderr, which nbgrader would score as an error
    folder = Path(root) / name
    if not (folder / "meta.json").exists():
        raise FileNotFoundError(f"no checkpoint {name!r} in {root}; run `python -m rlcourse.lm.make_checkpoints`")
    model = GPT2LMHeadModel.from_pretrained(folder, local_files_only=True,  # the same GELU, fused (models.FAST_GELU)
                                            activation_function=FAST_GELU).float().eval()  # some are stored in float16
    use_fast_gelu(model)
    tokenizer = PreTrainedTokenizerFast.from_pretrained(folder, local_files_only=True)
    tokenizer.padding_side = "left"
    return model, tokenizer, json.loads((folder / "meta.json").read_text())


def load_reward_model(name: str = "replies-rm", root: Path = CHECKPOINTS, sft: str = "replies-sft"):
    """(reward model, meta) of a shipped reward model; its transformer has the shape of ``sft``."""
    from safetensors.torch import load_file

    from rlcourse.lm.reward_model import ScalarModel

    folder = Path(root) / name
    if not (folder / "meta.json").exists():
        raise FileNotFoundError(f"no reward model {name!r} in {root}; run `python -m rlcourse.lm.make_checkpoints`")
    rm = ScalarModel(load_checkpoint(sft, root)[0])
    rm.load_state_dict(load_file(str(folder / "model.safetensors")))
    return rm.eval(), json.loads((folder / "meta.json").read_text())
