"""Samples per second and gold reward per step of Chapter 6's PPO loop against TRL, same model and settings.

    .venv/bin/pip install -r requirements-bench.txt     # TRL is a benchmark-only dependency
    .venv/bin/python bench/ppo_throughput.py [--steps 50] [--cores 2]

TRL 1.16 has no PPO trainer any more (``PPOTrainer`` is gone from both ``trl`` and
``trl.experimental``), so the peer is its closest trainer with a KL penalty *in the reward*, as
InstructGPT's: ``RLOOTrainer`` (Ahmadian et al., 2024), which subtracts ``beta`` times the summed
per-token log-ratio to the reference model from each completion's reward and uses the leave-one-out
mean of the other completions of the prompt as the baseline instead of a value function. Both get:
the ``replies-sft`` checkpoint as policy and reference, the shipped ``replies-rm`` reward model (TRL
through a reward function that calls it), prompts drawn with the same generator, 16 prompts x 4
completions per batch, temperature 1, at most 12 new tokens, ``beta = 0.1``, Adam at a constant
3e-4, gradient clipping 1.0, ratio clipping 0.2, and 4 gradient steps per batch (2 passes of 2
minibatches). Each runs ``--steps`` batches, one after the other in this process. Printed: seconds,
samples per second, their ratio, and the gold reward (never seen by either) of each one's samples,
averaged over the first and the last ten batches. Both run in float32 without gradient checkpointing
(TRL 1.16 turns on bfloat16 autocast and checkpointing by default, even on a CPU, which slowed it
down). Figures, not a test: they depend on the machine.
"""

from __future__ import annotations

import argparse
import copy
import os
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")

import numpy as np  # noqa: E402
import torch  # noqa: E402

from rlcourse.lm.chat import prompt_text  # noqa: E402
from rlcourse.lm.checkpoints import load_checkpoint, load_reward_model  # noqa: E402
from rlcourse.lm.ppo import PPOConfig, train_ppo  # noqa: E402
from rlcourse.lm.preferences import gold_reward, prompts  # noqa: E402
from rlcourse.lm.reward_model import score_replies  # noqa: E402

GROUP = 4  # completions per prompt, as in train_ppo


def course_loop(sft, tokenizer, rm, config: PPOConfig) -> tuple[list[float], float]:
    """Chapter 6's ``train_ppo`` with the references; returns (gold per step, seconds)."""
    start = time.perf_counter()
    _, history = train_ppo(sft, tokenizer, rm, prompts(), config)
    return history.gold, time.perf_counter() - start


def trl_loop(sft, tokenizer, rm, config: PPOConfig) -> tuple[list[float], float]:
    """TRL's RLOOTrainer with the settings of ``config``; returns (gold per batch, seconds ``train()`` took)."""
    from datasets import Dataset
    from transformers.utils import logging as hf_logging
    from trl import RLOOConfig, RLOOTrainer

    hf_logging.set_verbosity_error()
    hf_logging.disable_progress_bar()
    rng = np.random.default_rng(config.seed)  # the prompts train_ppo draws, batch after batch
    per_batch = config.batch_size // GROUP
    drawn = [prompts()[i] for _ in range(config.steps) for i in rng.integers(len(prompts()), size=per_batch)]
    dataset = Dataset.from_dict({"prompt": [prompt_text(p) for p in drawn], "request": drawn})
    golds: list[float] = []

    def reward(prompts, completions, request, **kwargs):
        golds.extend(gold_reward(p, c) for p, c in zip(request, completions))  # logged, never used
        return score_replies(rm, tokenizer, list(request), list(completions)).tolist()

    updates = config.epochs * config.minibatches  # gradient steps per batch
    with tempfile.TemporaryDirectory() as out:
        args = RLOOConfig(
            output_dir=out, use_cpu=True, report_to="none", save_strategy="no", logging_strategy="no",
            disable_tqdm=True, seed=config.seed, max_steps=config.steps * updates, learning_rate=config.lr,
            lr_scheduler_type="constant", warmup_steps=0, weight_decay=0.0, max_grad_norm=config.max_grad_norm,
            per_device_train_batch_size=config.batch_size // config.minibatches,
            steps_per_generation=config.minibatches, num_iterations=config.epochs, num_generations=GROUP,
            max_completion_length=config.max_new_tokens, temperature=1.0, top_p=1.0, top_k=0,
            beta=config.beta, epsilon=config.clip_eps, shuffle_dataset=False, dataloader_num_workers=0,
            bf16=False, gradient_checkpointing=False,  # TRL 1.16's defaults, on even on a CPU: float32 as the course
        )
        trainer = RLOOTrainer(model=copy.deepcopy(sft), reward_funcs=reward, args=args, train_dataset=dataset,
                              processing_class=tokenizer)
        start = time.perf_counter()
        trainer.train()
        seconds = time.perf_counter() - start
    per_step = [float(np.mean(golds[i:i + config.batch_size])) for i in range(0, len(golds), config.batch_size)]
    return per_step, seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--steps", type=int, default=50, help="batches of fresh samples")
    parser.add_argument("--cores", type=int, default=2, help="CPU cores to run on (default 2)")
    args = parser.parse_args()
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, sorted(os.sched_getaffinity(0))[: args.cores])
    torch.set_num_threads(args.cores)

    config = PPOConfig(steps=args.steps, lr=3e-4, beta=0.1)
    sft, tokenizer, _ = load_checkpoint("replies-sft")
    rm, _ = load_reward_model("replies-rm")
    samples = config.steps * config.batch_size
    print(f"{config}\n{samples} samples; {torch.get_num_threads()} threads")
    results = {}
    for name, loop in [("course PPO", course_loop), ("TRL RLOOTrainer", trl_loop)]:
        torch.manual_seed(0)
        gold, seconds = loop(sft, tokenizer, rm, config)
        results[name] = samples / seconds
        print(f"{name:<16} {seconds:7.1f} s   {samples / seconds:8.1f} samples/s   gold reward per step: "
              f"first 10 {np.mean(gold[:10]):+.3f}, last 10 {np.mean(gold[-10:]):+.3f} ({len(gold)} steps)",
              flush=True)
    print(f"ratio (course / TRL): {results['course PPO'] / results['TRL RLOOTrainer']:.2f}x")


if __name__ == "__main__":
    main()
