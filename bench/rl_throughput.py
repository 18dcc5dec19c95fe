"""Samples per second of Chapter 5's RL loop against TRL's GRPOTrainer, same model and settings.

    .venv/bin/pip install -r requirements-bench.txt     # TRL is a benchmark-only dependency
    .venv/bin/python bench/rl_throughput.py [--steps 30] [--prompts 16] [--group 8] [--cores 2]

The course loop is the one Chapter 5 runs, ``rlcourse.lm.grpo.train_grpo`` with the reference
functions and a ``GRPOConfig`` (Chapter 5's defaults unless overridden here); TRL's trainer gets the
same settings: the ``addition-sft`` checkpoint and its tokenizer, the same training prompts
(``prompt_batches``), ``--group`` completions of each of ``--prompts`` prompts per step at the same
temperature and length, Chapter 5's verifier as the reward, group-normalised advantages, a loss
averaged over completion tokens, Adam at the same learning rate decaying linearly to 0, the same
gradient clipping, one update per batch and no KL penalty. Each runs ``--steps`` steps, one after the
other in this process, offline. Printed: seconds, samples per second, their ratio, and the held-out
exact match after the same number of steps (accuracy per step). Figures, not a test: they depend on
the machine.

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

import torch  # noqa: E402

from rlcourse.lm import addition_problems, exact_match  # noqa: E402
from rlcourse.lm.chat import prompt_text  # noqa: E402
from rlcourse.lm.checkpoints import EVAL_SEED, load_checkpoint  # noqa: E402
from rlcourse.lm.grpo import GRPOConfig, prompt_batches, train_grpo  # noqa: E402
from rlcourse.reference.ch05_rlvr import verifier_reward  # noqa: E402


def course_loop(model, tokenizer, config: GRPOConfig) -> tuple[object, float]:
    """Chapter 5's loop, ``rlcourse.lm.grpo.train_grpo`` with the references; returns (model, seconds)."""
    start = time.perf_counter()
    trained, _ = train_grpo(model, tokenizer, config, eval_problems=[])
    return trained, time.perf_counter() - start


def trl_loop(model, tokenizer, config: GRPOConfig) -> tuple[object, float]:
    """TRL's GRPOTrainer with the settings of ``config``; returns (model, seconds ``train()`` took)."""
    from datasets import Dataset
    from transformers.utils import logging as hf_logging
    from trl import GRPOConfig as TRLConfig, GRPOTrainer

    hf_logging.set_verbosity_error()
    hf_logging.disable_progress_bar()
    batches = prompt_batches(config)
    rows = [p for problems in batches for p in problems]
    dataset = Dataset.from_dict({"prompt": [prompt_text(p["question"]) for p in rows],
                                 "value": [p["value"] for p in rows]})

    def reward(prompts, completions, value, **kwargs):
        return [verifier_reward(c, v) for c, v in zip(completions, value)]

    with tempfile.TemporaryDirectory() as out:
        args = TRLConfig(
            output_dir=out, use_cpu=True, report_to="none", save_strategy="no", logging_strategy="no",
            disable_tqdm=True, seed=config.seed, max_steps=config.steps, learning_rate=config.lr,
            lr_scheduler_type="linear", warmup_steps=0, weight_decay=0.0, adam_beta1=0.9, adam_beta2=0.999,
            max_grad_norm=config.max_grad_norm or 0.0,
            per_device_train_batch_size=config.n_prompts * config.group_size, num_generations=config.group_size,
            max_completion_length=config.max_new_tokens, temperature=config.temperature, top_p=1.0, top_k=0,
            beta=config.beta, num_iterations=1, scale_rewards="group", loss_type="dapo", shuffle_dataset=False,
            dataloader_num_workers=0,
        )
        trainer = GRPOTrainer(model=model, reward_funcs=reward, args=args, train_dataset=dataset,
                              processing_class=tokenizer)
        start = time.perf_counter()
        trainer.train()
        return trainer.model, time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--steps", type=int, default=30)
    parser.add_argument("--prompts", type=int, default=GRPOConfig.n_prompts, help="prompts per step")
    parser.add_argument("--group", type=int, default=GRPOConfig.group_size, help="completions per prompt")
    parser.add_argument("--lr", type=float, default=GRPOConfig.lr)
    parser.add_argument("--digits", type=int, nargs="+", default=list(GRPOConfig.digits),
                        help="operand lengths (--digits 3: every prompt has the same length, no padding)")
    parser.add_argument("--cores", type=int, default=2, help="CPU cores to run on (default 2)")
    args = parser.parse_args()
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, sorted(os.sched_getaffinity(0))[: args.cores])
    torch.set_num_threads(args.cores)

    config = GRPOConfig(steps=args.steps, n_prompts=args.prompts, group_size=args.group, lr=args.lr,
                        digits=tuple(args.digits))
    start_model, tokenizer, _ = load_checkpoint("addition-sft")
    held_out = addition_problems(500, seed=EVAL_SEED, digits=config.digits, reverse=True)
    samples = config.steps * config.n_prompts * config.group_size
    print(f"{config}\n{samples} samples; {torch.get_num_threads()} threads; start exact match "
          f"{exact_match(start_model, tokenizer, held_out, reverse=True):.3f}")
    results = {}
    for name, loop in [("course loop", course_loop), ("TRL GRPOTrainer", trl_loop)]:
        torch.manual_seed(0)
        model, seconds = loop(copy.deepcopy(start_model), tokenizer, config)
        results[name] = samples / seconds
        acc = exact_match(model.eval(), tokenizer, held_out, reverse=True)
        print(f"{name:<16} {seconds:7.1f} s   {samples / seconds:8.1f} samples/s   exact match after "
              f"{config.steps} steps {acc:.3f}", flush=True)
    print(f"ratio (course / TRL): {results['course loop'] / results['TRL GRPOTrainer']:.2f}x")


if __name__ == "__main__":
    main()
