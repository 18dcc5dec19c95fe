"""Preference pairs per second and held-out quality of Chapter 6's DPO against TRL's DPOTrainer, same data and settings.

    .venv/bin/pip install -r requirements-bench.txt     # TRL is a benchmark-only dependency
    .venv/bin/python bench/dpo_throughput.py [--beta 0.3] [--cores 2]

The course's side is ``train_dpo`` as Section 6.11 (``scale_and_dpo.md``) runs it: ``DPOConfig(beta=...)``
with its defaults (one epoch, Adam at a constant 3e-4, 16 comparisons per step with all the C(K, 2)
pairs of each, every reply run once through the policy and once through the reference), on the
page's 1,500 comparisons (``collect_comparisons(sft, ..., 1500, seed=1)``, K from 4 to 9 replies of
the ``replies-sft`` model ranked by a simulated labeler). ``--beta`` defaults to 0.3, the first of the
page's two values. The peer is TRL's ``DPOTrainer`` (sigmoid loss, the same ``beta``) on the same
pairs, one (prompt, chosen, rejected) row per pair, from the same ``replies-sft`` weights (policy and
reference), with one epoch, a constant 3e-4, AdamW with no weight decay (Adam's update, and the same
betas and epsilon), no gradient clipping, float32 and no gradient checkpointing (TRL's defaults are
bfloat16 autocast and checkpointing: both are switched off so that both sides compute the same thing),
and as many pairs per step as the course's steps hold on average, so both take about as many steps.
The tokens TRL trains on are checked to be the course's (``<|bos|><|user|>prompt<|assistant|>reply<|eos|>``).

What could not be matched: the course runs each reply of a ranked group once and forms all its pairs
from those log-probabilities (``sum K`` rows per step), where TRL runs both replies of every pair
(``2 * sum C(K, 2)`` rows, about six times as many); the course's steps hold 16 whole comparisons (a
varying number of pairs), TRL's a fixed number of pairs drawn at random from the whole set; TRL pads
on the right, the course on the left with explicit positions (the same numbers up to rounding). To
separate the loop from that grouping, a third run is the course's ``train_dpo`` on the same pairs
given pair by pair (each pair a two-reply comparison, TRL's pairs per step): the same work as TRL's.

Each runs once, one after the other in this process; the time is that of the training call alone
(TRL's tokenisation in its constructor is printed apart and left out of its rate). Printed: seconds,
pairs per second, the ratios, and two quality figures measured the same way for each with the course's
code: the held-out accuracy of the implicit reward ``beta * log(pi / pi_SFT)`` on the page's 300
held-out comparisons (``seed=EVAL_SEED``, every pair), and the gold reward and KL to the SFT model of
32 samples per prompt (``evaluate_policy``, as the page measures DPO). Figures, not a test: they
depend on the machine.
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
sys.path.insert(0, str(REPO / "bench"))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")

import torch  # noqa: E402

from rlcourse.lm.chat import prompt_text  # noqa: E402
from _common import page_comparisons, pairs_per_trl_step, pin_cores  # noqa: E402
from rlcourse.lm.checkpoints import EVAL_SEED, load_checkpoint  # noqa: E402
from rlcourse.lm.dpo import DPOConfig, sequence_logprobs, train_dpo  # noqa: E402
from rlcourse.lm.ppo import evaluate_policy  # noqa: E402
from rlcourse.lm.preferences import prompts  # noqa: E402
from rlcourse.lm.reward_model import (Comparison, encode_replies,  # noqa: E402
                                      pair_order_accuracy)


@torch.no_grad()
def implicit_accuracy(policy, reference, tokenizer, comparisons: list[Comparison], beta: float) -> float:
    """Fraction of the labelled pairs ordered as the labeler did by ``beta * log(pi / pi_ref)`` (ties half)."""
    rows_p = [c.prompt for c in comparisons for _ in c.replies]
    rows_r = [r for c in comparisons for r in c.replies]
    policy.eval()
    reward = torch.cat([beta * (sequence_logprobs(policy, tokenizer, rows_p[i:i + 512], rows_r[i:i + 512])
                                - sequence_logprobs(reference, tokenizer, rows_p[i:i + 512], rows_r[i:i + 512]))
                        for i in range(0, len(rows_p), 512)]).numpy()
    return pair_order_accuracy(reward, comparisons)


def split_pairs(comparisons: list[Comparison]) -> list[Comparison]:
    """Every labelled pair as a two-reply comparison (preferred first)."""
    return [Comparison(c.prompt, [c.replies[w], c.replies[l]], [0, 1]) for c in comparisons for w, l in c.pairs()]


def course_loop(sft, tokenizer, comparisons, config: DPOConfig):
    """Chapter 6's ``train_dpo``; returns (policy, seconds, steps)."""
    start = time.perf_counter()
    policy, history = train_dpo(sft, tokenizer, comparisons, config)
    return policy, time.perf_counter() - start, len(history.loss)


