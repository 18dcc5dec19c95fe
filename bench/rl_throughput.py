"""Samples per second of Chapter 5's RL loop against TRL's GRPOTrainer, same model and settings.

    .venv/bin/pip install -r requirements-bench.txt     # TRL is a benchmark-only dependency
    .venv/bin/python bench/rl_throughput.py [--steps 30] [--prompts 16] [--group 8] [--cores 2]

Both start from the ``addition-sft`` checkpoint with its tokenizer, draw the same training prompts,
sample ``--group`` completions of each of ``--prompts`` prompts per step at temperature 1 with at most
7 new tokens, use the same reward (Chapter 5's verifier), group-normalised advantages, a loss averaged
over completion tokens, Adam at the same learning rate, one update per batch and no KL penalty. Each
runs ``--steps`` steps, one after the other in this process, offline. Printed: seconds, samples per
second, their ratio, and the held-out exact match after the same number of steps (accuracy per step).
Figures, not a test: they depend on the machine.

Accuracy per step: TRL computes the training log-probabilities without ``position_ids``, so a
left-padded prompt (prompts of different lengths) is seen at other positions than when it was
sampled, which GPT-2's learned absolute positions notice; the course's loop passes the positions
used in sampling. ``--digits 3`` makes every prompt the same length, so neither pads and the two
should learn alike step for step.
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

from rlcourse.lm import addition_problems, exact_match  # noqa: E402
from rlcourse.lm.make_checkpoints import EVAL_SEED, load_checkpoint  # noqa: E402
from rlcourse.lm.rollouts import sample_groups  # noqa: E402
from rlcourse.lm.chat import prompt_text  # noqa: E402
from solutions.ch05_rlvr import group_advantages, policy_gradient_loss, token_logprobs, verifier_reward  # noqa: E402

MAX_NEW_TOKENS = 7


def training_problems(steps: int, prompts: int, digits: tuple[int, ...], seed: int = 0) -> list[list[dict]]:
    """The prompts of every step, none of them held out (the same for both loops)."""
    held_out = {p["question"] for p in addition_problems(500, seed=EVAL_SEED, reverse=True)}
    pool = [p for p in addition_problems(4 * steps * prompts, seed=seed, digits=digits, reverse=True)
            if p["question"] not in held_out]
    return [pool[i * prompts:(i + 1) * prompts] for i in range(steps)]


def course_loop(model, tokenizer, batches: list[list[dict]], group: int, lr: float, seed: int = 0) -> float:
    """Chapter 5's loop (reference solutions); returns the seconds it took."""
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    generator = torch.Generator().manual_seed(seed)
    start = time.perf_counter()
    for problems in batches:
        model.eval()
        rollouts = sample_groups(model, tokenizer, [p["question"] for p in problems], group, MAX_NEW_TOKENS,
                                 temperature=1.0, generator=generator)
        values = [p["value"] for p in problems for _ in range(group)]
        rewards = torch.tensor([verifier_reward(r, v) for r, v in zip(rollouts.replies, values)]).view(-1, group)
        advantages = group_advantages(rewards, normalize=True).view(-1)
        model.train()
        logp = token_logprobs(rollouts.forward_logits(model), rollouts.input_ids, rollouts.mask)
        loss = policy_gradient_loss(logp, advantages, rollouts.mask, "token")
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    return time.perf_counter() - start


def trl_loop(model, tokenizer, batches: list[list[dict]], group: int, lr: float, seed: int = 0) -> float:
    """TRL's GRPOTrainer with the matching settings; returns the seconds ``train()`` took."""
    from datasets import Dataset
    from transformers.utils import logging as hf_logging
    from trl import GRPOConfig, GRPOTrainer

    hf_logging.set_verbosity_error()
    hf_logging.disable_progress_bar()
    rows = [p for problems in batches for p in problems]
    dataset = Dataset.from_dict({"prompt": [prompt_text(p["question"]) for p in rows],
                                 "value": [p["value"] for p in rows]})

    def reward(prompts, completions, value, **kwargs):
        return [verifier_reward(c, v) for c, v in zip(completions, value)]

    with tempfile.TemporaryDirectory() as out:
        config = GRPOConfig(
            output_dir=out, use_cpu=True, report_to="none", save_strategy="no", logging_strategy="no",
            disable_tqdm=True, seed=seed, max_steps=len(batches), learning_rate=lr, lr_scheduler_type="constant",
            warmup_steps=0, weight_decay=0.0, adam_beta1=0.9, adam_beta2=0.999, max_grad_norm=0.0,
            per_device_train_batch_size=len(batches[0]) * group, num_generations=group,
            max_completion_length=MAX_NEW_TOKENS, temperature=1.0, top_p=1.0, top_k=0, beta=0.0,
            num_iterations=1, scale_rewards="group", loss_type="dapo", shuffle_dataset=False,
            dataloader_num_workers=0,
        )
        trainer = GRPOTrainer(model=model, reward_funcs=reward, args=config, train_dataset=dataset,
                              processing_class=tokenizer)
        start = time.perf_counter()
        trainer.train()
        return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--steps", type=int, default=30)
    parser.add_argument("--prompts", type=int, default=16, help="prompts per step")
    parser.add_argument("--group", type=int, default=8, help="completions per prompt")
    parser.add_argument("--lr", type=float, default=3e-4)
    parser.add_argument("--digits", type=int, nargs="+", default=[2, 3],
                        help="operand lengths (--digits 3: every prompt has the same length, no padding)")
    parser.add_argument("--cores", type=int, default=2, help="CPU cores to run on (default 2)")
    args = parser.parse_args()
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, sorted(os.sched_getaffinity(0))[: args.cores])
    torch.set_num_threads(args.cores)

    start_model, tokenizer, _ = load_checkpoint("addition-sft")
    held_out = addition_problems(500, seed=EVAL_SEED, digits=tuple(args.digits), reverse=True)
    batches = training_problems(args.steps, args.prompts, tuple(args.digits))
    samples = args.steps * args.prompts * args.group
    print(f"{args.steps} steps x {args.prompts} prompts x {args.group} completions = {samples} samples; "
          f"{torch.get_num_threads()} threads; start exact match {exact_match(start_model, tokenizer, held_out, reverse=True):.3f}")
    results = {}
    for name, loop in [("course loop", course_loop), ("TRL GRPOTrainer", trl_loop)]:
        model = copy.deepcopy(start_model)
        torch.manual_seed(0)
        seconds = loop(model, tokenizer, batches, args.group, args.lr)
        results[name] = samples / seconds
        acc = exact_match(model.eval(), tokenizer, held_out, reverse=True)
        print(f"{name:<16} {seconds:7.1f} s   {samples / seconds:8.1f} samples/s   exact match after "
              f"{args.steps} steps {acc:.3f}", flush=True)
    print(f"ratio (course / TRL): {results['course loop'] / results['TRL GRPOTrainer']:.2f}x")


if __name__ == "__main__":
    main()