def trl_loop(sft, tokenizer, comparisons, config: DPOConfig, pairs_per_step: int):
    """TRL's DPOTrainer on the pairs of ``comparisons``; returns (policy, seconds of ``train()``, steps, seconds
    its constructor took)."""
    from datasets import Dataset
    from transformers import PrinterCallback
    from transformers.utils import logging as hf_logging
    from trl import DPOConfig as TRLDPOConfig
    from trl import DPOTrainer

    hf_logging.set_verbosity_error()
    hf_logging.disable_progress_bar()
    pairs = split_pairs(comparisons)
    dataset = Dataset.from_dict({"prompt": [prompt_text(c.prompt) for c in pairs],
                                 "chosen": [c.replies[0] for c in pairs], "rejected": [c.replies[1] for c in pairs]})
    with tempfile.TemporaryDirectory() as out:
        args = TRLDPOConfig(
            output_dir=out, use_cpu=True, report_to="none", save_strategy="no", logging_strategy="no",
            disable_tqdm=True, seed=config.seed, num_train_epochs=config.epochs, learning_rate=config.lr,
            lr_scheduler_type="constant", warmup_steps=0, weight_decay=0.0, max_grad_norm=0.0,
            optim="adamw_torch", per_device_train_batch_size=pairs_per_step, beta=config.beta,
            loss_type=["sigmoid"], bf16=False, gradient_checkpointing=False, dataloader_num_workers=0,
            precompute_ref_log_probs=False,
        )
        start = time.perf_counter()
        trainer = DPOTrainer(model=copy.deepcopy(sft), ref_model=copy.deepcopy(sft), args=args,
                             train_dataset=dataset, processing_class=tokenizer)
        setup = time.perf_counter() - start
        trainer.remove_callback(PrinterCallback)
        check_tokens(trainer.train_dataset, tokenizer, pairs)
        start = time.perf_counter()
        result = trainer.train()
        seconds = time.perf_counter() - start
    return trainer.model.eval(), seconds, result.global_step, setup


def check_tokens(dataset, tokenizer, pairs: list[Comparison]) -> None:
    """TRL's tokens of every pair are the course's rows (``encode_replies``), unpadded."""
    for i in range(0, len(pairs), 1024):
        chunk = pairs[i:i + 1024]
        for side in (0, 1):
            enc = encode_replies(tokenizer, [c.prompt for c in chunk], [c.replies[side] for c in chunk])
            key = "chosen_ids" if side == 0 else "rejected_ids"
            for j, c in enumerate(chunk):
                row = dataset[i + j]
                ours = enc.input_ids[j][enc.attention_mask[j].bool()].tolist()
                if row["prompt_ids"] + row[key] != ours or len(row[key]) != int(enc.mask[j].sum()):
                    raise RuntimeError(f"TRL tokenises pair {i + j} differently: {row['prompt_ids'] + row[key]} "
                                       f"vs {ours}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--beta", type=float, default=0.3, help="DPO's beta (the page runs 0.3 and 1.0)")
    parser.add_argument("--cores", type=int, default=2, help="CPU cores to run on (default 2)")
    parser.add_argument("--comparisons", type=int, default=1500, help="training comparisons (the page: 1500)")
    args = parser.parse_args()
    pin_cores(args.cores)

    sft, tokenizer, _ = load_checkpoint("replies-sft")
    comparisons, held_out = page_comparisons(sft, tokenizer, args.comparisons)
    config = DPOConfig(beta=args.beta)
    n_pairs, course_steps, pairs_per_step = pairs_per_trl_step(comparisons, config)
    print(f"{config}\n{len(comparisons)} comparisons, {sum(len(c.replies) for c in comparisons)} replies, "
          f"{n_pairs} pairs; {course_steps} course steps, {pairs_per_step} pairs per TRL step; "
          f"{torch.get_num_threads()} threads")
    sft_acc = implicit_accuracy(sft, sft, tokenizer, held_out, config.beta)
    base = evaluate_policy(sft, sft, tokenizer, None, prompts(), n=32, seed=EVAL_SEED)
    print(f"{'SFT model (start)':<26} held-out accuracy {sft_acc:.3f} (all ties)   gold {base.gold:+.3f}", flush=True)
    rates = {}
    by_pair = DPOConfig(beta=args.beta, prompts_per_step=pairs_per_step)  # TRL's pairs per step
    runs = [("course train_dpo", lambda: course_loop(sft, tokenizer, comparisons, config) + (None,)),
            ("TRL DPOTrainer", lambda: trl_loop(sft, tokenizer, comparisons, config, pairs_per_step)),
            ("course, pair by pair", lambda: course_loop(sft, tokenizer, split_pairs(comparisons), by_pair) + (None,))]
    for name, run in runs:
        torch.manual_seed(0)
        policy, seconds, steps, setup = run()
        rates[name] = n_pairs * config.epochs / seconds
        acc = implicit_accuracy(policy, sft, tokenizer, held_out, config.beta)
        report = evaluate_policy(policy, sft, tokenizer, None, prompts(), n=32, seed=EVAL_SEED)
        extra = f" (+{setup:.1f} s tokenising in its constructor)" if setup is not None else ""
        print(f"{name:<26} {seconds:7.1f} s{extra}   {rates[name]:8.1f} pairs/s   {steps} steps   "
              f"held-out accuracy {acc:.3f}   gold {report.gold:+.3f}   KL {report.kl:.2f}", flush=True)
    trl = rates["TRL DPOTrainer"]
    print(f"ratio (course / TRL): {rates['course train_dpo'] / trl:.2f}x; "
          f"pair by pair (the same work as TRL): {rates['course, pair by pair'] / trl:.2f}x")


if __name__ == "__main__":
    main()
